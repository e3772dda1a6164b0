/**
 * dojang init and dojang serve: the ledger directory on disk (spec §8.1):
 *   DIR/keys/   private key files (0600), see ledger/keyfiles.ts
 *   DIR/db/     the LevelDB store
 *   DIR/wallets/ the personal data store (spec §12.6; with --store postgres://, in the database)
 */
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { LedgerError } from '../core/errors.js';
import { toHex } from '../core/bytes.js';
import { randomBytes } from '../core/crypto.js';
import { LevelStore } from '../storage/level.js';
import { PostgresStore } from '../storage/postgres.js';
import type { LedgerStore } from '../storage/store.js';
import { Ledger, type LedgerOptions } from '../ledger/ledger.js';
import type { Policy } from '../core/policy.js';
import { readPolicy } from './policy-file.js';
import { parseTsaTrust } from '../timestamp/rfc3161.js';
import { TsaClient } from '../timestamp/stamper.js';
import { readFile } from 'node:fs/promises';
import { createKeys, exists, keyPath, loadKeys, readKeyFile } from '../ledger/keyfiles.js';
import { FileGuard } from '../ledger/guard.js';
import { isValidKeyName } from '../core/note.js';
import { createApp } from '../api/app.js';
import { WalletStore, postgresKv } from '../storage/wallet-store.js';
import type { Io } from './main.js';
import { DOC_TYPES } from '../wallet/doctypes.js';

/**
 * WALLET_DOC_TYPES: the document types the wallet side knows (src/wallet/doctypes.ts),
 * with their validity as the maximum, which a new ledger registers right after its
 * genesis entry (doctype.register, spec §5.7).
 */
export const WALLET_DOC_TYPES: readonly { docType: string; maxValidity: number }[] = [...DOC_TYPES].map(([docType, d]) => ({ docType, maxValidity: d.validitySeconds }));

/** The largest write queue `serve --max-queue` allows: each waiting entry holds up to 64 KiB. */
export const MAX_QUEUE_LIMIT = 262_144;

export interface InitOptions {
  data: string;
  /** A postgres:// URL: the log in PostgreSQL (DIR still holds the keys); default: LevelDB in DIR/db. */
  store?: string;
  origin?: string;
  rootKeyFile?: string;
  json: boolean;
  /** The sequencer's options (serve --max-queue). */
  sequencer?: LedgerOptions['sequencer'];
}

/**
 * storeOf makes the store of a ledger: LevelDB in DIR/db, or PostgreSQL when `url` is a
 * postgres:// URL (spec §8.4a; DIR still holds the keys and the last-checkpoint file).
 * BAD_REQUEST for another URL.
 */
export function storeOf(dir: string, url?: string): LedgerStore {
  if (url === undefined) return new LevelStore(join(dir, 'db'));
  if (!/^postgres(ql)?:\/\//.test(url)) throw new LedgerError('BAD_REQUEST', `--store ${JSON.stringify(url)}: a postgres:// URL (or none, for LevelDB in DIR/db)`);
  return new PostgresStore(url);
}

/**
 * initLedger creates keys and the genesis entry in DIR, registers the document types of
 * WALLET_DOC_TYPES and returns the open ledger.
 * Everything that can be checked is checked before anything is written; keys appear
 * atomically. If DIR holds keys but an empty store (an init that was interrupted), the
 * genesis entry is appended with those keys. CONFLICT if DIR already holds a log.
 */
export async function initLedger(o: InitOptions): Promise<{ ledger: Ledger; dev: boolean }> {
  if (o.origin !== undefined && (!isValidKeyName(o.origin) || o.origin.length > 200)) {
    throw new LedgerError('BAD_REQUEST', `origin ${JSON.stringify(o.origin)} must be 1–200 characters without spaces, '+' or control characters`);
  }
  const root = o.rootKeyFile === undefined ? undefined : await readKeyFile(o.rootKeyFile);
  if (root !== undefined && root.type !== 0x01) throw new LedgerError('BAD_REQUEST', 'the root key must be an Ed25519 (type 0x01) signer key');
  const store = storeOf(o.data, o.store);
  await store.open();
  try {
    if ((await store.readHead()) !== undefined) throw new LedgerError('CONFLICT', `${o.store === undefined ? o.data : 'the database'} already holds a ledger`);
    let keys;
    if (await exists(keyPath(o.data, 'log'))) {
      keys = await loadKeys(o.data); // resume an interrupted init
      if (o.origin !== undefined && keys.log.name !== o.origin) throw new LedgerError('CONFLICT', `${o.data} holds keys for origin ${keys.log.name}`);
    } else {
      const origin = o.origin ?? `localhost/dojang-dev-${toHex(randomBytes(4))}`;
      keys = await createKeys(o.data, origin, root === undefined);
    }
    const rootSeed = root?.seed ?? keys.root?.seed;
    if (rootSeed === undefined) throw new LedgerError('UNAVAILABLE', 'a root key is needed to sign the genesis entry: pass --root-key FILE');
    const ledger = await Ledger.create({
      store,
      keys,
      origin: keys.log.name,
      rootSeed,
      rootName: root?.name ?? keys.root?.name,
      guard: FileGuard.inDir(o.data),
      docTypes: WALLET_DOC_TYPES,
      sequencer: o.sequencer,
    });
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

/** openLedger opens the ledger in DIR, or with DIR's keys in the database at `url` (UNAVAILABLE when there is none). */
export async function openLedger(
  dir: string,
  url?: string,
  log?: (message: string) => void,
  witnessing?: LedgerOptions['witnessing'],
  timestamping?: LedgerOptions['timestamping'],
  sequencer?: LedgerOptions['sequencer'],
): Promise<Ledger> {
  const keys = await loadKeys(dir);
  const store = storeOf(dir, url);
  await store.open();
  try {
    if ((await store.readHead()) === undefined && keys.root !== undefined) {
      // Keys but no genesis: a development init was interrupted; finish it.
      return await Ledger.create({ store, keys, origin: keys.log.name, guard: FileGuard.inDir(dir), log, docTypes: WALLET_DOC_TYPES, sequencer });
    }
    return await Ledger.open({ store, keys, guard: FileGuard.inDir(dir), log, witnessing, timestamping, sequencer });
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** How often the wallet store's sweeper runs. */
const SWEEP_EVERY_MS = 60_000;

export interface ServeOptions {
  data: string;
  /** A postgres:// URL (InitOptions.store). */
  store?: string;
  port: number;
  host: string;
  /** A c2sp.org/tlog-policy file: publish only checkpoints that meet it (spec §13.5). */
  policy?: string;
  /** With a policy: how long a write waits for a witnessed checkpoint to cover it (default 25 s). */
  witnessWaitMs?: number;
  /** A time-stamping authority's URL: ask it for a token over each new checkpoint (spec §14.2). */
  tsa?: string;
  /** The PEM file of the TSA's certificate or its CA (with tsa). */
  tsaCert?: string;
  /** How many entries may wait for the sequencer (1 … MAX_QUEUE_LIMIT; default DEFAULT_MAX_QUEUE): beyond it a write is 503 OVERLOADED. */
  maxQueue?: number;
}

/** timestampingOf reads --tsa and --tsa-cert (both or neither: BAD_REQUEST). */
async function timestampingOf(o: ServeOptions): Promise<LedgerOptions['timestamping']> {
  if (o.tsa === undefined && o.tsaCert === undefined) return undefined;
  if (o.tsa === undefined || o.tsaCert === undefined) throw new LedgerError('BAD_REQUEST', '--tsa and --tsa-cert go together');
  const trust = parseTsaTrust(await readFile(o.tsaCert, 'utf8'));
  return { client: new TsaClient(o.tsa, trust) };
}

export async function runServe(o: ServeOptions, io: Io): Promise<number> {
  let ledger: Ledger;
  let policy: { file: Uint8Array; policy: Policy } | undefined;
  const timestamping = await timestampingOf(o);
  const say = (m: string) => io.err(`dojang: ${m}`);
  const sequencer = o.maxQueue === undefined ? undefined : { maxQueue: o.maxQueue };
  if (!(await exists(keyPath(o.data, 'log')))) {
    if (o.store !== undefined || (await exists(join(o.data, 'db')))) {
      const store = storeOf(o.data, o.store);
      await store.open();
      const head = await store.readHead().finally(() => store.close());
      if (head !== undefined) {
        throw new LedgerError('UNAVAILABLE', `${o.store === undefined ? join(o.data, 'db') : 'the database'} holds a log but ${keyPath(o.data, 'log')} is missing: restore the keys (new keys would fork the log)`);
      }
    }
    io.err(`dojang: no ledger in ${resolve(o.data)}: creating a development ledger with fresh keys (development root key in keys/root.key)`);
    ledger = (await initLedger({ data: o.data, store: o.store, json: false, sequencer })).ledger;
    if (timestamping !== undefined) {
      await ledger.close();
      ledger = await openLedger(o.data, o.store, say, undefined, timestamping, sequencer);
    }
  } else {
    policy = o.policy === undefined ? undefined : await readPolicy(o.policy);
    const witnessing = policy === undefined ? undefined : { policy: policy.policy, waitMs: o.witnessWaitMs };
    ledger = await openLedger(o.data, o.store, say, witnessing, timestamping, sequencer);
  }
  // With PostgreSQL the wallets live in the log's database, shared by every process (spec §12.6, §8.4b).
  const wallets = new WalletStore(o.store === undefined ? join(o.data, 'wallets') : postgresKv(o.store));
  try {
    await wallets.open();
  } catch (e) {
    await ledger.close();
    throw e;
  }
  const log = (m: string, e?: unknown) => io.err(`dojang: ${m}: ${(e as Error)?.stack ?? String(e)}`);
  // Expired originals leave the store (spec §12.6): at start, then every minute.
  const sweep = () => wallets.sweep(Math.floor(Date.now() / 1000)).catch((e) => log('the wallet sweeper failed', e));
  await sweep();
  const sweeper = setInterval(sweep, SWEEP_EVERY_MS);
  sweeper.unref();
  const app = createApp({ ledger, wallets, log, policy });
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
  const role = ledger.role.role === 'single' ? '' : ` as ${ledger.role.role}`;
  // With a witness policy nothing may be published yet (its witnesses down): serve anyway, saying so (spec §13.5).
  let size: string;
  try {
    size = `size ${ledger.head.size}`;
  } catch {
    size = 'no checkpoint witnessed yet';
  }
  io.out(`dojang: serving ${k.origin} (${size}) from ${o.data}${o.store === undefined ? '' : ` and ${redact(o.store)}`}${role}`);
  io.out(`dojang: log key ${k.logKey}`);
  if (timestamping !== undefined) io.out(`dojang: timestamp tokens from ${timestamping.client.url}`);
  io.out(`dojang: listening on http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`);
  await new Promise<void>((res) => {
    const stop = () => res();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.err('dojang: shutting down');
  await new Promise<void>((res) => server.close(() => res()));
  server.closeAllConnections?.();
  clearInterval(sweeper);
  await wallets.close();
  await ledger.close();
  return 0;
}

/** redact hides the password of a database URL in what is printed. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.href;
  } catch {
    return 'postgres://…';
  }
}
