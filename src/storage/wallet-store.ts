/**
 * The personal data store (spec §12.6) on LevelDB: per wallet, items sealed to the
 * wallet (the server cannot open them), with what routing and expiry need in the clear,
 * and the nonces of accepted store requests (replays are refused across restarts).
 *
 * Layout (one LevelDB in DIR/wallets/, keys are text):
 *   i!<wallet hex>!<item hex>                 → CBOR item record
 *   e!<event leaf hex>!<wallet hex>           → item hex (one event, one item per wallet)
 *   x!<validUntil, 16 digits>!<wallet hex>!<item hex> → '' (the sweeper's index)
 *   n!<key hex>!<nonce hex>                   → time (replay: accepted nonces)
 *   t!<time, 16 digits>!<key hex>!<nonce hex> → '' (forgetting nonces in time order)
 *
 * Every change is one batch written with sync: an acknowledged deposit or deletion
 * survives a crash. Changes are serialized in this process (one server owns DIR).
 */
import { Level } from 'level';
import { decodeCbor, encodeCbor } from '../core/cbor.js';
import { toHex } from '../core/bytes.js';
import { randomBytes } from '../core/crypto.js';
import { LedgerError } from '../core/errors.js';
import { equalBytes } from '../core/bytes.js';

/** How long an accepted request nonce is remembered: twice the allowed clock skew. */
export const NONCE_MEMORY_SECONDS = 600;

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

const pad16 = (n: number) => String(n).padStart(16, '0');

export class WalletStore {
  #db: Level<string, Uint8Array>;
  #queue: Promise<unknown> = Promise.resolve();

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

  /** serial runs changes one at a time: a check and its write are never interleaved. */
  #serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(f, f);
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
  accept<T>(key: Uint8Array, nonce: Uint8Array, time: number, then: () => Promise<{ result: T; ops?: Op[] }>): Promise<T> {
    return this.#serial(async () => {
      const nk = `n!${toHex(key)}!${toHex(nonce)}`;
      if ((await this.#get(nk)) !== undefined) throw new LedgerError('REPLAYED', 'this request (key and nonce) was accepted before');
      const { result, ops = [] } = await then();
      await this.#db.batch([{ type: 'put', key: nk, value: encodeCbor(time) }, { type: 'put', key: `t!${pad16(time)}!${toHex(key)}!${toHex(nonce)}`, value: new Uint8Array(0) }, ...ops], { sync: true });
      return result;
    });
  }

  /**
   * depositOps prepares a deposit of a sealed item for a wallet (run inside accept):
   * the first item for (event, wallet) is stored; the same sealed bytes again return
   * that item; other bytes for the same event are CONFLICT.
   */
  async depositOps(wallet: Uint8Array, r: Omit<ItemRecord, 'deposited'>, now: number): Promise<{ result: { item: string; created: boolean }; ops: Op[] }> {
    const w = toHex(wallet);
    const ek = `e!${toHex(r.event)}!${w}`;
    const existing = await this.#get(ek);
    if (existing !== undefined) {
      const item = new TextDecoder().decode(existing);
      const rec = await this.#record(w, item);
      if (rec !== undefined && equalBytes(rec.sealed, r.sealed)) return { result: { item, created: false }, ops: [] };
      throw new LedgerError('CONFLICT', 'this event already delivered another item to this wallet');
    }
    const item = toHex(randomBytes(16));
    const rec: ItemRecord = { ...r, deposited: now };
    return {
      result: { item, created: true },
      ops: [
        { type: 'put', key: `i!${w}!${item}`, value: encodeCbor(rec as never) },
        { type: 'put', key: ek, value: new TextEncoder().encode(item) },
        { type: 'put', key: `x!${pad16(r.validUntil)}!${w}!${item}`, value: new Uint8Array(0) },
      ],
    };
  }

  async #record(w: string, item: string): Promise<ItemRecord | undefined> {
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
    const r = /^[0-9a-f]{32}$/.test(item) ? await this.#record(toHex(wallet), item) : undefined;
    if (r === undefined || r.validUntil <= now) throw new LedgerError('NOT_FOUND', `no item ${item} in this wallet`);
    return r.sealed;
  }

  /** deleteOps prepares the deletion of an item (run inside accept); NOT_FOUND for an unknown one. */
  async deleteOps(wallet: Uint8Array, item: string): Promise<{ result: undefined; ops: Op[] }> {
    const w = toHex(wallet);
    const r = /^[0-9a-f]{32}$/.test(item) ? await this.#record(w, item) : undefined;
    if (r === undefined) throw new LedgerError('NOT_FOUND', `no item ${item} in this wallet`);
    return { result: undefined, ops: itemDeletion(w, item, r) };
  }

  /**
   * sweep deletes every item whose certificate expired at `now` (validUntil ≤ now) and
   * forgets request nonces older than NONCE_MEMORY_SECONDS. Returns how many items went.
   */
  sweep(now: number): Promise<number> {
    return this.#serial(async () => {
      const ops: Op[] = [];
      let items = 0;
      for await (const key of this.#db.keys({ gt: 'x!', lte: `x!${pad16(now)}!~` })) {
        const [, , w, item] = key.split('!');
        const r = await this.#record(w, item);
        ops.push({ type: 'del', key });
        if (r !== undefined) {
          ops.push(...itemDeletion(w, item, r).filter((o) => o.key !== key));
          items++;
        }
      }
      for await (const key of this.#db.keys({ gt: 't!', lt: `t!${pad16(Math.max(0, now - NONCE_MEMORY_SECONDS))}` })) {
        const [, , k, n] = key.split('!');
        ops.push({ type: 'del', key }, { type: 'del', key: `n!${k}!${n}` });
      }
      if (ops.length > 0) await this.#db.batch(ops, { sync: true });
      return items;
    });
  }

  /** rawValues yields every stored key and value (tests search them for plaintext). */
  async *rawEntries(): AsyncGenerator<[string, Uint8Array]> {
    for await (const [k, v] of this.#db.iterator()) yield [k, v];
  }
}

export type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

function itemDeletion(w: string, item: string, r: ItemRecord): Op[] {
  return [
    { type: 'del', key: `i!${w}!${item}` },
    { type: 'del', key: `e!${toHex(r.event)}!${w}` },
    { type: 'del', key: `x!${pad16(r.validUntil)}!${w}!${item}` },
  ];
}
