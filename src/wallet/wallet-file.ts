/**
 * Wallet files (spec §12.5): a wallet's seed and next holder index, encrypted under the
 * holder's password with scrypt and XChaCha20-Poly1305, written 0600 atomically.
 * Node only (node:crypto's scrypt, the file system).
 */
import { scrypt as scryptCb, randomBytes as nodeRandomBytes } from 'node:crypto';
import { open as openFile, readFile, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { decodeCbor, encodeCbor } from '../core/cbor.js';
import { utf8 } from '../core/bytes.js';
import { LedgerError } from '../core/errors.js';
import { isMap } from '../core/entry.js';
import { Wallet } from './wallet.js';

/** The scrypt parameters wallets write: 128 MiB, about half a second. */
export const SCRYPT_DEFAULTS = { n: 1 << 17, r: 8, p: 1 };
const MAX = { n: 1 << 20, r: 32, p: 16 };
const AAD = utf8('dojang/v1/wallet-file');

function scrypt(password: string, salt: Uint8Array, k: { n: number; r: number; p: number }): Promise<Uint8Array> {
  return new Promise((res, rej) =>
    scryptCb(utf8(password.normalize('NFC')), salt, 32, { N: k.n, r: k.r, p: k.p, maxmem: 256 * k.n * k.r + (1 << 20) }, (e, key) => (e ? rej(e) : res(new Uint8Array(key)))),
  );
}

function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length === 0) throw new LedgerError('BAD_REQUEST', 'a wallet password must not be empty');
}

/** encryptWallet writes a wallet as a wallet file's bytes (spec §12.5). `kdf` overrides the scrypt cost (tests). */
export async function encryptWallet(w: Wallet, password: string, kdf: Partial<typeof SCRYPT_DEFAULTS> = {}): Promise<Uint8Array> {
  checkPassword(password);
  const k = { ...SCRYPT_DEFAULTS, ...kdf };
  const salt = new Uint8Array(nodeRandomBytes(16));
  const nonce = new Uint8Array(nodeRandomBytes(24));
  const key = await scrypt(password, salt, k);
  const ct = xchacha20poly1305(key, nonce, AAD).encrypt(encodeCbor({ seed: w.seed, next: w.next }));
  return encodeCbor({ v: 1, scrypt: { salt, n: k.n, r: k.r, p: k.p }, nonce, ct });
}

/**
 * decryptWallet opens a wallet file's bytes. MALFORMED/UNSUPPORTED for bytes that are not
 * one; BAD_REQUEST for scrypt costs above the limits; WRONG_PASSWORD when the password
 * does not open it.
 */
export async function decryptWallet(bytes: Uint8Array, password: string): Promise<Wallet> {
  checkPassword(password);
  const m = decodeCbor(bytes, { maxBytes: 4096 });
  if (!isMap(m) || Object.keys(m).sort().join(',') !== 'ct,nonce,scrypt,v') throw new LedgerError('MALFORMED', 'not a wallet file');
  if (m.v !== 1) throw new LedgerError(typeof m.v === 'number' ? 'UNSUPPORTED' : 'MALFORMED', 'a wallet file is version 1');
  const s = m.scrypt;
  if (!isMap(s) || Object.keys(s).sort().join(',') !== 'n,p,r,salt' || !(s.salt instanceof Uint8Array) || s.salt.length !== 16) throw new LedgerError('MALFORMED', 'the scrypt parameters are { salt, n, r, p }');
  const k = { n: s.n, r: s.r, p: s.p };
  for (const [name, v] of Object.entries(k)) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new LedgerError('MALFORMED', `scrypt ${name} is a positive integer`);
    if (v > MAX[name as keyof typeof MAX]) throw new LedgerError('BAD_REQUEST', `scrypt ${name} = ${v} is above ${MAX[name as keyof typeof MAX]}`);
  }
  if ((k.n as number) < 2 || ((k.n as number) & ((k.n as number) - 1)) !== 0) throw new LedgerError('MALFORMED', 'scrypt n is a power of two');
  if (!(m.nonce instanceof Uint8Array) || m.nonce.length !== 24 || !(m.ct instanceof Uint8Array)) throw new LedgerError('MALFORMED', 'nonce is 24 bytes and ct a byte string');
  const key = await scrypt(password, s.salt, k as typeof SCRYPT_DEFAULTS);
  let plain: Uint8Array;
  try {
    plain = xchacha20poly1305(key, m.nonce, AAD).decrypt(m.ct);
  } catch {
    throw new LedgerError('WRONG_PASSWORD', 'the password does not open this wallet');
  }
  const inner = decodeCbor(plain);
  if (!isMap(inner) || !(inner.seed instanceof Uint8Array) || inner.seed.length !== 32 || typeof inner.next !== 'number') throw new LedgerError('MALFORMED', 'the wallet inside is { seed, next }');
  return new Wallet(inner.seed, inner.next);
}

/** saveWallet writes a wallet file 0600: to a temporary name, synced, then renamed over `path`. */
export async function saveWallet(path: string, w: Wallet, password: string, kdf: Partial<typeof SCRYPT_DEFAULTS> = {}): Promise<void> {
  const bytes = await encryptWallet(w, password, kdf);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const f = await openFile(tmp, 'wx', 0o600);
  try {
    await f.writeFile(bytes);
    await f.sync();
  } catch (e) {
    await f.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await f.close();
  await rename(tmp, path);
}

/** loadWallet reads and opens a wallet file (decryptWallet's codes; NOT_FOUND for no file). */
export async function loadWallet(path: string, password: string): Promise<Wallet> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new LedgerError('NOT_FOUND', `no wallet file ${path}`);
    throw e;
  }
  return decryptWallet(bytes, password);
}
