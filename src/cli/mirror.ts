/**
 * dojang mirror: write a log as static files under the tlog-tiles paths
 * (src/ledger/mirror.ts), from a ledger directory's LevelDB (stopped) or its PostgreSQL
 * database (running or not). The keys in DIR are the trust the checkpoint is checked with.
 */
import { parseArgs } from 'node:util';
import { formatVerifierKey } from '../core/note.js';
import { loadKeys } from '../ledger/keyfiles.js';
import { mirror } from '../ledger/mirror.js';
import { storeOf } from './serve.js';
import { need } from './events.js';
import type { Io } from './main.js';

export const MIRROR_USAGE = `  mirror --data DIR [--store postgres://...] --to OUT [--json]
         write the log's checkpoint, tiles and entry bundles as files under OUT
         for a static web host (the tlog-tiles paths): incremental, never
         rewrites a tile, the checkpoint last; refuses a store whose tree does
         not extend what OUT already shows (exit 1, INCONSISTENT)`;

export async function runMirror(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { data: { type: 'string' }, store: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const dir = values.data ?? 'ledger-data';
  const out = need(values, 'to');
  const keys = await loadKeys(dir);
  const store = storeOf(dir, values.store);
  await store.open();
  try {
    const r = await mirror(store, out, { logKey: formatVerifierKey(keys.log), timestampKey: formatVerifierKey(keys.timestamp) });
    if (values.json) io.out(JSON.stringify(r));
    else io.out(`mirrored ${keys.log.name} at size ${r.size} to ${out}: ${r.written} tiles and bundles written, ${r.kept} already there${r.previous > 0 ? ` (the mirror showed size ${r.previous})` : ''}`);
    return 0;
  } finally {
    await store.close();
  }
}
