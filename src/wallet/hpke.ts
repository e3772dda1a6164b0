/**
 * HPKE (RFC 9180) base mode, single shot, for one suite: DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256, ChaCha20-Poly1305 (spec §12.4). Built on @noble primitives; checked
 * against the RFC's appendix A.2.1 and against @hpke/core (test/wallet/hpke.test.ts).
 *
 * Pure and portable (it runs in the browser).
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { concatBytes, utf8 } from '../core/bytes.js';
import { randomBytes } from '../core/crypto.js';
import { LedgerError } from '../core/errors.js';

const KEM_ID = 0x0020;
const KDF_ID = 0x0001;
const AEAD_ID = 0x0003;
const MODE_BASE = 0x00;
const N_SECRET = 32;
const N_KEY = 32;
const N_NONCE = 12;
/** The encapsulated key (the sender's ephemeral X25519 public key) is this many bytes. */
export const HPKE_ENC_BYTES = 32;
/** The AEAD tag adds this many bytes to the plaintext. */
export const HPKE_TAG_BYTES = 16;

function i2osp(n: number, w: number): Uint8Array {
  const out = new Uint8Array(w);
  for (let i = w - 1; i >= 0; i--, n = Math.floor(n / 256)) out[i] = n & 0xff;
  return out;
}

const KEM_SUITE = concatBytes(utf8('KEM'), i2osp(KEM_ID, 2));
const HPKE_SUITE = concatBytes(utf8('HPKE'), i2osp(KEM_ID, 2), i2osp(KDF_ID, 2), i2osp(AEAD_ID, 2));
const V1 = utf8('HPKE-v1');

function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return extract(sha256, concatBytes(V1, suite, utf8(label), ikm), salt);
}

function labeledExpand(suite: Uint8Array, prk: Uint8Array, label: string, info: Uint8Array, length: number): Uint8Array {
  return expand(sha256, prk, concatBytes(i2osp(length, 2), V1, suite, utf8(label), info), length);
}

/** deriveKeyPair is DeriveKeyPair(ikm) of RFC 9180 §7.1.3 for X25519. */
export function deriveKeyPair(ikm: Uint8Array): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const prk = labeledExtract(KEM_SUITE, new Uint8Array(0), 'dkp_prk', ikm);
  const secretKey = labeledExpand(KEM_SUITE, prk, 'sk', new Uint8Array(0), 32);
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

function dh(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(secretKey, publicKey);
  } catch (e) {
    throw new LedgerError('BAD_KEY', `X25519: ${(e as Error).message}`);
  }
  if (shared.every((b) => b === 0)) throw new LedgerError('BAD_KEY', 'X25519: a key of small order'); // RFC 9180 §7.1.4
  return shared;
}

function sharedSecret(dhOut: Uint8Array, enc: Uint8Array, pkR: Uint8Array): Uint8Array {
  const prk = labeledExtract(KEM_SUITE, new Uint8Array(0), 'eae_prk', dhOut);
  return labeledExpand(KEM_SUITE, prk, 'shared_secret', concatBytes(enc, pkR), N_SECRET);
}

function keySchedule(shared: Uint8Array, info: Uint8Array): { key: Uint8Array; baseNonce: Uint8Array } {
  const empty = new Uint8Array(0);
  const context = concatBytes(
    new Uint8Array([MODE_BASE]),
    labeledExtract(HPKE_SUITE, empty, 'psk_id_hash', empty),
    labeledExtract(HPKE_SUITE, empty, 'info_hash', info),
  );
  const secret = labeledExtract(HPKE_SUITE, shared, 'secret', empty);
  return { key: labeledExpand(HPKE_SUITE, secret, 'key', context, N_KEY), baseNonce: labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, N_NONCE) };
}

/**
 * seal encrypts one message to an X25519 public key (SetupBaseS, then Seal at sequence
 * number 0). `ikmE` fixes the ephemeral key (for test vectors only; default: fresh from
 * the CSPRNG). BAD_KEY for a recipient key of small order.
 */
export function seal(pkR: Uint8Array, plaintext: Uint8Array, info: Uint8Array, aad: Uint8Array, opts: { ikmE?: Uint8Array } = {}): { enc: Uint8Array; ct: Uint8Array } {
  if (!(pkR instanceof Uint8Array) || pkR.length !== 32) throw new TypeError('seal: an X25519 public key is 32 bytes');
  const e = deriveKeyPair(opts.ikmE ?? randomBytes(32));
  const enc = e.publicKey;
  const { key, baseNonce } = keySchedule(sharedSecret(dh(e.secretKey, pkR), enc, pkR), info);
  return { enc, ct: chacha20poly1305(key, baseNonce, aad).encrypt(plaintext) };
}

/**
 * open decrypts what seal made, with the recipient's X25519 key pair (`pkR` when the
 * caller has it: a scalar multiplication fewer). INVALID_PROOF when
 * the ciphertext does not open (another key, another info or aad, or changed bytes);
 * BAD_KEY for an encapsulated key of small order.
 */
export function open(skR: Uint8Array, enc: Uint8Array, ct: Uint8Array, info: Uint8Array, aad: Uint8Array, pkR: Uint8Array = x25519.getPublicKey(skR)): Uint8Array {
  if (!(skR instanceof Uint8Array) || skR.length !== 32) throw new TypeError('open: an X25519 secret key is 32 bytes');
  if (enc.length !== HPKE_ENC_BYTES) throw new LedgerError('MALFORMED', `the encapsulated key is ${HPKE_ENC_BYTES} bytes`);
  const { key, baseNonce } = keySchedule(sharedSecret(dh(skR, enc), enc, pkR), info);
  try {
    return chacha20poly1305(key, baseNonce, aad).decrypt(ct);
  } catch {
    throw new LedgerError('INVALID_PROOF', 'the sealed bytes do not open with this key');
  }
}
