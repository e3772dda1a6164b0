import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeLedger, type TestLedger, TEST_DOC_TYPES } from '../helpers/ledger.js';
import { allCosigned, policyText, startWitness, type RunningWitness } from '../helpers/witnesses.js';
import { createApp } from '../../src/api/app.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { DojangClient } from '../../src/client/sdk.js';
import { decodePresentation, encodePresentation } from '../../src/client/presentation.js';
import type { Verdict } from '../../src/client/verify.js';
import { parsePolicy } from '../../src/core/policy.js';
import { formatProofBundle, parseProofBundle } from '../../src/core/proof-bundle.js';
import { formatNote, parseNote } from '../../src/core/note.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { disclose, newClaim } from '../../src/core/commitment.js';
import { utf8 } from '../../src/core/bytes.js';
import { judge, openSession } from '../../src/web/judge.js';
import { CHECK_LABELS, REASON_LABELS } from '../../src/web/labels.js';

// The verifier page's judgement (src/web/judge.ts) of a log served with a witness policy
// (spec §13.3, docs/api.md GET /v1/policy): three real witnesses, a 2-of-3 policy. The
// page takes the log's policy, judges by it and reports who cosigned and when; a
// presentation whose checkpoints lack the quorum is not valid; a policy it cannot read
// is said, and not used.

const ORIGIN = 'example.com/judge-witnessed-test';
// A document type the wallet side does not know: the SDK checks no claims for it (spec §12.7).
const DOC = 'kr.gov.family-relation.basic';
const PHARMACY = '약국 / Pharmacy';

let t: TestLedger;
const servers: Server[] = [];
const witnesses: RunningWitness[] = [];
let base: string;
let broken: string;
let bytes: Uint8Array;
let nonce: Uint8Array;
let client: DojangClient;

async function serve(app: ReturnType<typeof createApp>): Promise<string> {
  const s = createServer(app.callback());
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  t = await makeLedger({ docTypes: TEST_DOC_TYPES }, ORIGIN);
  for (let i = 0; i < 3; i++) witnesses.push(await startWitness(i, ORIGIN, t.ledger.publicKeys.logKey));
  const file = policyText(t.ledger.publicKeys.logKey, witnesses, '2');
  const policy = parsePolicy(utf8(file));
  const ledger = await t.reopen({ witnessing: { policy, waitMs: 10_000 } });
  base = await serve(createApp({ ledger, policy: { file: utf8(file), policy } }));
  broken = await serve(createApp({ ledger, policy: { file: utf8('quorum nobody\n'), policy } })); // a log serving a file that is not a policy
  client = new DojangClient(base);
  const office = randomBytes(32);
  await client.registerIssuer((await loadKeys(t.dir)).root!.seed, ed25519PublicKey(office), '종로구청', [DOC]);
  const holder = randomBytes(32);
  const claims = [newClaim('address', '서울특별시 종로구 세종대로 209')];
  const r = await client.issue(office, { docType: DOC, holder: ed25519PublicKey(holder), claims, validUntil: client.now() + 90 * 86_400 });
  await allCosigned(base); // the tests cut lines: take the presentation once all three cosigned
  nonce = randomBytes(16);
  bytes = await client.present({ issue: r.entry, disclosure: disclose(claims, ['address']), holding: { flow: 'face', holderSeed: holder, salt: null, verifier: PHARMACY, nonce } });
}, 60_000);

afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  await t.cleanup();
  for (const w of witnesses) await w.stop();
});

const ctx = () => ({ now: client.now(), nonce, verifierName: PHARMACY });
const failed = (v: Verdict) => v.checks.filter((c) => !c.ok).map((c) => `${c.name}:${c.reason}`);

describe('judge under the log’s witness policy', () => {
  it('takes the policy from GET /v1/policy and reports which witnesses cosigned, and when', async () => {
    const s = await openSession(base);
    expect(s.policy).toMatchObject({ source: 'log', witnesses: 3 });
    const j = await judge(s, bytes, ctx());
    expect(failed(j.verdict)).toEqual([]);
    expect(j.policy.source).toBe('log');
    expect(j.verdict.checks.map((c) => c.name)).toContain('witnessed');
    expect(j.verdict.witnesses!.length).toBeGreaterThanOrEqual(2);
    for (const w of j.verdict.witnesses!) expect(Math.abs(w.time - client.now())).toBeLessThan(120);
    expect(CHECK_LABELS.witnessed.ko).toBe('증인 서명');
  });

  it('a presentation whose checkpoints carry one cosignature of the two needed is not valid', async () => {
    const s = await openSession(base);
    const p = decodePresentation(bytes);
    const strip = (a: { entry: Uint8Array; proof: string }) => {
      const b = parseProofBundle(a.proof);
      const note = parseNote(b.checkpoint);
      const keep = note.sigs.filter((x) => !x.name.startsWith('witness.test/') || x.name === witnesses[0].name);
      return { entry: a.entry, proof: formatProofBundle({ ...b, checkpoint: formatNote({ text: note.text, sigs: keep }) }) };
    };
    const one = encodePresentation({ origin: p.origin, register: strip(p.register), issue: strip(p.issue), transfers: p.transfers.map(strip), disclosure: p.disclosure, status: p.status, holding: p.holding });
    const j = await judge(s, one, ctx());
    expect(failed(j.verdict)).toEqual(['witnessed:NOT_WITNESSED']);
    expect(j.verdict.valid).toBe(false);
    expect(j.verdict.witnesses).toEqual([{ name: 'W0', time: expect.any(Number) }]);
    expect(REASON_LABELS.NOT_WITNESSED.en).toMatch(/witnesses/);
  });

  it('a policy the page cannot read is said, and the presentation is judged without one', async () => {
    const s = await openSession(broken);
    expect(s.policy.source).toBe('unusable');
    expect(s.policy.source === 'unusable' && s.policy.why).toMatch(/^GET \/v1\/policy: MALFORMED: policy line 1: /);
    const j = await judge(s, bytes, ctx());
    expect(j.verdict.valid).toBe(true);
    expect(j.verdict).not.toHaveProperty('witnesses');
    const down = await openSession(base, { fetch: (input, init) => (String(input).endsWith('/v1/policy') ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init)) });
    expect(down.policy).toEqual({ source: 'unusable', why: 'GET /v1/policy: fetch failed' });
  });
});
