/**
 * Timestamped Ed25519 cosignatures (spec §5.6), implementing cosignature/v1 of
 * c2sp.org/tlog-cosignature: note signature type 0x04, key ID
 * SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4].
 *
 *   signed message = "cosignature/v1\n" ‖ "time " <T> "\n" ‖ checkpoint note text
 *   signature line = base64(key ID[4] ‖ u64be(T) ‖ Ed25519 signature[64])
 *
 * T is POSIX seconds in ASCII decimal without leading zeros. The spec allows up to
 * 2^63 - 1; this implementation handles T as a JavaScript safe integer (at most
 * 2^53 - 1, year 285,000,000+): a signature with a larger T does not verify here.
 */
import { LedgerError } from './errors.js';
import { concatBytes, fromUtf8, u64be, utf8 } from './bytes.js';
import { ed25519PublicKey, signEd25519, verifyEd25519, type CryptoBackend } from './crypto.js';
import { parseCheckpoint } from './checkpoint.js';
import { isValidKeyName, keyId, verifierKeyCopy, SIG_TYPE_COSIGNATURE_V1, type NoteSignature, type NoteSigner, type NoteVerifier } from './note.js';

/** The length of a cosignature/v1 signature after the key ID: u64 time and 64 bytes. */
export const COSIGNATURE_V1_SIZE = 8 + 64;

function checkTime(time: number): void {
  if (!Number.isSafeInteger(time) || time < 0) throw new RangeError(`cosignature time must be a non-negative safe integer of seconds, not ${time}`);
}

/**
 * cosignatureMessage returns the bytes a cosignature/v1 signature covers for the
 * checkpoint note text at time (seconds): "cosignature/v1\ntime <T>\n" ‖ text.
 */
export function cosignatureMessage(text: string | Uint8Array, time: number): Uint8Array {
  checkTime(time);
  const body = typeof text === 'string' ? utf8(text) : text;
  return concatBytes(utf8(`cosignature/v1\ntime ${time}\n`), body);
}

/** isCheckpointText reports whether msg (note text bytes) is a checkpoint. */
function isCheckpointText(msg: Uint8Array): boolean {
  try {
    parseCheckpoint(fromUtf8(msg));
    return true;
  } catch {
    return false;
  }
}

function readTime(sig: Uint8Array): number | undefined {
  const t = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0);
  return t <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(t) : undefined;
}

/**
 * cosignatureSigner makes a cosignature/v1 signer (type 0x04) from a 32-byte Ed25519
 * seed. sign(msg) signs the checkpoint text msg at the time now() returns (integer
 * seconds); signAt(text, time) does the same at an explicit time and returns the
 * signature line's content. RangeError if the text is not a checkpoint or the time is
 * not a non-negative safe integer.
 */
export function cosignatureSigner(
  name: string,
  seed: Uint8Array,
  now: () => number,
  backend?: CryptoBackend,
): NoteSigner & { signAt(text: string, time: number): NoteSignature } {
  if (!isValidKeyName(name)) throw new RangeError(`invalid note key name ${JSON.stringify(name)}`);
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes');
  const s = seed.slice();
  const publicKey = backend ? backend.ed25519PublicKey(s) : ed25519PublicKey(s);
  const id = keyId(name, SIG_TYPE_COSIGNATURE_V1, publicKey);
  const signBytes = (msg: Uint8Array, time: number): Uint8Array => {
    checkTime(time);
    if (!isCheckpointText(msg)) throw new RangeError('cosignature/v1 signs checkpoints only');
    const m = cosignatureMessage(msg, time);
    return concatBytes(u64be(time), backend ? backend.ed25519Sign(s, m) : signEd25519(s, m));
  };
  return {
    name,
    keyId: id,
    type: SIG_TYPE_COSIGNATURE_V1,
    publicKey,
    sign: (msg) => signBytes(msg, now()),
    signAt: (text, time) => ({ name, keyId: id.slice(), sig: signBytes(utf8(text), time) }),
  };
}

/**
 * cosignatureVerifier makes a cosignature/v1 verifier (type 0x04). verify(msg, sig)
 * is true when msg is a checkpoint text, sig is u64be(T) ‖ 64 bytes with T at most
 * 2^53 - 1, and the Ed25519 signature over cosignatureMessage(msg, T) verifies under the
 * strict rules of crypto.ts. timeOf(sig) is cosignedTime(sig). RangeError for an
 * unacceptable public key.
 */
export function cosignatureVerifier(
  name: string,
  publicKey: Uint8Array,
  backend?: CryptoBackend,
): NoteVerifier & { timeOf(sig: NoteSignature): number } {
  const pub = verifierKeyCopy(name, publicKey);
  return {
    name,
    keyId: keyId(name, SIG_TYPE_COSIGNATURE_V1, pub),
    type: SIG_TYPE_COSIGNATURE_V1,
    publicKey: pub,
    verify(msg, sig) {
      if (sig.length !== COSIGNATURE_V1_SIZE) return false;
      const time = readTime(sig);
      if (time === undefined || !isCheckpointText(msg)) return false;
      return verifyEd25519(pub, cosignatureMessage(msg, time), sig.subarray(8), backend);
    },
    timeOf: cosignedTime,
  };
}

/**
 * cosignedTime returns the time (POSIX seconds) a cosignature/v1 signature states.
 * Does not verify it: use it on a signature openNote verified. Throws LedgerError
 * MALFORMED if the signature is not 8 + 64 bytes or its time exceeds 2^53 - 1.
 */
export function cosignedTime(sig: NoteSignature): number {
  if (sig.sig.length !== COSIGNATURE_V1_SIZE) throw new LedgerError('MALFORMED', `cosignature is ${sig.sig.length} bytes after the key ID, not ${COSIGNATURE_V1_SIZE}`);
  const time = readTime(sig.sig);
  if (time === undefined) throw new LedgerError('MALFORMED', 'cosignature time exceeds 2^53 - 1');
  return time;
}
