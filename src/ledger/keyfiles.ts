/**
 * Key files of a ledger directory (spec §8.1). Each private key is one file under
 * DIR/keys/, holding the Go note signer-key text `PRIVATE+KEY+<name>+<hex8>+<base64>`
 * and a newline, written with mode 0600 (the directory 0700) and fsynced.
 *
 *   log.key        type 0x01, name = origin: signs checkpoints and nothing else
 *   timestamp.key  type 0x04 (cosignature/v1), name = origin + "/timestamp"
 *   status.key     type 0x01, name = origin + "/status": status statements
 *   root.key       type 0x01, name = origin + "/root": only for development ledgers;
 *                  a production root key stays offline and is never written here
 */
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { syncDir } from './guard.js';
import { toHex } from '../core/bytes.js';
import { join } from 'node:path';
import { LedgerError } from '../core/errors.js';
import { formatSignerKey, parseSignerKey } from '../core/note.js';
import { randomBytes } from '../core/crypto.js';

export interface KeyFile {
  readonly name: string;
  readonly type: number;
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface LogKeys {
  readonly log: KeyFile;
  readonly timestamp: KeyFile;
  readonly status: KeyFile;
  /** Present only in development ledgers (init without --root-key). */
  readonly root?: KeyFile;
}

const NAMES = ['log', 'timestamp', 'status', 'root'] as const;

export function keyPath(dir: string, which: (typeof NAMES)[number]): string {
  return join(dir, 'keys', `${which}.key`);
}

/** writeKeyFile writes a private key file exclusively (never overwrites), 0600, fsynced. */
export async function writeKeyFile(path: string, name: string, type: number, seed: Uint8Array): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(formatSignerKey(name, type, seed) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function readKeyFile(path: string): Promise<KeyFile> {
  const text = (await readFile(path, 'utf8')).trim();
  const k = parseSignerKey(text);
  return { name: k.name, type: k.type, seed: k.seed, publicKey: k.publicKey };
}

/**
 * createKeys makes fresh log, timestamp and status keys (and a development root key
 * when withRoot) in DIR/keys, atomically: they are written and fsynced in a temporary
 * directory that is then renamed to DIR/keys, so a crash leaves either no keys or all of
 * them. Refuses with CONFLICT if DIR/keys already exists.
 */
export async function createKeys(dir: string, origin: string, withRoot: boolean): Promise<LogKeys> {
  await mkdir(dir, { recursive: true });
  const final = join(dir, 'keys');
  if (await exists(final)) throw new LedgerError('CONFLICT', `${final} already exists: this directory already holds a ledger`);
  const tmp = join(dir, `keys.tmp-${toHex(randomBytes(4))}`);
  await mkdir(tmp, { mode: 0o700 });
  try {
    const plan: [(typeof NAMES)[number], string, number][] = [
      ['log', origin, 0x01],
      ['timestamp', `${origin}/timestamp`, 0x04],
      ['status', `${origin}/status`, 0x01],
    ];
    if (withRoot) plan.push(['root', `${origin}/root`, 0x01]);
    for (const [file, name, type] of plan) await writeKeyFile(join(tmp, `${file}.key`), name, type, randomBytes(32));
    await syncDir(tmp);
    await rename(tmp, final);
    await syncDir(dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return loadKeys(dir);
}

/** loadKeys reads the key files of DIR; UNAVAILABLE if the directory holds no keys. */
export async function loadKeys(dir: string): Promise<LogKeys> {
  if (!(await exists(keyPath(dir, 'log')))) throw new LedgerError('UNAVAILABLE', `no ledger keys in ${join(dir, 'keys')}: run dojang init`);
  const log = await readKeyFile(keyPath(dir, 'log'));
  const timestamp = await readKeyFile(keyPath(dir, 'timestamp'));
  const status = await readKeyFile(keyPath(dir, 'status'));
  const root = (await exists(keyPath(dir, 'root'))) ? await readKeyFile(keyPath(dir, 'root')) : undefined;
  return { log, timestamp, status, root };
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
