/**
 * Public keys as people and scripts type them: the three text forms the SDK and the
 * dojang command accept for an Ed25519 public key (spec §2.2, §4.3), and the forms
 * `dojang keygen` prints.
 *
 *   hex     64 hexadecimal digits (either case)
 *   base64  canonical padded base64 of 32 bytes (44 characters)
 *   vkey    a note verifier key `name+hex8+base64(0x01 ‖ key)` (Go's sumdb/note form)
 *
 * Pure: no disk, network or clock, so it runs in a browser too.
 */
import { LedgerError } from '../core/errors.js';
import { fromBase64, fromHex, toBase64, toHex } from '../core/bytes.js';
import { checkEd25519PublicKey } from '../core/crypto.js';
import { formatVerifierKey, parseVerifierKey, SIG_TYPE_ED25519 } from '../core/note.js';

/** The text forms of one public key. */
export interface PublicKeyForms {
  base64: string;
  hex: string;
  /** The note verifier key (type 0x01) under the given key name. */
  vkey: string;
}

const HEX32 = /^[0-9a-fA-F]{64}$/;

/**
 * parsePublicKey reads an Ed25519 public key given as hex, base64 or a type 0x01 vkey
 * (module comment). Throws LedgerError: MALFORMED for text that is none of these (or a
 * vkey whose key ID does not match), UNSUPPORTED for a vkey of another type (a 0x04
 * cosigner key is never an event key, spec §5.6), BAD_KEY for 32 bytes that spec §2.2
 * refuses (non-canonical or small order).
 */
export function parsePublicKey(text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('parsePublicKey: text must be a string');
  const s = text.trim();
  let key: Uint8Array;
  if (HEX32.test(s)) key = fromHex(s);
  else if (isBase64Of32(s)) key = fromBase64(s);
  else if (s.includes('+')) {
    let v;
    try {
      v = parseVerifierKey(s);
    } catch (e) {
      if (e instanceof LedgerError && e.code !== 'MALFORMED') throw e;
      throw new LedgerError('MALFORMED', `not a public key (64 hex digits, base64 of 32 bytes, or a vkey name+hex8+base64): ${(e as Error).message}`, { cause: e });
    }
    if (v.type !== SIG_TYPE_ED25519) throw new LedgerError('UNSUPPORTED', `${v.name} is a type 0x0${v.type} (cosignature) key, not an Ed25519 event key`);
    return v.publicKey;
  } else throw new LedgerError('MALFORMED', 'a public key is 64 hex digits, base64 of 32 bytes, or a vkey name+hex8+base64');
  const why = checkEd25519PublicKey(key);
  if (why !== undefined) throw new LedgerError('BAD_KEY', why);
  return key;
}

function isBase64Of32(s: string): boolean {
  try {
    return fromBase64(s).length === 32;
  } catch {
    return false;
  }
}

/**
 * publicKeyForms renders a public key as base64, hex and a type 0x01 vkey named `name`
 * (spec §4.3). RangeError for an invalid key name.
 */
export function publicKeyForms(name: string, publicKey: Uint8Array): PublicKeyForms {
  return {
    base64: toBase64(publicKey),
    hex: toHex(publicKey),
    vkey: formatVerifierKey({ name, type: SIG_TYPE_ED25519, publicKey }),
  };
}
