/**
 * Wallet addresses and the dojang: URIs of QR codes (spec §12.2).
 *
 * Pure and portable (it runs in the browser).
 */
import { bech32m } from '@scure/base';
import { checkEd25519PublicKey } from '../core/crypto.js';
import { fromHex, toHex } from '../core/bytes.js';
import { LedgerError } from '../core/errors.js';

/** The human-readable part of an address. */
export const ADDRESS_HRP = 'dw';
/** The URI scheme. */
export const URI_SCHEME = 'dojang:';
/** An address is this many characters: "dw", "1", 52 data and 6 checksum characters. */
export const ADDRESS_LENGTH = 61;
/** A face-to-face nonce is 16–64 bytes and a verifier name 1–128 UTF-8 bytes (spec §10.1). */
export const MIN_NONCE_BYTES = 16;
export const MAX_NONCE_BYTES = 64;
export const MAX_VERIFIER_NAME_BYTES = 128;

/** encodeAddress writes an identity public key as an address (lowercase). BAD_KEY for a key §2.2 refuses. */
export function encodeAddress(publicKey: Uint8Array): string {
  const why = publicKey instanceof Uint8Array ? checkEd25519PublicKey(publicKey) : 'not a Uint8Array';
  if (why !== undefined) throw new LedgerError('BAD_KEY', `an address is an acceptable Ed25519 key: ${why}`);
  return bech32m.encode(ADDRESS_HRP, bech32m.toWords(publicKey));
}

/** addressUri writes the URI of an address, `dojang:dw1…`; upper for a QR code's alphanumeric mode. */
export function addressUri(publicKey: Uint8Array, opts: { upper?: boolean } = {}): string {
  const uri = URI_SCHEME + encodeAddress(publicKey);
  return opts.upper === true ? uri.toUpperCase() : uri;
}

/**
 * parseAddress reads an address or its URI (spec §12.2) and returns the public key.
 * MALFORMED for anything else; BAD_KEY for a key §2.2 refuses.
 */
export function parseAddress(text: string): Uint8Array {
  if (typeof text !== 'string') throw new LedgerError('MALFORMED', 'an address is text');
  let s = text.trim();
  if (s.slice(0, URI_SCHEME.length).toLowerCase() === URI_SCHEME) s = s.slice(URI_SCHEME.length);
  if (s.length !== ADDRESS_LENGTH) throw new LedgerError('MALFORMED', `an address is ${ADDRESS_LENGTH} characters, dw1…`);
  if (s !== s.toLowerCase() && s !== s.toUpperCase()) throw new LedgerError('MALFORMED', 'an address is all lowercase or all uppercase');
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32m.decode(s.toLowerCase() as `${string}1${string}`, ADDRESS_LENGTH);
  } catch (e) {
    throw new LedgerError('MALFORMED', `not a bech32m address: ${(e as Error).message}`);
  }
  if (decoded.prefix !== ADDRESS_HRP) throw new LedgerError('MALFORMED', `an address starts ${ADDRESS_HRP}1, not ${decoded.prefix}1`);
  let key: Uint8Array;
  try {
    key = bech32m.fromWords(decoded.words);
  } catch (e) {
    throw new LedgerError('MALFORMED', `an address holds whole bytes: ${(e as Error).message}`);
  }
  if (key.length !== 32) throw new LedgerError('MALFORMED', 'an address holds a 32-byte key');
  const why = checkEd25519PublicKey(key);
  if (why !== undefined) throw new LedgerError('BAD_KEY', `the address's key: ${why}`);
  return key;
}

/** A verifier's face-to-face challenge (spec §12.2). */
export interface Challenge {
  verifier: string;
  nonce: Uint8Array;
}

function checkChallenge(c: Challenge): void {
  const nameBytes = new TextEncoder().encode(c.verifier).length;
  if (nameBytes < 1 || nameBytes > MAX_VERIFIER_NAME_BYTES) throw new LedgerError('BAD_REQUEST', `a verifier name is 1–${MAX_VERIFIER_NAME_BYTES} bytes`);
  if (c.nonce.length < MIN_NONCE_BYTES || c.nonce.length > MAX_NONCE_BYTES) throw new LedgerError('BAD_REQUEST', `a nonce is ${MIN_NONCE_BYTES}–${MAX_NONCE_BYTES} bytes`);
}

/** challengeUri writes `dojang:verify?name=…&nonce=…`. BAD_REQUEST for a name or nonce out of its limits. */
export function challengeUri(c: Challenge): string {
  checkChallenge(c);
  return `${URI_SCHEME}verify?name=${encodeURIComponent(c.verifier)}&nonce=${toHex(c.nonce)}`;
}

/** parseChallenge reads a challenge URI. MALFORMED for another form; BAD_REQUEST for limits. */
export function parseChallenge(text: string): Challenge {
  const m = typeof text === 'string' ? /^dojang:verify\?name=([^&]*)&nonce=([0-9a-f]*)$/.exec(text.trim()) : null;
  if (m === null) throw new LedgerError('MALFORMED', 'a challenge is dojang:verify?name=…&nonce=<hex>');
  let verifier: string;
  try {
    verifier = decodeURIComponent(m[1]);
  } catch {
    throw new LedgerError('MALFORMED', 'the verifier name is not percent-encoded UTF-8');
  }
  if (m[2].length % 2 !== 0) throw new LedgerError('MALFORMED', 'the nonce is whole bytes of hex');
  const c = { verifier, nonce: fromHex(m[2]) };
  checkChallenge(c);
  return c;
}
