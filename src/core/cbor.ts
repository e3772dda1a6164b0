/**
 * Deterministic CBOR for ledger entries (spec §5.1; RFC 8949 §4.2.1 "core deterministic
 * encoding requirements"), restricted to a small data model:
 *
 *   unsigned and negative integers within ±(2^53 - 1) (JS safe integers),
 *   byte strings (Uint8Array), UTF-8 text strings, false, true, null,
 *   arrays, and maps whose keys are text strings (plain objects).
 *
 * No floats, no tags, no undefined, no other simple values, no indefinite lengths.
 * Encoding uses the shortest head for every integer and length and sorts map keys by
 * the bytewise order of their encodings (for text keys: shorter first, then bytewise
 * on the UTF-8). Decoding is strict: it accepts exactly the bytes encodeCbor would
 * write for the value it returns, so every accepted input re-encodes identically.
 *
 * Encoding goes through cbor-x, configured for this (no records, no tags on byte
 * strings, no tag 259 on maps, integers above 2^32 passed as BigInt so they are not
 * written as floats, maps passed as Maps in sorted order). Decoding is our own strict
 * reader: cbor-x's decoder would silently merge duplicate keys, read 1.0 as 1 and
 * accept indefinite lengths, which loses what we need to classify the input.
 *
 * That an accepted input re-encodes identically follows from the reader's rules
 * (shortest heads, definite lengths, sorted unique text keys, strict UTF-8, nothing
 * outside the data model). The reader once re-encoded every value to check it; that
 * cost two thirds of a ledger entry's decode, so the guarantee is now tested instead
 * (test/core/cbor.test.ts: random bytes and mutated encodings, every accepted input
 * re-encoded and compared).
 */
import { Encoder } from 'cbor-x/encode';
import { LedgerError } from './errors.js';

export type CborValue = number | string | Uint8Array | boolean | null | CborValue[] | { [key: string]: CborValue };

export interface CborOptions {
  /** Inputs longer than this are refused with TOO_LARGE (decode only). Default 65,535. */
  maxBytes?: number;
  /** Most arrays/maps nested in one another (a top-level [] is depth 1). Default 32. */
  maxDepth?: number;
}

/** CBOR_MAX_BYTES is decodeCbor's default input limit: the largest entry (spec §5). */
export const CBOR_MAX_BYTES = 65535;
/** CBOR_MAX_DEPTH is the default limit on nested arrays and maps. */
export const CBOR_MAX_DEPTH = 32;
const DEPTH_CEILING = 1000; // keeps recursion far from the JS stack limit

// Options spelled out against cbor-x's defaults; useTag259ForMaps is not in its typings.
const cborx = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  useTag259ForMaps: false,
  variableMapSize: true,
  tagUint8Array: false,
  structuredClone: false,
  pack: false,
  bundleStrings: false,
  sequential: false,
  maxSharedStructures: 0,
  useFloat32: 0,
  alwaysUseFloat: false,
  largeBigIntToFloat: false,
  useTimestamp32: false,
  useToJSON: false,
  useSelfDescribedHeader: false,
} as ConstructorParameters<typeof Encoder>[0]);

const utf8enc = new TextEncoder();
// ignoreBOM: a leading U+FEFF is content, not a marker to strip.
const utf8dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LONE_SURROGATE = /[\uD800-\uDFFF]/u; // with the u flag, matches unpaired surrogates only

function checkDepthOption(d: number | undefined): number {
  if (d === undefined) return CBOR_MAX_DEPTH;
  if (!Number.isInteger(d) || d < 0 || d > DEPTH_CEILING) throw new RangeError(`cbor: bad maxDepth ${d}`);
  return d;
}

/** compareBytes orders byte strings bytewise, a shorter prefix first. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * compareKeys orders text keys as their encodings order bytewise (RFC 8949 §4.2.1): the
 * head carries the length, so a shorter UTF-8 string sorts first, then bytewise.
 */
function compareKeys(a: Uint8Array, b: Uint8Array): number {
  return a.length !== b.length ? a.length - b.length : compareBytes(a, b);
}

const ASCII = /^[\x00-\x7f]*$/;

/** sortedKeys orders map keys as RFC 8949 §4.2.1 orders their encodings. */
function sortedKeys(keys: string[]): string[] {
  if (keys.every((k) => ASCII.test(k))) {
    // For ASCII, UTF-16 code units order as the UTF-8 bytes do: skip the encoding.
    return keys.sort((x, y) => (x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0));
  }
  const withBytes = keys.map((k) => {
    if (LONE_SURROGATE.test(k)) throw new RangeError('cbor: key has an unpaired surrogate (not UTF-8)');
    return { k, b: utf8enc.encode(k) };
  });
  withBytes.sort((x, y) => compareKeys(x.b, y.b));
  return withBytes.map((x) => x.k);
}

/** prepare checks a value against the data model and shapes it for cbor-x. */
function prepare(v: unknown, depth: number, maxDepth: number): unknown {
  switch (typeof v) {
    case 'number':
      if (!Number.isSafeInteger(v)) throw new RangeError(`cbor: ${v} is not a safe integer`);
      // cbor-x writes integers beyond 32 bits as float64 unless they are BigInt.
      if (v > 0xffffffff || v < -0x100000000) return BigInt(v);
      return v === 0 ? 0 : v; // -0 → 0
    case 'string':
      if (LONE_SURROGATE.test(v)) throw new RangeError('cbor: string has an unpaired surrogate (not UTF-8)');
      return v;
    case 'boolean':
      return v;
    case 'object': {
      if (v === null) return null;
      if (v instanceof Uint8Array) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      if (depth >= maxDepth) throw new RangeError(`cbor: nested deeper than ${maxDepth}`);
      if (Array.isArray(v)) {
        const out = new Array<unknown>(v.length);
        for (let i = 0; i < v.length; i++) {
          if (!(i in v)) throw new TypeError('cbor: sparse array');
          out[i] = prepare(v[i], depth + 1, maxDepth);
        }
        return out;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new TypeError(`cbor: cannot encode ${proto?.constructor?.name ?? 'object'}`);
      if (Object.getOwnPropertySymbols(v).length > 0) throw new TypeError('cbor: symbol keys');
      const obj = v as Record<string, unknown>;
      const m = new Map<string, unknown>();
      for (const k of sortedKeys(Object.keys(obj))) m.set(k, prepare(obj[k], depth + 1, maxDepth));
      return m;
    }
    default:
      throw new TypeError(`cbor: cannot encode ${typeof v}`);
  }
}

/**
 * encodeCbor writes the deterministic encoding of value (RFC 8949 §4.2.1; spec §5.1):
 * shortest heads, definite lengths, map keys sorted by their encoded bytes. Throws
 * RangeError/TypeError for a value outside the data model (a float or unsafe integer,
 * undefined, a string with an unpaired surrogate, a class instance, nesting deeper than
 * maxDepth): building a valid value is the caller's job.
 */
export function encodeCbor(value: CborValue, opts?: Pick<CborOptions, 'maxDepth'>): Uint8Array {
  const prepared = prepare(value, 0, checkDepthOption(opts?.maxDepth));
  // Copy: cbor-x returns a view of its shared, reused buffer.
  return new Uint8Array(cborx.encode(prepared));
}

/** Reader walks the input once, building the value and checking every rule. */
class Reader {
  pos = 0;
  /** The first rule of canonical form broken, if the input is otherwise valid. */
  nonCanonical: string | undefined;

  constructor(
    readonly bytes: Uint8Array,
    readonly maxDepth: number,
  ) {}

  malformed(msg: string): never {
    throw new LedgerError('MALFORMED', `cbor: ${msg} at byte ${this.pos}`);
  }

  noteNonCanonical(msg: string): void {
    if (this.nonCanonical === undefined) this.nonCanonical = `cbor: ${msg} at byte ${this.pos}`;
  }

  need(n: number): void {
    if (n > this.bytes.length - this.pos) this.malformed('truncated');
  }

  /**
   * argument reads the head's argument for additional info ai (0–27) and notes a head
   * longer than needed. Values past 2^53 - 1 come back as Infinity: every caller
   * refuses them (too large an integer, or a length longer than any input).
   */
  argument(ai: number): number {
    if (ai < 24) return ai;
    const b = this.bytes;
    let v: number;
    let min: number;
    if (ai === 24) {
      this.need(1);
      v = b[this.pos];
      this.pos += 1;
      min = 24;
    } else if (ai === 25) {
      this.need(2);
      v = (b[this.pos] << 8) | b[this.pos + 1];
      this.pos += 2;
      min = 0x100;
    } else if (ai === 26) {
      this.need(4);
      v = ((b[this.pos] << 24) >>> 0) + ((b[this.pos + 1] << 16) | (b[this.pos + 2] << 8) | b[this.pos + 3]);
      this.pos += 4;
      min = 0x10000;
    } else {
      this.need(8);
      const hi = ((b[this.pos] << 24) >>> 0) + ((b[this.pos + 1] << 16) | (b[this.pos + 2] << 8) | b[this.pos + 3]);
      const lo = ((b[this.pos + 4] << 24) >>> 0) + ((b[this.pos + 5] << 16) | (b[this.pos + 6] << 8) | b[this.pos + 7]);
      this.pos += 8;
      v = hi > 0x1fffff ? Infinity : hi * 0x100000000 + lo;
      min = 0x100000000;
    }
    if (v < min) this.noteNonCanonical('integer or length not in its shortest form');
    return v;
  }

  item(depth: number): CborValue {
    this.need(1);
    const ib = this.bytes[this.pos];
    const major = ib >> 5;
    const ai = ib & 31;
    if (major === 7) {
      this.pos++;
      if (ib === 0xf4) return false;
      if (ib === 0xf5) return true;
      if (ib === 0xf6) return null;
      this.pos--;
      if (ib === 0xf7) this.malformed('undefined is not allowed');
      if (ib >= 0xf9 && ib <= 0xfb) this.malformed('floating-point numbers are not allowed');
      if (ib === 0xff) this.malformed('unexpected break');
      this.malformed('simple values other than false, true and null are not allowed');
    }
    if (major === 6) this.malformed('tags are not allowed');
    if (ai === 31) this.malformed('indefinite lengths are not allowed');
    if (ai >= 28) this.malformed('reserved additional information');
    this.pos++;
    const arg = this.argument(ai);
    switch (major) {
      case 0:
        if (arg > Number.MAX_SAFE_INTEGER) this.malformed('integer outside ±(2^53 - 1)');
        return arg;
      case 1:
        if (arg > Number.MAX_SAFE_INTEGER - 1) this.malformed('integer outside ±(2^53 - 1)');
        return -1 - arg;
      case 2: {
        this.need(arg);
        const out = this.bytes.slice(this.pos, this.pos + arg);
        this.pos += arg;
        return out;
      }
      case 3:
        return this.text(arg);
      case 4: {
        if (depth >= this.maxDepth) this.malformed(`nested deeper than ${this.maxDepth}`);
        if (arg > this.bytes.length - this.pos) this.malformed('truncated'); // each item takes a byte
        const out = new Array<CborValue>(arg);
        for (let i = 0; i < arg; i++) out[i] = this.item(depth + 1);
        return out;
      }
      default: {
        // major 5: a map with text keys
        if (depth >= this.maxDepth) this.malformed(`nested deeper than ${this.maxDepth}`);
        if (arg > (this.bytes.length - this.pos) / 2) this.malformed('truncated'); // each pair takes two bytes
        const out: { [key: string]: CborValue } = {};
        const seen = new Set<string>();
        let prevStart = -1;
        let prevEnd = -1;
        for (let i = 0; i < arg; i++) {
          this.need(1);
          if (this.bytes[this.pos] >> 5 !== 3) this.malformed('map keys must be text strings');
          const keyStart = this.pos;
          const key = this.item(depth + 1) as string;
          const keyEnd = this.pos;
          if (seen.has(key)) {
            this.pos = keyStart;
            this.malformed(`duplicate map key ${JSON.stringify(key)}`);
          }
          seen.add(key);
          if (prevStart >= 0 && compareBytes(this.bytes.subarray(prevStart, prevEnd), this.bytes.subarray(keyStart, keyEnd)) > 0) {
            this.noteNonCanonical('map keys not in sorted order');
          }
          prevStart = keyStart;
          prevEnd = keyEnd;
          const value = this.item(depth + 1);
          if (key === '__proto__') {
            // An own property, never the prototype setter.
            Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
          } else {
            out[key] = value;
          }
        }
        return out;
      }
    }
  }

  text(len: number): string {
    this.need(len);
    const b = this.bytes;
    const start = this.pos;
    const end = start + len;
    this.pos = end;
    if (len <= 32) {
      // ASCII fast path: short keys and type names are the common case.
      let s = '';
      let i = start;
      for (; i < end && b[i] < 0x80; i++) s += String.fromCharCode(b[i]);
      if (i === end) return s;
    }
    try {
      return utf8dec.decode(b.subarray(start, end));
    } catch (e) {
      this.pos = start;
      throw new LedgerError('MALFORMED', `cbor: text string is not valid UTF-8 at byte ${start}`, { cause: e });
    }
  }
}

/**
 * decodeCbor decodes one deterministic CBOR item that must fill `bytes` exactly
 * (spec §5.1). It accepts only what encodeCbor writes, so an accepted input always
 * re-encodes to the same bytes (tested, see the module comment). Throws LedgerError:
 *  - TOO_LARGE: input longer than maxBytes (default 65,535);
 *  - MALFORMED: empty, truncated or trailing bytes; floats, tags, undefined or other
 *    simple values; indefinite lengths; reserved heads; non-text map keys; duplicate
 *    keys; invalid UTF-8; integers outside ±(2^53 - 1); nesting deeper than maxDepth
 *    (default 32);
 *  - NON_CANONICAL: otherwise valid, but a head is longer than needed or map keys are
 *    out of order.
 * Byte strings in the result are copies, not views of `bytes`.
 */
export function decodeCbor(bytes: Uint8Array, opts?: CborOptions): CborValue {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decodeCbor: bytes must be a Uint8Array');
  const maxBytes = opts?.maxBytes ?? CBOR_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`cbor: bad maxBytes ${maxBytes}`);
  const maxDepth = checkDepthOption(opts?.maxDepth);
  if (bytes.length > maxBytes) throw new LedgerError('TOO_LARGE', `cbor: ${bytes.length} bytes, limit ${maxBytes}`);
  if (bytes.length === 0) throw new LedgerError('MALFORMED', 'cbor: empty input');
  // A plain view, so that slices are copies even when the input is a Node Buffer.
  const r = new Reader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), maxDepth);
  const value = r.item(0);
  if (r.pos !== bytes.length) throw new LedgerError('MALFORMED', `cbor: ${bytes.length - r.pos} trailing bytes after the item`);
  if (r.nonCanonical !== undefined) throw new LedgerError('NON_CANONICAL', r.nonCanonical);
  return value;
}
