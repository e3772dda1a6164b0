/**
 * The Merkle tree of the log (docs/spec.md §3): RFC 9162 §2.1 hashing, stored hashes
 * numbered as Go's golang.org/x/mod/sumdb/tlog numbers them, proofs built from stored
 * hashes with one storage read, and proof verification exactly as RFC 9162 §2.1.3.2 and
 * §2.1.4.2.
 *
 * Vocabulary. The tree of `size` leaves has, for every level L and every n with
 * (n+1)·2^L <= size, the complete subtree (L, n) covering leaves [n·2^L, (n+1)·2^L); its
 * hash is a "stored hash" with index storedHashIndex(L, n), the position at which it is
 * written when leaves are appended one at a time (the leaf hash first, then the hashes of
 * the subtrees it completes, lowest first). The hashes of a tree of size s are exactly
 * the indices 0 .. storedHashCount(s) - 1, so a tree grows by appending hashes only.
 *
 * Numbers. Sizes, indices and stored-hash indices are non-negative safe integers (a log
 * may exceed 2^32 entries), so this module uses arithmetic, never 32-bit bit operators, on
 * them; bit tricks are applied only to 32-bit halves. A non-integer, negative or unsafe
 * number is a caller's bug (RangeError). Conditions an attacker controls (a proof, a
 * claimed index or size, a root) make verification throw LedgerError INVALID_PROOF.
 *
 * Hashes are 32-byte Uint8Arrays that are never mutated once made: callers must not
 * mutate what they pass in or get back (EMPTY_ROOT included).
 */
import { equalBytes } from './bytes.js';
import { sha256 } from './crypto.js';
import { LedgerError } from './errors.js';

export const HASH_SIZE = 32;

/** EMPTY_ROOT is MTH({}) = SHA-256() (RFC 9162 §2.1.1), the root of the tree of size 0. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

// ---------------------------------------------------------------------------------------
// Hashing (spec §3.1)

// Scratch buffers: sha256 is synchronous and copies its input, so one buffer per kind
// is reused for every hash and the hot paths allocate only the 32-byte result.
const NODE_BUF = new Uint8Array(1 + 2 * HASH_SIZE);
NODE_BUF[0] = 0x01;
const LEAF_BUF_MAX = 1 + 65_536; // an entry is at most 65,535 bytes (spec §5.2)
let leafBuf = new Uint8Array(1 + 1024); // leafBuf[0] stays 0x00

/** leafHash returns the RFC 9162 leaf hash SHA-256(0x00 ‖ entry) (spec §3.1). */
export function leafHash(entry: Uint8Array): Uint8Array {
  const need = entry.length + 1;
  if (need > leafBuf.length) {
    if (need > LEAF_BUF_MAX) return sha256(new Uint8Array(1), entry); // unusual: don't keep a huge buffer
    leafBuf = new Uint8Array(Math.min(LEAF_BUF_MAX, Math.max(need, 2 * leafBuf.length)));
  }
  leafBuf.set(entry, 1);
  return sha256(leafBuf.subarray(0, need));
}

/**
 * nodeHash returns the RFC 9162 interior node hash SHA-256(0x01 ‖ left ‖ right)
 * (spec §3.1). Throws RangeError unless both are 32 bytes.
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw new RangeError('nodeHash: hashes must be 32 bytes');
  }
  NODE_BUF.set(left, 1);
  NODE_BUF.set(right, 1 + HASH_SIZE);
  return sha256(NODE_BUF);
}

// ---------------------------------------------------------------------------------------
// Arithmetic on safe integers (0 <= x <= 2^53 - 1) without 32-bit operators on x itself.

const TWO32 = 4294967296;
/** POW2[k] = 2^k for k = 0..53. */
const POW2: readonly number[] = Array.from({ length: 54 }, (_, k) => 2 ** k);

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** popcount counts the one bits of a safe non-negative integer. */
function popcount(x: number): number {
  return popcount32(x >>> 0) + popcount32(Math.floor(x / TWO32));
}

/** bitLength is the number of bits needed for x (0 for 0). */
function bitLength(x: number): number {
  const hi = Math.floor(x / TWO32);
  return hi > 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(x >>> 0);
}

/** xor of two safe non-negative integers. */
function xor(a: number, b: number): number {
  return (Math.floor(a / TWO32) ^ Math.floor(b / TWO32)) * TWO32 + ((a ^ b) >>> 0);
}

/** trailingZeros of x > 0. */
function trailingZeros(x: number): number {
  const lo = x >>> 0;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  const hi = Math.floor(x / TWO32);
  return 63 - Math.clz32(hi & -hi);
}

function checkCount(name: string, x: number): void {
  if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${x}`);
}

// ---------------------------------------------------------------------------------------
// Stored-hash numbering (spec §3.2), as golang.org/x/mod/sumdb/tlog.

/** shi is storedHashIndex without argument checks: (n+1)·2^(L+1) − 2 − popcount(n). */
function shi(level: number, n: number): number {
  // Go defines it as: n' = n·2^L + 2^L − 1 (the last leaf under (L, n)), then
  // Σ_k floor(n'/2^k) + L. Since Σ_k floor(x/2^k) = 2x − popcount(x) and
  // popcount(n') = popcount(n) + L, that is the closed form above.
  return (n + 1) * POW2[level + 1] - 2 - popcount(n);
}

/**
 * storedHashIndex maps the complete subtree (level, n) to its stored-hash index, the
 * position at which tlog's StoredHashes writes it (spec §3.2). Throws RangeError when the
 * subtree is not in a tree of at most 2^52 leaves (so that every index and count is a
 * safe integer).
 */
export function storedHashIndex(level: number, n: number): number {
  checkCount('level', level);
  checkCount('n', n);
  if (level > 52 || (n + 1) * POW2[level + 1] > POW2[53]) {
    throw new RangeError(`storedHashIndex(${level}, ${n}) is beyond the safe integers`);
  }
  return shi(level, n);
}

/**
 * splitStoredHashIndex is the inverse of storedHashIndex: index → [level, n]. Throws
 * RangeError beyond 2^53 − 2, the last stored hash of the largest tree (2^52 leaves) whose
 * stored-hash count is a safe integer.
 */
export function splitStoredHashIndex(index: number): [level: number, n: number] {
  checkCount('index', index);
  if (index > POW2[53] - 2) throw new RangeError(`splitStoredHashIndex(${index}) is beyond the largest tree`);
  // The leaf whose append writes `index` is the largest leaf n with shi(0, n) <= index.
  // shi(0, n) = 2n − popcount(n) <= 2n, so n >= floor(index/2), and each further leaf
  // advances the count by at least one: the loop runs at most ~log2(index) times.
  let n = Math.floor(index / 2);
  let indexN = 2 * n - popcount(n);
  for (;;) {
    // Appending leaf n writes 1 + trailingZeros(n + 1) hashes.
    const next = indexN + 1 + trailingZeros(n + 1);
    if (next > index) break;
    n++;
    indexN = next;
  }
  const level = index - indexN;
  return [level, Math.floor(n / POW2[level])];
}

/** storedHashCount is the number of stored hashes of a tree of `size` leaves: 2·size − popcount(size). */
export function storedHashCount(size: number): number {
  checkCount('size', size);
  if (size > POW2[52]) throw new RangeError(`storedHashCount(${size}) is beyond the safe integers`);
  return 2 * size - popcount(size);
}

// ---------------------------------------------------------------------------------------
// Reading stored hashes

/** HashReader reads stored hashes by stored-hash index, in order; throws if any is missing. */
export type HashReader = (indices: readonly number[]) => Promise<Uint8Array[]>;

async function readAll(read: HashReader, indices: number[]): Promise<Uint8Array[]> {
  const hashes = await read(indices);
  if (!Array.isArray(hashes) || hashes.length !== indices.length) {
    throw new TypeError(`HashReader returned ${hashes?.length} hashes for ${indices.length} indices`);
  }
  for (const h of hashes) {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) throw new TypeError('HashReader returned a hash that is not 32 bytes');
  }
  return hashes;
}

/** pushEdge appends the stored-hash indices of the edge of a tree of `size` (largest subtree first). */
function pushEdge(size: number, out: number[]): void {
  for (let b = bitLength(size) - 1; b >= 0; b--) {
    const q = Math.floor(size / POW2[b]);
    if (q % 2 === 1) out.push(shi(b, q - 1));
  }
}

/** foldRight hashes hs[from..to) as RFC 9162 combines a tree's edge: H(h0, H(h1, ... hk)). */
function foldRight(hs: readonly Uint8Array[], from: number, to: number): Uint8Array {
  let h = hs[to - 1];
  for (let k = to - 2; k >= from; k--) h = nodeHash(hs[k], h);
  return h;
}

// ---------------------------------------------------------------------------------------
// The edge of the tree (for the sequencer)

/**
 * TreeEdge is the right edge of a tree: the hashes of its maximal complete subtrees, left
 * to right (one per one-bit of the size, largest first). It is all the sequencer keeps in
 * memory: appending a leaf needs only the edge, and yields exactly the stored hashes to
 * write (spec §3.2).
 */
export class TreeEdge {
  #size: number;
  #hashes: Uint8Array[];
  #root: Uint8Array | undefined;

  /** indices returns the stored-hash indices of the edge of a tree of `size`, left to right. */
  static indices(size: number): number[] {
    checkCount('size', size);
    storedHashCount(size); // range check
    const out: number[] = [];
    pushEdge(size, out);
    return out;
  }

  /** The edge of a tree of `size`, from the hashes read at TreeEdge.indices(size). Throws RangeError on a count or length mismatch. */
  constructor(size: number, edgeHashes: Uint8Array[]) {
    checkCount('size', size);
    storedHashCount(size); // range check
    if (edgeHashes.length !== popcount(size)) {
      throw new RangeError(`TreeEdge: a tree of size ${size} has ${popcount(size)} edge hashes, got ${edgeHashes.length}`);
    }
    for (const h of edgeHashes) {
      if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) throw new RangeError('TreeEdge: edge hashes must be 32 bytes');
    }
    this.#size = size;
    this.#hashes = edgeHashes.slice();
  }

  get size(): number {
    return this.#size;
  }

  /** hashes returns a copy of the edge hashes, left to right (what the constructor takes). */
  get hashes(): Uint8Array[] {
    return this.#hashes.slice();
  }

  /**
   * append adds one leaf hash and returns the stored hashes it creates, in stored-index
   * order: the leaf hash itself (at storedHashCount(old size)), then the hash of every
   * subtree the leaf completes, lowest level first.
   */
  append(leafHash: Uint8Array): Uint8Array[] {
    if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_SIZE) throw new RangeError('TreeEdge.append: leaf hash must be 32 bytes');
    if (this.#size >= POW2[52]) throw new RangeError('TreeEdge.append: tree is full');
    const out = [leafHash];
    let h = leafHash;
    // Each trailing one-bit of the old size is a subtree of the same level that the new
    // leaf's subtree now completes.
    for (let s = this.#size; s % 2 === 1; s = (s - 1) / 2) {
      h = nodeHash(this.#hashes.pop()!, h);
      out.push(h);
    }
    this.#hashes.push(h);
    this.#size++;
    this.#root = undefined;
    return out;
  }

  /** root returns the tree hash MTH (RFC 9162 §2.1.1); EMPTY_ROOT for size 0. */
  root(): Uint8Array {
    if (this.#root === undefined) {
      this.#root = this.#size === 0 ? EMPTY_ROOT : foldRight(this.#hashes, 0, this.#hashes.length);
    }
    return this.#root;
  }

  /**
   * readerWith returns a HashReader over this edge's hashes and `added`, the stored
   * hashes created by appending leaves to a tree of this size (what append returned,
   * concatenated, in order). That is every stored hash an inclusion proof of an appended
   * leaf needs, in any tree up to the grown size: a complete subtree on such a proof
   * either lies wholly in the old tree, and is then one of its edge subtrees, or holds an
   * appended leaf, and was created by the appends. So the sequencer proves a batch's
   * entries without reading the store. Any other index throws NOT_FOUND.
   */
  readerWith(added: readonly Uint8Array[]): HashReader {
    const edge = new Map<number, Uint8Array>();
    TreeEdge.indices(this.#size).forEach((ix, k) => edge.set(ix, this.#hashes[k]));
    const base = storedHashCount(this.#size);
    return async (indices) =>
      indices.map((ix) => {
        const h = ix >= base ? added[ix - base] : edge.get(ix);
        if (h === undefined) throw new LedgerError('NOT_FOUND', `stored hash ${ix} is neither on the edge of the tree of size ${this.#size} nor appended`);
        return h;
      });
  }

  /** clone returns an independent copy (hashes are shared: they are never mutated). */
  clone(): TreeEdge {
    const c = new TreeEdge(this.#size, this.#hashes);
    c.#root = this.#root;
    return c;
  }
}

// ---------------------------------------------------------------------------------------
// Proofs from stored hashes (spec §3.3)

/** Where the parts of a path proof sit in the hashes read for it. */
interface PathPlan {
  inner: number; // sibling hashes below the fork, used as read
  eph: number; // stored hashes folded into the one "ephemeral" hash right of the fork (0: none)
  left: number; // complete subtrees left of the fork, lowest first, used as read
}

/**
 * planPath appends to `out` the stored-hash indices needed for RFC 9162 PATH of the
 * complete subtree (level, j) in the tree of size n (for level 0, the inclusion proof of
 * leaf j), and says how to assemble them.
 *
 * Let F, the "fork", be the highest ancestor of (level, j) lying wholly inside [0, n): it
 * is the edge subtree at the highest bit where n and j·2^level differ. Bottom-up, the
 * proof is: the siblings of the path below F (complete subtrees inside F); then the hash
 * of the leaves right of F, [end(F), n) — the fold of the edge subtrees of n below F's
 * level — if there are any; then the edge subtrees of n left of F, lowest first.
 */
function planPath(level: number, j: number, n: number, out: number[]): PathPlan {
  const first = j * POW2[level];
  const fork = bitLength(xor(first, n)) - 1;
  for (let l = level; l < fork; l++) {
    const k = Math.floor(first / POW2[l]);
    out.push(shi(l, k % 2 === 0 ? k + 1 : k - 1));
  }
  let eph = 0;
  for (let b = fork - 1; b >= 0; b--) {
    const q = Math.floor(n / POW2[b]);
    if (q % 2 === 1) {
      out.push(shi(b, q - 1));
      eph++;
    }
  }
  let left = 0;
  for (let b = fork + 1; b < 53 && POW2[b] <= n; b++) {
    const q = Math.floor(n / POW2[b]);
    if (q % 2 === 1) {
      out.push(shi(b, q - 1));
      left++;
    }
  }
  return { inner: fork - level, eph, left };
}

/** assemblePath builds the proof from hashes[at..] laid out by plan, appending to proof. */
function assemblePath(plan: PathPlan, hashes: readonly Uint8Array[], at: number, proof: Uint8Array[]): void {
  for (let k = 0; k < plan.inner; k++) proof.push(hashes[at + k]);
  at += plan.inner;
  if (plan.eph > 0) {
    proof.push(foldRight(hashes, at, at + plan.eph));
    at += plan.eph;
  }
  for (let k = 0; k < plan.left; k++) proof.push(hashes[at + k]);
}

/**
 * treeHash computes the root MTH (RFC 9162 §2.1.1) of the tree of `size` leaves from its
 * stored hashes, with one read call of at most 1 + log2(size) indices (none for size 0,
 * which is EMPTY_ROOT). Errors of `read` (NOT_FOUND, ...) propagate.
 */
export async function treeHash(size: number, read: HashReader): Promise<Uint8Array> {
  const indices = TreeEdge.indices(size);
  if (indices.length === 0) return EMPTY_ROOT;
  const hashes = await readAll(read, indices);
  return foldRight(hashes, 0, hashes.length);
}

/**
 * proveInclusion returns the inclusion proof (RFC 9162 §2.1.3.1 PATH(index, D[size]),
 * hashes bottom-up) of leaf `index` in the tree of `size` leaves, with one read call (none
 * when the proof is empty, i.e. size 1). Throws RangeError unless 0 <= index < size: a
 * server validates request parameters before asking. Errors of `read` propagate.
 */
export async function proveInclusion(index: number, size: number, read: HashReader): Promise<Uint8Array[]> {
  checkCount('index', index);
  checkCount('size', size);
  if (index >= size) throw new RangeError(`proveInclusion: index ${index} >= size ${size}`);
  storedHashCount(size); // range check
  const indices: number[] = [];
  const plan = planPath(0, index, size, indices);
  const proof: Uint8Array[] = [];
  if (indices.length === 0) return proof;
  assemblePath(plan, await readAll(read, indices), 0, proof);
  return proof;
}

/**
 * proveConsistency returns the consistency proof (RFC 9162 §2.1.4.1 PROOF(size1,
 * D[size2])) between the trees of size1 and size2 leaves, with one read call (none when
 * the proof is empty). For size1 = size2 and for size1 = 0 the proof is empty (see
 * verifyConsistency). Throws RangeError when size1 > size2. Errors of `read` propagate.
 *
 * For 0 < size1 < size2 the proof is: the hash of the last complete subtree of the old
 * tree, (L, k) with size1 = (k+1)·2^L and k+1 odd, unless k = 0 (size1 is a power of two,
 * and that hash is the old root, which the verifier has); then PATH of (L, k) in the new
 * tree. This equals SUBPROOF(size1, D[size2], true).
 */
export async function proveConsistency(size1: number, size2: number, read: HashReader): Promise<Uint8Array[]> {
  checkCount('size1', size1);
  checkCount('size2', size2);
  if (size1 > size2) throw new RangeError(`proveConsistency: size1 ${size1} > size2 ${size2}`);
  storedHashCount(size2); // range check
  const proof: Uint8Array[] = [];
  if (size1 === 0 || size1 === size2) return proof;
  const level = trailingZeros(size1);
  const k = size1 / POW2[level] - 1;
  const indices: number[] = [];
  if (k > 0) indices.push(shi(level, k));
  const plan = planPath(level, k, size2, indices);
  const hashes = await readAll(read, indices);
  if (k > 0) proof.push(hashes[0]);
  assemblePath(plan, hashes, k > 0 ? 1 : 0, proof);
  return proof;
}

// ---------------------------------------------------------------------------------------
// Verification (spec §3.4)

function invalid(message: string): LedgerError {
  return new LedgerError('INVALID_PROOF', message);
}

function checkHash(what: string, h: Uint8Array): void {
  if (!(h instanceof Uint8Array)) throw new TypeError(`${what} is not a Uint8Array`);
  if (h.length !== HASH_SIZE) throw invalid(`${what} is ${h.length} bytes, not ${HASH_SIZE}`);
}

function checkProofHashes(proof: readonly Uint8Array[]): void {
  if (!Array.isArray(proof)) throw new TypeError('proof is not an array');
  for (let k = 0; k < proof.length; k++) checkHash(`proof hash ${k}`, proof[k]);
}

/**
 * rootFromInclusionProof runs the inclusion proof verification of RFC 9162 §2.1.3.2 and
 * returns the root it implies for leafHash at `index` in the tree of `size` leaves
 * (without comparing it to anything). Throws LedgerError INVALID_PROOF when index >= size
 * (so a tree of size 0 includes nothing), when any hash is not exactly 32 bytes, or when
 * the proof has more or fewer hashes than the path needs. Throws RangeError when index or
 * size is not a non-negative safe integer.
 */
export function rootFromInclusionProof(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): Uint8Array {
  checkCount('index', index);
  checkCount('size', size);
  if (index >= size) throw invalid(`leaf index ${index} is not below tree size ${size}`);
  checkHash('leaf hash', leafHash);
  checkProofHashes(proof);
  // RFC 9162 §2.1.3.2, steps 2–5 (fn, sn and r as named there).
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw invalid('inclusion proof has more hashes than the path needs');
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw invalid('inclusion proof has fewer hashes than the path needs');
  return r;
}

/**
 * verifyInclusion checks that leafHash is at `index` in the tree of `size` leaves whose
 * root is `root` (RFC 9162 §2.1.3.2). Throws LedgerError INVALID_PROOF for any failure
 * (see rootFromInclusionProof, and a root that is not 32 bytes or does not match).
 */
export function verifyInclusion(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): void {
  checkHash('root', root);
  const r = rootFromInclusionProof(leafHash, index, size, proof);
  if (!equalBytes(r, root)) throw invalid('inclusion proof does not lead to the root');
}

/**
 * verifyConsistency checks that the tree of size2 leaves with root root2 extends the tree
 * of size1 leaves with root root1 (RFC 9162 §2.1.4.2). Throws LedgerError INVALID_PROOF
 * for any failure; RangeError when a size is not a non-negative safe integer.
 *
 * RFC 9162 defines proofs and their verification only for 0 < size1 < size2. Outside that
 * range this follows transparency-dev/merkle's proof.VerifyConsistency (which accepts
 * 0 <= size1 <= size2), with one strictness of our own:
 *  - size1 > size2: invalid (a tree never shrinks).
 *  - size1 = size2: the proof MUST be empty and root1 MUST equal root2.
 *  - size1 = 0 < size2: the proof MUST be empty; every tree extends the empty tree.
 *    Unlike transparency-dev, which ignores root1 here, root1 MUST be EMPTY_ROOT
 *    (MTH({}) = SHA-256(), RFC 9162 §2.1.1): no other value is the empty tree's root.
 *    (Go's tlog.CheckTree rejects size1 = 0 outright; a caller that holds no checkpoint
 *    yet simply has nothing to check.)
 *  - 0 < size1 < size2: the algorithm of RFC 9162 §2.1.4.2, exactly; an empty proof, a
 *    proof with hashes missing or left over, or a computed root that differs fails.
 * Every hash (root1, root2 and each proof hash) MUST be exactly 32 bytes.
 */
export function verifyConsistency(size1: number, size2: number, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): void {
  checkCount('size1', size1);
  checkCount('size2', size2);
  checkHash('root1', root1);
  checkHash('root2', root2);
  checkProofHashes(proof);
  if (size1 > size2) throw invalid(`tree size ${size1} is larger than ${size2}`);
  if (size1 === size2) {
    if (proof.length !== 0) throw invalid('consistency proof between equal sizes must be empty');
    if (!equalBytes(root1, root2)) throw invalid('roots of equal tree sizes differ');
    return;
  }
  if (size1 === 0) {
    if (proof.length !== 0) throw invalid('consistency proof from the empty tree must be empty');
    if (!equalBytes(root1, EMPTY_ROOT)) throw invalid('root of the empty tree is not SHA-256()');
    return;
  }
  // RFC 9162 §2.1.4.2 (first, second, fn, sn, fr, sr as named there).
  // 1. An empty consistency_path fails.
  if (proof.length === 0) throw invalid('consistency proof is empty');
  // 2. If first is an exact power of 2, first_hash is prepended to the path: the path is
  //    then [root1, ...proof]; instead of copying, start the walk at proof[0].
  const prepend = popcount(size1) === 1;
  const seed = prepend ? root1 : proof[0];
  // 3–4.
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  // 5.
  let fr = seed;
  let sr = seed;
  // 6.
  for (let k = prepend ? 0 : 1; k < proof.length; k++) {
    const c = proof[k];
    if (sn === 0) throw invalid('consistency proof has more hashes than needed');
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 7.
  if (sn !== 0) throw invalid('consistency proof has fewer hashes than needed');
  if (!equalBytes(fr, root1)) throw invalid('consistency proof does not lead to the old root');
  if (!equalBytes(sr, root2)) throw invalid('consistency proof does not lead to the new root');
}
