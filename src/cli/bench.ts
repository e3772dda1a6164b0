/**
 * dojang bench: the ledger's figures beside this machine's own limits, measured in the
 * same run (docs/performance.md). Every figure is a median over rounds; ratios divide
 * by the raw node:crypto rates of this machine so that results compare across machines.
 */
import * as nc from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MerkleTree } from 'merkletreejs';
import { toHex } from '../core/bytes.js';
import { ENTRY_VERSION, encodeEntry } from '../core/entry.js';
import { LedgerError } from '../core/errors.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../core/merkle.js';
import { exists, keyPath } from '../ledger/keyfiles.js';
import { BENCH_ORIGIN_PREFIX, type Ledger } from '../ledger/ledger.js';
import { initLedger, openLedger } from './serve.js';
import type { Io } from './main.js';

export interface BenchOptions {
  data?: string;
  entries?: number;
  json: boolean;
  quick: boolean;
  printAcks: boolean;
  scale?: number[];
  /** Only measure proofs on the ledger in `data` (used by --scale in a fresh child process). */
  proofsOnly?: boolean;
}

const now = () => performance.now();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

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


const PAD = new Uint8Array(120);
const NO_SIG = new Uint8Array(64);

/**
 * benchEntry makes the i-th bench record of a run: a well-formed entry envelope of type
 * bench.record (spec §5.2), about 200 bytes, unique per (run, i), unsigned (zero sig).
 */
export function benchEntry(run: Uint8Array, i: number): Uint8Array {
  return encodeEntry({ v: ENTRY_VERSION, type: 'bench.record', body: { run, n: i, pad: PAD }, sig: NO_SIG });
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

/** closedLoop appends n entries keeping `window` in flight; throughput and ack latency. */
async function closedLoop(ledger: Ledger, n: number, window: number, run: Uint8Array, onAck?: (i: number, idx: number, lh: Uint8Array) => void): Promise<AppendFigures> {
  // The crash-test writer runs without end: keep no per-entry latencies, and make
  // entries as it goes; otherwise make them all first so that only the ledger is timed.
  const streaming = onAck !== undefined;
  const lat: number[] = streaming ? [] : new Array(n);
  const made: Uint8Array[] = streaming ? [] : Array.from({ length: n }, (_, i) => benchEntry(run, i));
  let next = 0;
  const t0 = now();
  async function worker() {
    while (next < n) {
      const i = next++;
      const t = now();
      const r = await ledger.append(streaming ? benchEntry(run, i) : made[i]);
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
async function openLoop(ledger: Ledger, perSec: number, secs: number, run: Uint8Array, base: number): Promise<{ ratePerSec: number; sent: number; p50Ms: number; p99Ms: number }> {
  const total = Math.floor(perSec * secs);
  const made = Array.from({ length: total }, (_, k) => benchEntry(run, base + k));
  const lat: number[] = [];
  const pending: Promise<void>[] = [];
  const t0 = now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((now() - t0) / 1000) * perSec) + 1);
    while (sent < due) {
      const t = now();
      const e = made[sent++];
      pending.push(ledger.append(e).then(() => void lat.push(now() - t)));
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
function merkletreejsPeer(n: number, run: Uint8Array, secs: number): { leaves: number; buildMs: number; proofsPerSec: number } {
  const sha = (d: Buffer) => nc.createHash('sha256').update(d).digest();
  const leaves = Array.from({ length: n }, (_, i) => Buffer.from(leafHash(benchEntry(run, i))));
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

function proofsInChild(dir: string, quick: boolean): ProofFigures {
  const args = [process.argv[1], 'bench', '--data', dir, '--proofs-only', ...(quick ? ['--quick'] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`proof measurement failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as ProofFigures;
}

export async function runBench(o: BenchOptions, io: Io): Promise<number> {
  const run = nc.randomBytes(16);
  const dir = o.data ?? (await mkdtemp(join(tmpdir(), 'dojang-bench-')));
  const keep = o.data !== undefined;
  const ledger = await openOrInit(dir);
  try {
    if (o.printAcks) {
      // Crash-test writer: append until killed (or --entries), printing each ack.
      // stdout is a pipe: writes are synchronous on Linux, so a printed ack was made
      // only after the entry was durable and checkpointed.
      const n = o.entries ?? Number.MAX_SAFE_INTEGER;
      io.out(`start ${ledger.head.size}`);
      await closedLoop(ledger, n, 256, run, (_i, idx, lh) => io.out(`ack ${idx} ${toHex(lh)}`));
      return 0;
    }
    if (o.proofsOnly) {
      io.out(JSON.stringify(await proofRates(ledger, o.quick ? 1.5 : 3)));
      return 0;
    }
    const n = o.entries ?? (o.quick ? 20_000 : 100_000);
    const limits = machineLimits(o.quick);
    const appends = await closedLoop(ledger, n, 4096, run);
    const at5000 = await openLoop(ledger, 5000, o.quick ? 1 : 3, run, n);
    const proofs = await proofRates(ledger, o.quick ? 1.5 : 3);
    const peer = merkletreejsPeer(Math.min(n, 100_000), run, o.quick ? 0.5 : 1);
    const scale: ProofFigures[] = [];
    for (const s of o.scale ?? []) {
      const sdir = await mkdtemp(join(tmpdir(), 'dojang-scale-'));
      const sl = await openOrInit(sdir);
      try {
        const srun = nc.randomBytes(16);
        if (sl.head.size < s) await closedLoop(sl, s - sl.head.size, 4096, srun);
        await sl.close();
        // Measure proofs and memory in a fresh process, as a server that just started would.
        scale.push(proofsInChild(sdir, o.quick));
      } finally {
        await sl.close().catch(() => {});
        await rm(sdir, { recursive: true, force: true });
      }
    }
    const result = {
      machine: { cores: (await import('node:os')).cpus().length, node: process.version },
      limits,
      appends,
      at5000PerSec: at5000,
      proofs,
      merkletreejs: peer,
      scale,
      ratios: {
        appendsPerSha256: appends.appendsPerSec / limits.sha256PerSec,
        appendsPerEd25519Sign: appends.appendsPerSec / limits.ed25519SignPerSec,
        inclusionProofsPerSha256: proofs.inclusionPerSec / limits.sha256PerSec,
        inclusionProofsVsMerkletreejs: proofs.inclusionPerSec / peer.proofsPerSec,
      },
      data: keep ? dir : undefined,
      size: ledger.head.size,
    };
    if (o.json) io.out(JSON.stringify(result));
    else io.out(formatBench(result));
    return 0;
  } finally {
    await ledger.close();
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
    `  Ed25519 verify            ${f(L.ed25519VerifyPerSec).padStart(12)} /s`,
    ``,
    `durable appends (LevelDB, sync, signed + cosigned checkpoint per batch)`,
    `  ${f(r.appends.entries)} entries       ${f(r.appends.appendsPerSec).padStart(12)} /s   ack p50 ${f(r.appends.p50Ms, 1)} ms, p99 ${f(r.appends.p99Ms, 1)} ms   (${f(r.ratios.appendsPerSha256, 3)} × SHA-256 rate)`,
    `  at ${f(r.at5000PerSec.ratePerSec)}/s offered     ack p50 ${f(r.at5000PerSec.p50Ms, 1)} ms, p99 ${f(r.at5000PerSec.p99Ms, 1)} ms`,
    ``,
    `proofs from storage (random indices, tree of ${f(r.proofs.size)}, bounded cache)`,
    `  inclusion                 ${f(r.proofs.inclusionPerSec).padStart(12)} /s   p50 ${f(r.proofs.inclusionP50Us)} µs   (${f(r.ratios.inclusionProofsPerSha256, 3)} × SHA-256 rate)`,
    `  consistency               ${f(r.proofs.consistencyPerSec).padStart(12)} /s`,
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

