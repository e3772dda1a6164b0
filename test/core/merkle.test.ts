import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { equalBytes, fromBase64, fromHex, toHex, u64be, utf8 } from '../../src/core/bytes.js';
import { LedgerError } from '../../src/core/errors.js';
import {
  EMPTY_ROOT,
  HASH_SIZE,
  type HashReader,
  TreeEdge,
  leafHash,
  nodeHash,
  proveConsistency,
  proveInclusion,
  rootFromInclusionProof,
  splitStoredHashIndex,
  storedHashCount,
  storedHashIndex,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from '../../src/core/merkle.js';
import { RefTree, refLeafHash, refNodeHash } from '../reference/merkle-ref.js';

// ---------------------------------------------------------------------------------------
// Vectors and helpers

interface Rfc6962Vectors {
  leaves: string[];
  roots: string[];
  inclusion: { leafIndex: number; treeSize: number; leafHash: string; root: string; proof: string[] }[];
  consistency: { size1: number; size2: number; root1: string; root2: string; proof: string[] }[];
}
interface CtVectors {
  treeSize: number;
  root: string;
  leafIndex: number;
  leafInput: string;
  inclusionProof: string[];
  oldSize: number;
  oldRoot: string;
  consistencyProof: string[];
}

function loadJson<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
}
const RFC = loadJson<Rfc6962Vectors>('merkle-rfc6962.json');
const CT = loadJson<CtVectors>('merkle-ct-argon2020.json');

const ZERO32 = new Uint8Array(32);
const pow2 = (k: number) => 2 ** k;

function sameHashes(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (!equalBytes(a[k], b[k])) return false;
  return true;
}

function flipBit(h: Uint8Array, bit: number): Uint8Array {
  const c = h.slice();
  c[bit >> 3] ^= 1 << (bit & 7);
  return c;
}

/** outcome runs f and returns 'ok' or the LedgerError code it threw (anything else fails the test). */
function outcome(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof LedgerError) return e.code;
    throw e;
  }
}

/** An in-memory store filled by TreeEdge.append, the way the sequencer fills a real one. */
class MemStore {
  readonly hashes: Uint8Array[] = [];
  readonly roots: Uint8Array[] = [EMPTY_ROOT];
  readonly leaves: Uint8Array[] = [];
  readonly edge = new TreeEdge(0, []);
  calls = 0;

  append(entry: Uint8Array): void {
    if (storedHashCount(this.edge.size) !== this.hashes.length) throw new Error('store out of step');
    const lh = leafHash(entry);
    this.leaves.push(lh);
    const created = this.edge.append(lh);
    if (created.length !== storedHashCount(this.edge.size) - storedHashCount(this.edge.size - 1)) throw new Error('bad count');
    this.hashes.push(...created);
    this.roots.push(this.edge.root());
  }

  /** reader serves only the hashes of the tree of `size` (NOT_FOUND beyond), counting calls. */
  reader(size: number = this.edge.size): HashReader {
    const limit = storedHashCount(size);
    return async (indices) => {
      this.calls++;
      return indices.map((x) => {
        if (!(Number.isSafeInteger(x) && x >= 0 && x < limit)) throw new LedgerError('NOT_FOUND', `no stored hash ${x}`);
        return this.hashes[x];
      });
    };
  }
}

function entryOf(i: number): Uint8Array {
  return utf8(`entry ${i}`);
}

// ---- Probe generation: valid proofs altered systematically ---------------------------

interface InclusionCase {
  desc: string;
  leaf: Uint8Array;
  index: number;
  size: number;
  proof: Uint8Array[];
  root: Uint8Array;
}
interface ConsistencyCase {
  desc: string;
  size1: number;
  size2: number;
  proof: Uint8Array[];
  root1: Uint8Array;
  root2: Uint8Array;
}
/** What the probes may ask of the reference: the tree's roots and proofs up to maxSize. */
interface Oracle {
  ref: RefTree;
  maxSize: number;
}

function rootOf(o: Oracle, n: number): Uint8Array | undefined {
  return n >= 0 && n <= o.maxSize ? o.ref.root(n) : undefined;
}

function withLengths(h: Uint8Array): [string, Uint8Array][] {
  const longer = new Uint8Array(33);
  longer.set(h);
  return [
    ['31 bytes', h.subarray(0, 31)],
    ['33 bytes', longer],
    ['0 bytes', new Uint8Array(0)],
  ];
}

/** bitsToFlip: every bit of a hash, or a few spread-out bits. */
function bitsToFlip(all: boolean, salt: number): number[] {
  if (all) return Array.from({ length: 256 }, (_, b) => b);
  return [(salt * 37 + 5) % 256, (salt * 101 + 200) % 256];
}

function inclusionProbes(c: InclusionCase, o: Oracle, allBits: boolean): InclusionCase[] {
  const out: InclusionCase[] = [];
  const add = (desc: string, p: Partial<InclusionCase>) => out.push({ ...c, ...p, desc });
  const { proof, index: i, size: n, root, leaf } = c;
  proof.forEach((h, k) => {
    for (const b of bitsToFlip(allBits, k)) add(`proof[${k}] bit ${b}`, { proof: proof.map((x, j) => (j === k ? flipBit(h, b) : x)) });
    for (const [d, bad] of withLengths(h)) add(`proof[${k}] ${d}`, { proof: proof.map((x, j) => (j === k ? bad : x)) });
  });
  for (const i2 of [i - 1, i + 1, i ^ 2, 0, n - 1, n, n + 1, n * 2]) {
    if (i2 >= 0 && i2 !== i) add(`index ${i2}`, { index: i2 });
  }
  for (const n2 of [n - 1, n + 1, 2 * n, Math.floor(n / 2), 0, i, i + 1, i + 2]) {
    if (n2 >= 0 && n2 !== n) add(`size ${n2} (its root)`, { size: n2, root: rootOf(o, n2) ?? root });
  }
  for (const b of bitsToFlip(allBits, 99)) add(`root bit ${b}`, { root: flipBit(root, b) });
  add('empty root', { root: EMPTY_ROOT });
  add('zero root', { root: ZERO32 });
  for (const n2 of [n - 1, n + 1]) {
    const r = rootOf(o, n2);
    if (r) add(`root of size ${n2}`, { root: r });
  }
  for (const b of bitsToFlip(allBits, 7)) add(`leaf bit ${b}`, { leaf: flipBit(leaf, b) });
  if (i + 1 < o.maxSize) add('leaf of the next index', { leaf: o.ref.leaf(i + 1) });
  for (const [d, bad] of withLengths(leaf)) add(`leaf ${d}`, { leaf: bad });
  for (const [d, bad] of withLengths(root)) add(`root ${d}`, { root: bad });
  add('trailing zero hash', { proof: [...proof, ZERO32] });
  add('trailing root', { proof: [...proof, root] });
  add('trailing leaf', { proof: [...proof, leaf] });
  add('preceding zero hash', { proof: [ZERO32, ...proof] });
  add('preceding root', { proof: [root, ...proof] });
  add('preceding leaf', { proof: [leaf, ...proof] });
  if (proof.length > 0) {
    add('trailing duplicate', { proof: [...proof, proof[proof.length - 1]] });
    add('missing last', { proof: proof.slice(0, -1) });
    add('missing first', { proof: proof.slice(1) });
  }
  if (proof.length > 1) {
    add('inserted component', { proof: [proof[0], ZERO32, ...proof.slice(1)] });
    add('swapped first two', { proof: [proof[1], proof[0], ...proof.slice(2)] });
  }
  return out;
}

/** genuineInclusion says whether a probe is in fact a correct (leaf, index, size, proof, root). */
function genuineInclusion(c: InclusionCase, o: Oracle): boolean {
  if (!(c.index < c.size && c.size <= o.maxSize)) return false;
  if ([c.leaf, c.root, ...c.proof].some((h) => h.length !== HASH_SIZE)) return false;
  return equalBytes(c.leaf, o.ref.leaf(c.index)) && equalBytes(c.root, o.ref.root(c.size)) && sameHashes(c.proof, o.ref.inclusion(c.index, c.size));
}

function consistencyProbes(c: ConsistencyCase, o: Oracle, allBits: boolean): ConsistencyCase[] {
  const out: ConsistencyCase[] = [];
  const add = (desc: string, p: Partial<ConsistencyCase>) => out.push({ ...c, ...p, desc });
  const { proof, size1: m, size2: n, root1, root2 } = c;
  proof.forEach((h, k) => {
    for (const b of bitsToFlip(allBits, k)) add(`proof[${k}] bit ${b}`, { proof: proof.map((x, j) => (j === k ? flipBit(h, b) : x)) });
    for (const [d, bad] of withLengths(h)) add(`proof[${k}] ${d}`, { proof: proof.map((x, j) => (j === k ? bad : x)) });
  });
  for (const m2 of [m - 1, m + 1, m ^ 2, 0, n, n + 1, Math.floor(m / 2), m * 2]) {
    if (m2 >= 0 && m2 !== m) add(`size1 ${m2} (its root)`, { size1: m2, root1: rootOf(o, m2) ?? root1 });
  }
  for (const n2 of [n - 1, n + 1, 2 * n, Math.floor(n / 2), m, m - 1]) {
    if (n2 >= 0 && n2 !== n) add(`size2 ${n2} (its root)`, { size2: n2, root2: rootOf(o, n2) ?? root2 });
  }
  add('swapped roots', { root1: root2, root2: root1 });
  for (const b of bitsToFlip(allBits, 3)) add(`root1 bit ${b}`, { root1: flipBit(root1, b) });
  for (const b of bitsToFlip(allBits, 4)) add(`root2 bit ${b}`, { root2: flipBit(root2, b) });
  add('root1 empty root', { root1: EMPTY_ROOT });
  add('root2 zero', { root2: ZERO32 });
  for (const [d, bad] of withLengths(root1)) add(`root1 ${d}`, { root1: bad });
  for (const [d, bad] of withLengths(root2)) add(`root2 ${d}`, { root2: bad });
  add('trailing zero hash', { proof: [...proof, ZERO32] });
  add('trailing root1', { proof: [...proof, root1] });
  add('trailing root2', { proof: [...proof, root2] });
  add('preceding zero hash', { proof: [ZERO32, ...proof] });
  add('preceding root1', { proof: [root1, ...proof] });
  add('preceding root2', { proof: [root2, ...proof] });
  if (proof.length > 0) {
    add('empty proof', { proof: [] });
    add('preceding proof[0]', { proof: [proof[0], ...proof] });
    add('trailing duplicate', { proof: [...proof, proof[proof.length - 1]] });
    add('missing last', { proof: proof.slice(0, -1) });
    add('missing first', { proof: proof.slice(1) });
  }
  if (proof.length > 1) add('swapped first two', { proof: [proof[1], proof[0], ...proof.slice(2)] });
  return out;
}

function genuineConsistency(c: ConsistencyCase, o: Oracle): boolean {
  const { size1: m, size2: n } = c;
  if (!(0 <= m && m <= n && n <= o.maxSize)) return false;
  if ([c.root1, c.root2, ...c.proof].some((h) => h.length !== HASH_SIZE)) return false;
  // Every tree extends the empty tree: with size1 = 0 nothing about root2 can be checked.
  if (m === 0 && m < n) return c.proof.length === 0 && equalBytes(c.root1, EMPTY_ROOT);
  const want = m === n ? [] : o.ref.consistency(m, n);
  return equalBytes(c.root1, o.ref.root(m)) && equalBytes(c.root2, o.ref.root(n)) && sameHashes(c.proof, want);
}

/** checkInclusionProbes verifies every probe and returns the descriptions that came out wrong. */
function checkInclusionProbes(c: InclusionCase, o: Oracle, allBits: boolean): string[] {
  const wrong: string[] = [];
  for (const p of inclusionProbes(c, o, allBits)) {
    const want = genuineInclusion(p, o) ? 'ok' : 'INVALID_PROOF';
    const got = outcome(() => verifyInclusion(p.leaf, p.index, p.size, p.proof, p.root));
    if (got !== want) wrong.push(`incl(${c.index},${c.size}) ${p.desc}: got ${got}, want ${want}`);
  }
  return wrong;
}

function checkConsistencyProbes(c: ConsistencyCase, o: Oracle, allBits: boolean): string[] {
  const wrong: string[] = [];
  for (const p of consistencyProbes(c, o, allBits)) {
    const want = genuineConsistency(p, o) ? 'ok' : 'INVALID_PROOF';
    const got = outcome(() => verifyConsistency(p.size1, p.size2, p.proof, p.root1, p.root2));
    if (got !== want) wrong.push(`cons(${c.size1},${c.size2}) ${p.desc}: got ${got}, want ${want}`);
  }
  return wrong;
}

// Go's golang.org/x/mod/sumdb/tlog definitions, transcribed literally in BigInt from their
// documentation, as the oracle for the closed forms in merkle.ts.
function goStoredHashIndex(level: number, n: bigint): bigint {
  // "Level L's n'th hash is written right after level L+1's 2n+1'th hash."
  for (let l = level; l > 0; l--) n = 2n * n + 1n;
  // "Level 0's n'th hash is written at n+n/2+n/4+..."
  let i = 0n;
  for (; n > 0n; n >>= 1n) i += n;
  return i + BigInt(level);
}
function goTrailingZeros(x: bigint): bigint {
  let t = 0n;
  while ((x & 1n) === 0n) {
    x >>= 1n;
    t++;
  }
  return t;
}
function goSplitStoredHashIndex(index: bigint): [number, bigint] {
  let n = index / 2n;
  let indexN = goStoredHashIndex(0, n);
  for (;;) {
    // "Each new record n adds 1 + trailingZeros(n) hashes" (of n+1).
    const x = indexN + 1n + goTrailingZeros(n + 1n);
    if (x > index) break;
    n++;
    indexN = x;
  }
  const level = Number(index - indexN);
  return [level, n >> BigInt(level)];
}
function goStoredHashCount(n: bigint): bigint {
  if (n === 0n) return 0n;
  let num = goStoredHashIndex(0, n - 1n) + 1n;
  for (let i = n - 1n; (i & 1n) !== 0n; i >>= 1n) num++;
  return num;
}

// ---------------------------------------------------------------------------------------

describe('hashing (RFC 9162 §2.1.1)', () => {
  it('has the RFC 6962 empty-tree root and 32-byte hashes', () => {
    expect(HASH_SIZE).toBe(32);
    expect(toHex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(toHex(EMPTY_ROOT)).toBe(RFC.roots[0]);
  });

  it('leafHash is SHA-256(0x00 || entry) for every length, across scratch-buffer growth', () => {
    for (const len of [0, 1, 31, 32, 33, 1023, 1024, 1025, 4096, 65_535, 65_536, 70_000]) {
      const e = new Uint8Array(len).map((_, k) => (k * 31 + len) & 255);
      expect(toHex(leafHash(e)), `length ${len}`).toBe(toHex(refLeafHash(e)));
    }
    expect(toHex(leafHash(new Uint8Array(0)))).toBe(RFC.roots[1]);
  });

  it('returns fresh arrays although it reuses scratch buffers', () => {
    const a = leafHash(utf8('a'));
    const aHex = toHex(a);
    const b = leafHash(utf8('b'));
    const n1 = nodeHash(a, b);
    const n1Hex = toHex(n1);
    nodeHash(b, a);
    expect(toHex(a)).toBe(aHex);
    expect(toHex(n1)).toBe(n1Hex);
    expect(toHex(n1)).toBe(toHex(refNodeHash(a, b)));
  });

  it('nodeHash is SHA-256(0x01 || l || r) and refuses hashes that are not 32 bytes', () => {
    const l = fromHex(RFC.roots[1]);
    const r = fromHex(RFC.roots[2]);
    expect(toHex(nodeHash(l, r))).toBe(toHex(refNodeHash(l, r)));
    expect(() => nodeHash(l.subarray(0, 31), r)).toThrow(RangeError);
    expect(() => nodeHash(l, new Uint8Array(33))).toThrow(RangeError);
  });
});

describe('stored-hash numbering (Go tlog)', () => {
  // Derived by hand from the definition: appending leaf n writes its hash, then the
  // hashes of the subtrees it completes, lowest first.
  const TABLE: [number, number, number][] = [
    [0, 0, 0], [1, 0, 1], [2, 1, 0], [3, 0, 2], [4, 0, 3], [5, 1, 1], [6, 2, 0], [7, 0, 4],
    [8, 0, 5], [9, 1, 2], [10, 0, 6], [11, 0, 7], [12, 1, 3], [13, 2, 1], [14, 3, 0], [15, 0, 8],
    [16, 0, 9], [17, 1, 4], [18, 0, 10], [19, 0, 11], [20, 1, 5], [21, 2, 2], [22, 0, 12],
  ];
  const COUNTS: [number, number][] = [
    [0, 0], [1, 1], [2, 3], [3, 4], [4, 7], [5, 8], [6, 10], [7, 11], [8, 15], [9, 16], [16, 31],
    [2 ** 32, 2 ** 33 - 1], [2 ** 32 + 1, 2 ** 33], [2 ** 52, 2 ** 53 - 1],
  ];

  it('matches the table of known values', () => {
    for (const [index, level, n] of TABLE) {
      expect(storedHashIndex(level, n), `(${level}, ${n})`).toBe(index);
      expect(splitStoredHashIndex(index), `${index}`).toEqual([level, n]);
    }
    for (const [size, count] of COUNTS) expect(storedHashCount(size), `count(${size})`).toBe(count);
    expect(storedHashIndex(0, 2 ** 32)).toBe(2 ** 33 - 1);
    expect(storedHashIndex(32, 0)).toBe(2 ** 33 - 2);
    expect(storedHashIndex(52, 0)).toBe(2 ** 53 - 2);
    expect(splitStoredHashIndex(2 ** 53 - 2)).toEqual([52, 0]);
  });

  it("agrees with Go's definitions (BigInt transcription) and the functions are mutual inverses", () => {
    for (let level = 0; level < 12; level++) {
      for (let n = 0; n < 300; n++) {
        const x = storedHashIndex(level, n);
        expect(BigInt(x)).toBe(goStoredHashIndex(level, BigInt(n)));
        expect(splitStoredHashIndex(x)).toEqual([level, n]);
      }
    }
    for (let x = 0; x < 5000; x++) {
      const [level, n] = splitStoredHashIndex(x);
      expect(storedHashIndex(level, n)).toBe(x);
    }
    for (let size = 0; size < 2000; size++) expect(BigInt(storedHashCount(size))).toBe(goStoredHashCount(BigInt(size)));
  });

  it('agrees with Go beyond 2^32 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 52 }), fc.double({ min: 0, max: 1, noNaN: true }), (level, frac) => {
        const maxN = 2 ** (52 - level) - 1; // keeps the index a safe integer
        const n = Math.floor(frac * maxN);
        const x = storedHashIndex(level, n);
        expect(BigInt(x)).toBe(goStoredHashIndex(level, BigInt(n)));
        expect(splitStoredHashIndex(x)).toEqual([level, n]);
        const [l2, n2] = goSplitStoredHashIndex(BigInt(x));
        expect([l2, Number(n2)]).toEqual([level, n]);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 52 }), (size) => {
        expect(BigInt(storedHashCount(size))).toBe(goStoredHashCount(BigInt(size)));
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 53 - 2 }), (index) => {
        const [level, n] = splitStoredHashIndex(index);
        const [gl, gn] = goSplitStoredHashIndex(BigInt(index));
        expect([level, n]).toEqual([gl, Number(gn)]);
        expect(storedHashIndex(level, n)).toBe(index);
      }),
      { numRuns: 1000 },
    );
  });

  it('throws RangeError for numbers out of domain', () => {
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
      expect(() => storedHashIndex(0, bad)).toThrow(RangeError);
      expect(() => storedHashIndex(bad, 0)).toThrow(RangeError);
      expect(() => splitStoredHashIndex(bad)).toThrow(RangeError);
      expect(() => storedHashCount(bad)).toThrow(RangeError);
    }
    expect(() => storedHashIndex(53, 0)).toThrow(RangeError);
    // Trees have at most 2^52 leaves (2^53 − 1 stored hashes, indices up to 2^53 − 2).
    expect(() => storedHashIndex(0, 2 ** 52)).toThrow(RangeError);
    expect(() => splitStoredHashIndex(2 ** 53 - 1)).toThrow(RangeError);
    expect(() => storedHashCount(2 ** 52 + 1)).toThrow(RangeError);
  });
});

describe('TreeEdge', () => {
  const store = new MemStore();
  const ref = new RefTree(Array.from({ length: 301 }, (_, i) => entryOf(i)));
  beforeAll(() => {
    for (let i = 0; i < 300; i++) store.append(entryOf(i));
  });

  it('names the edge subtrees left to right', () => {
    expect(TreeEdge.indices(0)).toEqual([]);
    expect(TreeEdge.indices(1)).toEqual([0]);
    expect(TreeEdge.indices(3)).toEqual([2, 3]);
    expect(TreeEdge.indices(7)).toEqual([6, 9, 10]);
    expect(TreeEdge.indices(8)).toEqual([14]);
    expect(TreeEdge.indices(2 ** 32 + 1)).toEqual([storedHashIndex(32, 0), storedHashIndex(0, 2 ** 32)]);
    expect(new TreeEdge(0, []).root()).toBe(EMPTY_ROOT);
  });

  it('append writes exactly the stored hashes, in stored-index order', () => {
    // Every stored hash x is the hash of the subtree splitStoredHashIndex(x) names.
    expect(store.hashes.length).toBe(storedHashCount(300));
    store.hashes.forEach((h, x) => {
      const [level, n] = splitStoredHashIndex(x);
      expect(toHex(h), `stored hash ${x}`).toBe(toHex(ref.mth(n * 2 ** level, (n + 1) * 2 ** level)));
    });
  });

  it('built from stored hashes equals appending from scratch, and its root equals the reference', async () => {
    for (let size = 0; size <= 300; size++) {
      expect(toHex(store.roots[size]), `root ${size}`).toBe(toHex(ref.root(size)));
      const hashes = await store.reader(size)(TreeEdge.indices(size));
      const edge = new TreeEdge(size, hashes);
      expect(edge.size).toBe(size);
      expect(toHex(edge.root())).toBe(toHex(ref.root(size)));
      // Both continue identically.
      const next = edge.append(refLeafHash(entryOf(size)));
      const want = store.hashes.slice(storedHashCount(size), storedHashCount(size + 1));
      if (size < 300) expect(sameHashes(next, want), `append after ${size}`).toBe(true);
      expect(toHex(edge.root())).toBe(toHex(ref.root(size + 1)));
    }
  });

  it('clone is independent', () => {
    const a = new TreeEdge(0, []);
    for (let i = 0; i < 5; i++) a.append(refLeafHash(entryOf(i)));
    const b = a.clone();
    b.append(refLeafHash(entryOf(5)));
    expect(a.size).toBe(5);
    expect(b.size).toBe(6);
    expect(toHex(a.root())).toBe(toHex(ref.root(5)));
    expect(toHex(b.root())).toBe(toHex(ref.root(6)));
  });

  it('readerWith proves every appended leaf, in every grown size, without the store (reference paths)', async () => {
    for (let old = 0; old <= 48; old++) {
      const edge = new TreeEdge(old, await store.reader(old)(TreeEdge.indices(old)));
      for (const len of [1, 2, 3, 5, 8, 13, 64]) {
        if (old + len > 300) continue;
        const grown = edge.clone();
        const added: Uint8Array[] = [];
        for (let i = old; i < old + len; i++) added.push(...grown.append(refLeafHash(entryOf(i))));
        const read = edge.readerWith(added);
        for (let size = old + 1; size <= old + len; size++) {
          for (let i = old; i < size; i++) {
            const proof = await proveInclusion(i, size, read);
            expect(sameHashes(proof, ref.path(i, 0, size)), `leaf ${i} of ${size} after ${old}`).toBe(true);
          }
        }
        // An old leaf's proof may need hashes off the old edge: refused, not made up.
        if (old >= 3) await expect(proveInclusion(0, old + len, read)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      }
    }
  });

  it('refuses edges of the wrong shape', () => {
    expect(() => new TreeEdge(3, [ZERO32])).toThrow(RangeError);
    expect(() => new TreeEdge(1, [new Uint8Array(31)])).toThrow(RangeError);
    expect(() => new TreeEdge(-1, [])).toThrow(RangeError);
    expect(() => new TreeEdge(0, []).append(new Uint8Array(33))).toThrow(RangeError);
  });
});

describe('published vectors: the RFC 6962 8-leaf tree (transparency-dev/merkle)', () => {
  const leaves = RFC.leaves.map((h) => fromHex(h));
  const ref = new RefTree(leaves);
  const oracle: Oracle = { ref, maxSize: 8 };
  const store = new MemStore();
  beforeAll(() => {
    for (const e of leaves) store.append(e);
  });

  it('has the published roots for sizes 0..8', async () => {
    for (let n = 0; n <= 8; n++) {
      expect(toHex(store.roots[n]), `edge root ${n}`).toBe(RFC.roots[n]);
      expect(toHex(await treeHash(n, store.reader(n))), `treeHash ${n}`).toBe(RFC.roots[n]);
      expect(toHex(ref.root(n)), `reference root ${n}`).toBe(RFC.roots[n]);
    }
  });

  it('produces and verifies the published inclusion proofs; every alteration is rejected', async () => {
    expect(RFC.inclusion.length).toBe(5);
    const wrong: string[] = [];
    for (const v of RFC.inclusion) {
      const leaf = fromHex(v.leafHash);
      expect(toHex(leafHash(leaves[v.leafIndex]))).toBe(v.leafHash);
      const proof = await proveInclusion(v.leafIndex, v.treeSize, store.reader(v.treeSize));
      expect(proof.map(toHex)).toEqual(v.proof);
      const root = fromHex(v.root);
      expect(toHex(rootFromInclusionProof(leaf, v.leafIndex, v.treeSize, proof))).toBe(v.root);
      verifyInclusion(leaf, v.leafIndex, v.treeSize, proof, root);
      wrong.push(...checkInclusionProbes({ desc: 'published', leaf, index: v.leafIndex, size: v.treeSize, proof, root }, oracle, true));
    }
    expect(wrong).toEqual([]);
  });

  it('produces and verifies the published consistency proofs; every alteration is rejected', async () => {
    expect(RFC.consistency.length).toBe(5);
    const wrong: string[] = [];
    for (const v of RFC.consistency) {
      const proof = await proveConsistency(v.size1, v.size2, store.reader(v.size2));
      expect(proof.map(toHex)).toEqual(v.proof);
      const root1 = fromHex(v.root1);
      const root2 = fromHex(v.root2);
      verifyConsistency(v.size1, v.size2, proof, root1, root2);
      wrong.push(...checkConsistencyProbes({ desc: 'published', size1: v.size1, size2: v.size2, proof, root1, root2 }, oracle, true));
    }
    expect(wrong).toEqual([]);
  });

  it("rejects transparency-dev's edge probes for inclusion", () => {
    const some = fromHex('abacaba000000000000000000000000000000000000000000060061e00123456');
    for (const [index, size] of [[0, 0], [0, 1], [1, 0], [2, 1]]) {
      expect(outcome(() => verifyInclusion(some, index, size, [], new Uint8Array(0)))).toBe('INVALID_PROOF');
      expect(outcome(() => verifyInclusion(new Uint8Array(0), index, size, [], EMPTY_ROOT))).toBe('INVALID_PROOF');
      expect(outcome(() => verifyInclusion(some, index, size, [], EMPTY_ROOT))).toBe('INVALID_PROOF');
    }
    // A one-leaf tree: its root is its leaf hash and the proof is empty.
    const h = leafHash(utf8('data'));
    expect(outcome(() => verifyInclusion(h, 0, 1, [], h))).toBe('ok');
    expect(outcome(() => verifyInclusion(h, 0, 1, [], new Uint8Array(0)))).toBe('INVALID_PROOF');
    expect(outcome(() => verifyInclusion(new Uint8Array(0), 0, 1, [], h))).toBe('INVALID_PROOF');
    expect(outcome(() => verifyInclusion(new Uint8Array(0), 0, 1, [], new Uint8Array(0)))).toBe('INVALID_PROOF');
    // A tree of size 0 includes nothing.
    expect(outcome(() => rootFromInclusionProof(h, 0, 0, []))).toBe('INVALID_PROOF');
  });

  it('follows transparency-dev for the edge sizes of consistency (size1 = 0, size1 = size2, size1 > size2)', () => {
    const r1 = fromHex(RFC.roots[1]);
    const r2 = fromHex(RFC.roots[2]);
    const cases: [number, number, Uint8Array, Uint8Array, Uint8Array[], string][] = [
      [0, 0, EMPTY_ROOT, EMPTY_ROOT, [], 'ok'],
      [0, 0, EMPTY_ROOT, r1, [], 'INVALID_PROOF'], // equal sizes need equal roots
      [0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], 'INVALID_PROOF'], // ... and an empty proof
      [1, 1, r1, r1, [], 'ok'],
      [1, 1, r1, r2, [], 'INVALID_PROOF'],
      [1, 1, r1, r1, [EMPTY_ROOT], 'INVALID_PROOF'],
      [0, 1, EMPTY_ROOT, r1, [], 'ok'], // every tree extends the empty tree
      [0, 8, EMPTY_ROOT, ZERO32, [], 'ok'], // ... whatever its root
      [0, 1, EMPTY_ROOT, r1, [EMPTY_ROOT], 'INVALID_PROOF'], // but the proof must be empty
      [0, 1, r1, r1, [], 'INVALID_PROOF'], // our strictness: the empty tree's root is SHA-256()
      [1, 0, r1, EMPTY_ROOT, [], 'INVALID_PROOF'], // trees never shrink
      [2, 1, r2, r1, [], 'INVALID_PROOF'],
      [1, 2, r1, r2, [], 'INVALID_PROOF'], // RFC 9162 step 1: empty proof
      [0, 1, new Uint8Array(31), r1, [], 'INVALID_PROOF'],
      [1, 1, new Uint8Array(33), new Uint8Array(33), [], 'INVALID_PROOF'],
    ];
    for (const [m, n, a, b, p, want] of cases) {
      expect(outcome(() => verifyConsistency(m, n, p, a, b)), `${m} -> ${n}`).toBe(want);
    }
  });
});

describe("real CT data (Google Argon 2020, from Go tlog's testdata)", () => {
  const leaf = leafHash(fromBase64(CT.leafInput));
  const root = fromHex(CT.root);
  const oldRoot = fromHex(CT.oldRoot);
  const incl = CT.inclusionProof.map((h) => fromHex(h));
  const cons = CT.consistencyProof.map((h) => fromHex(h));

  it('verifies the inclusion and consistency proofs of a 961,984,013-entry log', () => {
    expect(toHex(rootFromInclusionProof(leaf, CT.leafIndex, CT.treeSize, incl))).toBe(CT.root);
    verifyInclusion(leaf, CT.leafIndex, CT.treeSize, incl, root);
    verifyConsistency(CT.oldSize, CT.treeSize, cons, oldRoot, root);
  });

  it('rejects every flipped bit, wrong number and extra or missing hash', () => {
    const wrong: string[] = [];
    const check = (desc: string, f: () => void) => {
      const got = outcome(f);
      if (got !== 'INVALID_PROOF') wrong.push(`${desc}: ${got}`);
    };
    incl.forEach((h, k) => {
      for (let b = 0; b < 256; b++) {
        const p = incl.map((x, j) => (j === k ? flipBit(h, b) : x));
        check(`inclusion proof[${k}] bit ${b}`, () => verifyInclusion(leaf, CT.leafIndex, CT.treeSize, p, root));
      }
    });
    cons.forEach((h, k) => {
      for (let b = 0; b < 256; b++) {
        const p = cons.map((x, j) => (j === k ? flipBit(h, b) : x));
        check(`consistency proof[${k}] bit ${b}`, () => verifyConsistency(CT.oldSize, CT.treeSize, p, oldRoot, root));
      }
    });
    for (const i of [CT.leafIndex - 1, CT.leafIndex + 1, CT.leafIndex ^ 2, CT.treeSize, 0]) {
      check(`index ${i}`, () => verifyInclusion(leaf, i, CT.treeSize, incl, root));
    }
    // (Sizes n ± 1 are left out on purpose: leaf 10000's path in them has the same shape, so
    // the same proof and root pass. A proof binds the size only through the root, which is
    // why a verifier takes both from one signed checkpoint; see the sweep below, which pairs
    // every altered size with that size's own root.)
    for (const n of [CT.treeSize * 2, Math.floor(CT.treeSize / 2), 2 ** 32 + CT.treeSize, CT.leafIndex + 1]) {
      check(`size ${n}`, () => verifyInclusion(leaf, CT.leafIndex, n, incl, root));
      check(`size2 ${n}`, () => verifyConsistency(CT.oldSize, n, cons, oldRoot, root));
    }
    for (const m of [CT.oldSize - 1, CT.oldSize + 1, CT.oldSize * 2, 0, CT.treeSize]) {
      check(`size1 ${m}`, () => verifyConsistency(m, CT.treeSize, cons, oldRoot, root));
    }
    check('inclusion: trailing hash', () => verifyInclusion(leaf, CT.leafIndex, CT.treeSize, [...incl, ZERO32], root));
    check('inclusion: missing hash', () => verifyInclusion(leaf, CT.leafIndex, CT.treeSize, incl.slice(0, -1), root));
    check('consistency: trailing hash', () => verifyConsistency(CT.oldSize, CT.treeSize, [...cons, ZERO32], oldRoot, root));
    check('consistency: missing hash', () => verifyConsistency(CT.oldSize, CT.treeSize, cons.slice(0, -1), oldRoot, root));
    check('consistency: swapped roots', () => verifyConsistency(CT.oldSize, CT.treeSize, cons, root, oldRoot));
    expect(wrong).toEqual([]);
  });
});

describe('cross-check with the RFC 9162 reference, every size 1..300', () => {
  const N = 300;
  const store = new MemStore();
  // The reference holds 2N + 2 entries so that probes may ask about larger sizes too.
  const ref = new RefTree(Array.from({ length: 2 * N + 2 }, (_, i) => entryOf(i)));
  const oracle: Oracle = { ref, maxSize: 2 * N + 1 };
  beforeAll(() => {
    for (let i = 0; i < N; i++) store.append(entryOf(i));
  });

  it('roots, every inclusion proof and every consistency proof equal the reference and verify, one read each', async () => {
    const wrong: string[] = [];
    for (let n = 1; n <= N; n++) {
      const read = store.reader(n);
      const root = ref.root(n);
      let calls = store.calls;
      if (!equalBytes(await treeHash(n, read), root)) wrong.push(`treeHash(${n})`);
      if (store.calls !== calls + 1) wrong.push(`treeHash(${n}) read ${store.calls - calls} times`);
      if (!equalBytes(store.roots[n], root)) wrong.push(`edge root ${n}`);
      for (let i = 0; i < n; i++) {
        calls = store.calls;
        const p = await proveInclusion(i, n, read);
        if (store.calls !== calls + (n > 1 ? 1 : 0)) wrong.push(`proveInclusion(${i}, ${n}) read ${store.calls - calls} times`);
        if (!sameHashes(p, ref.inclusion(i, n))) wrong.push(`proveInclusion(${i}, ${n}) differs`);
        if (outcome(() => verifyInclusion(ref.leaf(i), i, n, p, root)) !== 'ok') wrong.push(`verifyInclusion(${i}, ${n})`);
      }
      for (let m = 0; m <= n; m++) {
        calls = store.calls;
        const p = await proveConsistency(m, n, read);
        const trivial = m === 0 || m === n;
        if (store.calls !== calls + (trivial ? 0 : 1)) wrong.push(`proveConsistency(${m}, ${n}) read ${store.calls - calls} times`);
        if (!sameHashes(p, trivial ? [] : ref.consistency(m, n))) wrong.push(`proveConsistency(${m}, ${n}) differs`);
        if (outcome(() => verifyConsistency(m, n, p, ref.root(m), root)) !== 'ok') wrong.push(`verifyConsistency(${m}, ${n})`);
      }
      if (wrong.length > 20) break;
    }
    expect(wrong).toEqual([]);
  });

  it('rejects systematically altered proofs (all pairs up to size 32, a sample beyond)', async () => {
    const wrong: string[] = [];
    for (let n = 1; n <= N; n++) {
      const read = store.reader(n);
      for (let i = 0; i < n; i++) {
        if (n > 32 && (i * 7 + n) % 97 !== 0) continue;
        const proof = await proveInclusion(i, n, read);
        wrong.push(...checkInclusionProbes({ desc: '', leaf: ref.leaf(i), index: i, size: n, proof, root: ref.root(n) }, oracle, false));
      }
      for (let m = 0; m <= n; m++) {
        if (n > 32 && (m * 7 + n) % 97 !== 0) continue;
        const proof = await proveConsistency(m, n, read);
        wrong.push(...checkConsistencyProbes({ desc: '', size1: m, size2: n, proof, root1: ref.root(m), root2: ref.root(n) }, oracle, false));
      }
      if (wrong.length > 20) break;
    }
    expect(wrong.slice(0, 20)).toEqual([]);
  });

  it('flips every bit of every proof hash for a few proofs', async () => {
    const wrong: string[] = [];
    for (const [i, n] of [[0, 300], [299, 300], [170, 257], [5, 6]]) {
      const proof = await proveInclusion(i, n, store.reader(n));
      wrong.push(...checkInclusionProbes({ desc: '', leaf: ref.leaf(i), index: i, size: n, proof, root: ref.root(n) }, oracle, true));
    }
    for (const [m, n] of [[1, 300], [255, 256], [100, 299], [129, 130]]) {
      const proof = await proveConsistency(m, n, store.reader(n));
      wrong.push(...checkConsistencyProbes({ desc: '', size1: m, size2: n, proof, root1: ref.root(m), root2: ref.root(n) }, oracle, true));
    }
    expect(wrong).toEqual([]);
  });

  it('reads only hashes of the tree being proved, and passes on storage errors', async () => {
    await expect(proveInclusion(3, 10, store.reader(9))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(treeHash(11, store.reader(10))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(proveConsistency(3, 12, store.reader(11))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const short: HashReader = async (indices) => indices.slice(1).map(() => ZERO32);
    await expect(treeHash(3, short)).rejects.toThrow(TypeError);
    const long: HashReader = async () => [new Uint8Array(31)];
    await expect(proveInclusion(0, 2, long)).rejects.toThrow(TypeError);
  });

  it('treats bad arguments to provers and verifiers as caller bugs (RangeError)', async () => {
    await expect(proveInclusion(5, 5, store.reader())).rejects.toThrow(RangeError);
    await expect(proveInclusion(-1, 5, store.reader())).rejects.toThrow(RangeError);
    await expect(proveInclusion(0.5, 5, store.reader())).rejects.toThrow(RangeError);
    await expect(proveConsistency(6, 5, store.reader())).rejects.toThrow(RangeError);
    await expect(treeHash(-1, store.reader())).rejects.toThrow(RangeError);
    expect(() => verifyInclusion(ZERO32, -1, 5, [], ZERO32)).toThrow(RangeError);
    expect(() => verifyInclusion(ZERO32, 0, 2 ** 53, [], ZERO32)).toThrow(RangeError);
    expect(() => verifyConsistency(1, NaN, [], ZERO32, ZERO32)).toThrow(RangeError);
    expect(() => verifyConsistency(1, 2, [ZERO32 as unknown as Uint8Array, 'x' as unknown as Uint8Array], ZERO32, ZERO32)).toThrow(TypeError);
  });
});

describe('property tests at random sizes up to 100,000', () => {
  const N = 100_000;
  const store = new MemStore();
  const ref = new RefTree(Array.from({ length: N }, (_, i) => entryOf(i)));
  beforeAll(() => {
    for (let i = 0; i < N; i++) store.append(entryOf(i));
  });

  const sizeAndIndex = fc.integer({ min: 1, max: N }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 })));
  const twoSizes = fc.integer({ min: 0, max: N }).chain((n) => fc.tuple(fc.integer({ min: 0, max: n }), fc.constant(n)));

  it('tree hashes equal the reference', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: N }), async (n) => {
        expect(toHex(await treeHash(n, store.reader(n)))).toBe(toHex(ref.root(n)));
        expect(toHex(store.roots[n])).toBe(toHex(ref.root(n)));
      }),
      { numRuns: 100 },
    );
  });

  it('inclusion proofs equal the reference, verify, and fail with a flipped bit', async () => {
    await fc.assert(
      fc.asyncProperty(sizeAndIndex, fc.nat(), async ([n, i], salt) => {
        const calls = store.calls;
        const p = await proveInclusion(i, n, store.reader(n));
        expect(store.calls - calls).toBe(n > 1 ? 1 : 0);
        expect(sameHashes(p, ref.inclusion(i, n))).toBe(true);
        const root = ref.root(n);
        verifyInclusion(ref.leaf(i), i, n, p, root);
        if (p.length > 0) {
          const k = salt % p.length;
          const bad = p.map((h, j) => (j === k ? flipBit(h, salt % 256) : h));
          expect(outcome(() => verifyInclusion(ref.leaf(i), i, n, bad, root))).toBe('INVALID_PROOF');
        }
        expect(outcome(() => verifyInclusion(ref.leaf(i), i, n, [...p, ZERO32], root))).toBe('INVALID_PROOF');
      }),
      { numRuns: 300 },
    );
  });

  it('consistency proofs equal the reference, verify, and fail with a flipped bit', async () => {
    await fc.assert(
      fc.asyncProperty(twoSizes, fc.nat(), async ([m, n], salt) => {
        const calls = store.calls;
        const p = await proveConsistency(m, n, store.reader(n));
        const trivial = m === 0 || m === n;
        expect(store.calls - calls).toBe(trivial ? 0 : 1);
        expect(sameHashes(p, trivial ? [] : ref.consistency(m, n))).toBe(true);
        verifyConsistency(m, n, p, ref.root(m), ref.root(n));
        if (p.length > 0) {
          const k = salt % p.length;
          const bad = p.map((h, j) => (j === k ? flipBit(h, salt % 256) : h));
          expect(outcome(() => verifyConsistency(m, n, bad, ref.root(m), ref.root(n)))).toBe('INVALID_PROOF');
          expect(outcome(() => verifyConsistency(m, n, p.slice(0, -1), ref.root(m), ref.root(n)))).toBe('INVALID_PROOF');
        }
        expect(outcome(() => verifyConsistency(m, n, [...p, ZERO32], ref.root(m), ref.root(n)))).toBe('INVALID_PROOF');
      }),
      { numRuns: 300 },
    );
  });
});

describe('trees beyond 2^32 leaves', () => {
  // (1) Symbolic: every stored hash is a distinct label naming its index, so a proof built
  // from a wrong index cannot pass. The reference is the RFC recursion, told the label of
  // each complete subtree (via Go's numbering in BigInt), so the proofs must match exactly.
  function label(x: bigint): Uint8Array {
    const h = new Uint8Array(32).fill(0xa5);
    h.set(u64be(Number(x)), 0);
    return h;
  }
  function completeRange(lo: number, hi: number): [number, number] | undefined {
    const w = hi - lo;
    let level = 0;
    while (2 ** level < w) level++;
    if (2 ** level !== w || lo % w !== 0) return undefined;
    return [level, lo / w];
  }
  const symbolicRef = new RefTree(
    (i) => label(goStoredHashIndex(0, BigInt(i))),
    (lo, hi) => {
      const c = completeRange(lo, hi);
      return c && label(goStoredHashIndex(c[0], BigInt(c[1])));
    },
  );
  const symbolicReader =
    (size: number): HashReader =>
    async (indices) =>
      indices.map((x) => {
        if (!(x >= 0 && x < storedHashCount(size))) throw new LedgerError('NOT_FOUND', `${x}`);
        return label(BigInt(x));
      });

  const SIZES = [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 33 + 2 ** 31 + 12_345, 2 ** 40 + 7, 961_984_013, 2 ** 52 - 1, 2 ** 52];

  it('builds exactly the RFC proofs from the right stored hashes', async () => {
    for (const n of SIZES) {
      expect(toHex(await treeHash(n, symbolicReader(n))), `treeHash(${n})`).toBe(toHex(symbolicRef.root(n)));
      for (const i of [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, n - 2, n - 1]) {
        if (i >= n) continue;
        const p = await proveInclusion(i, n, symbolicReader(n));
        expect(p.map(toHex), `proveInclusion(${i}, ${n})`).toEqual(symbolicRef.inclusion(i, n).map(toHex));
      }
      for (const m of [1, 2, 3, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, n - 1]) {
        if (m >= n) continue;
        const p = await proveConsistency(m, n, symbolicReader(n));
        expect(p.map(toHex), `proveConsistency(${m}, ${n})`).toEqual(symbolicRef.consistency(m, n).map(toHex));
      }
    }
  });

  it('builds exactly the RFC proofs at random huge sizes (property)', async () => {
    const big = fc.integer({ min: 2 ** 32 - 2 ** 20, max: 2 ** 52 });
    await fc.assert(
      fc.asyncProperty(big, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), async (n, f) => {
        const i = Math.floor(f * n);
        expect((await proveInclusion(i, n, symbolicReader(n))).map(toHex)).toEqual(symbolicRef.inclusion(i, n).map(toHex));
        if (i > 0) {
          expect((await proveConsistency(i, n, symbolicReader(n))).map(toHex)).toEqual(symbolicRef.consistency(i, n).map(toHex));
        }
      }),
      { numRuns: 200 },
    );
  });

  // (2) A real (hash-consistent) huge tree: all leaves are the empty entry except a few
  // special ones, so every complete subtree hash is computable in O(level).
  function sparseTree(specials: number[]) {
    const uniform: Uint8Array[] = [refLeafHash(new Uint8Array(0))];
    for (let l = 1; l <= 53; l++) uniform.push(refNodeHash(uniform[l - 1], uniform[l - 1]));
    const special = new Set(specials);
    const sorted = [...specials].sort((a, b) => a - b);
    const memo = new Map<string, Uint8Array>();
    const hasSpecial = (lo: number, hi: number) => sorted.some((s) => s >= lo && s < hi);
    const complete = (level: number, n: number): Uint8Array => {
      const lo = n * 2 ** level;
      if (!hasSpecial(lo, lo + 2 ** level)) return uniform[level];
      if (level === 0) return refLeafHash(u64be(lo));
      const key = `${level}/${n}`;
      let h = memo.get(key);
      if (!h) {
        h = refNodeHash(complete(level - 1, 2 * n), complete(level - 1, 2 * n + 1));
        memo.set(key, h);
      }
      return h;
    };
    const leafAt = (i: number) => (special.has(i) ? refLeafHash(u64be(i)) : uniform[0]);
    const ref = new RefTree(leafAt, (lo, hi) => {
      const c = completeRange(lo, hi);
      return c && complete(c[0], c[1]);
    });
    const reader =
      (size: number): HashReader =>
      async (indices) =>
        indices.map((x) => {
          if (!(x >= 0 && x < storedHashCount(size))) throw new LedgerError('NOT_FOUND', `${x}`);
          const [level, n] = splitStoredHashIndex(x);
          return complete(level, n);
        });
    return { ref, reader, leafAt };
  }

  it('proves and verifies inclusion and consistency in a real tree of ~2^40 leaves', async () => {
    const n = 2 ** 40 + 2 ** 33 + 12_345;
    const m = 2 ** 32 + 3;
    const specials = [0, 5, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 32 + 2, 2 ** 39 + 17, n - 2, n - 1];
    const { ref, reader, leafAt } = sparseTree(specials);
    const root = await treeHash(n, reader(n));
    expect(toHex(root)).toBe(toHex(ref.root(n)));
    const root1 = await treeHash(m, reader(m));
    expect(toHex(root1)).toBe(toHex(ref.root(m)));
    for (const i of specials) {
      const p = await proveInclusion(i, n, reader(n));
      expect(p.map(toHex)).toEqual(ref.inclusion(i, n).map(toHex));
      verifyInclusion(leafAt(i), i, n, p, root);
      expect(outcome(() => verifyInclusion(leafAt(i), i + 1, n, p, root))).toBe('INVALID_PROOF');
      expect(outcome(() => verifyInclusion(leafAt(i), i, n, [...p, ZERO32], root))).toBe('INVALID_PROOF');
      for (let k = 0; k < p.length; k++) {
        const bad = p.map((h, j) => (j === k ? flipBit(h, k) : h));
        expect(outcome(() => verifyInclusion(leafAt(i), i, n, bad, root))).toBe('INVALID_PROOF');
      }
    }
    const c = await proveConsistency(m, n, reader(n));
    expect(c.map(toHex)).toEqual(ref.consistency(m, n).map(toHex));
    verifyConsistency(m, n, c, root1, root);
    expect(outcome(() => verifyConsistency(m + 1, n, c, root1, root))).toBe('INVALID_PROOF');
    expect(outcome(() => verifyConsistency(m, n, c.slice(0, -1), root1, root))).toBe('INVALID_PROOF');
    for (let k = 0; k < c.length; k++) {
      const bad = c.map((h, j) => (j === k ? flipBit(h, 255 - k) : h));
      expect(outcome(() => verifyConsistency(m, n, bad, root1, root))).toBe('INVALID_PROOF');
    }
    // The sequencer's edge, read from the store at this size, agrees too.
    const edge = new TreeEdge(n, await reader(n)(TreeEdge.indices(n)));
    expect(toHex(edge.root())).toBe(toHex(root));
  });
});
