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
 */
import { LedgerError, isLedgerError } from '../core/errors.js';
import { leafHash, TreeEdge } from '../core/merkle.js';
import { formatCheckpoint, parseCheckpoint, type Checkpoint } from '../core/checkpoint.js';
import { openNote, formatNote, ed25519Verifier, type NoteSigner, type NoteSignature } from '../core/note.js';
import { cosignedTime } from '../core/cosignature.js';
import { MAX_ENTRY_SIZE } from '../core/tiles.js';
import { equalBytes, toHex, utf8 } from '../core/bytes.js';
import type { LedgerStore } from '../storage/store.js';

/** Clock returns the current time in milliseconds since the Unix epoch. */
export type Clock = () => number;

export interface TimestampSigner {
  readonly name: string;
  signAt(text: string, time: number): NoteSignature;
}

/**
 * Admit judges a batch of fresh entries at batch time T (unix seconds) and returns,
 * per entry, undefined to accept or the LedgerError that refuses it. Entries are
 * judged in order: an entry may depend on the ones accepted before it in the batch.
 */
export type Admit = (entries: readonly Uint8Array[], time: number) => Promise<(LedgerError | undefined)[]>;

export interface SequencerOptions {
  store: LedgerStore;
  origin: string;
  logSigner: NoteSigner;
  timestampSigner: TimestampSigner;
  clock?: Clock;
  admit?: Admit;
  maxBatch?: number;
  maxDelayMs?: number;
  maxQueue?: number;
  recosignMs?: number;
}

export interface Receipt {
  readonly index: number;
  readonly leafHash: Uint8Array;
  /** True when the entry was already in the log (its first index is returned). */
  readonly duplicate: boolean;
  /** For fresh entries: the batch time T and the checkpoint that first covered it. */
  readonly time?: number;
  readonly checkpoint?: Uint8Array;
}

export interface Head {
  readonly size: number;
  readonly root: Uint8Array;
  /** The latest signed checkpoint (possibly a re-cosignature). */
  readonly checkpoint: Uint8Array;
  /** Its cosignature time, unix seconds. */
  readonly time: number;
}

interface Pending {
  entry: Uint8Array;
  leafHash: Uint8Array;
  resolve: (r: Receipt) => void;
  reject: (e: unknown) => void;
}

export class Sequencer {
  private readonly store: LedgerStore;
  private readonly origin: string;
  private readonly logSigner: NoteSigner;
  private readonly tsSigner: TimestampSigner;
  private readonly clock: Clock;
  private readonly admit?: Admit;
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly maxQueue: number;
  private readonly recosignMs: number;

  private edge: TreeEdge;
  private _head: Head | undefined;
  private queue: Pending[] = [];
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
    this.clock = o.clock ?? Date.now;
    this.admit = o.admit;
    this.maxBatch = o.maxBatch ?? 256;
    this.maxDelayMs = o.maxDelayMs ?? 2;
    this.maxQueue = o.maxQueue ?? 16384;
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
    if (stored === undefined) return new Sequencer(o, new TreeEdge(0, []), undefined);
    const verifier = ed25519Verifier(o.logSigner.name, o.logSigner.publicKey);
    let cp: Checkpoint;
    let time: number;
    try {
      const { note } = openNote(stored.checkpoint, [verifier]);
      cp = parseCheckpoint(note.text);
      const cosig = note.sigs.find((s) => s.name === o.timestampSigner.name);
      if (cosig === undefined) throw new LedgerError('UNKNOWN_KEY', 'latest checkpoint has no cosignature by the timestamp key');
      time = cosignedTime(cosig);
    } catch (e) {
      throw new LedgerError('STATE_MISMATCH', `latest checkpoint does not verify under this ledger's log key: ${(e as Error).message}`, { cause: e });
    }
    if (cp.origin !== o.origin) throw new LedgerError('STATE_MISMATCH', `latest checkpoint has origin ${cp.origin}, want ${o.origin}`);
    if (cp.size !== stored.size) throw new LedgerError('STATE_MISMATCH', `stored head size ${stored.size} but checkpoint size ${cp.size}`);
    let edgeHashes: Uint8Array[];
    try {
      edgeHashes = await o.store.readHashes(TreeEdge.indices(cp.size));
    } catch (e) {
      throw new LedgerError('STATE_MISMATCH', `right edge of the tree at size ${cp.size} is not stored: ${(e as Error).message}`, { cause: e });
    }
    const edge = new TreeEdge(cp.size, edgeHashes);
    if (!equalBytes(edge.root(), cp.root)) {
      throw new LedgerError('STATE_MISMATCH', `stored tree of size ${cp.size} has root ${toHex(edge.root())} but the checkpoint says ${toHex(cp.root)}`);
    }
    const hist = await o.store.readCheckpoints(cp.size, 1);
    if (hist.length !== 1 || hist[0].size !== cp.size) throw new LedgerError('STATE_MISMATCH', `no history checkpoint for size ${cp.size}`);
    const histCp = parseCheckpoint(openNote(hist[0].checkpoint, [verifier]).note.text);
    if (!equalBytes(histCp.root, cp.root)) throw new LedgerError('STATE_MISMATCH', `history checkpoint of size ${cp.size} has another root`);
    return new Sequencer(o, edge, { size: cp.size, root: cp.root, checkpoint: stored.checkpoint, time });
  }

  /** head is the latest published tree head, or undefined for an empty log. */
  get head(): Head | undefined {
    return this._head;
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /**
   * add submits one entry and resolves with its receipt once the entry is durable and
   * covered by a signed, cosigned checkpoint. Rejects with TOO_LARGE, OVERLOADED (queue
   * full: retry later), UNAVAILABLE (closed or stopped), or the admission error.
   */
  add(entry: Uint8Array): Promise<Receipt> {
    if (this.closed || this.failed !== undefined) {
      return Promise.reject(new LedgerError('UNAVAILABLE', this.closed ? 'sequencer is closed' : `sequencer stopped after a store failure: ${String((this.failed as Error)?.message ?? this.failed)}`));
    }
    if (entry.length > MAX_ENTRY_SIZE) return Promise.reject(new LedgerError('TOO_LARGE', `entry is ${entry.length} bytes, limit ${MAX_ENTRY_SIZE}`));
    if (entry.length === 0) return Promise.reject(new LedgerError('MALFORMED', 'entry is empty'));
    if (this.queue.length >= this.maxQueue) return Promise.reject(new LedgerError('OVERLOADED', 'write queue is full'));
    return new Promise<Receipt>((resolve, reject) => {
      this.queue.push({ entry, leafHash: leafHash(entry), resolve, reject });
      this.schedule();
    });
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

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.idle = new Promise((r) => (this.wakeIdle = r));
    try {
      while (this.queue.length > 0 && this.failed === undefined) {
        const batch = this.queue.splice(0, this.maxBatch);
        await this.commit(batch);
      }
    } finally {
      this.running = false;
      this.wakeIdle?.();
      if (this.queue.length > 0 && this.failed === undefined) this.schedule();
    }
  }

  private nextTime(): number {
    const now = Math.floor(this.clock() / 1000);
    return Math.max(now, this._head?.time ?? 0);
  }

  private async commit(batch: Pending[]): Promise<void> {
    this.lastActivity = this.clock();
    const time = this.nextTime();
    let fresh: Pending[];
    const followers = new Map<Pending, Pending>(); // duplicate within the batch → first
    try {
      const found = await this.store.findLeaves(batch.map((p) => p.leafHash));
      fresh = [];
      const seen = new Map<string, Pending>();
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i];
        const f = found[i];
        if (f !== undefined) {
          p.resolve({ index: f, leafHash: p.leafHash, duplicate: true });
          continue;
        }
        const key = toHex(p.leafHash);
        const first = seen.get(key);
        if (first !== undefined && equalBytes(first.entry, p.entry)) {
          followers.set(p, first);
          continue;
        }
        seen.set(key, p);
        fresh.push(p);
      }
      if (this.admit !== undefined && fresh.length > 0) {
        const verdicts = await this.admit(fresh.map((p) => p.entry), time);
        const ok: Pending[] = [];
        fresh.forEach((p, i) => {
          const err = verdicts[i];
          if (err === undefined) ok.push(p);
          else {
            p.reject(err);
            for (const [f, first] of followers) if (first === p) f.reject(err);
          }
        });
        fresh = ok;
      }
    } catch (e) {
      this.fail(e, batch);
      return;
    }
    if (fresh.length === 0) return;

    const edge = this.edge.clone();
    const hashes: Uint8Array[] = [];
    for (const p of fresh) for (const h of edge.append(p.leafHash)) hashes.push(h);
    const root = edge.root();
    const note = this.signCheckpoint(edge.size, root, time);
    const firstIndex = this.edge.size;
    try {
      await this.store.append({
        expectedSize: firstIndex,
        entries: fresh.map((p) => p.entry),
        leafHashes: fresh.map((p) => p.leafHash),
        hashes,
        checkpoint: note,
      });
    } catch (e) {
      this.fail(e, batch);
      return;
    }
    this.edge = edge;
    this._head = { size: edge.size, root, checkpoint: note, time };
    const receipts = new Map<Pending, Receipt>();
    fresh.forEach((p, i) => {
      const r: Receipt = { index: firstIndex + i, leafHash: p.leafHash, duplicate: false, time, checkpoint: note };
      receipts.set(p, r);
      p.resolve(r);
    });
    for (const [f, first] of followers) {
      const r = receipts.get(first);
      if (r !== undefined) f.resolve({ ...r, duplicate: true });
    }
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
    const err = isLedgerError(e) ? e : new LedgerError('UNAVAILABLE', `store failure: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    for (const p of batch) p.reject(err);
    for (const p of this.queue.splice(0)) p.reject(err);
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
      const time = this.nextTime();
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
  }
}
