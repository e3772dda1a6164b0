import { LedgerError } from './errors.js';

/** Helpers for bytes and their text forms. Parsers of untrusted text throw MALFORMED. */

const hexChars = '0123456789abcdef';

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += hexChars[b[i] >> 4] + hexChars[b[i] & 15];
  return s;
}

/** fromHex parses lowercase or uppercase hex of even length; throws MALFORMED. */
export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new LedgerError('MALFORMED', 'invalid hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const b64lookup = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) b64lookup[b64chars.charCodeAt(i)] = i;

/** toBase64 encodes standard base64 with padding (RFC 4648 §4). */
export function toBase64(b: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    s += b64chars[n >> 18] + b64chars[(n >> 12) & 63] + b64chars[(n >> 6) & 63] + b64chars[n & 63];
  }
  if (i < b.length) {
    const n = (b[i] << 16) | ((i + 1 < b.length ? b[i + 1] : 0) << 8);
    s += b64chars[n >> 18] + b64chars[(n >> 12) & 63];
    s += i + 1 < b.length ? b64chars[(n >> 6) & 63] + '=' : '==';
  }
  return s;
}

/**
 * fromBase64 decodes standard padded base64 strictly: only the canonical encoding of
 * some byte string is accepted (padding required, unused bits zero, no whitespace).
 * Throws LedgerError MALFORMED (or NON_CANONICAL for non-zero trailing bits).
 */
export function fromBase64(s: string): Uint8Array {
  if (s.length % 4 !== 0) throw new LedgerError('MALFORMED', 'invalid base64 length');
  let pad = 0;
  if (s.endsWith('==')) pad = 2;
  else if (s.endsWith('=')) pad = 1;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const last = i + 4 === s.length;
    const v = [0, 0, 0, 0];
    for (let j = 0; j < 4; j++) {
      const c = s.charCodeAt(i + j);
      if (last && j >= 4 - pad) {
        if (c !== 61) throw new LedgerError('MALFORMED', 'invalid base64 padding');
        continue;
      }
      const d = c < 128 ? b64lookup[c] : -1;
      if (d < 0) throw new LedgerError('MALFORMED', 'invalid base64 character');
      v[j] = d;
    }
    const n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    if (last && pad === 2 && (n & 0xffff) !== 0) throw new LedgerError('NON_CANONICAL', 'non-zero base64 trailing bits');
    if (last && pad === 1 && (n & 0xff) !== 0) throw new LedgerError('NON_CANONICAL', 'non-zero base64 trailing bits');
    out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * byteKey turns bytes into a string with one character per byte: a compact key for a
 * Map or Set (hashes, ids, public keys). Not for display: use toHex.
 */
export function byteKey(b: Uint8Array): string {
  return String.fromCharCode.apply(null, b as unknown as number[]);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

const utf8enc = new TextEncoder();
const utf8dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8(s: string): Uint8Array {
  return utf8enc.encode(s);
}

/** fromUtf8 decodes strict UTF-8; throws MALFORMED on invalid sequences. */
export function fromUtf8(b: Uint8Array): string {
  try {
    return utf8dec.decode(b);
  } catch (e) {
    throw new LedgerError('MALFORMED', 'invalid UTF-8', { cause: e });
  }
}

/** u64be encodes a non-negative safe integer as 8 big-endian bytes. */
export function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`u64be: ${n}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}
