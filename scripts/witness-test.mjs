#!/usr/bin/env node
// witness-test: a witnessed log with three `dojang witness` processes (spec §13), all
// real processes of the built CLI. Checks, under a steady write load:
//
//  2 of 3  - with one witness SIGKILLed, writes go on being acknowledged and /checkpoint
//            advances, every receipt's and served checkpoint carrying ≥ 2 valid
//            cosignatures (the policy check of src/core/policy.ts); /healthz names the
//            missing witness as failing;
//          - the witness restarted on its DIR still knows the size it cosigned last
//            (its state survived SIGKILL: GET /latest), and it rejoins (it cosigns the
//            published checkpoint again, without a new write needed).
//  3 of 3  - with one witness SIGKILLed, new writes are not acknowledged (503
//            UNAVAILABLE after --witness-wait), /checkpoint stays, /healthz is 503 naming
//            the witness; restarted, publishing resumes, the same write submitted again
//            gets its receipt with three cosignatures, /healthz is 200.
//  fork    - the log's DIR copied while stopped; the original and the copy each append
//            different entries; the copy served with the same policy: every witness
//            refuses it as inconsistent (422), and the operator sees it: the serve
//            process prints ALERT, /healthz says THE LOG MAY BE FORKED naming the
//            witnesses, /metrics has dojang_witness_fork_alert 1 and the refusals, the copy
//            serves only the witnessed checkpoint it was copied with (spec §13.5), each
//            witness lists the refused checkpoint (signed by the log's key) at
//            GET /evidence beside the one it cosigned; the original goes on.
//
//   node scripts/witness-test.mjs [--keep]
//
// Needs `npm run build`. Exit status 0 only if every check passes; prints a PASS
// summary with the figures (acknowledgement latencies, time to stop and to resume).
import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(join(root, 'dist', p));
const { loadKeys } = await dist('ledger/keyfiles.js');
const { encodeEvent } = await dist('core/events.js');
const { ed25519PublicKey, sha256 } = await dist('core/crypto.js');
const { utf8, fromBase64, equalBytes } = await dist('core/bytes.js');
const { parsePolicy, checkCheckpoint } = await dist('core/policy.js');
const { verifyReceipt, checkpointVerifiers, openCheckpoint } = await dist('client/receipt.js');
const { openNote } = await dist('core/note.js');
const { parseCheckpoint } = await dist('core/checkpoint.js');

const { values } = parseArgs({ options: { keep: { type: 'boolean', default: false } } });
const MAIN = join(root, 'dist/cli/main.js');
const WAIT_S = 3; // --witness-wait: how long a write waits for a witnessed checkpoint

const t0 = Date.now();
const say = (m) => console.log(`witness-test: [${((Date.now() - t0) / 1000).toFixed(1)} s] ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procs = [];
let dir;

/** check throws (the run fails, see the end of the file) unless ok. */
function check(ok, msg) {
  if (!ok) throw new Error(msg);
}

/** Proc is one CLI process (`dojang witness` or `dojang serve`), restartable with the same arguments. */
class Proc {
  constructor(name, args) {
    Object.assign(this, { name, args, log: [], child: undefined, url: undefined, vkey: undefined });
    procs.push(this);
  }

  async start(args = this.args) {
    this.args = args;
    this.url = undefined;
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => this.log.push(...d.split('\n').filter((l) => l !== '')));
    let out = '';
    child.stdout.setEncoding('utf8');
    this.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start in 30 s`)), 30_000);
      child.stdout.on('data', (d) => {
        out += d;
        const key = /witness key (\S+)/.exec(out);
        if (key) this.vkey = key[1];
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on('exit', (code, sig) => reject(new Error(`${this.name} exited (${code ?? sig}) before listening: ${this.log.join(' | ')}`)));
    });
    this.port = Number(new URL(this.url).port);
  }

  async signal(sig) {
    const c = this.child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(sig);
    await exited;
    this.url = undefined;
  }

  async get(path, timeoutMs = 5000) {
    const r = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: r.status, type: r.headers.get('content-type') ?? '', body: new Uint8Array(await r.arrayBuffer()) };
  }

  async json(path) {
    const r = await this.get(path);
    return { status: r.status, body: JSON.parse(new TextDecoder().decode(r.body)) };
  }
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const ms = (x) => `${x.toFixed(0)} ms`;

try {
  dir = await mkdtemp(join(tmpdir(), 'dojang-witness-test-'));
  const LOG = join(dir, 'log');
  const init = spawnSync(process.execPath, [MAIN, 'init', '--data', LOG, '--json', '--origin', `localhost/dojang-witness-test-${randomBytes(3).toString('hex')}`], { encoding: 'utf8' });
  check(init.status === 0, `dojang init: ${init.stderr}`);
  const info = JSON.parse(init.stdout);
  const verifiers = checkpointVerifiers(info);
  // A witness keeps only the lines it verified (spec §13.2): the log key's, not the timestamp cosignature.
  const witnessHolds = (note) => parseCheckpoint(openNote(note, [verifiers.log]).note.text);

  // ---- three witnesses, each its own process, DIR and port
  const W = [0, 1, 2].map((i) => new Proc(`W${i}`, ['witness', '--data', join(dir, `w${i}`), '--port', '0', '--log', info.logKey, '--name', `witness-test.example/w${i}`]));
  for (const w of W) await w.start();
  // Restarts keep the port the policy names.
  for (const w of W) w.args = w.args.map((a, i, all) => (all[i - 1] === '--port' ? String(w.port) : a));
  const policyText = (group) => [`log ${info.logKey}`, ...W.map((w) => `witness ${w.name} ${w.vkey} ${w.url}`), `group G ${group} W0 W1 W2`, 'quorum G', ''].join('\n');
  await writeFile(join(dir, 'policy-2of3'), policyText('2'));
  await writeFile(join(dir, 'policy-all'), policyText('all'));
  const P2 = parsePolicy(utf8(policyText('2')));
  const P3 = parsePolicy(utf8(policyText('all')));
  say(`three witnesses: ${W.map((w) => `${w.name} ${w.url}`).join(', ')}`);

  const serveArgs = (data, policy) => ['serve', '--data', data, '--port', '0', ...(policy === undefined ? [] : ['--policy', join(dir, policy), '--witness-wait', String(WAIT_S)])];
  const S = new Proc('serve', serveArgs(LOG, 'policy-2of3'));
  await S.start();

  // ---- the writes: signed certificate events over HTTP, each receipt checked
  const keys = await loadKeys(LOG);
  const issuerSeed = new Uint8Array(randomBytes(32));
  const issuer = ed25519PublicKey(issuerSeed);
  const holder = ed25519PublicKey(new Uint8Array(randomBytes(32)));
  const runId = new Uint8Array(randomBytes(8));
  const now = Math.floor(Date.now() / 1000);
  const certEntry = (i) => {
    const id = new Uint8Array(16);
    id.set(runId, 0);
    new DataView(id.buffer).setBigUint64(8, BigInt(i));
    return encodeEvent({ type: 'cert.issue', id, docType: 'dev.dojang.witness', issuer, holder, commitment: sha256(id), issuedAt: Math.floor(Date.now() / 1000), validUntil: now + 86_400, time: Math.floor(Date.now() / 1000) }, issuerSeed);
  };
  /** post submits one entry to `p`; returns { status, body, ms }, the receipt verified (and its checkpoint judged by `policy`) when acknowledged. */
  const post = async (p, entry, policy) => {
    const began = performance.now();
    const r = await fetch(`${p.url}/v1/entries`, { method: 'POST', body: entry, headers: { 'content-type': 'application/cbor' }, signal: AbortSignal.timeout(30_000) });
    const body = await r.json();
    const took = performance.now() - began;
    if (r.status === 200 || r.status === 201) {
      verifyReceipt(entry, body, verifiers); // throws unless it verifies under the log's keys
      const v = checkCheckpoint(utf8(body.checkpoint), policy);
      check(v.quorum, `a receipt's checkpoint (size ${v.checkpoint.size}) does not meet the policy: cosigned by ${v.cosigned.map((c) => c.name).join(', ')}`);
      return { status: r.status, body, ms: took, cosigned: v.cosigned.map((c) => c.name), size: v.checkpoint.size };
    }
    return { status: r.status, body, ms: took };
  };
  const doc = await post(S, encodeEvent({ type: 'doctype.register', docType: 'dev.dojang.witness', maxValidity: 86_400, time: now }, keys.root.seed), P2);
  check(doc.status === 201, `the document type registration was not acknowledged: ${doc.status} ${JSON.stringify(doc.body)}`);
  const reg = await post(S, encodeEvent({ type: 'issuer.register', issuer, name: 'witness test', docTypes: ['dev.dojang.witness'], time: now }, keys.root.seed), P2);
  check(reg.status === 201, `the issuer registration was not acknowledged: ${reg.status} ${JSON.stringify(reg.body)}`);

  /** served reads /checkpoint and judges it by the policy. */
  const served = async (policy) => {
    const r = await S.get('/checkpoint');
    if (r.status !== 200) return { status: r.status };
    openCheckpoint(r.body, verifiers);
    const v = checkCheckpoint(r.body, policy);
    return { status: 200, size: v.checkpoint.size, root: v.checkpoint.root, cosigned: v.cosigned.map((c) => c.name), quorum: v.quorum };
  };

  // A steady load: four writers, each acknowledgement checked and timed.
  let next = 0;
  let loading = true;
  let loadError;
  const acks = []; // { at, ms, size, cosigned }
  const startLoad = (policy) => {
    loading = true;
    return Array.from({ length: 4 }, async () => {
      while (loading && loadError === undefined) {
        try {
          const r = await post(S, certEntry(next++), policy);
          if (r.status !== 201) throw new Error(`a write was answered ${r.status} ${JSON.stringify(r.body)}`);
          acks.push({ at: Date.now(), ms: r.ms, size: r.size, cosigned: r.cosigned });
        } catch (e) {
          loadError = e;
        }
      }
    });
  };
  const stopLoad = async (writers) => {
    loading = false;
    await Promise.all(writers);
    check(loadError === undefined, `the load failed: ${loadError?.message}`);
  };

  // ==== 2 of 3: one witness SIGKILLed under load
  let writers = startLoad(P2);
  await sleep(3000);
  const before = acks.length;
  const cpBefore = await served(P2);
  // Published at the second cosignature; the third is added when it arrives.
  check(cpBefore.status === 200 && cpBefore.quorum && cpBefore.cosigned.length >= 2, `before the kill /checkpoint should carry two or three cosignatures: ${JSON.stringify({ ...cpBefore, root: undefined })}`);
  // The largest size W1 is seen to have cosigned before it dies.
  const w1Before = Math.max(...acks.filter((a) => a.cosigned.includes('W1')).map((a) => a.size), cpBefore.size);
  await W[1].signal('SIGKILL');
  const killedAt = Date.now();
  const w1Last = Math.max(...acks.filter((a) => a.cosigned.includes('W1')).map((a) => a.size), cpBefore.size);
  say(`2 of 3: ${before} writes acknowledged; SIGKILL W1 (it had cosigned size ${w1Last})`);
  await sleep(4000);
  const during = acks.filter((a) => a.at > killedAt + 500);
  check(during.length >= 10, `only ${during.length} writes were acknowledged while W1 was down`);
  check(during.every((a) => a.cosigned.length >= 2 && !a.cosigned.includes('W1')), 'a receipt while W1 was down carries W1 or fewer than two cosignatures');
  const cpDuring = await served(P2);
  check(cpDuring.status === 200 && cpDuring.quorum && cpDuring.size > cpBefore.size && cpDuring.cosigned.length >= 2, `/checkpoint did not advance with two cosignatures while W1 was down: ${JSON.stringify({ ...cpDuring, root: undefined })} (before: size ${cpBefore.size})`);
  const hDuring = await S.json('/healthz');
  check(hDuring.status === 200, `/healthz answered ${hDuring.status} while 2 of 3 were met: ${JSON.stringify(hDuring.body)}`);
  const w1State = hDuring.body.witnesses?.find((w) => w.name === 'W1');
  check(w1State?.state === 'failing' && w1State.code === 'UNAVAILABLE', `/healthz does not say W1 fails: ${JSON.stringify(hDuring.body.witnesses)}`);
  say(`2 of 3: ${during.length} writes acknowledged while W1 was down (p50 ${ms(quantile(during.map((a) => a.ms), 0.5))}); /checkpoint ${cpBefore.size} → ${cpDuring.size}, cosigned by ${cpDuring.cosigned.join(', ')}; /healthz 200, W1 ${w1State.state}`);

  // W1 again, on its DIR: it still knows what it cosigned.
  await W[1].start();
  const latest = await W[1].get(`/latest?origin=${encodeURIComponent(info.origin)}`);
  check(latest.status === 200, `W1's /latest answered ${latest.status} after the restart: its state was lost`);
  const w1Size = witnessHolds(latest.body).size;
  check(w1Size >= w1Last && w1Size >= w1Before && w1Size < cpDuring.size + 1, `W1 restarted knowing size ${w1Size}; it had cosigned ${w1Last} before the kill`);
  const back = Date.now();
  let rejoined;
  while (Date.now() - back < 10_000) {
    const c = await served(P2);
    if (c.cosigned?.includes('W1')) {
      rejoined = Date.now() - back;
      break;
    }
    await sleep(100);
  }
  check(rejoined !== undefined, 'W1 did not cosign the published checkpoint within 10 s of its restart');
  const hAfter = await S.json('/healthz');
  check(hAfter.status === 200 && hAfter.body.witnesses.every((w) => w.state === 'cosigning'), `/healthz after W1 rejoined: ${JSON.stringify(hAfter.body)}`);
  await stopLoad(writers);
  const twoOfThree = { acked: acks.length, duringOutage: during.length, p50: quantile(acks.map((a) => a.ms), 0.5), p99: quantile(acks.map((a) => a.ms), 0.99), outageP50: quantile(during.map((a) => a.ms), 0.5), w1Size, rejoined };
  say(`2 of 3: W1 restarted knowing size ${w1Size} (it had cosigned ${w1Last}); it cosigns the published checkpoint again after ${rejoined} ms; ${acks.length} writes acknowledged in all, p50 ${ms(twoOfThree.p50)}, p99 ${ms(twoOfThree.p99)}`);

  // ==== 3 of 3: one witness SIGKILLed stops publishing
  await S.signal('SIGTERM');
  await S.start(serveArgs(LOG, 'policy-all'));
  const first = await post(S, certEntry(next++), P3);
  check(first.status === 201 && first.cosigned.length === 3, `3 of 3: a write was not acknowledged with three cosignatures: ${first.status} ${JSON.stringify(first.body)}`);
  const stuckAt = (await served(P3)).size;
  await W[2].signal('SIGKILL');
  const stuckEntry = certEntry(next++);
  const refused = await post(S, stuckEntry, P3);
  check(refused.status === 503 && refused.body.code === 'UNAVAILABLE', `3 of 3 with W2 down: a write was answered ${refused.status} ${JSON.stringify(refused.body)}, not 503 UNAVAILABLE`);
  check(refused.ms >= WAIT_S * 1000 - 100 && refused.ms < WAIT_S * 1000 + 3000, `the unacknowledged write was answered after ${refused.ms} ms, not after --witness-wait ${WAIT_S} s`);
  check(/W2: UNAVAILABLE/.test(refused.body.detail), `the 503 does not name W2: ${refused.body.detail}`);
  const cpStuck = await served(P3);
  check(cpStuck.status === 200 && cpStuck.size === stuckAt, `/checkpoint moved from ${stuckAt} to ${cpStuck.size} with W2 down under 3 of 3`);
  const hStuck = await S.json('/healthz');
  check(hStuck.status === 503 && hStuck.body.code === 'UNAVAILABLE' && /witness policy is not met/.test(hStuck.body.detail) && /W2: UNAVAILABLE/.test(hStuck.body.detail), `/healthz with W2 down under 3 of 3: ${hStuck.status} ${JSON.stringify(hStuck.body)}`);
  check(hStuck.body.witnesses.find((w) => w.name === 'W2')?.state === 'failing', 'the 503 /healthz does not list W2 as failing');
  say(`3 of 3: SIGKILL W2: a write answered 503 UNAVAILABLE after ${ms(refused.ms)} (--witness-wait ${WAIT_S}); /checkpoint stays at ${stuckAt}; /healthz 503: ${hStuck.body.detail.slice(0, 120)}…`);
  await sleep(6000); // down long enough for its backoff to reach the cap
  await W[2].start();
  const restartedAt = Date.now();
  let resumed;
  while (Date.now() - restartedAt < 15_000) {
    if ((await S.get('/healthz')).status === 200) {
      resumed = Date.now() - restartedAt;
      break;
    }
    await sleep(100);
  }
  check(resumed !== undefined, 'publishing did not resume within 15 s of W2 returning');
  // A failing witness is asked again at most 5 s after its last failure (spec §13.5), whatever its downtime.
  check(resumed < 7000, `publishing resumed ${resumed} ms after W2 returned: its backoff is above the 5 s cap`);
  const again = await post(S, stuckEntry, P3);
  // 200: the entry was appended while W2 was down; now a witnessed checkpoint covers it.
  check(again.status === 200, `the write submitted again: ${again.status} ${JSON.stringify(again.body)}`);
  check(again.cosigned.length === 3 && again.size > stuckAt, `its receipt: size ${again.size}, cosigned by ${again.cosigned}`);
  const cpResumed = await served(P3);
  check(cpResumed.size > stuckAt && cpResumed.cosigned.length === 3, `/checkpoint after W2 returned: ${JSON.stringify({ ...cpResumed, root: undefined })}`);
  const threeOfThree = { stuckAt, refusedMs: refused.ms, resumed, size: cpResumed.size };
  say(`3 of 3: W2 back: /healthz 200 after ${resumed} ms; the write submitted again got its receipt (index ${again.body.index}, appended while W2 was down) at size ${again.size}, cosigned by ${again.cosigned.join(', ')}`);

  // ==== fork: a copy of the stopped log, both go on differently, the copy served
  const copiedAt = await served(P3); // the witnessed checkpoint the copy keeps (spec §13.5)
  await S.signal('SIGTERM');
  const COPY = join(dir, 'copy');
  await cp(LOG, COPY, { recursive: true });
  await S.start(serveArgs(LOG, 'policy-2of3'));
  for (let i = 0; i < 5; i++) check((await post(S, certEntry(next++), P2)).status === 201, 'the original refused a write');
  // Let every witness see the original's latest (catch-up rounds), then stop it.
  const orig = await served(P2);
  for (let i = 0; i < 50 && (await served(P2)).cosigned.length < 3; i++) await sleep(100);
  await S.signal('SIGTERM');
  // The copy goes on unwitnessed, past the original's size, with other entries.
  const C = new Proc('copy', serveArgs(COPY));
  await C.start();
  for (let i = 0; i < 10; i++) {
    const e = certEntry(1_000_000 + i);
    const r = await fetch(`${C.url}/v1/entries`, { method: 'POST', body: e, headers: { 'content-type': 'application/cbor' } });
    check(r.status === 201, `the copy refused a write: ${r.status}`);
  }
  await C.signal('SIGTERM');
  await C.start(serveArgs(COPY, 'policy-2of3'));
  const hFork = await C.json('/healthz');
  check(hFork.status === 503 && /^the ledger takes no writes: THE LOG MAY BE FORKED: witnesses W0, W1, W2 refuse/.test(hFork.body.detail), `/healthz of the copy: ${hFork.status} ${JSON.stringify(hFork.body).slice(0, 400)}`);
  check(hFork.body.witnesses.every((w) => w.state === 'refusing' && w.code === 'INCONSISTENT'), `the copy's /healthz witnesses: ${JSON.stringify(hFork.body.witnesses)}`);
  check(C.log.some((l) => /ALERT: witness W0 refuses the log's checkpoint/.test(l)), `the copy's serve process printed no ALERT: ${C.log.join(' | ')}`);
  const metrics = new TextDecoder().decode((await C.get('/metrics')).body);
  check(/^dojang_witness_fork_alert 1$/m.test(metrics), 'the copy\'s /metrics has no dojang_witness_fork_alert 1');
  for (const w of W) check(new RegExp(`^dojang_witness_refusals_total\\{witness="${w.name}",reason="INCONSISTENT"\\} [1-9]`, 'm').test(metrics), `the copy's /metrics counts no INCONSISTENT refusal by ${w.name}`);
  // The copy serves only what was witnessed before it was made (the shared prefix), none of its own entries.
  const copyServes = await C.get('/checkpoint');
  const copyView = copyServes.status === 200 ? checkCheckpoint(copyServes.body, P2).checkpoint : undefined;
  check(copyView !== undefined && copyView.size === copiedAt.size && Buffer.compare(Buffer.from(copyView.root), Buffer.from(copiedAt.root)) === 0, `the copy serves ${copyServes.status} size ${copyView?.size}, not the witnessed checkpoint of size ${copiedAt.size} it was copied with`);
  const forkWrite = await post(C, certEntry(2_000_000), P2);
  check(forkWrite.status === 503 && forkWrite.body.code === 'UNAVAILABLE' && /MAY BE FORKED/.test(forkWrite.body.detail), `a write to the copy: ${forkWrite.status} ${JSON.stringify(forkWrite.body).slice(0, 300)}`);
  // Each witness kept the evidence: the copy's checkpoint, signed by the log, beside the original's it cosigned.
  const evidence = [];
  for (const w of W) {
    const ev = await w.json(`/evidence?origin=${encodeURIComponent(info.origin)}`);
    check(ev.status === 200 && ev.body.latest !== null, `${w.name}'s /evidence: ${ev.status}`);
    const cosigned = witnessHolds(utf8(ev.body.latest.checkpoint));
    check(cosigned.size === orig.size && equalBytes(cosigned.root, orig.root), `${w.name} holds size ${cosigned.size}, not the original's ${orig.size}`);
    check(ev.body.evidence.length >= 1, `${w.name} kept no evidence`);
    for (const e of ev.body.evidence) {
      const refusedCp = witnessHolds(utf8(e.checkpoint));
      check(refusedCp.size > orig.size && e.old === orig.size && equalBytes(fromBase64(e.root), refusedCp.root), `${w.name}'s evidence: ${JSON.stringify({ ...e, request: '…' })}`);
      check(/consistency proof .* does not verify/.test(e.reason), `${w.name}'s evidence reason: ${e.reason}`);
    }
    check(w.log.some((l) => /refused a checkpoint with 422/.test(l)), `${w.name} logged no refusal`);
    evidence.push(ev.body.evidence.length);
  }
  say(`fork: the original at size ${orig.size}, the copy past it; every witness refuses the copy (422), which says: ${hFork.body.detail.slice(0, 110)}…; evidence kept: ${evidence.join(', ')}`);
  await C.signal('SIGTERM');
  // The original goes on.
  await S.start(serveArgs(LOG, 'policy-2of3'));
  const origNext = await post(S, certEntry(next++), P2);
  check(origNext.status === 201 && origNext.size > orig.size, `the original after the fork: ${origNext.status} ${JSON.stringify(origNext.body)}`);
  const hOrig = await S.json('/healthz');
  check(hOrig.status === 200 && hOrig.body.alert === undefined, `the original's /healthz: ${JSON.stringify(hOrig.body)}`);
  await S.signal('SIGTERM');
  for (const w of W) await w.signal('SIGTERM');

  console.log(
    [
      `witness-test: PASS in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      `  2 of 3, W1 SIGKILLed under 4 writers: ${twoOfThree.acked} writes acknowledged, ack p50 ${ms(twoOfThree.p50)}, p99 ${ms(twoOfThree.p99)}; ${twoOfThree.duringOutage} while W1 was down (p50 ${ms(twoOfThree.outageP50)}); W1 kept size ${twoOfThree.w1Size} through SIGKILL and cosigned again ${twoOfThree.rejoined} ms after its restart`,
      `  3 of 3, W2 SIGKILLed: writes answered 503 UNAVAILABLE after ${ms(threeOfThree.refusedMs)} (--witness-wait ${WAIT_S}), /checkpoint held at ${threeOfThree.stuckAt}, /healthz 503 naming W2; publishing resumed ${threeOfThree.resumed} ms after W2 returned`,
      `  fork: all three witnesses refused the copy (422) and kept evidence; the copy's /healthz and /metrics raised the fork alarm; the original went on`,
    ].join('\n'),
  );
  if (!values.keep) await rm(dir, { recursive: true, force: true });
} catch (e) {
  console.error(`witness-test: FAIL: ${e.stack ?? e}`);
  for (const p of procs) console.error(`--- ${p.name} (stderr) ---\n${p.log.slice(-40).join('\n')}`);
  for (const p of procs) p.child?.kill('SIGKILL');
  if (values.keep) console.error(`witness-test: kept ${dir}`);
  else if (dir) await rm(dir, { recursive: true, force: true });
  process.exit(1);
}
