/**
 * The crypto facade: SHA-256 and Ed25519 behind one small interface (spec §2).
 *
 * Two backends implement it: `nodeBackend` (node:crypto, OpenSSL: the fast path used by
 * servers, CLI and tests) and `portableBackend` (@noble/*: runs in browsers; the
 * reference the tests compare against). Both enforce the same strict RFC 8032 rules,
 * checked here before either backend sees a signature:
 *
 *  - public key: 32 bytes, canonical encoding (y < p, no "negative zero" x), not of
 *    small order;
 *  - signature: 64 bytes, S < L (no malleable S), R a canonical encoding;
 *  - equation: cofactorless [S]B = R + [k]A, compared as the encoding of R
 *    (RFC 8032 §5.1.7, the form OpenSSL uses). The portable backend runs noble's
 *    `zip215: false` verification and additionally the cofactorless equation, so a
 *    signature with a torsion component in R, which a cofactored check alone would
 *    accept, is refused by both backends alike.
 *
 * Verification returns false for any invalid signature; it throws only on a caller's
 * bug (wrong argument types).
 */
import * as ed from '@noble/ed25519';
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes } from './bytes.js';

ed.hashes.sha512 = nobleSha512;

export interface CryptoBackend {
  readonly name: string;
  sha256(data: Uint8Array): Uint8Array;
  /** ed25519PublicKey derives the public key from a 32-byte seed (RFC 8032 private key). */
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  ed25519Sign(seed: Uint8Array, msg: Uint8Array): Uint8Array;
  /** ed25519VerifyRaw runs the backend's equation only; use verifyEd25519 for the rules. */
  ed25519VerifyRaw(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
}

// Group order L and field prime p, little-endian byte forms for cheap range checks.
const L_BYTES = leBytes(2n ** 252n + 27742317777372353535851937790883648493n);
const P_BYTES = leBytes(2n ** 255n - 19n);

function leBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 255n);
    n >>= 8n;
  }
  return out;
}

/** lessThanLE compares a 32-byte little-endian number with a 32-byte bound. */
function lessThanLE(a: Uint8Array, bound: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (a[i] !== bound[i]) return a[i] < bound[i];
  }
  return false;
}

/**
 * The encodings of the eight points of small order (canonical ones only: non-canonical
 * encodings are refused by the y < p rule anyway). Computed once from noble's curve.
 */
const SMALL_ORDER: Uint8Array[] = (() => {
  // A point of order 8 has y = ±sqrt of a fixed value; rather than hard-code hex, walk the
  // torsion subgroup from one generator found by clearing the prime-order part.
  const P = ed.Point;
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  // Any point T whose [L]·X gives a point of order 8: take X = hash-to-point-ish by
  // trying y values until one decodes and [L]X has order 8.
  for (let y = 2n; ; y++) {
    let X: ed.Point;
    try {
      X = P.fromBytes(leBytes(y));
    } catch {
      continue;
    }
    const T = X.multiply(L / 2n, false).double().add(X); // [L]X, lies in the torsion subgroup
    let order = 1;
    for (let Q = T; !Q.is0(); Q = Q.add(T)) order++;
    if (order !== 8) continue;
    const out: Uint8Array[] = [];
    let Q = P.ZERO;
    for (let i = 0; i < 8; i++) {
      out.push(Q.toBytes());
      Q = Q.add(T);
    }
    return out;
  }
})();

/** isCanonicalPoint checks the encoding rules of RFC 8032 §5.1.3 that need no decoding. */
function isCanonicalPointEncoding(b: Uint8Array): boolean {
  const y = b.slice();
  const sign = y[31] >> 7;
  y[31] &= 0x7f;
  if (!lessThanLE(y, P_BYTES)) return false; // y >= p
  if (sign === 1) {
    // x = 0 only for y = 1 and y = p - 1; their "negative" encodings are non-canonical.
    const one = leBytes(1n);
    const pm1 = leBytes(2n ** 255n - 20n);
    if (equalBytes(y, one) || equalBytes(y, pm1)) return false;
  }
  return true;
}

/**
 * checkEd25519PublicKey reports why a public key is unacceptable, or undefined when it
 * is fine: wrong length, non-canonical encoding, not a curve point, small order.
 */
export function checkEd25519PublicKey(pub: Uint8Array): string | undefined {
  if (pub.length !== 32) return 'public key is not 32 bytes';
  if (!isCanonicalPointEncoding(pub)) return 'public key encoding is not canonical';
  for (const s of SMALL_ORDER) if (equalBytes(s, pub)) return 'public key has small order';
  try {
    ed.Point.fromBytes(pub, false);
  } catch {
    return 'public key is not a curve point';
  }
  return undefined;
}

/** The cheap rule checks shared by both backends (see the module comment). */
function passesStrictRules(pub: Uint8Array, sig: Uint8Array): boolean {
  if (pub.length !== 32 || sig.length !== 64) return false;
  if (!isCanonicalPointEncoding(pub)) return false;
  for (const s of SMALL_ORDER) if (equalBytes(s, pub)) return false;
  if (!isCanonicalPointEncoding(sig.subarray(0, 32))) return false;
  if (!lessThanLE(sig.subarray(32, 64), L_BYTES)) return false;
  return true;
}

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function bytesToNumberLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

export const portableBackend: CryptoBackend = {
  name: 'noble',
  sha256: (data) => nobleSha256(data),
  ed25519PublicKey: (seed) => ed.getPublicKey(seed),
  ed25519Sign: (seed, msg) => ed.sign(msg, seed),
  ed25519VerifyRaw(pub, msg, sig) {
    if (!ed.verify(sig, msg, pub, { zip215: false })) return false;
    // Cofactorless equation: encode([S]B - [k]A) must equal R's bytes.
    try {
      const A = ed.Point.fromBytes(pub, false);
      const s = bytesToNumberLE(sig.subarray(32, 64));
      const k = bytesToNumberLE(nobleSha512(concatBytes(sig.subarray(0, 32), pub, msg))) % L;
      const R = ed.Point.BASE.multiply(s, false).subtract(A.multiply(k, false));
      return equalBytes(R.toBytes(), sig.subarray(0, 32));
    } catch {
      return false;
    }
  },
};

let backend: CryptoBackend = portableBackend;
if (typeof globalThis.process !== 'undefined' && globalThis.process.versions?.node) {
  backend = (await import('./crypto-node.js')).nodeBackend;
}

/** cryptoBackend is the backend in use: node:crypto under Node.js, noble elsewhere. */
export function cryptoBackend(): CryptoBackend {
  return backend;
}

/** sha256 hashes the concatenation of its arguments. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  return backend.sha256(parts.length === 1 ? parts[0] : concatBytes(...parts));
}

/**
 * verifyEd25519 checks sig over msg under pub with the strict rules of the module
 * comment. Returns false for any invalid key or signature.
 */
export function verifyEd25519(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array, b: CryptoBackend = backend): boolean {
  if (!passesStrictRules(pub, sig)) return false;
  return b.ed25519VerifyRaw(pub, msg, sig);
}

/** signEd25519 signs msg with a 32-byte seed (deterministic, RFC 8032). */
export function signEd25519(seed: Uint8Array, msg: Uint8Array): Uint8Array {
  if (seed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes');
  return backend.ed25519Sign(seed, msg);
}

export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  if (seed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes');
  return backend.ed25519PublicKey(seed);
}

/** randomBytes returns n bytes from the platform CSPRNG (WebCrypto). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}
