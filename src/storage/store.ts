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
 *     history checkpoint, the head and the batch's state writes (rule 11) become visible
 *     together, or none of them does, also across a crash.
 *  3. Compare-and-swap: append() and putLatestCheckpoint() take the size the caller
 *     believes is current; when the stored head has another size they reject with
 *     LedgerError CONFLICT and change nothing. (This fences a deposed writer.)
 *  4. Immutability: entries, stored hashes and history checkpoints are never
 *     overwritten or deleted once appended. (The state index of rule 11 is the one
 *     mutable record set besides the head.)
 *  5. Contiguity: append() gets the entries for indices expectedSize.. and the stored
 *     hashes for indices storedHashCount(expectedSize).. in order, with no gaps; a
 *     batch that does not fit is a caller bug (RangeError). So is a batch without
 *     entries, or a leaf hash or stored hash that is not 32 bytes.
 *  6. Reads never see a partial append (readState included: rule 11), and may run
 *     concurrently with an append and with each other. Reads of what is not (yet)
 *     stored resolve to undefined / fewer items as documented per method; they never
 *     invent data.
 *  7. One store object appends at a time; concurrent appenders are fenced by rule 3, and
 *     on a multiProcess store by terms (rule 12), not by locking. Which process appends
 *     is the Coordinator's business (spec §8.4b).
 *  8. Arguments: indices, sizes and limits are non-negative safe integers; anything else
 *     is a caller bug (RangeError), as is a non-Uint8Array where bytes are expected
 *     (TypeError).
 *  9. Bytes returned are plain Uint8Arrays (never Node Buffers, which slice and compare
 *     differently), owned by the caller; the store keeps no reference to arrays it was
 *     given once the call resolves.
 * 10. open() and close() are idempotent; any other call on a store that is not open
 *     rejects with LedgerError UNAVAILABLE.
 * 11. State index: besides the log, a store keeps a small mutable map from keys to
 *     values (the state the certificate rules of docs/spec.md §5.9 judge against). It is
 *     written only by append(), through batch.state, and read only by readState().
 *     a. Bounds: a key is 1–STATE_KEY_MAX (64) bytes and a value 0–STATE_VALUE_MAX
 *        (65,536) bytes; anything else is a caller bug (RangeError), as is a write that
 *        is not { key: Uint8Array, value: Uint8Array | null } or a state that is not an
 *        array (TypeError). The whole batch is checked before anything is written.
 *     b. Atomicity: a batch's state writes become visible and durable together with its
 *        entries (rules 1–2), applied in order, so the later of two writes to one key in
 *        a batch wins. When the append is refused (CONFLICT, RangeError, TypeError) none
 *        of them is applied; when it fails, they are applied exactly when its entries
 *        are (all or nothing, rule 2).
 *     c. Mutability: unlike entries, a key may be overwritten, and deleted (value null),
 *        by any later batch; deleting an absent key is no error. A zero-length value is
 *        present, distinct from a deleted key. Only the current state is kept, no history.
 *     d. Reads: readState(keys) answers every key in one round trip, in order (repeats
 *        allowed): the value, or undefined when the key has none. All keys of one call
 *        are read at one point between appends: they reflect every state write of an
 *        append or none of them, and at least every append that resolved before the call.
 *        So a reader that sees a batch's state can then read its entries, and a reader
 *        that has read a batch's head or entries then sees (at least) its state.
 *     e. Keys are opaque to the store; they never collide with the log's own records.
 * 12. Terms (multiProcess stores): claim() durably raises the store's term by one and
 *     makes it this store object's own. append() and putLatestCheckpoint() check, in the
 *     transaction that writes, that the term is still the object's own (0 for an object
 *     that never claimed) and otherwise reject with CONFLICT and change nothing. So once
 *     another object (in any process) has claimed, a writer that claimed before can never
 *     write again, even at the current size. A claim waits for a write in flight.
 * 13. Annexes: besides the history, a store keeps at most one annex per (kind, size):
 *     bytes attached to the history checkpoint of that size (kind 'timestamp': an RFC 3161
 *     TimeStampToken, spec §14; kind 'witnessed': the checkpoint as published with witness
 *     cosignatures, §13.5). Annexes are evidence that readers verify, never trust.
 *     a. Bounds: bytes are 1–ANNEX_MAX (65,536) bytes; anything else is a RangeError, a
 *        kind that is not an AnnexKind a TypeError (rule 8 for sizes and limits), all
 *        checked before anything is written.
 *     b. putAnnex replaces the annex of that (kind, size), durably when it resolves (rule
 *        1). It is not fenced by terms (rule 12) nor by the head: any process may store
 *        one, for any size, also one the history does not hold (yet).
 *     c. Reads: readAnnexes(kind, fromSize, limit) answers the annexes of kind with size >=
 *        fromSize, ascending by size, at most limit; latestAnnex(kind) the one with the
 *        largest size, or undefined. Kinds never see each other's annexes, and annexes
 *        never collide with the log's own records or the state index.
 */
export interface LedgerStore {
  /** Optional behaviour, declared by the backend (never guessed by callers). */
  readonly supports: StoreSupports;

  /** claim makes this object the log's one writer (rule 12) and returns the new term. multiProcess stores only. */
  claim?(): Promise<number>;

  /**
   * coordinator returns the link between the processes sharing this store (spec §8.4b):
   * the sequencer lock, change notifications and the queue of forwarded writes. Only
   * stores that several processes can write offer it.
   */
  coordinator?(): Coordinator;

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
   * readState returns the state-index value of each key (rule 11d), or undefined where
   * the key has none, in order, in one round trip, as of one point between appends.
   * A key that is not 1–64 bytes is a RangeError, one that is not a Uint8Array (or keys
   * that are not an array) a TypeError; a store that is not open rejects with
   * LedgerError UNAVAILABLE. Values are plain Uint8Arrays owned by the caller (rule 9).
   */
  readState(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]>;

  /**
   * readCheckpoints returns history checkpoints (one per tree size ever published, as
   * first signed) with size >= fromSize, ascending, at most limit of them.
   */
  readCheckpoints(fromSize: number, limit: number): Promise<StoredCheckpoint[]>;

  /**
   * putAnnex stores bytes attached to the checkpoint of `size` under `kind`, replacing an
   * earlier one of that (kind, size); durable when it resolves (rule 1). Not fenced by
   * terms: annexes are evidence that readers verify (rule 13).
   */
  putAnnex(kind: AnnexKind, size: number, bytes: Uint8Array): Promise<void>;

  /** readAnnexes returns the annexes of kind with size >= fromSize, ascending, at most limit (rule 13c). */
  readAnnexes(kind: AnnexKind, fromSize: number, limit: number): Promise<StoredAnnex[]>;

  /** latestAnnex returns the annex of kind with the largest size, or undefined (rule 13c). */
  latestAnnex(kind: AnnexKind): Promise<StoredAnnex | undefined>;
}

/**
 * AnnexKind names what an annex holds (rule 13): 'timestamp' an RFC 3161 TimeStampToken
 * in DER over the checkpoint text of its size (spec §14); 'witnessed' the checkpoint of
 * its size as published with witness cosignatures (spec §13.5).
 */
export type AnnexKind = 'timestamp' | 'witnessed';

/** ANNEX_KINDS lists every AnnexKind. */
export const ANNEX_KINDS: readonly AnnexKind[] = Object.freeze(['timestamp', 'witnessed'] as const);

/** ANNEX_MAX is the largest annex in bytes (rule 13a; an annex has at least 1 byte). */
export const ANNEX_MAX = 65_536;

export interface StoredAnnex {
  readonly size: number;
  readonly bytes: Uint8Array;
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
  /**
   * State-index writes applied atomically with this batch, in order: the later of two
   * writes to one key wins (rule 11). Absent or empty: the state is unchanged.
   */
  readonly state?: readonly StateWrite[];
}

/** StateWrite sets key to value in the state index (rule 11), or deletes it when value is null. */
export interface StateWrite {
  /** 1–STATE_KEY_MAX bytes, opaque to the store. */
  readonly key: Uint8Array;
  /** 0–STATE_VALUE_MAX bytes; null deletes the key. */
  readonly value: Uint8Array | null;
}

/** STATE_KEY_MAX is the longest state-index key in bytes (rule 11a; keys are at least 1 byte). */
export const STATE_KEY_MAX = 64;

/** STATE_VALUE_MAX is the longest state-index value in bytes (rule 11a; 0 bytes is a value). */
export const STATE_VALUE_MAX = 65_536;

/**
 * Coordinator links the processes that share one store (spec §8.4b). Each process has one
 * control session: it holds the sequencer lock while the process leads (a lease the
 * database ends when the process dies or stops answering), and receives notifications.
 * Forwarded writes wait in a queue in the store until the leader answers them.
 */
export interface Coordinator {
  /** start opens the control session; `on` hears what other processes change. */
  start(on: CoordinatorEvents): Promise<void>;
  /** tryLead takes the sequencer lock if no session holds it; true while this one holds it. */
  tryLead(): Promise<boolean>;
  /** resign releases the sequencer lock if this session holds it. */
  resign(): Promise<void>;
  /** enqueue stores forwarded writes (not yet acknowledged, so not synchronously) and wakes the leader; returns their ids. */
  enqueue(writes: readonly QueuedWrite[]): Promise<number[]>;
  /** take marks up to `limit` queued writes not taken under the current term as the leader's, oldest first. */
  take(limit: number): Promise<{ id: number; write: QueuedWrite }[]>;
  /** release puts taken writes back for a later take (the leader could not judge them now). */
  release(ids: readonly number[]): Promise<void>;
  /** settle records the answers to taken writes and wakes their submitters. */
  settle(answers: readonly QueueAnswer[]): Promise<void>;
  /** collect returns the answers among `ids` and removes those writes from the queue. */
  collect(ids: readonly number[]): Promise<QueueAnswer[]>;
  /** prune removes writes older than `seconds` (their submitters gave up long ago). */
  prune(seconds: number): Promise<void>;
  /** close ends the control session (and so releases the lock). Idempotent. */
  close(): Promise<void>;
}

export interface CoordinatorEvents {
  /** The head changed (an append or a re-cosignature). */
  head(): void;
  /** Writes were queued. */
  queued(): void;
  /** Queued writes were answered. */
  settled(): void;
  /** The control session ended: the lock, if held, is gone; the coordinator reconnects. */
  lost(reason: string): void;
}

export interface QueuedWrite {
  readonly entry: Uint8Array;
  /** The submitting process parsed the entry as a certificate event and checked its signature. */
  readonly verified: boolean;
}

/** QueueAnswer is the leader's answer to a queued write: its index, or the refusal. */
export type QueueAnswer =
  | { readonly id: number; readonly index: number; readonly duplicate: boolean; /** The leader's receipt, encoded (spec §8.4b). */ readonly receipt?: Uint8Array }
  | { readonly id: number; readonly code: string; readonly message: string };
