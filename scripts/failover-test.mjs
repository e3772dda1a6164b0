#!/usr/bin/env node
// failover-test: three `dojang serve` processes on one PostgreSQL database (spec §8.4b)
// under a steady write load. The leader is killed with SIGKILL several times (and started
// again), and then one leader is frozen with SIGSTOP past its lease and resumed. Checks:
//
//  - after every kill and freeze another process takes over (the times are printed);
//  - every acknowledged write is in the log at its acknowledged index, and its receipt
//    verifies under the log's keys;
//  - every checkpoint any process served or put in a receipt, across every change of
//    leader, is consistent with the final tree (consistency proofs from the stored
//    hashes), and `dojang audit` replays the whole log;
//  - the resumed process writes nothing: every batch it appended is in the tree the new
//    leader took over (its dojang_sequencer_last_append_size is at most the size the new
//    leader started from), it says it stepped down, and it follows;
//  - the outside Go verifier (scripts/go-verify) accepts the log served by each process,
//    and `dojang mirror` of it served as static files;
//  - `dojang demo` (the whole wallet story) passes through a follower.
//
//   node scripts/with-postgres.mjs node scripts/failover-test.mjs [--kills N] [--keep]
//
// PG_URL names a server whose user may create databases (with-postgres.mjs starts one
// from npm). Needs `npm run build` and Go (scripts/install-system-deps.sh). Exit status 0
// only if every check passes.
import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(join(root, 'dist', p));
const { PostgresStore, LEASE_S } = await dist('storage/postgres.js');
const { loadKeys } = await dist('ledger/keyfiles.js');
const { encodeEvent } = await dist('core/events.js');
const { ed25519PublicKey, sha256 } = await dist('core/crypto.js');
const { leafHash, proveConsistency, verifyConsistency, treeHash } = await dist('core/merkle.js');
const { equalBytes, toHex, fromBase64 } = await dist('core/bytes.js');
const { verifyReceipt, checkpointVerifiers, openCheckpoint } = await dist('client/receipt.js');

const { values } = parseArgs({ options: { kills: { type: 'string', default: '3' }, keep: { type: 'boolean', default: false } } });
const KILLS = Number(values.kills);
const MAIN = join(root, 'dist/cli/main.js');
const admin = process.env.PG_URL;
if (!admin) {
  console.error('failover-test: PG_URL is not set (run it as: node scripts/with-postgres.mjs node scripts/failover-test.mjs)');
  process.exit(2);
}

const t0 = Date.now();
const say = (m) => console.log(`failover-test: [${((Date.now() - t0) / 1000).toFixed(1)} s] ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let dir;
let dbName;
const procs = [];

async function sql(text) {
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

async function cleanup() {
  for (const p of procs) p.kill('SIGKILL');
  if (dbName) await sql(`drop database if exists ${dbName} with (force)`).catch(() => {});
  if (dir && !values.keep) await rm(dir, { recursive: true, force: true });
}

async function fail(msg) {
  console.error(`failover-test: FAIL: ${msg}`);
  for (const p of procs) console.error(`--- process ${p.name} (stderr) ---\n${p.log.join('\n')}`);
  if (values.keep) console.error(`failover-test: kept ${dir} and database ${dbName}`);
  else await cleanup();
  process.exit(1);
}

/** check throws (the run fails, see the end of the file) unless ok. */
function check(ok, msg) {
  if (!ok) throw new Error(msg);
}

/** Proc is one `dojang serve` on the shared database, with its own DIR (the same keys). */
class Proc {
  constructor(name, data, db) {
    Object.assign(this, { name, data, db, log: [], child: undefined, url: undefined, stopped: false });
  }

  async start() {
    this.url = undefined;
    this.stopped = false;
    const child = spawn(process.execPath, [MAIN, 'serve', '--data', this.data, '--store', this.db, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => this.log.push(...d.split('\n').filter((l) => l !== '')));
    child.on('exit', (code, sig) => {
      if (this.child === child && this.url !== undefined && sig !== 'SIGKILL' && sig !== 'SIGTERM') this.log.push(`(process exited unexpectedly: ${code ?? sig})`);
    });
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

  kill(sig) {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
  }

  async killHard() {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.kill('SIGKILL');
    await exited;
    this.url = undefined;
  }

  async health() {
    if (!this.url || this.stopped) return undefined;
    try {
      const r = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2000) });
      return await r.json();
    } catch {
      return undefined;
    }
  }

  async metric(name) {
    try {
      const r = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(5000) });
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await r.text());
      return m ? Number(m[1]) : undefined;
    } catch (e) {
      throw new Error(`${this.name}'s /metrics: ${e.cause?.message ?? e.message}`);
    }
  }

  /** The size the last "leading the log from size S (term T)" line names, and T. */
  takeover() {
    for (let i = this.log.length - 1; i >= 0; i--) {
      const m = /leading the log from size (\d+) \(term (\d+)\)/.exec(this.log[i]);
      if (m) return { size: Number(m[1]), term: Number(m[2]) };
    }
    return undefined;
  }
}

/** leader polls until exactly one running process leads with a term above `after`; returns it and its term. */
async function leader(after = 0, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const hs = await Promise.all(procs.map((p) => p.health()));
    const leading = procs.map((p, i) => [p, hs[i]]).filter(([, h]) => h?.role === 'leader' && h.term > after);
    if (leading.length === 1) return { proc: leading[0][0], term: leading[0][1].term };
    check(leading.length <= 1, `${leading.length} processes say they lead at once`);
    await sleep(100);
  }
  throw new Error(`no process took over within ${timeoutMs / 1000} s (after term ${after})`);
}

// ---- set up: a fresh database, one ledger, three processes with the same keys
try {
dbName = `dojang_failover_${randomBytes(5).toString('hex')}`;
await sql(`create database ${dbName}`);
const dbUrl = new URL(admin);
dbUrl.pathname = `/${dbName}`;
const DB = dbUrl.href;
dir = await mkdtemp(join(tmpdir(), 'dojang-failover-'));
const init = spawnSync(process.execPath, [MAIN, 'init', '--data', join(dir, 'p0'), '--store', DB, '--json'], { encoding: 'utf8' });
check(init.status === 0, `dojang init: ${init.stderr}`);
const info = JSON.parse(init.stdout);
for (const n of ['p1', 'p2']) await cp(join(dir, 'p0', 'keys'), join(dir, n, 'keys'), { recursive: true });
for (const n of ['p0', 'p1', 'p2']) procs.push(new Proc(n, join(dir, n), DB));
for (const p of procs) await p.start();
const first = await leader();
say(`three processes on ${dbName}; ${first.proc.name} leads (term ${first.term})`);

const built = spawnSync('bash', [join(root, 'scripts/go-verify.sh')], { encoding: 'utf8' });
check(built.status === 0, `scripts/go-verify.sh: ${built.stderr}`);
const goVerify = built.stdout.trim().split('\n').pop();

// ---- the load: signed certificate events, round-robin over the processes, resubmitted
// (the same bytes) to the next process on any failure, as a careful client does.
const keys = await loadKeys(join(dir, 'p0'));
const issuerSeed = new Uint8Array(randomBytes(32));
const issuer = ed25519PublicKey(issuerSeed);
const runId = new Uint8Array(randomBytes(8));
const now = Math.floor(Date.now() / 1000);
const holder = ed25519PublicKey(new Uint8Array(randomBytes(32)));
const verifiers = checkpointVerifiers(info);
const acked = new Map(); // entry number -> { entry, index, leafHash, checkpoint }
const seenCheckpoints = []; // notes served by /checkpoint or in receipts
const stats = { sent: 0, retries: 0, refusals: {}, slow: [] };

function certEntry(i) {
  const id = new Uint8Array(16);
  id.set(runId, 0);
  new DataView(id.buffer).setBigUint64(8, BigInt(i));
  return encodeEvent({ type: 'cert.issue', id, docType: 'dev.dojang.failover', issuer, holder, commitment: sha256(id), issuedAt: Math.floor(Date.now() / 1000), validUntil: now + 90 * 86_400, time: Math.floor(Date.now() / 1000) }, issuerSeed);
}

async function submit(entry, key) {
  for (let attempt = 0; attempt < 400; attempt++) {
    const p = procs[(key + attempt) % procs.length];
    if (p.url === undefined) {
      await sleep(50);
      continue;
    }
    stats.sent++;
    const began = Date.now();
    const slow = (what) => {
      if (Date.now() - began > 10_000) stats.slow.push(`${p.name} ${what} after ${Date.now() - began} ms (at ${((began - t0) / 1000).toFixed(1)} s)`);
    };
    try {
      const r = await fetch(`${p.url}/v1/entries`, { method: 'POST', body: entry, headers: { 'content-type': 'application/cbor' }, signal: AbortSignal.timeout(40_000) });
      const body = await r.json();
      slow(`${r.status} ${body.code ?? ''} ${body.detail ?? ''}`);
      if (r.status === 200 || r.status === 201) {
        const receipt = verifyReceipt(entry, body, verifiers); // throws unless it verifies
        seenCheckpoints.push(new TextEncoder().encode(body.checkpoint));
        return receipt;
      }
      stats.refusals[body.code ?? r.status] = (stats.refusals[body.code ?? r.status] ?? 0) + 1;
      if (r.status !== 503) throw new Error(`${p.name} refused a good entry: ${r.status} ${JSON.stringify(body)}`);
    } catch (e) {
      if (/refused a good entry|receipt/i.test(e.message)) throw e;
      slow(`failed: ${e.cause?.message ?? e.message}`);
    }
    stats.retries++;
    await sleep(100);
  }
  throw new Error('an entry was refused 400 times');
}

await submit(encodeEvent({ type: 'doctype.register', docType: 'dev.dojang.failover', maxValidity: 90 * 86_400, time: now }, keys.root.seed), 0);
await submit(encodeEvent({ type: 'issuer.register', issuer, name: 'failover test', docTypes: ['dev.dojang.failover'], time: now }, keys.root.seed), 0);
let next = 0;
let loading = true;
let loadError;
const writers = Array.from({ length: 8 }, async (_, w) => {
  while (loading && loadError === undefined) {
    const i = next++;
    const entry = certEntry(i);
    try {
      const r = await submit(entry, i + w);
      acked.set(i, { entry, index: r.index, leafHash: r.leafHash });
    } catch (e) {
      loadError = e;
    }
  }
});
// Every process's /checkpoint, polled throughout: what readers saw across the changes.
let polling = true;
const poller = (async () => {
  while (polling) {
    for (const p of procs) {
      if (!p.url || p.stopped) continue;
      try {
        const r = await fetch(`${p.url}/checkpoint`, { signal: AbortSignal.timeout(1000) });
        if (r.status === 200) seenCheckpoints.push(new Uint8Array(await r.arrayBuffer()));
      } catch {}
    }
    await sleep(200);
  }
})();

// ---- chaos
const takeovers = [];
await sleep(3000);
let term = first.term;
for (let k = 1; k <= KILLS; k++) {
  const cur = await leader(term - 1);
  const before = acked.size;
  await cur.proc.killHard();
  const t = Date.now();
  const nxt = await leader(cur.term);
  takeovers.push({ kind: 'SIGKILL', ms: Date.now() - t });
  term = nxt.term;
  say(`kill ${k}: SIGKILL ${cur.proc.name} (term ${cur.term}); ${nxt.proc.name} leads (term ${nxt.term}) after ${Date.now() - t} ms; ${acked.size - before} writes acknowledged meanwhile`);
  await cur.proc.start();
  await sleep(2500);
  check(loadError === undefined, `the load failed: ${loadError?.message}`);
}
// SIGSTOP the leader past its lease, let another take over and write, then resume it.
const frozen = await leader(term - 1);
const batchesBefore = await frozen.proc.metric('dojang_sequencer_batches');
frozen.proc.stopped = true;
frozen.proc.kill('SIGSTOP');
const tStop = Date.now();
const after = await leader(frozen.term, (LEASE_S + 15) * 1000);
takeovers.push({ kind: 'SIGSTOP', ms: Date.now() - tStop });
const sizeAtTakeover = after.proc.takeover();
say(`SIGSTOP ${frozen.proc.name} (term ${frozen.term}); ${after.proc.name} leads (term ${after.term}) from size ${sizeAtTakeover?.size} after ${Date.now() - tStop} ms`);
const ackedBeforeResume = acked.size;
await sleep(2000);
frozen.proc.kill('SIGCONT');
frozen.proc.stopped = false;
await sleep(3000);
const resumed = await frozen.proc.health();
const lastAppend = await frozen.proc.metric('dojang_sequencer_last_append_size');
const batchesAfter = await frozen.proc.metric('dojang_sequencer_batches');
say(`SIGCONT ${frozen.proc.name}: role ${resumed?.role}; its last batch ended at size ${lastAppend} (the new leader started from ${sizeAtTakeover?.size}); batches ${batchesBefore} → ${batchesAfter}; ${acked.size - ackedBeforeResume} writes acknowledged since the takeover`);
check(resumed?.role === 'follower', `the resumed process says it is ${resumed?.role}, not a follower`);
check(sizeAtTakeover !== undefined && lastAppend <= sizeAtTakeover.size, `the resumed process appended a batch ending at ${lastAppend}, beyond the size ${sizeAtTakeover?.size} the new leader took over`);
check(frozen.proc.log.some((l) => /stepped down/.test(l)), 'the resumed process did not say it stepped down');
await sleep(2000);
loading = false;
await Promise.all(writers);
polling = false;
await poller;
check(loadError === undefined, `the load failed: ${loadError?.message}`);
say(`load stopped: ${acked.size} writes acknowledged (${stats.sent} requests, ${stats.retries} retried; refusals ${JSON.stringify(stats.refusals)})`);
for (const s of stats.slow) say(`slow request: ${s}`);

// ---- checks
// Every process serves the same final head (followers catch up within a second).
let final;
for (let tries = 0; ; tries++) {
  const cps = await Promise.all(procs.map(async (p) => new Uint8Array(await (await fetch(`${p.url}/checkpoint`)).arrayBuffer())));
  const sizes = cps.map((c) => openCheckpoint(c, verifiers).checkpoint.size);
  if (sizes.every((s) => s === sizes[0])) {
    final = openCheckpoint(cps[0], verifiers).checkpoint;
    break;
  }
  check(tries < 50, `the processes serve different sizes: ${sizes.join(', ')}`);
  await sleep(200);
}
const store = new PostgresStore(DB);
await store.open();
const entries = await store.readEntries(0, final.size);
check(entries.length === final.size, `the store holds ${entries.length} entries, the checkpoint says ${final.size}`);
const read = (ix) => store.readHashes(ix);
check(equalBytes(await treeHash(final.size, read), final.root), 'the stored tree does not have the final root');
for (const [i, a] of acked) {
  check(a.index < final.size && equalBytes(entries[a.index], a.entry), `acknowledged write ${i} is not at its index ${a.index}`);
  check(equalBytes(leafHash(entries[a.index]), a.leafHash), `acknowledged write ${i} has another leaf hash`);
}
const distinct = new Map(seenCheckpoints.map((c) => [toHex(sha256(c)), c]));
let consistent = 0;
for (const note of distinct.values()) {
  const cp = openCheckpoint(note, verifiers).checkpoint;
  check(cp.size <= final.size, `a served checkpoint of size ${cp.size} is beyond the final ${final.size}`);
  if (cp.size === final.size) check(equalBytes(cp.root, final.root), 'two roots at the final size');
  else verifyConsistency(cp.size, final.size, await proveConsistency(cp.size, final.size, read), cp.root, final.root);
  consistent++;
}
const history = [];
for (let from = 0; ; ) {
  const page = await store.readCheckpoints(from, 1000);
  if (page.length === 0) break;
  history.push(...page);
  from = page[page.length - 1].size + 1;
}
for (const h of history) {
  const cp = openCheckpoint(h.checkpoint, verifiers).checkpoint;
  if (cp.size < final.size) verifyConsistency(cp.size, final.size, await proveConsistency(cp.size, final.size, read), cp.root, final.root);
}
await store.close();
say(`all ${acked.size} acknowledged writes are at their indices; ${consistent} distinct checkpoints served and ${history.length} history checkpoints are consistent with the final tree of size ${final.size}`);

const audit = spawnSync(process.execPath, [MAIN, 'audit', '--data', join(dir, 'p0'), '--store', DB], { encoding: 'utf8' });
check(audit.status === 0, `dojang audit failed: ${audit.stdout}${audit.stderr}`);
say(`dojang audit: ${audit.stdout.trim().split('\n').pop()}`);

function goVerifyRun(url, extra = []) {
  return new Promise((resolve) => {
    const c = spawn(goVerify, ['--url', url, '--log-key', info.logKey, '--timestamp-key', info.timestampKey, '--proofs', '16', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('exit', (code) => resolve({ code, out: out.trim() }));
  });
}
for (const p of procs) {
  const r = await goVerifyRun(p.url);
  check(r.code === 0, `go-verify rejects the log served by ${p.name}: ${r.out}`);
  say(`go-verify ${p.name}: ${r.out}`);
}
const mirrorDir = join(dir, 'mirror');
const mirror = spawnSync(process.execPath, [MAIN, 'mirror', '--data', join(dir, 'p1'), '--store', DB, '--to', mirrorDir], { encoding: 'utf8' });
check(mirror.status === 0, `dojang mirror failed: ${mirror.stderr}`);
const files = createServer(async (req, res) => {
  const path = normalize(join(mirrorDir, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
  if (!path.startsWith(mirrorDir)) return res.writeHead(403).end();
  try {
    if (!(await stat(path)).isFile()) throw new Error('not a file');
    // As a static host would: text for the checkpoint, bytes for tiles and bundles.
    const type = path.endsWith('/checkpoint') ? 'text/plain; charset=utf-8' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type }).end(await readFile(path));
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => files.listen(0, '127.0.0.1', r));
const mr = await goVerifyRun(`http://127.0.0.1:${files.address().port}`, ['--static']);
files.close();
check(mr.code === 0, `go-verify rejects the static mirror: ${mr.out}`);
say(`go-verify mirror: ${mr.out}`);

// The whole wallet story (dojang demo) through a follower: its events are forwarded to
// the leader, its wallets live in the shared database.
const roles = await Promise.all(procs.map((p) => p.health()));
const follower = procs[roles.findIndex((h) => h?.role === 'follower')];
check(follower !== undefined, 'no process follows');
const demo = spawnSync(process.execPath, [MAIN, 'demo', '--url', follower.url, '--data', join(dir, 'p0')], { encoding: 'utf8', timeout: 120_000 });
check(demo.status === 0, `dojang demo through ${follower.name} failed: ${demo.stdout.slice(-2000)}${demo.stderr}`);
say(`dojang demo through the follower ${follower.name}: ${demo.stdout.trim().split('\n').pop()}`);

const ms = takeovers.map((t) => t.ms);
say(
  `PASS: ${KILLS} SIGKILLs and one SIGSTOP; takeovers after SIGKILL ${ms.slice(0, -1).join(', ')} ms, after SIGSTOP ${ms.at(-1)} ms (lease ${LEASE_S} s); ` +
    `${acked.size} acknowledged writes all present; final size ${final.size}`,
);
for (const p of procs) p.kill('SIGTERM');
await sleep(500);
await cleanup();
} catch (e) {
  await fail(e?.message ?? String(e));
}
