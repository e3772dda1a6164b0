import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeLedger, type TestLedger, TEST_DOC_TYPES } from '../helpers/ledger.js';
import { createApp } from '../../src/api/app.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { DojangClient, httpProblemOf, verifyReceipt, verifyStatus, type Receipt } from '../../src/client/sdk.js';
import { parsePublicKey, publicKeyForms } from '../../src/client/keys.js';
import { decodeDocument, encodeDocument } from '../../src/client/document.js';
import { isLedgerError, LedgerError } from '../../src/core/errors.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { encodeEvent, newCertId } from '../../src/core/events.js';
import { newClaim, type Claim } from '../../src/core/commitment.js';
import { leafHash } from '../../src/core/merkle.js';
import { ed25519Signer, formatVerifierKey, parseNote, parseVerifierKey, signNote, SIG_TYPE_ED25519 } from '../../src/core/note.js';
import { parseProofBundle, verifyProofBundle } from '../../src/core/proof-bundle.js';
import { fromBase64, toBase64, toHex, utf8 } from '../../src/core/bytes.js';
import { encodeCbor, decodeCbor } from '../../src/core/cbor.js';

// The SDK against a real server: createApp over a LevelDB ledger, on 127.0.0.1:0.

// A document type the wallet side does not know: the SDK checks no claims for it (spec §12.7).
const DOC = 'kr.gov.x';
const DAY = 86_400;

interface Running {
  t: TestLedger;
  server: Server;
  base: string;
  root: Uint8Array;
  status: Uint8Array;
}

const closers: (() => Promise<void>)[] = [];

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(() => new Promise((r) => server.close(() => r())));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function start(origin: string, clock?: () => number): Promise<Running> {
  const t = await makeLedger(clock ? { clock, docTypes: TEST_DOC_TYPES } : { docTypes: TEST_DOC_TYPES }, origin);
  closers.push(() => t.cleanup());
  const keys = await loadKeys(t.dir);
  const { server, base } = await listen(createApp({ ledger: t.ledger }).callback());
  return { t, server, base, root: keys.root!.seed, status: keys.status.seed };
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * tamper starts a server in front of `target` that forwards every request and lets
 * `edit` rewrite the answer's body (a JSON string for JSON answers).
 */
async function tamper(target: string, edit: (path: string, body: string) => string): Promise<string> {
  const { base } = await listen(async (req, res) => {
    const b = await body(req);
    const up = await fetch(target + req.url, {
      method: req.method,
      headers: req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {},
      body: req.method === 'POST' ? b : undefined,
    });
    const text = await up.text();
    const out = up.ok ? edit(req.url!, text) : text;
    res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
    res.end(out);
  });
  return base;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isLedgerError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a LedgerError, got success');
}

const claims = (): Claim[] => [newClaim('name', '홍길동'), newClaim('birthYear', 1980), newClaim('household', [{ relation: 'self', birthYear: 1980 }])];

let L: Running;
let client: DojangClient;
let office: Uint8Array;

beforeAll(async () => {
  L = await start('example.com/sdk-test');
  client = new DojangClient(L.base);
  office = randomBytes(32);
  await client.registerIssuer(L.root, ed25519PublicKey(office), 'Jongno-gu Office', [DOC, 'kr.gov.family-relation.basic']);
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

function keysOf(r: Running) {
  return r.t.ledger.publicKeys;
}

function expectVerified(r: Receipt, entry: Uint8Array, run: Running = L) {
  const k = keysOf(run);
  expect(r.leafHash).toEqual(leafHash(entry));
  const { checkpoint } = verifyProofBundle(parseProofBundle(r.proof), entry, [parseVerifierKey(k.logKey), parseVerifierKey(k.timestampKey)], { requireAll: true });
  expect(checkpoint.size).toBe(r.size);
  expect(r.index).toBeLessThan(r.size);
  expect(Math.abs(r.time - Date.now() / 1000)).toBeLessThan(60);
}

describe('DojangClient: the whole story', () => {
  it('register → issue → transfer → transfer on → revoke, every receipt verified, and status along the way', async () => {
    const issuer = randomBytes(32);
    const reg = await client.registerIssuer(L.root, ed25519PublicKey(issuer), 'Mapo-gu Office', [DOC]);
    expect(reg.index).toBeGreaterThan(0);

    const holder = randomBytes(32);
    const issued = await client.issue(issuer, { docType: DOC, holder: ed25519PublicKey(holder), claims: claims(), validUntil: client.now() + 90 * DAY });
    expectVerified(issued.receipt, issued.entry);
    expect(issued.receipt.index).toBeGreaterThan(reg.index);
    expect(issued.digests).toHaveLength(3);
    expect(issued.leafHash).toEqual(leafHash(issued.entry));

    const alice = randomBytes(32);
    const t1 = await client.transfer(holder, { id: issued.id, parent: issued.leafHash, senderSalt: null, recipientKey: ed25519PublicKey(alice) });
    expectVerified(t1.receipt, t1.entry);
    expect(t1.recipientSalt).toHaveLength(16);

    const bob = randomBytes(32);
    const t2 = await client.transfer(alice, { id: issued.id, parent: t1.leafHash, senderSalt: t1.recipientSalt, recipientKey: ed25519PublicKey(bob) });
    expectVerified(t2.receipt, t2.entry);
    // The holder keeps its copy: it may send again from the issuance.
    const t3 = await client.transfer(holder, { id: issued.id, parent: issued.leafHash, senderSalt: null, recipientKey: ed25519PublicKey(randomBytes(32)) });

    const st = await client.status(issued.id);
    expect(st.state).toBe('active');
    // The issuance only: the transfers are proved by the presentations that carry them (spec §8.7).
    expect(st.events.map((e) => e.index)).toEqual([issued.receipt.index]);
    expect(st.events[0].event.type).toBe('cert.issue');
    expect(st.size).toBeGreaterThan(t3.receipt.index);

    const rv = await client.revoke(issuer, issued.id, 'lost');
    expect(rv.index).toBeGreaterThan(t3.receipt.index);
    const after = await client.status(issued.id);
    expect(after.state).toBe('revoked');
    expect(after.events.at(-1)!.event).toMatchObject({ type: 'cert.revoke', reason: 'lost' });
    // After the revocation the log refuses a transfer.
    expect(await code(client.transfer(bob, { id: issued.id, parent: t2.leafHash, senderSalt: t2.recipientSalt, recipientKey: ed25519PublicKey(randomBytes(32)) }))).toBe('CERT_REVOKED');
  });

  it('resubmitting an entry gets the same verified receipt', async () => {
    const { entry } = client.issueEntry(office, { docType: DOC, holder: ed25519PublicKey(randomBytes(32)), claims: claims(), validUntil: client.now() + DAY });
    const a = await client.submit(entry);
    const b = await client.submit(entry);
    expect(b).toEqual(a);
  });

  it('a retired issuer issues nothing more', async () => {
    const issuer = randomBytes(32);
    await client.registerIssuer(L.root, ed25519PublicKey(issuer), 'Retiring Office', [DOC]);
    await client.retireIssuer(L.root, ed25519PublicKey(issuer));
    expect(await code(client.issue(issuer, { docType: DOC, holder: ed25519PublicKey(randomBytes(32)), claims: claims(), validUntil: client.now() + DAY }))).toBe('ISSUER_RETIRED');
  });
});

describe('DojangClient: refusals are LedgerErrors with the server’s code', () => {
  it('maps each rule of spec §5.9 to its code, with the problem as the cause', async () => {
    const holder = randomBytes(32);
    const issued = await client.issue(office, { docType: DOC, holder: ed25519PublicKey(holder), claims: claims(), validUntil: client.now() + DAY });
    const stranger = randomBytes(32);
    const cases: [string, () => Promise<unknown>][] = [
      ['UNKNOWN_ISSUER', () => client.issue(stranger, { docType: DOC, holder: ed25519PublicKey(holder), claims: [], validUntil: client.now() + DAY })],
      ['DOCTYPE_NOT_ALLOWED', () => client.issue(office, { docType: 'kr.gov.other.doc', holder: ed25519PublicKey(holder), claims: [], validUntil: client.now() + DAY })],
      ['DUPLICATE_CERT', () => client.issue(office, { id: issued.id, docType: DOC, holder: ed25519PublicKey(holder), claims: [], validUntil: client.now() + DAY })],
      ['CONFLICT', () => client.registerIssuer(L.root, ed25519PublicKey(office), 'Jongno-gu Office', [DOC])],
      ['BAD_SIGNATURE', () => client.registerIssuer(randomBytes(32), ed25519PublicKey(stranger), 'Not the root', [DOC])],
      ['NOT_HOLDER', () => client.transfer(stranger, { id: issued.id, parent: issued.leafHash, senderSalt: null, recipientKey: ed25519PublicKey(randomBytes(32)) })],
      ['UNKNOWN_PARENT', () => client.transfer(holder, { id: issued.id, parent: randomBytes(32), senderSalt: null, recipientKey: ed25519PublicKey(randomBytes(32)) })],
      ['UNKNOWN_CERT', () => client.revoke(office, newCertId())],
      ['NOT_ISSUER', () => client.revoke(stranger, issued.id)],
      ['CERT_EXPIRED', () => client.issue(office, { docType: DOC, holder: ed25519PublicKey(holder), claims: [], issuedAt: client.now() - 300, validUntil: client.now() - 1 })],
      ['CLOCK_SKEW', () => new DojangClient(L.base, { clock: () => Date.now() + 3_600_000 }).revoke(office, issued.id)],
      ['NOT_FOUND', () => client.status(newCertId())],
    ];
    for (const [want, f] of cases) {
      let err: unknown;
      try {
        await f();
      } catch (e) {
        err = e;
      }
      expect(err, want).toBeInstanceOf(LedgerError);
      expect((err as LedgerError).code, want).toBe(want);
      const p = httpProblemOf(err)!;
      expect(p.code, want).toBe(want);
      expect(p.status, want).toBeGreaterThanOrEqual(400);
    }
    // The same bytes twice are one entry with one receipt; another revocation is refused.
    const rv = encodeEvent({ type: 'cert.revoke', id: issued.id, revoker: ed25519PublicKey(office), reason: 'first', time: client.now() }, office);
    const first = await client.submit(rv);
    expect(await client.submit(rv)).toEqual(first);
    expect(await code(client.revoke(office, issued.id, 'second'))).toBe('CERT_REVOKED');
  });

  it('maps problems outside spec §9 by status, and a network failure to UNAVAILABLE', async () => {
    const fake = (status: number, text: string, headers: Record<string, string> = {}) => new DojangClient('http://dojang.invalid', { ...keysOf(L), fetch: async () => new Response(text, { status, headers }) });
    const e415 = await fake(415, JSON.stringify({ code: 'UNSUPPORTED_MEDIA_TYPE', status: 415 })).submit(new Uint8Array(1)).catch((e) => e);
    expect(e415.code).toBe('BAD_REQUEST');
    expect(httpProblemOf(e415)!.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await code(fake(500, JSON.stringify({ code: 'INTERNAL' })).submit(new Uint8Array(1)))).toBe('UNAVAILABLE');
    expect(await code(fake(502, '<html>bad gateway</html>').submit(new Uint8Array(1)))).toBe('UNAVAILABLE');
    expect(await code(fake(404, 'nope').status(newCertId()))).toBe('NOT_FOUND');
    expect(await code(fake(201, 'not json').submit(new Uint8Array(1)))).toBe('MALFORMED');
    expect(await code(fake(201, '{"index":"1"}').submit(new Uint8Array(1)))).toBe('MALFORMED');
    expect(await code(new DojangClient('http://127.0.0.1:1', keysOf(L)).submit(new Uint8Array(1)))).toBe('UNAVAILABLE');
  });
});

describe('DojangClient: receipts that do not verify are refused', () => {
  /** A receipt edited by `edit` (the parsed JSON) through a server in front of L. */
  async function submitThrough(edit: (r: Record<string, unknown>) => void): Promise<string> {
    const base = await tamper(L.base, (path, text) => {
      if (path !== '/v1/entries') return text;
      const r = JSON.parse(text);
      edit(r);
      return JSON.stringify(r);
    });
    const c = new DojangClient(base);
    const { entry } = c.issueEntry(office, { docType: DOC, holder: ed25519PublicKey(randomBytes(32)), claims: claims(), validUntil: c.now() + DAY });
    return code(c.submit(entry));
  }

  const flipB64 = (s: string) => {
    const b = fromBase64(s);
    b[b.length - 1] ^= 1;
    return toBase64(b);
  };

  it('a flipped proof hash is INVALID_PROOF', async () => {
    expect(
      await submitThrough((r) => {
        const lines = (r.proof as string).split('\n');
        lines[2] = flipB64(lines[2]); // the first hash line after the header and the index
        r.proof = lines.join('\n');
      }),
    ).toBe('INVALID_PROOF');
  });

  it('a wrong leaf hash, index, size or time, or another checkpoint, is INVALID_PROOF', async () => {
    expect(await submitThrough((r) => (r.leafHash = flipB64(r.leafHash as string)))).toBe('INVALID_PROOF');
    expect(await submitThrough((r) => (r.index = (r.index as number) - 1))).toBe('INVALID_PROOF');
    expect(await submitThrough((r) => (r.size = (r.size as number) + 1))).toBe('INVALID_PROOF');
    expect(await submitThrough((r) => (r.time = (r.time as number) + 1))).toBe('INVALID_PROOF');
    const first = (await (await fetch(`${L.base}/v1/checkpoints?from=1&limit=1`)).json()).checkpoints[0].checkpoint;
    expect(await submitThrough((r) => (r.checkpoint = first))).toBe('INVALID_PROOF');
  });

  it("another entry's receipt is INVALID_PROOF", async () => {
    const other = await client.issue(office, { docType: DOC, holder: ed25519PublicKey(randomBytes(32)), claims: claims(), validUntil: client.now() + DAY });
    const stolen = { index: other.receipt.index, leafHash: toBase64(other.receipt.leafHash), size: other.receipt.size, time: other.receipt.time, checkpoint: new TextDecoder().decode(other.receipt.checkpoint), proof: other.receipt.proof };
    expect(await submitThrough((r) => Object.assign(r, stolen))).toBe('INVALID_PROOF');
    expect(() => verifyReceipt(randomBytes(40), stolen, keysOf(L))).toThrow(expect.objectContaining({ code: 'INVALID_PROOF' }));
    expect(verifyReceipt(other.entry, stolen, keysOf(L)).index).toBe(other.receipt.index);
  });

  it('a broken checkpoint signature is BAD_SIGNATURE; a missing cosignature is UNKNOWN_KEY', async () => {
    const editNote = (f: (lines: string[]) => string[]) => (r: Record<string, unknown>) => {
      const proof = r.proof as string;
      const at = proof.indexOf('\n\n') + 2;
      const note = proof.slice(at);
      const sep = note.lastIndexOf('\n\n') + 2;
      const sigs = f(note.slice(sep, -1).split('\n'));
      const edited = note.slice(0, sep) + sigs.join('\n') + '\n';
      r.proof = proof.slice(0, at) + edited;
      r.checkpoint = edited;
    };
    expect(
      await submitThrough(
        editNote((sigs) => {
          const [dash, name, sig] = sigs[0].split(' ');
          return [`${dash} ${name} ${flipB64(sig)}`, ...sigs.slice(1)];
        }),
      ),
    ).toBe('BAD_SIGNATURE');
    expect(await submitThrough(editNote((sigs) => sigs.slice(0, 1)))).toBe('UNKNOWN_KEY');
  });
});

describe('DojangClient: retries on 503 with Retry-After', () => {
  function flaky(n: number, answer: { code: string; retryAfter?: string }) {
    let calls = 0;
    const slept: number[] = [];
    const c = new DojangClient(L.base, {
      sleep: async (ms) => {
        slept.push(ms);
      },
      fetch: async (input, init) => {
        calls++;
        if (calls <= n) {
          const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
          if (answer.retryAfter !== undefined) headers['retry-after'] = answer.retryAfter;
          return new Response(JSON.stringify({ status: 503, code: answer.code, detail: 'busy' }), { status: 503, headers });
        }
        return fetch(input, init);
      },
    });
    return { c, slept, calls: () => calls };
  }

  it('retries as the server says, then succeeds', async () => {
    const f = flaky(3, { code: 'OVERLOADED', retryAfter: '2' }); // the first call is GET /v1/log
    const r = await f.c.revoke(office, newCertId()).catch((e) => e);
    expect(r.code).toBe('UNKNOWN_CERT'); // got through to the rules
    expect(f.slept).toEqual([2000, 2000, 2000]);
  });

  it('gives up after 5 retries with OVERLOADED', async () => {
    const f = flaky(100, { code: 'OVERLOADED', retryAfter: '1' });
    expect(await code(f.c.log())).toBe('OVERLOADED');
    expect(f.calls()).toBe(6);
    expect(f.slept).toEqual([1000, 1000, 1000, 1000, 1000]);
  });

  it('does not wait beyond maxRetryAfter, keeps UNAVAILABLE, and does not retry without Retry-After', async () => {
    const long = flaky(100, { code: 'OVERLOADED', retryAfter: '3600' });
    expect(await code(long.c.log())).toBe('OVERLOADED');
    expect(long.slept).toEqual([]);
    const down = flaky(100, { code: 'UNAVAILABLE', retryAfter: '1' });
    expect(await code(down.c.log())).toBe('UNAVAILABLE');
    expect(down.calls()).toBe(6);
    const bare = flaky(100, { code: 'OVERLOADED' });
    expect(await code(bare.c.log())).toBe('OVERLOADED');
    expect(bare.calls()).toBe(1);
    const date = flaky(1, { code: 'OVERLOADED', retryAfter: new Date(Date.now() + 3000).toUTCString() });
    await date.c.log();
    expect(date.slept[0]).toBeGreaterThanOrEqual(1000);
    expect(date.slept[0]).toBeLessThanOrEqual(4000);
  });
});

describe('DojangClient: which keys it trusts', () => {
  it('uses pinned keys without asking the server for them', async () => {
    const pinned = new DojangClient(L.base, {
      ...keysOf(L),
      fetch: (input, init) => {
        if (String(input).endsWith('/v1/log')) throw new Error('pinned keys must not be fetched');
        return fetch(input, init);
      },
    });
    const issued = await pinned.issue(office, { docType: DOC, holder: ed25519PublicKey(randomBytes(32)), claims: claims(), validUntil: pinned.now() + DAY });
    expectVerified(issued.receipt, issued.entry);
  });

  it('refuses a log whose keys are not the pinned ones (UNKNOWN_KEY)', async () => {
    const other = await start('example.com/sdk-other');
    const otherRoot = other.root;
    const wrongTs = new DojangClient(other.base, { ...keysOf(other), timestampKey: keysOf(L).timestampKey });
    expect(await code(wrongTs.registerIssuer(otherRoot, ed25519PublicKey(randomBytes(32)), 'Office', [DOC]))).toBe('UNKNOWN_KEY');
    // The same origin with other keys: the log key's signature is unknown.
    const wrongLog = new DojangClient(other.base, { ...keysOf(other), logKey: formatVerifierKey({ name: 'example.com/sdk-other', type: 1, publicKey: ed25519PublicKey(randomBytes(32)) }) });
    expect(await code(wrongLog.registerIssuer(otherRoot, ed25519PublicKey(randomBytes(32)), 'Office', [DOC]))).toBe('UNKNOWN_KEY');
    // Another log altogether: none of its signatures is by a known key.
    const otherLog = new DojangClient(other.base, keysOf(L));
    expect(await code(otherLog.registerIssuer(otherRoot, ed25519PublicKey(randomBytes(32)), 'Office', [DOC]))).toBe('UNKNOWN_KEY');
  });

  it('with a root key, takes the keys from the genesis entry; another root key is UNKNOWN_KEY', async () => {
    const anchored = new DojangClient(L.base, { rootKey: keysOf(L).rootKey });
    expect(await anchored.keys()).toEqual({ origin: 'example.com/sdk-test', logKey: keysOf(L).logKey, timestampKey: keysOf(L).timestampKey, statusKey: keysOf(L).statusKey });
    const r = await anchored.registerIssuer(L.root, ed25519PublicKey(randomBytes(32)), 'Anchored Office', [DOC]);
    expect(r.index).toBeGreaterThan(0);
    const wrong = new DojangClient(L.base, { rootKey: formatVerifierKey({ name: 'example.com/sdk-test/root', type: 1, publicKey: ed25519PublicKey(randomBytes(32)) }) });
    expect(await code(wrong.keys())).toBe('UNKNOWN_KEY');
    const pinnedWrong = new DojangClient(L.base, { rootKey: keysOf(L).rootKey, statusKey: keysOf(L).logKey });
    expect(await code(pinnedWrong.keys())).toBe('UNKNOWN_KEY');
  });

  it('trusts /v1/log on first use, and only once', async () => {
    let logs = 0;
    const c = new DojangClient(L.base, {
      fetch: (input, init) => {
        if (String(input).endsWith('/v1/log')) logs++;
        return fetch(input, init);
      },
    });
    await c.revoke(office, newCertId()).catch(() => {});
    await c.revoke(office, newCertId()).catch(() => {});
    expect(logs).toBe(1);
    expect((await c.log()).origin).toBe('example.com/sdk-test');
  });
});

describe('DojangClient.status: statements that do not verify are refused', () => {
  async function revokedCert() {
    const holder = randomBytes(32);
    const issued = await client.issue(office, { docType: DOC, holder: ed25519PublicKey(holder), claims: claims(), validUntil: client.now() + DAY });
    const sent = await client.transfer(holder, { id: issued.id, parent: issued.leafHash, senderSalt: null, recipientKey: ed25519PublicKey(randomBytes(32)) });
    await client.revoke(office, issued.id, 'stolen');
    return { id: issued.id, sent };
  }

  /** resign rewrites a statement's text and signs it with the status key (a lying operator). */
  function resign(statement: string, f: (lines: string[]) => string[]): string {
    const text = parseNote(utf8(statement)).text;
    const lines = f(text.slice(0, -1).split('\n'));
    return new TextDecoder().decode(signNote(lines.join('\n') + '\n', [ed25519Signer(`example.com/sdk-test/status`, L.status)]));
  }

  it('checks proofs, the statement, the chain and the state', async () => {
    const { id } = await revokedCert();
    const answer = await (await fetch(`${L.base}/v1/certificates/${toHex(id)}`)).json();
    const k = keysOf(L);
    expect(verifyStatus(id, answer, k).state).toBe('revoked');
    const edited = (f: (a: any) => void) => {
      const a = structuredClone(answer);
      f(a);
      return a;
    };
    const refuse = (a: unknown, forId = id) => {
      try {
        verifyStatus(forId, a, k);
      } catch (e) {
        return (e as LedgerError).code;
      }
      return 'accepted';
    };
    const flip = (s: string) => {
      const b = fromBase64(s);
      b[0] ^= 1;
      return toBase64(b);
    };
    expect(refuse(answer, newCertId())).toBe('INVALID_PROOF'); // about another id
    expect(refuse(edited((a) => (a.events[1].proof[0] = flip(a.events[1].proof[0]))))).toBe('INVALID_PROOF');
    expect(refuse(edited((a) => a.events.pop()))).toBe('INVALID_PROOF'); // the statement names an event not proved
    expect(refuse(edited((a) => (a.statement = a.statement.replace('state revoked', 'state active'))))).toBe('BAD_SIGNATURE');
    // A lie signed by the status key is caught where it contradicts what is proved:
    const lie = (f: (line: string) => string) => edited((a) => (a.statement = resign(a.statement, (l) => l.map(f))));
    expect(refuse(lie((x) => (x === 'state revoked' ? 'state active' : x)))).toBe('INVALID_PROOF');
    expect(refuse(lie((x) => (x.startsWith('size ') ? `size ${Number(x.slice(5)) + 1}` : x)))).toBe('INVALID_PROOF');
    expect(refuse(lie((x) => (x.startsWith('time ') ? `time ${Number(x.slice(5)) - 1}` : x)))).toBe('INVALID_PROOF');
    expect(refuse(lie((x) => (x.startsWith('state ') ? 'state  revoked' : x)))).toBe('MALFORMED');
    // The answer for another certificate (its proofs are valid):
    const other = await client.issue(office, { docType: DOC, holder: ed25519PublicKey(randomBytes(32)), claims: claims(), validUntil: client.now() + DAY });
    const otherAnswer = await (await fetch(`${L.base}/v1/certificates/${toHex(other.id)}`)).json();
    expect(refuse(otherAnswer)).toBe('INVALID_PROOF');
    // Signed by another key than the status key:
    const forged = (a: any) => (a.statement = new TextDecoder().decode(signNote(parseNote(utf8(a.statement)).text, [ed25519Signer('example.com/sdk-test/status', randomBytes(32))])));
    expect(refuse(edited(forged))).toBe('UNKNOWN_KEY');
    // What cannot be proved: a statement that leaves out the revocation altogether (and
    // says active) verifies. It is the status key's signed word, evidence for an auditor.
    const omitted = edited((a) => {
      a.events.pop();
      a.statement = resign(a.statement, (l) => l.map((x) => (x === 'state revoked' ? 'state active' : x.startsWith('events ') ? x.split(' ').slice(0, -1).join(' ') : x)));
    });
    expect(refuse(omitted)).toBe('accepted');
  });

  it("names the issuer's registration, then its retirement, and proves both", async () => {
    const issuer = randomBytes(32);
    await client.registerIssuer(L.root, ed25519PublicKey(issuer), 'Retiring office', [DOC]);
    const issued = await client.issue(issuer, { docType: DOC, holder: ed25519PublicKey(randomBytes(32)), claims: claims(), validUntil: client.now() + DAY });
    const k = keysOf(L); // with the root key
    const get = async () => (await fetch(`${L.base}/v1/certificates/${toHex(issued.id)}`)).json();
    const before = verifyStatus(issued.id, await get(), k);
    expect(before.issuer.map((e) => e.event.type)).toEqual(['issuer.register']);
    expect(before.issuer[0].index).toBeLessThan(before.events[0].index);
    const retired = await client.retireIssuer(L.root, ed25519PublicKey(issuer));
    const answer = await get();
    const after = verifyStatus(issued.id, answer, k);
    expect(after.issuer.map((e) => [e.index, e.event.type])).toEqual([
      [before.issuer[0].index, 'issuer.register'],
      [retired.index, 'issuer.retire'],
    ]);
    expect(parseNote(utf8(answer.statement)).text).toContain(`\nissuer ${before.issuer[0].index} ${retired.index}\n`);
    const refuse = (a: unknown) => {
      try {
        verifyStatus(issued.id, a, k);
      } catch (e) {
        return (e as LedgerError).code;
      }
      return 'accepted';
    };
    expect(refuse({ ...answer, issuer: answer.issuer.slice(0, 1) })).toBe('INVALID_PROOF'); // the statement names a retirement not proved
    expect(refuse({ ...answer, issuer: [answer.issuer[1], answer.issuer[0]] })).toBe('INVALID_PROOF');
    expect(refuse({ ...answer, issuer: undefined })).toBe('MALFORMED');
    // Checked against another root key, the issuer events' signatures fail:
    const otherRoot = formatVerifierKey({ name: 'example.com/other-root', type: SIG_TYPE_ED25519, publicKey: ed25519PublicKey(randomBytes(32)) });
    expect(() => verifyStatus(issued.id, answer, { ...k, rootKey: otherRoot })).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE' }));
  });

  it('says expired once the checkpoint time passes validUntil', async () => {
    let now = 1_800_000_000_000;
    const E = await start('example.com/sdk-expiry', () => now);
    const c = new DojangClient(E.base, { clock: () => now });
    const issuer = randomBytes(32);
    await c.registerIssuer(E.root, ed25519PublicKey(issuer), 'Office', [DOC]);
    const issued = await c.issue(issuer, { docType: DOC, holder: ed25519PublicKey(randomBytes(32)), claims: claims(), validUntil: c.now() + 90 * DAY });
    expect((await c.status(issued.id)).state).toBe('active');
    now += 90 * DAY * 1000;
    await E.t.ledger.sequencer.recosign();
    const st = await c.status(issued.id);
    expect(st.state).toBe('expired');
    expect(st.time).toBe(now / 1000);
  });
});

describe('issued documents (src/client/document.ts)', () => {
  it('round-trips, checks the commitment, and refuses other encodings', async () => {
    const cs = claims();
    const { entry } = client.issueEntry(office, { docType: DOC, holder: ed25519PublicKey(randomBytes(32)), claims: cs, validUntil: client.now() + DAY });
    const receipt = await client.submit(entry);
    const doc = { origin: 'example.com/sdk-test', issue: entry, claims: cs, digests: client.issueEntry(office, { docType: DOC, holder: ed25519PublicKey(randomBytes(32)), claims: cs, validUntil: 1e10 }).digests, proof: receipt.proof };
    const bytes = encodeDocument(doc);
    const back = decodeDocument(bytes);
    expect(back.event.type).toBe('cert.issue');
    expect(back.proof).toBe(receipt.proof);
    expect(back.claims.map((c) => c[1])).toEqual(['name', 'birthYear', 'household'].sort());
    expect(encodeDocument(back)).toEqual(bytes); // deterministic
    expect(decodeDocument(encodeDocument({ ...doc, proof: null })).proof).toBeNull();
    const v = decodeCbor(bytes, { maxBytes: 1 << 20 }) as Record<string, any>;
    const bad = (f: (x: Record<string, any>) => void) => {
      const y = structuredClone(v);
      f(y);
      try {
        decodeDocument(encodeCbor(y));
      } catch (e) {
        return (e as LedgerError).code;
      }
      return 'accepted';
    };
    expect(bad((x) => (x.claims[0][2] = 'changed'))).toBe('INVALID_PROOF');
    expect(bad((x) => (x.extra = 1))).toBe('MALFORMED');
    expect(bad((x) => (x.v = 2))).toBe('UNSUPPORTED');
    expect(bad((x) => x.claims.reverse())).toBe('NON_CANONICAL');
    expect(bad((x) => (x.proof = 'not a bundle\n'))).toBe('MALFORMED');
    expect(bad((x) => (x.issue = encodeEvent({ type: 'cert.revoke', id: newCertId(), revoker: ed25519PublicKey(office), reason: '', time: 1 }, office)))).toBe('UNSUPPORTED');
    expect(() => encodeDocument({ ...doc, claims: [newClaim('name', 'someone else')] })).toThrow(RangeError);
  });
});

describe('public keys as text (src/client/keys.ts)', () => {
  it('reads hex, base64 and vkeys, and refuses the rest', () => {
    const pub = ed25519PublicKey(randomBytes(32));
    const f = publicKeyForms('holder', pub);
    expect(parsePublicKey(f.hex)).toEqual(pub);
    expect(parsePublicKey(f.hex.toUpperCase())).toEqual(pub);
    expect(parsePublicKey(f.base64)).toEqual(pub);
    expect(parsePublicKey(` ${f.vkey}\n`)).toEqual(pub);
    expect(parseVerifierKey(f.vkey).publicKey).toEqual(pub);
    const codeOf = (s: string) => {
      try {
        parsePublicKey(s);
      } catch (e) {
        return (e as LedgerError).code;
      }
      return 'accepted';
    };
    expect(codeOf('')).toBe('MALFORMED');
    expect(codeOf(f.hex.slice(2))).toBe('MALFORMED');
    expect(codeOf(f.vkey.replace('+', '+0'))).toBe('MALFORMED');
    expect(codeOf(toHex(new Uint8Array(32)))).toBe('BAD_KEY'); // small order
    expect(codeOf(formatVerifierKey({ name: 'witness', type: 4, publicKey: pub }))).toBe('UNSUPPORTED');
  });
});
