/**
 * The personal data store (spec §12.6) on LevelDB: per wallet, items sealed to the
 * wallet (the server cannot open them), with what routing and expiry need in the clear,
 * and the nonces of accepted store requests (replays are refused across restarts).
 *
 * Layout (one LevelDB in DIR/wallets/, keys are text):
 *   i!<wallet hex>!<item hex>                 → CBOR item record
 *   e!<event leaf hex>                        → CBOR { wallet, item, validUntil, sealed hash }:
 *                                               the one wallet an event delivered to; kept
 *                                               after a deletion (a tombstone) until expiry
 *   x!<validUntil, 16 digits>!<event hex>     → '' (the sweeper's index)
 *   c!<wallet hex>                            → CBOR count of the wallet's items
 *   n!<key hex>!<nonce hex>                   → time (replay: accepted nonces)
 *   t!<time, 16 digits>!<key hex>!<nonce hex> → '' (forgetting nonces in time order)
 *
 * Every change is one batch written with sync: an acknowledged request survives a
 * crash. Changes are serialized in this process (one server owns DIR), at most
 * MAX_WAITING waiting (then OVERLOADED); reads run outside that queue.
 */
import { Level } from 'level';
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

export class WalletStore {
  #db: Level<string, Uint8Array>;
  #queue: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  constructor(dir: string) {
    this.#db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
  }

  async open(): Promise<void> {
    try {
      await this.#db.open();
    } catch (e) {
      const busy = (e as { cause?: { code?: string } })?.cause?.code === 'LEVEL_LOCKED';
      throw new LedgerError('UNAVAILABLE', busy ? 'the wallet store is in use by another process' : `the wallet store does not open: ${(e as Error).message}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    await this.#db.close();
  }

  /** serial runs changes one at a time: a check and its write are never interleaved. OVERLOADED beyond MAX_WAITING. */
  #serial<T>(f: () => Promise<T>): Promise<T> {
    if (this.#waiting >= MAX_WAITING) return Promise.reject(new LedgerError('OVERLOADED', `${this.#waiting} store changes waiting: retry later`));
    this.#waiting++;
    const run = this.#queue.then(f, f).finally(() => this.#waiting--);
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
    return this.#serial(async () => {
      const nk = `n!${toHex(key)}!${toHex(nonce)}`;
      if ((await this.#get(nk)) !== undefined) throw new LedgerError('REPLAYED', 'this request (key and nonce) was accepted before');
      const { result, ops = [] } = await then();
      await this.#db.batch([{ type: 'put', key: nk, value: encodeCbor(time) }, { type: 'put', key: `t!${pad16(time)}!${toHex(key)}!${toHex(nonce)}`, value: new Uint8Array(0) }, ...ops], { sync: true });
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
    for await (const [key, raw] of this.#db.iterator({ gt: `i!${w}!`, lt: `i!${w}!~` })) {
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
    return this.#serial(async () => {
      const ops: Op[] = [];
      const counts = new Map<string, number>();
      let items = 0;
      for await (const key of this.#db.keys({ gt: 'x!', lte: `x!${pad16(now)}!~` })) {
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
      for await (const key of this.#db.keys({ gt: 't!', lt: `t!${pad16(Math.max(0, now - NONCE_MEMORY_SECONDS))}` })) {
        const [, , k, n] = key.split('!');
        ops.push({ type: 'del', key }, { type: 'del', key: `n!${k}!${n}` });
      }
      if (ops.length > 0) await this.#db.batch(ops, { sync: true });
      return items;
    });
  }

  /** rawEntries yields every stored key and value (tests search them for plaintext). */
  async *rawEntries(): AsyncGenerator<[string, Uint8Array]> {
    for await (const [k, v] of this.#db.iterator()) yield [k, v];
  }
}
