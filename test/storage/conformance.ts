import { describe, expect, it } from 'vitest';
import { toBase64 } from '../../src/core/bytes.js';
import { leafHash, storedHashCount, TreeEdge } from '../../src/core/merkle.js';
import type { AppendBatch, LedgerStore, StoredCheckpoint, StoredHead } from '../../src/storage/store.js';

/**
 * storeConformance registers the shared LedgerStore suite: every MUST rule of
 * src/storage/store.ts that can be observed from outside, run on one backend. Optional
 * behaviour is read from store.supports, never from the backend's name. Durability
 * across a crash (rule 1) cannot be shown in-process: the crash-test script does that;
 * persistence across a clean close/reopen is checked when the harness gives `reopen`.
 *
 * The factory makes a fresh, empty, OPEN store per test. `reopen` (optional) is called
 * only after the suite has closed every store it holds and returns a new open store over
 * the same data; the suite closes stores it got from reopen. `cleanup` runs after every
 * test: it closes the first store if still open (close is idempotent) and removes the data.
 */
export function storeConformance(name: string, factory: () => Promise<StoreHarness>): void {
  describe(`LedgerStore conformance: ${name}`, () => {
    it('declares its optional behaviour', async () => {
      await withStore(factory, async ({ store }) => {
        expect(typeof store.supports.multiProcess).toBe('boolean');
      });
    });

    describe('empty store', () => {
      it('has no head, entries, hashes, leaves or checkpoints', async () => {
        await withStore(factory, async ({ store }) => {
          expect(await store.readHead()).toBeUndefined();
          expect(await store.readEntries(0, 10)).toEqual([]);
          expect(await store.readHashes([])).toEqual([]);
          await expectCode(store.readHashes([0]), 'NOT_FOUND');
          expect(await store.findLeaf(leafHash(new Uint8Array([1])))).toBeUndefined();
          expect(await store.readCheckpoints(0, 10)).toEqual([]);
        });
      });

      it('accepts the first batch at size 0 only', async () => {
        await withStore(factory, async ({ store }) => {
          await expectCode(store.append(shapedBatch(1, 1)), 'CONFLICT');
          const log = new LogBuilder(1);
          await log.append(store, 1);
          await expectState(store, log);
        });
      });
    });

    describe('append and read back', () => {
      it('stores entries, stored hashes, leaf index, history and head', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(2);
          // Sizes 1, 6, 8, 19, 32, 33: batch edges on and off powers of two.
          for (const n of [1, 5, 2, 11, 13, 1]) {
            await log.append(store, n);
            await expectState(store, log);
          }
          const head = (await store.readHead()) as StoredHead;
          expect(head.size).toBe(33);
          expect(head.checkpoint).toEqual(log.checkpoints.at(-1)!.checkpoint);
          expect((await store.readCheckpoints(0, 100)).map((c) => c.size)).toEqual([1, 6, 8, 19, 32, 33]);
        });
      });

      it('stores a batch of 256 entries (the sequencer batch size) in one append', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(3);
          await log.append(store, 1);
          await log.append(store, 256);
          await log.append(store, 300);
          await expectState(store, log);
        });
      });

      it('stores entries of every length, including empty and 65,535 bytes', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(4);
          const big = new Uint8Array(65_535).map((_, i) => (i * 7) & 255);
          await log.append(store, 3, { entries: [new Uint8Array(0), new Uint8Array([0]), big] });
          await expectState(store, log);
        });
      });

      it('returns plain Uint8Arrays owned by the caller, and copies what it is given', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(5);
          const b = log.batch(4);
          await store.append(b);
          log.commit(b);
          // Reuse the caller's arrays after append resolved: the stored data must not change.
          for (const e of b.entries) e.fill(0xee);
          for (const h of b.hashes) h.fill(0xee);
          for (const h of b.leafHashes) h.fill(0xee);
          b.checkpoint.fill(0xee);
          const reads: Uint8Array[] = [
            ...(await store.readEntries(0, 4)),
            ...(await store.readHashes([0, 1, 2])),
            (await store.readHead())!.checkpoint,
            ...(await store.readCheckpoints(0, 1)).map((c) => c.checkpoint),
          ];
          for (const r of reads) expect(Object.getPrototypeOf(r)).toBe(Uint8Array.prototype);
          for (const r of reads) r.fill(0xdd);
          await expectState(store, log);
        });
      });
    });

    describe('compare-and-swap (rule 3)', () => {
      it('rejects append at a stale or future size with CONFLICT and changes nothing', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(6);
          await log.append(store, 3);
          await log.append(store, 4);
          for (const at of [0, 3, 6, 8, 100]) {
            const b = at === 0 ? new LogBuilder(99).batch(2) : shapedBatch(at, 2);
            await expectCode(store.append(b), 'CONFLICT');
            for (const l of b.leafHashes) expect(await store.findLeaf(l)).toBeUndefined();
            await expectState(store, log);
          }
          await log.append(store, 1);
          await expectState(store, log);
        });
      });

      it('rejects putLatestCheckpoint at another size with CONFLICT and changes nothing', async () => {
        await withStore(factory, async ({ store }) => {
          await expectCode(store.putLatestCheckpoint(0, note(0, 'x')), 'CONFLICT');
          await expectCode(store.putLatestCheckpoint(1, note(1, 'x')), 'CONFLICT');
          expect(await store.readHead()).toBeUndefined();
          const log = new LogBuilder(7);
          await log.append(store, 5);
          for (const size of [0, 4, 6]) {
            await expectCode(store.putLatestCheckpoint(size, note(size, 'x')), 'CONFLICT');
            await expectState(store, log);
          }
        });
      });

      it('lets exactly one of two concurrent appends at the same size win', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(8);
          await log.append(store, 2);
          const a = log.batch(3, { tag: 'a' });
          const b = log.batch(5, { tag: 'b', seed: 80 });
          const [ra, rb] = await Promise.allSettled([store.append(a), store.append(b)]);
          const won = [ra, rb].filter((r) => r.status === 'fulfilled');
          const lost = [ra, rb].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
          expect(won).toHaveLength(1);
          expect(lost).toHaveLength(1);
          expect(lost[0].reason).toMatchObject({ name: 'LedgerError', code: 'CONFLICT' });
          log.commit(ra.status === 'fulfilled' ? a : b);
          await expectState(store, log);
          const loser = ra.status === 'fulfilled' ? b : a;
          for (const l of loser.leafHashes) expect(await store.findLeaf(l)).toBeUndefined();
        });
      });

      it('lets an append win the head over a concurrent head replacement at the same size', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(9);
          await log.append(store, 4);
          const next = log.batch(2);
          const results = await Promise.allSettled([
            store.append(next),
            store.putLatestCheckpoint(4, note(4, 'recosigned')),
          ]);
          // Either order is allowed: the replacement succeeds only if it ran first; the
          // append succeeds either way and its checkpoint ends up as the head.
          expect(results[0].status).toBe('fulfilled');
          log.commit(next);
          const head = (await store.readHead())!;
          expect(head.size).toBe(6);
          expect(head.checkpoint).toEqual(next.checkpoint);
          if (results[1].status === 'rejected') {
            expect(results[1].reason).toMatchObject({ name: 'LedgerError', code: 'CONFLICT' });
          }
          await expectState(store, log);
        });
      });
    });

    describe('contiguity and arguments (rules 5 and 8)', () => {
      it('rejects a batch that does not fit with RangeError and changes nothing', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(10);
          await log.append(store, 5);
          const good = log.batch(3);
          const bad: AppendBatch[] = [
            { ...good, hashes: good.hashes.slice(1) }, // one stored hash missing
            { ...good, hashes: good.hashes.slice(0, -1) },
            { ...good, hashes: [...good.hashes, good.hashes[0]] }, // one too many
            { ...good, hashes: [] },
            { ...good, leafHashes: good.leafHashes.slice(1) },
            { ...good, entries: [], leafHashes: [], hashes: [] }, // no entries
            { ...good, hashes: [good.hashes[0].subarray(1), ...good.hashes.slice(1)] }, // 31-byte hash
            { ...good, leafHashes: [new Uint8Array(33), ...good.leafHashes.slice(1)] },
            { ...good, expectedSize: -1 },
            { ...good, expectedSize: 5.5 },
          ];
          for (const b of bad) {
            await expect(store.append(b)).rejects.toBeInstanceOf(RangeError);
            await expectState(store, log);
          }
          await store.append(good);
          log.commit(good);
          await expectState(store, log);
        });
      });

      it('rejects indices, sizes and limits that are not non-negative safe integers with RangeError', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(11);
          await log.append(store, 2);
          for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
            await expect(store.readHashes([0, n])).rejects.toBeInstanceOf(RangeError);
            await expect(store.readEntries(n, 2)).rejects.toBeInstanceOf(RangeError);
            await expect(store.readEntries(0, n)).rejects.toBeInstanceOf(RangeError);
            await expect(store.readCheckpoints(n, 1)).rejects.toBeInstanceOf(RangeError);
            await expect(store.readCheckpoints(0, n)).rejects.toBeInstanceOf(RangeError);
            await expect(store.putLatestCheckpoint(n, note(2, 'x'))).rejects.toBeInstanceOf(RangeError);
          }
          await expectState(store, log);
        });
      });
    });

    describe('reads', () => {
      it('readHashes throws NOT_FOUND if any index is missing (no partial reads)', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(12);
          await log.append(store, 7);
          const count = storedHashCount(7);
          for (const indices of [[count], [count, 0], [0, count], [0, 1, count, 2], [count + 1000], [2 ** 40]]) {
            await expectCode(store.readHashes(indices), 'NOT_FOUND');
          }
          // Order and repeats are the caller's: the answer follows the request.
          const back = await store.readHashes([3, 0, 3, count - 1]);
          expect(back).toEqual([log.hashes[3], log.hashes[0], log.hashes[3], log.hashes[count - 1]]);
        });
      });

      it('readEntries clips at the size', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(13);
          await log.append(store, 10);
          expect(await store.readEntries(0, 100)).toEqual(log.entries);
          expect(await store.readEntries(8, 12)).toEqual(log.entries.slice(8));
          expect(await store.readEntries(10, 20)).toEqual([]);
          expect(await store.readEntries(50, 60)).toEqual([]);
          expect(await store.readEntries(3, 3)).toEqual([]);
          expect(await store.readEntries(5, 2)).toEqual([]);
          expect(await store.readEntries(3, 4)).toEqual([log.entries[3]]);
        });
      });

      it('findLeaf returns the FIRST index of a repeated entry', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(14);
          const dup = new Uint8Array([0xa2, 1, 2, 3]);
          const other = new Uint8Array([0xa2, 9]);
          await log.append(store, 2);
          await log.append(store, 4, { entries: [other, dup, dup, other] }); // indices 2..5
          await log.append(store, 2, { entries: [dup, other] }); // indices 6, 7
          expect(await store.findLeaf(leafHash(dup))).toBe(3);
          expect(await store.findLeaf(leafHash(other))).toBe(2);
          expect(await store.findLeaf(log.leaves[0])).toBe(0);
          expect(await store.findLeaf(leafHash(new Uint8Array([0xa2, 7])))).toBeUndefined();
          // findLeaves: the same answers, in order, in one call
          expect(await store.findLeaves([leafHash(dup), leafHash(new Uint8Array([0xa2, 7])), log.leaves[0], leafHash(other)])).toEqual([3, undefined, 0, 2]);
          expect(await store.findLeaves([])).toEqual([]);
          await expectState(store, log);
        });
      });

      it('readCheckpoints pages through the history by size', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(15);
          for (const n of [1, 1, 3, 4, 1, 7, 2, 1]) await log.append(store, n); // sizes 1 2 5 9 10 17 19 20
          const all = await store.readCheckpoints(0, 1000);
          expect(all).toEqual(log.checkpoints);
          expect((await store.readCheckpoints(0, 3)).map((c) => c.size)).toEqual([1, 2, 5]);
          expect((await store.readCheckpoints(5, 3)).map((c) => c.size)).toEqual([5, 9, 10]);
          expect((await store.readCheckpoints(6, 2)).map((c) => c.size)).toEqual([9, 10]);
          expect((await store.readCheckpoints(20, 5)).map((c) => c.size)).toEqual([20]);
          expect(await store.readCheckpoints(21, 5)).toEqual([]);
          expect(await store.readCheckpoints(0, 0)).toEqual([]);
          // Paging by "last size + 1" visits every checkpoint once.
          const paged: StoredCheckpoint[] = [];
          for (let from = 0; ; ) {
            const page = await store.readCheckpoints(from, 3);
            if (page.length === 0) break;
            paged.push(...page);
            from = page.at(-1)!.size + 1;
          }
          expect(paged).toEqual(log.checkpoints);
        });
      });

      it('putLatestCheckpoint replaces the head note but not the history', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(16);
          await log.append(store, 3);
          const first = log.checkpoints[0].checkpoint;
          const re1 = note(3, 'recosigned 1');
          await store.putLatestCheckpoint(3, re1);
          expect(await store.readHead()).toEqual({ size: 3, checkpoint: re1 });
          const re2 = note(3, 'recosigned 2');
          await store.putLatestCheckpoint(3, re2);
          expect(await store.readHead()).toEqual({ size: 3, checkpoint: re2 });
          expect(await store.readCheckpoints(0, 10)).toEqual([{ size: 3, checkpoint: first }]);
          log.headNote = re2;
          await expectState(store, log);
          await log.append(store, 2); // the append's own checkpoint becomes head and history
          await expectState(store, log);
        });
      });
    });

    describe('concurrency (rule 6)', () => {
      it('reads concurrent with appends never see a partial batch', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(17);
          const sizes = [1, 17, 3, 64, 1, 30, 5, 40, 2, 33, 7, 16, 9, 60, 4, 1, 25, 12];
          // The expected log is known in advance: build every batch first.
          const batches: AppendBatch[] = [];
          for (const n of sizes) {
            const b = log.batch(n);
            log.commit(b);
            batches.push(b);
          }
          let done = false;
          const writer = (async () => {
            try {
              for (const b of batches) await store.append(b);
            } finally {
              done = true;
            }
          })();
          let observed = 0;
          const reader = async () => {
            while (!done) {
              const head = await store.readHead();
              if (head === undefined) {
                await new Promise((r) => setTimeout(r, 0));
                continue;
              }
              const s = head.size;
              observed++;
              const hist = await store.readCheckpoints(s, 1);
              expect(hist[0].size).toBe(s);
              const entries = await store.readEntries(0, s);
              expect(entries).toHaveLength(s);
              expect(entries[s - 1]).toEqual(log.entries[s - 1]);
              const count = storedHashCount(s);
              const idx = [0, count - 1, Math.floor(count / 2)];
              expect(await store.readHashes(idx)).toEqual(idx.map((i) => log.hashes[i]));
              expect(await store.findLeaf(log.leaves[s - 1])).toBeLessThan(s);
            }
          };
          await Promise.all([writer, reader(), reader()]);
          expect(observed).toBeGreaterThan(0);
          await expectState(store, log);
        });
      });
    });

    describe('lifecycle', () => {
      it('is idempotent to open and close, and rejects calls when closed with UNAVAILABLE', async () => {
        await withStore(factory, async ({ store }) => {
          await store.open();
          const log = new LogBuilder(18);
          await log.append(store, 2);
          await store.close();
          await store.close();
          await expectCode(store.readHead(), 'UNAVAILABLE');
          await expectCode(store.readHashes([0]), 'UNAVAILABLE');
          await expectCode(store.readEntries(0, 1), 'UNAVAILABLE');
          await expectCode(store.findLeaf(log.leaves[0]), 'UNAVAILABLE');
          await expectCode(store.readCheckpoints(0, 1), 'UNAVAILABLE');
          await expectCode(store.append(log.batch(1)), 'UNAVAILABLE');
          await expectCode(store.putLatestCheckpoint(2, note(2, 'x')), 'UNAVAILABLE');
        });
      });

      it('keeps everything across close and reopen', async (ctx) => {
        const h = await factory();
        try {
          if (!h.reopen) return ctx.skip();
          const log = new LogBuilder(19);
          for (const n of [1, 9, 22]) await log.append(h.store, n);
          const re = note(32, 'recosigned');
          await h.store.putLatestCheckpoint(32, re);
          log.headNote = re;
          await h.store.close();

          const s2 = await h.reopen();
          try {
            await expectState(s2, log);
            // The CAS size comes from what was stored, not from the old instance.
            await expectCode(s2.append(new LogBuilder(98).batch(1)), 'CONFLICT');
            await log.append(s2, 5);
            await expectState(s2, log);
          } finally {
            await s2.close();
          }

          const s3 = await h.reopen();
          try {
            await expectState(s3, log);
          } finally {
            await s3.close();
          }
        } finally {
          await h.cleanup();
        }
      });
    });
  });
}

export interface StoreHarness {
  /** A fresh, empty, open store. */
  readonly store: LedgerStore;
  /** A new open store over the same data; called only when the suite holds no open store. */
  readonly reopen?: () => Promise<LedgerStore>;
  /** Closes what is still open and removes the data. */
  readonly cleanup: () => Promise<void>;
}

async function withStore(factory: () => Promise<StoreHarness>, fn: (h: StoreHarness) => Promise<void>): Promise<void> {
  const h = await factory();
  try {
    await fn(h);
  } finally {
    await h.cleanup();
  }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ name: 'LedgerError', code });
}

/**
 * expectState checks that the store holds exactly the log: head, every entry, every
 * stored hash (and nothing past them), the leaf index and the whole history.
 */
async function expectState(store: LedgerStore, log: LogBuilder): Promise<void> {
  const size = log.size;
  const head = await store.readHead();
  if (size === 0) {
    expect(head).toBeUndefined();
  } else {
    expect(head).toEqual({ size, checkpoint: log.headNote });
  }
  expect(await store.readEntries(0, size + 10)).toEqual(log.entries);
  const count = storedHashCount(size);
  expect(log.hashes).toHaveLength(count);
  expect(await store.readHashes(range(count))).toEqual(log.hashes);
  await expectCode(store.readHashes([count]), 'NOT_FOUND');
  expect(await store.readCheckpoints(0, 1_000_000)).toEqual(log.checkpoints);
  const firstIndex = new Map<string, number>();
  log.leaves.forEach((l, i) => {
    const k = hex(l);
    if (!firstIndex.has(k)) firstIndex.set(k, i);
  });
  for (const [i, l] of log.leaves.entries()) {
    // Spot-check large logs; check every leaf of small ones.
    if (log.leaves.length <= 64 || i % 37 === 0 || i === log.leaves.length - 1) {
      expect(await store.findLeaf(l)).toBe(firstIndex.get(hex(l)));
    }
  }
}

/**
 * LogBuilder is the suite's model of a log: it makes valid AppendBatches (stored hashes
 * from core/merkle.ts TreeEdge) and records what a store must hold once they are committed.
 */
export class LogBuilder {
  readonly entries: Uint8Array[] = [];
  readonly leaves: Uint8Array[] = [];
  readonly hashes: Uint8Array[] = [];
  readonly checkpoints: StoredCheckpoint[] = [];
  headNote: Uint8Array = new Uint8Array(0);
  #rand: () => number;

  constructor(seed: number) {
    this.#rand = rng(seed);
  }

  get size(): number {
    return this.entries.length;
  }

  /** batch makes (without committing) the next batch of count entries at the current size. */
  batch(count: number, opts: { entries?: Uint8Array[]; tag?: string; seed?: number } = {}): AppendBatch & {
    entries: Uint8Array[];
    leafHashes: Uint8Array[];
    hashes: Uint8Array[];
    checkpoint: Uint8Array;
  } {
    const rand = opts.seed === undefined ? this.#rand : rng(opts.seed);
    const entries = opts.entries?.map((e) => e.slice()) ?? Array.from({ length: count }, () => randomEntry(rand));
    if (entries.length !== count) throw new Error('LogBuilder: entries.length !== count');
    const edge = new TreeEdge(0, []);
    for (const l of this.leaves) edge.append(l);
    const leafHashes = entries.map((e) => leafHash(e));
    const hashes: Uint8Array[] = [];
    for (const l of leafHashes) hashes.push(...edge.append(l));
    const size = this.size + count;
    if (hashes.length !== storedHashCount(size) - storedHashCount(this.size)) {
      throw new Error('LogBuilder: TreeEdge returned an unexpected number of stored hashes');
    }
    return { expectedSize: this.size, entries, leafHashes, hashes, checkpoint: note(size, opts.tag ?? 'first', edge.root()) };
  }

  /** commit records a batch the store has accepted. */
  commit(b: AppendBatch): void {
    if (b.expectedSize !== this.size) throw new Error('LogBuilder: commit out of order');
    this.entries.push(...b.entries.map((e) => e.slice()));
    this.leaves.push(...b.leafHashes.map((e) => e.slice()));
    this.hashes.push(...b.hashes.map((e) => e.slice()));
    this.headNote = b.checkpoint.slice();
    this.checkpoints.push({ size: this.size, checkpoint: this.headNote });
  }

  /** append builds, appends and commits the next batch. */
  async append(store: LedgerStore, count: number, opts: { entries?: Uint8Array[] } = {}): Promise<void> {
    const b = this.batch(count, opts);
    await store.append(b);
    this.commit(b);
  }
}

/** shapedBatch is a batch that passes the contiguity rule at expectedSize (content arbitrary). */
function shapedBatch(expectedSize: number, count: number): AppendBatch {
  const rand = rng(expectedSize * 31 + count);
  const entries = Array.from({ length: count }, () => randomEntry(rand));
  const n = storedHashCount(expectedSize + count) - storedHashCount(expectedSize);
  return {
    expectedSize,
    entries,
    leafHashes: entries.map((e) => leafHash(e)),
    hashes: Array.from({ length: n }, () => randomBytes(rand, 32)),
    checkpoint: note(expectedSize + count, 'shaped'),
  };
}

/** note is a checkpoint-shaped signed note (the signature is a stand-in); stores treat it as opaque bytes. */
function note(size: number, tag: string, root: Uint8Array = new Uint8Array(32)): Uint8Array {
  const sig = toBase64(new TextEncoder().encode(`sig:${tag}`));
  return new TextEncoder().encode(`conformance.example/log\n${size}\n${toBase64(root)}\n\n— conformance.example/log ${sig}\n`);
}

/** randomEntry is an entry-like byte string of 20..400 bytes. */
function randomEntry(rand: () => number): Uint8Array {
  const e = randomBytes(rand, 20 + Math.floor(rand() * 380));
  e[0] = 0xa5; // a CBOR map header, as real entries start
  return e;
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** rng is mulberry32: deterministic test data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
