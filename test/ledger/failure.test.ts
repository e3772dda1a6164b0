/**
 * The sequencer's failure contract (docs/spec.md §8.2), tested by injecting faults into
 * the store (test/helpers/faulty-store.ts) the way Sunlight's test backend does: a store
 * call fails before it persists anything, or after it persisted. After every fault the
 * ledger is closed and reopened on the real store, and the start-up checks must pass
 * with every acknowledged entry at its index, the tree recomputing to the checkpoint and
 * the checkpoint history consistent, before and after new appends.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { entry, makeLedger, type TestLedger } from '../helpers/ledger.js';
import { FaultyStore, type FaultPoint, type FaultyMethod } from '../helpers/faulty-store.js';
import { RefTree } from '../reference/merkle-ref.js';
import { Ledger, type LedgerOptions } from '../../src/ledger/ledger.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { FileGuard } from '../../src/ledger/guard.js';
import { LevelStore } from '../../src/storage/level.js';
import type { AppendBatch } from '../../src/storage/store.js';
import { leafHash, verifyConsistency } from '../../src/core/merkle.js';
import { openNote, parseVerifierKey } from '../../src/core/note.js';
import { parseCheckpoint } from '../../src/core/checkpoint.js';
import { isLedgerError, LedgerError } from '../../src/core/errors.js';
import { equalBytes } from '../../src/core/bytes.js';

const rigs: TestLedger[] = [];
afterEach(async () => {
  while (rigs.length > 0) await rigs.pop()!.cleanup();
});

/** A settable clock, starting at a whole second. */
function fakeClock(): { now: number; fn: () => number } {
  const c = { now: 1_800_000_000_000, fn: () => c.now };
  return c;
}

/**
 * faultyLedger makes a ledger (genesis written by makeLedger), then reopens it on a
 * FaultyStore around a fresh LevelStore of the same directory. t.reopen() later reopens
 * on a plain LevelStore, as a restart would.
 */
async function faultyLedger(extra: Partial<LedgerOptions>): Promise<{ t: TestLedger; store: FaultyStore }> {
  const t = await makeLedger(extra);
  rigs.push(t);
  await t.ledger.close();
  const inner = t.newStore();
  await inner.open();
  const store = new FaultyStore(inner);
  t.ledger = await Ledger.open({ store, keys: await loadKeys(t.dir), guard: FileGuard.inDir(t.dir), ...extra });
  return { t, store };
}

/** What a writer was told before a failure: acknowledged entries and every checkpoint it saw. */
interface Seen {
  acked: Map<number, Uint8Array>;
  checkpoints: Uint8Array[];
}

/** submit appends entries concurrently (one batch, or several when over maxBatch) and records what was acknowledged. */
async function submit(l: Ledger, entries: Uint8Array[], seen: Seen): Promise<PromiseSettledResult<unknown>[]> {
  const results = await Promise.allSettled(entries.map((e) => l.append(e)));
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      const prev = seen.acked.get(r.value.index);
      if (prev !== undefined) expect(equalBytes(prev, entries[i])).toBe(true);
      seen.acked.set(r.value.index, entries[i]);
      if (r.value.checkpoint !== undefined) seen.checkpoints.push(r.value.checkpoint);
    } else {
      expectCode(r.reason, 'UNAVAILABLE');
    }
  });
  return results;
}

function expectCode(e: unknown, code: LedgerError['code']): void {
  expect(e).toBeInstanceOf(LedgerError);
  expect((e as LedgerError).code).toBe(code);
}

function checkpointOf(l: Ledger, note: Uint8Array) {
  const k = l.publicKeys;
  const { note: n } = openNote(note, [parseVerifierKey(k.logKey), parseVerifierKey(k.timestampKey)], { requireAll: true });
  return parseCheckpoint(n.text);
}

/**
 * expectSound checks a (re)opened ledger against what writers were told: every
 * acknowledged entry at its index, the root recomputed from the entries (reference
 * implementation) and from stored hashes, and every history checkpoint and every
 * checkpoint seen before consistent with the head.
 */
async function expectSound(l: Ledger, seen: Seen): Promise<void> {
  const head = l.head;
  const entries = await l.store.readEntries(0, head.size + 1);
  expect(entries).toHaveLength(head.size);
  for (const [i, e] of seen.acked) {
    expect(i).toBeLessThan(head.size);
    expect(equalBytes(entries[i], e)).toBe(true);
  }
  expect(equalBytes(new RefTree(entries).mth(0, head.size), head.root)).toBe(true);
  expect(equalBytes(await l.rootAt(head.size), head.root)).toBe(true);
  const history = (await l.checkpoints(0, 1000)).map((c) => c.checkpoint);
  expect(history.length).toBeGreaterThan(0);
  for (const note of [...history, ...seen.checkpoints]) {
    const cp = checkpointOf(l, note);
    expect(cp.size).toBeLessThanOrEqual(head.size);
    if (cp.size === head.size) expect(equalBytes(cp.root, head.root)).toBe(true);
    else verifyConsistency(cp.size, head.size, await l.consistencyProof(cp.size, head.size), cp.root, head.root);
  }
}

/**
 * expectRecovers reopens on the real store, checks it (and runs `atReopen` on it before
 * anything else is written), appends, and checks again.
 */
async function expectRecovers(t: TestLedger, seen: Seen, atReopen?: (l: Ledger) => Promise<void>): Promise<Ledger> {
  const l = await t.reopen(); // the start-up checks (signature, right edge, history, guard) pass
  await atReopen?.(l);
  await expectSound(l, seen);
  seen.checkpoints.push(l.head.checkpoint);
  await submit(l, [entry(900_001), entry(900_002)], seen);
  expect(l.failure).toBeUndefined();
  await expectSound(l, seen);
  return l;
}

/** expectStopped: the sequencer is fail-stopped, says why in one line, and refuses appends. */
async function expectStopped(l: Ledger): Promise<string> {
  const why = l.failure;
  expect(typeof why).toBe('string');
  expect(why!.length).toBeGreaterThan(0);
  expect(why).not.toMatch(/[\r\n]/);
  const later = await l.append(entry(800_000)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expectCode(later, 'UNAVAILABLE');
  return why!;
}

// verifyThreads 0: signatures are checked inline. This file opens ~95 ledgers, and each
// one's verify pool started and terminated worker threads (190 in all, the most of any test
// file); the file's worker process once exited unexpectedly in a full test:postgres run.
// Nothing here is about the pool, which test/ledger/verify-pool.test.ts covers.
const INLINE = { verifyThreads: 0 } as const;
const OPTS = { sequencer: { maxBatch: 4, recosignMs: 0 }, ...INLINE } as const;

describe('sequencer failure contract (spec §8.2)', () => {
  const cases: [FaultPoint, string, () => Error][] = [
    ['before', 'an I/O error', () => new Error('injected disk failure')],
    ['after', 'an I/O error', () => new Error('injected disk failure')],
    ['before', 'a coded store error', () => new LedgerError('STATE_MISMATCH', 'injected store state error')],
    ['after', 'a coded store error', () => new LedgerError('STATE_MISMATCH', 'injected store state error')],
  ];
  it.each(cases)('a store append failing %s persisting (%s) stops the sequencer; a restart recovers', async (point, _what, makeError) => {
    const clock = fakeClock();
    const { t, store } = await faultyLedger({ clock: clock.fn, ...OPTS });
    const l = t.ledger;
    const seen: Seen = { acked: new Map([[0, (await l.store.readEntries(0, 1))[0]]]), checkpoints: [l.head.checkpoint] };
    await submit(l, [entry(1), entry(2), entry(3)], seen);
    expect(seen.acked.size).toBe(4);
    const sizeBefore = l.head.size;

    const error = makeError();
    if (point === 'before') store.failBefore('append', 1, error);
    else store.failAfter('append', 1, error);
    // maxBatch 4: the first 4 form the failing batch, the other 6 wait in the queue.
    const waiting = Array.from({ length: 10 }, (_, i) => entry(10 + i));
    const results = await submit(l, waiting, seen);
    expect(store.fired).toHaveLength(1);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expectCode((r as PromiseRejectedResult).reason, 'UNAVAILABLE'); // never the store's own code
    }
    const why = await expectStopped(l);
    expect(why).toContain(error.message); // says why
    expect(l.head.size).toBe(sizeBefore);

    const failed = store.fired[0].args[0] as AppendBatch;
    expect(failed.expectedSize).toBe(sizeBefore);
    expect(failed.entries).toHaveLength(4);

    const r = await expectRecovers(t, seen);
    for (const [i, h] of failed.leafHashes.entries()) {
      expect(await r.store.findLeaf(h)).toBe(point === 'after' ? sizeBefore + i : undefined);
    }
    for (const e of waiting.slice(4)) expect(await r.store.findLeaf(leafHash(e))).toBeUndefined();
    // The same bytes keep the index they first got, even if the writer was told of a failure.
    const again = await r.append(failed.entries[0]);
    expect(again.duplicate).toBe(point === 'after');
    if (point === 'after') expect(again.index).toBe(sizeBefore);
  });

  it('survives a fault at every store call of a workload, before and after persisting (Sunlight-style walk)', async () => {
    const methods: FaultyMethod[] = ['findLeaves', 'append', 'putLatestCheckpoint'];
    // The workload: batches (one with a duplicate, one split by maxBatch) and re-cosignatures.
    const workload = async (l: Ledger, clock: { now: number }, seen: Seen): Promise<void> => {
      const steps: (() => Promise<unknown>)[] = [
        () => submit(l, [entry(1), entry(2), entry(3)], seen),
        () => l.sequencer!.recosign().catch(() => {}),
        () => submit(l, [entry(4), entry(5), entry(1)], seen),
        () => submit(l, Array.from({ length: 6 }, (_, i) => entry(6 + i)), seen),
        () => l.sequencer!.recosign().catch(() => {}),
        () => submit(l, [entry(12)], seen),
      ];
      for (const step of steps) {
        clock.now += 7_000;
        await step();
        if (l.failure === undefined) seen.checkpoints.push(l.head.checkpoint);
      }
    };

    // A dry run counts the store calls the walk can fail.
    const dry = fakeClock();
    const { store: counted, t: dryRig } = await faultyLedger({ clock: dry.fn, ...OPTS });
    await workload(dryRig.ledger, dry, { acked: new Map(), checkpoints: [] });
    const total = methods.reduce((n, m) => n + counted.calls[m], 0);
    expect(total).toBeGreaterThanOrEqual(10);
    expect(counted.calls.putLatestCheckpoint).toBe(2);

    for (let k = 1; k <= total; k++) {
      for (const point of ['before', 'after'] as const) {
        const label = `fault at call ${k} of ${total}, ${point} persisting`;
        const clock = fakeClock();
        const { t, store } = await faultyLedger({ clock: clock.fn, ...OPTS });
        try {
          const l = t.ledger;
          const seen: Seen = { acked: new Map([[0, (await l.store.readEntries(0, 1))[0]]]), checkpoints: [l.head.checkpoint] };
          if (point === 'before') store.failBefore(methods, k);
          else store.failAfter(methods, k);
          await workload(l, clock, seen);
          expect(store.fired, label).toHaveLength(1);
          const fault = store.fired[0];
          const isWrite = fault.method === 'append' || fault.method === 'putLatestCheckpoint';
          if (isWrite || l.failure !== undefined) await expectStopped(l);
          else await submit(l, [entry(700_000)], seen); // a read fault that did not stop must leave it working
          const lastSeen = seen.checkpoints.at(-1)!;

          await expectRecovers(t, seen, async (r) => {
            const head = r.head;
            if (fault.method === 'append') {
              const b = fault.args[0] as AppendBatch;
              for (const [i, h] of b.leafHashes.entries()) {
                expect(await r.store.findLeaf(h), label).toBe(point === 'after' ? b.expectedSize + i : undefined);
              }
              if (point === 'after') expect(equalBytes(head.checkpoint, b.checkpoint), label).toBe(true);
              else expect(head.size, label).toBe(b.expectedSize);
            } else if (fault.method === 'putLatestCheckpoint') {
              // The re-cosignature is the head exactly when it persisted; the history keeps the first signing.
              const [size, note] = fault.args as [number, Uint8Array];
              expect(head.size, label).toBe(size);
              expect(equalBytes(head.checkpoint, point === 'after' ? note : lastSeen), label).toBe(true);
              const [first] = await r.checkpoints(size, 1);
              expect(equalBytes(first.checkpoint, note), label).toBe(false);
            } else {
              expect(equalBytes(head.checkpoint, lastSeen), label).toBe(true);
            }
          });
        } finally {
          rigs.splice(rigs.indexOf(t), 1);
          await t.cleanup();
        }
      }
    }
  });

  it('a throwing admission hook refuses only its batch and does not stop the sequencer', async () => {
    let mode: 'accept' | 'coded' | 'plain' = 'accept';
    const t = await makeLedger({
      ...INLINE,
      sequencer: { recosignMs: 0 },
      admit: async (entries) => {
        if (mode === 'coded') throw new LedgerError('BAD_SIGNATURE', 'issuer registry says no');
        if (mode === 'plain') throw new Error('issuer registry is down');
        return entries.map(() => undefined);
      },
    });
    rigs.push(t);
    const l = t.ledger;
    const first = await l.append(entry(1));
    const size = l.head.size;

    mode = 'coded';
    const [a, b, aAgain, logged] = await Promise.allSettled([l.append(entry(2)), l.append(entry(3)), l.append(entry(2)), l.append(entry(1))]);
    for (const r of [a, b, aAgain]) {
      expect(r.status).toBe('rejected');
      expectCode((r as PromiseRejectedResult).reason, 'BAD_SIGNATURE');
    }
    // Dedup comes before admission (§8.2 steps 2–3): an entry already logged keeps its index.
    expect(logged).toMatchObject({ status: 'fulfilled', value: { index: first.index, duplicate: true } });
    expect(l.failure).toBeUndefined();
    expect(l.head.size).toBe(size);
    expect(await l.store.findLeaf(leafHash(entry(2)))).toBeUndefined();

    mode = 'plain';
    const plain = await l.append(entry(4)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expectCode(plain, 'UNAVAILABLE');
    expect(l.failure).toBeUndefined();
    expect(l.head.size).toBe(size);

    mode = 'accept';
    const ok = await Promise.all([l.append(entry(2)), l.append(entry(3)), l.append(entry(4))]);
    expect(ok.map((r) => r.duplicate)).toEqual([false, false, false]);
    expect(ok.map((r) => r.index).sort()).toEqual([size, size + 1, size + 2]);
    expect(l.failure).toBeUndefined();
  });

  it('a lost compare-and-swap (another writer appended) stops with UNAVAILABLE and names the conflict', async () => {
    const clock = fakeClock();
    const { t, store } = await faultyLedger({ clock: clock.fn, ...OPTS });
    const l = t.ledger;
    const seen: Seen = { acked: new Map([[0, (await l.store.readEntries(0, 1))[0]]]), checkpoints: [] };
    await submit(l, [entry(1)], seen);
    seen.checkpoints.push(l.head.checkpoint);

    // Another writer with the same keys appends behind this ledger's back: through a store
    // of its own where processes may share the log (closed with it: left open, its cluster
    // member kept the lead, and the restart below waited out its lease), else through this one.
    const shared = !store.supports.multiProcess;
    const rivalStore = shared ? store.inner : t.newStore();
    if (!shared) await rivalStore.open();
    const rival = await Ledger.open({ store: rivalStore, keys: await loadKeys(t.dir), clock: clock.fn, sequencer: { recosignMs: 0 }, ...INLINE });
    clock.now += 1_000;
    await submit(rival, [entry(2)], seen);
    if (shared) await rival.sequencer!.close(); // not rival.close(): the store is shared
    else await rival.close();
    expect(seen.acked.get(2)).toEqual(entry(2));

    const lost = await Promise.allSettled([l.append(entry(3)), l.append(entry(4))]);
    for (const r of lost) {
      expect(r.status).toBe('rejected');
      expectCode((r as PromiseRejectedResult).reason, 'UNAVAILABLE');
    }
    const why = await expectStopped(l);
    expect(why).toMatch(/conflict/i);

    const r = await expectRecovers(t, seen);
    expect(await r.store.findLeaf(leafHash(entry(3)))).toBeUndefined();
    expect(await r.store.findLeaf(leafHash(entry(2)))).toBe(2);
  });

  it('an injected CONFLICT from the store stops with UNAVAILABLE, not CONFLICT', async () => {
    const clock = fakeClock();
    const { t, store } = await faultyLedger({ clock: clock.fn, ...OPTS });
    const l = t.ledger;
    store.failBefore('append', 1, new LedgerError('CONFLICT', 'append at size 1 but the stored size is 2'));
    const e = await l.append(entry(1)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expectCode(e, 'UNAVAILABLE');
    expect(isLedgerError(e, 'CONFLICT')).toBe(false);
    expect(await expectStopped(l)).toMatch(/conflict/i);
    await expectRecovers(t, { acked: new Map(), checkpoints: [] });
  });

  it('refuses batches while the clock is over 60 s behind the last checkpoint, and resumes when it catches up', async () => {
    const clock = fakeClock();
    const t = await makeLedger({ clock: clock.fn, sequencer: { recosignMs: 0 }, ...INLINE });
    rigs.push(t);
    const l = t.ledger;
    const seen: Seen = { acked: new Map(), checkpoints: [] };
    await submit(l, [entry(1)], seen);
    const t1 = l.head.time;
    expect(t1).toBe(clock.now / 1000);

    // Less than 60 s behind: accepted, and T stays at the last checkpoint time.
    clock.now -= 59_000;
    const r2 = await l.append(entry(2));
    expect(r2.time).toBe(t1);
    expect(checkpointOf(l, r2.checkpoint!).size).toBe(3);
    expect(l.failure).toBeUndefined();
    const head = l.head;
    const history = await l.checkpoints(0, 1000);

    // More than 60 s behind: refused with UNAVAILABLE, nothing appended, not stopped for good.
    clock.now -= 2_000;
    const refused = await Promise.allSettled([l.append(entry(3)), l.append(entry(4))]);
    for (const r of refused) {
      expect(r.status).toBe('rejected');
      expectCode((r as PromiseRejectedResult).reason, 'UNAVAILABLE');
    }
    expect(l.failure).toMatch(/clock/i);
    expect(l.failure).not.toMatch(/[\r\n]/);
    await l.sequencer!.recosign(); // no re-cosignature back in time either
    expect(l.head).toEqual(head);
    expect(await l.store.readHead()).toEqual({ size: head.size, checkpoint: head.checkpoint });
    expect(await l.checkpoints(0, 1000)).toEqual(history);
    expect(await l.store.findLeaf(leafHash(entry(3)))).toBeUndefined();
    const still = await l.append(entry(3)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expectCode(still, 'UNAVAILABLE');
    expect(l.failure).toMatch(/clock/i);

    // The clock catches up: appends work again, with time moving forward.
    clock.now = (t1 + 5) * 1000;
    const r3 = await l.append(entry(3));
    expect(r3).toMatchObject({ index: 3, duplicate: false, time: t1 + 5 });
    expect(l.failure).toBeUndefined();
    seen.acked.set(2, entry(2)).set(3, entry(3));
    seen.checkpoints.push(r2.checkpoint!, r3.checkpoint!);
    await expectSound(l, seen);
  });
});
