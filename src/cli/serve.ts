/**
 * dojang init and dojang serve: the ledger directory on disk (spec §8.1):
 *   DIR/keys/   private key files (0600), see ledger/keyfiles.ts
 *   DIR/db/     the LevelDB store
 */
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { LedgerError } from '../core/errors.js';
import { toHex } from '../core/bytes.js';
import { randomBytes } from '../core/crypto.js';
import { LevelStore } from '../storage/level.js';
import { Ledger } from '../ledger/ledger.js';
import { createKeys, exists, keyPath, loadKeys, readKeyFile } from '../ledger/keyfiles.js';
import { createApp } from '../api/app.js';
import type { Io } from './main.js';

export interface InitOptions {
  data: string;
  origin?: string;
  rootKeyFile?: string;
  json: boolean;
}

/** openStore opens the LevelDB store of a ledger directory. */
export function storeOf(dir: string): LevelStore {
  return new LevelStore(join(dir, 'db'));
}

/** initLedger creates keys and the genesis entry in DIR and returns the open ledger. */
export async function initLedger(o: InitOptions): Promise<{ ledger: Ledger; dev: boolean }> {
  const origin = o.origin ?? `localhost/dojang-dev-${toHex(randomBytes(4))}`;
  if (!/^[^\s+]+$/.test(origin) || origin.length > 200) throw new LedgerError('BAD_REQUEST', `origin ${JSON.stringify(origin)} must be non-empty, at most 200 characters, without spaces or '+'`);
  const root = o.rootKeyFile === undefined ? undefined : await readKeyFile(o.rootKeyFile);
  if (root !== undefined && root.type !== 0x01) throw new LedgerError('BAD_REQUEST', 'the root key must be an Ed25519 (type 0x01) signer key');
  const keys = await createKeys(o.data, origin, root === undefined);
  const store = storeOf(o.data);
  await store.open();
  try {
    const ledger = await Ledger.create({ store, keys, origin, rootSeed: root?.seed, rootName: root?.name });
    return { ledger, dev: root === undefined };
  } catch (e) {
    await store.close();
    throw e;
  }
}

export async function runInit(o: InitOptions, io: Io): Promise<number> {
  const { ledger, dev } = await initLedger(o);
  const k = ledger.publicKeys;
  await ledger.close();
  if (o.json) io.out(JSON.stringify({ ...k, data: o.data, developmentRootKey: dev }));
  else {
    io.out(`created ledger ${k.origin} in ${o.data}${dev ? ' (with a development root key in keys/root.key)' : ''}`);
    io.out(`log key:       ${k.logKey}`);
    io.out(`timestamp key: ${k.timestampKey}`);
    io.out(`status key:    ${k.statusKey}`);
    io.out(`root key:      ${k.rootKey}`);
  }
  return 0;
}

/** openLedger opens the ledger in DIR (UNAVAILABLE when there is none). */
export async function openLedger(dir: string): Promise<Ledger> {
  const keys = await loadKeys(dir);
  const store = storeOf(dir);
  await store.open();
  try {
    return await Ledger.open({ store, keys });
  } catch (e) {
    await store.close();
    throw e;
  }
}

export interface ServeOptions {
  data: string;
  port: number;
  host: string;
}

export async function runServe(o: ServeOptions, io: Io): Promise<number> {
  let ledger: Ledger;
  if (!(await exists(keyPath(o.data, 'log')))) {
    io.err(`dojang: no ledger in ${resolve(o.data)}: creating a development ledger with fresh keys (development root key in keys/root.key)`);
    ledger = (await initLedger({ data: o.data, json: false })).ledger;
  } else {
    ledger = await openLedger(o.data);
  }
  const app = createApp({ ledger, log: (m, e) => io.err(`dojang: ${m}: ${(e as Error)?.stack ?? String(e)}`) });
  const server = createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port, o.host, () => res());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : o.port;
  const k = ledger.publicKeys;
  io.out(`dojang: serving ${k.origin} (size ${ledger.head.size}) from ${o.data}`);
  io.out(`dojang: log key ${k.logKey}`);
  io.out(`dojang: listening on http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`);
  await new Promise<void>((res) => {
    const stop = () => res();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.err('dojang: shutting down');
  await new Promise<void>((res) => server.close(() => res()));
  server.closeAllConnections?.();
  await ledger.close();
  return 0;
}
