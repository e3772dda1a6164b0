/**
 * Verdicts under a witness policy (spec §10.2 `witnessed`, §13.3): a log served with a
 * 2-of-3 policy and three real witnesses over HTTP; presentations made by the SDK carry
 * their cosignatures. Judged offline by PresentationVerifier with policies, and by POST
 * /v1/verify of the log (which judges by its own policy, served at GET /v1/policy).
 * Failing verdicts: a quorum not met, a witness the policy does not list, a forged line,
 * a log the policy does not list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeLedger, type TestLedger, TEST_DOC_TYPES } from '../helpers/ledger.js';
import { allCosigned, policyText, startWitness, type RunningWitness } from '../helpers/witnesses.js';
import { createApp } from '../../src/api/app.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { DojangClient } from '../../src/client/sdk.js';
import { decodePresentation, encodePresentation, type Presentation } from '../../src/client/presentation.js';
import { PresentationVerifier, type Verdict, type VerifyContext } from '../../src/client/verify.js';
import { parsePolicy, type Policy } from '../../src/core/policy.js';
import { formatProofBundle, parseProofBundle } from '../../src/core/proof-bundle.js';
import { ed25519Signer, formatNote, formatVerifierKey, parseNote, type NoteSignature } from '../../src/core/note.js';
import { ed25519PublicKey, portableBackend, randomBytes } from '../../src/core/crypto.js';
import { disclose, newClaim } from '../../src/core/commitment.js';
import { toHex, utf8 } from '../../src/core/bytes.js';

const ORIGIN = 'localhost/dojang-witnessed-test';
// A document type the wallet side does not know: the SDK checks no claims for it (spec §12.7).
const DOC = 'kr.gov.family-relation.basic';
const PHARMACY = 'Onnuri Pharmacy';

let t: TestLedger;
let server: Server;
let plain: Server;
let base: string;
let plainBase: string;
let client: DojangClient;
let policyFile: string;
let twoOfThree: Policy;
const witnesses: RunningWitness[] = [];
let bytes: Uint8Array;
let n: Uint8Array;
/** The log's published checkpoint before the issuance: cosigned by the witnesses, of another size. */
let early: Uint8Array;

const listen = async (s: Server) => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  t = await makeLedger({ docTypes: TEST_DOC_TYPES }, ORIGIN);
  const logKey = t.ledger.publicKeys.logKey;
  for (let i = 0; i < 3; i++) witnesses.push(await startWitness(i, ORIGIN, logKey));
  policyFile = policyText(logKey, witnesses, '2');
  twoOfThree = parsePolicy(utf8(policyFile));
  const ledger = await t.reopen({ witnessing: { policy: twoOfThree, waitMs: 10_000 } });
  server = createServer(createApp({ ledger, policy: { file: utf8(policyFile), policy: twoOfThree } }).callback());
  base = await listen(server);
  plain = createServer(createApp({ ledger }).callback()); // the same log, served without a policy
  plainBase = await listen(plain);
  client = new DojangClient(base);
  const root = (await loadKeys(t.dir)).root!.seed;
  const office = randomBytes(32);
  await client.registerIssuer(root, ed25519PublicKey(office), 'Jongno-gu Office', [DOC]);
  await allCosigned(base);
  early = new Uint8Array(await (await fetch(`${base}/checkpoint`)).arrayBuffer());
  const holder = randomBytes(32);
  const claims = [newClaim('name', '김민수'), newClaim('address', '서울특별시 종로구 세종대로 209')];
  const r = await client.issue(office, { docType: DOC, holder: ed25519PublicKey(holder), claims, validUntil: client.now() + 90 * 86_400 });
  await allCosigned(base);
  n = randomBytes(16);
  bytes = await client.present({ issue: r.entry, disclosure: disclose(claims, ['address']), holding: { flow: 'face', holderSeed: holder, salt: null, verifier: PHARMACY, nonce: n } });
}, 60_000);

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await new Promise((r) => plain?.close(r));
  await t.cleanup();
  for (const w of witnesses) await w.stop();
});

const ctx = (): VerifyContext => ({ now: client.now(), nonce: n, verifierName: PHARMACY });
const failed = (v: Verdict) => v.checks.filter((c) => !c.ok).map((c) => `${c.name}:${c.reason}`);
const check = (v: Verdict, name: string) => v.checks.find((c) => c.name === name);
const names = (v: Verdict) => v.witnesses?.map((w) => w.name);

function judge(b: Uint8Array, policy?: Policy): Verdict {
  return new PresentationVerifier(t.ledger.publicKeys, undefined, { policy }).verify(decodePresentation(b), ctx());
}

async function online(b: Uint8Array, at = base): Promise<Verdict> {
  const q = new URLSearchParams({ nonce: toHex(n), verifier: PHARMACY });
  const res = await fetch(`${at}/v1/verify?${q}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: b });
  expect(res.status).toBe(200);
  return (await res.json()) as Verdict;
}

/**
 * relined re-encodes a presentation with the signature lines of every bundle's
 * checkpoint changed by f (the note's text, so every signature that was good stays good).
 */
function relined(b: Uint8Array, f: (sigs: NoteSignature[], text: string) => NoteSignature[]): Uint8Array {
  const p: Presentation = decodePresentation(b);
  const re = (a: { entry: Uint8Array; proof: string }) => {
    const bundle = parseProofBundle(a.proof);
    const note = parseNote(bundle.checkpoint);
    return { entry: a.entry, proof: formatProofBundle({ ...bundle, checkpoint: formatNote({ text: note.text, sigs: f(note.sigs, note.text) }) }) };
  };
  return encodePresentation({ origin: p.origin, register: re(p.register), issue: re(p.issue), transfers: p.transfers.map(re), disclosure: p.disclosure, status: p.status, holding: p.holding });
}

/** only keeps the lines of the log's keys and of the witnesses numbered in `keep`. */
const only = (...keep: number[]) => (sigs: NoteSignature[]) => sigs.filter((s) => !s.name.startsWith('witness.test/') || keep.some((i) => s.name === witnesses[i].name));

describe('the witnessed check (spec §10.2, §13.3)', () => {
  it('2 of 3: the log acknowledged the entries against witnessed checkpoints; the verdict names the witnesses and their times', () => {
    const v = judge(bytes, twoOfThree);
    expect(failed(v)).toEqual([]);
    expect(v.valid).toBe(true);
    expect(v.checks.map((c) => c.name).slice(0, 3)).toEqual(['anchored', 'witnessed', 'issuer-signature']);
    expect(v.witnesses!.length).toBeGreaterThanOrEqual(2);
    for (const w of v.witnesses!) {
      expect(w.name).toMatch(/^W[012]$/);
      expect(Math.abs(w.time - client.now())).toBeLessThan(120);
    }
    expect(check(v, 'witnessed')!.detail).toMatch(/^the checkpoints of all 2 entries and of the status statement meet the witness policy \(3 witnesses\); the issuance's \(size \d+\) is cosigned by W\d at \d{4}-\d\d-\d\dT/);
    // Two of the three lines are enough; the portable backend judges the same.
    const two = relined(bytes, only(0, 2));
    const v2 = new PresentationVerifier(t.ledger.publicKeys, portableBackend, { policy: twoOfThree }).verify(decodePresentation(two), ctx());
    expect(v2.valid).toBe(true);
    expect(names(v2)).toEqual(['W0', 'W2']);
  });

  it('not met: one cosignature of the two needed fails, naming who cosigned and which group is short', () => {
    const v = judge(relined(bytes, only(1)), twoOfThree);
    expect(failed(v)).toEqual(['witnessed:NOT_WITNESSED']);
    expect(v.valid).toBe(false);
    expect(check(v, 'witnessed')!.detail).toMatch(/^the checkpoint of the registration \(size \d+\) does not meet the witness policy: cosigned by W1 at \S+Z; group G needs 2 of W0, W1, W2 and has 1$/);
    expect(names(v)).toEqual(['W1']);
    const none = judge(relined(bytes, only()), twoOfThree);
    expect(failed(none)).toEqual(['witnessed:NOT_WITNESSED']);
    expect(check(none, 'witnessed')!.detail).toContain('cosigned by no witness of the policy; group G needs 2 of W0, W1, W2 and has 0');
    expect(none.witnesses).toEqual([]);
    // Nested groups: each short one is named.
    const nested = parsePolicy(utf8(`log ${t.ledger.publicKeys.logKey}\nwitness A ${witnesses[0].vkey}\nwitness B ${witnesses[1].vkey}\ngroup AB all A B\nwitness C ${witnesses[2].vkey}\ngroup top all AB C\nquorum top\n`));
    expect(check(judge(relined(bytes, only(0, 2)), nested), 'witnessed')!.detail).toMatch(/cosigned by A at \S+, C at \S+; group top needs 2 of AB, C and has 1; group AB needs 2 of A, B and has 1$/);
  });

  it("the status statement's checkpoint must meet the policy too: a log could show one verifier a view without a revocation (found by review)", () => {
    const p: Presentation = decodePresentation(bytes);
    const note = parseNote(utf8(p.status!.checkpoint));
    const unwitnessed = encodePresentation({ ...p, status: { ...p.status!, checkpoint: new TextDecoder().decode(formatNote({ text: note.text, sigs: only(1)(note.sigs) })) } });
    const v = judge(unwitnessed, twoOfThree);
    expect(failed(v)).toEqual(['witnessed:NOT_WITNESSED']);
    expect(check(v, 'witnessed')!.detail).toMatch(/^the checkpoint of the status statement \(size \d+\) does not meet the witness policy: cosigned by W1 at \S+Z; group G needs 2 of W0, W1, W2 and has 1$/);
    // Without a policy the same presentation is valid: the status statement itself verifies.
    expect(judge(unwitnessed).valid).toBe(true);
  });

  it('a cosignature by a witness the policy does not list is not counted', () => {
    const w01 = parsePolicy(utf8(`log ${t.ledger.publicKeys.logKey}\nwitness W0 ${witnesses[0].vkey}\nwitness W1 ${witnesses[1].vkey}\ngroup G all W0 W1\nquorum G\n`));
    const v = judge(relined(bytes, only(0, 2)), w01); // W2 cosigned, but W2 is nobody here
    expect(failed(v)).toEqual(['witnessed:NOT_WITNESSED']);
    expect(names(v)).toEqual(['W0']);
    expect(check(v, 'witnessed')!.detail).toMatch(/group G needs 2 of W0, W1 and has 1$/);
    expect(judge(relined(bytes, only(0, 1, 2)), w01).valid).toBe(true);
  });

  it('a forged cosignature line is ignored: not counted, and it does not make the checkpoint invalid', () => {
    // W1's key name and key ID with a signature over nothing it signed.
    const forge = (sigs: NoteSignature[]) => {
      const real = sigs.find((s) => s.name === witnesses[1].name)!;
      return [...sigs.filter((s) => s !== real), { name: real.name, keyId: real.keyId, sig: Uint8Array.from([...real.sig.subarray(0, 8), ...randomBytes(64)]) }];
    };
    const v = judge(relined(relined(bytes, only(0, 1)), forge), twoOfThree);
    expect(failed(v)).toEqual(['witnessed:NOT_WITNESSED']); // anchored still holds
    expect(names(v)).toEqual(['W0']);
    expect(check(v, 'witnessed')!.detail).toContain('; lines by W1 do not verify and are ignored; group G needs 2 of W0, W1, W2 and has 1');
    // With the other two lines good, the forged one changes nothing.
    const still = judge(relined(relined(bytes, only(0, 1, 2)), forge), twoOfThree);
    expect(still.valid).toBe(true);
    expect(names(still)).toEqual(['W0', 'W2']);
    // A real W1 cosignature of another checkpoint of the log (a replay) is just as forged.
    const w1OfEarly = parseNote(early).sigs.find((s) => s.name === witnesses[1].name)!;
    const replayed = judge(relined(bytes, (sigs) => [...only(0)(sigs), w1OfEarly]), twoOfThree);
    expect(failed(replayed)).toEqual(['witnessed:NOT_WITNESSED']);
    expect(check(replayed, 'witnessed')!.detail).toContain('lines by W1 do not verify and are ignored');
  });

  it('a checkpoint of a log the policy does not list is refused (UNKNOWN_LOG)', () => {
    const otherKey = formatVerifierKey({ name: 'example.com/other-log', type: 1, publicKey: ed25519PublicKey(new Uint8Array(32).fill(9)) });
    const otherLog = parsePolicy(utf8(policyFile.replace(t.ledger.publicKeys.logKey, otherKey)));
    const v = judge(bytes, otherLog);
    expect(failed(v)).toEqual(['witnessed:UNKNOWN_LOG']);
    expect(check(v, 'witnessed')!.detail).toMatch(/^the checkpoint of the registration: the policy lists no log with origin "localhost\/dojang-witnessed-test"$/);
    expect(v.witnesses).toEqual([]);
    // The right origin with another key: no signature by a listed log verifies.
    const impostor = formatVerifierKey({ name: ORIGIN, type: 1, publicKey: ed25519Signer(ORIGIN, new Uint8Array(32).fill(9)).publicKey });
    expect(failed(judge(bytes, parsePolicy(utf8(policyFile.replace(t.ledger.publicKeys.logKey, impostor)))))).toEqual(['witnessed:UNKNOWN_LOG']);
  });

  it('without a policy: no witnessed check and no witness report, whatever the lines', () => {
    for (const b of [bytes, relined(bytes, only())]) {
      const v = judge(b);
      expect(v.valid).toBe(true);
      expect(v.checks.map((c) => c.name)).not.toContain('witnessed');
      expect(v).not.toHaveProperty('witnesses');
    }
  });
});

describe('POST /v1/verify and GET /v1/policy of a log served with a policy', () => {
  it('serves the policy file as it is, and 404 without one', async () => {
    const res = await fetch(`${base}/v1/policy`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.text()).toBe(policyFile);
    const none = await fetch(`${plainBase}/v1/policy`);
    expect(none.status).toBe(404);
    expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await none.json()).type).toBe('urn:dojang:problem:NOT_FOUND');
    expect((await fetch(`${base}/v1/policy`, { method: 'POST' })).status).toBe(405);
    // GET /v1/log says whether there is one (so that a page need not ask for a 404).
    expect((await (await fetch(`${base}/v1/log`)).json()).policy).toBe(true);
    expect((await (await fetch(`${plainBase}/v1/log`)).json()).policy).toBe(false);
    expect((await new DojangClient(plainBase).log()).policy).toBe(false);
  });

  it('judges by the log policy: reports the witnesses, and fails a presentation whose checkpoints lack the quorum', async () => {
    const v = await online(bytes);
    expect(failed(v)).toEqual([]);
    expect(v.checks.map((c) => c.name)).toContain('witnessed');
    expect(v.witnesses!.length).toBeGreaterThanOrEqual(2);
    expect(v.witnesses).toEqual(judge(bytes, twoOfThree).witnesses);
    const short = await online(relined(bytes, only(2)));
    expect(failed(short)).toEqual(['witnessed:NOT_WITNESSED']);
    expect(short.witnesses).toEqual([{ name: 'W2', time: expect.any(Number) }]);
    expect(check(short, 'witnessed')!.detail).toMatch(/group G needs 2 of W0, W1, W2 and has 1$/);
    // The same log served without a policy says nothing of witnesses.
    const plainV = await online(relined(bytes, only(2)), plainBase);
    expect(plainV.valid).toBe(true);
    expect(plainV).not.toHaveProperty('witnesses');
  });
});
