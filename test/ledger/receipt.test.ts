/**
 * A fresh entry's receipt depends only on what its own batch signed (spec §8.6), never on
 * the head the process serves at that moment. In the failover test a leader resumed from
 * SIGSTOP had its batch committed while it stepped down: the append succeeded, then its
 * receipt was refused NOT_FOUND because the head it served as a follower did not cover
 * the entry yet. Here the same, made deterministic: a copy of the log from before the
 * append, serving a smaller head, builds the receipt from the fresh append.
 */
import { afterAll, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeLedger, entry, copyLedger } from '../helpers/ledger.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { FileGuard } from '../../src/ledger/guard.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it("a fresh entry's receipt is made from its batch, also where the served head does not cover it yet", async () => {
  const t = await makeLedger({}, 'localhost/dojang-bench-receipt' /* bench records are admitted by a bench origin */);
  for (let i = 0; i < 5; i++) await t.ledger.append(entry(i));
  await t.ledger.close();
  const dir = await mkdtemp(join(tmpdir(), 'dojang-receipt-copy-'));
  dirs.push(dir);
  const copy = await copyLedger(t, dir);
  const a = await t.reopen();
  const store = copy.store();
  await store.open();
  const b = await Ledger.open({ store, keys: await loadKeys(copy.dir), guard: FileGuard.inDir(copy.dir) });
  try {
    const r = await a.append(entry(100));
    expect(r.index).toBe(6); // after the genesis entry and five
    expect(b.head.size).toBe(6); // behind: it does not hold the entry
    expect(await b.receipt(r.index, r)).toEqual(await a.receipt(r.index));
    // Without the fresh append's batch it has nothing to prove it with.
    await expect(b.receipt(r.index)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  } finally {
    await b.close();
    await copy.drop();
    await t.cleanup();
  }
});
