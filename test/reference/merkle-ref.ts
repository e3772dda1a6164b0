/**
 * A slow, obvious reference for the Merkle tree of RFC 9162 §2.1, written straight from
 * its recursive definitions, to cross-check src/core/merkle.ts. It shares no code with
 * it: it hashes with @noble/hashes directly and works on ranges [lo, hi) of the leaf
 * list D (the RFC's D[lo:hi]).
 *
 *   MTH({})       = HASH()
 *   MTH({d(0)})   = HASH(0x00 || d(0))
 *   MTH(D_n)      = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))   k = largest power of 2 < n
 *
 *   PATH(m, D_n)  = {}                                  for n = 1
 *                 = PATH(m, D[0:k]) : MTH(D[k:n])       for m < k
 *                 = PATH(m - k, D[k:n]) : MTH(D[0:k])   for m >= k
 *
 *   PROOF(m, D_n) = SUBPROOF(m, D_n, true)              0 < m < n
 *   SUBPROOF(m, D_m, true)  = {}
 *   SUBPROOF(m, D_m, false) = {MTH(D_m)}
 *   SUBPROOF(m, D_n, b)     = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])         for m <= k
 *                           = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) for m > k
 *
 * The only liberty taken is a cache of MTH per range (MTH is a pure function of the
 * range, and D only grows), so that every size and index up to a few hundred can be
 * checked in seconds. An optional `known` hook lets a test supply the hash of a range it
 * already knows (to model trees far too large to hash leaf by leaf); the recursion is
 * unchanged.
 */
import { sha256 } from '@noble/hashes/sha2.js';

function hash(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const buf = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return sha256(buf);
}

const ZERO = new Uint8Array([0x00]);
const ONE = new Uint8Array([0x01]);

/** refLeafHash is HASH(0x00 || d). */
export function refLeafHash(d: Uint8Array): Uint8Array {
  return hash(ZERO, d);
}

/** refNodeHash is HASH(0x01 || l || r). */
export function refNodeHash(l: Uint8Array, r: Uint8Array): Uint8Array {
  return hash(ONE, l, r);
}

/** largestPow2Below returns the largest power of two k with k < n (n > 1). */
export function largestPow2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export class RefTree {
  /** The leaf hashes HASH(0x00 || d(i)) of D, by index (only needed where `known` is silent). */
  readonly leaf: (i: number) => Uint8Array;
  readonly #known?: (lo: number, hi: number) => Uint8Array | undefined;
  readonly #cache = new Map<number, Uint8Array>();

  /**
   * A tree over the entries `entries` (which may grow later: D only grows), or over leaf
   * hashes given by a function; `known(lo, hi)` may return MTH(D[lo:hi]) outright.
   */
  constructor(entries: Uint8Array[] | ((i: number) => Uint8Array), known?: (lo: number, hi: number) => Uint8Array | undefined) {
    if (typeof entries === 'function') {
      this.leaf = entries;
    } else {
      const leaves: Uint8Array[] = [];
      this.leaf = (i) => {
        while (leaves.length <= i) leaves.push(refLeafHash(entries[leaves.length]));
        return leaves[i];
      };
    }
    this.#known = known;
  }

  /** mth returns MTH(D[lo:hi]). */
  mth(lo: number, hi: number): Uint8Array {
    const n = hi - lo;
    if (n === 0) return sha256(new Uint8Array(0));
    const key = lo * 2 ** 26 + n; // unique while n < 2^26 and lo < 2^27 (cache only then)
    const cacheable = n < 2 ** 26 && lo < 2 ** 27;
    if (cacheable) {
      const c = this.#cache.get(key);
      if (c !== undefined) return c;
    }
    let h = this.#known?.(lo, hi);
    if (h === undefined) {
      if (n === 1) {
        h = this.leaf(lo);
      } else {
        const k = largestPow2Below(n);
        h = refNodeHash(this.mth(lo, lo + k), this.mth(lo + k, hi));
      }
    }
    if (cacheable) this.#cache.set(key, h);
    return h;
  }

  /** root returns MTH(D[0:n]). */
  root(n: number): Uint8Array {
    return this.mth(0, n);
  }

  /** path returns PATH(m, D[lo:hi]) (the audit path of leaf lo + m). */
  path(m: number, lo: number, hi: number): Uint8Array[] {
    const n = hi - lo;
    if (!(0 <= m && m < n)) throw new RangeError('PATH needs 0 <= m < n');
    if (n === 1) return [];
    const k = largestPow2Below(n);
    if (m < k) return [...this.path(m, lo, lo + k), this.mth(lo + k, hi)];
    return [...this.path(m - k, lo + k, hi), this.mth(lo, lo + k)];
  }

  /** inclusion returns PATH(m, D_n). */
  inclusion(m: number, n: number): Uint8Array[] {
    return this.path(m, 0, n);
  }

  /** subproof returns SUBPROOF(m, D[lo:hi], b). */
  subproof(m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
    const n = hi - lo;
    if (m === n) return b ? [] : [this.mth(lo, hi)];
    if (!(0 < m && m < n)) throw new RangeError('SUBPROOF needs 0 < m <= n');
    const k = largestPow2Below(n);
    if (m <= k) return [...this.subproof(m, lo, lo + k, b), this.mth(lo + k, hi)];
    return [...this.subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
  }

  /** consistency returns PROOF(m, D_n) for 0 < m < n. */
  consistency(m: number, n: number): Uint8Array[] {
    if (!(0 < m && m < n)) throw new RangeError('PROOF needs 0 < m < n');
    return this.subproof(m, 0, n, true);
  }
}
