import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { Level } from 'level';
import { makeLedger, entry, entryOfSize, copyLedger, restoreLedgerStore, type TestLedger } from '../helpers/ledger.js';
import { leafHash, verifyConsistency, verifyInclusion, storedHashIndex } from '../../src/core/merkle.js';
import { openNote, parseVerifierKey } from '../../src/core/note.js';
import { parseCheckpoint } from '../../src/core/checkpoint.js';
import { cosignedTime } from '../../src/core/cosignature.js';
import { isLedgerError, LedgerError } from '../../src/core/errors.js';
import { decodeEntry, parseGenesis } from '../../src/core/entry.js';
import { equalBytes } from '../../src/core/bytes.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { FileGuard } from '../../src/ledger/guard.js';

let t: TestLedger | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

function verifiers(l: TestLedger['ledger']) {
  const k = l.publicKeys;
  return [parseVerifierKey(k.logKey), parseVerifierKey(k.timestampKey)];
}

describe('sequencer', () => {
  it('starts with a genesis entry signed by the root key, naming the keys', async () => {
    t = await makeLedger();
    const l = t.ledger;
    expect(l.head.size).toBe(1);
    const [g] = await l.store.readEntries(0, 1);
    const gen = parseGenesis(g);
    expect(gen.origin).toBe('localhost/dojang-bench-test');
    expect(gen.logKey).toBe(l.publicKeys.logKey);
    const { note, verified } = openNote(l.head.checkpoint, verifiers(l), { requireAll: true });
    expect(verified).toHaveLength(2);
    const cp = parseCheckpoint(note.text);
    expect(cp.size).toBe(1);
    expect(equalBytes(cp.root, leafHash(g))).toBe(true);
  });

  it('acknowledges entries with their index, covered by a signed and cosigned checkpoint', async () => {
    t = await makeLedger();
    const l = t.ledger;
    const receipts = await Promise.all(Array.from({ length: 1000 }, (_, i) => l.append(entry(i))));
    const indices = receipts.map((r) => r.index).sort((a, b) => a - b);
    expect(indices).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    for (const r of receipts.slice(0, 50)) {
      const { note, verified } = openNote(r.checkpoint!, verifiers(l), { requireAll: true });
      expect(verified).toHaveLength(2);
      const cp = parseCheckpoint(note.text);
      expect(cp.size).toBeGreaterThan(r.index);
      expect(cosignedTime(note.sigs.find((s) => s.name.endsWith('/timestamp'))!)).toBe(r.time);
      const proof = await l.inclusionProof(r.index, cp.size);
      verifyInclusion(r.leafHash, r.index, cp.size, proof, cp.root);
    }
    expect(l.head.size).toBe(1001);
  });

  it('gives the same entry the same index: concurrently, later, and after a restart', async () => {
    t = await makeLedger();
    const e = entry(7);
    const rs = await Promise.all([t.ledger.append(e), t.ledger.append(e), t.ledger.append(e)]);
    expect(new Set(rs.map((r) => r.index)).size).toBe(1);
    expect(rs.filter((r) => !r.duplicate)).toHaveLength(1);
    const again = await t.ledger.append(e);
    expect(again).toMatchObject({ index: rs[0].index, duplicate: true });
    await t.reopen();
    const after = await t.ledger.append(e);
    expect(after).toMatchObject({ index: rs[0].index, duplicate: true });
    expect(t.ledger.head.size).toBe(2);
  });

  it('keeps a history of checkpoints, one per tree size, each consistent with the later ones', async () => {
    t = await makeLedger({ sequencer: { maxBatch: 7 } });
    const l = t.ledger;
    await Promise.all(Array.from({ length: 100 }, (_, i) => l.append(entry(i))));
    const hist = await l.checkpoints(0, 1000);
    expect(hist[0].size).toBe(1);
    expect(hist.length).toBeGreaterThanOrEqual(Math.ceil(100 / 7));
    let prevTime = 0;
    const head = l.head;
    for (const c of hist) {
      const { note } = openNote(c.checkpoint, verifiers(l), { requireAll: true });
      const cp = parseCheckpoint(note.text);
      expect(cp.size).toBe(c.size);
      const time = cosignedTime(note.sigs[1]);
      expect(time).toBeGreaterThanOrEqual(prevTime);
      prevTime = time;
      if (cp.size < head.size) verifyConsistency(cp.size, head.size, await l.consistencyProof(cp.size, head.size), cp.root, head.root);
    }
  });

  it('refuses an entry over 65,535 bytes, an empty entry, and overload, appending nothing', async () => {
    t = await makeLedger({ sequencer: { maxQueue: 10, maxDelayMs: 50 } });
    const l = t.ledger;
    await expect(l.append(new Uint8Array(65536))).rejects.toMatchObject({ code: 'TOO_LARGE' });
    await expect(l.append(new Uint8Array(0))).rejects.toMatchObject({ code: 'MALFORMED' });
    await expect(l.append(new Uint8Array([1, 2, 3]))).rejects.toMatchObject({ code: 'MALFORMED' });
    const ok = await l.append(entryOfSize(0, 65535));
    expect(ok.index).toBe(1);
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => l.append(entry(i))));
    const over = results.filter((r) => r.status === 'rejected');
    expect(over.length).toBeGreaterThan(0);
    for (const r of over) expect(isLedgerError((r as PromiseRejectedResult).reason, 'OVERLOADED')).toBe(true);
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    expect(l.head.size).toBe(2 + accepted);
  });

  it('re-cosigns the latest checkpoint with a fresh time without adding history', async () => {
    let now = 1_800_000_000_000;
    t = await makeLedger({ clock: () => now, sequencer: { recosignMs: 0 } });
    const l = t.ledger;
    await l.append(entry(1));
    const before = l.head;
    now += 60_000;
    await l.sequencer!.recosign();
    const after = l.head;
    expect(after.size).toBe(before.size);
    expect(after.time).toBe(before.time + 60);
    expect(equalBytes(after.root, before.root)).toBe(true);
    const hist = await l.checkpoints(0, 100);
    expect(hist.map((c) => c.size)).toEqual([1, 2]);
    expect(equalBytes(hist[1].checkpoint, before.checkpoint)).toBe(true);
    const reopened = await t.reopen({ clock: () => now });
    expect(reopened.head.time).toBe(before.time + 60);
  });

  it('never lets checkpoint time go backwards, and refuses to sign when the clock is far behind', async () => {
    let now = 1_800_000_000_000;
    t = await makeLedger({ clock: () => now });
    await t.ledger.append(entry(1));
    const t1 = t.ledger.head.time;
    now -= 30_000; // a small step back: T holds
    await t.ledger.append(entry(2));
    expect(t.ledger.head.time).toBe(t1);
    now -= 3_600_000; // far behind: refuse, say why, change nothing
    await expect(t.ledger.append(entry(3))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(t.ledger.failure).toMatch(/clock/);
    expect(t.ledger.head.size).toBe(3);
    now += 3_700_000; // caught up
    await t.ledger.append(entry(3));
    expect(t.ledger.failure).toBeUndefined();
    expect(t.ledger.head.time).toBeGreaterThanOrEqual(t1);
  });

  it('refuses a second genesis entry and anything that is not an entry envelope', async () => {
    t = await makeLedger();
    const [g] = await t.ledger.store.readEntries(0, 1);
    const again = await t.ledger.append(g);
    expect(again).toMatchObject({ index: 0, duplicate: true });
    const { signEntry, genesisBody, parseGenesis: pg } = await import('../../src/core/entry.js');
    const other = signEntry('genesis', genesisBody({ ...pg(g), time: 1 }), new Uint8Array(32).fill(9));
    await expect(t.ledger.append(other)).rejects.toMatchObject({ code: 'CONFLICT' });
    for (const bad of [new Uint8Array([0xa0]), new Uint8Array([0x01]), new Uint8Array([0xff, 0xff])]) {
      await expect(t.ledger.append(bad)).rejects.toHaveProperty('code');
    }
    expect(t.ledger.head.size).toBe(1);
  });

  it('accepts bench records only in bench logs, and no type it does not know', async () => {
    t = await makeLedger({}, 'example.com/real-log');
    await expect(t.ledger.append(entry(1))).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    const { signEntry } = await import('../../src/core/entry.js');
    const unknown = signEntry('cert.frobnicate', { id: new Uint8Array(16) }, new Uint8Array(32).fill(1));
    await expect(t.ledger.append(unknown)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    const badIssue = signEntry('cert.issue', { id: new Uint8Array(16) }, new Uint8Array(32).fill(1));
    await expect(t.ledger.append(badIssue)).rejects.toMatchObject({ code: 'MALFORMED' });
    expect(t.ledger.head.size).toBe(1);
  });

  it('refuses to extend a store rolled back behind the last checkpoint it signed', async () => {
    t = await makeLedger();
    await Promise.all(Array.from({ length: 50 }, (_, i) => t!.ledger.append(entry(i))));
    await t.ledger.close();
    const backup = await copyLedger(t, `${t.dir}-backup`); // DIR/db, or the database as a template
    try {
      await t.reopen();
      await Promise.all(Array.from({ length: 50 }, (_, i) => t!.ledger.append(entry(100 + i))));
      await t.ledger.close();
      await restoreLedgerStore(t, backup);
      await expect(t.reopen()).rejects.toMatchObject({ code: 'STATE_MISMATCH', message: expect.stringMatching(/rolled back/) });
    } finally {
      await backup.drop();
      await rm(backup.dir, { recursive: true, force: true });
    }
  });

  it('answers a refusal only once the state it was judged against is stored: if that batch fails, UNAVAILABLE', async () => {
    t = await makeLedger();
    await t.ledger.close();
    const inner = t.newStore();
    await inner.open();
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    let failNext = false;
    // The store's append for entry 1 waits until entry 2 has been judged, then fails.
    const store = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'coordinator') return undefined; // one process: fail-stop (spec §8.2)
        if (prop === 'append') {
          return async (b: Parameters<typeof inner.append>[0]) => {
            if (!failNext) return target.append(b);
            failNext = false;
            await gate;
            throw new Error('the disk is gone');
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const keys = await loadKeys(t.dir);
    const ledger = await Ledger.open({
      store,
      keys,
      guard: FileGuard.inDir(t.dir),
      sequencer: { maxBatch: 1 },
      // Entry 2 is refused because of entry 1 (as a transfer after a revocation would be).
      admit: async (entries) =>
        entries.map((e) => {
          if ((decodeEntry(e).body.n as number) !== 2) return undefined;
          setTimeout(openGate, 20);
          return new LedgerError('CERT_REVOKED', 'refused after entry 1');
        }),
    });
    try {
      failNext = true;
      const [one, two] = await Promise.allSettled([ledger.append(entry(1)), ledger.append(entry(2))]);
      expect(one).toMatchObject({ status: 'rejected', reason: { code: 'UNAVAILABLE' } });
      // Entry 1 never reached the store, so neither did the reason entry 2 was refused for.
      expect(two).toMatchObject({ status: 'rejected', reason: { code: 'UNAVAILABLE', message: expect.stringMatching(/submit it again/) } });
    } finally {
      await ledger.close().catch(() => {});
    }
  });

  it('applies the admission hook at batch time and appends nothing it refuses', async () => {
    const seen: number[] = [];
    t = await makeLedger({
      admit: async (entries, time) => {
        seen.push(time);
        return entries.map((e) => ((decodeEntry(e).body.n as number) === 999 ? new LedgerError('BAD_SIGNATURE', 'refused') : undefined));
      },
    });
    const bad = entry(999);
    await expect(t.ledger.append(bad)).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    const r = await t.ledger.append(entry(1));
    expect(r.index).toBe(1);
    expect(await t.ledger.store.findLeaf(leafHash(bad))).toBeUndefined();
    expect(seen.length).toBeGreaterThan(0);
  });

  it('refuses to start when the stored tree disagrees with the checkpoint', async () => {
    t = await makeLedger();
    await Promise.all(Array.from({ length: 300 }, (_, i) => t!.ledger.append(entry(i))));
    await t.ledger.close();
    // Corrupt the stored hash of the first 256-leaf subtree (on the right edge), behind the store's back.
    if (t.storeUrl !== undefined) {
      const c = new pg.Client({ connectionString: t.storeUrl });
      await c.connect();
      const r = await c.query('update dojang_hashes set hash = set_byte(hash, 0, get_byte(hash, 0) # 1) where idx = $1', [storedHashIndex(8, 0)]);
      await c.end();
      expect(r.rowCount).toBe(1);
      await expect(t.reopen()).rejects.toMatchObject({ code: 'STATE_MISMATCH' });
      return;
    }
    let corrupted = 0;
    const { LevelStore } = await import('../../src/storage/level.js');
    const s = new LevelStore(join(t.dir, 'db'));
    await s.open();
    const [h] = await s.readHashes([storedHashIndex(8, 0)]);
    await s.close();
    const db2 = new Level<Uint8Array, Uint8Array>(join(t.dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
    await db2.open();
    for await (const [k, v] of db2.iterator()) {
      if (v.length === 32 && equalBytes(v, h)) {
        const bad = v.slice();
        bad[0] ^= 1;
        await db2.put(k, bad, { sync: true });
        corrupted++;
      }
    }
    await db2.close();
    expect(corrupted).toBeGreaterThan(0);
    await expect(t.reopen()).rejects.toMatchObject({ code: 'STATE_MISMATCH' });
  });
});
