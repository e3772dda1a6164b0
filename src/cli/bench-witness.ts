/**
 * dojang bench's witness figures (docs/performance.md): durable appends on one fresh
 * bench ledger without a witness policy and then with a 2-of-3 policy of three
 * `dojang witness` processes on localhost (spec §13.5), in the same run: throughput
 * under a closed loop, and the acknowledgement latency of one writer at a time (a write
 * then waits for its batch and for a witness round trip more); beside it, the round trip
 * of one add-checkpoint to one witness (its state synced before it answers).
 */
import * as nc from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex, utf8 } from '../core/bytes.js';
import { parsePolicy } from '../core/policy.js';
import { BENCH_ORIGIN_PREFIX, type Ledger } from '../ledger/ledger.js';
import { WitnessClient } from '../witness/client.js';
import { initLedger, openLedger } from './serve.js';
import { quantile } from './bench-verify.js';

/** One closed-loop measurement of appends (bench.ts closedLoop). */
export interface LoopFigures {
  entries: number;
  appendsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

export interface WitnessFigures {
  witnesses: number;
  quorum: string;
  /** Writers in flight in the throughput loop. */
  window: number;
  /** Rounds of each (alternating); every figure is the round with the median value. */
  rounds: number;
  /** Without a policy, then with it: throughput (window writers) and one writer at a time. */
  none: Round;
  witnessed: Round;
  /** One add-checkpoint to one witness process, sequentially (the witness syncs its state each time). */
  roundTripMs: { p50: number; p99: number; n: number };
}

/** Throughput (window writers) and one writer at a time. */
export interface Round {
  throughput: LoopFigures;
  sequential: LoopFigures;
}

const ROUNDS = 3;

/** medianBy returns the element whose key is the median (the lower one of an even count). */
function medianBy<T>(xs: readonly T[], key: (x: T) => number): T {
  return [...xs].sort((a, b) => key(a) - key(b))[Math.floor((xs.length - 1) / 2)];
}

/** What bench.ts lends: its workload and closed loop, so that the figures compare with its others. */
export interface BenchLoop {
  /** A fresh workload on the ledger in dir (it registers its issuer). */
  workload(ledger: Ledger, dir: string): Promise<unknown>;
  closedLoop(ledger: Ledger, n: number, window: number, w: unknown): Promise<LoopFigures>;
}

interface WitnessProcess {
  child: ChildProcess;
  url: string;
  vkey: string;
}

/** startWitness runs `dojang witness` (this CLI) on a free port for the log key; resolves once it listens. */
async function startWitness(dir: string, logKey: string, i: number): Promise<WitnessProcess> {
  const child = spawn(process.execPath, [process.argv[1], 'witness', '--data', dir, '--port', '0', '--log', logKey, '--name', `bench.dojang.example/w${i}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  try {
    return await new Promise<WitnessProcess>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const key = /witness key (\S+)/.exec(out);
        const url = /listening on (http:\/\/\S+)/.exec(out);
        if (key && url) resolve({ child, url: url[1], vkey: key[1] });
      });
      child.once('exit', (c) => reject(new Error(`dojang witness exited with ${c}: ${err.trim()}`)));
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}

async function stopWitness(w: WitnessProcess): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  const exited = new Promise((r) => w.child.once('exit', r));
  w.child.kill('SIGTERM');
  await exited;
}

/**
 * witnessFigures measures appends on a fresh bench ledger without a policy and with a
 * 2-of-3 policy of three witness processes, with the same loops, in ROUNDS alternating
 * rounds; then the round trip to one witness. Bounded: `n` entries per throughput loop,
 * `seq` per sequential one, per round.
 */
export async function witnessFigures(quick: boolean, loop: BenchLoop): Promise<WitnessFigures> {
  const n = quick ? 1_000 : 10_000;
  const seq = quick ? 60 : 400;
  const window = 256;
  const dir = await mkdtemp(join(tmpdir(), 'dojang-bench-witness-'));
  const witnesses: WitnessProcess[] = [];
  let ledger: Ledger | undefined;
  try {
    ledger = (await initLedger({ data: join(dir, 'log'), json: false, origin: `${BENCH_ORIGIN_PREFIX}${toHex(nc.randomBytes(4))}` })).ledger;
    const logKey = ledger.publicKeys.logKey;
    const measure = async (l: Ledger) => {
      const throughput = await loop.closedLoop(l, n, window, await loop.workload(l, join(dir, 'log')));
      const sequential = await loop.closedLoop(l, seq, 1, await loop.workload(l, join(dir, 'log')));
      return { throughput, sequential };
    };
    await ledger.close();
    ledger = undefined;
    for (let i = 0; i < 3; i++) witnesses.push(await startWitness(join(dir, `w${i}`), logKey, i));
    const text = [`log ${logKey}`, ...witnesses.map((w, i) => `witness W${i} ${w.vkey} ${w.url}`), 'group G 2 W0 W1 W2', 'quorum G', ''].join('\n');
    const policy = parsePolicy(utf8(text));
    // Rounds alternate (no policy, then the policy, on the same growing log), so that
    // neither gains from coming later; each figure is the round with the median value.
    const rounds: { none: Round; witnessed: Round }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      ledger = await openLedger(join(dir, 'log'));
      const none = await measure(ledger);
      await ledger.close();
      ledger = await openLedger(join(dir, 'log'), undefined, undefined, { policy, waitMs: 25_000 });
      const witnessed = await measure(ledger);
      rounds.push({ none, witnessed });
      if (r < ROUNDS - 1) {
        await ledger.close();
        ledger = undefined;
      }
    }
    const pick = (k: 'none' | 'witnessed'): Round => ({
      throughput: medianBy(rounds.map((x) => x[k].throughput), (x) => x.appendsPerSec),
      sequential: medianBy(rounds.map((x) => x[k].sequential), (x) => x.p50Ms),
    });
    // One witness's round trip: the latest checkpoint as the log signed it, again (same size:
    // checked, stored, synced, cosigned).
    const l = ledger!; // the last round's witnessed ledger, still open
    const client = new WitnessClient({ key: policy.witnesses[0].key, url: witnesses[0].url }, { prove: (a, b) => l.consistencyProof(a, b) });
    const cp = l.sequencer!.head!.checkpoint;
    await client.cosign(cp); // learns the witness's size
    const rt: number[] = [];
    for (let i = 0; i < (quick ? 50 : 200); i++) {
      const t = performance.now();
      await client.cosign(cp);
      rt.push(performance.now() - t);
    }
    rt.sort((a, b) => a - b);
    return { witnesses: 3, quorum: '2 of 3', window, rounds: ROUNDS, none: pick('none'), witnessed: pick('witnessed'), roundTripMs: { p50: quantile(rt, 0.5), p99: quantile(rt, 0.99), n: rt.length } };
  } finally {
    await ledger?.close();
    for (const w of witnesses) await stopWitness(w);
    await rm(dir, { recursive: true, force: true });
  }
}
