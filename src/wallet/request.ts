/**
 * Signed store requests (spec §12.6): the headers a wallet (or a depositor) adds to a
 * request to the personal data store, and the server's reading of them.
 *
 * Pure and portable (it runs in the browser).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from '../core/bytes.js';
import { checkEd25519PublicKey, ed25519PublicKey, randomBytes, signEd25519 } from '../core/crypto.js';
import { LedgerError } from '../core/errors.js';

/** A store request's time may be this many seconds from the server's clock. */
export const MAX_REQUEST_SKEW = 300;
export const REQUEST_NONCE_BYTES = 16;

/** The parts of a request that its signature covers. */
export interface RequestParts {
  origin: string;
  method: string;
  /** The path and query, exactly as sent. */
  target: string;
  body: Uint8Array;
  time: number;
  nonce: Uint8Array;
}

/** requestSigningInput is the message of spec §12.6. */
export function requestSigningInput(r: RequestParts): Uint8Array {
  return concatBytes(
    utf8(`dojang/v1/request\n${r.origin}\n${r.method}\n${r.target}\n${toHex(sha256(r.body))}\n${r.time}\n${toHex(r.nonce)}\n`),
  );
}

/** signRequest returns the four headers of a request signed with `seed` at `time` (Unix seconds), with a fresh nonce. */
export function signRequest(seed: Uint8Array, r: Omit<RequestParts, 'nonce'>): Record<string, string> {
  const nonce = randomBytes(REQUEST_NONCE_BYTES);
  return {
    'dojang-key': toBase64(ed25519PublicKey(seed)),
    'dojang-time': String(r.time),
    'dojang-nonce': toHex(nonce),
    'dojang-signature': toBase64(signEd25519(seed, requestSigningInput({ ...r, nonce }))),
  };
}

/** A request's signature headers, read but not verified. */
export interface SignedRequest {
  key: Uint8Array;
  time: number;
  nonce: Uint8Array;
  signature: Uint8Array;
}

/**
 * readRequestHeaders reads the four headers (`get` returns a header's value or ''),
 * UNAUTHORIZED when one is missing or malformed (a key §2.2 refuses among them),
 * CLOCK_SKEW for a time more than MAX_REQUEST_SKEW from `now`.
 */
export function readRequestHeaders(get: (name: string) => string, now: number): SignedRequest {
  const h = (name: string) => {
    const v = get(name);
    if (v === '') throw new LedgerError('UNAUTHORIZED', `a store request is signed: the ${name} header is missing (spec §12.6)`);
    return v;
  };
  const b64 = (name: string, len: number) => {
    let b: Uint8Array;
    try {
      b = fromBase64(h(name));
    } catch {
      throw new LedgerError('UNAUTHORIZED', `${name} is not canonical base64`);
    }
    if (b.length !== len) throw new LedgerError('UNAUTHORIZED', `${name} must be ${len} bytes`);
    return b;
  };
  const key = b64('dojang-key', 32);
  const signature = b64('dojang-signature', 64);
  const t = h('dojang-time');
  if (!/^(0|[1-9][0-9]{0,14})$/.test(t)) throw new LedgerError('UNAUTHORIZED', 'dojang-time must be Unix seconds in decimal');
  const n = h('dojang-nonce');
  if (!/^[0-9a-f]{32}$/.test(n)) throw new LedgerError('UNAUTHORIZED', `dojang-nonce must be ${REQUEST_NONCE_BYTES} bytes of lowercase hex`);
  const why = checkEd25519PublicKey(key);
  if (why !== undefined) throw new LedgerError('UNAUTHORIZED', `dojang-key is not an acceptable Ed25519 key: ${why}`);
  const time = Number(t);
  if (Math.abs(time - now) > MAX_REQUEST_SKEW) throw new LedgerError('CLOCK_SKEW', `the request's time is ${time - now} s from the server's clock (at most ±${MAX_REQUEST_SKEW} s)`);
  return { key, time, nonce: fromHex(n), signature };
}
