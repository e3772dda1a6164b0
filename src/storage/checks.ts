/**
 * The argument checks every LedgerStore makes before it touches its storage (contract
 * rules 5, 8 and 11a of src/storage/store.ts): a caller's bug is a RangeError or
 * TypeError, thrown before anything is written.
 */
import { storedHashCount } from '../core/merkle.js';
import { ANNEX_KINDS, ANNEX_MAX, STATE_KEY_MAX, STATE_VALUE_MAX, type AnnexKind, type AppendBatch, type StateWrite } from './store.js';

/** The size of a leaf hash and of a stored hash. */
export const HASH_SIZE = 32;

export function checkIndex(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${n}`);
}

export function checkBytes(b: unknown, what: string): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
}

export function checkHash(b: unknown, what: string): void {
  checkBytes(b, what);
  if (b.length !== HASH_SIZE) throw new RangeError(`${what} must be ${HASH_SIZE} bytes, got ${b.length}`);
}

export function checkStateKey(k: unknown): void {
  checkBytes(k, 'state key');
  if (k.length < 1 || k.length > STATE_KEY_MAX) {
    throw new RangeError(`state key must be 1–${STATE_KEY_MAX} bytes, got ${k.length}`);
  }
}

/** checkCheckpoint checks a checkpoint argument: non-empty bytes. */
export function checkCheckpoint(checkpoint: unknown, what: string): void {
  checkBytes(checkpoint, 'checkpoint');
  if (checkpoint.length === 0) throw new RangeError(`${what}: empty checkpoint`);
}

/**
 * checkBatch checks a whole append batch (rules 5, 8, 11a) and returns its new size, the
 * index of its first stored hash and its state writes (an empty array when absent).
 */
export function checkBatch(b: AppendBatch): { newSize: number; firstHash: number; state: readonly StateWrite[] } {
  if (b === null || typeof b !== 'object') throw new TypeError('append: batch must be an object');
  checkIndex(b.expectedSize, 'expectedSize');
  const { entries, leafHashes, hashes, checkpoint } = b;
  if (!Array.isArray(entries) || !Array.isArray(leafHashes) || !Array.isArray(hashes)) {
    throw new TypeError('append: entries, leafHashes and hashes must be arrays');
  }
  const n = entries.length;
  if (n === 0) throw new RangeError('append: a batch holds at least one entry');
  if (leafHashes.length !== n) throw new RangeError(`append: ${n} entries but ${leafHashes.length} leaf hashes`);
  const newSize = b.expectedSize + n;
  if (!Number.isSafeInteger(newSize)) throw new RangeError('append: size overflow');
  const firstHash = storedHashCount(b.expectedSize);
  const wantHashes = storedHashCount(newSize) - firstHash;
  if (hashes.length !== wantHashes) {
    throw new RangeError(
      `append: size ${b.expectedSize}→${newSize} needs stored hashes ${firstHash}..${firstHash + wantHashes - 1} (${wantHashes}), got ${hashes.length}`,
    );
  }
  checkCheckpoint(checkpoint, 'append');
  for (let i = 0; i < n; i++) {
    checkBytes(entries[i], 'entry');
    checkHash(leafHashes[i], 'leaf hash');
  }
  for (let i = 0; i < hashes.length; i++) checkHash(hashes[i], 'stored hash');
  const state = b.state === undefined ? [] : b.state;
  if (!Array.isArray(state)) throw new TypeError('append: state must be an array');
  for (const w of state) {
    if (w === null || typeof w !== 'object') throw new TypeError('append: a state write must be an object');
    checkStateKey(w.key);
    if (w.value !== null) {
      checkBytes(w.value, 'state value');
      if (w.value.length > STATE_VALUE_MAX) {
        throw new RangeError(`state value must be at most ${STATE_VALUE_MAX} bytes, got ${w.value.length}`);
      }
    }
  }
  return { newSize, firstHash, state };
}

/** checkAnnexKind checks an annex kind (rule 13a): a TypeError unless it is an AnnexKind. */
export function checkAnnexKind(kind: unknown): asserts kind is AnnexKind {
  if (!ANNEX_KINDS.includes(kind as AnnexKind)) throw new TypeError(`annex kind must be one of ${ANNEX_KINDS.join(', ')}, got ${String(kind)}`);
}

/** checkAnnex checks the arguments of putAnnex (rules 8 and 13a). */
export function checkAnnex(kind: unknown, size: number, bytes: unknown): void {
  checkAnnexKind(kind);
  checkIndex(size, 'size');
  checkBytes(bytes, 'annex');
  if (bytes.length < 1 || bytes.length > ANNEX_MAX) throw new RangeError(`an annex must be 1–${ANNEX_MAX} bytes, got ${bytes.length}`);
}

/** annexKindCode is the one-byte code of an annex kind in storage keys (spec §8.4): timestamp 1, witnessed 2. */
export function annexKindCode(kind: AnnexKind): number {
  return kind === 'timestamp' ? 1 : 2;
}
