/**
 * The PDF standard security handler, revision 6 (ISO 32000-2 §7.6.4.3.3–4: AES-256 with
 * the iterated hash of Algorithm 2.B), as far as a writer needs it: the password entries
 * U, UE, O and OE of the Encrypt dictionary for a given file encryption key.
 *
 * pdfkit 0.20.2 writes AES-256 only with the deprecated revision 5 (Adobe Extension Level
 * 3: one SHA-256 per password guess). Revision 6 encrypts the file the same way (AESV3,
 * the same file key and Perms) and differs only in these four entries, so the view-only
 * PDF (spec §12.9) lets pdfkit encrypt and replaces them (src/wallet/view-pdf.ts).
 *
 * Algorithms, with the password as UTF-8 cut to 127 bytes:
 *
 *   hash(pw, salt, udata)  Algorithm 2.B: K = SHA-256(pw ‖ salt ‖ udata); then rounds of
 *                          E = AES-128-CBC(key K[0..16], iv K[16..32], (pw ‖ K ‖ udata)×64),
 *                          K = SHA-256/384/512(E) by the first 16 bytes of E mod 3, at
 *                          least 64 rounds and until E's last byte ≤ round − 32
 *   U  = hash(user, vs) ‖ vs ‖ ks          UE = AES-256-CBC(hash(user, ks), IV 0, file key)
 *   O  = hash(owner, vs', U) ‖ vs' ‖ ks'   OE = AES-256-CBC(hash(owner, ks', U), IV 0, file key)
 *
 * with fresh 8-byte salts. Checked against qpdf's answers (test/vectors/pdf-r6.json).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { randomBytes } from '../core/crypto.js';

/** The password entries of a revision 6 Encrypt dictionary. */
export interface R6Entries {
  U: Uint8Array;
  UE: Uint8Array;
  O: Uint8Array;
  OE: Uint8Array;
}

/** The four 8-byte salts of the entries: validation and key salts of user and owner. */
export interface R6Salts {
  userValidation: Uint8Array;
  userKey: Uint8Array;
  ownerValidation: Uint8Array;
  ownerKey: Uint8Array;
}

export const FILE_KEY_BYTES = 32;
export const SALT_BYTES = 8;
/** A password counts up to this many bytes of UTF-8 (ISO 32000-2 §7.6.4.3.2). */
export const MAX_PASSWORD_BYTES = 127;

const HASHES = ['sha256', 'sha384', 'sha512'] as const;

/**
 * pdfPassword is the bytes a revision 6 handler hashes for a password: its NFKC form (the
 * normalization step of SASLprep, which the standard asks for) as UTF-8, cut to 127
 * bytes. Readers that do no SASLprep (qpdf, poppler) agree for text that NFKC leaves as
 * it is: ASCII, and Hangul typed as syllables.
 */
export function pdfPassword(password: string): Uint8Array {
  if (typeof password !== 'string') throw new TypeError('pdfPassword: the password must be a string');
  const b = new TextEncoder().encode(password.normalize('NFKC'));
  return b.subarray(0, Math.min(b.length, MAX_PASSWORD_BYTES));
}

/** hashR6 is Algorithm 2.B of ISO 32000-2: the 32-byte hash of a password with a salt. */
export function hashR6(password: Uint8Array, salt: Uint8Array, udata: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (password.length > MAX_PASSWORD_BYTES) throw new RangeError(`hashR6: a password is at most ${MAX_PASSWORD_BYTES} bytes`);
  if (salt.length !== SALT_BYTES) throw new RangeError(`hashR6: the salt must be ${SALT_BYTES} bytes`);
  if (udata.length !== 0 && udata.length !== 48) throw new RangeError('hashR6: udata is empty or the 48-byte U entry');
  let k: Uint8Array = createHash('sha256').update(password).update(salt).update(udata).digest();
  for (let round = 1; ; round++) {
    const block = Buffer.concat([password, k, udata]);
    const k1 = Buffer.concat(new Array<Buffer>(64).fill(block));
    const aes = createCipheriv('aes-128-cbc', k.subarray(0, 16), k.subarray(16, 32)).setAutoPadding(false);
    const e = Buffer.concat([aes.update(k1), aes.final()]);
    // The first 16 bytes of E as a big-endian number, mod 3: 256 ≡ 1 (mod 3), so the byte sum.
    let sum = 0;
    for (let i = 0; i < 16; i++) sum += e[i];
    k = createHash(HASHES[sum % 3]).update(e).digest();
    if (round >= 64 && e[e.length - 1] <= round - 32) break;
  }
  return k.subarray(0, 32);
}

/** wrapKey encrypts the file key under an intermediate key: AES-256-CBC, IV 0, no padding. */
function wrapKey(key: Uint8Array, fileKey: Uint8Array): Uint8Array {
  const aes = createCipheriv('aes-256-cbc', key, new Uint8Array(16)).setAutoPadding(false);
  return Buffer.concat([aes.update(fileKey), aes.final()]);
}

/** freshSalts draws the four salts from the CSPRNG. */
function freshSalts(): R6Salts {
  const s = () => randomBytes(SALT_BYTES);
  return { userValidation: s(), userKey: s(), ownerValidation: s(), ownerKey: s() };
}

/**
 * r6Entries computes U, UE, O and OE (Algorithms 8 and 9 of ISO 32000-2) for the user
 * and owner passwords (as pdfPassword makes them) and the 32-byte file encryption key,
 * with fresh salts unless given. RangeError for a key or salt of another length.
 */
export function r6Entries(o: { user: Uint8Array; owner: Uint8Array; fileKey: Uint8Array; salts?: R6Salts }): R6Entries {
  if (!(o.fileKey instanceof Uint8Array) || o.fileKey.length !== FILE_KEY_BYTES) throw new RangeError(`r6Entries: the file key must be ${FILE_KEY_BYTES} bytes`);
  const s = o.salts ?? freshSalts();
  const U = Buffer.concat([hashR6(o.user, s.userValidation), s.userValidation, s.userKey]);
  const UE = wrapKey(hashR6(o.user, s.userKey), o.fileKey);
  const O = Buffer.concat([hashR6(o.owner, s.ownerValidation, U), s.ownerValidation, s.ownerKey]);
  const OE = wrapKey(hashR6(o.owner, s.ownerKey, U), o.fileKey);
  return { U: new Uint8Array(U), UE: new Uint8Array(UE), O: new Uint8Array(O), OE: new Uint8Array(OE) };
}
