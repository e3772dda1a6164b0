import { readFileSync } from 'node:fs';
import { LedgerError } from '../../src/core/errors.js';
import { fromHex } from '../../src/core/bytes.js';
import type { CborValue } from '../../src/core/cbor.js';
import { encodeParsedEvent, parseEvent } from '../../src/core/events.js';

/** vector reads a file of test/vectors/. */
export const vector = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../vectors/${name}`, import.meta.url)));
export const vectorText = (name: string): string => new TextDecoder().decode(vector(name));

/** code runs f and names how it ended: 'OK', a LedgerError code, or the error's name. */
export function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof LedgerError) return e.code;
    return (e as Error).name;
  }
  return 'OK';
}

/** Json is a JSON value as the vector files hold it. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** fromJson turns the vector notation ({"$bytes": hex} for byte strings) into a CborValue (a "__proto__" key stays an own property). */
export function fromJson(j: Json): CborValue {
  if (Array.isArray(j)) return j.map(fromJson);
  if (j !== null && typeof j === 'object') {
    const keys = Object.keys(j);
    if (keys.length === 1 && keys[0] === '$bytes') return fromHex(j.$bytes as string);
    const out: { [k: string]: CborValue } = {};
    for (const k of keys) Object.defineProperty(out, k, { value: fromJson(j[k]), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return j;
}

/** The eight small-order Ed25519 point encodings (spec §2.2), as hex. */
export const SMALL_ORDER_KEYS_HEX: readonly string[] = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
];

/** withBrokenSignature returns a certificate event entry with byte `at` of its signature XORed with `mask`: well-formed, no longer validly signed. */
export function withBrokenSignature(entry: Uint8Array, at = 0, mask = 1): Uint8Array {
  const e = parseEvent(entry);
  const sig = e.sig.slice();
  sig[at] ^= mask;
  return encodeParsedEvent({ event: e.event, sig });
}
