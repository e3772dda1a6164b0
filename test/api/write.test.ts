import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { makeLedger, type TestLedger, TEST_DOC_TYPES } from '../helpers/ledger.js';
import { createApp } from '../../src/api/app.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { encodeEvent, newCertId } from '../../src/core/events.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { parseVerifierKey } from '../../src/core/note.js';
import { parseProofBundle, verifyProofBundle } from '../../src/core/proof-bundle.js';
import { fromBase64, toBase64 } from '../../src/core/bytes.js';
import { leafHash } from '../../src/core/merkle.js';
import { signEntry } from '../../src/core/entry.js';

// POST /v1/entries (spec §8.6): signed certificate events over HTTP, durable receipts.
let t: TestLedger;
let server: Server;
let base: string;
let root: Uint8Array;
const now = () => Math.floor(Date.now() / 1000);

async function start() {
  server = createServer(createApp({ ledger: t.ledger }).callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  t = await makeLedger({ docTypes: TEST_DOC_TYPES }, 'example.com/write-api');
  root = (await loadKeys(t.dir)).root!.seed;
  await start();
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await t.cleanup();
});

const post = (body: Uint8Array, type = 'application/cbor', path = '/v1/entries') =>
  fetch(base + path, { method: 'POST', headers: { 'content-type': type }, body });

const register = (time = now()) => {
  const seed = randomBytes(32);
  return { seed, pub: ed25519PublicKey(seed), bytes: encodeEvent({ type: 'issuer.register', issuer: ed25519PublicKey(seed), name: 'Jongno-gu Office', docTypes: ['kr.gov.resident-registration.copy'], time }, root) };
};

function verifiers() {
  const k = t.ledger.publicKeys;
  return [parseVerifierKey(k.logKey), parseVerifierKey(k.timestampKey)];
}

describe('POST /v1/entries', () => {
  it('answers 201 with a receipt whose proof verifies, and 200 with the same receipt again', async () => {
    const r = register();
    const res = await post(r.bytes);
    expect(res.status).toBe(201);
    const receipt = await res.json();
    expect(receipt.index).toBe(1 + TEST_DOC_TYPES.length);
    expect(receipt.leafHash).toBe(toBase64(leafHash(r.bytes)));
    const { checkpoint } = verifyProofBundle(parseProofBundle(receipt.proof), r.bytes, verifiers(), { requireAll: true });
    expect(checkpoint.size).toBe(receipt.size);
    expect(Math.abs(receipt.time - now())).toBeLessThan(10);
    const again = await post(r.bytes);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(receipt);
  });

  it('gives concurrent submissions of one entry one index: one 201, the rest 200', async () => {
    const r = register();
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(r.bytes)));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(5);
    const bodies = await Promise.all(answers.map((a) => a.json()));
    expect(new Set(bodies.map((b) => b.index)).size).toBe(1);
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
  });

  it('refuses with a coded problem and appends nothing', async () => {
    const before = t.ledger.head.size;
    const office = randomBytes(32);
    const unknownIssuer = encodeEvent(
      { type: 'cert.issue', id: newCertId(), docType: 'kr.gov.resident-registration.copy', issuer: ed25519PublicKey(office), holder: ed25519PublicKey(randomBytes(32)), commitment: randomBytes(32), issuedAt: now(), validUntil: now() + 86_400, time: now() },
      office,
    );
    const forged = register().bytes.slice();
    forged[30] ^= 1;
    const canonical = register().bytes;
    const nonCanonical = new Uint8Array([canonical[0], 0x18, ...canonical.subarray(1)]); // not a valid re-encoding either way
    const cases: [Uint8Array, string, number, string][] = [
      [unknownIssuer, 'application/cbor', 422, 'UNKNOWN_ISSUER'],
      [forged, 'application/cbor', 422, 'BAD_SIGNATURE'],
      [canonical.subarray(0, canonical.length - 3), 'application/cbor', 400, 'MALFORMED'],
      [nonCanonical, 'application/cbor', 400, 'MALFORMED'],
      [signEntry('cert.frobnicate', { a: 1 }, root), 'application/cbor', 400, 'UNSUPPORTED'],
      [new Uint8Array(65_536), 'application/cbor', 413, 'TOO_LARGE'],
      [canonical, 'application/json', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [new Uint8Array(0), 'application/cbor', 400, 'MALFORMED'],
    ];
    for (const [body, type, status, code] of cases) {
      const res = await post(body, type);
      expect(res.status, code).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect((await res.json()).code).toBe(code);
    }
    const q = await post(canonical, 'application/cbor', '/v1/entries?x=1');
    expect(q.status).toBe(400);
    const get = await fetch(base + '/v1/entries');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, OPTIONS');
    const pre = await fetch(base + '/v1/entries', { method: 'OPTIONS' });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-methods')).toBe('POST');
    expect(t.ledger.head.size).toBe(before);
  });

  it('refuses a chunked body over the limit (413) and a body cut short, and appends nothing', async () => {
    const before = t.ledger.head.size;
    const u = new URL(base);
    const raw = (text: string, body: Uint8Array, end: boolean) =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: u.hostname, port: Number(u.port) }, () => {
          s.write(text);
          s.write(body);
          if (end) s.write('\r\n0\r\n\r\n');
          else setTimeout(() => s.destroy(), 50); // the client goes away mid-body
        });
        let got = '';
        s.on('data', (d) => (got += d.toString('latin1')));
        s.on('close', () => resolve(got));
        s.on('error', (e) => (end ? reject(e) : resolve(got)));
      });
    const big = new Uint8Array(70_000);
    const head = `POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/cbor\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n`;
    const answer = await raw(head, big, true);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"code":"TOO_LARGE"');
    const cut = `POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/cbor\r\nContent-Length: 300\r\n\r\n`;
    await raw(cut, register().bytes.subarray(0, 100), false);
    expect(t.ledger.head.size).toBe(before);
    expect((await post(register().bytes, 'application/cbor')).status).toBe(201); // still serving
  });

  it('returns the same receipt after a restart', async () => {
    const r = register();
    const first = await (await post(r.bytes)).json();
    await new Promise((res) => server.close(res));
    await t.reopen();
    await start();
    const res = await post(r.bytes);
    expect(res.status).toBe(200);
    const again = await res.json();
    expect(again).toEqual(first);
    expect(fromBase64(again.leafHash)).toEqual(leafHash(r.bytes));
  });
});

describe('GET /v1/certificates/<id>', () => {
  it('answers a statement signed by the status key, bound to the checkpoint, with every event proved', async () => {
    const { openNote } = await import('../../src/core/note.js');
    const { parseCheckpoint } = await import('../../src/core/checkpoint.js');
    const { verifyInclusion } = await import('../../src/core/merkle.js');
    const { toHex } = await import('../../src/core/bytes.js');
    const { newNonce, newSalt, recipientCommitment } = await import('../../src/core/events.js');
    const office = register();
    await post(office.bytes);
    const holder = randomBytes(32);
    const id = newCertId();
    const issue = encodeEvent(
      { type: 'cert.issue', id, docType: 'kr.gov.resident-registration.copy', issuer: office.pub, holder: ed25519PublicKey(holder), commitment: randomBytes(32), issuedAt: now(), validUntil: now() + 86_400, time: now() },
      office.seed,
    );
    const issued = await (await post(issue)).json();
    const status = async () => {
      const res = await fetch(`${base}/v1/certificates/${toHex(id)}`);
      expect(res.status).toBe(200);
      const j = await res.json();
      const k = t.ledger.publicKeys;
      const cp = parseCheckpoint(openNote(new TextEncoder().encode(j.checkpoint), [parseVerifierKey(k.logKey), parseVerifierKey(k.timestampKey)], { requireAll: true }).note.text);
      const st = openNote(new TextEncoder().encode(j.statement), [parseVerifierKey(k.statusKey)]).note.text;
      const lines = Object.fromEntries(st.trim().split('\n').slice(1).map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
      expect(st.startsWith('dojang/v1/status\n')).toBe(true);
      expect(lines).toMatchObject({ origin: k.origin, id: toHex(id), size: String(cp.size), root: toBase64(cp.root) });
      for (const e of j.events) verifyInclusion(leafHash(fromBase64(e.entry)), e.index, cp.size, e.proof.map(fromBase64), cp.root);
      expect(lines.events.split(' ').map(Number)).toEqual(j.events.map((e: { index: number }) => e.index));
      return lines;
    };
    expect(await status()).toMatchObject({ state: 'active', events: String(issued.index) });
    const salt = newSalt();
    const tr = encodeEvent({ type: 'cert.transfer', id, parent: leafHash(issue), sender: ed25519PublicKey(holder), senderSalt: null, recipient: recipientCommitment(salt, ed25519PublicKey(randomBytes(32))), nonce: newNonce(), time: now() }, holder);
    const sent = await (await post(tr)).json();
    expect(sent.index).toBeGreaterThan(issued.index); // a transfer: not in the status (spec §8.7)
    const rv = await (await post(encodeEvent({ type: 'cert.revoke', id, revoker: office.pub, reason: 'lost', time: now() }, office.seed))).json();
    expect(await status()).toMatchObject({ state: 'revoked', events: `${issued.index} ${rv.index}` });
    expect((await fetch(`${base}/v1/certificates/${'0'.repeat(32)}`)).status).toBe(404);
    for (const bad of ['xyz', '0'.repeat(31), 'A'.repeat(32), '0'.repeat(33)]) expect((await fetch(`${base}/v1/certificates/${bad}`)).status, bad).toBe(400);
  });

  it('says expired once the checkpoint time passes validUntil', async () => {
    let clock = 1_800_000_000;
    const l = await makeLedger({ clock: () => clock * 1000, docTypes: TEST_DOC_TYPES }, 'example.com/expiry');
    try {
      const rootSeed = (await loadKeys(l.dir)).root!.seed;
      const office = randomBytes(32);
      await l.ledger.append(encodeEvent({ type: 'issuer.register', issuer: ed25519PublicKey(office), name: 'Office', docTypes: ['kr.gov.resident-registration.copy'], time: clock }, rootSeed));
      const id = newCertId();
      await l.ledger.append(encodeEvent({ type: 'cert.issue', id, docType: 'kr.gov.resident-registration.copy', issuer: ed25519PublicKey(office), holder: ed25519PublicKey(randomBytes(32)), commitment: randomBytes(32), issuedAt: clock, validUntil: clock + 90 * 86_400, time: clock }, office));
      expect((await l.ledger.certificateStatus(id))!.state).toBe('active');
      clock += 90 * 86_400;
      await l.ledger.sequencer!.recosign(); // the checkpoint time moves on
      expect((await l.ledger.certificateStatus(id))!.state).toBe('expired');
    } finally {
      await l.cleanup();
    }
  });
});
