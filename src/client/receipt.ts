/**
 * Receipts of POST /v1/entries (spec §8.6), verified against the entry bytes sent, and
 * the checkpoint verification they rest on (spec §5.4, §7.3). Pure: no I/O.
 */
import { LedgerError } from '../core/errors.js';
import type { CryptoBackend } from '../core/crypto.js';
import { equalBytes, utf8 } from '../core/bytes.js';
import { parseCheckpoint, type Checkpoint } from '../core/checkpoint.js';
import { cosignedTime } from '../core/cosignature.js';
import { formatSignatureLine, openNote, parseNote, parseVerifierKey, SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, type NoteSignature, type NoteVerifier } from '../core/note.js';
import { parseProofBundle, verifyProofBundle } from '../core/proof-bundle.js';
import { leafHash } from '../core/merkle.js';
import { isObject, malformed, readBase64, readText, readUint } from './http.js';

/** A verified receipt (spec §8.6). */
export interface Receipt {
  /** The entry's index in the log. */
  index: number;
  /** SHA-256(0x00 ‖ entry): the `parent` of a transfer that follows this event. */
  leafHash: Uint8Array;
  /** The size of the first checkpoint that covers the entry. */
  size: number;
  /** That checkpoint's cosignature time T (Unix seconds): when the entry was judged. */
  time: number;
  /** That checkpoint, as signed (log key and timestamp key). */
  checkpoint: Uint8Array;
  /** The c2sp.org/tlog-proof@v1 bundle proving the entry in that checkpoint (spec §7). */
  proof: string;
}

/** The verifiers of a dojang checkpoint, and the origin (the log key's name). */
export interface CheckpointVerifiers {
  origin: string;
  log: NoteVerifier;
  timestamp: NoteVerifier;
  /** The crypto backend the verifiers use (default: the facade's). */
  backend?: CryptoBackend;
}

/**
 * checkpointVerifiers parses the log key (type 0x01; its name is the origin) and the
 * timestamp key (type 0x04) vkeys (spec §4.3, §5.3), to verify on `backend` (default:
 * the facade's). MALFORMED (UNSUPPORTED for an unknown key type) if they are not.
 */
export function checkpointVerifiers(keys: { logKey: string; timestampKey: string }, backend?: CryptoBackend): CheckpointVerifiers {
  const log = parseVerifierKey(keys.logKey, backend);
  const timestamp = parseVerifierKey(keys.timestampKey, backend);
  if (log.type !== SIG_TYPE_ED25519) throw malformed('the log key must be an Ed25519 (0x01) key');
  if (timestamp.type !== SIG_TYPE_COSIGNATURE_V1) throw malformed('the timestamp key must be a cosignature/v1 (0x04) key');
  return { origin: log.name, log, timestamp, backend };
}

/** Checkpoints opened with a verifiers object, by note text: each is checked once. */
const opened = new WeakMap<CheckpointVerifiers, Map<string, { checkpoint: Checkpoint; time: number }>>();
/** How many opened checkpoints a verifiers object remembers. */
const OPENED_PER_VERIFIERS = 4096;

/** cosignedAt returns the time of the timestamp key's verified cosignature (UNKNOWN_KEY if none). */
function cosignedAt(verified: NoteSignature[], ts: NoteVerifier): number {
  const sig = verified.find((s) => s.name === ts.name && equalBytes(s.keyId, ts.keyId));
  if (sig === undefined) throw new LedgerError('UNKNOWN_KEY', 'the checkpoint has no timestamp cosignature');
  return cosignedTime(sig);
}

/**
 * openCheckpoint verifies a dojang checkpoint note (spec §5.4): signed by the log key
 * and cosigned by the timestamp key (BAD_SIGNATURE, UNKNOWN_KEY), a checkpoint
 * (MALFORMED) of the expected origin (INVALID_PROOF). Returns it with its cosignature
 * time T. A note whose text and log and timestamp signature lines verified once with
 * the same verifiers object is not checked again (the last OPENED_PER_VERIFIERS are
 * remembered), whatever other lines it carries.
 */
export function openCheckpoint(note: Uint8Array, v: CheckpointVerifiers): { checkpoint: Checkpoint; time: number } {
  let seen = opened.get(v);
  // Remembered by what the verification depends on: the text and the lines by the two
  // keys, as parsed (exact bytes, strictly decoded). Lines by other keys play no part, so
  // a known note with other lines added costs no signature check.
  const parsed = parseNote(note); // MALFORMED
  const mine = parsed.sigs.filter((g) => [v.log, v.timestamp].some((k) => k.name === g.name && equalBytes(k.keyId, g.keyId)));
  const key = `${parsed.text}\n${mine.map(formatSignatureLine).sort().join('')}`;
  const hit = seen?.get(key);
  if (hit !== undefined) return { checkpoint: { ...hit.checkpoint, root: hit.checkpoint.root.slice() }, time: hit.time }; // callers own what they get
  const { note: n, verified } = openNote(note, [v.log, v.timestamp], { requireAll: true });
  const checkpoint = parseCheckpoint(n.text);
  if (checkpoint.origin !== v.origin) throw new LedgerError('INVALID_PROOF', `the checkpoint is for log ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(v.origin)}`);
  const out = { checkpoint, time: cosignedAt(verified, v.timestamp) };
  if (seen === undefined) opened.set(v, (seen = new Map()));
  if (seen.size >= OPENED_PER_VERIFIERS) seen.delete(seen.keys().next().value as string);
  seen.set(key, out);
  return { checkpoint: { ...checkpoint, root: checkpoint.root.slice() }, time: out.time };
}

/**
 * verifyReceipt checks a receipt as POST /v1/entries answers it (spec §8.6: the JSON
 * { index, leafHash, size, time, checkpoint, proof }) for the entry bytes that were
 * sent: the proof bundle's checkpoint is the receipt's checkpoint, signed by the log key
 * and the timestamp key (BAD_SIGNATURE, UNKNOWN_KEY), of the log key's origin; the
 * bundle's index is the receipt's and it proves leafHash(entry) in that checkpoint; the
 * receipt's leafHash, size and time are that leaf hash, the checkpoint's size and its
 * cosignature time (INVALID_PROOF). MALFORMED for JSON of another shape. `keys` are
 * vkeys or verifiers made by checkpointVerifiers.
 */
export function verifyReceipt(entry: Uint8Array, json: unknown, keys: { logKey: string; timestampKey: string } | CheckpointVerifiers): Receipt {
  const v = 'log' in keys ? keys : checkpointVerifiers(keys);
  if (!isObject(json)) throw malformed('a receipt is a JSON object');
  const index = readUint(json.index, 'receipt index');
  const claimedLeaf = readBase64(json.leafHash, 'receipt leafHash', 32);
  const size = readUint(json.size, 'receipt size');
  const time = readUint(json.time, 'receipt time');
  const checkpoint = utf8(readText(json.checkpoint, 'receipt checkpoint'));
  const proof = readText(json.proof, 'receipt proof');
  const bundle = parseProofBundle(proof);
  if (!equalBytes(bundle.checkpoint, checkpoint)) throw new LedgerError('INVALID_PROOF', "the receipt's proof is against another checkpoint than the receipt's");
  if (bundle.index !== index) throw new LedgerError('INVALID_PROOF', `the receipt says index ${index}, its proof ${bundle.index}`);
  const { checkpoint: cp, verified } = verifyProofBundle(bundle, entry, [v.log, v.timestamp], { requireAll: true, origin: v.origin });
  const leaf = leafHash(entry);
  if (!equalBytes(claimedLeaf, leaf)) throw new LedgerError('INVALID_PROOF', 'the receipt names another leaf hash than the entry sent');
  if (cp.size !== size) throw new LedgerError('INVALID_PROOF', `the receipt says size ${size}, its checkpoint ${cp.size}`);
  const cosigned = cosignedAt(verified, v.timestamp);
  if (cosigned !== time) throw new LedgerError('INVALID_PROOF', `the receipt says time ${time}, its checkpoint was cosigned at ${cosigned}`);
  return { index, leafHash: leaf, size, time, checkpoint, proof };
}
