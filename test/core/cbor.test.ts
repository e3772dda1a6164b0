/**
 * Tests of src/core/cbor.ts (spec §5.x, RFC 8949 §4.2.1).
 *
 * Vectors:
 *  - test/vectors/cbor-rfc8949-appendix-a.json: every example of RFC 8949 Appendix A
 *    (hex as published in github.com/cbor/test-vectors), with our profile's verdict.
 *  - test/vectors/cbor-deterministic.json: hand-made canonical / non-canonical pairs and
 *    malformed inputs.
 * Cross-checks: a slow, obvious reference encoder written here from RFC 8949 §3 and
 * §4.2.1, and cbor-x's own decoder as an outside reader of our bytes. Properties: round
 * trip and stability for arbitrary values, and age's malleability test (any bytes the
 * decoder accepts re-encode identically) on random and mutated inputs.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Decoder } from 'cbor-x';
import { CBOR_MAX_BYTES, CBOR_MAX_DEPTH, decodeCbor, encodeCbor, type CborValue } from '../../src/core/cbor.js';
import { fromHex, toHex } from '../../src/core/bytes.js';
import { isLedgerError } from '../../src/core/errors.js';
import { fromJson, type Json } from '../helpers/vectors.js';

const load = (name: string): any => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8'));
const appendixA = load('cbor-rfc8949-appendix-a.json') as { vectors: { hex: string; value?: Json; error?: string; diagnostic?: string }[] };
const det = load('cbor-deterministic.json') as {
  accepted: { hex: string; value: Json }[];
  nonCanonical: { hex: string; canonical: string; why: string }[];
  malformed: { hex: string; why: string }[];
};

function code(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return isLedgerError(e) ? e.code : (e as Error).name;
  }
}

// ---------------------------------------------------------------------------------------
// A slow, obvious reference encoder (RFC 8949 §3.1 heads, §4.2.1 key order), sharing no
// code with src/core/cbor.ts.

function refHead(major: number, n: number): number[] {
  const m = major << 5;
  if (n < 24) return [m | n];
  const big = BigInt(n);
  const bytes = (count: number) => Array.from({ length: count }, (_, i) => Number((big >> BigInt(8 * (count - 1 - i))) & 0xffn));
  if (n < 2 ** 8) return [m | 24, ...bytes(1)];
  if (n < 2 ** 16) return [m | 25, ...bytes(2)];
  if (n < 2 ** 32) return [m | 26, ...bytes(4)];
  return [m | 27, ...bytes(8)];
}

function refEncode(v: CborValue): number[] {
  if (v === null) return [0xf6];
  if (v === false) return [0xf4];
  if (v === true) return [0xf5];
  if (typeof v === 'number') return v >= 0 ? refHead(0, v) : refHead(1, -1 - v);
  if (typeof v === 'string') {
    const b = [...new TextEncoder().encode(v)];
    return [...refHead(3, b.length), ...b];
  }
  if (v instanceof Uint8Array) return [...refHead(2, v.length), ...v];
  if (Array.isArray(v)) return [...refHead(4, v.length), ...v.flatMap(refEncode)];
  const pairs = Object.keys(v).map((k) => ({ k: refEncode(k), v: refEncode(v[k]) }));
  pairs.sort((a, b) => {
    // bytewise lexicographic order of the encoded keys
    for (let i = 0; i < Math.min(a.k.length, b.k.length); i++) if (a.k[i] !== b.k[i]) return a.k[i] - b.k[i];
    return a.k.length - b.k.length;
  });
  return [...refHead(5, pairs.length), ...pairs.flatMap((p) => [...p.k, ...p.v])];
}

// cbor-x's decoder as an outside reader (byte strings come back as Buffers).
const cborxDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: plain((v as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return typeof v === 'bigint' ? Number(v) : v;
}

// ---------------------------------------------------------------------------------------
// Arbitraries

const arbInt = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -24, -25, -256, -257, -65536, -65537, -(2 ** 32), -(2 ** 32) - 1),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
);
const arbKey = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'toString', '', 'a', 'aa', 'b', '\uffffa', '\u{10000}'));
const arbLeaf: fc.Arbitrary<CborValue> = fc.oneof(
  arbInt,
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ maxLength: 30 }),
  fc.uint8Array({ maxLength: 40 }),
  fc.boolean(),
  fc.constant(null),
);
const { value: arbValue } = fc.letrec<{ value: CborValue; array: CborValue[]; map: { [k: string]: CborValue } }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, arbLeaf, tie('array'), tie('map')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  map: fc.dictionary(arbKey, tie('value'), { maxKeys: 6 }),
}));

// ---------------------------------------------------------------------------------------

describe('RFC 8949 Appendix A', () => {
  it.each(appendixA.vectors)('$hex', ({ hex, value, error }) => {
    const bytes = fromHex(hex);
    if (error !== undefined) {
      expect(code(() => decodeCbor(bytes))).toBe(error);
      return;
    }
    const v = fromJson(value as Json);
    expect(decodeCbor(bytes)).toEqual(v);
    expect(toHex(encodeCbor(v))).toBe(hex);
  });

  it('accepts exactly the Appendix A items that fit the profile', () => {
    const accepted = appendixA.vectors.filter((x) => x.error === undefined).length;
    expect(accepted).toBe(34);
    expect(appendixA.vectors.length).toBe(82);
  });
});

describe('deterministic profile vectors', () => {
  it.each(det.accepted)('accepts $hex', ({ hex, value }) => {
    const v = fromJson(value);
    expect(decodeCbor(fromHex(hex))).toEqual(v);
    expect(toHex(encodeCbor(v))).toBe(hex);
  });

  it.each(det.nonCanonical)('refuses $hex as NON_CANONICAL ($why)', ({ hex, canonical }) => {
    expect(code(() => decodeCbor(fromHex(hex)))).toBe('NON_CANONICAL');
    const v = decodeCbor(fromHex(canonical));
    expect(toHex(encodeCbor(v))).toBe(canonical);
  });

  it.each(det.malformed)('refuses $hex as MALFORMED ($why)', ({ hex }) => {
    expect(code(() => decodeCbor(fromHex(hex)))).toBe('MALFORMED');
  });
});

describe('encodeCbor', () => {
  it('sorts keys by their encoding, whatever the insertion order', () => {
    const a = encodeCbor({ b: 2, aa: 3, a: 1, '1': 4, '10': 5, '2': 6 });
    // JS orders integer-like keys first in insertion order; the encoding must not.
    expect(toHex(a)).toBe(toHex(new Uint8Array(refEncode({ a: 1, b: 2, '1': 4, '2': 6, aa: 3, '10': 5 }))));
    expect(toHex(a)).toBe('a6' + '613104' + '613206' + '616101' + '616202' + '62313005' + '62616103');
  });

  it('writes integers in the shortest head, without floats, across the 32-bit boundary', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [-0, '00'],
      [23, '17'],
      [24, '1818'],
      [-24, '37'],
      [-25, '3818'],
      [2 ** 32 - 1, '1affffffff'],
      [2 ** 32, '1b0000000100000000'],
      [-(2 ** 32), '3affffffff'],
      [-(2 ** 32) - 1, '3b0000000100000000'],
      [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
      [-Number.MAX_SAFE_INTEGER, '3b001ffffffffffffe'],
    ];
    for (const [n, hex] of cases) expect([n, toHex(encodeCbor(n))]).toEqual([n, hex]);
  });

  it('writes byte strings without tags, from Uint8Array, Buffer or a subarray', () => {
    expect(toHex(encodeCbor(fromHex('0102')))).toBe('420102');
    expect(toHex(encodeCbor(Buffer.from([1, 2])))).toBe('420102');
    expect(toHex(encodeCbor(fromHex('00010203').subarray(1, 3)))).toBe('420102');
    expect(toHex(encodeCbor(new Uint8Array(300)).subarray(0, 3))).toBe('59012c');
  });

  it('returns a fresh plain Uint8Array each time', () => {
    const a = encodeCbor('first');
    const b = encodeCbor('second');
    expect(a.constructor).toBe(Uint8Array);
    expect(a.buffer).not.toBe(b.buffer);
    expect(toHex(a)).toBe('656669727374');
  });

  it('encodes long and non-ASCII strings and keys as UTF-8', () => {
    const long = 'ü'.repeat(100) + '水𐅑';
    expect(encodeCbor(long)).toEqual(new Uint8Array(refEncode(long)));
    expect(toHex(encodeCbor('\ufeff'))).toBe('63efbbbf');
  });

  it('accepts null-prototype objects and "__proto__" as an own key', () => {
    const o = Object.create(null) as { [k: string]: CborValue };
    o.a = 1;
    expect(toHex(encodeCbor(o))).toBe('a1616101');
    const p = JSON.parse('{"__proto__": 1}') as { [k: string]: CborValue };
    expect(toHex(encodeCbor(p))).toBe('a1695f5f70726f746f5f5f01');
  });

  it('throws TypeError/RangeError for values outside the data model', () => {
    const bad: unknown[] = [
      1.5,
      NaN,
      Infinity,
      -Infinity,
      2 ** 53,
      -(2 ** 53),
      undefined,
      10n,
      Symbol('s'),
      () => 1,
      new Date(0),
      new Map(),
      new Set(),
      new Uint16Array(2),
      new ArrayBuffer(2),
      new (class X {})(),
      [1, undefined],
      { a: undefined },
      { a: 1.5 },
      [, 1],
      '\ud800',
      'a\udc00b',
      { '\ud800': 1 },
      { [Symbol('k')]: 1 },
    ];
    for (const v of bad) expect(['TypeError', 'RangeError']).toContain(code(() => encodeCbor(v as CborValue)));
  });

  it('limits nesting to maxDepth (32 by default)', () => {
    const nest = (d: number): CborValue => (d === 0 ? 0 : [nest(d - 1)]);
    expect(CBOR_MAX_DEPTH).toBe(32);
    expect(code(() => encodeCbor(nest(32)))).toBe('ok');
    expect(code(() => encodeCbor(nest(33)))).toBe('RangeError');
    expect(code(() => encodeCbor(nest(33), { maxDepth: 33 }))).toBe('ok');
    const cyclic: CborValue[] = [];
    cyclic.push(cyclic);
    expect(code(() => encodeCbor(cyclic))).toBe('RangeError');
  });

  it('agrees with the reference encoder and is independent of key insertion order (property)', () => {
    fc.assert(
      fc.property(arbValue, (v) => {
        const e = encodeCbor(v);
        expect(toHex(e)).toBe(toHex(new Uint8Array(refEncode(v))));
        expect(toHex(encodeCbor(v))).toBe(toHex(e)); // stable
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.dictionary(arbKey, arbLeaf, { maxKeys: 10 }), fc.infiniteStream(fc.nat()), (m, rnd) => {
        const keys = Object.keys(m);
        const shuffled = keys.map((k) => ({ k, r: rnd.next().value as number })).sort((x, y) => x.r - y.r);
        const n: { [k: string]: CborValue } = {};
        for (const { k } of shuffled) Object.defineProperty(n, k, { value: m[k], enumerable: true, writable: true, configurable: true });
        expect(encodeCbor(n)).toEqual(encodeCbor(m));
      }),
      { numRuns: 200 },
    );
  });
});

describe('decodeCbor', () => {
  it('accepts each head width at its boundaries, and the encoder writes the same bytes (no re-encode inside decodeCbor)', () => {
    const cases = ['17', '1818', '18ff', '190100', '19ffff', '1a00010000', '1affffffff', '1b0000000100000000', '1b001fffffffffffff',
      '37', '3818', '38ff', '390100', '39ffff', '3a00010000', '3affffffff', '3b0000000100000000', '3b001ffffffffffffe'];
    for (const h of cases) {
      const v = decodeCbor(fromHex(h));
      expect(toHex(encodeCbor(v)), h).toBe(h);
    }
  });

  it('round-trips arbitrary values, and cbor-x reads our bytes as the same value (property)', () => {
    fc.assert(
      fc.property(arbValue, (v) => {
        const e = encodeCbor(v);
        const d = decodeCbor(e);
        expect(d).toEqual(v);
        expect(encodeCbor(d)).toEqual(e);
        // cbor-x renames a "__proto__" key to "__proto_" (its guard against prototype
        // pollution), one more reason its decoder is not ours.
        if (!toHex(e).includes('695f5f70726f746f5f5f')) expect(plain(cborxDecoder.decode(e))).toEqual(v);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every truncation of a valid encoding with MALFORMED', () => {
    const v = { type: 'cert.issue', n: 2 ** 40, neg: -300, body: { id: fromHex('00'.repeat(40)), list: [1, 'two', [true, null]], 'ü水': '𐅑' } };
    const e = encodeCbor(v);
    expect(decodeCbor(e)).toEqual(v);
    for (let cut = 0; cut < e.length; cut++) {
      expect([cut, code(() => decodeCbor(e.subarray(0, cut)))]).toEqual([cut, 'MALFORMED']);
    }
    expect(code(() => decodeCbor(new Uint8Array([...e, 0])))).toBe('MALFORMED');
  });

  it('refuses every truncation of arbitrary values with MALFORMED (property)', () => {
    fc.assert(
      fc.property(arbValue, fc.nat(), (v, at) => {
        const e = encodeCbor(v);
        const cut = at % e.length;
        expect(code(() => decodeCbor(e.subarray(0, cut)))).toBe('MALFORMED');
      }),
      { numRuns: 500 },
    );
  });

  it("accepts only bytes that re-encode identically: random bytes (age's malleability test, property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let v: CborValue;
        try {
          v = decodeCbor(bytes);
        } catch (e) {
          expect(isLedgerError(e)).toBe(true);
          return;
        }
        expect(toHex(encodeCbor(v))).toBe(toHex(bytes));
      }),
      { numRuns: 20000 },
    );
  });

  it('accepts only bytes that re-encode identically: mutated valid encodings (property)', () => {
    fc.assert(
      fc.property(arbValue, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'ins', 'del')), { minLength: 1, maxLength: 3 }), (v, edits) => {
        const b = [...encodeCbor(v)];
        for (const [at, byte, op] of edits) {
          const i = at % (b.length + 1);
          if (op === 'set' && i < b.length) b[i] = byte;
          else if (op === 'ins') b.splice(i, 0, byte);
          else if (op === 'del') b.splice(i, 1);
        }
        const bytes = new Uint8Array(b);
        let d: CborValue;
        try {
          d = decodeCbor(bytes);
        } catch (e) {
          expect(isLedgerError(e)).toBe(true);
          expect(['MALFORMED', 'NON_CANONICAL']).toContain((e as { code: string }).code);
          return;
        }
        expect(toHex(encodeCbor(d))).toBe(toHex(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('classifies a non-minimal head as NON_CANONICAL wherever it sits', () => {
    for (const v of [0, [0], { a: 0 }, [[5, 'x']], { k: [1, 2, { z: 3 }] }, ['x', { y: [true, 7] }]]) {
      const e = encodeCbor(v as CborValue);
      // Widen the last small unsigned integer (0x00–0x17 → 0x18 nn) in place.
      let i = e.length - 1;
      while (e[i] >= 0x18) i--;
      const w = new Uint8Array([...e.subarray(0, i), 0x18, e[i], ...e.subarray(i + 1)]);
      expect([toHex(w), code(() => decodeCbor(w))]).toEqual([toHex(w), 'NON_CANONICAL']);
    }
  });

  it('prefers MALFORMED over NON_CANONICAL when both apply', () => {
    expect(code(() => decodeCbor(fromHex('821800')))).toBe('MALFORMED'); // non-minimal, then truncated
    expect(code(() => decodeCbor(fromHex('821800f7')))).toBe('MALFORMED'); // non-minimal, then undefined
    expect(code(() => decodeCbor(fromHex('a2616202616101ff')))).toBe('MALFORMED'); // unsorted, then trailing
  });

  it('limits nesting depth (MALFORMED) and input size (TOO_LARGE)', () => {
    const nested = (d: number) => new Uint8Array([...Array(d).fill(0x81), 0x00]);
    expect(code(() => decodeCbor(nested(32)))).toBe('ok');
    expect(code(() => decodeCbor(nested(33)))).toBe('MALFORMED');
    expect(code(() => decodeCbor(nested(33), { maxDepth: 33 }))).toBe('ok');
    expect(code(() => decodeCbor(nested(2), { maxDepth: 1 }))).toBe('MALFORMED');
    expect(code(() => decodeCbor(fromHex('a1616180'), { maxDepth: 1 }))).toBe('MALFORMED');
    expect(code(() => decodeCbor(fromHex('a1616180'), { maxDepth: 2 }))).toBe('ok');
    expect(code(() => decodeCbor(nested(5000), { maxDepth: 1000 }))).toBe('MALFORMED');
    expect(code(() => decodeCbor(nested(0), { maxDepth: 0 }))).toBe('ok');
    expect(CBOR_MAX_BYTES).toBe(65535);
    const max = new Uint8Array(CBOR_MAX_BYTES);
    max.set([0x59, 0xff, 0xfc]);
    expect(decodeCbor(max)).toEqual(new Uint8Array(65532));
    expect(code(() => decodeCbor(new Uint8Array(CBOR_MAX_BYTES + 1)))).toBe('TOO_LARGE');
    expect(code(() => decodeCbor(fromHex('0000'), { maxBytes: 1 }))).toBe('TOO_LARGE');
    const big = new Uint8Array(100005);
    big.set([0x5a, 0x00, 0x01, 0x86, 0xa0]); // 100,000-byte string
    expect(decodeCbor(big.subarray(0, 100005), { maxBytes: 200000 })).toHaveLength(100000);
  });

  it('throws on caller bugs with TypeError/RangeError', () => {
    expect(code(() => decodeCbor('00' as unknown as Uint8Array))).toBe('TypeError');
    expect(code(() => decodeCbor(fromHex('00'), { maxDepth: -1 }))).toBe('RangeError');
    expect(code(() => decodeCbor(fromHex('00'), { maxDepth: 1001 }))).toBe('RangeError');
    expect(code(() => decodeCbor(fromHex('00'), { maxBytes: 1.5 }))).toBe('RangeError');
  });

  it('keeps a leading U+FEFF and makes "__proto__" an own property', () => {
    expect(decodeCbor(fromHex('63efbbbf'))).toBe('\ufeff');
    const o = decodeCbor(fromHex('a1695f5f70726f746f5f5f01')) as Record<string, CborValue>;
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(o, '__proto__')?.value).toBe(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('returns byte strings as plain copies, also from a Buffer', () => {
    const e = encodeCbor([fromHex('0102')]);
    const [b] = decodeCbor(e) as Uint8Array[];
    e[2] = 9;
    expect(toHex(b)).toBe('0102');
    expect(b.constructor).toBe(Uint8Array);
    const buf = Buffer.from('82420102f5', 'hex');
    const [c] = decodeCbor(buf) as Uint8Array[];
    buf[2] = 9;
    expect(toHex(c)).toBe('0102');
    expect(c.constructor).toBe(Uint8Array);
  });

  it('wraps nothing from cbor-x: every failure is a LedgerError (property on hostile heads)', () => {
    // Heads that announce huge lengths or counts must fail fast, without allocation.
    for (const hex of ['9b0000000100000000', '9a7fffffff', 'bb0000000100000000', 'ba7fffffff', '5b0000000100000000', '7b0000000100000000', '7a7fffffff']) {
      expect([hex, code(() => decodeCbor(fromHex(hex)))]).toEqual([hex, 'MALFORMED']);
    }
  });
});
