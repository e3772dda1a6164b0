import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeys, loadKeys } from '../../src/ledger/keyfiles.js';
import { Ledger, type LedgerOptions } from '../../src/ledger/ledger.js';
import { LevelStore } from '../../src/storage/level.js';

export interface TestLedger {
  dir: string;
  ledger: Ledger;
  reopen(extra?: Partial<LedgerOptions>): Promise<Ledger>;
  cleanup(): Promise<void>;
}

/** makeLedger creates a fresh development ledger (LevelDB in a temp dir). */
export async function makeLedger(extra: Partial<LedgerOptions> = {}, origin = 'test.example/log'): Promise<TestLedger> {
  const dir = await mkdtemp(join(tmpdir(), 'dojang-test-'));
  const keys = await createKeys(dir, origin, true);
  const store = new LevelStore(join(dir, 'db'));
  await store.open();
  const t: TestLedger = {
    dir,
    ledger: await Ledger.create({ store, keys, origin, ...extra }),
    async reopen(more = {}) {
      await t.ledger.close().catch(() => {});
      const s = new LevelStore(join(dir, 'db'));
      await s.open();
      t.ledger = await Ledger.open({ store: s, keys: await loadKeys(dir), ...extra, ...more });
      return t.ledger;
    },
    async cleanup() {
      await t.ledger.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  return t;
}

export function entry(i: number, size = 100): Uint8Array {
  const e = new Uint8Array(size);
  new DataView(e.buffer).setUint32(0, i);
  e[4] = 0xaa;
  return e;
}
