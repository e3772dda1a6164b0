/**
 * Wallet files (spec §12.5): a wallet's seed and next holder index, encrypted under the
 * holder's password with scrypt and XChaCha20-Poly1305, written 0600 atomically.
 * Node only (node:crypto's scrypt, the file system).
 */
import { scrypt as scryptCb, randomBytes as nodeRandomBytes } from 'node:crypto';
import { open as openFile, readFile, rm } from 'node:fs/promises';
import { createFileAtomic, writeFileAtomic } from '../ledger/files.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { decodeCbor, encodeCbor } from '../core/cbor.js';
import { utf8 } from '../core/bytes.js';
import { LedgerError } from '../core/errors.js';
import { isMap } from '../core/entry.js';
import { Wallet } from './wallet.js';

/** The scrypt parameters wallets write: 128 MiB, about half a second. */
export const SCRYPT_DEFAULTS = { n: 1 << 17, r: 8, p: 1 };
const MAX = { n: 1 << 20, r: 32, p: 16 };
/** Memory is 128·n·r bytes: at most 256 MiB. Work is n·r·p: at most four times the default's memory. */
const MAX_NR = 1 << 21;
const MAX_NRP = 1 << 22;
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
  // Each bound alone still allows 4 GiB and minutes per try: bound the products (spec §12.5).
  if ((k.n as number) * (k.r as number) > MAX_NR) throw new LedgerError('BAD_REQUEST', `scrypt n·r is above ${MAX_NR} (256 MiB)`);
  if ((k.n as number) * (k.r as number) * (k.p as number) > MAX_NRP) throw new LedgerError('BAD_REQUEST', `scrypt n·r·p is above ${MAX_NRP}`);
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
  await writeFileAtomic(path, await encryptWallet(w, password, kdf), 0o600);
}

/** createWalletFile writes a new wallet file; CONFLICT if `path` exists (a link, not a rename, never replaces one). */
export async function createWalletFile(path: string, w: Wallet, password: string, kdf: Partial<typeof SCRYPT_DEFAULTS> = {}): Promise<void> {
  try {
    await createFileAtomic(path, await encryptWallet(w, password, kdf), 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new LedgerError('CONFLICT', `${path} exists: refusing to overwrite a wallet`, { cause: e });
    throw e;
  }
}

/**
 * updateWallet changes a wallet file under a lock (`path`.lock, created exclusively), so
 * that two processes never hand out one holder index twice: it loads the wallet, runs
 * `f`, saves it and returns f's result. CONFLICT while another holds the lock (a lock
 * left by a crash must be removed by hand).
 */
export async function updateWallet<T>(path: string, password: string, f: (w: Wallet) => T): Promise<T> {
  const lock = `${path}.lock`;
  let h;
  try {
    h = await openFile(lock, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new LedgerError('CONFLICT', `${path} is being changed by another process (${lock} exists; remove it if none is)`, { cause: e });
    throw e;
  }
  try {
    await h.close();
    const bytes = await readWalletBytes(path);
    const w = await decryptWallet(bytes, password);
    const kdf = scryptOf(bytes);
    const out = f(w);
    await saveWallet(path, w, password, kdf);
    return out;
  } finally {
    await rm(lock, { force: true });
  }
}

/** scryptOf returns the scrypt cost a wallet file was written with (to keep it). */
function scryptOf(bytes: Uint8Array): Partial<typeof SCRYPT_DEFAULTS> {
  const m = decodeCbor(bytes) as { scrypt: { n: number; r: number; p: number } };
  return { n: m.scrypt.n, r: m.scrypt.r, p: m.scrypt.p };
}

async function readWalletBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new LedgerError('NOT_FOUND', `no wallet file ${path}`);
    throw e;
  }
}

/** loadWallet reads and opens a wallet file (decryptWallet's codes; NOT_FOUND for no file). */
export async function loadWallet(path: string, password: string): Promise<Wallet> {
  return decryptWallet(await readWalletBytes(path), password);
}
