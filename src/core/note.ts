/**
 * Signed notes (spec §4), implementing c2sp.org/signed-note byte for byte, with the
 * verifier-key and signer-key text forms of Go's golang.org/x/mod/sumdb/note:
 *
 *   <text, ending in "\n">
 *   "\n"
 *   "— " <key name> " " base64(key ID[4] ‖ signature) "\n"      (one or more lines)
 *
 *   vkey = <name> "+" <hex8 key ID> "+" base64(type ‖ public key)
 *   skey = "PRIVATE+KEY+" <name> "+" <hex8 key ID> "+" base64(type ‖ Ed25519 seed)
 *
 * Limits (spec §4.2): a note is at most MAX_NOTE_BYTES (1 MiB) and carries at most
 * MAX_NOTE_SIGNATURES (100) signature lines, like Go's note.Open; the spec's floor is
 * 16. A signature's base64 must decode canonically to at least 5 bytes (key ID plus
 * one byte; Go's rule).
 *
 * Parsers of untrusted input throw LedgerError MALFORMED (TOO_LARGE above a limit);
 * formatters and signers throw RangeError when handed values that break the format,
 * which is the caller's bug.
 */
import { LedgerError } from './errors.js';
import { concatBytes, equalBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from './bytes.js';
import {
  checkEd25519PublicKey,
  cryptoBackend,
  ed25519PublicKey,
  signEd25519,
  verifyEd25519,
  type CryptoBackend,
} from './crypto.js';
import { cosignatureVerifier } from './cosignature.js';

/** Signature type identifier bytes (c2sp.org/signed-note "Signature types"). */
export const SIG_TYPE_ED25519 = 0x01;
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;

/** A note larger than this many bytes is refused with TOO_LARGE. */
export const MAX_NOTE_BYTES = 1 << 20;
/** A note with more signature lines than this is refused with TOO_LARGE (spec floor: 16). */
export const MAX_NOTE_SIGNATURES = 100;

export interface NoteSignature {
  /** The key name of the signature line. */
  name: string;
  /** The 4-byte key ID (the first four decoded bytes). */
  keyId: Uint8Array;
  /** The signature bytes after the key ID (at least one byte). */
  sig: Uint8Array;
}

export interface Note {
  /** The signed text: non-empty, ends with "\n", excludes the separating blank line. */
  text: string;
  /** Every signature line in order, verified or not. */
  sigs: NoteSignature[];
}

export interface NoteVerifier {
  name: string;
  keyId: Uint8Array;
  type: number;
  publicKey: Uint8Array;
  /** verify reports whether sig (the bytes after the key ID) signs msg (the note text). */
  verify(msg: Uint8Array, sig: Uint8Array): boolean;
}

export interface NoteSigner {
  name: string;
  keyId: Uint8Array;
  type: number;
  publicKey: Uint8Array;
  /** sign returns the signature bytes (without the key ID) over msg, the note text. */
  sign(msg: Uint8Array): Uint8Array;
}

const EM_DASH_PREFIX = '\u2014 ';

// Go's unicode.IsSpace: the White_Space property (U+FEFF is not in it).
const UNICODE_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
// ASCII control characters other than newline (signed-note "Format").
const CONTROL_EXCEPT_NL = /[\u0000-\u0009\u000b-\u001f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

// fatal: refuse invalid UTF-8; ignoreBOM: keep a leading U+FEFF, so that the decoded text
// re-encodes to exactly the signed bytes.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * isValidKeyName reports whether name may be a note key name: non-empty, well-formed,
 * no Unicode spaces (Go's unicode.IsSpace), no "+" (signed-note "Format"), and no
 * control characters (which a note may not contain at all).
 */
export function isValidKeyName(name: string): boolean {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    !UNICODE_SPACE.test(name) &&
    !name.includes('+') &&
    !CONTROL_EXCEPT_NL.test(name) &&
    !LONE_SURROGATE.test(name)
  );
}

/**
 * isValidNoteText reports whether text may be the text of a note: non-empty, ends in
 * "\n", well-formed, no ASCII control character other than "\n".
 */
export function isValidNoteText(text: string): boolean {
  return (
    typeof text === 'string' &&
    text.endsWith('\n') &&
    !CONTROL_EXCEPT_NL.test(text) &&
    !LONE_SURROGATE.test(text)
  );
}

/** keyId computes SHA-256(name ‖ 0x0A ‖ type ‖ pubkey)[:4] (signed-note "Signatures"). */
export function keyId(name: string, type: number, pubkey: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError(`keyId: bad signature type ${type}`);
  return cryptoBackend().sha256(concatBytes(utf8(name), new Uint8Array([0x0a, type]), pubkey)).slice(0, 4);
}

function malformed(message: string, cause?: unknown): LedgerError {
  return new LedgerError('MALFORMED', message, cause === undefined ? undefined : { cause });
}

/** decodeBase64 wraps fromBase64 so that every base64 failure in a note is MALFORMED. */
function decodeBase64(s: string, what: string): Uint8Array {
  try {
    return fromBase64(s);
  } catch (e) {
    throw malformed(`${what}: invalid base64`, e);
  }
}

/**
 * parseNote parses a signed note strictly (spec §4.2): valid UTF-8, size and signature
 * count limits, no control characters but "\n", text separated from the signature
 * block by the last blank line, every line of the block "— <name> <base64>\n" with a
 * valid key name and canonical base64 of at least 5 bytes. Verifies nothing.
 * Throws LedgerError MALFORMED, or TOO_LARGE above MAX_NOTE_BYTES / MAX_NOTE_SIGNATURES.
 */
export function parseNote(bytes: Uint8Array): Note {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('parseNote: bytes must be a Uint8Array');
  if (bytes.length > MAX_NOTE_BYTES) throw new LedgerError('TOO_LARGE', `note is ${bytes.length} bytes, limit ${MAX_NOTE_BYTES}`);
  let s: string;
  try {
    s = strictUtf8.decode(bytes);
  } catch (e) {
    throw malformed('note is not valid UTF-8', e);
  }
  if (CONTROL_EXCEPT_NL.test(s)) throw malformed('note contains a control character');
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw malformed('note has no blank line before its signatures');
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw malformed('note signature block is empty or lacks its final newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw new LedgerError('TOO_LARGE', `note has ${lines.length} signatures, limit ${MAX_NOTE_SIGNATURES}`);
  const sigs: NoteSignature[] = [];
  for (const line of lines) {
    if (!line.startsWith(EM_DASH_PREFIX)) throw malformed('note signature line does not start with "— "');
    const rest = line.slice(EM_DASH_PREFIX.length);
    const sp = rest.indexOf(' ');
    if (sp < 0) throw malformed('note signature line has no signature');
    const name = rest.slice(0, sp);
    const b64 = rest.slice(sp + 1);
    if (!isValidKeyName(name)) throw malformed('note signature has an invalid key name');
    if (b64.length === 0) throw malformed('note signature is empty');
    const raw = decodeBase64(b64, 'note signature');
    if (raw.length < 5) throw malformed('note signature is shorter than a key ID and one byte');
    sigs.push({ name, keyId: raw.slice(0, 4), sig: raw.slice(4) });
  }
  return { text, sigs };
}

/** formatSignatureLine renders one "— <name> <base64>\n" line; RangeError if invalid. */
export function formatSignatureLine(sig: NoteSignature): string {
  if (!isValidKeyName(sig.name)) throw new RangeError(`invalid note key name ${JSON.stringify(sig.name)}`);
  if (!(sig.keyId instanceof Uint8Array) || sig.keyId.length !== 4) throw new RangeError('note key ID must be 4 bytes');
  if (!(sig.sig instanceof Uint8Array) || sig.sig.length === 0) throw new RangeError('note signature must not be empty');
  return `${EM_DASH_PREFIX}${sig.name} ${toBase64(concatBytes(sig.keyId, sig.sig))}\n`;
}

/**
 * formatNote encodes a note (spec §4.2): text, a blank line, one line per signature.
 * parseNote(formatNote(n)) gives n back. RangeError for an invalid text, key name,
 * key ID or signature, no signatures, or a result above the parse limits.
 */
export function formatNote(note: Note): Uint8Array {
  if (!isValidNoteText(note.text)) throw new RangeError('note text must be non-empty, end in "\\n" and contain no control characters');
  if (note.sigs.length === 0) throw new RangeError('a note needs at least one signature');
  if (note.sigs.length > MAX_NOTE_SIGNATURES) throw new RangeError(`a note carries at most ${MAX_NOTE_SIGNATURES} signatures`);
  const out = utf8(note.text + '\n' + note.sigs.map(formatSignatureLine).join(''));
  if (out.length > MAX_NOTE_BYTES) throw new RangeError(`a note is at most ${MAX_NOTE_BYTES} bytes`);
  return out;
}

/**
 * ed25519Signer makes a signer of type 0x01 (plain Ed25519 over the note text) from a
 * 32-byte seed. backend defaults to the facade's (node:crypto under Node).
 */
export function ed25519Signer(name: string, seed: Uint8Array, backend?: CryptoBackend): NoteSigner {
  if (!isValidKeyName(name)) throw new RangeError(`invalid note key name ${JSON.stringify(name)}`);
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes');
  const s = seed.slice();
  const publicKey = backend ? backend.ed25519PublicKey(s) : ed25519PublicKey(s);
  return {
    name,
    keyId: keyId(name, SIG_TYPE_ED25519, publicKey),
    type: SIG_TYPE_ED25519,
    publicKey,
    sign: (msg) => (backend ? backend.ed25519Sign(s, msg) : signEd25519(s, msg)),
  };
}

/**
 * verifierKeyCopy checks a verifier's key name and Ed25519 public key (spec §4.1, §2.2)
 * and returns a private copy of the key; RangeError when either is unacceptable.
 */
export function verifierKeyCopy(name: string, publicKey: Uint8Array): Uint8Array {
  if (!isValidKeyName(name)) throw new RangeError(`invalid note key name ${JSON.stringify(name)}`);
  const why = checkEd25519PublicKey(publicKey);
  if (why !== undefined) throw new RangeError(why);
  return publicKey.slice();
}

/**
 * ed25519Verifier makes a verifier of type 0x01 with the strict RFC 8032 rules of
 * crypto.ts. RangeError if the public key is unacceptable (wrong length, non-canonical,
 * small order).
 */
export function ed25519Verifier(name: string, publicKey: Uint8Array, backend?: CryptoBackend): NoteVerifier {
  const pub = verifierKeyCopy(name, publicKey);
  return {
    name,
    keyId: keyId(name, SIG_TYPE_ED25519, pub),
    type: SIG_TYPE_ED25519,
    publicKey: pub,
    verify: (msg, sig) => sig.length === 64 && verifyEd25519(pub, msg, sig, backend),
  };
}

/**
 * formatVerifierKey renders `<name>+<hex8>+<base64(type ‖ publicKey)>` (Go's vkey),
 * with the key ID in lowercase hex.
 */
export function formatVerifierKey(v: { name: string; type: number; publicKey: Uint8Array }): string {
  if (!isValidKeyName(v.name)) throw new RangeError(`invalid note key name ${JSON.stringify(v.name)}`);
  const id = keyId(v.name, v.type, v.publicKey);
  return `${v.name}+${toHex(id)}+${toBase64(concatBytes(new Uint8Array([v.type]), v.publicKey))}`;
}

/** splitKey splits name+hex8+base64 and checks what both key forms share. */
function splitKey(s: string, what: string): { name: string; id: Uint8Array; type: number; material: Uint8Array } {
  const p1 = s.indexOf('+');
  const p2 = p1 < 0 ? -1 : s.indexOf('+', p1 + 1);
  if (p2 < 0) throw malformed(`${what}: expected <name>+<hex8>+<base64>`);
  const name = s.slice(0, p1);
  const hex8 = s.slice(p1 + 1, p2);
  const b64 = s.slice(p2 + 1);
  if (!isValidKeyName(name)) throw malformed(`${what}: invalid key name`);
  if (!/^[0-9a-f]{8}$/.test(hex8)) throw malformed(`${what}: key ID must be 8 lowercase hex digits`);
  const raw = decodeBase64(b64, what);
  if (raw.length < 1) throw malformed(`${what}: empty key`);
  return { name, id: fromHex(hex8), type: raw[0], material: raw.slice(1) };
}

/**
 * parseVerifierKey parses a vkey (spec §4.3) and returns its verifier: type 0x01
 * (Ed25519 over the note text) or 0x04 (cosignature/v1, see cosignature.ts). The key
 * ID must equal SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4] and the key must be an acceptable
 * 32-byte Ed25519 public key. Throws LedgerError MALFORMED, or UNSUPPORTED for another
 * signature type.
 */
export function parseVerifierKey(vkey: string, backend?: CryptoBackend): NoteVerifier {
  if (typeof vkey !== 'string') throw new TypeError('parseVerifierKey: vkey must be a string');
  const { name, id, type, material } = splitKey(vkey, 'verifier key');
  if (type !== SIG_TYPE_ED25519 && type !== SIG_TYPE_COSIGNATURE_V1) {
    throw new LedgerError('UNSUPPORTED', `verifier key type 0x${type.toString(16).padStart(2, '0')} is not supported`);
  }
  if (!equalBytes(id, keyId(name, type, material))) throw malformed('verifier key: key ID does not match the key');
  const why = checkEd25519PublicKey(material);
  if (why !== undefined) throw malformed(`verifier key: ${why}`);
  return type === SIG_TYPE_ED25519 ? ed25519Verifier(name, material, backend) : cosignatureVerifier(name, material, backend);
}

/**
 * formatSignerKey renders Go's signer key text `PRIVATE+KEY+<name>+<hex8>+<base64(type ‖
 * seed)>`; the key ID is that of the public key derived from the seed. Types 0x01 and
 * 0x04 (both Ed25519 seeds). This text is a secret.
 */
export function formatSignerKey(name: string, type: number, seed: Uint8Array): string {
  if (!isValidKeyName(name)) throw new RangeError(`invalid note key name ${JSON.stringify(name)}`);
  if (type !== SIG_TYPE_ED25519 && type !== SIG_TYPE_COSIGNATURE_V1) throw new RangeError(`unsupported signer key type ${type}`);
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes');
  const id = keyId(name, type, ed25519PublicKey(seed));
  return `PRIVATE+KEY+${name}+${toHex(id)}+${toBase64(concatBytes(new Uint8Array([type]), seed))}`;
}

/**
 * parseSignerKey parses a signer key (spec §4.3). The key ID must match the public key
 * derived from the seed. Throws LedgerError MALFORMED, or UNSUPPORTED for a type other
 * than 0x01 / 0x04.
 */
export function parseSignerKey(skey: string): { name: string; type: number; seed: Uint8Array; publicKey: Uint8Array } {
  if (typeof skey !== 'string') throw new TypeError('parseSignerKey: skey must be a string');
  if (!skey.startsWith('PRIVATE+KEY+')) throw malformed('signer key must start with PRIVATE+KEY+');
  const { name, id, type, material } = splitKey(skey.slice('PRIVATE+KEY+'.length), 'signer key');
  if (type !== SIG_TYPE_ED25519 && type !== SIG_TYPE_COSIGNATURE_V1) {
    throw new LedgerError('UNSUPPORTED', `signer key type 0x${type.toString(16).padStart(2, '0')} is not supported`);
  }
  if (material.length !== 32) throw malformed('signer key: Ed25519 seed must be 32 bytes');
  const publicKey = ed25519PublicKey(material);
  if (!equalBytes(id, keyId(name, type, publicKey))) throw malformed('signer key: key ID does not match the key');
  return { name, type, seed: material, publicKey };
}

function sameKey(a: { name: string; keyId: Uint8Array }, b: { name: string; keyId: Uint8Array }): boolean {
  return a.name === b.name && equalBytes(a.keyId, b.keyId);
}

/**
 * signNote signs text with each signer and encodes the note (spec §4.2), like Go's
 * note.Sign: the existing signatures come first, except those by a key (name and key
 * ID) that one of the signers replaces, then one new signature per signer in order.
 * RangeError for an invalid text or signer, or a result above the parse limits.
 */
export function signNote(text: string, signers: NoteSigner[], existing: NoteSignature[] = []): Uint8Array {
  if (!isValidNoteText(text)) throw new RangeError('note text must be non-empty, end in "\\n" and contain no control characters');
  const msg = utf8(text);
  const fresh = signers.map((s): NoteSignature => {
    if (!isValidKeyName(s.name)) throw new RangeError(`invalid signer name ${JSON.stringify(s.name)}`);
    return { name: s.name, keyId: s.keyId, sig: s.sign(msg) };
  });
  const kept = existing.filter((e) => !signers.some((s) => sameKey(s, e)));
  return formatNote({ text, sigs: [...kept, ...fresh] });
}

/** Options of openNote. */
export interface OpenNoteOptions {
  /**
   * requireAll: every verifier must have a verified signature on the note (for example
   * both the log key and the timestamp key); otherwise UNKNOWN_KEY. Default: at least one.
   */
  requireAll?: boolean;
}

/**
 * openNote parses and verifies a signed note (spec §4.4). A signature line whose name
 * and key ID both match a verifier is verified, every such line; one that fails rejects
 * the whole note with BAD_SIGNATURE. Lines by unknown keys (name or key ID differ) are
 * ignored. With no verified signature from the verifiers (or, with requireAll, from
 * each of them) throws UNKNOWN_KEY. Parse errors as parseNote.
 *
 * Returns the note (all its signature lines) and the verified signatures, one per
 * verifier, in note order. RangeError if two verifiers share a name and key ID but
 * not a key.
 */
export function openNote(bytes: Uint8Array, verifiers: NoteVerifier[], opts: OpenNoteOptions = {}): { note: Note; verified: NoteSignature[] } {
  for (let i = 0; i < verifiers.length; i++) {
    for (let j = i + 1; j < verifiers.length; j++) {
      const a = verifiers[i];
      const b = verifiers[j];
      if (sameKey(a, b) && (a.type !== b.type || !equalBytes(a.publicKey, b.publicKey))) {
        throw new RangeError(`ambiguous verifiers for key ${a.name}+${toHex(a.keyId)}`);
      }
    }
  }
  const note = parseNote(bytes);
  const msg = utf8(note.text);
  const verified: NoteSignature[] = [];
  // Two lines by one configured key: refused before anything is verified, so that a
  // note costs at most one signature check per configured key.
  const known = note.sigs.filter((sig) => verifiers.some((x) => sameKey(x, sig)));
  for (let i = 0; i < known.length; i++) {
    for (let j = i + 1; j < known.length; j++) {
      if (sameKey(known[i], known[j])) throw new LedgerError('MALFORMED', `note has two signatures by ${known[i].name}+${toHex(known[i].keyId)}`);
    }
  }
  for (const sig of note.sigs) {
    const v = verifiers.find((x) => sameKey(x, sig));
    if (v === undefined) continue; // unknown key: ignored (signed-note "Signatures")
    if (!v.verify(msg, sig.sig)) {
      throw new LedgerError('BAD_SIGNATURE', `signature by ${sig.name}+${toHex(sig.keyId)} does not verify`);
    }
    if (!verified.some((s) => sameKey(s, sig))) verified.push(sig);
  }
  if (verified.length === 0) throw new LedgerError('UNKNOWN_KEY', 'note has no signature by a known key');
  if (opts.requireAll) {
    for (const v of verifiers) {
      if (!verified.some((s) => sameKey(s, v))) {
        throw new LedgerError('UNKNOWN_KEY', `note has no signature by ${v.name}+${toHex(v.keyId)}`);
      }
    }
  }
  return { note, verified };
}
