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
 *   dojang_sequencer    (id = 1, term)                   the writers' term (rule 12)
 *   dojang_queue        (id, entry, …, answer)           writes forwarded to the sequencer (§8.4b)
 *   dojang_wallet       (k primary key, v)               the personal data store's records (§12.6)
 *   dojang_annexes      ((kind, size) primary key, bytes) annexes of history checkpoints (rule 13)
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
import { checkAnnex, checkAnnexKind, checkBatch, checkCheckpoint, checkHash, checkIndex, checkStateKey } from './checks.js';
import type { AnnexKind, AppendBatch, Coordinator, CoordinatorEvents, LedgerStore, QueueAnswer, QueuedWrite, StoreSupports, StoredAnnex, StoredCheckpoint, StoredHead } from './store.js';

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = 4;
/** The advisory lock key of migrations ("dojang" in ASCII). */
const MIGRATION_LOCK = 0x646f6a616e67;
/** The advisory lock key of the sequencer role (spec §8.4b). */
const SEQUENCER_LOCK = MIGRATION_LOCK + 1;
/**
 * LEASE_S: a control session that sends nothing for this long is ended by the server
 * (idle_session_timeout), which releases the sequencer lock of a frozen process; and a
 * transaction left idle this long is ended (idle_in_transaction_session_timeout), which
 * releases the row locks of a frozen writer. Sessions send a heartbeat every HEARTBEAT_MS.
 */
export const LEASE_S = 5;
const HEARTBEAT_MS = 1000;

const MIGRATIONS: readonly string[] = [
  `create table if not exists dojang_schema (version integer not null);
   create table if not exists dojang_head (id integer primary key check (id = 1), size bigint not null check (size > 0), checkpoint bytea not null);
   create table if not exists dojang_entries (idx bigint primary key, entry bytea not null, leaf bytea not null);
   create index if not exists dojang_entries_leaf on dojang_entries (leaf);
   create table if not exists dojang_hashes (idx bigint primary key, hash bytea not null);
   create table if not exists dojang_checkpoints (size bigint primary key, checkpoint bytea not null);
   create table if not exists dojang_state (k bytea primary key, v bytea not null);`,
  `create table if not exists dojang_sequencer (id integer primary key check (id = 1), term bigint not null);
   insert into dojang_sequencer (id, term) values (1, 0) on conflict (id) do nothing;
   create table if not exists dojang_queue (id bigserial primary key, entry bytea not null, verified boolean not null,
     taken bigint not null default 0, done boolean not null default false, idx bigint, duplicate boolean, receipt bytea, code text, message text,
     created timestamptz not null default now());
   create index if not exists dojang_queue_open on dojang_queue (id) where not done;`,
  `create table if not exists dojang_wallet (k text collate "C" primary key, v bytea not null);`,
  `create table if not exists dojang_annexes (kind text collate "C" not null, size bigint not null check (size >= 0), bytes bytea not null, primary key (kind, size));`,
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
  /** The term this object claimed (rule 12); 0 until it claims. */
  #term = 0;

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
      // Single statements (the queue's) need not wait for the disk: nothing they write is
      // acknowledged; appends set synchronous_commit on for their own transaction. A
      // transaction left idle (a frozen process) is ended, releasing its row locks.
      const pool = new pg.Pool({
        ...connection(this.url, ['synchronous_commit=off', `idle_in_transaction_session_timeout=${LEASE_S}s`]),
        max: this.opts.max ?? 10,
        keepAlive: true, // a half-open connection fails instead of hanging
        connectionTimeoutMillis: 10_000,
      });
      pool.on('error', () => {}); // an idle client's error: the next query reports it
      // A checked-out client's error (its session ended by the server) fails its query; without
      // a listener it would also be thrown as an uncaught 'error' event.
      pool.on('connect', (c) => c.on('error', () => {}));
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
      await this.#checkTerm(c);
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
      await c.query("select pg_notify('dojang_head', $1)", [String(newSize)]);
    });
  }

  /** claim raises the term and makes it this object's (rule 12), durably; it waits for a write in flight. */
  async claim(): Promise<number> {
    let term = 0;
    await this.#transaction(async (c) => {
      const r = await c.query('update dojang_sequencer set term = term + 1 where id = 1 returning term');
      term = num(r.rows[0].term);
    });
    this.#term = term;
    return term;
  }

  /** #checkTerm locks the term row against a claim until the transaction ends, and checks it is still ours (rule 12). */
  async #checkTerm(c: pg.PoolClient): Promise<void> {
    const r = await c.query('select term from dojang_sequencer where id = 1 for share');
    const term = num(r.rows[0].term);
    if (term !== this.#term) throw new LedgerError('CONFLICT', `the log was claimed by another writer (term ${term}, this writer's ${this.#term})`);
  }

  coordinator(): Coordinator {
    return new PostgresCoordinator(this.url, (text, values) => this.#query(text, values), () => this.#term);
  }

  async putLatestCheckpoint(size: number, checkpoint: Uint8Array): Promise<void> {
    checkIndex(size, 'size');
    checkCheckpoint(checkpoint, 'putLatestCheckpoint');
    await this.#transaction(async (c) => {
      await this.#checkTerm(c);
      const r = await c.query('update dojang_head set checkpoint = $2 where id = 1 and size = $1', [size, buf(checkpoint)]);
      if (r.rowCount === 0) {
        const h = await c.query('select size from dojang_head where id = 1');
        const current = h.rows.length === 0 ? 0 : num(h.rows[0].size);
        throw new LedgerError('CONFLICT', `replace checkpoint at size ${size} but the stored size is ${current}`);
      }
      await c.query("select pg_notify('dojang_head', $1)", [String(size)]);
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

  /** putAnnex upserts one row in a transaction with synchronous commit (rule 13b: no term, no head check). */
  async putAnnex(kind: AnnexKind, size: number, data: Uint8Array): Promise<void> {
    checkAnnex(kind, size, data);
    const value = Buffer.from(data); // a copy: the caller may change its array meanwhile
    await this.#transaction(async (c) => {
      await c.query('insert into dojang_annexes (kind, size, bytes) values ($1, $2, $3) on conflict (kind, size) do update set bytes = excluded.bytes', [kind, size, value]);
    });
  }

  async readAnnexes(kind: AnnexKind, fromSize: number, limit: number): Promise<StoredAnnex[]> {
    this.#handle();
    checkAnnexKind(kind);
    checkIndex(fromSize, 'fromSize');
    checkIndex(limit, 'limit');
    if (limit === 0) return [];
    const r = await this.#query('select size, bytes from dojang_annexes where kind = $1 and size >= $2 order by size limit $3', [kind, fromSize, Math.min(limit, 2 ** 31 - 1)]);
    return r.rows.map((row) => ({ size: num(row.size), bytes: bytes(row.bytes) }));
  }

  async latestAnnex(kind: AnnexKind): Promise<StoredAnnex | undefined> {
    this.#handle();
    checkAnnexKind(kind);
    const r = await this.#query('select size, bytes from dojang_annexes where kind = $1 order by size desc limit 1', [kind]);
    return r.rows.length === 0 ? undefined : { size: num(r.rows[0].size), bytes: bytes(r.rows[0].bytes) };
  }
}

/**
 * PostgresCoordinator is the Coordinator of a PostgresStore (spec §8.4b). Its control
 * session (its own connection, outside the pool) holds the session-level advisory lock
 * SEQUENCER_LOCK while the process leads and LISTENs for dojang_head, dojang_queued and
 * dojang_settled. The server ends the session after LEASE_S seconds of silence, so it
 * sends a heartbeat every second; a process that dies or freezes loses the lock within
 * LEASE_S. When the session ends the coordinator reports `lost` and reconnects (without
 * the lock) until closed. The queue's statements go through the store's pool.
 */
class PostgresCoordinator implements Coordinator {
  #client: pg.Client | undefined;
  #on: CoordinatorEvents | undefined;
  #leading = false;
  #closed = false;
  #heartbeat: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  /** The control session's statements run one at a time (pg clients queue them, but deprecate that). */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly query: (text: string, values?: unknown[]) => Promise<pg.QueryResult>,
    private readonly term: () => number,
  ) {}

  async start(on: CoordinatorEvents): Promise<void> {
    if (this.#on !== undefined) throw new Error('coordinator already started');
    this.#on = on;
    let beating = false;
    this.#heartbeat = setInterval(() => {
      const c = this.#client;
      if (c === undefined || beating) return; // one heartbeat at a time
      beating = true;
      this.#control(c, 'select 1')
        .catch((e) => this.#lose(c, e))
        .finally(() => (beating = false));
    }, HEARTBEAT_MS);
    this.#heartbeat.unref();
    try {
      await this.#connect();
    } catch (e) {
      clearInterval(this.#heartbeat);
      throw e;
    }
  }

  /** #control runs one statement on control session c after the ones before it. */
  #control(c: pg.Client, text: string, values?: unknown[]): Promise<pg.QueryResult> {
    const run = this.#chain.then(() => c.query(text, values));
    this.#chain = run.catch(() => {});
    return run;
  }

  async #connect(): Promise<void> {
    // A control statement that takes longer than the lease means the session is as good as lost.
    const c = new pg.Client({ ...connection(this.url, [`idle_session_timeout=${LEASE_S}s`]), keepAlive: true, connectionTimeoutMillis: 10_000, query_timeout: LEASE_S * 1000 });
    c.on('error', (e) => this.#lose(c, e));
    c.on('end', () => this.#lose(c, new Error('the control session ended')));
    c.on('notification', (n) => {
      if (this.#client !== c) return;
      if (n.channel === 'dojang_head') this.#on?.head();
      else if (n.channel === 'dojang_queued') this.#on?.queued();
      else if (n.channel === 'dojang_settled') this.#on?.settled();
    });
    try {
      await c.connect();
      await c.query('listen dojang_head; listen dojang_queued; listen dojang_settled');
    } catch (e) {
      await c.end().catch(() => {});
      throw dbError(e);
    }
    if (this.#closed) {
      await c.end().catch(() => {});
      return;
    }
    this.#client = c;
  }

  /** #lose handles the end of control session c: the lock is gone; report it and reconnect. */
  #lose(c: pg.Client, e: unknown): void {
    if (this.#client !== c) return;
    this.#client = undefined;
    this.#leading = false;
    c.end().catch(() => {});
    if (this.#closed) return;
    this.#on?.lost(`the database's control session ended: ${(e as Error)?.message ?? String(e)}`);
    const retry = (wait: number) => {
      this.#reconnect = setTimeout(() => {
        this.#reconnect = undefined;
        if (this.#closed) return;
        this.#connect().then(
          () => this.#on?.head(),
          () => retry(Math.min(wait * 2, 5000)),
        );
      }, wait);
      this.#reconnect.unref();
    };
    retry(250);
  }

  async tryLead(): Promise<boolean> {
    if (this.#leading) return true;
    const c = this.#client;
    if (c === undefined || this.#closed) return false;
    try {
      const r = await this.#control(c, 'select pg_try_advisory_lock($1) as ok', [SEQUENCER_LOCK]);
      this.#leading = this.#client === c && r.rows[0].ok === true;
    } catch (e) {
      this.#lose(c, e);
      return false;
    }
    return this.#leading;
  }

  async resign(): Promise<void> {
    const c = this.#client;
    if (!this.#leading || c === undefined) return;
    this.#leading = false;
    try {
      await this.#control(c, 'select pg_advisory_unlock($1)', [SEQUENCER_LOCK]);
    } catch (e) {
      this.#lose(c, e);
    }
  }

  async enqueue(writes: readonly QueuedWrite[]): Promise<number[]> {
    if (writes.length === 0) return [];
    const r = await this.query(
      `with v as (select nextval('dojang_queue_id_seq') as id, e, ver, o from unnest($1::bytea[], $2::boolean[]) with ordinality as u(e, ver, o)),
            i as (insert into dojang_queue (id, entry, verified) select id, e, ver from v),
            n as (select pg_notify('dojang_queued', ''))
       select v.id, v.o from v, n order by v.o`,
      [writes.map((w) => buf(w.entry)), writes.map((w) => w.verified)],
    );
    return r.rows.map((row) => num(row.id));
  }

  async take(limit: number): Promise<{ id: number; write: QueuedWrite }[]> {
    checkIndex(limit, 'limit');
    const term = this.term();
    if (term === 0) throw new LedgerError('CONFLICT', 'take: this store has not claimed the log');
    if (limit === 0) return [];
    const r = await this.query(
      `update dojang_queue q set taken = $1
         from (select id from dojang_queue where taken < $1 and not done order by id limit $2 for update skip locked) t
        where q.id = t.id returning q.id, q.entry, q.verified`,
      [term, limit],
    );
    return r.rows.map((row) => ({ id: num(row.id), write: { entry: bytes(row.entry), verified: row.verified === true } })).sort((a, b) => a.id - b.id);
  }

  async release(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.query('update dojang_queue set taken = 0 where id = any($1::bigint[]) and taken = $2 and not done', [ids, this.term()]);
  }

  async settle(answers: readonly QueueAnswer[]): Promise<void> {
    if (answers.length === 0) return;
    const ok = (a: QueueAnswer) => ('index' in a ? a : undefined);
    const bad = (a: QueueAnswer) => ('code' in a ? a : undefined);
    await this.query(
      `with u as (update dojang_queue q set done = true, idx = a.idx, duplicate = a.dup, receipt = a.receipt, code = a.code, message = a.message
                    from unnest($1::bigint[], $2::bigint[], $3::boolean[], $4::text[], $5::text[], $7::bytea[]) as a(id, idx, dup, code, message, receipt)
                   where q.id = a.id and q.taken = $6 and not q.done returning 1)
       select pg_notify('dojang_settled', count(*)::text) from u`,
      [
        answers.map((a) => a.id),
        answers.map((a) => ok(a)?.index ?? null),
        answers.map((a) => ok(a)?.duplicate ?? null),
        answers.map((a) => bad(a)?.code ?? null),
        answers.map((a) => bad(a)?.message ?? null),
        this.term(),
        answers.map((a) => { const r = ok(a)?.receipt; return r === undefined ? null : buf(r); }),
      ],
    );
  }

  async collect(ids: readonly number[]): Promise<QueueAnswer[]> {
    if (ids.length === 0) return [];
    const r = await this.query('delete from dojang_queue where id = any($1::bigint[]) and done returning id, idx, duplicate, receipt, code, message', [ids]);
    return r.rows.map((row): QueueAnswer => {
      if (row.idx === null) return { id: num(row.id), code: String(row.code), message: String(row.message) };
      return { id: num(row.id), index: num(row.idx), duplicate: row.duplicate === true, ...(row.receipt === null ? {} : { receipt: bytes(row.receipt) }) };
    });
  }

  async prune(seconds: number): Promise<void> {
    checkIndex(seconds, 'seconds');
    await this.query('delete from dojang_queue where created < now() - make_interval(secs => $1)', [seconds]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#leading = false;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    if (this.#reconnect !== undefined) clearTimeout(this.#reconnect);
    const c = this.#client;
    this.#client = undefined;
    await c?.end().catch(() => {});
  }
}

/** migrate applies the migrations not yet applied, under a transaction-scoped advisory lock (also for the wallet store). */
export async function migrate(pool: pg.Pool): Promise<void> {
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

/**
 * connection is the pg configuration for `url` with these server settings added to the
 * session's startup options (after any the URL's own `options` parameter gives).
 */
function connection(url: string, settings: readonly string[]): pg.ClientConfig {
  const u = new URL(url);
  const own = u.searchParams.get('options');
  u.searchParams.delete('options');
  return { connectionString: u.href, options: [own, ...settings.map((x) => `-c ${x}`)].filter((x) => x).join(' ') };
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
