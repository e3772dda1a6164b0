/**
 * Offline inclusion proofs (spec §7), implementing c2sp.org/tlog-proof@v1 text bundles:
 *
 *   c2sp.org/tlog-proof@v1\n
 *   extra <base64>\n                 (optional; unauthenticated)
 *   index <decimal, no leading zeros>\n
 *   <base64 32-byte hash>\n ...      (inclusion proof, leaf's sibling first)
 *   \n
 *   <signed checkpoint note, verbatim>
 *
 * The bundle ends with the note's last signature line, newline included.
 */
import { LedgerError } from './errors.js';
import { fromBase64, toBase64, utf8 } from './bytes.js';
import { parseCheckpoint, parseDecimal, type Checkpoint } from './checkpoint.js';
import { openNote, parseNote, MAX_NOTE_BYTES, type NoteSignature, type NoteVerifier, type OpenNoteOptions } from './note.js';
import { leafHash, verifyInclusion } from './merkle.js';

export const PROOF_BUNDLE_HEADER = 'c2sp.org/tlog-proof@v1';

/** An inclusion proof has at most one hash per tree level; sizes are below 2^53. */
export const MAX_PROOF_HASHES = 63;

export interface ProofBundle {
  /** Opaque extra data of the "extra" line; undefined when the line is absent. Unauthenticated. */
  extra?: Uint8Array;
  /** Zero-based index of the entry in the log: a non-negative safe integer. */
  index: number;
  /** The RFC 6962 / RFC 9162 inclusion proof, 32-byte hashes, leaf's sibling first. */
  proof: Uint8Array[];
  /** The signed checkpoint note, byte for byte as the log (and witnesses) signed it. */
  checkpoint: Uint8Array;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function malformed(message: string, cause?: unknown): LedgerError {
  return new LedgerError('MALFORMED', message, cause === undefined ? undefined : { cause });
}

/**
 * formatProofBundle renders a bundle (spec §7). RangeError for an index that is not a
 * non-negative safe integer, a proof hash that is not 32 bytes, more than
 * MAX_PROOF_HASHES hashes, or a checkpoint that is not a well-formed signed note.
 */
/**
 * The checkpoints formatProofBundle has checked, with their text: a batch's receipts
 * share one checkpoint object, checked once. Callers must not change a checkpoint's
 * bytes after formatting a bundle with it (the ledger never does).
 */
const checkedNotes = new WeakMap<Uint8Array, string>();

export function formatProofBundle(b: ProofBundle): string {
  if (!Number.isSafeInteger(b.index) || b.index < 0) throw new RangeError(`proof index must be a non-negative safe integer, not ${b.index}`);
  if (b.proof.length > MAX_PROOF_HASHES) throw new RangeError(`an inclusion proof has at most ${MAX_PROOF_HASHES} hashes`);
  for (const h of b.proof) {
    if (!(h instanceof Uint8Array) || h.length !== 32) throw new RangeError('proof hashes must be 32 bytes');
  }
  let note = checkedNotes.get(b.checkpoint);
  if (note === undefined) {
    try {
      parseNote(b.checkpoint);
      note = strictUtf8.decode(b.checkpoint);
    } catch (e) {
      throw new RangeError('proof bundle checkpoint is not a well-formed signed note', { cause: e });
    }
    checkedNotes.set(b.checkpoint, note);
  }
  let out = PROOF_BUNDLE_HEADER + '\n';
  if (b.extra !== undefined) out += `extra ${toBase64(b.extra)}\n`;
  out += `index ${b.index}\n`;
  for (const h of b.proof) out += toBase64(h) + '\n';
  return out + '\n' + note;
}

/** nextLine returns the line at pos (without its "\n") and the position after it. */
function nextLine(text: string, pos: number, what: string): [string, number] {
  const nl = text.indexOf('\n', pos);
  if (nl < 0) throw malformed(`proof bundle ends inside the ${what}`);
  return [text.slice(pos, nl), nl + 1];
}

/**
 * parseProofBundle parses a bundle strictly (spec §7): the exact header line; an
 * optional "extra " line of canonical base64 (possibly empty); "index " and a decimal
 * without leading zeros, at most 2^53 - 1; at most MAX_PROOF_HASHES lines of canonical
 * base64 of 32 bytes; one empty line; then a signed note that parseNote accepts and
 * whose text parseCheckpoint accepts, running to the end. Verifies nothing.
 * Throws LedgerError MALFORMED (TOO_LARGE for an oversized note).
 */
export function parseProofBundle(text: string): ProofBundle {
  if (typeof text !== 'string') throw new TypeError('parseProofBundle: text must be a string');
  if (text.length > MAX_NOTE_BYTES + 8192) throw new LedgerError('TOO_LARGE', 'proof bundle is too large');
  let [line, pos] = nextLine(text, 0, 'header');
  if (line !== PROOF_BUNDLE_HEADER) throw malformed(`proof bundle must start with ${PROOF_BUNDLE_HEADER}`);
  [line, pos] = nextLine(text, pos, 'index line');
  let extra: Uint8Array | undefined;
  if (line.startsWith('extra ')) {
    try {
      extra = fromBase64(line.slice('extra '.length));
    } catch (e) {
      throw malformed('proof bundle extra data is not canonical base64', e);
    }
    [line, pos] = nextLine(text, pos, 'index line');
  }
  if (!line.startsWith('index ')) throw malformed('proof bundle has no index line');
  const index = parseDecimal(line.slice('index '.length));
  if (index === undefined) throw malformed('proof bundle index is not a canonical decimal of at most 2^53 - 1');
  const proof: Uint8Array[] = [];
  for (;;) {
    [line, pos] = nextLine(text, pos, 'inclusion proof');
    if (line === '') break;
    if (proof.length === MAX_PROOF_HASHES) throw malformed(`proof bundle has more than ${MAX_PROOF_HASHES} proof hashes`);
    let h: Uint8Array;
    try {
      h = fromBase64(line);
    } catch (e) {
      throw malformed('proof bundle hash is not canonical base64', e);
    }
    if (h.length !== 32) throw malformed(`proof bundle hash is ${h.length} bytes, not 32`);
    proof.push(h);
  }
  const noteText = text.slice(pos);
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(noteText)) {
    throw malformed('proof bundle checkpoint is not well-formed Unicode');
  }
  const checkpoint = utf8(noteText);
  const note = parseNote(checkpoint);
  parseCheckpoint(note.text);
  return extra === undefined ? { index, proof, checkpoint } : { extra, index, proof, checkpoint };
}

/** parseProofBundleBytes decodes strict UTF-8 (MALFORMED) and runs parseProofBundle. */
export function parseProofBundleBytes(bytes: Uint8Array): ProofBundle {
  if (bytes.length > MAX_NOTE_BYTES + 8192) throw new LedgerError('TOO_LARGE', 'proof bundle is too large');
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch (e) {
    throw malformed('proof bundle is not valid UTF-8', e);
  }
  return parseProofBundle(text);
}

/** Options of verifyProofBundle. */
export interface VerifyProofBundleOptions extends OpenNoteOptions {
  /** The origin the checkpoint must name; a different one is INVALID_PROOF. */
  origin?: string;
}

/**
 * verifyProofBundle checks that entry is at b.index in the log whose checkpoint the
 * bundle carries (spec §7.3): opens the checkpoint note with the verifiers (openNote
 * rules: BAD_SIGNATURE, UNKNOWN_KEY; requireAll as there), parses its text as a
 * checkpoint (MALFORMED), checks opts.origin, and verifies the inclusion proof of
 * leafHash(entry) against the checkpoint's size and root (INVALID_PROOF). The extra
 * data plays no part. Returns the checkpoint and the verified signatures.
 */
export function verifyProofBundle(
  b: ProofBundle,
  entry: Uint8Array,
  verifiers: NoteVerifier[],
  opts: VerifyProofBundleOptions = {},
): { checkpoint: Checkpoint; verified: NoteSignature[] } {
  const { note, verified } = openNote(b.checkpoint, verifiers, opts);
  const checkpoint = parseCheckpoint(note.text);
  if (opts.origin !== undefined && checkpoint.origin !== opts.origin) {
    throw new LedgerError('INVALID_PROOF', `proof is for log ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(opts.origin)}`);
  }
  if (b.index >= checkpoint.size) throw new LedgerError('INVALID_PROOF', `index ${b.index} is not below the tree size ${checkpoint.size}`);
  verifyInclusion(leafHash(entry), b.index, checkpoint.size, b.proof, checkpoint.root); // INVALID_PROOF
  return { checkpoint, verified };
}
