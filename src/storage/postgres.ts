/**
 * PostgresStore is the LedgerStore on PostgreSQL 15 or newer (src/storage/store.ts
 * states the contract; docs/spec.md §8.4a the schema). Several processes may use one
 * database at once: the compare-and-swap on the head row fences every writer but one
 * (rule 3), inside the transaction that writes the batch.
 *
 * Schema (migrations applied at open(), under a transaction-scoped advisory lock, so
 * that processes starting together apply each once):
 *
 *   dojang_schema       (version)                        the applied migration
 *   dojang_head         (id = 1, size, checkpoint)       the head: one row once a batch is stored
 *   dojang_entries      (idx primary key, entry, leaf)   entries; leaf indexed (findLeaf)
 *   dojang_hashes       (idx primary key, hash)          stored hashes
 *   dojang_checkpoints  (size primary key, checkpoint)   history: one per size, as first signed
 *   dojang_state        (k primary key, v)               the state index (rule 11)
 *
 * append() is ONE transaction: it locks the head row (SELECT … FOR UPDATE; a store with no
 * head row conflicts on the primary keys instead), checks the size, inserts the entries,
 * hashes and history checkpoint (arrays through unnest: one round trip each), writes the
 * head and the state, and commits with synchronous_commit on (rule 1: with synchronous
 * replicas configured, a commit waits for them too). Every read is one statement: one
 * snapshot of committed data, so no read sees part of a batch (rule 6).
 *
 * Errors: a store that is not open, a database that cannot be reached, or a commit whose
 * outcome is unknown rejects with LedgerError UNAVAILABLE; a database holding a newer
 * schema is UNSUPPORTED; CONFLICT, NOT_FOUND and RangeError/TypeError as in the contract.
 */
import pg from 'pg';
import { LedgerError } from '../core/errors.js';
import { toHex } from '../core/bytes.js';
import { checkBatch, checkCheckpoint, checkHash, checkIndex, checkStateKey } from './checks.js';
import type { AppendBatch, LedgerStore, StoreSupports, StoredCheckpoint, StoredHead } from './store.js';

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = 1;
/** The advisory lock key of migrations ("dojang" in ASCII). */
const MIGRATION_LOCK = 0x646f6a616e67;

const MIGRATIONS: readonly string[] = [
  `create table if not exists dojang_schema (version integer not null);
   create table if not exists dojang_head (id integer primary key check (id = 1), size bigint not null check (size > 0), checkpoint bytea not null);
   create table if not exists dojang_entries (idx bigint primary key, entry bytea not null, leaf bytea not null);
   create index if not exists dojang_entries_leaf on dojang_entries (leaf);
   create table if not exists dojang_hashes (idx bigint primary key, hash bytea not null);
   create table if not exists dojang_checkpoints (size bigint primary key, checkpoint bytea not null);
   create table if not exists dojang_state (k bytea primary key, v bytea not null);`,
];

/** Options of PostgresStore. */
export interface PostgresStoreOptions {
  /** Connections in the pool (default 10). */
  max?: number;
}

export class PostgresStore implements LedgerStore {
  readonly supports: StoreSupports = { multiProcess: true };
  #pool: pg.Pool | undefined;
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  /** url: a postgres:// connection string (the database must exist). */
  constructor(
    readonly url: string,
    private readonly opts: PostgresStoreOptions = {},
  ) {
    if (!/^postgres(ql)?:\/\//.test(url)) throw new TypeError('PostgresStore: a postgres:// URL');
  }

  open(): Promise<void> {
    if (this.#pool && !this.#closing) return Promise.resolve();
    if (this.#opening) return this.#opening;
    this.#opening = (async () => {
      if (this.#closing) await this.#closing;
      const pool = new pg.Pool({ connectionString: this.url, max: this.opts.max ?? 10 });
      pool.on('error', () => {}); // an idle client's error: the next query reports it
      try {
        await migrate(pool);
      } catch (e) {
        await pool.end().catch(() => {});
        throw dbError(e);
      }
      this.#pool = pool;
    })().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (!this.#pool && !this.#opening) return Promise.resolve();
    this.#closing = (async () => {
      if (this.#opening) await this.#opening.catch(() => {});
      const pool = this.#pool;
      this.#pool = undefined;
      await pool?.end(); // waits for checked-out clients: a write in flight runs to its end
    })().finally(() => {
      this.#closing = undefined;
    });
    return this.#closing;
  }

  #handle(): pg.Pool {
    if (!this.#pool || this.#closing) throw new LedgerError('UNAVAILABLE', 'ledger store is not open');
    return this.#pool;
  }

  async #query(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
    const pool = this.#handle();
    try {
      return await pool.query(text, values);
    } catch (e) {
      throw dbError(e);
    }
  }

  async readHead(): Promise<StoredHead | undefined> {
    const r = await this.#query('select size, checkpoint from dojang_head where id = 1');
    if (r.rows.length === 0) return undefined;
    return { size: num(r.rows[0].size), checkpoint: bytes(r.rows[0].checkpoint) };
  }

  async append(batch: AppendBatch): Promise<void> {
    const { newSize, firstHash, state } = checkBatch(batch); // before anything is sent
    // State writes in order: the later write to a key wins (rule 11b).
    const last = new Map<string, { key: Uint8Array; value: Uint8Array | null }>();
    for (const w of state) last.set(toHex(w.key), w);
    const puts = [...last.values()].filter((w) => w.value !== null);
    const dels = [...last.values()].filter((w) => w.value === null);
    const n = batch.entries.length;
    await this.#transaction(async (c) => {
      const head = await c.query('select size from dojang_head where id = 1 for update');
      const size = head.rows.length === 0 ? 0 : num(head.rows[0].size);
      if (size !== batch.expectedSize) throw new LedgerError('CONFLICT', `append at size ${batch.expectedSize} but the stored size is ${size}`);
      await c.query('insert into dojang_entries (idx, entry, leaf) select * from unnest($1::bigint[], $2::bytea[], $3::bytea[])', [
        range(batch.expectedSize, n),
        batch.entries.map(buf),
        batch.leafHashes.map(buf),
      ]);
      if (batch.hashes.length > 0) {
        await c.query('insert into dojang_hashes (idx, hash) select * from unnest($1::bigint[], $2::bytea[])', [range(firstHash, batch.hashes.length), batch.hashes.map(buf)]);
      }
      await c.query('insert into dojang_checkpoints (size, checkpoint) values ($1, $2)', [newSize, buf(batch.checkpoint)]);
      await c.query(
        'insert into dojang_head (id, size, checkpoint) values (1, $1, $2) on conflict (id) do update set size = excluded.size, checkpoint = excluded.checkpoint',
        [newSize, buf(batch.checkpoint)],
      );
      if (dels.length > 0) await c.query('delete from dojang_state where k = any($1::bytea[])', [dels.map((w) => buf(w.key))]);
      if (puts.length > 0) {
        await c.query('insert into dojang_state (k, v) select * from unnest($1::bytea[], $2::bytea[]) on conflict (k) do update set v = excluded.v', [
          puts.map((w) => buf(w.key)),
          puts.map((w) => buf(w.value!)),
        ]);
      }
    });
  }

  async putLatestCheckpoint(size: number, checkpoint: Uint8Array): Promise<void> {
    checkIndex(size, 'size');
    checkCheckpoint(checkpoint, 'putLatestCheckpoint');
    await this.#transaction(async (c) => {
      const r = await c.query('update dojang_head set checkpoint = $2 where id = 1 and size = $1', [size, buf(checkpoint)]);
      if (r.rowCount === 0) {
        const h = await c.query('select size from dojang_head where id = 1');
        const current = h.rows.length === 0 ? 0 : num(h.rows[0].size);
        throw new LedgerError('CONFLICT', `replace checkpoint at size ${size} but the stored size is ${current}`);
      }
    });
  }

  /**
   * #transaction runs f in one transaction with synchronous commit. A LedgerError from
   * f rolls back and propagates; a unique violation (another writer appended the same
   * indices first) is CONFLICT; a failure of the commit itself is UNAVAILABLE (its
   * outcome is unknown: the caller re-reads the head).
   */
  async #transaction(f: (c: pg.PoolClient) => Promise<void>): Promise<void> {
    const pool = this.#handle();
    let c: pg.PoolClient;
    try {
      c = await pool.connect();
    } catch (e) {
      throw dbError(e);
    }
    let broken = false;
    try {
      await c.query('begin');
      await c.query('set local synchronous_commit = on');
      try {
        await f(c);
      } catch (e) {
        await c.query('rollback').catch(() => {
          broken = true;
        });
        throw e;
      }
      try {
        await c.query('commit');
      } catch (e) {
        broken = true;
        throw new LedgerError('UNAVAILABLE', `the commit's outcome is unknown: ${(e as Error).message}`, { cause: e });
      }
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new LedgerError('CONFLICT', 'another writer stored this batch first', { cause: e });
      if (e instanceof LedgerError || e instanceof RangeError || e instanceof TypeError) throw e;
      broken = true;
      throw dbError(e);
    } finally {
      c.release(broken ? true : undefined);
    }
  }

  async readHashes(indices: readonly number[]): Promise<Uint8Array[]> {
    this.#handle();
    if (!Array.isArray(indices)) throw new TypeError('readHashes: indices must be an array');
    if (indices.length === 0) return [];
    for (const i of indices) checkIndex(i, 'stored-hash index');
    const r = await this.#query('select idx, hash from dojang_hashes where idx = any($1::bigint[])', [[...new Set(indices)]]);
    const byIndex = new Map<number, Uint8Array>(r.rows.map((row) => [num(row.idx), row.hash as Buffer]));
    return indices.map((i) => {
      const h = byIndex.get(i);
      if (h === undefined) throw new LedgerError('NOT_FOUND', `stored hash ${i} is not stored`);
      return bytes(h);
    });
  }

  async readEntries(start: number, end: number): Promise<Uint8Array[]> {
    this.#handle();
    checkIndex(start, 'start');
    checkIndex(end, 'end');
    if (end <= start) return [];
    const r = await this.#query('select entry from dojang_entries where idx >= $1 and idx < $2 order by idx', [start, end]);
    return r.rows.map((row) => bytes(row.entry));
  }

  async findLeaf(leafHash: Uint8Array): Promise<number | undefined> {
    this.#handle();
    checkHash(leafHash, 'leafHash');
    const r = await this.#query('select min(idx) as idx from dojang_entries where leaf = $1', [buf(leafHash)]);
    return r.rows[0].idx === null ? undefined : num(r.rows[0].idx);
  }

  async findLeaves(leafHashes: readonly Uint8Array[]): Promise<(number | undefined)[]> {
    this.#handle();
    if (leafHashes.length === 0) return [];
    for (const h of leafHashes) checkHash(h, 'leafHash');
    const r = await this.#query('select leaf, min(idx) as idx from dojang_entries where leaf = any($1::bytea[]) group by leaf', [leafHashes.map(buf)]);
    const found = new Map<string, number>(r.rows.map((row) => [toHex(row.leaf), num(row.idx)]));
    return leafHashes.map((h) => found.get(toHex(h)));
  }

  async readState(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.#handle();
    if (!Array.isArray(keys)) throw new TypeError('readState: keys must be an array');
    if (keys.length === 0) return [];
    for (const k of keys) checkStateKey(k);
    const r = await this.#query('select k, v from dojang_state where k = any($1::bytea[])', [keys.map(buf)]);
    const found = new Map<string, Buffer>(r.rows.map((row) => [toHex(row.k), row.v]));
    return keys.map((k) => {
      const v = found.get(toHex(k));
      return v === undefined ? undefined : bytes(v);
    });
  }

  async readCheckpoints(fromSize: number, limit: number): Promise<StoredCheckpoint[]> {
    this.#handle();
    checkIndex(fromSize, 'fromSize');
    checkIndex(limit, 'limit');
    if (limit === 0) return [];
    const r = await this.#query('select size, checkpoint from dojang_checkpoints where size >= $1 order by size limit $2', [fromSize, Math.min(limit, 2 ** 31 - 1)]);
    return r.rows.map((row) => ({ size: num(row.size), checkpoint: bytes(row.checkpoint) }));
  }
}

/** migrate applies the migrations not yet applied, under a transaction-scoped advisory lock. */
async function migrate(pool: pg.Pool): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('begin');
    await c.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('create table if not exists dojang_schema (version integer not null)');
    const r = await c.query('select max(version) as v from dojang_schema');
    const at = r.rows[0].v === null ? 0 : Number(r.rows[0].v);
    if (at > SCHEMA_VERSION) throw new LedgerError('UNSUPPORTED', `the database holds dojang schema ${at}; this dojang knows up to ${SCHEMA_VERSION}`);
    for (let v = at + 1; v <= SCHEMA_VERSION; v++) {
      await c.query(MIGRATIONS[v - 1]);
      await c.query('insert into dojang_schema (version) values ($1)', [v]);
    }
    await c.query('commit');
  } catch (e) {
    await c.query('rollback').catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}

/** dbError maps a database failure to LedgerError UNAVAILABLE; coded errors pass through. */
function dbError(e: unknown): unknown {
  if (e instanceof LedgerError || e instanceof TypeError || e instanceof RangeError) return e;
  return new LedgerError('UNAVAILABLE', `ledger store failure: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** num reads a bigint column (pg returns int8 as text). */
function num(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isSafeInteger(n)) throw new LedgerError('STATE_MISMATCH', `a stored number is not a safe integer: ${String(v)}`);
  return n;
}

/** bytes copies a bytea value into a plain Uint8Array (rule 9). */
function bytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

/** buf views bytes as a Buffer, which pg sends as bytea (also inside arrays), without a copy. */
function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function range(from: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}
