/**
 * The static mirror (issue 6, docs/operations.md): a log's checkpoint, hash tiles and
 * entry bundles written as files under the c2sp.org/tlog-tiles paths, for any static web
 * host, object store or CDN to serve.
 *
 *   OUT/checkpoint                       the latest checkpoint (the one mutable file)
 *   OUT/tile/<L>/<N>[.p/<W>]             hash tiles, full and partial
 *   OUT/tile/entries/<N>[.p/<W>]         entry bundles, full and partial
 *
 * Incremental and append-only: a tile or bundle that exists is never rewritten (its path
 * names its content forever); each new file is written to a temporary name, synced and
 * renamed. The checkpoint is written last, so a reader never sees a checkpoint whose
 * tiles are missing. Before anything is written the store's checkpoint is opened with
 * the log's keys, its root is recomputed from the stored hashes, and the mirror's
 * previous checkpoint (if any) must be a prefix of it — proved by a consistency proof —
 * so a mirror never publishes a fork of what it published before.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './files.js';
import { LedgerError, isLedgerError } from '../core/errors.js';
import { equalBytes } from '../core/bytes.js';
import { parseCheckpoint } from '../core/checkpoint.js';
import { parseNote } from '../core/note.js';
import { proveConsistency, treeHash, verifyConsistency } from '../core/merkle.js';
import { encodeEntryBundle, formatTilePath, tileForSize, tileHashIndices, TILE_WIDTH, type TileCoord } from '../core/tiles.js';
import { openCheckpoint, checkpointVerifiers } from '../client/receipt.js';
import type { LedgerStore } from '../storage/store.js';

/** What one mirror run did. */
export interface MirrorResult {
  size: number;
  /** Tiles and bundles written now, and those that were there already. */
  written: number;
  kept: number;
  /** The size of the mirror's checkpoint before this run (0: none). */
  previous: number;
}

/**
 * mirror writes the log in `store` to the directory `out` (module comment). `keys` are
 * the log's vkeys; the checkpoint must verify under them. STATE_MISMATCH when the store's
 * checkpoint root is not the root of its stored hashes; INCONSISTENT when the mirror holds
 * a checkpoint the store's tree does not extend (a fork, or a store rolled back).
 */
export async function mirror(store: LedgerStore, out: string, keys: { logKey: string; timestampKey: string }): Promise<MirrorResult> {
  const head = await store.readHead();
  if (head === undefined) throw new LedgerError('UNAVAILABLE', 'the store holds no log');
  const { checkpoint } = openCheckpoint(head.checkpoint, checkpointVerifiers(keys)); // BAD_SIGNATURE, UNKNOWN_KEY, INVALID_PROOF
  const size = checkpoint.size;
  if (size !== head.size) throw new LedgerError('STATE_MISMATCH', `the store's head is size ${head.size} but its checkpoint says ${size}`);
  const read = (ix: readonly number[]) => store.readHashes(ix);
  if (!equalBytes(await treeHash(size, read), checkpoint.root)) throw new LedgerError('STATE_MISMATCH', `the stored hashes do not make the root of the checkpoint of size ${size}`);

  // The mirror's previous checkpoint must be a prefix of this tree.
  let previous = 0;
  const cpPath = join(out, 'checkpoint');
  const old = await readFile(cpPath).catch((e) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  });
  if (old !== undefined) {
    let prev;
    try {
      prev = parseCheckpoint(parseNote(new Uint8Array(old)).text);
    } catch (e) {
      if (isLedgerError(e)) throw new LedgerError('INCONSISTENT', `${cpPath} is not a checkpoint: ${e.message}`, { cause: e });
      throw e;
    }
    if (prev.origin !== checkpoint.origin) throw new LedgerError('INCONSISTENT', `${out} mirrors ${prev.origin}, not ${checkpoint.origin}`);
    if (prev.size > size) throw new LedgerError('INCONSISTENT', `${out} holds a checkpoint of size ${prev.size}, beyond the store's ${size}: the store was rolled back, or is another log`);
    if (prev.size > 0) {
      const proof = prev.size === size ? [] : await proveConsistency(prev.size, size, read);
      try {
        if (prev.size === size) {
          if (!equalBytes(prev.root, checkpoint.root)) throw new LedgerError('INVALID_PROOF', 'another root at the same size');
        } else verifyConsistency(prev.size, size, proof, prev.root, checkpoint.root);
      } catch (e) {
        throw new LedgerError('INCONSISTENT', `${out} holds a checkpoint of size ${prev.size} that the store's tree of size ${size} does not extend: a fork`, { cause: e });
      }
    }
    previous = prev.size;
  }

  let written = 0;
  let kept = 0;
  const put = async (t: TileCoord, make: () => Promise<Uint8Array>) => {
    const path = join(out, formatTilePath(t));
    if (await exists(path)) {
      kept++;
      return;
    }
    await writeFileAtomic(path, await make(), 0o644);
    written++;
  };
  // Hash tiles, level by level, then entry bundles: all before the checkpoint.
  for (let level = 0; size >= 256 ** level; level++) {
    for (let index = 0; ; index++) {
      const width = tileForSize(level, index, size);
      if (width === 0) break;
      await put({ kind: 'hash', level, index, width }, async () => concat(await read(tileHashIndices({ level, index, width }))));
    }
  }
  for (let index = 0; index * TILE_WIDTH < size; index++) {
    const width = tileForSize(0, index, size);
    await put({ kind: 'entries', index, width }, async () => {
      const start = index * TILE_WIDTH;
      const entries = await store.readEntries(start, start + width);
      if (entries.length !== width) throw new LedgerError('STATE_MISMATCH', `entries ${start}..${start + width - 1} are not all stored`);
      return encodeEntryBundle(entries);
    });
  }
  await writeFileAtomic(cpPath, head.checkpoint, 0o644); // last: every tile it names exists
  return { size, written, kept, previous };
}

function concat(hashes: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(32 * hashes.length);
  hashes.forEach((h, i) => out.set(h, 32 * i));
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
