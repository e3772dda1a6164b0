/**
 * The sequencer: the single writer of a log (spec §8.2). It takes entries into a
 * bounded queue, cuts batches (up to maxBatch entries, or maxDelayMs after the first
 * one waits), and for each batch, in order:
 *
 *  1. fixes the batch time T (unix seconds, never earlier than the previous T);
 *  2. drops entries already in the log or earlier in the batch (strong dedup: the same
 *     entry bytes always get the index they first got);
 *  3. runs the admission rules (an injected `admit` hook; refused entries are answered
 *     with their LedgerError and never appended), judged at T;
 *  4. extends the Merkle tree in memory (a copy of the right edge);
 *  5. signs the new checkpoint with the log key and cosigns it (cosignature/v1) with
 *     the timestamp key at time T;
 *  6. appends entries, stored hashes, the checkpoint and the new head in one atomic,
 *     durable store.append() (compare-and-swap on the size);
 *  7. only then answers every entry of the batch with its receipt.
 *
 * When nothing arrives for recosignMs, the latest checkpoint is cosigned again with a
 * fresh time (same size and root; the history keeps the first signing).
 *
 * Any store failure stops the sequencer (fail-stop): what is durable is whatever the
 * atomic append left, and a restart re-checks the right edge against the checkpoint.
 * Every waiting writer then gets UNAVAILABLE.
 *
 * Time never goes backwards: T is at least the time of the latest checkpoint. When the
 * clock is more than MAX_CLOCK_BEHIND_S behind that time, batches are refused with
 * UNAVAILABLE (and `failure` says why) until the clock catches up, rather than signing
 * times the clock does not back.
 *
 * Forks: a CheckpointGuard, kept outside the store, holds the last checkpoint this log
 * signed. On start the store must hold a tree that extends it; after every append the
 * guard is updated before anyone is answered. A store restored from an old backup is
 * therefore refused (STATE_MISMATCH) instead of being extended into a fork.
 */
import { LedgerError, isLedgerError } from '../core/errors.js';
import { leafHash, TreeEdge, treeHash, type HashReader } from '../core/merkle.js';
import { formatCheckpoint, parseCheckpoint, type Checkpoint } from '../core/checkpoint.js';
import { openNote, formatNote, ed25519Verifier, type NoteSigner, type NoteSignature, type NoteVerifier } from '../core/note.js';
import { cosignatureVerifier, cosignedTime } from '../core/cosignature.js';
import { MAX_ENTRY_SIZE } from '../core/tiles.js';
import { byteKey, equalBytes, toHex, utf8 } from '../core/bytes.js';
import type { LedgerStore, StateWrite, StoredHead } from '../storage/store.js';

/** Clock returns the current time in milliseconds since the Unix epoch. */
export type Clock = () => number;

export interface TimestampSigner {
  readonly name: string;
  signAt(text: string, time: number): NoteSignature;
}

/**
 * Admit judges a batch of fresh entries at batch time T (unix seconds) and returns,
 * per entry, undefined to accept or the LedgerError that refuses it. Entries are
 * judged in order: an entry may depend on the ones accepted before it in the batch
 * (accepted entries take the indices ctx.firstIndex, ctx.firstIndex + 1, …). It may
 * also return state writes for the store's certificate-state index, which the
 * sequencer appends atomically with the batch, and a callback run once they are
 * durable.
 */
export type Admit = (entries: readonly Uint8Array[], time: number, ctx: AdmitContext) => Promise<(LedgerError | undefined)[] | AdmitResult>;

export interface AdmitContext {
  readonly firstIndex: number;
  readonly leafHashes: readonly Uint8Array[];
  /** What each entry's submitter passed to add() beside it (e.g. its parsed, verified form). */
  readonly meta: readonly unknown[];
}

export interface AdmitResult {
  verdicts: (LedgerError | undefined)[];
  state?: StateWrite[];
  persisted?: () => void;
}

/** DEFAULT_MAX_QUEUE: how many entries may wait for the sequencer (spec §8.2). */
export const DEFAULT_MAX_QUEUE = 16_384;
/**
 * Places beyond a full queue for revocations whose signature is verified and whose key is
 * entitled (spec §8.2, §5.9): a flood of other writes cannot keep an issuer from revoking,
 * and no one key can take more than its share.
 */
export const REVOCATION_RESERVE = 1024;
export const REVOCATION_RESERVE_PER_KEY = 16;

/** MAX_CLOCK_BEHIND_S: how far the clock may lag the latest checkpoint time (seconds). */
export const MAX_CLOCK_BEHIND_S = 60;

/**
 * CheckpointGuard keeps the last checkpoint the log signed outside the store (spec
 * §8.2), durably: save() returns only once the note survives a crash.
 */
export interface CheckpointGuard {
  load(): Promise<Uint8Array | undefined>;
  save(checkpoint: Uint8Array): Promise<void>;
  close?(): Promise<void>;
}

export interface SequencerOptions {
  store: LedgerStore;
  origin: string;
  logSigner: NoteSigner;
  timestampSigner: TimestampSigner & { readonly publicKey: Uint8Array };
  guard?: CheckpointGuard;
  clock?: Clock;
  admit?: Admit;
  maxBatch?: number;
  maxDelayMs?: number;
  maxQueue?: number;
  recosignMs?: number;
  /** Called with the new tree size after each batch this sequencer appended (and before anyone is answered). */
  onAppend?: (size: number) => void;
}

export interface Receipt {
  readonly index: number;
  readonly leafHash: Uint8Array;
  /** True when the entry was already in the log (its first index is returned). */
  readonly duplicate: boolean;
  /** For fresh entries: the batch time T and the checkpoint that first covered it. */
  readonly time?: number;
  readonly checkpoint?: Uint8Array;
  /**
   * For fresh entries: the stored hashes of the tree of that checkpoint that prove any
   * entry of the batch in it, served from memory (TreeEdge.readerWith).
   */
  readonly batchHashes?: HashReader;
  /** For an entry another process of the cluster sequenced: the receipt its leader built, encoded (spec §8.4b). */
  readonly encoded?: Uint8Array;
}

export interface Head {
  readonly size: number;
  readonly root: Uint8Array;
  /** The latest signed checkpoint (possibly a re-cosignature). */
  readonly checkpoint: Uint8Array;
  /** Its cosignature time, unix seconds. */
  readonly time: number;
}

interface Prepared {
  fresh: Pending[];
  followers: Map<Pending, Pending>;
  firstIndex: number;
  hashes: Uint8Array[];
  /** The edge before the batch (for the receipts' proofs). */
  before: TreeEdge;
  root: Uint8Array;
  note: Uint8Array;
  time: number;
  size: number;
  state?: StateWrite[];
  persisted?: () => void;
  /** Entries admission refused, answered once the batch is stored. */
  refused: { p: Pending; err: LedgerError }[];
}

interface Pending {
  entry: Uint8Array;
  meta: unknown;
  leafHash: Uint8Array;
  /** The key whose reserved place this entry took beyond a full queue (a revocation, spec §8.2). */
  reserved?: string;
  /** leafHash as a string, the key of maps. */
  key: string;
  /** Later submissions of the same entry, answered with this one's receipt. */
  waiters?: Pending[];
  resolve: (r: Receipt) => void;
  reject: (e: unknown) => void;
}

export class Sequencer {
  private readonly store: LedgerStore;
  private readonly origin: string;
  private readonly logSigner: NoteSigner;
  private readonly tsSigner: TimestampSigner;
  private readonly guard?: CheckpointGuard;
  private clockProblem: string | undefined;
  /** Entries prepared but not yet persisted, by leaf hash (dedup across pipelined batches). */
  private readonly inflight = new Map<string, Pending>();
  /** T of the last prepared batch (never below the head's time). */
  private preparedTime = 0;
  private readonly clock: Clock;
  private readonly admit?: Admit;
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly maxQueue: number;
  private readonly onAppend: ((size: number) => void) | undefined;
  /** Refusals of batches that appended nothing, waiting for the batch before to be stored. */
  private readonly refusedAhead: { p: Pending; err: LedgerError }[] = [];
  private readonly recosignMs: number;

  private edge: TreeEdge;
  private _head: Head | undefined;
  private queue: Pending[] = [];
  /** Places taken beyond a full queue by entitled revocations, in all and per revoking key (spec §8.2). */
  private reservedCount = 0;
  private readonly reservedBy = new Map<string, number>();
  /** Leaf hashes of the entries holding reserved places: the same bytes take one place at most. */
  private readonly reservedLeaves = new Set<string>();
  private running = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private recosignTimer: ReturnType<typeof setInterval> | undefined;
  private lastActivity = 0;
  private failed: unknown;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private wakeIdle: (() => void) | undefined;

  private constructor(o: SequencerOptions, edge: TreeEdge, head: Head | undefined) {
    this.store = o.store;
    this.origin = o.origin;
    this.logSigner = o.logSigner;
    this.tsSigner = o.timestampSigner;
    this.guard = o.guard;
    this.clock = o.clock ?? Date.now;
    this.admit = o.admit;
    this.maxBatch = o.maxBatch ?? 256;
    this.maxDelayMs = o.maxDelayMs ?? 2;
    this.maxQueue = o.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.onAppend = o.onAppend;
    this.recosignMs = o.recosignMs ?? 5000;
    this.edge = edge;
    this._head = head;
    this.lastActivity = this.clock();
    if (this.recosignMs > 0) {
      this.recosignTimer = setInterval(() => this.maybeRecosign(), Math.max(100, Math.floor(this.recosignMs / 4)));
      this.recosignTimer.unref?.();
    }
  }

  /**
   * open loads the head of the store and checks the stored right edge of the tree
   * against the latest checkpoint: its log signature, origin, size and root. Throws
   * LedgerError STATE_MISMATCH (with what disagrees) rather than run on a bad state.
   */
  static async open(o: SequencerOptions): Promise<Sequencer> {
    const stored = await o.store.readHead();
    const verifier = ed25519Verifier(o.logSigner.name, o.logSigner.publicKey);
    const tsVerifier = cosignatureVerifier(o.timestampSigner.name, o.timestampSigner.publicKey);
    const guarded = o.guard === undefined ? undefined : await o.guard.load();
    let guardCp: Checkpoint | undefined;
    if (guarded !== undefined) {
      try {
        guardCp = parseCheckpoint(openNote(guarded, [verifier]).note.text);
      } catch (e) {
        throw new LedgerError('STATE_MISMATCH', `the saved last checkpoint does not verify under this ledger's log key: ${(e as Error).message}`, { cause: e });
      }
    }
    if (stored === undefined) {
      if (guardCp !== undefined) throw new LedgerError('STATE_MISMATCH', `the store is empty but this log already signed a checkpoint of size ${guardCp.size}: the store was lost or replaced`);
      return new Sequencer(o, new TreeEdge(0, []), undefined);
    }
    const { head, edge } = await checkStoredHead(stored, { origin: o.origin, log: verifier, timestamp: tsVerifier, readHashes: (ix) => o.store.readHashes(ix) });
    const cp = { size: head.size, root: head.root };
    const time = head.time;
    const hist = await o.store.readCheckpoints(cp.size, 1);
    if (hist.length !== 1 || hist[0].size !== cp.size) throw new LedgerError('STATE_MISMATCH', `no history checkpoint for size ${cp.size}`);
    const histCp = parseCheckpoint(openNote(hist[0].checkpoint, [verifier]).note.text);
    if (!equalBytes(histCp.root, cp.root)) throw new LedgerError('STATE_MISMATCH', `history checkpoint of size ${cp.size} has another root`);
    if (guardCp !== undefined) {
      if (guardCp.size > cp.size) {
        throw new LedgerError('STATE_MISMATCH', `the store holds a tree of size ${cp.size} but this log already signed a checkpoint of size ${guardCp.size}: the store was rolled back (restored from a backup?); extending it would fork the log`);
      }
      const root = guardCp.size === cp.size ? cp.root : await treeHash(guardCp.size, (ix) => o.store.readHashes(ix));
      if (!equalBytes(root, guardCp.root)) {
        throw new LedgerError('STATE_MISMATCH', `the stored tree at size ${guardCp.size} has another root than the checkpoint this log signed: the store was replaced`);
      }
    }
    if (o.guard !== undefined && (guardCp === undefined || guardCp.size < cp.size)) await o.guard.save(stored.checkpoint);
    return new Sequencer(o, edge, { size: cp.size, root: cp.root, checkpoint: stored.checkpoint, time });
  }

  /** stopped is true once a store failure (or abort) stopped the sequencer for good. */
  get stopped(): boolean {
    return this.failed !== undefined;
  }

  /**
   * abort stops the sequencer at once (its process no longer leads, spec §8.4b): waiting
   * writers get UNAVAILABLE with the reason, a batch already being written runs to its
   * end (its outcome is the store's), and nothing more is written.
   */
  async abort(reason: string): Promise<void> {
    if (this.failed === undefined) this.fail(new LedgerError('UNAVAILABLE', reason), []);
    await this.close();
  }

  /** head is the latest published tree head, or undefined for an empty log. */
  get head(): Head | undefined {
    return this._head;
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /**
   * failure is a one-line reason when the sequencer is not taking writes: stopped after
   * a store failure, or the clock is behind the latest checkpoint time. Undefined when
   * healthy.
   */
  get failure(): string | undefined {
    if (this.failed !== undefined) return `stopped after a store failure: ${errorMessage(this.failed)}`;
    if (this.clockProblem !== undefined) this.batchTime(); // re-judge now: the clock may have caught up
    return this.clockProblem;
  }

  /**
   * add submits one entry and resolves with its receipt once the entry is durable and
   * covered by a signed, cosigned checkpoint. Rejects with TOO_LARGE, OVERLOADED (queue
   * full: retry later), UNAVAILABLE (closed or stopped), or the admission error.
   * `meta` goes to the admission hook with the entry (AdmitContext.meta), untouched.
   * `reserveFor` (the hex of a revoking key the caller has checked is entitled, with a
   * verified signature) lets the entry take one of the places reserved beyond a full
   * queue: REVOCATION_RESERVE in all, REVOCATION_RESERVE_PER_KEY per key (spec §8.2).
   */
  add(entry: Uint8Array, meta?: unknown, reserveFor?: string): Promise<Receipt> {
    if (this.closed || this.failed !== undefined) {
      return Promise.reject(new LedgerError('UNAVAILABLE', this.closed ? 'sequencer is closed' : `sequencer ${this.failure}`));
    }
    if (entry.length > MAX_ENTRY_SIZE) return Promise.reject(new LedgerError('TOO_LARGE', `entry is ${entry.length} bytes, limit ${MAX_ENTRY_SIZE}`));
    if (entry.length === 0) return Promise.reject(new LedgerError('MALFORMED', 'entry is empty'));
    let reserved: string | undefined;
    const lh = leafHash(entry);
    const key = byteKey(lh);
    if (this.queue.length >= this.maxQueue) {
      const mine = reserveFor === undefined ? 0 : (this.reservedBy.get(reserveFor) ?? 0);
      if (reserveFor === undefined || this.reservedCount >= REVOCATION_RESERVE || mine >= REVOCATION_RESERVE_PER_KEY || this.reservedLeaves.has(key)) {
        return Promise.reject(new LedgerError('OVERLOADED', 'write queue is full'));
      }
      reserved = reserveFor;
      this.reservedCount++;
      this.reservedBy.set(reserveFor, mine + 1);
      this.reservedLeaves.add(key);
    }
    return new Promise<Receipt>((resolve, reject) => {
      this.queue.push({ entry, meta, leafHash: lh, key, resolve, reject, reserved });
      this.schedule();
    });
  }

  /** take removes the first n waiting entries, giving back the reserved places they held. */
  private take(n: number): Pending[] {
    const out = this.queue.splice(0, n);
    for (const p of out) {
      if (p.reserved === undefined) continue;
      this.reservedCount--;
      this.reservedLeaves.delete(p.key);
      const left = this.reservedBy.get(p.reserved)! - 1;
      if (left === 0) this.reservedBy.delete(p.reserved);
      else this.reservedBy.set(p.reserved, left);
    }
    return out;
  }

  private schedule(): void {
    if (this.running) return;
    if (this.queue.length >= this.maxBatch) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      void this.run();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.run();
      }, this.maxDelayMs);
    }
  }

  /**
   * run cuts and commits batches while entries wait. Batches are pipelined: batch k+1 is
   * prepared (dedup, admission, hashing, signing) while batch k is being persisted
   * (store append, guard, acknowledgements), so the CPU work overlaps the fsyncs.
   * Persists stay strictly in order, and a store failure stops everything (fail-stop),
   * so state prepared ahead of the store is never relied on after an error.
   */
  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.idle = new Promise((r) => (this.wakeIdle = r));
    let persisting: Promise<void> | undefined;
    try {
      while (this.queue.length > 0 && this.failed === undefined) {
        const batch = this.take(this.maxBatch);
        const prepared = await this.prepare(batch);
        if (persisting !== undefined) await persisting;
        persisting = undefined;
        this.answerRefusedAhead();
        if (prepared === undefined) continue;
        if (this.failed !== undefined) {
          this.rejectPrepared(prepared);
          break;
        }
        persisting = this.persist(prepared);
        if (this.queue.length === 0) {
          await persisting;
          persisting = undefined;
        }
      }
      if (persisting !== undefined) await persisting;
    } finally {
      this.answerRefusedAhead();
      this.running = false;
      this.wakeIdle?.();
      if (this.queue.length > 0 && this.failed === undefined) this.schedule();
    }
  }

  /**
   * batchTime returns T for the next batch or re-cosignature, or undefined (and sets
   * clockProblem) when the clock is more than MAX_CLOCK_BEHIND_S behind the latest
   * checkpoint time (including batches prepared but not yet persisted).
   */
  private batchTime(): number | undefined {
    const now = Math.floor(this.clock() / 1000);
    const last = Math.max(this._head?.time ?? 0, this.preparedTime);
    if (last - now > MAX_CLOCK_BEHIND_S) {
      this.clockProblem = `the clock is ${last - now} s behind the latest checkpoint time ${last}: refusing to sign until it catches up`;
      return undefined;
    }
    this.clockProblem = undefined;
    return Math.max(now, last);
  }

  /**
   * prepare judges a batch against the log as it will be once every batch before it is
   * persisted: it drops duplicates (of entries in the log, in a batch being persisted,
   * or earlier in this batch), runs admission at the batch time, extends the in-memory
   * tree and signs the new checkpoint. Returns undefined when nothing is left to append.
   */
  private async prepare(batch: Pending[]): Promise<Prepared | undefined> {
    this.lastActivity = this.clock();
    const time = this.batchTime();
    if (time === undefined) {
      const err = new LedgerError('UNAVAILABLE', this.clockProblem!);
      for (const p of batch) p.reject(err);
      return undefined;
    }
    // 1. Duplicates of entries in flight (checked before the store lookup: an entry
    //    leaves `inflight` only after its append resolved, so one that is not in flight
    //    now is visible to the store lookup issued next).
    const followers = new Map<Pending, Pending>(); // duplicate → first occurrence in this batch
    const candidates: Pending[] = [];
    const seen = new Map<string, Pending>();
    for (const p of batch) {
      const key = p.key;
      const flying = this.inflight.get(key);
      if (flying !== undefined && equalBytes(flying.entry, p.entry)) {
        (flying.waiters ??= []).push(p);
        continue;
      }
      const first = seen.get(key);
      if (first !== undefined && equalBytes(first.entry, p.entry)) {
        followers.set(p, first);
        continue;
      }
      seen.set(key, p);
      candidates.push(p);
    }
    // 2. Duplicates of entries in the log.
    let fresh: Pending[] = [];
    try {
      const found = candidates.length === 0 ? [] : await this.store.findLeaves(candidates.map((p) => p.leafHash));
      candidates.forEach((p, i) => {
        const f = found[i];
        if (f !== undefined) {
          const r: Receipt = { index: f, leafHash: p.leafHash, duplicate: true };
          p.resolve(r);
          for (const [q, first] of followers) if (first === p) q.resolve(r);
        } else fresh.push(p);
      });
    } catch (e) {
      this.fail(e, batch);
      return undefined;
    }
    // 3. Admission, at T. Refusals are answered only once the state they were judged
    //    against is stored (the batches before, and this one's earlier entries): a
    //    refusal must not rest on a batch that then fails to be written.
    const refused: { p: Pending; err: LedgerError }[] = [];
    let state: StateWrite[] | undefined;
    let persisted: (() => void) | undefined;
    try {
      if (this.admit !== undefined && fresh.length > 0) {
        const result = await this.admit(
          fresh.map((p) => p.entry),
          time,
          { firstIndex: this.edge.size, leafHashes: fresh.map((p) => p.leafHash), meta: fresh.map((p) => p.meta) },
        );
        const verdicts = Array.isArray(result) ? result : result.verdicts;
        if (!Array.isArray(result)) {
          state = result.state;
          persisted = result.persisted;
        }
        if (verdicts.length !== fresh.length) throw new RangeError('admit returned the wrong number of verdicts');
        const ok: Pending[] = [];
        fresh.forEach((p, i) => {
          const err = verdicts[i];
          if (err === undefined) ok.push(p);
          else {
            refused.push({ p, err });
            for (const [q, first] of followers) if (first === p) refused.push({ p: q, err });
          }
        });
        fresh = ok;
      }
    } catch (e) {
      // A failing admission hook refuses this batch only; the store is untouched.
      const err = isLedgerError(e) ? e : new LedgerError('UNAVAILABLE', `admission failed: ${errorMessage(e)}`, { cause: e });
      for (const p of batch) p.reject(err);
      return undefined;
    }
    if (fresh.length === 0 || this.failed !== undefined) {
      if (this.failed !== undefined) for (const p of batch) p.reject(new LedgerError('UNAVAILABLE', `sequencer ${this.failure}`));
      // Judged against the batches before this one: answered once they are stored (run).
      else this.refusedAhead.push(...refused);
      return undefined;
    }
    // 4. Extend the tree and sign.
    const firstIndex = this.edge.size;
    const before = this.edge;
    const edge = before.clone();
    const hashes: Uint8Array[] = [];
    for (const p of fresh) for (const h of edge.append(p.leafHash)) hashes.push(h);
    const root = edge.root();
    const note = this.signCheckpoint(edge.size, root, time);
    this.edge = edge;
    this.preparedTime = time;
    for (const p of fresh) this.inflight.set(p.key, p);
    return { fresh, followers, firstIndex, hashes, before, root, note, time, size: edge.size, state, persisted, refused };
  }

  /** persist appends a prepared batch, moves the guard, and only then answers its writers. */
  private async persist(b: Prepared): Promise<void> {
    try {
      await this.store.append({
        expectedSize: b.firstIndex,
        entries: b.fresh.map((p) => p.entry),
        leafHashes: b.fresh.map((p) => p.leafHash),
        hashes: b.hashes,
        checkpoint: b.note,
        state: b.state,
      });
      b.persisted?.();
      this.onAppend?.(b.size);
      // The guard moves only after the store holds the tree it names (spec §8.2).
      if (this.guard !== undefined) await this.guard.save(b.note);
    } catch (e) {
      this.fail(e, []);
      this.rejectPrepared(b);
      return;
    }
    this._head = { size: b.size, root: b.root, checkpoint: b.note, time: b.time };
    const byFirst = new Map<Pending, Receipt>();
    const batchHashes = b.before.readerWith(b.hashes);
    b.fresh.forEach((p, i) => {
      const r: Receipt = { index: b.firstIndex + i, leafHash: p.leafHash, duplicate: false, time: b.time, checkpoint: b.note, batchHashes };
      this.inflight.delete(p.key);
      p.resolve(r);
      if (p.waiters !== undefined) for (const w of p.waiters) w.resolve({ ...r, duplicate: true });
      if (b.followers.size > 0) byFirst.set(p, r);
    });
    for (const [f, first] of b.followers) {
      const r = byFirst.get(first);
      if (r !== undefined) f.resolve({ ...r, duplicate: true });
    }
    for (const { p, err } of b.refused) p.reject(err);
  }

  /** answerRefusedAhead answers refusals of batches that appended nothing, once the batches before them are stored (or failed). */
  private answerRefusedAhead(): void {
    for (const { p, err } of this.refusedAhead.splice(0)) p.reject(this.failed === undefined ? err : this.unjudged());
  }

  /** unjudged: the refusal an entry gets when the state it was judged against was never stored. */
  private unjudged(): LedgerError {
    return new LedgerError('UNAVAILABLE', `sequencer ${this.failure ?? 'stopped'} before the batch this entry was judged after was stored: submit it again`);
  }

  private rejectPrepared(b: Prepared): void {
    for (const { p } of b.refused) p.reject(this.unjudged());
    const err = new LedgerError('UNAVAILABLE', `sequencer ${this.failure ?? 'stopped'}`);
    for (const p of b.fresh) {
      this.inflight.delete(p.key);
      p.reject(err);
      if (p.waiters !== undefined) for (const w of p.waiters) w.reject(err);
    }
    for (const f of b.followers.keys()) f.reject(err);
  }

  private signCheckpoint(size: number, root: Uint8Array, time: number): Uint8Array {
    // The log's own signature first, then the timestamp cosignature (spec §5.4).
    const text = formatCheckpoint({ origin: this.origin, size, root, extensions: [] });
    const s = this.logSigner;
    return formatNote({ text, sigs: [{ name: s.name, keyId: s.keyId, sig: s.sign(utf8(text)) }, this.tsSigner.signAt(text, time)] });
  }

  private fail(e: unknown, batch: Pending[]): void {
    // A CAS conflict or an I/O error: what the store holds is unknown to us now, so stop.
    this.failed = e;
    const err = new LedgerError('UNAVAILABLE', `sequencer ${this.failure}`, { cause: e });
    for (const p of batch) p.reject(err);
    for (const p of this.take(this.queue.length)) p.reject(err);
  }

  private maybeRecosign(): void {
    if (this.running || this.closed || this.failed !== undefined || this._head === undefined) return;
    if (this.clock() - this.lastActivity < this.recosignMs) return;
    void this.recosign();
  }

  /** recosign re-cosigns the latest checkpoint with the current time (same size and root). */
  async recosign(): Promise<void> {
    while (this.running) await this.idle;
    if (this._head === undefined || this.closed || this.failed !== undefined) return;
    this.running = true;
    this.idle = new Promise((r) => (this.wakeIdle = r));
    try {
      this.lastActivity = this.clock();
      const h = this._head;
      const time = this.batchTime();
      if (time === undefined) return;
      const note = this.signCheckpoint(h.size, h.root, time);
      await this.store.putLatestCheckpoint(h.size, note);
      this._head = { ...h, checkpoint: note, time };
    } catch (e) {
      this.fail(e, []);
    } finally {
      this.running = false;
      this.wakeIdle?.();
      if (this.queue.length > 0 && this.failed === undefined) this.schedule();
    }
  }

  /** close stops taking entries, waits for the batch in flight, and stops the timers. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.recosignTimer !== undefined) clearInterval(this.recosignTimer);
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (;;) {
      if (!this.running && this.queue.length > 0 && this.failed === undefined) void this.run();
      if (!this.running) break;
      await this.idle;
    }
    await this.guard?.close?.();
  }
}

/**
 * checkStoredHead checks a stored head as a sequencer taking over, or a process following
 * the log, must (spec §8.2): the checkpoint verifies under the log key and carries the
 * timestamp cosignature, names this origin and the stored size, and the root recomputed
 * from the stored right edge of the tree (at most log2(size) hashes) is its root.
 * STATE_MISMATCH says what disagrees.
 */
export async function checkStoredHead(
  stored: StoredHead,
  o: { origin: string; log: NoteVerifier; timestamp: NoteVerifier; readHashes: HashReader },
): Promise<{ head: Head; edge: TreeEdge }> {
  let cp: Checkpoint;
  let time: number;
  try {
    const { note } = openNote(stored.checkpoint, [o.log, o.timestamp], { requireAll: true });
    cp = parseCheckpoint(note.text);
    const cosig = note.sigs.find((s) => s.name === o.timestamp.name && equalBytes(s.keyId, o.timestamp.keyId));
    time = cosignedTime(cosig!);
  } catch (e) {
    throw new LedgerError('STATE_MISMATCH', `latest checkpoint does not verify under this ledger's log and timestamp keys: ${(e as Error).message}`, { cause: e });
  }
  if (cp.origin !== o.origin) throw new LedgerError('STATE_MISMATCH', `latest checkpoint has origin ${cp.origin}, want ${o.origin}`);
  if (cp.size !== stored.size) throw new LedgerError('STATE_MISMATCH', `stored head size ${stored.size} but checkpoint size ${cp.size}`);
  let edgeHashes: Uint8Array[];
  try {
    edgeHashes = await o.readHashes(TreeEdge.indices(cp.size));
  } catch (e) {
    if (!isLedgerError(e, 'NOT_FOUND')) throw e; // the database failing is not the tree disagreeing
    throw new LedgerError('STATE_MISMATCH', `right edge of the tree at size ${cp.size} is not stored: ${(e as Error).message}`, { cause: e });
  }
  const edge = new TreeEdge(cp.size, edgeHashes);
  if (!equalBytes(edge.root(), cp.root)) {
    throw new LedgerError('STATE_MISMATCH', `stored tree of size ${cp.size} has root ${toHex(edge.root())} but the checkpoint says ${toHex(cp.root)}`);
  }
  return { head: { size: cp.size, root: cp.root, checkpoint: stored.checkpoint, time }, edge };
}

function errorMessage(e: unknown): string {
  if (isLedgerError(e)) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
