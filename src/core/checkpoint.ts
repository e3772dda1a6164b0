/**
 * Checkpoints (spec §5.5), implementing c2sp.org/tlog-checkpoint: the text of a signed
 * note (note.ts) that states a log's tree head.
 *
 *   <origin>\n
 *   <tree size: decimal, no leading zeros>\n
 *   <root hash: base64 of 32 bytes>\n
 *   <extension line>\n ...   (optional, each non-empty)
 *
 * Sizes are JavaScript safe integers (at most 2^53 - 1), far above any real log; a
 * larger size is refused as MALFORMED rather than silently rounded.
 */
import { LedgerError } from './errors.js';
import { fromBase64, toBase64 } from './bytes.js';

export interface Checkpoint {
  /** The log's origin line: non-empty, no control characters. */
  origin: string;
  /** The number of leaves: a non-negative safe integer. */
  size: number;
  /** The RFC 6962 root hash at that size, 32 bytes. */
  root: Uint8Array;
  /** Opaque extension lines (without their newlines), each non-empty. Usually []. */
  extensions: string[];
}

// Any ASCII control character: a line may contain none (and "\n" ends it).
const CONTROL = /[\u0000-\u001f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

function validLine(line: string): boolean {
  return line.length > 0 && !CONTROL.test(line) && !LONE_SURROGATE.test(line);
}

/**
 * parseDecimal parses an ASCII decimal with no leading zeros (unless "0") into a safe
 * integer; undefined when s is not one. Shared by checkpoint and proof-bundle parsing.
 */
export function parseDecimal(s: string): number | undefined {
  if (!DECIMAL.test(s) || s.length > 16) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * formatCheckpoint renders the checkpoint note text (spec §5.5). RangeError for an
 * empty or multi-line origin, a size that is not a non-negative safe integer, a root
 * that is not 32 bytes, or an empty or multi-line extension.
 */
export function formatCheckpoint(c: Checkpoint): string {
  if (!validLine(c.origin)) throw new RangeError('checkpoint origin must be a non-empty line without control characters');
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new RangeError(`checkpoint size must be a non-negative safe integer, not ${c.size}`);
  if (!(c.root instanceof Uint8Array) || c.root.length !== 32) throw new RangeError('checkpoint root must be 32 bytes');
  for (const e of c.extensions) {
    if (!validLine(e)) throw new RangeError('checkpoint extension lines must be non-empty, without control characters');
  }
  return [c.origin, String(c.size), toBase64(c.root), ...c.extensions].map((l) => l + '\n').join('');
}

/**
 * parseCheckpoint parses checkpoint note text strictly (spec §5.5): at least three
 * lines, each ending in "\n"; a non-empty origin; the size in decimal without leading
 * zeros, at most 2^53 - 1; the root as canonical padded base64 of exactly 32 bytes;
 * extension lines non-empty; no control characters. Throws LedgerError MALFORMED.
 *
 * The origin is not checked against key-name rules: the spec lets any non-empty line be
 * an origin. Callers compare it with the origin they expect.
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string') throw new TypeError('parseCheckpoint: text must be a string');
  if (!text.endsWith('\n')) throw new LedgerError('MALFORMED', 'checkpoint must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new LedgerError('MALFORMED', 'checkpoint has fewer than three lines');
  for (const line of lines) {
    if (!validLine(line)) throw new LedgerError('MALFORMED', 'checkpoint has an empty line or a control character');
  }
  const [origin, sizeText, rootText, ...extensions] = lines;
  const size = parseDecimal(sizeText);
  if (size === undefined) throw new LedgerError('MALFORMED', 'checkpoint size is not a canonical decimal of at most 2^53 - 1');
  let root: Uint8Array;
  try {
    root = fromBase64(rootText);
  } catch (e) {
    throw new LedgerError('MALFORMED', 'checkpoint root is not canonical base64', { cause: e });
  }
  if (root.length !== 32) throw new LedgerError('MALFORMED', `checkpoint root is ${root.length} bytes, not 32`);
  return { origin, size, root, extensions };
}
