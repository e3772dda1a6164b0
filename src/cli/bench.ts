/**
 * dojang bench: the ledger's figures beside this machine's own limits, measured in the
 * same run (docs/performance.md). Every figure is a median over rounds; ratios divide
 * by the raw node:crypto rates of this machine so that results compare across machines.
 */
import * as nc from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { LoadPool } from './http-load.js';
import { auditFigures, httpClosedLoop, median, presentationFigures, processCpuSeconds, quantile, startServe, walletFigures, type AuditFigures, type PresentationFigures, type WalletFigures } from './bench-verify.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MerkleTree } from 'merkletreejs';
import { toHex } from '../core/bytes.js';
import { encodeEvent } from '../core/events.js';
import { ed25519PublicKey, sha256, signEd25519 } from '../core/crypto.js';
import { VerifyPool } from '../ledger/verify-pool.js';
import { loadKeys } from '../ledger/keyfiles.js';
import { LedgerError } from '../core/errors.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../core/merkle.js';
import { exists, keyPath } from '../ledger/keyfiles.js';
import { BENCH_ORIGIN_PREFIX, type Ledger } from '../ledger/ledger.js';
import { initLedger, openLedger } from './serve.js';
import { apiFigures, createDatabase, dropDatabase, type ApiFigures } from './bench-cluster.js';
import { witnessFigures, type WitnessFigures } from './bench-witness.js';
import type { Io } from './main.js';
import { BENCH_DOC_TYPE, BENCH_VALIDITY_S, benchDocTypeEntry } from './bench-doctype.js';

export interface BenchOptions {
  data?: string;
  entries?: number;
  json: boolean;
  quick: boolean;
  printAcks: boolean;
  scale?: number[];
  /** Only measure proofs on the ledger in `data` (used by --scale in a fresh child process). */
  proofsOnly?: boolean;
  /** A postgres:// URL: also measure appends and proofs with the log in PostgreSQL, in a fresh database made on that server and dropped after. */
  store?: string;
}

/** The in-process figures on PostgreSQL, beside LevelDB's. */
export interface PostgresFigures {
  appends: AppendFigures;
  proofs: ProofFigures;
  /** Over HTTP: one `dojang serve` on LevelDB, one on PostgreSQL, three on one database (bench-cluster.ts). */
  api: ApiFigures[];
}

/**
 * postgresFigures makes a fresh database on the server of `url` (the URL's user must be
 * allowed to create databases), a bench ledger on it with its keys in a temp dir,
 * appends n signed events closed-loop and measures proofs, then drops the database.
 */
async function postgresFigures(url: string, n: number, quick: boolean): Promise<PostgresFigures> {
  const db = await createDatabase(url);
  const dir = await mkdtemp(join(tmpdir(), 'dojang-bench-pg-'));
  try {
    const ledger = (await initLedger({ data: dir, store: db, json: false, origin: `${BENCH_ORIGIN_PREFIX}${toHex(nc.randomBytes(4))}` })).ledger;
    let appends: AppendFigures;
    let proofs: ProofFigures;
    try {
      const w = await Workload.start(ledger, dir);
      appends = await closedLoop(ledger, n, 4096, w);
      proofs = await proofRates(ledger, quick ? 1.5 : 3);
    } finally {
      await ledger.close();
    }
    const events = quick ? 3_000 : 10_000;
    const api: ApiFigures[] = [];
    for (const [store, processes] of [[undefined, 1], [url, 1], [url, 3]] as const) api.push(await apiFigures(store, processes, events, quick ? 1.5 : 3));
    return { appends, proofs, api };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await dropDatabase(url, db);
  }
}

const now = () => performance.now();


/** rate runs fn in a loop for ~ms milliseconds, `rounds` times; median ops/s. */
function rate(fn: () => void, rounds: number, ms: number): number {
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const t0 = now();
    let t = t0;
    while (t - t0 < ms) {
      for (let i = 0; i < 64; i++) fn();
      n += 64;
      t = now();
    }
    out.push((n * 1000) / (t - t0));
  }
  return median(out);
}

export interface Limits {
  sha256PerSec: number;
  ed25519SignPerSec: number;
  ed25519VerifyPerSec: number;
}

/** machineLimits measures raw node:crypto rates on one core (65-byte SHA-256 input as a Merkle node). */
export function machineLimits(quick: boolean): Limits {
  const rounds = quick ? 3 : 5;
  const ms = quick ? 150 : 400;
  const data = nc.randomBytes(65);
  const { privateKey, publicKey } = nc.generateKeyPairSync('ed25519');
  const msg = nc.randomBytes(100);
  const sig = nc.sign(null, msg, privateKey);
  return {
    sha256PerSec: rate(() => nc.createHash('sha256').update(data).digest(), rounds, ms),
    ed25519SignPerSec: rate(() => nc.sign(null, msg, privateKey), rounds, ms),
    ed25519VerifyPerSec: rate(() => nc.verify(null, msg, publicKey, sig), rounds, ms),
  };
}


/**
 * Workload makes the bench's entries: real certificate events (spec §5.7). On start it
 * registers the bench's document type (BENCH_DOC_TYPE) and a fresh issuer with the
 * development root key of the bench ledger; entry(i) is then the i-th cert.issue of this
 * run, signed by that issuer, with its own id, a holder key from a small pool and its
 * issuedAt the clock when it is made (about 300 bytes an entry).
 */
export class Workload {
  private readonly run = nc.randomBytes(8);
  private readonly holders: Uint8Array[];
  private readonly issuer: Uint8Array;

  private constructor(private readonly issuerSeed: Uint8Array) {
    this.issuer = ed25519PublicKey(issuerSeed);
    this.holders = Array.from({ length: 64 }, () => ed25519PublicKey(nc.randomBytes(32)));
  }

  static async start(ledger: Ledger, dir: string): Promise<Workload> {
    const root = (await loadKeys(dir)).root;
    if (root === undefined) throw new LedgerError('UNAVAILABLE', `${dir} has no development root key: bench cannot register its issuer`);
    const w = new Workload(new Uint8Array(nc.randomBytes(32)));
    const issuer = ed25519PublicKey(w.issuerSeed);
    const time = Math.floor(Date.now() / 1000);
    await ledger.append(benchDocTypeEntry(root.seed));
    await ledger.append(encodeEvent({ type: 'issuer.register', issuer, name: 'dojang bench', docTypes: [BENCH_DOC_TYPE], time }, root.seed));
    return w;
  }

  entry(i: number): Uint8Array {
    const id = new Uint8Array(16);
    id.set(this.run, 0);
    new DataView(id.buffer).setBigUint64(8, BigInt(i));
    const time = Math.floor(Date.now() / 1000); // |issuedAt − T| ≤ 300 s (spec §5.9): the crash test's writer runs without end
    return encodeEvent(
      {
        type: 'cert.issue',
        id,
        docType: BENCH_DOC_TYPE,
        issuer: this.issuer,
        holder: this.holders[i % this.holders.length],
        commitment: sha256(id),
        issuedAt: time,
        validUntil: time + BENCH_VALIDITY_S,
        time,
      },
      this.issuerSeed,
    );
  }

  entries(n: number, from = 0): Uint8Array[] {
    return Array.from({ length: n }, (_, k) => this.entry(from + k));
  }
}

/** openOrInit opens a bench ledger in dir, or creates one; refuses any other ledger. */
async function openOrInit(dir: string): Promise<Ledger> {
  if (!(await exists(keyPath(dir, 'log')))) {
    return (await initLedger({ data: dir, json: false, origin: `${BENCH_ORIGIN_PREFIX}${toHex(nc.randomBytes(4))}` })).ledger;
  }
  const ledger = await openLedger(dir);
  if (!ledger.origin.startsWith(BENCH_ORIGIN_PREFIX)) {
    await ledger.close();
    throw new LedgerError('CONFLICT', `${dir} holds the ledger ${ledger.origin}, not one made by dojang bench: bench appends test records and will not write into it`);
  }
  return ledger;
}

interface AppendFigures {
  entries: number;
  appendsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * closedLoop appends n entries keeping `window` in flight; throughput and ack latency.
 * The crash-test writer (onAck) runs without end: it keeps no latencies and makes its
 * entries as it goes; otherwise all entries are made first so that only the ledger is
 * timed.
 */
async function closedLoop(ledger: Ledger, n: number, window: number, w: Workload, onAck?: (i: number, idx: number, lh: Uint8Array) => void): Promise<AppendFigures> {
  const streaming = onAck !== undefined;
  const lat: number[] = streaming ? [] : new Array(n);
  const made: Uint8Array[] = streaming ? [] : w.entries(n);
  let next = 0;
  const t0 = now();
  async function worker() {
    while (next < n) {
      const i = next++;
      const t = now();
      const r = await ledger.append(streaming ? w.entry(i) : made[i]);
      if (onAck === undefined) lat[i] = now() - t;
      else onAck(i, r.index, r.leafHash);
    }
  }
  await Promise.all(Array.from({ length: window }, worker));
  const secs = (now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { entries: n, appendsPerSec: n / secs, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99) };
}

/** openLoop submits at a fixed rate for `secs` seconds; ack latency at that load. */
async function openLoop(send: (e: Uint8Array) => Promise<unknown>, made: readonly Uint8Array[], perSec: number): Promise<{ ratePerSec: number; sent: number; p50Ms: number; p99Ms: number }> {
  const total = made.length;
  const lat: number[] = [];
  const pending: Promise<void>[] = [];
  const t0 = now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((now() - t0) / 1000) * perSec) + 1);
    while (sent < due) {
      const t = now();
      pending.push(send(made[sent++]).then(() => void lat.push(now() - t)));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  lat.sort((a, b) => a - b);
  return { ratePerSec: perSec, sent, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99) };
}

interface ProofFigures {
  size: number;
  inclusionPerSec: number;
  consistencyPerSec: number;
  inclusionP50Us: number;
  rssMiB: number;
  heapMiB: number;
  cacheHashes: number;
}

/** proofRates measures random inclusion and consistency proofs from storage, each verified in a sample. */
async function proofRates(ledger: Ledger, secs: number): Promise<ProofFigures> {
  const size = ledger.head.size;
  const root = ledger.head.root;
  const conc = 32;
  const rand = (k: number) => Math.floor(Math.random() * k);
  // Inclusion
  const rounds: number[] = [];
  const lat: number[] = [];
  for (let r = 0; r < 3; r++) {
    let n = 0;
    const t0 = now();
    await Promise.all(
      Array.from({ length: conc }, async () => {
        while (now() - t0 < (secs * 1000) / 3) {
          const idx = rand(size);
          const t = now();
          const p = await ledger.inclusionProof(idx, size);
          lat.push(now() - t);
          if (n % 997 === 0) {
            const [e] = await ledger.store.readEntries(idx, idx + 1);
            verifyInclusion(leafHash(e), idx, size, p, root);
          }
          n++;
        }
      }),
    );
    rounds.push((n * 1000) / (now() - t0));
  }
  const crounds: number[] = [];
  for (let r = 0; r < 3; r++) {
    let n = 0;
    const t0 = now();
    await Promise.all(
      Array.from({ length: conc }, async () => {
        while (now() - t0 < (secs * 1000) / 3) {
          const a = 1 + rand(size - 1);
          const p = await ledger.consistencyProof(a, size);
          if (n % 997 === 0) verifyConsistency(a, size, p, await ledger.rootAt(a), root);
          n++;
        }
      }),
    );
    crounds.push((n * 1000) / (now() - t0));
  }
  lat.sort((a, b) => a - b);
  return {
    size,
    inclusionPerSec: median(rounds),
    consistencyPerSec: median(crounds),
    inclusionP50Us: quantile(lat, 0.5) * 1000,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
    cacheHashes: ledger.cache.size,
  };
}

/** merkletreejsPeer builds the same leaves into merkletreejs and times build and proofs. */
function merkletreejsPeer(n: number, w: Workload, secs: number): { leaves: number; buildMs: number; proofsPerSec: number } {
  const sha = (d: Buffer) => nc.createHash('sha256').update(d).digest();
  const leaves = w.entries(n).map((e) => Buffer.from(leafHash(e)));
  const t0 = now();
  const tree = new MerkleTree(leaves, sha, { sortPairs: false });
  const buildMs = now() - t0;
  let k = 0;
  const t1 = now();
  while (now() - t1 < secs * 1000) {
    const i = Math.floor(Math.random() * n);
    tree.getProof(leaves[i], i); // by index: no linear search for the leaf
    k++;
  }
  return { leaves: n, buildMs, proofsPerSec: (k * 1000) / (now() - t1) };
}

/** poolVerifyRate measures Ed25519 verification on all cores through the worker pool (the two-core limit). */
async function poolVerifyRate(quick: boolean): Promise<number> {
  const pool = new VerifyPool();
  try {
    const seed = nc.randomBytes(32);
    const pub = ed25519PublicKey(seed);
    const items = Array.from({ length: 256 }, (_, i) => {
      const message = nc.randomBytes(200 + (i % 7));
      return { publicKey: pub, message, signature: signEd25519(seed, message) };
    });
    await pool.verify(items);
    const out: number[] = [];
    for (let r = 0; r < (quick ? 3 : 5); r++) {
      let k = 0;
      const t0 = now();
      while (now() - t0 < (quick ? 300 : 600)) {
        await Promise.all(Array.from({ length: 8 }, () => pool.verify(items)));
        k += 8 * items.length;
      }
      out.push((k * 1000) / (now() - t0));
    }
    return median(out);
  } finally {
    await pool.close();
  }
}

interface HttpFigures {
  clients: number;
  events: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  at2500PerSec: { p50Ms: number; p99Ms: number; sent: number };
  /** CPU per accepted event in the closed loop, µs: the server (all its threads; Linux /proc only) and the load generator. */
  cpuUsPerEvent: { server: number | undefined; loadGenerator: number };
}

/**
 * httpWritePath starts `dojang serve` on a fresh ledger in a child process and drives
 * POST /v1/entries over keep-alive connections (http-load.ts: a lean client, so that
 * the figure is the server's, not node:http's client's) from this process (so the load
 * generator shares the machine, as the goal says): a closed loop for throughput, then
 * an open loop at 2,500 events/s for latency. Every answer must be 201.
 */
async function httpWritePath(quick: boolean): Promise<HttpFigures> {
  const { child, base, dir, stop } = await startServe();
  try {
    const root = (await loadKeys(dir)).root!.seed;
    const clients = 256;
    const pool = await LoadPool.open(base, '/v1/entries', 'application/cbor', clients);
    const post = (body: Uint8Array) => pool.post(body);
    const issuerSeed = new Uint8Array(nc.randomBytes(32));
    const t0s = Math.floor(Date.now() / 1000);
    const reg = encodeEvent({ type: 'issuer.register', issuer: ed25519PublicKey(issuerSeed), name: 'dojang bench', docTypes: [BENCH_DOC_TYPE], time: t0s }, root);
    if ((await post(benchDocTypeEntry(root))) !== 201) throw new Error('document type registration over HTTP failed');
    if ((await post(reg)) !== 201) throw new Error('issuer registration over HTTP failed');
    const mk = (i: number) => {
      const id = new Uint8Array(16);
      new DataView(id.buffer).setBigUint64(8, BigInt(i));
      id.set(nc.randomBytes(8), 0);
      return encodeEvent(
        { type: 'cert.issue', id, docType: BENCH_DOC_TYPE, issuer: ed25519PublicKey(issuerSeed), holder: ed25519PublicKey(issuerSeed), commitment: sha256(id), issuedAt: t0s, validUntil: t0s + 86_400, time: t0s },
        issuerSeed,
      );
    };
    const n = quick ? 5_000 : 20_000;
    const made = Array.from({ length: n }, (_, i) => mk(i));
    const server0 = processCpuSeconds(child.pid);
    const self0 = process.cpuUsage();
    const loop = await httpClosedLoop(pool, n, (i) => made[i], 201);
    const { secs, lat } = loop;
    let bad = loop.bad;
    const self = process.cpuUsage(self0);
    const server1 = processCpuSeconds(child.pid);
    if (bad > 0) throw new Error(`${bad} events were not accepted`);
    // Open loop at 2,500/s.
    const rate = 2500;
    const more = Array.from({ length: rate * (quick ? 1 : 4) }, (_, i) => mk(n + i));
    const at2500 = await openLoop(async (e) => {
      if ((await post(e)) !== 201) bad++;
    }, more, rate);
    if (bad > 0) throw new Error(`${bad} events were not accepted`);
    pool.close();
    return {
      clients,
      events: n,
      eventsPerSec: n / secs,
      p50Ms: quantile(lat, 0.5),
      p99Ms: quantile(lat, 0.99),
      at2500PerSec: { p50Ms: at2500.p50Ms, p99Ms: at2500.p99Ms, sent: at2500.sent },
      cpuUsPerEvent: {
        server: server0 === undefined || server1 === undefined ? undefined : ((server1 - server0) * 1e6) / n,
        loadGenerator: (self.user + self.system) / n,
      },
    };
  } finally {
    await stop();
  }
}

function proofsInChild(dir: string, quick: boolean): ProofFigures {
  const args = [process.argv[1], 'bench', '--data', dir, '--proofs-only', ...(quick ? ['--quick'] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`proof measurement failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as ProofFigures;
}

export async function runBench(o: BenchOptions, io: Io): Promise<number> {
  const dir = o.data ?? (await mkdtemp(join(tmpdir(), 'dojang-bench-')));
  const keep = o.data !== undefined;
  const ledger = await openOrInit(dir);
  let closed = false;
  try {
    if (o.printAcks) {
      // Crash-test writer: append until killed (or --entries), printing each ack.
      // stdout is a pipe: writes are synchronous on Linux, so a printed ack was made
      // only after the entry was durable and checkpointed.
      const n = o.entries ?? Number.MAX_SAFE_INTEGER;
      const w = await Workload.start(ledger, dir);
      io.out(`start ${ledger.head.size}`);
      await closedLoop(ledger, n, 256, w, (_i, idx, lh) => io.out(`ack ${idx} ${toHex(lh)}`));
      return 0;
    }
    if (o.proofsOnly) {
      io.out(JSON.stringify(await proofRates(ledger, o.quick ? 1.5 : 3)));
      return 0;
    }
    const n = o.entries ?? (o.quick ? 20_000 : 100_000);
    const limits = machineLimits(o.quick);
    const poolLimit = await poolVerifyRate(o.quick);
    // First, while this process is quiet: the appends below leave LevelDB compacting in
    // it for a while, and process CPU time would count that against each presentation.
    const presentations = await presentationFigures(o.quick);
    const wallets = await walletFigures(o.quick);
    const w = await Workload.start(ledger, dir);
    const appends = await closedLoop(ledger, n, 4096, w);
    const at5000 = await openLoop((e) => ledger.append(e), w.entries(5000 * (o.quick ? 1 : 3), n), 5000);
    const proofs = await proofRates(ledger, o.quick ? 1.5 : 3);
    const peer = merkletreejsPeer(Math.min(n, 100_000), w, o.quick ? 0.5 : 1);
    const http = await httpWritePath(o.quick);
    // Witnessed appends: no policy and 2 of 3 witness processes, on one fresh ledger (bench-witness.ts).
    const witnessing = await witnessFigures(o.quick, { workload: (l, d) => Workload.start(l, d), closedLoop: (l, k, win, w) => closedLoop(l, k, win, w as Workload) });
    const scale: ProofFigures[] = [];
    for (const s of o.scale ?? []) {
      const sdir = await mkdtemp(join(tmpdir(), 'dojang-scale-'));
      const sl = await openOrInit(sdir);
      try {
        const sw = await Workload.start(sl, sdir);
        if (sl.head.size < s) await closedLoop(sl, s - sl.head.size, 4096, sw);
        await sl.close();
        // Measure proofs and memory in a fresh process, as a server that just started would.
        scale.push(proofsInChild(sdir, o.quick));
      } finally {
        await sl.close().catch(() => {});
        await rm(sdir, { recursive: true, force: true });
      }
    }
    const postgres = o.store === undefined ? undefined : await postgresFigures(o.store, Math.min(n, o.quick ? 5_000 : 20_000), o.quick);
    const size = ledger.head.size;
    await ledger.close(); // the audit reads the directory as `dojang audit --data` does
    closed = true;
    const audited = await auditFigures(dir, o.quick);
    const result = {
      machine: { cores: (await import('node:os')).cpus().length, node: process.version },
      limits,
      appends,
      at5000PerSec: at5000,
      proofs,
      merkletreejs: peer,
      twoCoreVerifyPerSec: poolLimit,
      http,
      witnessing,
      presentations,
      wallets,
      postgres,
      audit: audited,
      scale,
      ratios: {
        appendsPerSha256: appends.appendsPerSec / limits.sha256PerSec,
        appendsPerEd25519Sign: appends.appendsPerSec / limits.ed25519SignPerSec,
        inclusionProofsPerSha256: proofs.inclusionPerSec / limits.sha256PerSec,
        inclusionProofsVsMerkletreejs: proofs.inclusionPerSec / peer.proofsPerSec,
        httpEventsPerTwoCoreVerify: http.eventsPerSec / poolLimit,
        witnessedAppendsPerUnwitnessed: witnessing.witnessed.throughput.appendsPerSec / witnessing.none.throughput.appendsPerSec,
        witnessedAppendsPerSha256: witnessing.witnessed.throughput.appendsPerSec / limits.sha256PerSec,
        witnessedSequentialAckInRoundTrips: (witnessing.witnessed.sequential.p50Ms - witnessing.none.sequential.p50Ms) / witnessing.roundTripMs.p50,
        apiPresentationsPerTwoCoreVerify: presentations.api.perSec / poolLimit,
        offlinePresentationInSignatureChecks: presentations.offlineCpuUs.node / presentations.offlineCpuUs.signatureCheck,
        auditEntriesPerTwoCoreVerify: audited.entriesPerSec / poolLimit,
        walletListsPerTwoCoreVerify: wallets.list.perSec / poolLimit,
        ...(postgres === undefined
          ? {}
          : { postgresAppendsPerLevel: postgres.appends.appendsPerSec / appends.appendsPerSec, postgresInclusionProofsPerLevel: postgres.proofs.inclusionPerSec / proofs.inclusionPerSec }),
        sealInSignatureChecks: wallets.cpuUs.seal / wallets.cpuUs.signatureCheck,
        openInSignatureChecks: wallets.cpuUs.open / wallets.cpuUs.signatureCheck,
      },
      data: keep ? dir : undefined,
      size,
    };
    if (o.json) io.out(JSON.stringify(result));
    else io.out(formatBench(result));
    return 0;
  } finally {
    if (!closed) await ledger.close();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

function f(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function formatBench(r: {
  machine: { cores: number; node: string };
  limits: Limits;
  appends: AppendFigures;
  at5000PerSec: { ratePerSec: number; sent: number; p50Ms: number; p99Ms: number };
  proofs: ProofFigures;
  merkletreejs: { leaves: number; buildMs: number; proofsPerSec: number };
  twoCoreVerifyPerSec: number;
  http: HttpFigures;
  witnessing: WitnessFigures;
  presentations: PresentationFigures;
  wallets: WalletFigures;
  postgres?: PostgresFigures;
  audit: AuditFigures;
  scale: ProofFigures[];
  ratios: Record<string, number>;
  size: number;
  data?: string;
}): string {
  const L = r.limits;
  const lines = [
    `dojang bench — ${r.machine.cores} cores, Node ${r.machine.node}; medians of rounds`,
    ``,
    `machine limits (raw node:crypto, one core)`,
    `  SHA-256 (65 bytes)        ${f(L.sha256PerSec).padStart(12)} /s`,
    `  Ed25519 sign              ${f(L.ed25519SignPerSec).padStart(12)} /s`,
    `  Ed25519 verify            ${f(L.ed25519VerifyPerSec).padStart(12)} /s   (all cores, worker pool: ${f(r.twoCoreVerifyPerSec)} /s)`,
    ``,
    `durable appends in-process (signed cert.issue events: parsed, verified, judged, synced, checkpointed)`,
    `  ${f(r.appends.entries)} entries       ${f(r.appends.appendsPerSec).padStart(12)} /s   ack p50 ${f(r.appends.p50Ms, 1)} ms, p99 ${f(r.appends.p99Ms, 1)} ms   (${f(r.ratios.appendsPerSha256, 3)} × SHA-256 rate)`,
    `  at ${f(r.at5000PerSec.ratePerSec)}/s offered     ack p50 ${f(r.at5000PerSec.p50Ms, 1)} ms, p99 ${f(r.at5000PerSec.p99Ms, 1)} ms`,
    ``,
    `proofs from storage (random indices, tree of ${f(r.proofs.size)}, bounded cache)`,
    `  inclusion                 ${f(r.proofs.inclusionPerSec).padStart(12)} /s   p50 ${f(r.proofs.inclusionP50Us)} µs   (${f(r.ratios.inclusionProofsPerSha256, 3)} × SHA-256 rate)`,
    `  consistency               ${f(r.proofs.consistencyPerSec).padStart(12)} /s`,
    ``,
    `signed events over HTTP (POST /v1/entries, ${r.http.clients} keep-alive clients, server in a child process)`,
    `  ${f(r.http.events)} cert.issue events  ${f(r.http.eventsPerSec).padStart(8)} /s   receipt p50 ${f(r.http.p50Ms, 1)} ms, p99 ${f(r.http.p99Ms, 1)} ms   (${f(r.ratios.httpEventsPerTwoCoreVerify, 3)} × all-core verify rate)`,
    `  CPU per event             server ${r.http.cpuUsPerEvent.server === undefined ? 'n/a (no /proc)' : `${f(r.http.cpuUsPerEvent.server)} µs`}, load generator ${f(r.http.cpuUsPerEvent.loadGenerator)} µs   (a signature check costs ${f((r.machine.cores * 1e6) / r.twoCoreVerifyPerSec)} µs of CPU at the all-core rate)`,
    `  at 2,500/s offered        receipt p50 ${f(r.http.at2500PerSec.p50Ms, 1)} ms, p99 ${f(r.http.at2500PerSec.p99Ms, 1)} ms`,
    ``,
    `witnessed appends in-process (a 2-of-3 policy of three \`dojang witness\` processes on localhost, spec §13.5; beside no policy, same fresh ledger)`,
    ...(['none', 'witnessed'] as const).map((k) => {
      const x = r.witnessing[k];
      return `  ${k === 'none' ? 'no policy ' : '2 of 3    '}  ${f(x.throughput.entries)} × ${r.witnessing.window} writers ${f(x.throughput.appendsPerSec).padStart(8)} /s   ack p50 ${f(x.throughput.p50Ms, 1)} ms, p99 ${f(x.throughput.p99Ms, 1)} ms;   one writer: ack p50 ${f(x.sequential.p50Ms, 1)} ms, p99 ${f(x.sequential.p99Ms, 1)} ms`;
    }),
    `  witness round trip        p50 ${f(r.witnessing.roundTripMs.p50, 1)} ms, p99 ${f(r.witnessing.roundTripMs.p99, 1)} ms (one add-checkpoint, synced)   (2 of 3: ${f(r.ratios.witnessedAppendsPerUnwitnessed, 2)} × the appends/s of no policy, ${f(r.ratios.witnessedAppendsPerSha256, 4)} × SHA-256 rate; one writer's ack ${f(r.ratios.witnessedSequentialAckInRoundTrips, 1)} witness round trips later)`,
    ``,
    `presentations (${f(r.presentations.presentations)} distinct, each received through one transfer, ${f(r.presentations.bytes)} bytes)`,
    `  POST /v1/verify           ${f(r.presentations.api.perSec).padStart(12)} /s   p50 ${f(r.presentations.api.p50Ms, 1)} ms, p99 ${f(r.presentations.api.p99Ms, 1)} ms, ${r.presentations.api.clients} clients   (${f(r.ratios.apiPresentationsPerTwoCoreVerify, 3)} × all-core verify rate)`,
    `  server CPU per verdict    ${r.presentations.api.serverCpuUsPer === undefined ? 'n/a (no /proc)' : `${f(r.presentations.api.serverCpuUsPer)} µs`}`,
    `  offline, node:crypto      ${f(r.presentations.offlineCpuUs.node).padStart(12)} µs CPU each   (${f(r.ratios.offlinePresentationInSignatureChecks, 1)} × one signature check, ${f(r.presentations.offlineCpuUs.signatureCheck)} µs, measured between the rounds)`,
    `  offline, @noble           ${f(r.presentations.offlineCpuUs.noble).padStart(12)} µs CPU each`,
    ``,
    `wallets (${f(r.wallets.items)} resident registration copies in one wallet, ${f(r.wallets.sealedBytes)} bytes sealed each)`,
    `  seal (HPKE to the address)  ${f(r.wallets.cpuUs.seal).padStart(10)} µs CPU each   (${f(r.ratios.sealInSignatureChecks, 1)} × one signature check)`,
    `  open                      ${f(r.wallets.cpuUs.open).padStart(12)} µs CPU each   (${f(r.ratios.openInSignatureChecks, 1)} × one signature check)`,
    `  signed list over HTTP     ${f(r.wallets.list.perSec).padStart(12)} /s   p50 ${f(r.wallets.list.p50Ms, 1)} ms, p99 ${f(r.wallets.list.p99Ms, 1)} ms, ${r.wallets.list.clients} clients   (${f(r.ratios.walletListsPerTwoCoreVerify, 3)} × all-core verify rate; each a verify and a synced nonce write)`,
    `  signed fetch over HTTP    ${f(r.wallets.fetch.perSec).padStart(12)} /s   p50 ${f(r.wallets.fetch.p50Ms, 1)} ms, p99 ${f(r.wallets.fetch.p99Ms, 1)} ms`,
    ``,
    ...(r.postgres === undefined
      ? []
      : [
          `PostgreSQL (--store: a fresh database, one transaction with synchronous commit per batch; beside LevelDB above)`,
          `  ${f(r.postgres.appends.entries)} durable appends ${f(r.postgres.appends.appendsPerSec).padStart(9)} /s   ack p50 ${f(r.postgres.appends.p50Ms, 1)} ms, p99 ${f(r.postgres.appends.p99Ms, 1)} ms   (${f(r.ratios.postgresAppendsPerLevel, 2)} × LevelDB)`,
          `  inclusion proofs          ${f(r.postgres.proofs.inclusionPerSec).padStart(12)} /s   p50 ${f(r.postgres.proofs.inclusionP50Us)} µs, tree of ${f(r.postgres.proofs.size)}   (${f(r.ratios.postgresInclusionProofsPerLevel, 2)} × LevelDB)`,
          `  consistency proofs        ${f(r.postgres.proofs.consistencyPerSec).padStart(12)} /s`,
          `  over HTTP (${r.postgres.api[0].events} signed events, then GET /v1/entries/<i>/proof; processes, database and load generator on these ${r.machine.cores} cores):`,
          ...r.postgres.api.map(
            (a) =>
              `    ${a.store === 'level' ? 'LevelDB   ' : 'PostgreSQL'} × ${a.processes} process${a.processes > 1 ? 'es' : '  '}  ${f(a.eventsPerSec).padStart(7)} appends/s   receipt p50 ${f(a.p50Ms, 1)} ms, p99 ${f(a.p99Ms, 1)} ms   ${f(a.proofsPerSec).padStart(7)} proofs/s   (${f(a.eventsPerSec / r.postgres!.api[0].eventsPerSec, 2)} × / ${f(a.proofsPerSec / r.postgres!.api[0].proofsPerSec, 2)} × LevelDB × 1; CPU s per process ${a.cpuSecondsPerProcess.map((x) => f(x, 1)).join(', ')})`,
          ),
          ``,
        ]),
    `audit replay (dojang audit --data: every signature on all cores, every rule, checkpoint and stored hash)`,
    `  ${f(r.audit.entries)} entries        ${f(r.audit.entriesPerSec).padStart(12)} /s   ${f(r.audit.checkpoints)} checkpoints in ${f(r.audit.seconds, 1)} s   (${f(r.ratios.auditEntriesPerTwoCoreVerify, 3)} × all-core verify rate)`,
    ``,
    `peer: merkletreejs, same ${f(r.merkletreejs.leaves)} leaves in memory`,
    `  build                     ${f(r.merkletreejs.buildMs).padStart(12)} ms`,
    `  proofs                    ${f(r.merkletreejs.proofsPerSec).padStart(12)} /s   (dojang from disk: ${f(r.ratios.inclusionProofsVsMerkletreejs, 2)} ×)`,
  ];
  if (r.scale.length > 0) {
    lines.push('', 'scale: proofs and memory as the log grows');
    for (const s of r.scale) {
      lines.push(`  ${f(s.size).padStart(10)} entries   inclusion ${f(s.inclusionPerSec).padStart(8)} /s   p50 ${f(s.inclusionP50Us).padStart(5)} µs   consistency ${f(s.consistencyPerSec).padStart(8)} /s   rss ${f(s.rssMiB)} MiB, heap ${f(s.heapMiB)} MiB, ${f(s.cacheHashes)} cached hashes`);
    }
  }
  if (r.data) lines.push('', `ledger kept in ${r.data} (size ${f(r.size)}): dojang serve --data ${r.data}`);
  return lines.join('\n');
}

