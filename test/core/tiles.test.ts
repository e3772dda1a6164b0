/**
 * Tests of src/core/tiles.ts (spec §6, c2sp.org/tlog-tiles).
 *
 * Vectors: test/vectors/tiles-paths.json (the spec's and Go x/mod's path examples, each
 * with the Go tlog.Tile.Path form, plus malformed paths). Tile contents are checked
 * against the spec's formula MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l]) with the
 * slow reference tree of test/reference/merkle-ref.ts, over the stored hashes that
 * merkle.ts's TreeEdge writes.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  decodeEntryBundle,
  encodeEntryBundle,
  formatTilePath,
  MAX_ENTRY_SIZE,
  MAX_TILE_LEVEL,
  parseTilePath,
  TILE_HEIGHT,
  TILE_WIDTH,
  tileForSize,
  tileHashIndices,
  type TileCoord,
} from '../../src/core/tiles.js';
import { leafHash, storedHashCount, TreeEdge } from '../../src/core/merkle.js';
import { fromHex, toHex, u64be } from '../../src/core/bytes.js';
import { isLedgerError, type LedgerErrorCode } from '../../src/core/errors.js';
import { RefTree } from '../reference/merkle-ref.js';

type PathVectors = {
  valid: { path: string; tile: TileCoord; go: string }[];
  invalid: { path: string; why: string }[];
};
const vectors = JSON.parse(readFileSync(new URL('../vectors/tiles-paths.json', import.meta.url), 'utf8')) as PathVectors;

function code(f: () => unknown): LedgerErrorCode | 'ok' | string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return isLedgerError(e) ? e.code : (e as Error).name;
  }
}

/** goTilePath is the golang.org/x/mod/sumdb/tlog Tile.Path of the same tile (H = 8). */
function goTilePath(t: TileCoord): string {
  const c2sp = formatTilePath(t);
  return t.kind === 'entries' ? c2sp.replace(/^tile\/entries\//, 'tile/8/data/') : c2sp.replace(/^tile\//, 'tile/8/');
}

/** Go's StoredHashIndex, written from its definition (x/mod sumdb/tlog), for cross-checks. */
function refStoredHashIndex(level: number, n: number): number {
  let m = BigInt(n);
  for (let l = level; l > 0; l--) m = 2n * m + 1n;
  let i = 0n;
  for (; m > 0n; m >>= 1n) i += m;
  return Number(i + BigInt(level));
}

const arbTile: fc.Arbitrary<TileCoord> = fc.oneof(
  fc.integer({ min: 0, max: 6 }).chain((level) =>
    fc.record({
      kind: fc.constant('hash' as const),
      level: fc.constant(level),
      // Up to the largest index a tree of 2^53 - 1 leaves has at this level.
      index: fc.oneof(
        fc.integer({ min: 0, max: Math.min(2000, Math.floor(Number.MAX_SAFE_INTEGER / 256 ** (level + 1))) }),
        fc.integer({ min: 0, max: Math.floor(Number.MAX_SAFE_INTEGER / 256 ** (level + 1)) }),
      ),
      width: fc.integer({ min: 1, max: 256 }),
    }),
  ),
  fc.record({
    kind: fc.constant('entries' as const),
    index: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: Math.floor(Number.MAX_SAFE_INTEGER / 256) })),
    width: fc.integer({ min: 1, max: 256 }),
  }),
);

describe('constants', () => {
  it('match c2sp.org/tlog-tiles', () => {
    expect(TILE_HEIGHT).toBe(8);
    expect(TILE_WIDTH).toBe(2 ** TILE_HEIGHT);
    expect(MAX_ENTRY_SIZE).toBe(65535);
    expect(MAX_TILE_LEVEL).toBe(63);
  });
});

describe('tile paths', () => {
  it.each(vectors.valid)('$path', ({ path, tile, go }) => {
    expect(parseTilePath(path)).toEqual(tile);
    expect(formatTilePath(tile)).toBe(path);
    expect(goTilePath(tile)).toBe(go);
  });

  it.each(vectors.invalid)('refuses $path ($why)', ({ path }) => {
    expect(code(() => parseTilePath(path))).toBe('MALFORMED');
  });

  it('round-trips any tile (property)', () => {
    fc.assert(
      fc.property(arbTile, (t) => {
        const p = formatTilePath(t);
        expect(parseTilePath(p)).toEqual(t);
        expect(p.length).toBeLessThanOrEqual(64);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every one-character edit of a valid path, or reads it as another tile', () => {
    // Single-character substitutions, insertions and deletions: the result is either
    // refused or parses to a tile whose canonical path is exactly the edited string.
    const alphabet = '0123456789x/.p-+ eX';
    fc.assert(
      fc.property(arbTile, fc.nat(), fc.constantFrom(...alphabet), fc.constantFrom('sub', 'ins', 'del'), (t, at, ch, op) => {
        const p = formatTilePath(t);
        const i = at % (p.length + 1);
        const q = op === 'sub' ? p.slice(0, i) + ch + p.slice(i + 1) : op === 'ins' ? p.slice(0, i) + ch + p.slice(i) : p.slice(0, i) + p.slice(i + 1);
        let parsed: TileCoord;
        try {
          parsed = parseTilePath(q);
        } catch (e) {
          expect(isLedgerError(e, 'MALFORMED')).toBe(true);
          return;
        }
        expect(formatTilePath(parsed)).toBe(q);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses random strings with MALFORMED only', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          const t = parseTilePath(s);
          expect(formatTilePath(t)).toBe(s);
        } catch (e) {
          expect(isLedgerError(e, 'MALFORMED')).toBe(true);
        }
      }),
    );
  });

  it('throws RangeError/TypeError for invalid coordinates (a caller bug)', () => {
    const bad: unknown[] = [
      { kind: 'hash', level: -1, index: 0, width: 1 },
      { kind: 'hash', level: 64, index: 0, width: 1 },
      { kind: 'hash', level: 0.5, index: 0, width: 1 },
      { kind: 'hash', level: 0, index: -1, width: 1 },
      { kind: 'hash', level: 0, index: 1.5, width: 1 },
      { kind: 'hash', level: 0, index: 0, width: 0 },
      { kind: 'hash', level: 0, index: 0, width: 257 },
      { kind: 'hash', level: 6, index: 1, width: 256 },
      { kind: 'entries', index: Number.MAX_SAFE_INTEGER, width: 1 },
      { kind: 'data', index: 0, width: 1 },
    ];
    for (const t of bad) {
      expect(['RangeError', 'TypeError']).toContain(code(() => formatTilePath(t as TileCoord)));
    }
    expect(code(() => parseTilePath(7 as unknown as string))).toBe('TypeError');
  });
});

describe('tileForSize', () => {
  it('matches the example of c2sp.org/tlog-tiles: a tree of 70,000', () => {
    const s = 70000;
    for (let n = 0; n < 273; n++) expect(tileForSize(0, n, s)).toBe(256);
    expect(tileForSize(0, 273, s)).toBe(112);
    expect(tileForSize(0, 274, s)).toBe(0);
    expect(tileForSize(1, 0, s)).toBe(256);
    expect(tileForSize(1, 1, s)).toBe(17);
    expect(tileForSize(1, 2, s)).toBe(0);
    expect(tileForSize(2, 0, s)).toBe(1);
    expect(tileForSize(3, 0, s)).toBe(0);
  });

  it('matches the example of a tree of 256: a full level-0 tile and a level-1 tile of width 1', () => {
    expect(tileForSize(0, 0, 256)).toBe(256);
    expect(tileForSize(0, 1, 256)).toBe(0);
    expect(tileForSize(1, 0, 256)).toBe(1);
    expect(tileForSize(2, 0, 256)).toBe(0);
  });

  it('gives the widths around tile boundaries', () => {
    const cases: [level: number, index: number, size: number, width: number][] = [
      [0, 0, 0, 0],
      [0, 0, 1, 1],
      [0, 0, 255, 255],
      [0, 0, 257, 256],
      [0, 1, 257, 1],
      [0, 1, 511, 255],
      [0, 1, 512, 256],
      [0, 2, 512, 0],
      [1, 0, 255, 0],
      [1, 0, 511, 1],
      [1, 0, 512, 2],
      [1, 0, 65535, 255],
      [1, 0, 65536, 256],
      [1, 1, 65536, 0],
      [2, 0, 65535, 0],
      [2, 0, 65536, 1],
      [2, 0, 65537, 1],
      [0, 255, 65536, 256],
      [0, 256, 65536, 0],
      [0, 256, 65537, 1],
      [6, 0, 2 ** 48 - 1, 0],
      [6, 0, 2 ** 48, 1],
      [6, 0, Number.MAX_SAFE_INTEGER, 31],
      [0, Math.floor(Number.MAX_SAFE_INTEGER / 256), Number.MAX_SAFE_INTEGER, 255],
      [7, 0, Number.MAX_SAFE_INTEGER, 0],
      [63, 0, Number.MAX_SAFE_INTEGER, 0],
    ];
    for (const [level, index, size, width] of cases) {
      expect({ level, index, size, width: tileForSize(level, index, size) }).toEqual({ level, index, size, width });
    }
  });

  it('agrees with the spec formula in exact arithmetic (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7 }), fc.nat({ max: 1000 }), fc.maxSafeNat(), (level, index, size) => {
        const hashes = BigInt(size) / 256n ** BigInt(level);
        const full = hashes / 256n;
        const expected = BigInt(index) < full ? 256 : BigInt(index) === full ? Number(hashes % 256n) : 0;
        expect(tileForSize(level, index, size)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('covers each level-0 hash exactly once: widths sum to the size', () => {
    for (const size of [0, 1, 255, 256, 257, 1000, 65536, 70000]) {
      let sum = 0;
      for (let n = 0; tileForSize(0, n, size) > 0; n++) sum += tileForSize(0, n, size);
      expect(sum).toBe(size);
    }
  });

  it('throws RangeError on bad arguments', () => {
    for (const [l, i, s] of [
      [-1, 0, 0],
      [64, 0, 0],
      [0, -1, 0],
      [0, 0, -1],
      [0, 0, 1.5],
      [0, 0, 2 ** 53],
    ]) {
      expect(code(() => tileForSize(l, i, s))).toBe('RangeError');
    }
  });
});

describe('tileHashIndices', () => {
  it('lists storedHashIndex(8·level, 256·index + i), as Go StoredHashIndex numbers them', () => {
    for (const [level, index, width] of [
      [0, 0, 256],
      [0, 3, 17],
      [1, 0, 256],
      [1, 2, 1],
      [2, 0, 5],
      [3, 1, 2],
    ]) {
      const got = tileHashIndices({ level, index, width });
      expect(got).toHaveLength(width);
      expect(got).toEqual(Array.from({ length: width }, (_, i) => refStoredHashIndex(8 * level, 256 * index + i)));
    }
    // Go's numbering starts: leaf 0 at 0, leaf 1 at 1, their parent at 2, leaf 2 at 3.
    expect(tileHashIndices({ level: 0, index: 0, width: 4 })).toEqual([0, 1, 3, 4]);
  });

  it('names hashes that equal the spec formula, in a real tree of 70,000 leaves', () => {
    const size = 70000;
    const entries = Array.from({ length: size }, (_, i) => u64be(i));
    const stored: Uint8Array[] = [];
    const edge = new TreeEdge(0, []);
    for (const e of entries) stored.push(...edge.append(leafHash(e)));
    expect(stored).toHaveLength(storedHashCount(size));
    const ref = new RefTree(entries);
    for (let level = 0; level <= 3; level++) {
      const span = 256 ** level;
      for (let n = 0; ; n++) {
        const w = tileForSize(level, n, size);
        if (w === 0) break;
        // Every hash of every level-1+ tile, and the first and last of each level-0 tile.
        const picks = level === 0 ? [0, w - 1] : Array.from({ length: w }, (_, i) => i);
        const idx = tileHashIndices({ level, index: n, width: w });
        for (const i of picks) {
          const lo = (n * 256 + i) * span;
          expect(toHex(stored[idx[i]])).toBe(toHex(ref.mth(lo, lo + span)));
        }
      }
    }
  });

  it('is the prefix of the full tile for a partial width', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.nat({ max: 5000 }), fc.integer({ min: 1, max: 256 }), (level, index, width) => {
        const full = tileHashIndices({ level, index, width: 256 });
        expect(tileHashIndices({ level, index, width })).toEqual(full.slice(0, width));
      }),
      { numRuns: 200 },
    );
  });

  it('throws RangeError for invalid or out-of-range tiles', () => {
    expect(code(() => tileHashIndices({ level: 0, index: 0, width: 0 }))).toBe('RangeError');
    expect(code(() => tileHashIndices({ level: 0, index: 0, width: 257 }))).toBe('RangeError');
    expect(code(() => tileHashIndices({ level: 64, index: 0, width: 1 }))).toBe('RangeError');
    expect(code(() => tileHashIndices({ level: 6, index: 0, width: 32 }))).toBe('RangeError'); // 32·2^48 leaves > 2^52
    expect(code(() => tileHashIndices({ level: 6, index: 0, width: 16 }))).toBe('ok'); // 2^52 leaves
  });
});

describe('entry bundles', () => {
  it('writes big-endian uint16 length prefixes (vector)', () => {
    const b = encodeEntryBundle([fromHex('61'), fromHex('6263'), new Uint8Array(0), new Uint8Array(300).fill(7)]);
    expect(toHex(b.subarray(0, 11))).toBe('000161' + '00026263' + '0000' + '012c');
    expect(b).toHaveLength(3 + 4 + 2 + 302);
    expect(encodeEntryBundle([])).toEqual(new Uint8Array(0));
  });

  it('round-trips (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 1, maxLength: 256 }), (entries) => {
        const b = encodeEntryBundle(entries);
        expect(decodeEntryBundle(b)).toEqual(entries);
        expect(decodeEntryBundle(b, entries.length)).toEqual(entries);
      }),
      { numRuns: 100 },
    );
  });

  it('carries an entry of 65,535 bytes and refuses 65,536 with TOO_LARGE', () => {
    const max = new Uint8Array(MAX_ENTRY_SIZE).fill(1);
    const b = encodeEntryBundle([max]);
    expect(toHex(b.subarray(0, 2))).toBe('ffff');
    expect(decodeEntryBundle(b)[0]).toEqual(max);
    expect(code(() => encodeEntryBundle([new Uint8Array(MAX_ENTRY_SIZE + 1)]))).toBe('TOO_LARGE');
  });

  it('refuses more than 256 entries', () => {
    const e = [new Uint8Array([1])];
    expect(code(() => encodeEntryBundle(Array(257).fill(e[0])))).toBe('RangeError');
    const b = new Uint8Array(257 * 3);
    for (let i = 0; i < 257; i++) b.set([0, 1, 9], 3 * i);
    expect(code(() => decodeEntryBundle(b))).toBe('MALFORMED');
    expect(decodeEntryBundle(b.subarray(0, 256 * 3))).toHaveLength(256);
  });

  it('refuses every truncation: MALFORMED, or a shorter bundle that the width check refuses', () => {
    const entries = [fromHex('0102'), new Uint8Array(0), fromHex('a0a1a2a3a4'), fromHex('ff')];
    const b = encodeEntryBundle(entries);
    const boundaries = new Set([0, 4, 6, 13, 16]);
    for (let cut = 0; cut < b.length; cut++) {
      const t = b.subarray(0, cut);
      if (boundaries.has(cut)) {
        expect(decodeEntryBundle(t)).toEqual(entries.slice(0, [0, 4, 6, 13].indexOf(cut)));
      } else {
        expect(code(() => decodeEntryBundle(t))).toBe('MALFORMED');
      }
      expect(code(() => decodeEntryBundle(t, entries.length))).toBe('MALFORMED');
    }
    expect(code(() => decodeEntryBundle(b, 3))).toBe('MALFORMED');
    expect(code(() => decodeEntryBundle(b, 5))).toBe('MALFORMED');
    // Trailing garbage is a truncated next entry.
    expect(code(() => decodeEntryBundle(new Uint8Array([...b, 0])))).toBe('MALFORMED');
    expect(code(() => decodeEntryBundle(new Uint8Array([...b, 0, 2, 1])))).toBe('MALFORMED');
  });

  it('returns plain copies, not views, also from a Buffer', () => {
    const b = encodeEntryBundle([fromHex('0102')]);
    const [e] = decodeEntryBundle(b);
    b[2] = 9;
    expect(toHex(e)).toBe('0102');
    const buf = Buffer.from('00020102', 'hex');
    const [f] = decodeEntryBundle(buf);
    buf[2] = 9;
    expect(toHex(f)).toBe('0102');
    expect(f.constructor).toBe(Uint8Array);
  });

  it('decodes arbitrary bytes to entries that re-encode identically, or MALFORMED (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        let entries: Uint8Array[];
        try {
          entries = decodeEntryBundle(bytes);
        } catch (e) {
          expect(isLedgerError(e, 'MALFORMED')).toBe(true);
          return;
        }
        expect(encodeEntryBundle(entries)).toEqual(bytes);
      }),
    );
  });
});
