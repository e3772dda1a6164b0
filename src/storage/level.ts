import { Level } from 'level';
import { LedgerError } from '../core/errors.js';
import { byteKey, equalBytes } from '../core/bytes.js';
import { annexKindCode, checkAnnex, checkAnnexKind, checkBatch, checkCheckpoint, checkHash, checkIndex, checkStateKey, HASH_SIZE } from './checks.js';
import {
  type AnnexKind,
  type AppendBatch,
  type LedgerStore,
  type StoredAnnex,
  type StoreSupports,
  type StoredCheckpoint,
  type StoredHead,
} from './store.js';

/**
 * LevelStore is the default LedgerStore (src/storage/store.ts states the contract; the
 * layout below is docs/spec.md §8 "Storage"): one LevelDB directory (classic-level via
 * the `level` package), used by a single process, which LevelDB enforces with its LOCK
 * file (a second opener gets LedgerError UNAVAILABLE).
 *
 * Key layout. Keys and values are raw bytes. Every key starts with a one-byte prefix;
 * numbers are big-endian u64, so that byte order is numeric order and range scans
 * come out ascending:
 *
 *   0x00                                  → "dojang-level/1" (format marker, UTF-8)
 *   0x01                                  → u64(size) ‖ latest checkpoint note (head)
 *   0x02 ‖ u64(entry index)               → entry bytes
 *   0x03 ‖ u64(stored-hash index)         → 32-byte stored hash
 *   0x04 ‖ leaf hash (32 bytes)           → u64(index of the FIRST entry with that leaf hash)
 *   0x05 ‖ u64(tree size)                 → checkpoint note as first signed for that size
 *   0x06 ‖ state key (1–64 bytes)         → state value (0–65,536 bytes; contract rule 11)
 *   0x07 ‖ kind code ‖ u64(tree size)     → annex bytes (rule 13; kind code 1 timestamp, 2 witnessed)
 *
 * putAnnex() writes one annex record (0x07), overwriting an earlier one of its (kind,
 * size), through the same write queue and with `sync: true`; it checks no head size.
 * Otherwise only append() and putLatestCheckpoint() write, and each write is one LevelDB
 * WriteBatch committed with `sync: true`, so atomicity (rule 2) and durability (rule 1)
 * come from LevelDB's write-ahead log (a batch is one log record: replayed whole or not
 * at all). An append's state writes (rule 11) are puts and deletes in that same batch,
 * in the caller's order; LevelDB applies a batch in order, so the later write to a key
 * wins. Appends and head replacements are serialised in-process (a promise
 * chain) and the compare-and-swap on the size is checked inside that critical section
 * against the head size held in memory (exact, because the LOCK file keeps every other
 * process out). A leaf-hash record is written only when that leaf hash has none yet, so
 * findLeaf is one point lookup (LevelDB's bloom filter makes misses cheap) and returns
 * the first index. No record is ever overwritten or deleted, except the head (0x01) and
 * the state records (0x06), which only appends write. readState is one getMany, which
 * reads every key from one implicit LevelDB snapshot, so a call never mixes two appends.
 *
 * Returned bytes are plain Uint8Arrays (never Node Buffers, whose slice() and equality
 * differ), zero-copy views of a fresh allocation per value, owned by the caller.
 *
 * Errors: a store that is not open rejects with LedgerError UNAVAILABLE, as does an
 * open that fails (directory in use, missing with createIfMissing false, not a LevelDB
 * directory) or a LevelDB I/O failure; a directory holding another format is
 * UNSUPPORTED. CONFLICT, NOT_FOUND and RangeError/TypeError as in the contract.
 */
export class LevelStore implements LedgerStore {
  readonly supports: StoreSupports = Object.freeze({ multiProcess: false });

  readonly #dir: string;
  readonly #opts: LevelStoreOptions;
  /**
   * The open database; undefined while closed (a Level opens itself once constructed).
   * It stays set while a close drains the write queue: #closing is what refuses new calls.
   */
  #db: Level<Uint8Array, Uint8Array> | undefined;
  #opening: Promise<void> | undefined;
  /** Set from the moment close() begins until the database is closed. */
  #closing: Promise<void> | undefined;
  /** The head size as stored (0 when empty); undefined after a failed write: re-read it. */
  #size: number | undefined;
  /** Tail of the write queue: appends and head replacements run one at a time. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(dir: string, opts: LevelStoreOptions = {}) {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('LevelStore: dir must be a non-empty string');
    this.#dir = dir;
    this.#opts = { ...opts };
  }

  /** open opens the directory (idempotent). Throws LedgerError UNAVAILABLE or UNSUPPORTED. */
  open(): Promise<void> {
    if (this.#db && !this.#closing) return Promise.resolve();
    const closed = (this.#closing ?? Promise.resolve()).catch(() => {});
    this.#opening ??= closed.then(() => this.#doOpen()).finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #doOpen(): Promise<void> {
    const { createIfMissing = true, cacheSize, writeBufferSize } = this.#opts;
    const db = new Level<Uint8Array, Uint8Array>(this.#dir, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      createIfMissing,
      ...(cacheSize !== undefined ? { cacheSize } : {}),
      ...(writeBufferSize !== undefined ? { writeBufferSize } : {}),
    });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new LedgerError('UNAVAILABLE', `ledger directory ${this.#dir} is in use by another process (LevelDB LOCK)`, {
          cause: e,
        });
      }
      throw new LedgerError('UNAVAILABLE', `cannot open ledger directory ${this.#dir}: ${cause?.message ?? String(e)}`, {
        cause: e,
      });
    }
    try {
      await this.#checkFormat(db);
      this.#size = await loadSize(db);
    } catch (e) {
      await db.close().catch(() => {});
      throw storageError(e);
    }
    this.#db = db;
  }

  async #checkFormat(db: Level<Uint8Array, Uint8Array>): Promise<void> {
    const marker = await db.get(KEY_META);
    if (marker !== undefined) {
      if (!equalBytes(marker, FORMAT)) {
        throw new LedgerError('UNSUPPORTED', `ledger directory ${this.#dir} holds an unknown storage format`);
      }
      return;
    }
    const any = await db.keys({ limit: 1 }).all();
    if (any.length > 0) {
      throw new LedgerError('UNSUPPORTED', `ledger directory ${this.#dir} is a LevelDB database but not a dojang ledger`);
    }
    await db.put(KEY_META, FORMAT, { sync: true });
  }

  /**
   * close lets every write already called (in progress or queued behind it) finish,
   * then closes the database (idempotent). Every call made after close() began rejects
   * with UNAVAILABLE.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (!this.#db && !this.#opening) return Promise.resolve();
    // From here on #handle() refuses; writes already queued hold their database and run to the end.
    this.#closing = (async () => {
      if (this.#opening) await this.#opening.catch(() => {});
      const db = this.#db;
      if (!db) return;
      await this.#tail;
      this.#db = undefined;
      await db.close();
    })().finally(() => {
      this.#closing = undefined;
    });
    return this.#closing;
  }

  async readHead(): Promise<StoredHead | undefined> {
    const v = await this.#guard(this.#handle().get(KEY_HEAD));
    if (v === undefined) return undefined;
    return { size: readU64(v, 0), checkpoint: view(v).subarray(8) };
  }

  async append(batch: AppendBatch): Promise<void> {
    const ops = buildAppend(batch); // throws TypeError/RangeError before anything is queued
    return this.#serial(async (db) => {
      const size = await this.#currentSize(db);
      if (size !== batch.expectedSize) {
        throw new LedgerError('CONFLICT', `append at size ${batch.expectedSize} but the stored size is ${size}`);
      }
      // Leaf-hash records: only for hashes not indexed yet, so findLeaf keeps the first index.
      const known = await this.#guard(db.getMany(ops.leafKeys));
      const seen = new Set<string>();
      for (let i = 0; i < ops.leafKeys.length; i++) {
        if (known[i] !== undefined) continue;
        const id = byteKey(batch.leafHashes[i]);
        if (seen.has(id)) continue;
        seen.add(id);
        ops.keys.push(ops.leafKeys[i]);
        ops.values.push(u64(batch.expectedSize + i));
      }
      await this.#write(db, ops.keys, ops.values, ops.newSize);
    });
  }

  async putLatestCheckpoint(size: number, checkpoint: Uint8Array): Promise<void> {
    checkIndex(size, 'size');
    checkCheckpoint(checkpoint, 'putLatestCheckpoint');
    const value = headValue(size, checkpoint);
    return this.#serial(async (db) => {
      const current = await this.#currentSize(db);
      if (current === 0 || current !== size) {
        throw new LedgerError('CONFLICT', `replace checkpoint at size ${size} but the stored size is ${current}`);
      }
      await this.#write(db, [KEY_HEAD], [value], size);
    });
  }

  async readHashes(indices: readonly number[]): Promise<Uint8Array[]> {
    const db = this.#handle();
    if (!Array.isArray(indices)) throw new TypeError('readHashes: indices must be an array');
    if (indices.length === 0) return [];
    const keys = new Array<Uint8Array>(indices.length);
    const buf = new Uint8Array(indices.length * 9);
    for (let i = 0; i < indices.length; i++) {
      checkIndex(indices[i], 'stored-hash index');
      keys[i] = numKey(buf, i * 9, P_HASH, indices[i]);
    }
    const vals = await this.#guard(db.getMany(keys));
    const out = new Array<Uint8Array>(vals.length);
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v === undefined) throw new LedgerError('NOT_FOUND', `stored hash ${indices[i]} is not stored`);
      out[i] = view(v);
    }
    return out;
  }

  async readEntries(start: number, end: number): Promise<Uint8Array[]> {
    this.#handle();
    checkIndex(start, 'start');
    checkIndex(end, 'end');
    if (end <= start) return [];
    const rows = await this.#scan(numKey(undefined, 0, P_ENTRY, start), numKey(undefined, 0, P_ENTRY, end), end - start);
    return rows.map((r) => view(r[1]));
  }

  async findLeaf(leafHash: Uint8Array): Promise<number | undefined> {
    const db = this.#handle();
    checkHash(leafHash, 'leafHash');
    const v = await this.#guard(db.get(leafKey(leafHash)));
    return v === undefined ? undefined : readU64(v, 0);
  }

  async findLeaves(leafHashes: readonly Uint8Array[]): Promise<(number | undefined)[]> {
    const db = this.#handle();
    if (leafHashes.length === 0) return [];
    const keys = leafHashes.map((h) => {
      checkHash(h, 'leafHash');
      return leafKey(h);
    });
    const vals = await this.#guard(db.getMany(keys));
    return vals.map((v) => (v === undefined ? undefined : readU64(v, 0)));
  }

  async readState(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    const db = this.#handle();
    if (!Array.isArray(keys)) throw new TypeError('readState: keys must be an array');
    if (keys.length === 0) return [];
    let total = 0;
    for (const k of keys) {
      checkStateKey(k);
      total += 1 + k.length;
    }
    const buf = new Uint8Array(total);
    const dbKeys = new Array<Uint8Array>(keys.length);
    for (let i = 0, off = 0; i < keys.length; i++) {
      dbKeys[i] = stateKey(buf, off, keys[i]);
      off += dbKeys[i].length;
    }
    const vals = await this.#guard(db.getMany(dbKeys));
    const out = new Array<Uint8Array | undefined>(vals.length);
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      out[i] = v === undefined ? undefined : view(v);
    }
    return out;
  }

  async readCheckpoints(fromSize: number, limit: number): Promise<StoredCheckpoint[]> {
    this.#handle();
    checkIndex(fromSize, 'fromSize');
    checkIndex(limit, 'limit');
    if (limit === 0) return [];
    const rows = await this.#scan(numKey(undefined, 0, P_CHECKPOINT, fromSize), PREFIX_END_CHECKPOINT, limit);
    return rows.map(([k, v]) => ({ size: readU64(k, 1), checkpoint: view(v) }));
  }

  async putAnnex(kind: AnnexKind, size: number, bytes: Uint8Array): Promise<void> {
    checkAnnex(kind, size, bytes);
    const key = annexKey(kind, size);
    const value = bytes.slice(); // the caller may change its array once we return (rule 9)
    return this.#serial(async (db) => {
      try {
        await db.put(key, value, { sync: true });
      } catch (e) {
        throw storageError(e);
      }
    });
  }

  async readAnnexes(kind: AnnexKind, fromSize: number, limit: number): Promise<StoredAnnex[]> {
    this.#handle();
    checkAnnexKind(kind);
    checkIndex(fromSize, 'fromSize');
    checkIndex(limit, 'limit');
    if (limit === 0) return [];
    const rows = await this.#scan(annexKey(kind, fromSize), annexKindEnd(kind), limit);
    return rows.map(([k, v]) => ({ size: readU64(k, 2), bytes: view(v) }));
  }

  async latestAnnex(kind: AnnexKind): Promise<StoredAnnex | undefined> {
    const db = this.#handle();
    checkAnnexKind(kind);
    const it = db.iterator({ gte: annexKey(kind, 0), lt: annexKindEnd(kind), reverse: true, limit: 1 });
    try {
      const rows = await it.nextv(1);
      return rows.length === 0 ? undefined : { size: readU64(rows[0][0], 2), bytes: view(rows[0][1]) };
    } catch (e) {
      throw storageError(e);
    } finally {
      await it.close().catch(() => {});
    }
  }

  /**
   * #scan reads at most max records with gte <= key < lt, ascending, from one iterator
   * (one LevelDB snapshot). The large highWaterMarkBytes lets one native call return a
   * whole 256-entry tile instead of 16 KiB at a time.
   */
  async #scan(gte: Uint8Array, lt: Uint8Array, max: number): Promise<[Uint8Array, Uint8Array][]> {
    // The binding reads limit as an int32: pass it only when it fits (nextv bounds us anyway).
    const limit = max <= 0x7fff_ffff ? max : -1;
    const it = this.#handle().iterator({ gte, lt, limit, highWaterMarkBytes: SCAN_BYTES });
    const out: [Uint8Array, Uint8Array][] = [];
    try {
      while (out.length < max) {
        const rows = await it.nextv(Math.min(max - out.length, SCAN_CHUNK));
        if (rows.length === 0) break;
        for (const r of rows) out.push(r);
      }
    } catch (e) {
      throw storageError(e);
    } finally {
      await it.close().catch(() => {});
    }
    return out;
  }

  /**
   * #serial runs fn after every earlier write has settled (the in-process critical
   * section). The database is taken when the write is called, so a write called before
   * close() runs to the end and close() waits for it; one called after is refused here.
   */
  #serial(fn: (db: Level<Uint8Array, Uint8Array>) => Promise<void>): Promise<void> {
    let db: Level<Uint8Array, Uint8Array>;
    try {
      db = this.#handle();
    } catch (e) {
      return Promise.reject(e);
    }
    const run = this.#tail.then(() => fn(db));
    this.#tail = run.catch(() => {});
    return run;
  }

  async #currentSize(db: Level<Uint8Array, Uint8Array>): Promise<number> {
    if (this.#size === undefined) this.#size = await this.#guard(loadSize(db));
    return this.#size;
  }

  /**
   * #write commits keys[i] → values[i] (null: delete keys[i]) as ONE LevelDB write batch
   * with sync (rules 1–2), in order.
   * The chained form is the same single WriteBatch as db.batch([...]) but hands each
   * key and value to the binding directly: about 4× faster than the array form for the
   * ~1,000 records of a 256-entry append.
   */
  async #write(
    db: Level<Uint8Array, Uint8Array>,
    keys: Uint8Array[],
    values: (Uint8Array | null)[],
    newSize: number,
  ): Promise<void> {
    const batch = db.batch();
    try {
      for (let i = 0; i < keys.length; i++) {
        const v = values[i];
        if (v === null) batch.del(keys[i]);
        else batch.put(keys[i], v);
      }
      await batch.write({ sync: true });
    } catch (e) {
      await batch.close().catch(() => {}); // idempotent; write() may have closed it
      // The outcome is unknown to us: forget the cached size and re-read it next time.
      this.#size = undefined;
      throw storageError(e);
    }
    this.#size = newSize;
  }

  /** #handle returns the open database or throws LedgerError UNAVAILABLE (closed or closing). */
  #handle(): Level<Uint8Array, Uint8Array> {
    if (!this.#db || this.#closing) throw new LedgerError('UNAVAILABLE', 'ledger store is not open');
    return this.#db;
  }

  async #guard<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      throw storageError(e);
    }
  }
}

export interface LevelStoreOptions {
  /** Create the directory and an empty store when absent (default true). */
  readonly createIfMissing?: boolean;
  /** LevelDB block cache size in bytes (LevelDB's default 8 MiB). */
  readonly cacheSize?: number;
  /** LevelDB memtable size in bytes (LevelDB's default 4 MiB). */
  readonly writeBufferSize?: number;
}

// spec §8: key prefixes.
const P_META = 0x00;
const P_HEAD = 0x01;
const P_ENTRY = 0x02;
const P_HASH = 0x03;
const P_LEAF = 0x04;
const P_CHECKPOINT = 0x05;
const P_STATE = 0x06;
const P_ANNEX = 0x07;

const KEY_META = new Uint8Array([P_META]);
const KEY_HEAD = new Uint8Array([P_HEAD]);
const PREFIX_END_CHECKPOINT = new Uint8Array([P_CHECKPOINT + 1]);
const FORMAT = new TextEncoder().encode('dojang-level/1');
const SCAN_BYTES = 4 << 20;
const SCAN_CHUNK = 4096;
const TWO32 = 0x1_0000_0000;

/**
 * buildAppend validates a batch against rules 5 and 11a and lays out its writes (all but
 * the leaf-hash records, which depend on what is stored; state deletes have value null).
 * Keys share one allocation, state keys another.
 */
function buildAppend(b: AppendBatch): {
  keys: Uint8Array[];
  values: (Uint8Array | null)[];
  leafKeys: Uint8Array[];
  newSize: number;
} {
  const { newSize, firstHash, state } = checkBatch(b);
  const { entries, leafHashes, hashes, checkpoint } = b;
  const n = entries.length;
  let stateBytes = 0;
  for (const w of state) stateBytes += 1 + w.key.length;

  const keys = new Uint8Array((n + hashes.length + 1) * 9 + n * (1 + HASH_SIZE));
  let off = 0;
  const ks: Uint8Array[] = [];
  const vs: (Uint8Array | null)[] = [];
  for (let i = 0; i < n; i++, off += 9) {
    ks.push(numKey(keys, off, P_ENTRY, b.expectedSize + i));
    vs.push(entries[i]);
  }
  for (let i = 0; i < hashes.length; i++, off += 9) {
    ks.push(numKey(keys, off, P_HASH, firstHash + i));
    vs.push(hashes[i]);
  }
  ks.push(numKey(keys, off, P_CHECKPOINT, newSize), KEY_HEAD);
  vs.push(checkpoint, headValue(newSize, checkpoint));
  off += 9;
  const leafKeys = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++, off += 1 + HASH_SIZE) {
    const k = keys.subarray(off, off + 1 + HASH_SIZE);
    k[0] = P_LEAF;
    k.set(leafHashes[i], 1);
    leafKeys[i] = k;
  }
  // State writes stay in the caller's order: LevelDB applies a batch in order (rule 11b).
  const sk = new Uint8Array(stateBytes);
  for (let i = 0, o = 0; i < state.length; i++) {
    const k = stateKey(sk, o, state[i].key);
    o += k.length;
    ks.push(k);
    vs.push(state[i].value);
  }
  return { keys: ks, values: vs, leafKeys, newSize };
}

async function loadSize(db: Level<Uint8Array, Uint8Array>): Promise<number> {
  const v = await db.get(KEY_HEAD);
  if (v === undefined) return 0;
  if (v.length < 8) throw new LedgerError('STATE_MISMATCH', 'stored head record is truncated');
  return readU64(v, 0);
}

function headValue(size: number, checkpoint: Uint8Array): Uint8Array {
  const v = new Uint8Array(8 + checkpoint.length);
  writeU64(v, 0, size);
  v.set(checkpoint, 8);
  return v;
}

function leafKey(h: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + HASH_SIZE);
  k[0] = P_LEAF;
  k.set(h, 1);
  return k;
}

/** stateKey writes P_STATE ‖ key into buf at off and returns that view. */
function stateKey(buf: Uint8Array, off: number, key: Uint8Array): Uint8Array {
  const k = buf.subarray(off, off + 1 + key.length);
  k[0] = P_STATE;
  k.set(key, 1);
  return k;
}

/** annexKey is P_ANNEX ‖ kind code ‖ u64(size) (spec §8.4). */
function annexKey(kind: AnnexKind, size: number): Uint8Array {
  const k = new Uint8Array(10);
  k[0] = P_ANNEX;
  k[1] = annexKindCode(kind);
  writeU64(k, 2, size);
  return k;
}

/** annexKindEnd is the least key after every annex of kind. */
function annexKindEnd(kind: AnnexKind): Uint8Array {
  return new Uint8Array([P_ANNEX, annexKindCode(kind) + 1]);
}

/** numKey writes prefix ‖ u64(n) into buf at off (or a new array) and returns that view. */
function numKey(buf: Uint8Array | undefined, off: number, prefix: number, n: number): Uint8Array {
  const k = buf ? buf.subarray(off, off + 9) : new Uint8Array(9);
  k[0] = prefix;
  writeU64(k, 1, n);
  return k;
}

function u64(n: number): Uint8Array {
  const v = new Uint8Array(8);
  writeU64(v, 0, n);
  return v;
}

function writeU64(b: Uint8Array, off: number, n: number): void {
  const hi = Math.floor(n / TWO32);
  const lo = n >>> 0;
  b[off] = hi >>> 24;
  b[off + 1] = (hi >>> 16) & 255;
  b[off + 2] = (hi >>> 8) & 255;
  b[off + 3] = hi & 255;
  b[off + 4] = lo >>> 24;
  b[off + 5] = (lo >>> 16) & 255;
  b[off + 6] = (lo >>> 8) & 255;
  b[off + 7] = lo & 255;
}

function readU64(b: Uint8Array, off: number): number {
  const hi = ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
  const lo = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
  return hi * TWO32 + lo;
}

/** view returns the bytes as a plain Uint8Array over the same memory (no copy). */
function view(b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}





/** storageError maps a LevelDB failure to LedgerError UNAVAILABLE; coded errors pass through. */
function storageError(e: unknown): unknown {
  if (e instanceof LedgerError || e instanceof TypeError || e instanceof RangeError) return e;
  const code = (e as { code?: string }).code;
  const msg = code === 'LEVEL_DATABASE_NOT_OPEN' ? 'ledger store is not open' : `ledger store failure: ${(e as Error).message ?? String(e)}`;
  return new LedgerError('UNAVAILABLE', msg, { cause: e });
}
