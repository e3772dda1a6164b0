/**
 * LedgerStore is the storage contract of the ledger (docs/spec.md §8 describes the
 * data; this comment is the contract). It is shaped around what the sequencer and the
 * read API need, not around any database. Every backend runs the shared conformance
 * suite in test/storage/conformance.ts.
 *
 * Vocabulary: the log holds `size` entries at indices 0..size-1. "Stored hashes" are
 * the Merkle hashes of every complete subtree, addressed by their stored-hash index
 * (core/merkle.ts storedHashIndex: the order in which Go's tlog writes them), so the
 * hashes of a tree of size n are exactly the indices 0..storedHashCount(n)-1.
 *
 * MUST rules:
 *  1. Durability: when append() or putLatestCheckpoint() resolves, the write survives a
 *     crash of the process or the machine (fsync / synchronous commit).
 *  2. Atomicity: an append() is all or nothing: entries, leaf index, stored hashes, the
 *     history checkpoint and the head become visible together, or none of them does,
 *     also across a crash.
 *  3. Compare-and-swap: append() and putLatestCheckpoint() take the size the caller
 *     believes is current; when the stored head has another size they reject with
 *     LedgerError CONFLICT and change nothing. (This fences a deposed writer.)
 *  4. Immutability: entries, stored hashes and history checkpoints are never
 *     overwritten or deleted once appended.
 *  5. Contiguity: append() gets the entries for indices expectedSize.. and the stored
 *     hashes for indices storedHashCount(expectedSize).. in order, with no gaps; a
 *     batch that does not fit is a caller bug (RangeError). So is a batch without
 *     entries, or a leaf hash or stored hash that is not 32 bytes.
 *  6. Reads never see a partial append, and may run concurrently with an append and
 *     with each other. Reads of what is not (yet) stored resolve to undefined / fewer
 *     items as documented per method; they never invent data.
 *  7. A store is used by one process that appends at a time; concurrent appenders are
 *     fenced by rule 3, not by locking.
 *  8. Arguments: indices, sizes and limits are non-negative safe integers; anything else
 *     is a caller bug (RangeError), as is a non-Uint8Array where bytes are expected
 *     (TypeError).
 *  9. Bytes returned are plain Uint8Arrays (never Node Buffers, which slice and compare
 *     differently), owned by the caller; the store keeps no reference to arrays it was
 *     given once the call resolves.
 * 10. open() and close() are idempotent; any other call on a store that is not open
 *     rejects with LedgerError UNAVAILABLE.
 */
export interface LedgerStore {
  /** Optional behaviour, declared by the backend (never guessed by callers). */
  readonly supports: StoreSupports;

  open(): Promise<void>;
  close(): Promise<void>;

  /** readHead returns the current size and latest signed checkpoint, or undefined when empty. */
  readHead(): Promise<StoredHead | undefined>;

  /** append stores one batch atomically and durably (rules 1–5). */
  append(batch: AppendBatch): Promise<void>;

  /**
   * putLatestCheckpoint replaces the latest checkpoint (a re-cosignature with a fresh
   * time, same size and root) durably, without adding a history entry. CAS on size
   * (an empty store has no checkpoint to replace: CONFLICT).
   */
  putLatestCheckpoint(size: number, checkpoint: Uint8Array): Promise<void>;

  /**
   * readHashes returns the stored hashes at the given stored-hash indices, in order.
   * Throws LedgerError NOT_FOUND if any index is not stored.
   */
  readHashes(indices: readonly number[]): Promise<Uint8Array[]>;

  /** readEntries returns the entries with indices in [start, end) that exist (fewer if end > size). */
  readEntries(start: number, end: number): Promise<Uint8Array[]>;

  /** findLeaf returns the index of the first entry with this leaf hash, or undefined. */
  findLeaf(leafHash: Uint8Array): Promise<number | undefined>;

  /** findLeaves is findLeaf for many hashes in one round trip (the sequencer's dedup), in order. */
  findLeaves(leafHashes: readonly Uint8Array[]): Promise<(number | undefined)[]>;

  /**
   * readCheckpoints returns history checkpoints (one per tree size ever published, as
   * first signed) with size >= fromSize, ascending, at most limit of them.
   */
  readCheckpoints(fromSize: number, limit: number): Promise<StoredCheckpoint[]>;
}

export interface StoreSupports {
  /** The backend can be used by several processes at once (fenced by CAS). */
  readonly multiProcess: boolean;
}

export interface StoredHead {
  readonly size: number;
  /** The latest signed checkpoint note for this size (may be a re-cosignature). */
  readonly checkpoint: Uint8Array;
}

export interface StoredCheckpoint {
  readonly size: number;
  readonly checkpoint: Uint8Array;
}

export interface AppendBatch {
  /** The size the caller believes is current: the index of entries[0]. */
  readonly expectedSize: number;
  readonly entries: readonly Uint8Array[];
  /** leafHashes[i] is the RFC 9162 leaf hash of entries[i] (for findLeaf). */
  readonly leafHashes: readonly Uint8Array[];
  /** Stored hashes with indices storedHashCount(expectedSize) .. storedHashCount(newSize)-1, in order. */
  readonly hashes: readonly Uint8Array[];
  /** The signed checkpoint of the new size: stored in the history and as the head. */
  readonly checkpoint: Uint8Array;
}
