/**
 * C2SP tlog-tiles (c2sp.org/tlog-tiles): tile paths, tile widths, the stored hashes that
 * make a tile, and entry bundles (spec §6).
 *
 * A tile at level L, index N holds up to 256 consecutive Merkle tree hashes of tree
 * level 8·L: hash i (0 ≤ i < 256) is MTH(D[(N·256 + i)·256^L : (N·256 + i + 1)·256^L]).
 * Level 0 tiles hold leaf hashes. An entry bundle `tile/entries/N` holds the entries
 * whose leaf hashes make level-0 tile N. A full tile is 256 wide; the rightmost tile of
 * a level is partial (1–255 wide) and named with a `.p/W` suffix.
 *
 * Paths are relative to the log's prefix and have no leading slash:
 *
 *     tile/<L>/<N>[.p/<W>]        tile/entries/<N>[.p/<W>]
 *
 * <L> is decimal 0–63 without leading zeros; <N> is written in 3-digit groups, every
 * group but the last prefixed with "x" (1234067 → x001/x234/067); <W> is decimal
 * 1–255 without leading zeros. Exactly one path names each tile.
 *
 * Go's golang.org/x/mod/sumdb/tlog writes the same tiles as `tile/8/<L>/<N>[.p/<W>]`
 * (tile height in the path) and data tiles as `tile/8/data/<N>`; C2SP drops the height
 * (always 8) and renames "data" to "entries". Index groups, the .p suffix and the hash
 * content are identical.
 */
import { LedgerError } from './errors.js';
import { storedHashIndex } from './merkle.js';

/** TILE_HEIGHT is the height of the subtree a tile covers: 2^8 = 256 hashes. */
export const TILE_HEIGHT = 8;
/** TILE_WIDTH is the number of hashes in a full tile, and of entries in a full bundle. */
export const TILE_WIDTH = 256;
/** MAX_ENTRY_SIZE is the largest entry a bundle can carry (its uint16 length prefix). */
export const MAX_ENTRY_SIZE = 65535;
/** MAX_TILE_LEVEL is the highest level a tile path may name (c2sp.org/tlog-tiles). */
export const MAX_TILE_LEVEL = 63;

export type TileCoord =
  | { kind: 'hash'; level: number; index: number; width: number }
  | { kind: 'entries'; index: number; width: number };

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * maxTileIndex is the highest index a tile at `level` can have in a tree of at most
 * 2^53 - 1 leaves (our tree sizes are safe integers): floor((2^53 - 1) / 256^(level+1)).
 */
function maxTileIndex(level: number): number {
  return Math.floor(MAX_SAFE / 2 ** (TILE_HEIGHT * (level + 1)));
}

function checkCoord(t: TileCoord): void {
  if (t === null || typeof t !== 'object') throw new TypeError('tile: not a TileCoord');
  if (t.kind !== 'hash' && t.kind !== 'entries') throw new TypeError(`tile: unknown kind ${String((t as { kind: unknown }).kind)}`);
  const level = t.kind === 'hash' ? t.level : 0;
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) throw new RangeError(`tile: bad level ${level}`);
  if (!Number.isSafeInteger(t.index) || t.index < 0 || t.index > maxTileIndex(level)) {
    throw new RangeError(`tile: bad index ${t.index}`);
  }
  if (!Number.isInteger(t.width) || t.width < 1 || t.width > TILE_WIDTH) throw new RangeError(`tile: bad width ${t.width}`);
}

/** formatIndex writes a tile index in 3-digit groups, all but the last prefixed "x". */
function formatIndex(n: number): string {
  let s = String(n % 1000).padStart(3, '0');
  for (n = Math.floor(n / 1000); n > 0; n = Math.floor(n / 1000)) {
    s = `x${String(n % 1000).padStart(3, '0')}/${s}`;
  }
  return s;
}

/**
 * formatTilePath returns the one canonical path of a tile or entry bundle, e.g.
 * "tile/0/x001/x234/067", "tile/1/000.p/12", "tile/entries/005". A full tile (width
 * 256) has no ".p/" suffix. Throws RangeError/TypeError for an invalid coordinate
 * (level outside 0–63, width outside 1–256, index negative or beyond a 2^53 tree).
 */
export function formatTilePath(t: TileCoord): string {
  checkCoord(t);
  const level = t.kind === 'hash' ? String(t.level) : 'entries';
  const partial = t.width < TILE_WIDTH ? `.p/${t.width}` : '';
  return `tile/${level}/${formatIndex(t.index)}${partial}`;
}

// Syntax only; ranges and the single-canonical-form rule are checked after.
const TILE_PATH = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/**
 * parseTilePath parses a tile or entry-bundle path relative to the log prefix (no
 * leading slash), accepting exactly the strings formatTilePath writes: level 0–63
 * without leading zeros, index groups of exactly three digits with "x" on all but the
 * last and no leading all-zero group, and for partial tiles ".p/W" with W 1–255 without
 * leading zeros. Indexes beyond what a tree of 2^53 - 1 leaves has at that level are
 * refused. Throws LedgerError MALFORMED (c2sp.org/tlog-tiles; spec §6.1).
 */
export function parseTilePath(path: string): TileCoord {
  if (typeof path !== 'string') throw new TypeError('parseTilePath: path must be a string');
  if (path.length > 64) throw new LedgerError('MALFORMED', 'tile path too long');
  const m = TILE_PATH.exec(path);
  if (m === null) throw new LedgerError('MALFORMED', 'not a tile path');
  const [, levelText, indexText, widthText] = m;
  const isEntries = levelText === 'entries';
  const level = isEntries ? 0 : Number(levelText);
  if (level > MAX_TILE_LEVEL) throw new LedgerError('MALFORMED', 'tile level above 63');
  const groups = indexText.split('/');
  if (groups.length > 1 && groups[0] === 'x000') throw new LedgerError('MALFORMED', 'tile index has a leading zero group');
  if (groups.length > 6) throw new LedgerError('MALFORMED', 'tile index too large');
  let index = 0;
  for (const g of groups) index = index * 1000 + Number(g.slice(-3));
  if (index > maxTileIndex(level)) throw new LedgerError('MALFORMED', 'tile index too large');
  const width = widthText === undefined ? TILE_WIDTH : Number(widthText);
  if (widthText !== undefined && width >= TILE_WIDTH) throw new LedgerError('MALFORMED', 'partial tile width must be 1 to 255');
  const t: TileCoord = isEntries ? { kind: 'entries', index, width } : { kind: 'hash', level, index, width };
  // Belt and braces, as Go's tlog.ParseTilePath: exactly one path names each tile.
  if (formatTilePath(t) !== path) throw new LedgerError('MALFORMED', 'tile path is not in canonical form');
  return t;
}

/**
 * tileForSize returns the width of tile (level, index) in a tree of `size` leaves: 256
 * if the tile is full, 1–255 for the rightmost partial tile of that level
 * (floor(size / 256^level) mod 256), 0 if the tile does not exist (empty tiles are
 * never served). Entry bundle N has the width of level-0 tile N. Throws RangeError for
 * arguments out of range (c2sp.org/tlog-tiles "Partial Tiles"; spec §6.2).
 */
export function tileForSize(level: number, index: number, size: number): number {
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) throw new RangeError(`tileForSize: bad level ${level}`);
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`tileForSize: bad index ${index}`);
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`tileForSize: bad size ${size}`);
  // Division by a power of two is exact in binary floating point, so floor is exact.
  const hashes = Math.floor(size / 2 ** (TILE_HEIGHT * level)); // complete hashes at tree level 8·level
  const start = index * TILE_WIDTH;
  if (hashes <= start) return 0;
  return Math.min(TILE_WIDTH, hashes - start);
}

/**
 * tileHashIndices returns the stored-hash indices (merkle.ts storedHashIndex, the
 * numbering of Go's tlog.StoredHashIndex) of the hashes that make tile (level, index)
 * of the given width, in tile order: storedHashIndex(8·level, 256·index + i) for
 * i = 0 … width - 1. Throws RangeError for a tile outside a tree of 2^52 leaves.
 */
export function tileHashIndices(t: { level: number; index: number; width: number }): number[] {
  checkCoord({ kind: 'hash', level: t.level, index: t.index, width: t.width });
  const first = t.index * TILE_WIDTH;
  // Stored-hash indices of a tree of n leaves run to about 2n: they stay safe integers
  // for trees of up to 2^52 leaves (the bound merkle.ts enforces).
  if ((first + t.width) * 2 ** (TILE_HEIGHT * t.level + 1) > 2 ** 53) throw new RangeError('tileHashIndices: tile beyond a 2^52-leaf tree');
  const out = new Array<number>(t.width);
  for (let i = 0; i < t.width; i++) out[i] = storedHashIndex(TILE_HEIGHT * t.level, first + i);
  return out;
}

/**
 * encodeEntryBundle writes a C2SP entry bundle: each entry as a big-endian uint16
 * length followed by its bytes, in order. Throws LedgerError TOO_LARGE for an entry
 * longer than 65,535 bytes, RangeError for more than 256 entries (spec §6.3).
 */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length > TILE_WIDTH) throw new RangeError(`entry bundle: ${entries.length} entries, at most 256`);
  let n = 0;
  for (const e of entries) {
    if (!(e instanceof Uint8Array)) throw new TypeError('entry bundle: entries must be Uint8Array');
    if (e.length > MAX_ENTRY_SIZE) throw new LedgerError('TOO_LARGE', `entry of ${e.length} bytes exceeds 65535`);
    n += 2 + e.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const e of entries) {
    out[o] = e.length >> 8;
    out[o + 1] = e.length & 0xff;
    out.set(e, o + 2);
    o += 2 + e.length;
  }
  return out;
}

/**
 * decodeEntryBundle splits an entry bundle into its entries (copies, not views). With
 * `width`, the bundle must hold exactly that many entries. Throws LedgerError
 * MALFORMED for a truncated length or entry, more than 256 entries, or a count other
 * than `width` (spec §6.3).
 */
export function decodeEntryBundle(bytes: Uint8Array, width?: number): Uint8Array[] {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decodeEntryBundle: bytes must be a Uint8Array');
  if (width !== undefined && (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH)) {
    throw new RangeError(`decodeEntryBundle: bad width ${width}`);
  }
  bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength); // slices copy even for a Buffer
  const out: Uint8Array[] = [];
  let o = 0;
  while (o < bytes.length) {
    if (out.length === TILE_WIDTH) throw new LedgerError('MALFORMED', 'entry bundle has more than 256 entries');
    if (o + 2 > bytes.length) throw new LedgerError('MALFORMED', 'entry bundle truncated in a length prefix');
    const len = (bytes[o] << 8) | bytes[o + 1];
    o += 2;
    if (o + len > bytes.length) throw new LedgerError('MALFORMED', 'entry bundle truncated in an entry');
    out.push(bytes.slice(o, o + len));
    o += len;
  }
  if (width !== undefined && out.length !== width) {
    throw new LedgerError('MALFORMED', `entry bundle has ${out.length} entries, expected ${width}`);
  }
  return out;
}
