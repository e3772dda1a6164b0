/**
 * HashCache puts a bounded in-memory cache, and read coalescing, in front of a store's
 * stored-hash reads.
 *
 * - Stored hashes are immutable once written (store rule 4), so a cached hash is never
 *   stale. Only hashes at level >= minLevel are cached: they are few (about 2^-minLevel
 *   of all hashes) yet appear in almost every proof, while the low levels are spread
 *   over the whole log. Memory stays bounded by `capacity` hashes whatever the size of
 *   the log; eviction is first-in first-out (no bookkeeping on hits: the upper levels
 *   that matter are re-inserted as soon as they are read again).
 * - Reads that miss are coalesced: every miss issued in the same turn of the event loop
 *   goes to the store in one readHashes call, so concurrent proofs share one round trip.
 */
import { splitStoredHashIndex, type HashReader } from '../core/merkle.js';

interface Waiting {
  indices: readonly number[];
  resolve: (h: Uint8Array[]) => void;
  reject: (e: unknown) => void;
}

export class HashCache {
  private readonly map = new Map<number, Uint8Array>();
  private waiting: Waiting[] = [];
  private scheduled = false;
  hits = 0;
  misses = 0;

  constructor(
    private readonly source: HashReader,
    private readonly capacity = 1 << 20,
    private readonly minLevel = 4,
  ) {}

  /** read is a HashReader over the cache and the store. */
  readonly read: HashReader = async (indices) => {
    const out = new Array<Uint8Array>(indices.length);
    const missIdx: number[] = [];
    const missPos: number[] = [];
    for (let i = 0; i < indices.length; i++) {
      const h = this.map.get(indices[i]);
      if (h !== undefined) {
        out[i] = h;
      } else {
        missIdx.push(indices[i]);
        missPos.push(i);
      }
    }
    this.hits += indices.length - missIdx.length;
    if (missIdx.length > 0) {
      this.misses += missIdx.length;
      const got = await this.fetch(missIdx);
      for (let j = 0; j < missIdx.length; j++) {
        out[missPos[j]] = got[j];
        if (this.capacity > 0 && splitStoredHashIndex(missIdx[j])[0] >= this.minLevel) this.put(missIdx[j], got[j]);
      }
    }
    return out;
  };

  private fetch(indices: readonly number[]): Promise<Uint8Array[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ indices, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length === 1) {
      this.source(batch[0].indices).then(batch[0].resolve, batch[0].reject);
      return;
    }
    const all: number[] = [];
    for (const w of batch) for (const i of w.indices) all.push(i);
    try {
      const got = await this.source(all);
      let o = 0;
      for (const w of batch) {
        w.resolve(got.slice(o, o + w.indices.length));
        o += w.indices.length;
      }
    } catch {
      // One bad request (e.g. NOT_FOUND) must not fail the others: retry each alone.
      for (const w of batch) this.source(w.indices).then(w.resolve, w.reject);
    }
  }

  private put(index: number, h: Uint8Array): void {
    if (this.map.has(index)) return;
    if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value as number);
    this.map.set(index, h);
  }

  get size(): number {
    return this.map.size;
  }
}
