import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeys, loadKeys } from '../../src/ledger/keyfiles.js';
import { Ledger, type LedgerOptions } from '../../src/ledger/ledger.js';
import { LevelStore } from '../../src/storage/level.js';
import { PostgresStore } from '../../src/storage/postgres.js';
import type { LedgerStore } from '../../src/storage/store.js';
import { databaseFrom, dropDatabase, freshDatabase, testStoreKind } from './postgres.js';
import { FileGuard } from '../../src/ledger/guard.js';
import { signEntry } from '../../src/core/entry.js';
import { MAX_VALIDITY_S } from '../../src/core/events.js';

/**
 * TEST_DOC_TYPES: document types for a test ledger's registry (spec §5.7), each with the
 * longest validity: `makeLedger({ docTypes: TEST_DOC_TYPES })` registers them after the genesis.
 */
export const TEST_DOC_TYPES = ['kr.gov.resident-registration.copy', 'kr.gov.family-relation.basic', 'kr.gov.family-relation.cert', 'kr.gov.x', 'a.a', 'a.b', 'b.b'].map((docType) => ({ docType, maxValidity: MAX_VALIDITY_S }));

export interface TestLedger {
  dir: string;
  /** The PostgreSQL database of the log, when the suite runs on PostgreSQL. */
  storeUrl?: string;
  /** newStore makes a new (closed) store over the same log: LevelDB in dir/db or the database. */
  newStore(): LedgerStore;
  ledger: Ledger;
  reopen(extra?: Partial<LedgerOptions>): Promise<Ledger>;
  cleanup(): Promise<void>;
}

/**
 * makeLedger creates a fresh development ledger in a temp dir: its log in LevelDB, or in
 * a fresh PostgreSQL database under `npm run test:postgres` (testStoreKind).
 */
export async function makeLedger(extra: Partial<LedgerOptions> & { docTypes?: typeof TEST_DOC_TYPES } = {}, origin = 'localhost/dojang-bench-test'): Promise<TestLedger> {
  const dir = await mkdtemp(join(tmpdir(), 'dojang-test-'));
  const keys = await createKeys(dir, origin, true);
  const url = testStoreKind() === 'postgres' ? await freshDatabase() : undefined;
  const newStore = (): LedgerStore => (url === undefined ? new LevelStore(join(dir, 'db')) : new PostgresStore(url));
  const store = newStore();
  await store.open();
  const t: TestLedger = {
    dir,
    storeUrl: url,
    newStore,
    ledger: await Ledger.create({ store, keys, origin, guard: FileGuard.inDir(dir), ...extra }),
    async reopen(more = {}) {
      await t.ledger.close().catch(() => {});
      const s = newStore();
      await s.open();
      try {
        t.ledger = await Ledger.open({ store: s, keys: await loadKeys(dir), guard: FileGuard.inDir(dir), ...extra, ...more });
      } catch (e) {
        await s.close(); // a refused open leaves the store to its caller
        throw e;
      }
      return t.ledger;
    },
    async cleanup() {
      await t.ledger.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
      if (url !== undefined) await dropDatabase(url);
    },
  };
  return t;
}

/**
 * copyLedger copies a closed test ledger to `to`: its directory (keys, last-checkpoint),
 * and its log — DIR/db with the directory on LevelDB, or a new database made from the
 * ledger's as a template on PostgreSQL. The copy's store is `store()`; its database (if
 * any) is dropped by `drop()`.
 */
export async function copyLedger(t: TestLedger, to: string): Promise<{ dir: string; url?: string; store(): LedgerStore; drop(): Promise<void> }> {
  const { cp } = await import('node:fs/promises');
  await cp(t.dir, to, { recursive: true });
  if (t.storeUrl === undefined) return { dir: to, store: () => new LevelStore(join(to, 'db')), drop: async () => {} };
  const url = await databaseFrom(t.storeUrl);
  return { dir: to, url, store: () => new PostgresStore(url), drop: () => dropDatabase(url) };
}

/**
 * restoreLedgerStore puts a copy made by copyLedger back as the ledger's log, as a backup
 * restored over it would (the directory, and so its last-checkpoint file, stays).
 */
export async function restoreLedgerStore(t: TestLedger, copy: { dir: string; url?: string }): Promise<void> {
  const { cp, rm } = await import('node:fs/promises');
  if (t.storeUrl === undefined) {
    await rm(join(t.dir, 'db'), { recursive: true });
    await cp(join(copy.dir, 'db'), join(t.dir, 'db'), { recursive: true });
    return;
  }
  await dropDatabase(t.storeUrl);
  await databaseFrom(copy.url!, new URL(t.storeUrl).pathname.slice(1));
}

const TEST_SEED = new Uint8Array(32).fill(0x42);

/** entry returns a well-formed entry envelope (spec §5.2): a bench.record numbered i. */
export function entry(i: number, pad = 64): Uint8Array {
  return signEntry('bench.record', { run: new Uint8Array(16), n: i, pad: new Uint8Array(pad) }, TEST_SEED);
}

/** entryOfSize returns a well-formed entry of exactly `bytes` bytes (at most 65,535). */
export function entryOfSize(i: number, bytes: number): Uint8Array {
  const base = entry(i, 0).length;
  // A byte string's head grows by 1 byte at 24 and 2 more at 256 bytes: adjust.
  for (let pad = Math.max(0, bytes - base - 3); pad <= bytes - base; pad++) {
    const e = entry(i, pad);
    if (e.length === bytes) return e;
  }
  throw new RangeError(`no entry of exactly ${bytes} bytes`);
}
