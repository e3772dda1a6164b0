/**
 * VerifyPool checks Ed25519 signatures on worker threads, so that admission verifies on
 * every core and the sequencer never waits on a signature. Every verdict is
 * verifyEd25519 of src/core/crypto.ts (strict RFC 8032 rules, spec §2), run by
 * src/ledger/verify-worker.ts; `inline` runs the same function on the calling thread.
 *
 * Contract:
 *  - verify(items) resolves with one boolean per item, in order, exactly what
 *    verifyEd25519(publicKey, message, signature) returns for it. An invalid key or
 *    signature is `false`, never an error. The bytes must not change until the promise
 *    settles (they are read when dispatched, and again if a batch is retried).
 *  - Queued items are coalesced across calls into batches of up to 512 items (1 MiB) per
 *    message (dispatch waits for the end of the event loop's turn, so the calls of
 *    requests that arrive together share a message), packed into one buffer that is transferred, not cloned; a single large
 *    call is split evenly across the workers. Each worker has at most two batches in
 *    flight, so it never idles for a round trip.
 *  - Bounded: a call whose items, added to those accepted and not yet answered, exceed
 *    maxQueue is rejected with LedgerError OVERLOADED, and nothing of it is queued.
 *  - A worker that exits (crash, uncaught error, terminate) is replaced; the items it
 *    had in flight are retried once, each retried piece in a batch of its own, and if
 *    that attempt dies too, its call is rejected with UNAVAILABLE. Three workers in a row
 *    that die before they report ready (a broken build) make the pool fail: every
 *    pending and later call is rejected UNAVAILABLE.
 *  - close() rejects every pending call and every later one with UNAVAILABLE and
 *    resolves when the workers are gone.
 *  - Workers are unref'd while idle (an idle pool does not keep the process alive) and
 *    ref'd while they hold work.
 *
 * Errors: LedgerError OVERLOADED, UNAVAILABLE; a TypeError for items that are not
 * Uint8Arrays and a RangeError for bad options (callers' bugs).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { verifyEd25519 } from '../core/crypto.js';
import { LedgerError } from '../core/errors.js';
import { VERIFY_WORKER_TAG, type VerifyReady, type VerifyReply, type VerifyRequest } from './verify-worker.js';

export interface VerifyItem {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

export interface VerifyPoolOptions {
  /** Worker threads; default os.availableParallelism(). 0 means inline. */
  threads?: number;
  /** Items accepted and not yet answered, at most; default 65,536. */
  maxQueue?: number;
  /** Verify on the calling thread, no workers (threads = 0). */
  inline?: boolean;
}

const DEFAULT_MAX_QUEUE = 65_536;
const MAX_BATCH_ITEMS = 512; // ~70 ms of work on one core: messaging overhead well under 1%
const MAX_BATCH_BYTES = 1 << 20; // entries may be 64 KiB: keep one message's copy small
const IN_FLIGHT_PER_WORKER = 2;
const MAX_FAILED_STARTS = 3;

/**
 * workerUrl locates the compiled worker. Running compiled (dist/ledger/verify-pool.js)
 * it sits beside this module. Loaded as TypeScript source (vitest), this module has no
 * compiled sibling and a worker thread cannot load .ts, so the worker is tsc's output of
 * the same source: ../../dist/ledger/ from src/ledger/ (tsconfig: rootDir src, outDir
 * dist). That output must be current (`npm test` builds first).
 */
function workerUrl(): URL {
  const beside = new URL('./verify-worker.js', import.meta.url);
  if (existsSync(beside)) return beside;
  const tried = [beside.href];
  if (import.meta.url.endsWith('.ts')) {
    const built = new URL('../../dist/ledger/verify-worker.js', import.meta.url);
    if (existsSync(built)) return built;
    tried.push(built.href);
  }
  throw new Error(`verify worker not found (tried ${tried.join(', ')}); build with tsc first`);
}

/**
 * workerExecArgv is the parent's execArgv (what a worker inherits by default) without
 * --input-type: a process started with `node --input-type=module -e ...` passes it on,
 * and a worker loaded from a file then refuses to start (ERR_INPUT_TYPE_NOT_ALLOWED).
 */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--input-type') i++;
    else if (!argv[i].startsWith('--input-type=')) out.push(argv[i]);
  }
  return out;
}

interface Call {
  readonly items: readonly VerifyItem[];
  readonly results: boolean[];
  left: number; // items not yet answered
  settled: boolean;
  resolve(r: boolean[]): void;
  reject(e: unknown): void;
}

/** Segment is the items [start, end) of one call. */
interface Segment {
  readonly call: Call;
  start: number;
  readonly end: number;
  readonly retried: boolean;
}

interface Batch {
  readonly segments: Segment[];
  readonly items: number;
}

interface Slot {
  readonly worker: Worker;
  readonly inFlight: Map<number, Batch>;
  ready: boolean;
  lastError: unknown;
}

/** A FIFO of segments with O(1) push and shift. */
class SegmentQueue {
  private a: Segment[] = [];
  private head = 0;
  items = 0; // items in the queued segments

  get length(): number {
    return this.a.length - this.head;
  }
  peek(): Segment | undefined {
    return this.a[this.head];
  }
  push(s: Segment): void {
    this.a.push(s);
    this.items += s.end - s.start;
  }
  shift(): Segment | undefined {
    const s = this.a[this.head];
    if (s === undefined) return undefined;
    this.a[this.head++] = undefined as unknown as Segment;
    this.items -= s.end - s.start;
    if (this.head > 1024 && this.head * 2 > this.a.length) {
      this.a = this.a.slice(this.head);
      this.head = 0;
    }
    return s;
  }
  /** took records that n items of the front segment left it (its start moved). */
  took(n: number): void {
    this.items -= n;
  }
}

function itemBytes(it: VerifyItem): number {
  return it.publicKey.length + it.message.length + it.signature.length;
}

export class VerifyPool {
  /** Worker threads of the pool; 0 when verifying inline. */
  readonly threads: number;
  private readonly maxQueue: number;
  private readonly url: URL | undefined;
  private slots: Slot[] = [];
  private readonly queue = new SegmentQueue();
  private readonly retry = new SegmentQueue();
  private readonly calls = new Set<Call>();
  private outstanding = 0; // items of unsettled calls not yet answered
  private nextId = 1;
  private dispatchPending = false;
  private failedStarts = 0;
  private failure: LedgerError | undefined;
  private closing: Promise<void> | undefined;

  constructor(opts: VerifyPoolOptions = {}) {
    const threads = opts.inline ? 0 : (opts.threads ?? availableParallelism());
    if (!Number.isSafeInteger(threads) || threads < 0) throw new RangeError(`VerifyPool: threads must be an integer >= 0, got ${threads}`);
    const maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
    if (!Number.isSafeInteger(maxQueue) || maxQueue < 1) throw new RangeError(`VerifyPool: maxQueue must be an integer >= 1, got ${maxQueue}`);
    this.threads = threads;
    this.maxQueue = maxQueue;
    this.url = threads > 0 ? workerUrl() : undefined;
    try {
      for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
    } catch (e) {
      for (const s of this.slots.splice(0)) void s.worker.terminate();
      throw e;
    }
  }

  /**
   * verify checks every item with verifyEd25519 and resolves with the verdicts in
   * order. Rejects with LedgerError OVERLOADED when the pool holds too many items,
   * UNAVAILABLE when it is closed or its workers keep dying, TypeError for items that
   * are not Uint8Arrays.
   */
  async verify(items: readonly VerifyItem[]): Promise<boolean[]> {
    if (this.closing !== undefined) throw new LedgerError('UNAVAILABLE', 'verify pool is closed');
    if (this.failure !== undefined) throw this.failure;
    if (!Array.isArray(items)) throw new TypeError('verify: items must be an array');
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (!(it?.publicKey instanceof Uint8Array) || !(it.message instanceof Uint8Array) || !(it.signature instanceof Uint8Array)) {
        throw new TypeError(`verify: item ${i} needs Uint8Array publicKey, message and signature`);
      }
    }
    if (this.outstanding + items.length > this.maxQueue) {
      throw new LedgerError('OVERLOADED', `verify queue full: ${this.outstanding} items pending, ${items.length} more exceed ${this.maxQueue}`);
    }
    if (items.length === 0) return [];
    if (this.threads === 0) return items.map((it) => verifyEd25519(it.publicKey, it.message, it.signature));

    return new Promise<boolean[]>((resolve, reject) => {
      const call: Call = { items, results: new Array<boolean>(items.length), left: items.length, settled: false, resolve, reject };
      this.calls.add(call);
      this.outstanding += items.length;
      this.queue.push({ call, start: 0, end: items.length, retried: false });
      this.scheduleDispatch();
    });
  }

  /** close rejects pending and later calls with UNAVAILABLE and stops the workers. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.failAll(new LedgerError('UNAVAILABLE', 'verify pool closed'));
      const slots = this.slots;
      this.slots = [];
      this.closing = Promise.all(slots.map((s) => s.worker.terminate())).then(() => undefined);
    }
    return this.closing;
  }

  /**
   * terminateWorkerForTest stops worker i the way a crash would (the pool replaces it
   * and retries its batches; before its ready message it counts as a failed start) and
   * resolves, once the replacement is started, with the number of items it had in
   * flight. For tests only.
   */
  async terminateWorkerForTest(i: number): Promise<number> {
    const slot = this.slots[i];
    if (slot === undefined) throw new RangeError(`no worker ${i}`);
    let n = 0;
    for (const b of slot.inFlight.values()) n += b.items;
    await slot.worker.terminate();
    return n;
  }

  private spawn(): Slot {
    const worker = new Worker(this.url!, { workerData: VERIFY_WORKER_TAG, execArgv: workerExecArgv() });
    const slot: Slot = { worker, inFlight: new Map(), ready: false, lastError: undefined };
    worker.unref();
    worker.on('message', (m: VerifyReply | VerifyReady) => this.onMessage(slot, m));
    worker.on('error', (e) => {
      slot.lastError = e; // 'exit' follows and does the work
    });
    worker.on('messageerror', (e) => {
      slot.lastError = e;
      void worker.terminate();
    });
    worker.on('exit', (code) => this.onExit(slot, code));
    return slot;
  }

  private onMessage(slot: Slot, m: VerifyReply | VerifyReady): void {
    if ('ready' in m) {
      slot.ready = true;
      this.failedStarts = 0;
      return;
    }
    const batch = slot.inFlight.get(m.id);
    if (batch === undefined) return;
    if (!(m.ok instanceof Uint8Array) || m.ok.length !== batch.items) {
      slot.lastError = new Error('verify worker answered with the wrong number of verdicts');
      void slot.worker.terminate(); // handled as a crash: the batch is still in flight
      return;
    }
    slot.inFlight.delete(m.id);
    if (slot.inFlight.size === 0) slot.worker.unref();
    let k = 0;
    for (const seg of batch.segments) {
      const call = seg.call;
      const n = seg.end - seg.start;
      if (!call.settled) {
        for (let i = 0; i < n; i++) call.results[seg.start + i] = m.ok[k + i] === 1;
        call.left -= n;
        this.outstanding -= n;
        if (call.left === 0) {
          call.settled = true;
          this.calls.delete(call);
          call.resolve(call.results);
        }
      }
      k += n;
    }
    this.scheduleDispatch();
  }

  private onExit(slot: Slot, code: number): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return; // closing, or already replaced
    this.slots.splice(i, 1);
    const cause = slot.lastError ?? new Error(`verify worker exited with code ${code}`);
    for (const batch of slot.inFlight.values()) {
      for (const seg of batch.segments) {
        if (seg.call.settled) continue;
        if (seg.retried) this.fail(seg.call, new LedgerError('UNAVAILABLE', 'verify worker died twice on the same items', { cause }));
        else this.retry.push({ call: seg.call, start: seg.start, end: seg.end, retried: true });
      }
    }
    slot.inFlight.clear();
    if (!slot.ready && ++this.failedStarts >= MAX_FAILED_STARTS) {
      this.breakDown(new LedgerError('UNAVAILABLE', `verify workers die before they start (${MAX_FAILED_STARTS} in a row)`, { cause }));
      return;
    }
    try {
      this.slots.push(this.spawn());
    } catch (e) {
      // In an event handler: a throw here would be an uncaught exception of the process.
      this.breakDown(new LedgerError('UNAVAILABLE', 'cannot start a verify worker', { cause: e }));
      return;
    }
    this.dispatch();
  }

  /** breakDown fails the pool for good: every pending and later call gets e. */
  private breakDown(e: LedgerError): void {
    this.failure = e;
    this.failAll(e);
    for (const s of this.slots.splice(0)) void s.worker.terminate();
  }

  private fail(call: Call, e: LedgerError): void {
    if (call.settled) return;
    call.settled = true;
    this.calls.delete(call);
    this.outstanding -= call.left;
    call.reject(e);
  }

  private failAll(e: LedgerError): void {
    for (const call of [...this.calls]) this.fail(call, e);
    while (this.queue.shift() !== undefined);
    while (this.retry.shift() !== undefined);
  }

  /**
   * scheduleDispatch dispatches once the event loop has run the I/O callbacks of this
   * turn, so that calls made by many requests arriving together share one message
   * (a message per call costs more than a signature check).
   */
  private scheduleDispatch(): void {
    if (this.dispatchPending) return;
    this.dispatchPending = true;
    setImmediate(() => {
      this.dispatchPending = false;
      this.dispatch();
    });
  }

  /** dispatch fills every worker's first in-flight slot, then the second, while items wait. */
  private dispatch(): void {
    if (this.slots.length === 0) return;
    const waiting = this.queue.items + this.retry.items;
    if (waiting === 0) return;
    const target = Math.min(MAX_BATCH_ITEMS, Math.max(1, Math.ceil(waiting / this.slots.length)));
    for (let depth = 0; depth < IN_FLIGHT_PER_WORKER; depth++) {
      for (const slot of this.slots) {
        if (slot.inFlight.size > depth) continue;
        const batch = this.take(target);
        if (batch === undefined) return;
        this.send(slot, batch);
      }
    }
  }

  /** take removes the next batch from the queues: a retried segment alone, else up to target items. */
  private take(target: number): Batch | undefined {
    for (let s = this.retry.shift(); s !== undefined; s = this.retry.shift()) {
      if (!s.call.settled) return { segments: [s], items: s.end - s.start };
    }
    const segments: Segment[] = [];
    let n = 0;
    let bytes = 0;
    while (n < target && bytes < MAX_BATCH_BYTES) {
      const s = this.queue.peek();
      if (s === undefined) break;
      if (s.call.settled) {
        this.queue.shift();
        continue;
      }
      let end = s.start;
      while (end < s.end && n < target && bytes < MAX_BATCH_BYTES) {
        bytes += itemBytes(s.call.items[end++]);
        n++;
      }
      if (end === s.end) {
        this.queue.shift();
        segments.push(s);
      } else {
        segments.push({ call: s.call, start: s.start, end, retried: false });
        this.queue.took(end - s.start);
        s.start = end;
      }
    }
    return n === 0 ? undefined : { segments, items: n };
  }

  /** send packs a batch into one buffer (the layout of verify-worker.ts) and transfers it. */
  private send(slot: Slot, batch: Batch): void {
    const lens = new Uint32Array(3 * batch.items);
    let total = 0;
    let j = 0;
    for (const seg of batch.segments) {
      for (let i = seg.start; i < seg.end; i++) {
        const it = seg.call.items[i];
        lens[j++] = it.publicKey.length;
        lens[j++] = it.message.length;
        lens[j++] = it.signature.length;
        total += it.publicKey.length + it.message.length + it.signature.length;
      }
    }
    const data = new Uint8Array(total);
    let o = 0;
    for (const seg of batch.segments) {
      for (let i = seg.start; i < seg.end; i++) {
        const it = seg.call.items[i];
        data.set(it.publicKey, o);
        o += it.publicKey.length;
        data.set(it.message, o);
        o += it.message.length;
        data.set(it.signature, o);
        o += it.signature.length;
      }
    }
    const id = this.nextId++;
    if (slot.inFlight.size === 0) slot.worker.ref();
    slot.inFlight.set(id, batch);
    const req: VerifyRequest = { id, lens, data };
    try {
      slot.worker.postMessage(req, [lens.buffer, data.buffer]);
    } catch (e) {
      slot.lastError = e;
      void slot.worker.terminate(); // handled as a crash: the batch is in flight
    }
  }
}
