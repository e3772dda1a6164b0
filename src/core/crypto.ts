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
 *  - signature: 64 bytes, S < L (no malleable S), R a canonical encoding and not of
 *    small order (an honest signer's R never is; libsodium and ed25519-dalek's
 *    verify_strict refuse it too);
 *  - equation: cofactorless [S]B = R + [k]A with k = SHA-512(R ‖ A ‖ M) mod L over the
 *    bytes as received, compared as the encoding of R (RFC 8032 §5.1.7 without the
 *    factor 8, the form OpenSSL uses). A signature whose torsion components of R and
 *    [k]A do not cancel ("low-order residue"), which a cofactored check would accept,
 *    is refused by both backends alike. Points with a torsion component that is not
 *    small order (mixed-order A or R) are not refused as such: the equation decides.
 *
 * The node backend is OpenSSL's Ed25519 verification (cofactorless, S < L, R compared as
 * bytes); the portable backend evaluates the same equation with noble's Point API. The
 * pre-checks above cover what OpenSSL does not refuse by itself (small-order and
 * non-canonical A, small-order R). test/core/crypto.test.ts proves the two agree on
 * RFC 8032 vectors, the "Taming the many EdDSAs" cases and a systematic torsion matrix.
 *
 * The accepted set is the intersection of what common verifiers accept: every signature
 * valid here is valid for OpenSSL, Go's crypto/ed25519, libsodium and ed25519-dalek's
 * verify_strict, so no outside verifier refuses an entry this ledger accepted.
 *
 * Verification returns false for any invalid signature; it throws only on a caller's
 * bug (wrong argument types).
 */
import * as ed from '@noble/ed25519';
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';
import { byteKey, concatBytes, equalBytes } from './bytes.js';

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

// Group order L (RFC 8032 §5.1) as a number and as 32 little-endian bytes.
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const L_BYTES = leBytes(L);

function leBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 255n);
    n >>= 8n;
  }
  return out;
}

function hex32(s: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
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
 * The canonical encodings of the eight points of small order (the torsion subgroup
 * E[8]): identity, the point of order 2, two of order 4 and four of order 8. Their
 * non-canonical alternatives are refused by the encoding rule before this list is
 * consulted. test/core/crypto.test.ts recomputes the subgroup with noble's Point API.
 */
const SMALL_ORDER: readonly Uint8Array[] = [
  '0100000000000000000000000000000000000000000000000000000000000000', // order 1
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
  '0000000000000000000000000000000000000000000000000000000000000080', // order 4
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
].map(hex32);

function isSmallOrderEncoding(b: Uint8Array): boolean {
  for (const s of SMALL_ORDER) {
    if (s[0] !== b[0] || s[31] !== b[31]) continue; // cheap filter before the full compare
    if (equalBytes(s, b)) return true;
  }
  return false;
}

/**
 * isCanonicalPointEncoding checks the encoding rules of RFC 8032 §5.1.3 that need no
 * decoding: y < p = 2^255 - 19, and no sign bit on x = 0 (possible only for y = 1 and
 * y = p - 1). Allocation-free: it runs on every verification.
 */
function isCanonicalPointEncoding(b: Uint8Array): boolean {
  const top = b[31] & 0x7f;
  let midFF = true; // bytes 1..30 all 0xff
  let midZero = true; // bytes 1..30 all 0x00
  for (let i = 1; i < 31; i++) {
    const v = b[i];
    if (v !== 0xff) midFF = false;
    if (v !== 0) midZero = false;
  }
  // y >= p exactly when y is one of p .. 2^255 - 1: 0x7f, thirty 0xff, low byte >= 0xed.
  if (top === 0x7f && midFF && b[0] >= 0xed) return false;
  if (b[31] & 0x80) {
    if (top === 0 && midZero && b[0] === 1) return false; // y = 1, "x = -0"
    if (top === 0x7f && midFF && b[0] === 0xec) return false; // y = p - 1, "x = -0"
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
  if (isSmallOrderEncoding(pub)) return 'public key has small order';
  // Decoding a point takes a square root (~100 µs in JavaScript); keys recur (issuers,
  // holders sending on), so remember the ones already found good.
  const id = byteKey(pub);
  if (goodKeys.has(id)) return undefined;
  try {
    ed.Point.fromBytes(pub, false);
  } catch {
    return 'public key is not a curve point';
  }
  if (goodKeys.size >= 65_536) goodKeys.delete(goodKeys.values().next().value as string);
  goodKeys.add(id);
  return undefined;
}

const goodKeys = new Set<string>();

/** The cheap rule checks shared by both backends (see the module comment). */
function passesStrictRules(pub: Uint8Array, sig: Uint8Array): boolean {
  if (pub.length !== 32 || sig.length !== 64) return false;
  if (!isCanonicalPointEncoding(pub)) return false;
  if (isSmallOrderEncoding(pub)) return false;
  if (!isCanonicalPointEncoding(sig.subarray(0, 32))) return false;
  if (isSmallOrderEncoding(sig.subarray(0, 32))) return false;
  if (!lessThanLE(sig.subarray(32, 64), L_BYTES)) return false;
  return true;
}

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
  /**
   * The cofactorless equation of RFC 8032 §5.1.7 step 3 without the cofactor:
   * encode([S]B - [k]A) must equal the R bytes, k = SHA-512(R ‖ A ‖ M) mod L. A is
   * decoded strictly (y < p, no "x = -0"). One evaluation: a cofactored check would add
   * nothing, since an exact equality implies the cofactored one.
   */
  ed25519VerifyRaw(pub, msg, sig) {
    if (pub.length !== 32 || sig.length !== 64) return false;
    try {
      const A = ed.Point.fromBytes(pub, false);
      const s = bytesToNumberLE(sig.subarray(32, 64));
      if (s >= L) return false;
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
  // getRandomValues fills at most 65,536 bytes per call.
  for (let o = 0; o < n; o += 65536) globalThis.crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}
