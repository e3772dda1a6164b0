/**
 * Wallet keys (spec §12.1, §12.3): the identity key and the per-certificate holder keys
 * derived from a wallet seed, and the X25519 key pair each Ed25519 key maps to.
 *
 * Pure and portable (it runs in the browser).
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { checkEd25519PublicKey, ed25519PublicKey } from '../core/crypto.js';
import { concatBytes, utf8 } from '../core/bytes.js';
import { LedgerError } from '../core/errors.js';

/** A wallet seed is this many bytes from a CSPRNG. */
export const WALLET_SEED_BYTES = 32;
/** Holder indexes are uint32. */
export const MAX_HOLDER_INDEX = 0xffff_ffff;

function checkSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== WALLET_SEED_BYTES) throw new TypeError(`wallet seed must be ${WALLET_SEED_BYTES} bytes`);
}

/** identitySeed derives the wallet's identity key (an Ed25519 seed) from the wallet seed. */
export function identitySeed(seed: Uint8Array): Uint8Array {
  checkSeed(seed);
  return hkdf(sha256, seed, undefined, utf8('dojang/v1/wallet/identity'), 32);
}

/** holderSeed derives holder key n (an Ed25519 seed) from the wallet seed. */
export function holderSeed(seed: Uint8Array, n: number): Uint8Array {
  checkSeed(seed);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_HOLDER_INDEX) throw new RangeError('holderSeed: n must be a uint32');
  const idx = new Uint8Array(4);
  new DataView(idx.buffer).setUint32(0, n);
  return hkdf(sha256, seed, undefined, concatBytes(utf8('dojang/v1/wallet/holder\n'), idx), 32);
}

/**
 * holderKey returns holder key n's seed and public key, or undefined when §2.2 refuses
 * its public key (the wallet skips that n: spec §12.1).
 */
export function holderKey(seed: Uint8Array, n: number): { seed: Uint8Array; publicKey: Uint8Array } | undefined {
  const s = holderSeed(seed, n);
  const publicKey = ed25519PublicKey(s);
  return checkEd25519PublicKey(publicKey) === undefined ? { seed: s, publicKey } : undefined;
}

/**
 * x25519PublicKey maps an Ed25519 public key to its X25519 public key, u = (1 + y) /
 * (1 − y) (RFC 7748 §4.1). BAD_KEY for a key that spec §2.2 refuses.
 */
export function x25519PublicKey(edPublicKey: Uint8Array): Uint8Array {
  const why = edPublicKey instanceof Uint8Array ? checkEd25519PublicKey(edPublicKey) : 'not a Uint8Array';
  if (why !== undefined) throw new LedgerError('BAD_KEY', `not an acceptable Ed25519 public key: ${why}`);
  return ed25519.utils.toMontgomery(edPublicKey);
}

/** x25519SecretKey is the X25519 private key of an Ed25519 seed: the first half of SHA-512(seed), clamped (RFC 8032 §5.1.5). */
export function x25519SecretKey(edSeed: Uint8Array): Uint8Array {
  if (!(edSeed instanceof Uint8Array) || edSeed.length !== 32) throw new TypeError('x25519SecretKey: an Ed25519 seed is 32 bytes');
  return ed25519.utils.toMontgomerySecret(edSeed);
}
