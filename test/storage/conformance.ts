import { describe, expect, it } from 'vitest';
import { toBase64, u64be, utf8 } from '../../src/core/bytes.js';
import { leafHash, storedHashCount, TreeEdge } from '../../src/core/merkle.js';
import {
  ANNEX_MAX,
  STATE_KEY_MAX,
  STATE_VALUE_MAX,
  type AppendBatch,
  type LedgerStore,
  type StateWrite,
  type StoredCheckpoint,
  type StoredHead,
} from '../../src/storage/store.js';

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
          await log.append(store, 3, { state: [put('a', '1')] });
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

    describe('state index (rule 11)', () => {
      it('starts empty: every key reads undefined, in order, in one call', async () => {
        await withStore(factory, async ({ store }) => {
          expect(await store.readState([])).toStrictEqual([]);
          expect(await store.readState([k('a'), k('b'), k('a')])).toStrictEqual([undefined, undefined, undefined]);
          const log = new LogBuilder(30);
          await log.append(store, 2); // a batch without state writes none
          expect(await store.readState([k('a')])).toStrictEqual([undefined]);
        });
      });

      it('writes state with its batch and reads it back in order, repeats included', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(31);
          await log.append(store, 3, { state: [put('a', '1'), put('b', '2'), put('c', new Uint8Array(0))] });
          const got = await store.readState([k('c'), k('a'), k('x'), k('a'), k('b')]);
          expect(got.map(hexOrUndefined)).toStrictEqual(['', hex(k('1')), undefined, hex(k('1')), hex(k('2'))]);
          // A zero-length value is present, not deleted.
          expect(got[0]).toBeInstanceOf(Uint8Array);
          expect(got[0]!.length).toBe(0);
          await expectState(store, log);
          // No state, or an empty one, leaves the state as it was.
          await log.append(store, 1);
          await log.append(store, 2, { state: [] });
          await expectState(store, log);
        });
      });

      it('overwrites and deletes across batches; the later of two writes to a key in a batch wins', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(32);
          await log.append(store, 1, { state: [put('a', '1'), put('b', '1'), put('c', '1')] });
          await expectState(store, log);
          // overwrite; delete; delete an absent key; two puts to one key
          await log.append(store, 2, { state: [put('a', '2'), del('b'), del('d'), put('c', 'x'), put('c', 'y')] });
          await expectState(store, log);
          expect((await store.readState([k('a'), k('b'), k('c'), k('d')])).map(hexOrUndefined)).toStrictEqual([
            hex(k('2')),
            undefined,
            hex(k('y')),
            undefined,
          ]);
          // a deleted key written again; put then delete; delete then put
          await log.append(store, 3, { state: [put('b', '3'), put('e', '1'), del('e'), del('f'), put('f', '2')] });
          await expectState(store, log);
          expect((await store.readState([k('b'), k('e'), k('f')])).map(hexOrUndefined)).toStrictEqual([hex(k('3')), undefined, hex(k('2'))]);
        });
      });

      it('takes keys of 1 to 64 bytes and values of 0 to 65,536 bytes, and keys are opaque', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(33);
          await log.append(store, 2);
          const big = new Uint8Array(STATE_VALUE_MAX).map((_, i) => (i * 13) & 255);
          const longKey = new Uint8Array(STATE_KEY_MAX).fill(0xff);
          // Keys shaped like the log's own records in some backends, and keys that prefix each other.
          const odd = [
            new Uint8Array([0]),
            new Uint8Array([1]),
            new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0]),
            new Uint8Array([5, 0, 0, 0, 0, 0, 0, 0, 2]),
            new Uint8Array([6]),
            new Uint8Array([6, 0]),
            new Uint8Array([6, 0, 0]),
          ];
          await log.append(store, 2, {
            state: [put(longKey, big), put(new Uint8Array([0xff]), new Uint8Array(0)), ...odd.map((key, i) => put(key, `v${i}`))],
          });
          await expectState(store, log);
          expect(await store.readState([longKey.subarray(1), new Uint8Array([6, 0, 0, 0]), new Uint8Array([3])])).toStrictEqual([
            undefined,
            undefined,
            undefined,
          ]);
          const [back] = await store.readState([longKey]);
          expect(hex(back!)).toBe(hex(big));
          await log.append(store, 1, { state: [del(new Uint8Array([6, 0])), put(longKey, new Uint8Array([1]))] });
          await expectState(store, log);
        });
      });

      it('rejects state writes out of bounds (RangeError) or of the wrong type (TypeError), applying nothing of the batch', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(34);
          await log.append(store, 2, { state: [put('a', '1'), put('b', '1')] });
          const good = log.batch(3, { state: [put('a', '2'), del('b'), put('c', '1')] });
          const withWrite = (w: unknown): AppendBatch => ({ ...good, state: [...good.state!, w as StateWrite] });
          const ranges: AppendBatch[] = [
            withWrite(put(new Uint8Array(0), '1')),
            withWrite(put(new Uint8Array(STATE_KEY_MAX + 1), '1')),
            withWrite(del(new Uint8Array(STATE_KEY_MAX + 1))),
            withWrite(put('z', new Uint8Array(STATE_VALUE_MAX + 1))),
          ];
          for (const b of ranges) {
            await expect(store.append(b)).rejects.toBeInstanceOf(RangeError);
            await expectState(store, log);
          }
          const types: AppendBatch[] = [
            withWrite({ key: 'z', value: k('1') }),
            withWrite({ key: [1, 2], value: k('1') }),
            withWrite({ key: k('z'), value: 'one' }),
            withWrite({ key: k('z'), value: undefined }),
            withWrite({ key: k('z') }),
            withWrite(null),
            { ...good, state: 'a' as unknown as StateWrite[] },
            { ...good, state: { length: 0 } as unknown as StateWrite[] },
            { ...good, state: null as unknown as StateWrite[] },
          ];
          for (const b of types) {
            await expect(store.append(b)).rejects.toBeInstanceOf(TypeError);
            await expectState(store, log);
          }
          await store.append(good);
          log.commit(good);
          await expectState(store, log);
        });
      });

      it('readState rejects keys out of bounds (RangeError) or of the wrong type (TypeError)', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(35);
          await log.append(store, 1, { state: [put('a', '1')] });
          for (const bad of [new Uint8Array(0), new Uint8Array(STATE_KEY_MAX + 1)]) {
            await expect(store.readState([k('a'), bad])).rejects.toBeInstanceOf(RangeError);
          }
          for (const bad of ['a', [97], undefined, null, new ArrayBuffer(1)]) {
            await expect(store.readState([k('a'), bad as unknown as Uint8Array])).rejects.toBeInstanceOf(TypeError);
          }
          for (const bad of ['a', undefined, { length: 1, 0: k('a') }]) {
            await expect(store.readState(bad as unknown as Uint8Array[])).rejects.toBeInstanceOf(TypeError);
          }
          await expectState(store, log);
        });
      });

      it('a refused append (CONFLICT or RangeError) leaves the state untouched', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(36);
          await log.append(store, 3, { state: [put('a', '1'), put('b', '1')] });
          await log.append(store, 2, { state: [put('c', '1')] });
          const writes = [put('a', 'changed'), del('b'), put('new', 'x'), del('c')];
          for (const at of [0, 3, 6, 100]) {
            const b = at === 0 ? new LogBuilder(97).batch(1, { state: writes }) : shapedBatch(at, 2, writes);
            await expectCode(store.append(b), 'CONFLICT');
            await expectState(store, log);
            expect(await store.readState([k('new')])).toStrictEqual([undefined]);
          }
          const good = log.batch(2, { state: writes });
          await expect(store.append({ ...good, hashes: good.hashes.slice(1) })).rejects.toBeInstanceOf(RangeError);
          await expect(store.append({ ...good, entries: [], leafHashes: [], hashes: [] })).rejects.toBeInstanceOf(RangeError);
          await expectState(store, log);
          // The next accepted batch carries only its own writes.
          await log.append(store, 1, { state: [put('d', '1')] });
          await expectState(store, log);
          expect(await store.readState([k('new')])).toStrictEqual([undefined]);
        });
      });

      it('applies the state of only the winner of two concurrent appends at one size', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(37);
          await log.append(store, 2, { state: [put('shared', '0'), put('gone', '0')] });
          const a = log.batch(3, { tag: 'a', state: [put('shared', 'a'), put('only-a', '1'), del('gone')] });
          const b = log.batch(5, { tag: 'b', seed: 81, state: [put('shared', 'b'), put('only-b', '1')] });
          const [ra, rb] = await Promise.allSettled([store.append(a), store.append(b)]);
          expect([ra, rb].filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          log.commit(ra.status === 'fulfilled' ? a : b);
          await expectState(store, log);
          const loserKey = ra.status === 'fulfilled' ? 'only-b' : 'only-a';
          expect(await store.readState([k(loserKey)])).toStrictEqual([undefined]);
        });
      });

      it('returns plain Uint8Arrays owned by the caller, and copies the writes it is given', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(38);
          const b = log.batch(2, { state: [put('a', '1'), put('b', 'two'), put('c', new Uint8Array(0))] });
          await store.append(b);
          log.commit(b);
          // Reuse the caller's arrays after append resolved: the stored state must not change.
          for (const w of b.state!) {
            w.key.fill(0xee);
            w.value?.fill(0xee);
          }
          const keys = [k('a'), k('b'), k('c'), k('a')];
          const got = await store.readState(keys);
          for (const g of got) expect(Object.getPrototypeOf(g)).toBe(Uint8Array.prototype);
          // Each answer is the caller's own, even for a key asked twice in one call.
          got[0]!.fill(0xdd);
          expect(hex(got[3]!)).toBe(hex(k('1')));
          for (const g of got) g!.fill(0xdd);
          keys[0].fill(0xdd); // the request array is the caller's too
          await expectState(store, log);
        });
      });

      it('writes the state of a 256-entry batch (two writes per entry) in the same append', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(39);
          await log.append(store, 1, { state: [put('genesis', '1')] });
          const state: StateWrite[] = [];
          for (let i = 0; i < 256; i++) state.push(put(`cert/${i}`, u64be(i)), put(`holder/${i % 17}`, u64be(i)));
          await log.append(store, 256, { state });
          await expectState(store, log);
          const many = await store.readState(Array.from({ length: 256 }, (_, i) => k(`cert/${i}`)));
          expect(many.map((v) => readU64(v!))).toStrictEqual(Array.from({ length: 256 }, (_, i) => i));
        });
      });

      it('readers concurrent with appends see the state and the entries of the same appends', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(40);
          const sizes = [1, 17, 3, 64, 1, 30, 5, 40, 2, 33, 7, 16, 9, 60, 4, 1, 25, 12];
          // Every batch writes u64(its new size) to 24 keys, and writes or deletes 'odd' by parity.
          const keys = Array.from({ length: 24 }, (_, i) => k(`k${i}`));
          const ODD = k('odd');
          const batchAt = new Map<number, number>([[0, -1]]); // state size → batch number
          const batches: AppendBatch[] = [];
          sizes.forEach((n, j) => {
            const v = u64be(log.size + n);
            const b = log.batch(n, { state: [...keys.map((key) => put(key, v)), j % 2 === 1 ? put(ODD, v) : del(ODD)] });
            log.commit(b);
            batches.push(b);
            batchAt.set(log.size, j);
          });
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
              const before = (await store.readHead())?.size ?? 0;
              const got = await store.readState([...keys, ODD]);
              const after = (await store.readHead())?.size ?? 0;
              const s = got[0] === undefined ? 0 : readU64(got[0]);
              // One call reads one point between appends: every key from the same batch.
              for (const g of got.slice(0, keys.length)) expect(hexOrUndefined(g)).toBe(hexOrUndefined(got[0]));
              expect(batchAt.has(s)).toBe(true);
              expect(hexOrUndefined(got[keys.length])).toBe(batchAt.get(s)! % 2 === 1 ? hex(got[0]!) : undefined);
              // Not older than entries already seen, not newer than entries readable after.
              expect(s).toBeGreaterThanOrEqual(before);
              expect(s).toBeLessThanOrEqual(after);
              if (s > 0) expect(await store.readEntries(s - 1, s + 1)).toContainEqual(log.entries[s - 1]);
              if (s > 0) observed++;
              else await new Promise((r) => setTimeout(r, 0));
            }
          };
          await Promise.all([writer, reader(), reader()]);
          expect(observed).toBeGreaterThan(0);
          await expectState(store, log);
        });
      });
    });

    describe('annexes (rule 13)', () => {
      it('start empty, and store, replace and read annexes by (kind, size)', async () => {
        await withStore(factory, async ({ store }) => {
          expect(await store.readAnnexes('timestamp', 0, 10)).toStrictEqual([]);
          expect(await store.latestAnnex('timestamp')).toBeUndefined();
          expect(await store.latestAnnex('witnessed')).toBeUndefined();
          const log = new LogBuilder(40);
          await log.append(store, 3);
          await log.append(store, 4);
          // Not fenced by the head: an annex for a size the history does not hold is stored too.
          await store.putAnnex('timestamp', 7, k('t7'));
          await store.putAnnex('timestamp', 3, k('t3'));
          await store.putAnnex('timestamp', 2 ** 40 + 1, k('big'));
          await store.putAnnex('witnessed', 3, k('w3'));
          await store.putAnnex('timestamp', 3, k('t3 again')); // replaces
          const all = await store.readAnnexes('timestamp', 0, 10);
          expect(all.map((a) => [a.size, hex(a.bytes)])).toStrictEqual([
            [3, hex(k('t3 again'))],
            [7, hex(k('t7'))],
            [2 ** 40 + 1, hex(k('big'))],
          ]);
          for (const a of all) expect(Object.getPrototypeOf(a.bytes)).toBe(Uint8Array.prototype);
          expect((await store.readAnnexes('timestamp', 4, 10)).map((a) => a.size)).toStrictEqual([7, 2 ** 40 + 1]);
          expect((await store.readAnnexes('timestamp', 0, 2)).map((a) => a.size)).toStrictEqual([3, 7]);
          expect(await store.readAnnexes('timestamp', 0, 0)).toStrictEqual([]);
          expect(await store.readAnnexes('timestamp', 2 ** 40 + 2, 10)).toStrictEqual([]);
          expect((await store.readAnnexes('witnessed', 0, 10)).map((a) => [a.size, hex(a.bytes)])).toStrictEqual([[3, hex(k('w3'))]]);
          const latest = await store.latestAnnex('timestamp');
          expect(latest?.size).toBe(2 ** 40 + 1);
          expect(hex(latest!.bytes)).toBe(hex(k('big')));
          expect((await store.latestAnnex('witnessed'))?.size).toBe(3);
          // Annexes are no part of the log: head, history and state are as they were.
          await expectState(store, log);
        });
      });

      it('keeps no reference to the caller\'s array', async () => {
        await withStore(factory, async ({ store }) => {
          const b = k('abc');
          await store.putAnnex('timestamp', 1, b);
          b[0] = 0x7a;
          expect(hex((await store.readAnnexes('timestamp', 1, 1))[0].bytes)).toBe(hex(k('abc')));
          const got = (await store.readAnnexes('timestamp', 1, 1))[0].bytes;
          got[0] = 0x7a;
          expect(hex((await store.latestAnnex('timestamp'))!.bytes)).toBe(hex(k('abc')));
        });
      });

      it('stores ANNEX_MAX bytes and refuses bad arguments before writing anything', async () => {
        await withStore(factory, async ({ store }) => {
          const max = new Uint8Array(ANNEX_MAX).fill(7);
          await store.putAnnex('witnessed', 5, max);
          expect((await store.latestAnnex('witnessed'))!.bytes).toStrictEqual(max);
          await expect(store.putAnnex('witnessed', 6, new Uint8Array(ANNEX_MAX + 1))).rejects.toThrow(RangeError);
          await expect(store.putAnnex('witnessed', 6, new Uint8Array(0))).rejects.toThrow(RangeError);
          await expect(store.putAnnex('witnessed', -1, k('x'))).rejects.toThrow(RangeError);
          await expect(store.putAnnex('witnessed', 1.5, k('x'))).rejects.toThrow(RangeError);
          await expect(store.putAnnex('witnessed', 2 ** 53, k('x'))).rejects.toThrow(RangeError);
          await expect(store.putAnnex('witnessed', 6, 'x' as unknown as Uint8Array)).rejects.toThrow(TypeError);
          await expect(store.putAnnex('other' as 'witnessed', 6, k('x'))).rejects.toThrow(TypeError);
          await expect(store.readAnnexes('other' as 'witnessed', 0, 1)).rejects.toThrow(TypeError);
          await expect(store.readAnnexes('witnessed', -1, 1)).rejects.toThrow(RangeError);
          await expect(store.readAnnexes('witnessed', 0, -1)).rejects.toThrow(RangeError);
          await expect(store.latestAnnex('other' as 'witnessed')).rejects.toThrow(TypeError);
          expect((await store.readAnnexes('witnessed', 0, 10)).map((a) => a.size)).toStrictEqual([5]);
        });
      });

      it('never collides with the state index or the history', async () => {
        await withStore(factory, async ({ store }) => {
          const log = new LogBuilder(41);
          // State keys that look like annex keys in any one-byte-prefix layout.
          const lookalike = new Uint8Array([0x07, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
          await log.append(store, 2, { state: [{ key: lookalike, value: k('state') }, put('timestamp', 'x')] });
          await store.putAnnex('timestamp', 2, k('annex'));
          expect(hex((await store.readState([lookalike]))[0]!)).toBe(hex(k('state')));
          expect((await store.readAnnexes('timestamp', 0, 10)).map((a) => hex(a.bytes))).toStrictEqual([hex(k('annex'))]);
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
          await expectCode(store.readState([k('a')]), 'UNAVAILABLE');
          await expectCode(store.readState([]), 'UNAVAILABLE');
          await expectCode(store.append(log.batch(1)), 'UNAVAILABLE');
          await expectCode(store.append(log.batch(1, { state: [put('a', '1')] })), 'UNAVAILABLE');
          await expectCode(store.putLatestCheckpoint(2, note(2, 'x')), 'UNAVAILABLE');
          await expectCode(store.putAnnex('timestamp', 2, k('x')), 'UNAVAILABLE');
          await expectCode(store.readAnnexes('timestamp', 0, 1), 'UNAVAILABLE');
          await expectCode(store.latestAnnex('witnessed'), 'UNAVAILABLE');
        });
      });

      it('keeps everything across close and reopen', async (ctx) => {
        const h = await factory();
        try {
          if (!h.reopen) return ctx.skip();
          const log = new LogBuilder(19);
          await log.append(h.store, 1, { state: [put('a', '1'), put('b', '1'), put('empty', new Uint8Array(0))] });
          await log.append(h.store, 9, { state: [put('a', '2'), del('b'), put('c', new Uint8Array(STATE_VALUE_MAX))] });
          await log.append(h.store, 22);
          await h.store.putAnnex('timestamp', 10, k('token 10'));
          await h.store.putAnnex('witnessed', 32, k('witnessed 32'));
          const re = note(32, 'recosigned');
          await h.store.putLatestCheckpoint(32, re);
          log.headNote = re;
          await h.store.close();

          const s2 = await h.reopen();
          try {
            await expectState(s2, log);
            // The CAS size comes from what was stored, not from the old instance.
            await expectCode(s2.append(new LogBuilder(98).batch(1, { state: [put('a', 'stale')] })), 'CONFLICT');
            await log.append(s2, 5, { state: [put('b', '3'), del('c'), put('d', '1')] });
            await expectState(s2, log);
          } finally {
            await s2.close();
          }

          const s3 = await h.reopen();
          try {
            await expectState(s3, log);
            expect((await s3.readAnnexes('timestamp', 0, 10)).map((a) => [a.size, hex(a.bytes)])).toStrictEqual([[10, hex(k('token 10'))]]);
            expect(hex((await s3.latestAnnex('witnessed'))!.bytes)).toBe(hex(k('witnessed 32')));
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
  // The state index: every key ever written, deleted ones included (they read undefined).
  const tracked = [...log.state.values()];
  const got = await store.readState(tracked.map((t) => t.key));
  expect(got.map(hexOrUndefined)).toStrictEqual(tracked.map((t) => hexOrUndefined(t.value)));
}

/**
 * LogBuilder is the suite's model of a log: it makes valid AppendBatches (stored hashes
 * from core/merkle.ts TreeEdge) and records what a store must hold once they are committed,
 * the state index included.
 */
export class LogBuilder {
  readonly entries: Uint8Array[] = [];
  readonly leaves: Uint8Array[] = [];
  readonly hashes: Uint8Array[] = [];
  readonly checkpoints: StoredCheckpoint[] = [];
  /** Every state key ever written, by hex: its current value, undefined once deleted. */
  readonly state = new Map<string, { key: Uint8Array; value: Uint8Array | undefined }>();
  headNote: Uint8Array = new Uint8Array(0);
  #rand: () => number;

  constructor(seed: number) {
    this.#rand = rng(seed);
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * batch makes (without committing) the next batch of count entries at the current size,
   * with copies of the given state writes (no `state` field when none are given).
   */
  batch(count: number, opts: { entries?: Uint8Array[]; tag?: string; seed?: number; state?: readonly StateWrite[] } = {}): TestBatch {
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
    const b: TestBatch = { expectedSize: this.size, entries, leafHashes, hashes, checkpoint: note(size, opts.tag ?? 'first', edge.root()) };
    if (opts.state) b.state = opts.state.map((w) => ({ key: w.key.slice(), value: w.value === null ? null : w.value.slice() }));
    return b;
  }

  /** commit records a batch the store has accepted. */
  commit(b: AppendBatch): void {
    if (b.expectedSize !== this.size) throw new Error('LogBuilder: commit out of order');
    this.entries.push(...b.entries.map((e) => e.slice()));
    this.leaves.push(...b.leafHashes.map((e) => e.slice()));
    this.hashes.push(...b.hashes.map((e) => e.slice()));
    this.headNote = b.checkpoint.slice();
    this.checkpoints.push({ size: this.size, checkpoint: this.headNote });
    for (const w of b.state ?? []) {
      this.state.set(hex(w.key), { key: w.key.slice(), value: w.value === null ? undefined : w.value.slice() });
    }
  }

  /** append builds, appends and commits the next batch. */
  async append(store: LedgerStore, count: number, opts: { entries?: Uint8Array[]; state?: readonly StateWrite[] } = {}): Promise<void> {
    const b = this.batch(count, opts);
    await store.append(b);
    this.commit(b);
  }
}

/** TestBatch is an AppendBatch whose arrays a test may change. */
export type TestBatch = AppendBatch & {
  entries: Uint8Array[];
  leafHashes: Uint8Array[];
  hashes: Uint8Array[];
  checkpoint: Uint8Array;
  state?: { key: Uint8Array; value: Uint8Array | null }[];
};

/** shapedBatch is a batch that passes the contiguity rule at expectedSize (content arbitrary). */
function shapedBatch(expectedSize: number, count: number, state?: readonly StateWrite[]): AppendBatch {
  const rand = rng(expectedSize * 31 + count);
  const entries = Array.from({ length: count }, () => randomEntry(rand));
  const n = storedHashCount(expectedSize + count) - storedHashCount(expectedSize);
  return {
    expectedSize,
    entries,
    leafHashes: entries.map((e) => leafHash(e)),
    hashes: Array.from({ length: n }, () => randomBytes(rand, 32)),
    checkpoint: note(expectedSize + count, 'shaped'),
    ...(state ? { state } : {}),
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

function hexOrUndefined(b: Uint8Array | undefined): string | undefined {
  return b === undefined ? undefined : hex(b);
}

/** k is a state key (or value) from text. */
function k(text: string): Uint8Array {
  return utf8(text);
}

/** put and del are state writes. */
function put(key: Uint8Array | string, value: Uint8Array | string): StateWrite {
  return { key: typeof key === 'string' ? k(key) : key, value: typeof value === 'string' ? k(value) : value };
}

function del(key: Uint8Array | string): StateWrite {
  return { key: typeof key === 'string' ? k(key) : key, value: null };
}

function readU64(b: Uint8Array): number {
  return Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0));
}
