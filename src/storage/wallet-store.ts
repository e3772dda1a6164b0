/**
 * The personal data store (spec §12.6): per wallet, items sealed to the wallet (the
 * server cannot open them), with what routing and expiry need in the clear, and the
 * nonces of accepted store requests (replays are refused across restarts). Its records
 * live in a WalletKv: a LevelDB in DIR/wallets/ (one process), or the table
 * dojang_wallet of the log's PostgreSQL database, which every process sharing the
 * database shares (spec §8.4b).
 *
 * Layout (keys are text, ordered bytewise):
 *   i!<wallet hex>!<item hex>                 → CBOR item record
 *   e!<event leaf hex>                        → CBOR { wallet, item, validUntil, sealed hash }:
 *                                               the one wallet an event delivered to; kept
 *                                               after a deletion (a tombstone) until expiry
 *   x!<validUntil, 16 digits>!<event hex>     → '' (the sweeper's index)
 *   c!<wallet hex>                            → CBOR count of the wallet's items
 *   n!<key hex>!<nonce hex>                   → time (replay: accepted nonces)
 *   t!<time, 16 digits>!<key hex>!<nonce hex> → '' (forgetting nonces in time order)
 *
 * Every change is one batch written durably (LevelDB sync, PostgreSQL synchronous
 * commit): an acknowledged request survives a crash. Changes are serialized — in this
 * process, at most MAX_WAITING waiting (then OVERLOADED), and on PostgreSQL across
 * processes by an advisory lock held by the transaction that checks and writes; reads
 * run outside that queue.
 */
import { Level } from 'level';
import pg from 'pg';
import { migrate } from './postgres.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeCbor, encodeCbor } from '../core/cbor.js';
import { equalBytes, toHex } from '../core/bytes.js';
import { randomBytes } from '../core/crypto.js';
import { LedgerError } from '../core/errors.js';

/** How long an accepted request nonce is remembered, from the request's own time: twice the allowed clock skew. */
export const NONCE_MEMORY_SECONDS = 600;
/** A wallet holds at most this many items (TOO_LARGE beyond). */
export const MAX_ITEMS_PER_WALLET = 1000;
/** At most this many changes wait for the store (OVERLOADED beyond). */
export const MAX_WAITING = 256;

export type ItemKind = 'issued' | 'received';

/** What the store keeps of an item, in the clear, beside the sealed bytes. */
export interface StoredItemInfo {
  item: string;
  kind: ItemKind;
  /** Certificate id, hex. */
  id: string;
  /** The leaf hash of the delivering event, hex. */
  event: string;
  validUntil: number;
  deposited: number;
  bytes: number;
}

interface ItemRecord {
  kind: ItemKind;
  id: Uint8Array;
  event: Uint8Array;
  validUntil: number;
  deposited: number;
  sealed: Uint8Array;
}

interface EventRecord {
  wallet: Uint8Array;
  item: string;
  validUntil: number;
  sealed: Uint8Array; // SHA-256 of the sealed bytes
}

export type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

const pad16 = (n: number) => String(n).padStart(16, '0');
const ITEM = /^[0-9a-f]{32}$/;

/** WalletKv is where a WalletStore keeps its records: ordered text keys, byte values. */
export interface WalletKv {
  open(): Promise<void>;
  close(): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** entries yields the records with gt < key < lt (or ≤ lte), in key order. */
  entries(range: { gt: string; lt?: string; lte?: string }): AsyncIterable<[string, Uint8Array]>;
  /**
   * exclusive runs f while no other change runs, in any process sharing the store;
   * `write` (at most once, at the end) applies ops atomically and durably.
   */
  exclusive<T>(f: (write: (ops: Op[]) => Promise<void>) => Promise<T>): Promise<T>;
}

/** levelKv keeps the records in a LevelDB at `dir`; one process owns it (its LOCK file). */
export function levelKv(dir: string): WalletKv {
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
  return {
    async open() {
      try {
        await db.open();
      } catch (e) {
        const busy = (e as { cause?: { code?: string } })?.cause?.code === 'LEVEL_LOCKED';
        throw new LedgerError('UNAVAILABLE', busy ? 'the wallet store is in use by another process' : `the wallet store does not open: ${(e as Error).message}`, { cause: e });
      }
    },
    close: () => db.close(),
    get: (key) => db.get(key),
    entries: (range) => db.iterator(range),
    exclusive: (f) => f((ops) => db.batch(ops, { sync: true })),
  };
}

/** The advisory lock key of wallet-store changes ("dojang" + 2). */
const WALLET_LOCK = 0x646f6a616e67 + 2;

/**
 * postgresKv keeps the records in the table dojang_wallet (k text collate "C" primary
 * key, v bytea) of the database at `url` (migration 3 of PostgresStore, applied here
 * too). A change is one transaction that first takes a transaction-scoped advisory lock,
 * so that a check and its write are never interleaved with another process's, and
 * commits synchronously.
 */
export function postgresKv(url: string): WalletKv {
  let pool: pg.Pool | undefined;
  const handle = () => {
    if (pool === undefined) throw new LedgerError('UNAVAILABLE', 'the wallet store is not open');
    return pool;
  };
  const query = async (text: string, values: unknown[]) => {
    try {
      return await handle().query(text, values);
    } catch (e) {
      throw e instanceof LedgerError ? e : new LedgerError('UNAVAILABLE', `the wallet store failed: ${(e as Error).message}`, { cause: e });
    }
  };
  return {
    async open() {
      const p = new pg.Pool({ connectionString: url, max: 4, keepAlive: true, connectionTimeoutMillis: 10_000 });
      p.on('error', () => {});
      p.on('connect', (c) => c.on('error', () => {}));
      try {
        await migrate(p);
      } catch (e) {
        await p.end().catch(() => {});
        throw new LedgerError('UNAVAILABLE', `the wallet store does not open: ${(e as Error).message}`, { cause: e });
      }
      pool = p;
    },
    async close() {
      const p = pool;
      pool = undefined;
      await p?.end();
    },
    async get(key) {
      const r = await query('select v from dojang_wallet where k = $1', [key]);
      return r.rows.length === 0 ? undefined : new Uint8Array(r.rows[0].v);
    },
    async *entries(range) {
      const upper = range.lte !== undefined ? ['<=', range.lte] : range.lt !== undefined ? ['<', range.lt] : undefined;
      // Pages of 1,000 in key order: one statement each.
      let from = range.gt;
      for (;;) {
        const r = upper === undefined
          ? await query('select k, v from dojang_wallet where k > $1 order by k limit 1000', [from])
          : await query(`select k, v from dojang_wallet where k > $1 and k ${upper[0]} $2 order by k limit 1000`, [from, upper[1]]);
        for (const row of r.rows) yield [row.k as string, new Uint8Array(row.v)] as [string, Uint8Array];
        if (r.rows.length < 1000) return;
        from = r.rows[r.rows.length - 1].k;
      }
    },
    async exclusive(f) {
      let c: pg.PoolClient;
      try {
        c = await handle().connect();
      } catch (e) {
        throw e instanceof LedgerError ? e : new LedgerError('UNAVAILABLE', `the wallet store failed: ${(e as Error).message}`, { cause: e });
      }
      let broken = false;
      try {
        await c.query('begin');
        await c.query('set local synchronous_commit = on');
        await c.query('select pg_advisory_xact_lock($1)', [WALLET_LOCK]);
        const result = await f(async (ops) => {
          const puts = new Map<string, Uint8Array | null>();
          for (const o of ops) puts.set(o.key, o.type === 'put' ? o.value : null); // the last op on a key wins, as in a batch
          const keep = [...puts].filter(([, v]) => v !== null);
          const drop = [...puts].filter(([, v]) => v === null).map(([k]) => k);
          if (drop.length > 0) await c.query('delete from dojang_wallet where k = any($1::text[])', [drop]);
          if (keep.length > 0) {
            await c.query('insert into dojang_wallet (k, v) select * from unnest($1::text[], $2::bytea[]) on conflict (k) do update set v = excluded.v', [
              keep.map(([k]) => k),
              keep.map(([, v]) => Buffer.from(v!.buffer, v!.byteOffset, v!.byteLength)),
            ]);
          }
        });
        await c.query('commit');
        return result;
      } catch (e) {
        await c.query('rollback').catch(() => (broken = true));
        if (e instanceof LedgerError || e instanceof RangeError || e instanceof TypeError) throw e;
        broken = true;
        throw new LedgerError('UNAVAILABLE', `the wallet store failed: ${(e as Error).message}`, { cause: e });
      } finally {
        c.release(broken ? true : undefined);
      }
    },
  };
}

export class WalletStore {
  #db: WalletKv;
  #queue: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  /** dir: a LevelDB directory (one process); or a WalletKv (postgresKv: shared by the processes of a database). */
  constructor(dir: string | WalletKv) {
    this.#db = typeof dir === 'string' ? levelKv(dir) : dir;
  }

  open(): Promise<void> {
    return this.#db.open();
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    await this.#db.close();
  }

  /** serial runs changes one at a time (and, on PostgreSQL, alone among processes): a check and its write are never interleaved. OVERLOADED beyond MAX_WAITING. */
  #serial<T>(f: (write: (ops: Op[]) => Promise<void>) => Promise<T>): Promise<T> {
    if (this.#waiting >= MAX_WAITING) return Promise.reject(new LedgerError('OVERLOADED', `${this.#waiting} store changes waiting: retry later`));
    this.#waiting++;
    const g = () => this.#db.exclusive(f);
    const run = this.#queue.then(g, g).finally(() => this.#waiting--);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #get(key: string): Promise<Uint8Array | undefined> {
    return this.#db.get(key);
  }

  /**
   * accept records a store request's (key, nonce) at its time, or throws REPLAYED if it
   * was accepted before. Call it after every other check of the request, so that a
   * refused request changes nothing; `then` runs in the same serialized step and its
   * writes go in the same batch.
   */
  accept<T>(key: Uint8Array, nonce: Uint8Array, time: number, then: () => Promise<{ result: T; ops?: Op[] }> = async () => ({ result: undefined as T })): Promise<T> {
    return this.#serial(async (write) => {
      const nk = `n!${toHex(key)}!${toHex(nonce)}`;
      if ((await this.#get(nk)) !== undefined) throw new LedgerError('REPLAYED', 'this request (key and nonce) was accepted before');
      const { result, ops = [] } = await then();
      await write([{ type: 'put', key: nk, value: encodeCbor(time) }, { type: 'put', key: `t!${pad16(time)}!${toHex(key)}!${toHex(nonce)}`, value: new Uint8Array(0) }, ...ops]);
      return result;
    });
  }

  /**
   * depositOps prepares a deposit of a sealed item for a wallet (run inside accept). An
   * event delivers to one wallet only: the same sealed bytes for the same wallet again
   * return the first item; anything else for that event is CONFLICT, also after the
   * wallet deleted the item (until it expires). TOO_LARGE when the wallet is full.
   */
  async depositOps(wallet: Uint8Array, r: Omit<ItemRecord, 'deposited'>, now: number): Promise<{ result: { item: string; created: boolean }; ops: Op[] }> {
    const w = toHex(wallet);
    const ek = `e!${toHex(r.event)}`;
    const prior = await this.#get(ek);
    if (prior !== undefined) {
      const e = decodeCbor(prior) as unknown as EventRecord;
      if (equalBytes(e.wallet, wallet) && equalBytes(e.sealed, sha256(r.sealed)) && (await this.#get(`i!${w}!${e.item}`)) !== undefined) {
        return { result: { item: e.item, created: false }, ops: [] };
      }
      throw new LedgerError('CONFLICT', 'this event already delivered an item (one event, one item, one wallet)');
    }
    const count = await this.#count(w);
    if (count >= MAX_ITEMS_PER_WALLET) throw new LedgerError('TOO_LARGE', `the wallet holds ${count} items, the most a wallet may hold`);
    const item = toHex(randomBytes(16));
    const rec: ItemRecord = { ...r, deposited: now };
    const ev: EventRecord = { wallet, item, validUntil: r.validUntil, sealed: sha256(r.sealed) };
    return {
      result: { item, created: true },
      ops: [
        { type: 'put', key: `i!${w}!${item}`, value: encodeCbor(rec as never) },
        { type: 'put', key: ek, value: encodeCbor(ev as never) },
        { type: 'put', key: `x!${pad16(r.validUntil)}!${toHex(r.event)}`, value: new Uint8Array(0) },
        { type: 'put', key: `c!${w}`, value: encodeCbor(count + 1) },
      ],
    };
  }

  async #count(w: string): Promise<number> {
    const raw = await this.#get(`c!${w}`);
    return raw === undefined ? 0 : (decodeCbor(raw) as number);
  }

  async #record(w: string, item: string): Promise<ItemRecord | undefined> {
    if (!ITEM.test(item)) return undefined;
    const raw = await this.#get(`i!${w}!${item}`);
    return raw === undefined ? undefined : (decodeCbor(raw) as unknown as ItemRecord);
  }

  /** list returns a wallet's items that are not expired at `now`, oldest deposit first. */
  async list(wallet: Uint8Array, now: number): Promise<StoredItemInfo[]> {
    const w = toHex(wallet);
    const out: StoredItemInfo[] = [];
    for await (const [key, raw] of this.#db.entries({ gt: `i!${w}!`, lt: `i!${w}!~` })) {
      const r = decodeCbor(raw) as unknown as ItemRecord;
      if (r.validUntil <= now) continue;
      out.push({ item: key.slice(key.lastIndexOf('!') + 1), kind: r.kind, id: toHex(r.id), event: toHex(r.event), validUntil: r.validUntil, deposited: r.deposited, bytes: r.sealed.length });
    }
    return out.sort((a, b) => a.deposited - b.deposited || a.item.localeCompare(b.item));
  }

  /** sealed returns an item's sealed bytes; NOT_FOUND for an unknown or expired item. */
  async sealed(wallet: Uint8Array, item: string, now: number): Promise<Uint8Array> {
    const r = await this.#record(toHex(wallet), item);
    if (r === undefined || r.validUntil <= now) throw new LedgerError('NOT_FOUND', `no item ${item} in this wallet`);
    return r.sealed;
  }

  /** deleteOps prepares the deletion of an item (run inside accept); NOT_FOUND for an unknown one. The event's record stays (a tombstone). */
  async deleteOps(wallet: Uint8Array, item: string): Promise<{ result: undefined; ops: Op[] }> {
    const w = toHex(wallet);
    const r = await this.#record(w, item);
    if (r === undefined) throw new LedgerError('NOT_FOUND', `no item ${item} in this wallet`);
    return { result: undefined, ops: [{ type: 'del', key: `i!${w}!${item}` }, { type: 'put', key: `c!${w}`, value: encodeCbor(Math.max(0, (await this.#count(w)) - 1)) }] };
  }

  /**
   * sweep deletes every item whose certificate expired at `now` (validUntil ≤ now), with
   * its event's record, and forgets request nonces whose time is more than
   * NONCE_MEMORY_SECONDS before `now` (a replay of one is refused for its time anyway).
   * Returns how many items went.
   */
  sweep(now: number): Promise<number> {
    return this.#serial(async (write) => {
      const ops: Op[] = [];
      const counts = new Map<string, number>();
      let items = 0;
      for await (const [key] of this.#db.entries({ gt: 'x!', lte: `x!${pad16(now)}!~` })) {
        const event = key.slice(key.lastIndexOf('!') + 1);
        ops.push({ type: 'del', key }, { type: 'del', key: `e!${event}` });
        const raw = await this.#get(`e!${event}`);
        if (raw === undefined) continue;
        const e = decodeCbor(raw) as unknown as EventRecord;
        const w = toHex(e.wallet);
        if ((await this.#get(`i!${w}!${e.item}`)) === undefined) continue; // deleted before: a tombstone
        ops.push({ type: 'del', key: `i!${w}!${e.item}` });
        counts.set(w, (counts.get(w) ?? (await this.#count(w))) - 1);
        items++;
      }
      for (const [w, c] of counts) ops.push({ type: 'put', key: `c!${w}`, value: encodeCbor(Math.max(0, c)) });
      for await (const [key] of this.#db.entries({ gt: 't!', lt: `t!${pad16(Math.max(0, now - NONCE_MEMORY_SECONDS))}` })) {
        const [, , k, n] = key.split('!');
        ops.push({ type: 'del', key }, { type: 'del', key: `n!${k}!${n}` });
      }
      if (ops.length > 0) await write(ops);
      return items;
    });
  }

  /** rawEntries yields every stored key and value (tests search them for plaintext). */
  async *rawEntries(): AsyncGenerator<[string, Uint8Array]> {
    for await (const [k, v] of this.#db.entries({ gt: '' })) yield [k, v];
  }
}
