#!/usr/bin/env node
// abuse-test: the trust rules of issue 15 against real `dojang serve` processes over
// HTTP, with the SDK (dist/client/sdk.js) and the built CLI. Each part prints its
// figures and the bounds it ran with:
//
//  1 transfers   - one certificate, then 4,095 and 20,000 more self-transfers of its copy
//                  (the holder sends to its own key, parent the issuance: chain depth 1 ≤ 63,
//                  spec §5.9), 64 in flight; each is acknowledged, or refused by a bound the
//                  spec states (503 OVERLOADED from the write queue, §8.2: retried after a
//                  short sleep); counts by code. Then the issuer's revocation is acknowledged,
//                  GET /v1/certificates/<id> says revoked in < 16 KiB (§8.7), and a fresh
//                  face presentation is judged by POST /v1/verify not valid: not-revoked
//                  CERT_REVOKED (§10.2).
//  2 reserve     - a second serve with --max-queue 64 flooded by several hundred concurrent
//                  valid writes until they get 503 OVERLOADED; during the flood 8–16 cert.revoke
//                  by the issuer, each sent once (no retry), are all acknowledged (§8.2: 1,024
//                  places reserved beyond a full queue for entitled revocations, 16 per key),
//                  while as many signed by a registered issuer of another office are refused
//                  (OVERLOADED or NOT_ISSUER) and never appended (every entry read back).
//  3 compromise  - A before c, B at c, C after; the issuer retired and compromised from B's
//                  index: POST /v1/verify says A valid, B and C ISSUER_COMPROMISED
//                  (issuer-registered); `dojang verify` offline exits 0 / 3 / 3; `dojang audit
//                  --status` exits 0 saying active / compromised / compromised; raising c, and
//                  a c after the retirement, are BAD_COMPROMISE (§5.9).
//  4 issuance    - validity beyond the type's maximum: VALIDITY_TOO_LONG; issuedAt far from
//                  the batch time: ISSUED_AT_SKEW; an unregistered type: UNKNOWN_DOCTYPE (§5.9).
//  5 status age  - `dojang verify --max-status-age 1` ≥ 3 s after the status was made: exit 3
//                  STATUS_TOO_OLD; POST /v1/verify?maxStatusAge=1 once the log's latest
//                  checkpoint is > 1 s old: STATUS_TOO_OLD; a large maxStatusAge: valid (§10.2).
//
//   node scripts/abuse-test.mjs [--transfers N] [--quick] [--keep]
//
// --transfers N: part 1's self-transfers in all (default 24,095: 4,095, then the rest);
// --quick: 500 + 2,000 transfers and a shorter flood, for local tries. Needs `npm run build`.
// Exit status 0 only if every expectation holds; prints a PASS summary with the figures.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(join(root, 'dist', p));
const { DojangClient, httpProblemOf, decodePresentation } = await dist('client/sdk.js');
const { loadKeys } = await dist('ledger/keyfiles.js');
const { encodeEvent, newCertId, newNonce, parseEvent } = await dist('core/events.js');
const { ed25519PublicKey } = await dist('core/crypto.js');
const { toHex, equalBytes } = await dist('core/bytes.js');
const { newClaim, disclose } = await dist('core/commitment.js');
const { decodeEntryBundle, formatTilePath, TILE_WIDTH } = await dist('core/tiles.js');
const { householdClaims } = await dist('wallet/doctypes.js');

const { values } = parseArgs({ options: { transfers: { type: 'string' }, quick: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } } });
const QUICK = values.quick;
const TOTAL = values.transfers !== undefined ? Number(values.transfers) : QUICK ? 2_500 : 24_095;
if (!Number.isSafeInteger(TOTAL) || TOTAL < 1) {
  console.error(`abuse-test: --transfers ${values.transfers}: a positive integer`);
  process.exit(2);
}
const FIRST = Math.min(TOTAL, QUICK && values.transfers === undefined ? 500 : 4_095);
const SECOND = TOTAL - FIRST;
const IN_FLIGHT = 64; // part 1's concurrent transfers
const FLOOD_CONCURRENCY = QUICK ? 256 : 384; // part 2's concurrent writers
const FLOOD_MAX_MS = 30_000; // part 2: the flood stops after this, whatever happens
const MAX_QUEUE = 64; // part 2's --max-queue
const MIN_PAIRS = 8; // part 2: revocations by the issuer (and by another office) during the flood, at least …
const MAX_PAIRS = 16; // … and at most (the reserve's 16 per key), until 2 pairs met a full queue
const PROBE = 96; // part 2: flood writes sent just before each pair of revocations, in the same turn (> --max-queue)
const DAY = 86_400;
const DOCTYPE = 'kr.gov.resident-registration.copy';
const MAX_VALIDITY = 90 * DAY;
const UNREGISTERED = 'dev.dojang.abuse-test-unregistered';
const STATUS_LIMIT = 16 * 1024; // spec §8.7: the whole status answer
const MAIN = join(root, 'dist/cli/main.js');

const t0 = Date.now();
const say = (m) => console.log(`abuse-test: [${((Date.now() - t0) / 1000).toFixed(1)} s] ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procs = [];
let dir;

/** check throws (the run fails, see the end of the file) unless ok. */
function check(ok, msg) {
  if (!ok) throw new Error(msg);
}

/** Serve is one `dojang serve` process on 127.0.0.1 and an ephemeral port. */
class Serve {
  constructor(name, args) {
    Object.assign(this, { name, args, log: [], child: undefined, url: undefined });
    procs.push(this);
  }

  async start() {
    const child = spawn(process.execPath, [MAIN, 'serve', ...this.args, '--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => this.log.push(...d.split('\n').filter((l) => l !== '')));
    let out = '';
    child.stdout.setEncoding('utf8');
    this.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start in 30 s`)), 30_000);
      child.stdout.on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on('exit', (code, sig) => reject(new Error(`${this.name} exited (${code ?? sig}) before listening: ${this.log.join(' | ')}`)));
    });
  }

  async stop() {
    const c = this.child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }

  async get(path) {
    const r = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(30_000) });
    const text = await r.text();
    return { status: r.status, bytes: Buffer.byteLength(text), text, json: () => JSON.parse(text) };
  }

  /** post sends bytes as application/cbor; returns { status, body, ms }. Never retries. */
  async post(path, bytes) {
    const began = performance.now();
    const r = await fetch(`${this.url}${path}`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/cbor' }, signal: AbortSignal.timeout(60_000) });
    const text = await r.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = { raw: text };
    }
    return { status: r.status, body, ms: performance.now() - began, retryAfter: r.headers.get('retry-after') };
  }
}

/** init makes a fresh ledger with a development root key in DIR; returns its keys (GET /v1/log's) and the root seed. */
async function initLedger(data, tag) {
  const r = spawnSync(process.execPath, [MAIN, 'init', '--data', data, '--json', '--origin', `localhost/dojang-abuse-test-${tag}-${randomBytes(3).toString('hex')}`], { encoding: 'utf8', timeout: 60_000 });
  check(r.status === 0, `dojang init --data ${data}: exit ${r.status}: ${r.stderr}`);
  const info = JSON.parse(r.stdout);
  const keys = await loadKeys(data);
  check(keys.root !== undefined, 'dojang init wrote no development root key (keys/root.key)');
  return { info, rootSeed: keys.root.seed };
}

/** cli runs the built CLI (bounded); returns { code, out, err, ms }. */
function cli(args) {
  const began = performance.now();
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr, ms: performance.now() - began };
}

/** refusal returns { status, code } of a refused SDK call's problem answer, or rethrows a failure that is not one. */
async function refusal(promise) {
  try {
    const r = await promise;
    return { acknowledged: r };
  } catch (e) {
    const p = httpProblemOf(e);
    if (p === undefined) throw e;
    return { status: p.status, code: p.code, detail: p.detail };
  }
}

const seed = () => new Uint8Array(randomBytes(32));
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const ms = (x) => `${x.toFixed(0)} ms`;
const fmt = (m) => [...m].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
const bump = (m, k) => m.set(k, (m.get(k) ?? 0) + 1);
// A 등본's claims (the SDK checks them against the document type before it signs, spec §12.7).
const claimsFor = (name) =>
  householdClaims({ address: '서울특별시 종로구 세종대로 209', head: name, applicant: 1, members: [{ name, relation: '본인', birthDate: '1990-01-01' }] }).map(([n, v]) => newClaim(n, v));
const summary = [];

/** checkOf returns the verdict's named check. */
const checkOf = (verdict, name) => verdict.checks.find((c) => c.name === name);
const firstFailed = (verdict) => verdict.checks.find((c) => !c.ok);

/** facePresentation makes a face-to-face presentation of an issued certificate (no transfers) now, and the query for it. */
async function facePresentation(client, cert, verifier = 'abuse-test pharmacy') {
  const nonce = new Uint8Array(randomBytes(16));
  const bytes = await client.present({ issue: cert.entry, disclosure: disclose(cert.claims, ['head']), holding: { flow: 'face', holderSeed: cert.holderSeed, salt: null, verifier, nonce } });
  return { bytes, verifier, nonceHex: toHex(nonce), query: `verifier=${encodeURIComponent(verifier)}&nonce=${toHex(nonce)}` };
}

/** verifyOnline POSTs a presentation to /v1/verify and returns the verdict. */
async function verifyOnline(s, p, extra = '') {
  const r = await s.post(`/v1/verify?${p.query}${extra}`, p.bytes);
  check(r.status === 200, `POST /v1/verify answered ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** issueCert issues a certificate of DOCTYPE to a fresh holder key, valid `days`. */
async function issueCert(client, issuerSeed, name, days = 30) {
  const holderSeed = seed();
  const claims = claimsFor(name);
  const r = await client.issue(issuerSeed, { docType: DOCTYPE, holder: ed25519PublicKey(holderSeed), claims, validUntil: client.now() + days * DAY });
  return { ...r, holderSeed, holder: ed25519PublicKey(holderSeed), claims, hex: toHex(r.id), index: r.receipt.index };
}

/** readAllEntries reads every entry of the log through the entry bundles (tlog-tiles). */
async function readAllEntries(s) {
  const size = (await s.get('/v1/log')).json().size;
  const out = [];
  for (let n = 0; n * TILE_WIDTH < size; n++) {
    const w = Math.min(TILE_WIDTH, size - n * TILE_WIDTH);
    const r = await fetch(`${s.url}/${formatTilePath({ kind: 'entries', index: n, width: w })}`, { signal: AbortSignal.timeout(30_000) });
    check(r.status === 200, `entry bundle ${n} (width ${w}): ${r.status}`);
    out.push(...decodeEntryBundle(new Uint8Array(await r.arrayBuffer()), w));
  }
  return { size, entries: out };
}

const cleanup = async () => {
  for (const p of procs) await p.stop().catch(() => p.child?.kill('SIGKILL'));
  if (dir !== undefined && !values.keep) await rm(dir, { recursive: true, force: true });
};
process.on('exit', () => {
  for (const p of procs) p.child?.kill('SIGKILL'); // never leave a server behind
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    console.error(`abuse-test: ${sig}: stopping`);
    await cleanup();
    process.exit(1);
  });
}

try {
  dir = await mkdtemp(join(tmpdir(), 'dojang-abuse-test-'));
  const L1 = join(dir, 'log1');
  const L2 = join(dir, 'log2');
  const { info, rootSeed } = await initLedger(L1, 'main');
  const S1 = new Serve('serve', ['--data', L1]);
  await S1.start();
  const client = new DojangClient(S1.url, { rootKey: info.rootKey, retries: 0 });
  const logInfo = await client.log();
  check(logInfo.rootKey === info.rootKey && logInfo.logKey === info.logKey, 'GET /v1/log names other keys than dojang init printed');
  say(`serve ${S1.url} on a fresh ledger ${info.origin}`);

  // ==== 1: many self-transfers of one copy; then the issuer's revocation
  const dt = await client.registerDocType(rootSeed, DOCTYPE, MAX_VALIDITY);
  const reg = await client.docType(DOCTYPE);
  check(reg?.maxValidity === MAX_VALIDITY, `GET /v1/doctypes/${DOCTYPE}: ${JSON.stringify(reg)}`);
  const officeA = seed();
  const officeB = seed();
  await client.registerIssuer(rootSeed, ed25519PublicKey(officeA), '서울특별시 종로구청 (abuse test)', [DOCTYPE, UNREGISTERED]);
  await client.registerIssuer(rootSeed, ed25519PublicKey(officeB), '부산광역시 해운대구청 (abuse test)', [DOCTYPE]);
  const cert1 = await issueCert(client, officeA, '홍길동');
  say(`1: ${DOCTYPE} registered (${MAX_VALIDITY / DAY} days, index ${dt.index}); certificate ${cert1.hex} issued at index ${cert1.index}`);

  const transferCodes = new Map(); // code -> count, every answer
  const lat = [];
  let transferError;
  /** selfTransfers makes n self-transfers of cert1's copy, IN_FLIGHT at once, each retried on OVERLOADED. */
  async function selfTransfers(n) {
    let next = 0;
    const began = performance.now();
    const worker = async () => {
      while (next < n && transferError === undefined) {
        next++;
        for (let attempt = 1; ; attempt++) {
          const t = performance.now();
          try {
            const r = await client.transfer(cert1.holderSeed, { id: cert1.id, parent: cert1.leafHash, senderSalt: null, recipientKey: cert1.holder });
            check(r.receipt.index > cert1.index, `a transfer's receipt names index ${r.receipt.index}`);
            bump(transferCodes, 'acknowledged');
            lat.push(performance.now() - t);
            break;
          } catch (e) {
            const p = httpProblemOf(e);
            bump(transferCodes, p?.code ?? `error ${e?.code ?? e?.message}`);
            if (p?.code === 'OVERLOADED' && attempt < 100) {
              await sleep(20 + Math.random() * 30);
              continue;
            }
            transferError = new Error(`a self-transfer was refused ${p === undefined ? `(${e?.message})` : `${p.status} ${p.code}: ${p.detail}`} after ${attempt} tries; only OVERLOADED (the write queue's bound, spec §8.2) is expected`);
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, n) }, worker));
    if (transferError !== undefined) throw transferError;
    return performance.now() - began;
  }
  const statusSize = async (c) => {
    const r = await S1.get(`/v1/certificates/${c.hex}`);
    check(r.status === 200, `GET /v1/certificates/${c.hex}: ${r.status} ${r.text.slice(0, 200)}`);
    return { bytes: r.bytes, json: r.json() };
  };
  const ms1 = await selfTransfers(FIRST);
  const after1 = await statusSize(cert1);
  check(after1.bytes < STATUS_LIMIT, `the status answer after ${FIRST} transfers is ${after1.bytes} bytes, not < ${STATUS_LIMIT} (spec §8.7)`);
  say(`1: ${FIRST} self-transfers in ${ms(ms1)} (${Math.round(FIRST / (ms1 / 1000))}/s); answers: ${fmt(transferCodes)}; status answer ${after1.bytes} bytes, ${after1.json.events.length} event(s)`);
  let ms2 = 0;
  let after2 = after1;
  if (SECOND > 0) {
    ms2 = await selfTransfers(SECOND);
    after2 = await statusSize(cert1);
    check(after2.bytes < STATUS_LIMIT, `the status answer after ${TOTAL} transfers is ${after2.bytes} bytes, not < ${STATUS_LIMIT} (spec §8.7)`);
    check(after2.json.events.length === 1, `the status answer lists ${after2.json.events.length} events after ${TOTAL} transfers (only the issuance, spec §8.7)`);
    say(`1: ${SECOND} more in ${ms(ms2)} (${Math.round(SECOND / (ms2 / 1000))}/s); answers in all: ${fmt(transferCodes)}; status answer ${after2.bytes} bytes`);
  }
  check(transferCodes.get('acknowledged') === TOTAL, `${transferCodes.get('acknowledged')} of ${TOTAL} self-transfers acknowledged`);
  const rev1 = await client.revoke(officeA, cert1.id, 'abuse test: revoked after many transfers');
  const revoked1 = await statusSize(cert1);
  const st1 = await client.status(cert1.id); // verified against the status key and the checkpoint
  check(st1.state === 'revoked' && /\nstate revoked\n/.test(revoked1.json.statement), `GET /v1/certificates/${cert1.hex} after the revocation says ${st1.state}`);
  check(revoked1.bytes < STATUS_LIMIT, `the revoked status answer is ${revoked1.bytes} bytes, not < ${STATUS_LIMIT} (spec §8.7)`);
  check(revoked1.json.events.length === 2 && revoked1.json.events[1].index === rev1.index, `the revoked status answer's events: ${revoked1.json.events.map((e) => e.index)}, the revocation is at ${rev1.index}`);
  const p1 = await facePresentation(client, cert1);
  const v1 = await verifyOnline(S1, p1);
  const nr1 = checkOf(v1, 'not-revoked');
  check(v1.valid === false && nr1?.ok === false && nr1.reason === 'CERT_REVOKED', `POST /v1/verify of the revoked certificate: valid ${v1.valid}, not-revoked ${JSON.stringify(nr1)}`);
  const p1Fail = firstFailed(v1);
  say(`1: revocation acknowledged at index ${rev1.index}; status answer: ${st1.state}, ${revoked1.bytes} bytes (< ${STATUS_LIMIT}); POST /v1/verify: not valid, ${p1Fail.name} ${p1Fail.reason}`);
  summary.push(
    `  1 transfers: ${TOTAL} self-transfers (${FIRST} + ${SECOND}) of one copy, ${IN_FLIGHT} in flight, chain depth 1 (bound 63), queue bound 16,384: ${fmt(transferCodes)}; ` +
      `${Math.round(FIRST / (ms1 / 1000))}/s then ${SECOND > 0 ? Math.round(SECOND / (ms2 / 1000)) : '-'}/s, ack p50 ${ms(quantile(lat, 0.5))}, p99 ${ms(quantile(lat, 0.99))}; ` +
      `status answer ${after1.bytes} B after ${FIRST}, ${after2.bytes} B after ${TOTAL}, ${revoked1.bytes} B revoked (bound ${STATUS_LIMIT}); revoked: POST /v1/verify not valid, not-revoked CERT_REVOKED`,
  );

  // ==== 2: a revocation through a full write queue
  const { info: info2, rootSeed: root2 } = await initLedger(L2, 'queue');
  const S2 = new Serve('serve --max-queue', ['--data', L2, '--max-queue', String(MAX_QUEUE)]);
  await S2.start();
  const client2 = new DojangClient(S2.url, { rootKey: info2.rootKey, retries: 0 });
  await client2.registerDocType(root2, DOCTYPE, MAX_VALIDITY);
  const office2A = seed();
  const office2B = seed();
  await client2.registerIssuer(root2, ed25519PublicKey(office2A), '서울특별시 종로구청 (abuse test)', [DOCTYPE]);
  await client2.registerIssuer(root2, ed25519PublicKey(office2B), '부산광역시 해운대구청 (abuse test)', [DOCTYPE]);
  const flooded = await issueCert(client2, office2A, '김철수'); // its copy is sent again and again
  // The issuer revokes these during the flood; another office tries to revoke those.
  const targets = [];
  const others = [];
  for (let i = 0; i < MAX_PAIRS; i++) targets.push(await issueCert(client2, office2A, `이영희 ${i}`));
  for (let i = 0; i < MAX_PAIRS; i++) others.push(await issueCert(client2, office2A, `박민수 ${i}`));
  const now2 = () => Math.floor(Date.now() / 1000);
  const floodEntry = () => encodeEvent({ type: 'cert.transfer', id: flooded.id, parent: flooded.leafHash, sender: flooded.holder, senderSalt: null, recipient: new Uint8Array(randomBytes(32)), nonce: newNonce(), time: now2() }, flooded.holderSeed);
  const floodCodes = new Map();
  const floodOverloadedAt = []; // ms since the flood began, of each OVERLOADED
  const overloadWaiters = []; // resolved at the next OVERLOADED answer
  /** nextOverloaded resolves at the next OVERLOADED answer of the flood, or after `ms`. */
  const nextOverloaded = (ms) => new Promise((r) => {
    overloadWaiters.push(r);
    setTimeout(r, ms);
  });
  let floodStop = false;
  let floodError;
  const floodBegan = performance.now();
  const flood = Array.from({ length: FLOOD_CONCURRENCY }, async () => {
    while (!floodStop && performance.now() - floodBegan < FLOOD_MAX_MS) {
      try {
        const r = await S2.post('/v1/entries', floodEntry());
        const code = r.status === 201 || r.status === 200 ? `${r.status}` : r.body.code;
        bump(floodCodes, code);
        if (r.status === 503 && r.body.code === 'OVERLOADED') {
          floodOverloadedAt.push(performance.now() - floodBegan);
          for (const w of overloadWaiters.splice(0)) w();
          if (r.retryAfter === null) floodError ??= new Error('a 503 OVERLOADED without Retry-After (spec §8.2)');
          await sleep(5);
        } else if (r.status !== 201) floodError ??= new Error(`a flood write was answered ${r.status} ${JSON.stringify(r.body)}`);
      } catch (e) {
        floodError ??= e;
        return;
      }
    }
  });
  // Wait until the queue is seen full (a run of OVERLOADED), then revoke: each sent once, no
  // retry, one pair (the issuer's, another office's) at a time, as soon as a flood write is
  // refused and at least 50 ms after the last, right behind a burst of PROBE flood writes
  // (more than the queue holds) whose answers show whether the queue was full then. At least
  // MIN_PAIRS pairs, more (up to MAX_PAIRS, the reserve's per-key bound) until 2 pairs are
  // seen to meet a full queue (half the burst OVERLOADED, or the other office's revocation).
  while (floodOverloadedAt.length < 20 && performance.now() - floodBegan < 15_000 && floodError === undefined) await sleep(10);
  check(floodError === undefined, `the flood failed: ${floodError?.message}`);
  check(floodOverloadedAt.length >= 20, `${FLOOD_CONCURRENCY} concurrent writers got only ${floodOverloadedAt.length} OVERLOADED answers in 15 s from --max-queue ${MAX_QUEUE}: the queue was never seen full (answers ${fmt(floodCodes)})`);
  const overloadedBefore = floodOverloadedAt.length;
  const sentAt = performance.now() - floodBegan;
  const revokeEntries = targets.map((t, i) => encodeEvent({ type: 'cert.revoke', id: t.id, revoker: ed25519PublicKey(office2A), reason: `abuse test: revoked through a full queue ${i}`, time: now2() }, office2A));
  const foreignEntries = others.map((t, i) => encodeEvent({ type: 'cert.revoke', id: t.id, revoker: ed25519PublicKey(office2B), reason: `abuse test: another office ${i}`, time: now2() }, office2B));
  const metFull = (a) => a.probeOverloaded >= PROBE / 2 || (a.foreign.status === 503 && a.foreign.body.code === 'OVERLOADED');
  const done = [];
  const pending = [];
  await nextOverloaded(2000);
  for (let i = 0; i < MAX_PAIRS; i++) {
    if (i >= MIN_PAIRS && done.filter(metFull).length >= 2) break;
    pending.push(
      (async () => {
        // In one turn: the burst of PROBE flood writes (more than the queue holds), then the pair.
        const probes = Array.from({ length: PROBE }, () => S2.post('/v1/entries', floodEntry()));
        const [own, foreign, ...probe] = await Promise.all([S2.post('/v1/entries', revokeEntries[i]), S2.post('/v1/entries', foreignEntries[i]), ...probes]);
        const a = { i, own, foreign, probeOverloaded: probe.filter((r) => r.status === 503 && r.body.code === 'OVERLOADED').length };
        done.push(a);
        return a;
      })(),
    );
    await sleep(50);
    await nextOverloaded(2000);
  }
  const answers = await Promise.all(pending);
  const PAIRS = answers.length;
  const answeredAt = performance.now() - floodBegan;
  const overloadedDuring = floodOverloadedAt.filter((t) => t >= sentAt && t <= answeredAt).length;
  await sleep(300);
  floodStop = true;
  await Promise.all(flood);
  const floodMs = performance.now() - floodBegan;
  check(floodError === undefined, `the flood failed: ${floodError?.message}`);
  answers.forEach(({ own }, i) => check(own.status === 201, `the issuer's revocation ${i} sent during the flood was answered ${own.status} ${JSON.stringify(own.body)}, not acknowledged (spec §8.2: a full queue does not refuse a revocation by an entitled key)`));
  check(overloadedDuring > 0, `no flood write got OVERLOADED while the revocations were sent and answered (${ms(answeredAt - sentAt)}): the queue was not shown full then`);
  const full = answers.filter(metFull).length;
  check(full >= 1, `none of ${PAIRS} revocations by the issuer met a queue seen full (≥ half of the ${PROBE} writes sent just before it OVERLOADED, or the other office's revocation sent with it OVERLOADED): probes ${answers.map((a) => a.probeOverloaded).join(', ')}`);
  const foreignCodes = new Map();
  answers.forEach(({ foreign }, i) => {
    check((foreign.status === 503 && foreign.body.code === 'OVERLOADED') || (foreign.status === 422 && foreign.body.code === 'NOT_ISSUER'), `the other office's revocation ${i} was answered ${foreign.status} ${JSON.stringify(foreign.body)}, not 503 OVERLOADED or 422 NOT_ISSUER`);
    bump(foreignCodes, `${foreign.status} ${foreign.body.code}`);
  });
  const ownMs = answers.map((a) => a.own.ms);
  const probed = answers.map((a) => a.probeOverloaded);
  const probedTotal = probed.reduce((a, b) => a + b, 0);
  // With the queue empty, the rules judge them: NOT_ISSUER.
  for (const [i, e] of foreignEntries.slice(0, PAIRS).entries()) {
    const again = await S2.post('/v1/entries', e);
    check(again.status === 422 && again.body.code === 'NOT_ISSUER', `the other office's revocation ${i} sent again after the flood: ${again.status} ${JSON.stringify(again.body)}, not 422 NOT_ISSUER`);
  }
  for (const [i, t] of targets.slice(0, PAIRS).entries()) {
    const st = await client2.status(t.id);
    check(st.state === 'revoked' && st.events[1]?.index === answers[i].own.body.index, `certificate ${t.hex}, revoked by its issuer during the flood, has status ${st.state}`);
  }
  for (const o of others.slice(0, PAIRS)) {
    const st = await client2.status(o.id);
    check(st.state === 'active' && st.events.length === 1, `certificate ${o.hex}, which another office tried to revoke: ${st.state}, ${st.events.length} events`);
  }
  const all2 = await readAllEntries(S2);
  const revokes = all2.entries.filter((e) => {
    try {
      return parseEvent(e).event.type === 'cert.revoke';
    } catch {
      return false;
    }
  });
  check(!all2.entries.some((e) => foreignEntries.some((f) => equalBytes(e, f))), "another office's revocation is in the log");
  check(revokes.length === PAIRS && revokeEntries.slice(0, PAIRS).every((r) => revokes.some((e) => equalBytes(e, r))), `the log holds ${revokes.length} revocations, not the issuer's ${PAIRS}`);
  check((floodCodes.get('201') ?? 0) > 0, 'no flood write was acknowledged');
  const rate = (floodOverloadedAt.length / [...floodCodes.values()].reduce((a, b) => a + b, 0)) * 100;
  say(`2: --max-queue ${MAX_QUEUE}, ${FLOOD_CONCURRENCY} concurrent writers for ${ms(floodMs)}: ${fmt(floodCodes)} (${rate.toFixed(0)}% refused); ${PAIRS} revocations by the issuer, sent once each after ${overloadedBefore} OVERLOADED: all 201 (p50 ${ms(quantile(ownMs, 0.5))}, max ${ms(Math.max(...ownMs))}), ${overloadedDuring} flood writes OVERLOADED meanwhile, of the ${PROBE} sent just before each pair: ${probed.join(', ')} OVERLOADED (${full} pairs met a full queue); ${PAIRS} by another office: ${fmt(foreignCodes)}, again after the flood: 422 NOT_ISSUER; ${all2.size} entries read back: ${revokes.length} revocations, none of the other office's`);
  summary.push(
    `  2 reserve: --max-queue ${MAX_QUEUE} (reserve 1,024, 16 per key), ${FLOOD_CONCURRENCY} concurrent self-transfers for ${ms(floodMs)}: ${fmt(floodCodes)}; ${PAIRS} issuer revocations sent once amid ${overloadedDuring} OVERLOADED answers (${probedTotal} of the ${PROBE * PAIRS} writes sent just before them; ${full} met a full queue): all 201 (max ${ms(Math.max(...ownMs))}); ` +
      `another office's ${PAIRS}: ${fmt(foreignCodes)} (then 422 NOT_ISSUER), none among the ${all2.size} entries read back`,
  );
  await S2.stop();

  // ==== 3: compromise of a retired issuer
  const officeC = seed();
  await client.registerIssuer(rootSeed, ed25519PublicKey(officeC), '대구광역시 중구청 (abuse test)', [DOCTYPE]);
  const A = await issueCert(client, officeC, 'A 이전');
  const B = await issueCert(client, officeC, 'B 이후');
  const C = await issueCert(client, officeC, 'C 이후');
  const retired = await client.retireIssuer(rootSeed, ed25519PublicKey(officeC));
  const comp = await client.compromiseIssuer(rootSeed, ed25519PublicKey(officeC), B.index);
  say(`3: issuer registered; A at ${A.index}, B at ${B.index}, C at ${C.index}; retired at ${retired.index}; compromised from ${B.index} (index ${comp.index})`);
  const faces = {};
  const files = {};
  const vk = ['--log-key', logInfo.logKey, '--timestamp-key', logInfo.timestampKey, '--status-key', logInfo.statusKey, '--root-key', logInfo.rootKey];
  const offline = {};
  const online = {};
  for (const [name, c] of Object.entries({ A, B, C })) {
    faces[name] = await facePresentation(client, c);
    const v = await verifyOnline(S1, faces[name]);
    const ir = checkOf(v, 'issuer-registered');
    if (name === 'A') check(v.valid === true, `POST /v1/verify of A (issued before c): not valid: ${JSON.stringify(firstFailed(v))}`);
    else check(v.valid === false && ir?.ok === false && ir.reason === 'ISSUER_COMPROMISED', `POST /v1/verify of ${name} (issued at/after c): valid ${v.valid}, issuer-registered ${JSON.stringify(ir)}`);
    online[name] = v.valid ? 'valid' : `${firstFailed(v).name} ${firstFailed(v).reason}`;
    files[name] = join(dir, `${name}.dojang-presentation`);
    await writeFile(files[name], faces[name].bytes);
    const r = cli(['verify', files[name], ...vk, '--verifier', faces[name].verifier, '--nonce', faces[name].nonceHex]);
    check(r.code === (name === 'A' ? 0 : 3), `dojang verify ${name} offline exited ${r.code}, not ${name === 'A' ? 0 : 3}: ${r.err.trim()} ${r.out.trim().slice(0, 400)}`);
    if (name !== 'A') check(/ISSUER_COMPROMISED/.test(r.err + r.out), `dojang verify ${name} offline does not say ISSUER_COMPROMISED: ${r.err.trim()}`);
    offline[name] = `exit ${r.code}`;
    const st = await S1.get(`/v1/certificates/${c.hex}`);
    check(st.status === 200 && st.bytes < STATUS_LIMIT, `GET /v1/certificates/${c.hex}: ${st.status}, ${st.bytes} bytes`);
    check(new RegExp(`\\nstate ${name === 'A' ? 'active' : 'compromised'}\\n`).test(st.json().statement), `${name}'s status statement: ${st.json().statement}`);
    await writeFile(join(dir, `${name}.status.json`), st.text);
  }
  const au = cli(['audit', '--url', S1.url, '--root-key', logInfo.rootKey, ...['A', 'B', 'C'].flatMap((n) => ['--status', join(dir, `${n}.status.json`)])]);
  check(au.code === 0, `dojang audit --status exited ${au.code}: ${au.err.trim()} ${au.out.trim().slice(0, 600)}`);
  for (const [name, c] of Object.entries({ A, B, C })) {
    const want = name === 'A' ? 'active' : 'compromised';
    check(new RegExp(`certificate ${c.hex}: ${want} at size \\d+`).test(au.out), `dojang audit does not say ${name} (${c.hex}) is ${want}: ${au.out}`);
  }
  const audited = /audited .*?(\d+) entries/.exec(au.out)?.[1];
  const raise = await refusal(client.compromiseIssuer(rootSeed, ed25519PublicKey(officeC), C.index));
  check(raise.status === 422 && raise.code === 'BAD_COMPROMISE', `an issuer.compromise raising c from ${B.index} to ${C.index}: ${JSON.stringify(raise.acknowledged ? { index: raise.acknowledged.index } : raise)}, not 422 BAD_COMPROMISE`);
  const late = await refusal(client.compromiseIssuer(rootSeed, ed25519PublicKey(officeC), retired.index + 1));
  check(late.status === 422 && late.code === 'BAD_COMPROMISE', `an issuer.compromise from ${retired.index + 1}, after the retirement at ${retired.index}: ${JSON.stringify(late.acknowledged ? { index: late.acknowledged.index } : late)}, not 422 BAD_COMPROMISE`);
  // The same for an issuer with no compromise yet: only the retirement bounds c.
  const officeD = seed();
  await client.registerIssuer(rootSeed, ed25519PublicKey(officeD), '광주광역시 서구청 (abuse test)', [DOCTYPE]);
  const retiredD = await client.retireIssuer(rootSeed, ed25519PublicKey(officeD));
  const lateD = await refusal(client.compromiseIssuer(rootSeed, ed25519PublicKey(officeD), retiredD.index + 1));
  check(lateD.status === 422 && lateD.code === 'BAD_COMPROMISE', `a first issuer.compromise from ${retiredD.index + 1}, after the retirement at ${retiredD.index}: ${JSON.stringify(lateD.acknowledged ? { index: lateD.acknowledged.index } : lateD)}, not 422 BAD_COMPROMISE`);
  const atD = await client.compromiseIssuer(rootSeed, ed25519PublicKey(officeD), retiredD.index); // c = the retirement's index is allowed
  say(`3: POST /v1/verify: A ${online.A}, B ${online.B}, C ${online.C}; dojang verify offline: A ${offline.A}, B ${offline.B}, C ${offline.C}; dojang audit (${audited} entries, ${ms(au.ms)}): exit 0, A active, B and C compromised; c raised to ${C.index}: BAD_COMPROMISE; c ${retired.index + 1} after the retirement: BAD_COMPROMISE (and for a first compromise of another issuer; c = its retirement ${retiredD.index}: acknowledged at ${atD.index})`);
  summary.push(`  3 compromise (c = ${B.index}): online A ${online.A} / B ${online.B} / C ${online.C}; offline verify A ${offline.A}, B ${offline.B}, C ${offline.C}; audit of ${audited} entries exit 0 (${ms(au.ms)}): active, compromised, compromised; raising c and c after the retirement: BAD_COMPROMISE`);

  // ==== 4: issuance outside the rules
  const now4 = client.now();
  const holder4 = ed25519PublicKey(seed());
  const cases = [
    { what: `validity ${MAX_VALIDITY / DAY} days + 1 s`, o: { docType: DOCTYPE, issuedAt: now4, validUntil: now4 + MAX_VALIDITY + 1 }, want: 'VALIDITY_TOO_LONG' },
    { what: 'validity 3,660 days', o: { docType: DOCTYPE, issuedAt: now4, validUntil: now4 + 3660 * DAY }, want: 'VALIDITY_TOO_LONG' },
    { what: 'issuedAt 0', o: { docType: DOCTYPE, issuedAt: 0, validUntil: now4 + DAY }, want: 'ISSUED_AT_SKEW' },
    { what: 'issuedAt now − 3,600 s', o: { docType: DOCTYPE, issuedAt: now4 - 3600, validUntil: now4 + DAY }, want: 'ISSUED_AT_SKEW' },
    { what: 'issuedAt now + 3,600 s', o: { docType: DOCTYPE, issuedAt: now4 + 3600, validUntil: now4 + 2 * DAY }, want: 'ISSUED_AT_SKEW' },
    { what: `unregistered type ${UNREGISTERED}`, o: { docType: UNREGISTERED, issuedAt: now4, validUntil: now4 + DAY }, want: 'UNKNOWN_DOCTYPE' },
    { what: `validity exactly ${MAX_VALIDITY / DAY} days`, o: { docType: DOCTYPE, issuedAt: now4, validUntil: now4 + MAX_VALIDITY }, want: 'acknowledged' },
  ];
  const got4 = [];
  for (const c of cases) {
    // Signed by hand: the SDK would refuse these before signing (checkIssuance), and the log must refuse them too.
    const id = newCertId();
    const entry = encodeEvent({ type: 'cert.issue', id, issuer: ed25519PublicKey(officeA), holder: holder4, commitment: new Uint8Array(randomBytes(32)), time: client.now(), ...c.o }, officeA);
    const r = await refusal(client.submit(entry));
    if (c.want === 'acknowledged') {
      check(r.acknowledged !== undefined, `an issuance with ${c.what}: refused ${r.status} ${r.code}: ${r.detail}`);
      got4.push(`${c.what}: acknowledged`);
      continue;
    }
    check(r.status === 422 && r.code === c.want, `an issuance with ${c.what}: ${r.acknowledged ? `acknowledged at ${r.acknowledged.index}` : `${r.status} ${r.code}: ${r.detail}`}, not 422 ${c.want}`);
    const st = await S1.get(`/v1/certificates/${toHex(id)}`);
    check(st.status === 404, `the refused issuance (${c.what}) has a status answer: ${st.status}`);
    got4.push(`${c.what}: 422 ${r.code}`);
  }
  say(`4: ${got4.join('; ')}`);
  summary.push(`  4 issuance: ${got4.join('; ')}`);

  // ==== 5: the maximum status age
  const D = await issueCert(client, officeA, '최지우');
  const face5 = await facePresentation(client, D);
  const statusTime = Number(/\ntime (\d+)\n/.exec(decodePresentation(face5.bytes).status.statement)[1]);
  const file5 = join(dir, 'D.dojang-presentation');
  await writeFile(file5, face5.bytes);
  const faceArgs = ['--verifier', face5.verifier, '--nonce', face5.nonceHex];
  const fresh = cli(['verify', file5, ...vk, ...faceArgs]);
  check(fresh.code === 0, `dojang verify of a fresh presentation exited ${fresh.code}: ${fresh.err.trim()}`);
  while (Date.now() / 1000 - statusTime < 3.5) await sleep(100); // ≥ 3 s in whole seconds too
  const old = cli(['verify', file5, ...vk, ...faceArgs, '--max-status-age', '1']);
  check(old.code === 3 && /STATUS_TOO_OLD/.test(old.err + old.out), `dojang verify --max-status-age 1, ${Math.floor(Date.now() / 1000) - statusTime} s after the status: exit ${old.code}: ${old.err.trim()}`);
  const oldAge = /\((\d+) s old/.exec(old.out)?.[1];
  const lenient = cli(['verify', file5, ...vk, ...faceArgs, '--max-status-age', '31536000']);
  check(lenient.code === 0, `dojang verify --max-status-age 31536000 exited ${lenient.code}: ${lenient.err.trim()}`);
  // Online the log judges by its own latest checkpoint (re-cosigned every 5 s when idle).
  const began5 = Date.now();
  let tooOld;
  const ages = [];
  while (Date.now() - began5 < 15_000) {
    const v = await verifyOnline(S1, face5, '&maxStatusAge=1');
    ages.push(v.status.age);
    if (v.status.age > 1) {
      tooOld = v;
      break;
    }
    check(v.valid === true, `POST /v1/verify?maxStatusAge=1 with a status ${v.status.age} s old: not valid: ${JSON.stringify(firstFailed(v))}`);
    await sleep(250);
  }
  check(tooOld !== undefined, `POST /v1/verify?maxStatusAge=1: the log's status was never more than 1 s old in 15 s (ages ${ages.join(', ')})`);
  const nr5 = checkOf(tooOld, 'not-revoked');
  check(tooOld.valid === false && nr5?.reason === 'STATUS_TOO_OLD', `POST /v1/verify?maxStatusAge=1 with a status ${tooOld.status.age} s old: valid ${tooOld.valid}, not-revoked ${JSON.stringify(nr5)}`);
  const large = await verifyOnline(S1, face5, '&maxStatusAge=31536000');
  check(large.valid === true, `POST /v1/verify?maxStatusAge=31536000: not valid: ${JSON.stringify(firstFailed(large))}`);
  say(`5: offline: fresh exit 0; --max-status-age 1 with a status ${oldAge} s old: exit 3 STATUS_TOO_OLD; --max-status-age 31536000: exit 0; online: maxStatusAge=1 at age ${tooOld.status.age} s (after ${ms(Date.now() - began5)}, ${ages.length} tries): not-revoked STATUS_TOO_OLD; maxStatusAge=31536000: valid`);
  summary.push(`  5 status age: offline --max-status-age 1 at ${oldAge} s: exit 3 STATUS_TOO_OLD (fresh and 31,536,000: exit 0); online maxStatusAge=1 at ${tooOld.status.age} s: STATUS_TOO_OLD (waited ${ms(Date.now() - began5)}, bound 15 s); 31,536,000: valid`);

  const finalSize = (await S1.get('/v1/log')).json().size;
  await S1.stop();
  console.log([`abuse-test: PASS in ${((Date.now() - t0) / 1000).toFixed(1)} s (log of ${finalSize} entries)`, ...summary].join('\n'));
  await cleanup();
} catch (e) {
  console.error(`abuse-test: FAIL: ${e.stack ?? e}`);
  for (const p of procs) console.error(`--- ${p.name} (stderr) ---\n${p.log.slice(-30).join('\n')}`);
  for (const p of procs) p.child?.kill('SIGKILL');
  if (values.keep) console.error(`abuse-test: kept ${dir}`);
  else if (dir) await rm(dir, { recursive: true, force: true });
  process.exit(1);
}
