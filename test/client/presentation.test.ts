import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeLedger, type TestLedger, TEST_DOC_TYPES } from '../helpers/ledger.js';
import { RogueLog, type RogueSeeds } from '../helpers/rogue-log.js';
import { createApp } from '../../src/api/app.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { DojangClient } from '../../src/client/sdk.js';
import { decodePresentation, encodePresentation, signFace, type Presentation } from '../../src/client/presentation.js';
import { PresentationVerifier, type Verdict, type VerifyContext } from '../../src/client/verify.js';
import { checkpointVerifiers, openCheckpoint } from '../../src/client/receipt.js';
import { ed25519Signer, formatSignatureLine, parseNote, signNote } from '../../src/core/note.js';
import { isLedgerError } from '../../src/core/errors.js';
import { ed25519PublicKey, portableBackend, randomBytes } from '../../src/core/crypto.js';
import { encodeEvent, newCertId, newNonce, newSalt, recipientCommitment } from '../../src/core/events.js';
import { withBrokenSignature } from '../helpers/vectors.js';
import { commitDocument, disclose, newClaim, type Claim } from '../../src/core/commitment.js';
import { leafHash } from '../../src/core/merkle.js';
import { toHex } from '../../src/core/bytes.js';
import { encodeCbor, decodeCbor } from '../../src/core/cbor.js';

// Presentations (spec §10) made by the SDK against a real server, judged offline by
// PresentationVerifier and online by POST /v1/verify; one broken presentation per check.

// A document type the wallet side does not know: the SDK checks no claims for it (spec §12.7).
const DOC = 'kr.gov.family-relation.cert';
const DAY = 86_400;
const PHARMACY = '온누리약국 (Onnuri Pharmacy)';

let t: TestLedger;
let server: Server;
let base: string;
let client: DojangClient;
let verifier: PresentationVerifier;
let root: Uint8Array;
let office: Uint8Array;
/** The API's verification clock (ms), apart from the ledger's, which never goes back. */
let verifyNowMs = Date.now();

beforeAll(async () => {
  t = await makeLedger({ docTypes: TEST_DOC_TYPES }, 'example.com/presentation-test');
  root = (await loadKeys(t.dir)).root!.seed;
  server = createServer(createApp({ ledger: t.ledger, clock: () => verifyNowMs }).callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new DojangClient(base);
  verifier = new PresentationVerifier(t.ledger.publicKeys);
  office = randomBytes(32);
  await client.registerIssuer(root, ed25519PublicKey(office), 'Jongno-gu Office', [DOC]);
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await t.cleanup();
});

const household = (): Claim[] => [
  newClaim('name', '김민수'),
  newClaim('rrn', '800101-1234567'),
  newClaim('address', '서울특별시 종로구 세종대로 209'),
  newClaim('household', [
    { name: '김민수', relation: '본인', birthDate: '1980-01-01' },
    { name: '김하늘', relation: '자녀', birthDate: '2019-05-05' },
  ]),
];

interface Cert {
  id: Uint8Array;
  issue: Uint8Array;
  claims: Claim[];
  holder: Uint8Array;
}

async function issue(o: { issuedAt?: number; validDays?: number; issuer?: Uint8Array } = {}): Promise<Cert> {
  const holder = randomBytes(32);
  const claims = household();
  const r = await client.issue(o.issuer ?? office, { docType: DOC, holder: ed25519PublicKey(holder), claims, validUntil: client.now() + (o.validDays ?? 90) * DAY, issuedAt: o.issuedAt });
  return { id: r.id, issue: r.entry, claims, holder };
}

/** send anchors a transfer from `from` (holding by parent, with senderSalt) to a fresh or given key. */
async function send(c: Cert, from: Uint8Array, parent: Uint8Array, senderSalt: Uint8Array | null, to = randomBytes(32)) {
  const r = await client.transfer(from, { id: c.id, parent: leafHash(parent), senderSalt, recipientKey: ed25519PublicKey(to) });
  return { entry: r.entry, salt: r.recipientSalt, toSeed: to };
}

const nonce = () => randomBytes(16);
const face = (n: Uint8Array): VerifyContext => ({ now: client.now(), nonce: n, verifierName: PHARMACY });
const show = ['household'];

function offline(bytes: Uint8Array, ctx: VerifyContext, v = verifier): Verdict {
  return v.verify(decodePresentation(bytes), ctx);
}

async function online(bytes: Uint8Array, ctx: VerifyContext): Promise<Verdict> {
  const q = new URLSearchParams();
  if (ctx.audience) q.set('audience', toHex(ctx.audience));
  if (ctx.nonce) q.set('nonce', toHex(ctx.nonce));
  if (ctx.verifierName) q.set('verifier', ctx.verifierName);
  if (ctx.maxStatusAge !== undefined) q.set('maxStatusAge', String(ctx.maxStatusAge));
  verifyNowMs = ctx.now * 1000;
  const res = await fetch(`${base}/v1/verify?${q}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: bytes });
  expect(res.status).toBe(200);
  return (await res.json()) as Verdict;
}

/** failed lists the checks that failed, as name:reason. */
const failed = (v: Verdict) => v.checks.filter((c) => !c.ok).map((c) => `${c.name}:${c.reason}`);

/** both judges offline and online and expects the same failures. */
async function both(bytes: Uint8Array, ctx: VerifyContext): Promise<string[]> {
  const a = offline(bytes, ctx);
  const b = await online(bytes, ctx);
  expect(failed(b)).toEqual(failed(a));
  expect(b.valid).toBe(a.valid);
  return failed(a);
}

/** edit decodes a presentation, changes it and encodes it again (a well-formed forgery). */
function edit(bytes: Uint8Array, f: (p: Presentation) => void): Uint8Array {
  const p: Presentation = decodePresentation(bytes);
  f(p);
  return encodePresentation({ origin: p.origin, register: p.register, issue: p.issue, transfers: p.transfers, disclosure: p.disclosure, status: p.status, holding: p.holding });
}

describe('valid presentations', () => {
  it('issued directly, shown face to face: valid offline and through the API, with only the disclosed claims', async () => {
    const c = await issue();
    const n = nonce();
    const bytes = await client.present({ issue: c.issue, disclosure: disclose(c.claims, show), holding: { flow: 'face', holderSeed: c.holder, salt: null, verifier: PHARMACY, nonce: n } });
    const v = offline(bytes, face(n));
    expect(failed(v)).toEqual([]);
    expect(v.valid).toBe(true);
    expect(v.certificate).toMatchObject({ id: toHex(c.id), docType: DOC, issuerName: 'Jongno-gu Office', transfers: 0 });
    expect(v.certificate.anchoredAt).toBeGreaterThan(0);
    expect(Object.keys(v.claims!)).toEqual(['household']);
    expect(v.status).toMatchObject({ state: 'active' });
    const api = await online(bytes, face(n));
    expect(api.valid).toBe(true);
    expect(api.checks.map((x) => x.name)).toEqual(['anchored', 'issuer-signature', 'issuer-registered', 'document', 'chain', 'holding', 'not-revoked', 'validity', 'original']);
    expect(JSON.stringify(api.claims)).not.toContain('800101'); // the undisclosed resident registration number
    // The portable (@noble) backend reaches the same verdict.
    expect(offline(bytes, face(n), new PresentationVerifier(t.ledger.publicKeys, portableBackend)).valid).toBe(true);
  });

  it('received through one transfer: the pharmacy is the recipient', async () => {
    const c = await issue();
    const pharmacy = randomBytes(32);
    const s = await send(c, c.holder, c.issue, null, pharmacy);
    const bytes = await client.present({ issue: c.issue, transfers: [s.entry], disclosure: disclose(c.claims, show), holding: { flow: 'received', recipient: ed25519PublicKey(pharmacy), salt: s.salt } });
    expect(await both(bytes, { now: client.now(), audience: ed25519PublicKey(pharmacy) })).toEqual([]);
    // Another verifier (or none) is not the recipient.
    expect(await both(bytes, { now: client.now(), audience: ed25519PublicKey(randomBytes(32)) })).toEqual(['holding:NOT_RECIPIENT']);
    expect(await both(bytes, { now: client.now() })).toEqual(['holding:NOT_RECIPIENT']);
  });

  it('received through several transfers, and shown face to face by a middle holder', async () => {
    const c = await issue();
    const a = await send(c, c.holder, c.issue, null); // parent -> grandparent
    const b = await send(c, a.toSeed, a.entry, a.salt); // grandparent -> aunt
    const bank = randomBytes(32);
    const d = await send(c, b.toSeed, b.entry, b.salt, bank); // aunt -> bank
    const received = await client.present({ issue: c.issue, transfers: [a.entry, b.entry, d.entry], disclosure: disclose(c.claims, show), holding: { flow: 'received', recipient: ed25519PublicKey(bank), salt: d.salt } });
    const v = offline(received, { now: client.now(), audience: ed25519PublicKey(bank) });
    expect(failed(v)).toEqual([]);
    expect(v.certificate.transfers).toBe(3);
    expect(await both(received, { now: client.now(), audience: ed25519PublicKey(bank) })).toEqual([]);
    const n = nonce();
    const shown = await client.present({ issue: c.issue, transfers: [a.entry], disclosure: disclose(c.claims, show), holding: { flow: 'face', holderSeed: a.toSeed, salt: a.salt, verifier: PHARMACY, nonce: n } });
    expect(await both(shown, face(n))).toEqual([]);
  });
});

describe('one broken presentation per check: valid=false with its own reason, offline and through the API', () => {
  let c: Cert;
  let n: Uint8Array;
  let good: Uint8Array;
  let pharmacy: Uint8Array;
  let sent: { entry: Uint8Array; salt: Uint8Array; toSeed: Uint8Array };
  let received: Uint8Array;

  beforeAll(async () => {
    c = await issue();
    n = nonce();
    good = await client.present({ issue: c.issue, disclosure: disclose(c.claims, show), holding: { flow: 'face', holderSeed: c.holder, salt: null, verifier: PHARMACY, nonce: n } });
    pharmacy = randomBytes(32);
    sent = await send(c, c.holder, c.issue, null, pharmacy);
    received = await client.present({ issue: c.issue, transfers: [sent.entry], disclosure: disclose(c.claims, show), holding: { flow: 'received', recipient: ed25519PublicKey(pharmacy), salt: sent.salt } });
  });

  const toPharmacy = () => ({ now: client.now(), audience: ed25519PublicKey(pharmacy) });

  it('a forged issuer signature (the entry is then not in the log either)', async () => {
    const bytes = edit(good, (p) => (p.issue = { ...p.issue, entry: withBrokenSignature(p.issue.entry, 5) }));
    const f = await both(bytes, face(n));
    expect(f).toContain('issuer-signature:BAD_SIGNATURE');
    expect(f).toContain('anchored:NOT_IN_LOG');
  });

  it('an unregistered issuer: the registration shown is of another key', async () => {
    const other = randomBytes(32);
    const reg = encodeEvent({ type: 'issuer.register', issuer: ed25519PublicKey(other), name: 'Other Office', docTypes: [DOC], time: client.now() }, root);
    const r = await client.submit(reg);
    const bytes = edit(good, (p) => (p.register = { entry: reg, proof: r.proof }));
    expect(await both(bytes, face(n))).toEqual(['issuer-registered:UNKNOWN_ISSUER']);
  });

  it('a registration not signed by the root key', async () => {
    const bytes = edit(good, (p) => (p.register = { ...p.register, entry: withBrokenSignature(p.register.entry, 0, 0x40) }));
    const f = await both(bytes, face(n));
    expect(f).toContain('issuer-registered:BAD_SIGNATURE');
  });

  it('a changed claim, and a wrong salt', async () => {
    const changed = edit(good, (p) => {
      const [salt, name] = p.disclosure.claims[0];
      p.disclosure = { ...p.disclosure, claims: [[salt, name, [{ name: '김하늘', relation: '자녀', birthDate: '2016-05-05' }]]] };
    });
    expect(await both(changed, face(n))).toEqual(['document:CLAIM_MISMATCH']);
    const salted = edit(good, (p) => {
      const [, name, value] = p.disclosure.claims[0];
      p.disclosure = { ...p.disclosure, claims: [[newSalt(), name, value]] };
    });
    expect(await both(salted, face(n))).toEqual(['document:CLAIM_MISMATCH']);
    const digests = edit(good, (p) => (p.disclosure = { ...p.disclosure, digests: p.disclosure.digests.slice(0, -1).concat([randomBytes(32)]) }));
    const f = await both(digests, face(n));
    expect(f.every((x) => x.startsWith('document:'))).toBe(true);
  });

  it('an event not in the log, and a proof for another tree', async () => {
    const foreign = await issue(); // its proof bundle proves another entry at another index
    const fr = await client.submit(foreign.issue);
    const notInLog = edit(good, (p) => (p.issue = { ...p.issue, proof: fr.proof }));
    expect(await both(notInLog, face(n))).toEqual(['anchored:NOT_IN_LOG']);
    // The registration's bundle against a checkpoint of another size, with its own path:
    const otherTree = edit(good, (p) => (p.issue = { ...p.issue, proof: p.register.proof }));
    expect(await both(otherTree, face(n))).toContain('anchored:NOT_IN_LOG');
  });

  it('a checkpoint with a bad or a missing cosignature', async () => {
    const lines = (p: Presentation) => p.issue.proof.split('\n');
    const cut = edit(good, (p) => {
      // Drop the timestamp key's signature line (the one after the log key's).
      const l = lines(p);
      const sigLines = l.map((x, i) => [x, i] as const).filter(([x]) => x.startsWith('— '));
      const ts = sigLines.find(([x]) => x.startsWith(`— ${t.ledger.origin}/timestamp `))!;
      l.splice(ts[1], 1);
      p.issue = { ...p.issue, proof: l.join('\n') };
    });
    expect(await both(cut, face(n))).toEqual(['anchored:UNKNOWN_KEY']);
    const bad = edit(good, (p) => {
      const l = lines(p);
      const i = l.findIndex((x) => x.startsWith(`— ${t.ledger.origin}/timestamp `));
      const [dash, name, b64] = l[i].split(' ');
      const sig = Buffer.from(b64, 'base64');
      sig[sig.length - 1] ^= 1;
      l[i] = [dash, name, sig.toString('base64')].join(' ');
      p.issue = { ...p.issue, proof: l.join('\n') };
    });
    expect(await both(bad, face(n))).toEqual(['anchored:BAD_SIGNATURE']);
  });

  it('a presenter without the key: signed with another key, or naming a holder it is not', async () => {
    const stranger = randomBytes(32);
    const notHolder = edit(good, (p) => (p.holding = signFace(p, stranger, { verifier: PHARMACY, nonce: n, salt: null })));
    expect(await both(notHolder, face(n))).toEqual(['holding:NOT_HOLDER']);
    const wrongSig = edit(good, (p) => {
      if (p.holding.flow !== 'face') throw new Error('face expected');
      const sig = p.holding.sig.slice();
      sig[3] ^= 1;
      p.holding = { ...p.holding, sig };
    });
    expect(await both(wrongSig, face(n))).toEqual(['holding:BAD_SIGNATURE']);
  });

  it("a replayed nonce signature: shown to this verifier with another verifier's nonce or name", async () => {
    expect(await both(good, face(nonce()))).toEqual(['holding:NONCE_MISMATCH']);
    expect(await both(good, { ...face(n), verifierName: 'Another Pharmacy' })).toEqual(['holding:NONCE_MISMATCH']);
  });

  it('received by someone else, or with a wrong salt', async () => {
    const wrongSalt = edit(received, (p) => (p.holding = { flow: 'received', recipient: ed25519PublicKey(pharmacy), salt: newSalt() }));
    expect(await both(wrongSalt, toPharmacy())).toEqual(['holding:NOT_RECIPIENT']);
    expect(await both(received, toPharmacy())).toEqual([]);
  });

  it('a broken chain: a transfer left out', async () => {
    const second = await send(c, sent.toSeed, sent.entry, sent.salt);
    const to = ed25519PublicKey(second.toSeed);
    const skipped = await client.present({ issue: c.issue, transfers: [second.entry], disclosure: disclose(c.claims, show), holding: { flow: 'received', recipient: to, salt: second.salt } });
    expect(await both(skipped, { now: client.now(), audience: to })).toEqual(['chain:CHAIN_BROKEN']);
    const whole = await client.present({ issue: c.issue, transfers: [sent.entry, second.entry], disclosure: disclose(c.claims, show), holding: { flow: 'received', recipient: to, salt: second.salt } });
    expect(await both(whole, { now: client.now(), audience: to })).toEqual([]);
  });

  it('revoked', async () => {
    const r = await issue();
    const m = nonce();
    const bytes = await client.present({ issue: r.issue, disclosure: disclose(r.claims, show), holding: { flow: 'face', holderSeed: r.holder, salt: null, verifier: PHARMACY, nonce: m } });
    await client.revoke(office, r.id, 'reissued');
    // Offline, the presentation's own (older) statement still says active: what it knows, and how old.
    const before = offline(bytes, face(m));
    expect(before.valid).toBe(true);
    expect(before.status!.state).toBe('active');
    // The API judges with its current statement.
    const api = await online(bytes, face(m));
    expect(failed(api)).toEqual(['not-revoked:CERT_REVOKED']);
    // A fresh presentation carries the revocation.
    const fresh = await client.present({ issue: r.issue, disclosure: disclose(r.claims, show), holding: { flow: 'face', holderSeed: r.holder, salt: null, verifier: PHARMACY, nonce: m } });
    expect(await both(fresh, face(m))).toEqual(['not-revoked:CERT_REVOKED']);
  });

  it('no status, or a status of another certificate', async () => {
    const none = edit(good, (p) => (p.status = null));
    expect(failed(offline(none, face(n)))).toEqual(['not-revoked:NO_STATUS']);
    const other = await issue();
    const otherBytes = await client.present({ issue: other.issue, disclosure: disclose(other.claims, show), holding: { flow: 'view' } });
    const swapped = edit(good, (p) => (p.status = decodePresentation(otherBytes).status));
    expect(failed(offline(swapped, face(n)))).toEqual(['not-revoked:STATUS_INVALID']);
  });

  it('expired, and not yet valid', async () => {
    const later = client.now() + 91 * DAY;
    expect(await both(good, { ...face(n), now: later, maxStatusAge: 92 * DAY })).toEqual(['validity:CERT_EXPIRED']);
    const early = await issue({ issuedAt: client.now() + 200 });
    const m = nonce();
    const bytes = await client.present({ issue: early.issue, disclosure: disclose(early.claims, show), holding: { flow: 'face', holderSeed: early.holder, salt: null, verifier: PHARMACY, nonce: m } });
    expect(await both(bytes, face(m))).toEqual(['validity:NOT_YET_VALID']);
  });

  it('a status older than the verifier’s maximum age: not valid, and says how old', async () => {
    const later = client.now() + 3600;
    expect(await both(good, { ...face(n), now: later, maxStatusAge: 600 })).toEqual(['not-revoked:STATUS_TOO_OLD']);
    const v = offline(good, { ...face(n), now: later, maxStatusAge: 600 });
    expect(v.status!.age).toBeGreaterThanOrEqual(3600);
    expect(v.checks.find((c) => c.name === 'not-revoked')!.detail).toMatch(/s old/);
    expect(await both(good, { ...face(n), now: later })).toEqual([]); // the default: a day
    expect(await both(good, { ...face(n), now: client.now() + 86_400 + 600 })).toEqual(['not-revoked:STATUS_TOO_OLD']);
  });

  it('a view-only copy is genuine content but never an original', async () => {
    const view = edit(good, (p) => (p.holding = { flow: 'view' }));
    const v = offline(view, face(n));
    expect(failed(v)).toEqual(['holding:VIEW_ONLY', 'original:VIEW_ONLY']);
    expect(v.claims).not.toBeNull();
    expect(failed(await online(view, face(n)))).toEqual(['holding:VIEW_ONLY', 'original:VIEW_ONLY']);
  });

  it('a presentation of another log', async () => {
    const other = await makeLedger({ docTypes: TEST_DOC_TYPES }, 'example.com/another-log');
    try {
      const v = new PresentationVerifier(other.ledger.publicKeys);
      const f = failed(offline(good, face(n), v));
      expect(f).toContain('anchored:WRONG_LOG');
    } finally {
      await other.cleanup();
    }
  });
});

describe("what only a rogue operator's log could anchor is still caught", () => {
  // Every entry below verifies and is anchored by the rogue's real keys; the rules were not run.
  // The rogue holds this test log's own keys. Offline, only the rules catch it. The API
  // (the log itself) also sees checkpoints signed with its key that it never published.
  async function rogueBoth(bytes: Uint8Array, ctx: VerifyContext): Promise<string[]> {
    const a = failed(offline(bytes, ctx));
    expect(failed(await online(bytes, ctx))).toEqual(['anchored:INCONSISTENT', ...a]);
    return a;
  }
  const T = 1_800_000_000;
  let seeds: RogueSeeds;
  beforeAll(async () => {
    const k = await loadKeys(t.dir);
    seeds = { log: k.log.seed, timestamp: k.timestamp.seed, status: k.status.seed, root: k.root!.seed };
  });
  function setup() {
    const log = new RogueLog(t.ledger.origin, T, seeds);
    const issuer = randomBytes(32);
    const reg = log.add(encodeEvent({ type: 'issuer.register', issuer: ed25519PublicKey(issuer), name: 'Rogue Office', docTypes: ['kr.gov.family-relation.basic'], time: T }, log.seeds.root));
    return { log, issuer, reg, v: verifier };
  }
  function cert(log: RogueLog, issuer: Uint8Array, docType: string) {
    const holder = randomBytes(32);
    const claims = household();
    const id = newCertId();
    const i = log.add(encodeEvent({ type: 'cert.issue', id, docType, issuer: ed25519PublicKey(issuer), holder: ed25519PublicKey(holder), commitment: commitDocument(claims).commitment, issuedAt: T, validUntil: T + 90 * DAY, time: T }, issuer));
    return { id, holder, claims, i };
  }
  function present(log: RogueLog, reg: number, c: { id: Uint8Array; holder: Uint8Array; claims: Claim[]; i: number }, o: { transfers?: number[]; retire?: number; holderSeed?: Uint8Array; salt?: Uint8Array | null } = {}) {
    const transfers = o.transfers ?? [];
    const p = { origin: log.origin, register: log.anchored(reg), issue: log.anchored(c.i), transfers: transfers.map((x) => log.anchored(x)), disclosure: disclose(c.claims, show) };
    const n = randomBytes(16);
    const holding = signFace(p, o.holderSeed ?? c.holder, { verifier: PHARMACY, nonce: n, salt: o.salt ?? null });
    const status = log.status(c.id, 'active', [c.i, ...transfers], o.retire === undefined ? [reg] : [reg, o.retire]);
    return { bytes: encodePresentation({ ...p, status, holding }), ctx: { now: T + 10, nonce: n, verifierName: PHARMACY } };
  }

  it('the honest baseline of the rogue log is valid', async () => {
    const { log, issuer, reg } = setup();
    const c = cert(log, issuer, 'kr.gov.family-relation.basic');
    const { bytes, ctx } = present(log, reg, c);
    expect(await rogueBoth(bytes, ctx)).toEqual([]);
  });

  it('a document type the issuer was not registered for', async () => {
    const { log, issuer, reg } = setup();
    const c = cert(log, issuer, DOC);
    const { bytes, ctx } = present(log, reg, c);
    expect(await rogueBoth(bytes, ctx)).toEqual(['issuer-registered:DOCTYPE_NOT_ALLOWED']);
  });

  it('an issuance after the issuer was retired', async () => {
    const { log, issuer, reg } = setup();
    const retire = log.add(encodeEvent({ type: 'issuer.retire', issuer: ed25519PublicKey(issuer), time: T }, log.seeds.root));
    const c = cert(log, issuer, 'kr.gov.family-relation.basic');
    const { bytes, ctx } = present(log, reg, c, { retire });
    expect(await rogueBoth(bytes, ctx)).toEqual(['issuer-registered:ISSUER_RETIRED']);
  });

  it('a transfer by a non-holder', async () => {
    const { log, issuer, reg } = setup();
    const c = cert(log, issuer, 'kr.gov.family-relation.basic');
    const thief = randomBytes(32);
    const to = randomBytes(32);
    const salt = newSalt();
    const tr = log.add(
      encodeEvent({ type: 'cert.transfer', id: c.id, parent: leafHash(log.entries[c.i]), sender: ed25519PublicKey(thief), senderSalt: null, recipient: recipientCommitment(salt, ed25519PublicKey(to)), nonce: newNonce(), time: T }, thief),
    );
    const { bytes, ctx } = present(log, reg, c, { transfers: [tr], holderSeed: to, salt });
    // The rogue's own status statement names it too, so the statement's chain fails as well.
    expect(await rogueBoth(bytes, ctx)).toEqual(['chain:NOT_HOLDER', 'not-revoked:STATUS_INVALID']);
  });
});

describe('caches', () => {
  it('a checkpoint verified once is remembered by its exact bytes, not by a lossy decoding', async () => {
    const v = checkpointVerifiers(t.ledger.publicKeys);
    const note = t.ledger.head.checkpoint;
    expect(openCheckpoint(note, v).checkpoint.size).toBe(t.ledger.head.size);
    // A byte-order mark in front decodes to the same text (TextDecoder drops it), yet it
    // is not the note that verified.
    expect(() => openCheckpoint(new Uint8Array([0xef, 0xbb, 0xbf, ...note]), v)).toThrow();
    expect(openCheckpoint(note, v).checkpoint.size).toBe(t.ledger.head.size);
  });

  it('a known checkpoint with lines by other keys added costs no signature check; a second line by the log key is refused', () => {
    const v = checkpointVerifiers(t.ledger.publicKeys);
    let checks = 0;
    for (const k of [v.log, v.timestamp] as { verify: (m: Uint8Array, g: Uint8Array) => boolean }[]) {
      const f = k.verify;
      k.verify = (m, g) => (checks++, f(m, g));
    }
    const note = t.ledger.head.checkpoint;
    openCheckpoint(note, v);
    expect(checks).toBe(2);
    const parsed = parseNote(note);
    const padded = signNote(parsed.text, [ed25519Signer('example.com/someone-else', randomBytes(32))], parsed.sigs);
    expect(openCheckpoint(padded, v).checkpoint.size).toBe(t.ledger.head.size);
    expect(checks).toBe(2);
    const doubled = new TextEncoder().encode(new TextDecoder().decode(note) + formatSignatureLine(parsed.sigs[0]));
    expect(() => openCheckpoint(doubled, v)).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    expect(checks).toBe(2);
  });
});

describe('malformed presentations are refused with a coded problem, not judged', () => {
  it('garbage, trailing bytes, another version, an unknown flow', async () => {
    const post = (body: Uint8Array, q = '') => fetch(`${base}/v1/verify${q}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body });
    const c = await issue();
    const good = await client.present({ issue: c.issue, disclosure: disclose(c.claims, show), holding: { flow: 'view' } });
    const v = decodeCbor(good, { maxBytes: 1 << 20 }) as Record<string, unknown>;
    const cases: [Uint8Array, string][] = [
      [new Uint8Array([1, 2, 3]), 'MALFORMED'],
      [new Uint8Array([...good, 0]), 'MALFORMED'],
      [encodeCbor({ ...v, v: 2 } as never), 'UNSUPPORTED'],
      [encodeCbor({ ...v, holding: { flow: 'telepathy' } } as never), 'MALFORMED'],
      [encodeCbor({ ...v, extra: 1 } as never), 'MALFORMED'],
      // a claim without its salt
      [encodeCbor({ ...v, disclosure: { ...(v.disclosure as object), claims: (v.disclosure as { claims: unknown[][] }).claims.map((x) => x.slice(1)) } } as never), 'MALFORMED'],
    ];
    for (const [body, code] of cases) {
      const r = await post(body);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect((await r.json()).type).toBe(`urn:dojang:problem:${code}`);
      try {
        decodePresentation(body);
        throw new Error('decoded');
      } catch (e) {
        expect(isLedgerError(e) ? e.code : String(e)).toBe(code);
      }
    }
    expect((await post(good, '?nonce=zz')).status).toBe(400);
    expect((await post(good, '?audience=00&x=1')).status).toBe(400);
    expect((await post(good, `?nonce=${'00'.repeat(16)}`)).status).toBe(400); // a nonce without the verifier's name
    const r = await fetch(`${base}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r.status).toBe(415);
    expect((await fetch(`${base}/v1/verify`)).status).toBe(405);
  });
});
