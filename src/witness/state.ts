/**
 * WitnessState: what a witness must never forget (spec §13.2), in a LevelDB of its own
 * (DIR/state): per log origin, the latest checkpoint it cosigned — its size, its root and
 * the note as submitted — and the requests it refused although the log had signed them
 * (evidence of a log that forked or lied). Every write is synced before it returns, so a
 * cosignature is never given for a state that a crash could lose.
 *
 *   s!<origin>              → CBOR { size, root, checkpoint }
 *   e!<SHA-256(origin) hex>!<size, 16 digits>!<root hex> → CBOR { time, origin, reason, request }
 *                           (one per checkpoint: a flood of requests stores each once)
 */
import { Level } from 'level';
import { decodeCbor, encodeCbor } from '../core/cbor.js';
import { LedgerError } from '../core/errors.js';
import { toHex, utf8 } from '../core/bytes.js';
import { sha256 } from '../core/crypto.js';

export interface Cosigned {
  size: number;
  root: Uint8Array;
  /** The checkpoint note as the log submitted it. */
  checkpoint: Uint8Array;
}

export interface Evidence {
  time: number;
  origin: string;
  reason: string;
  request: Uint8Array;
}

/** A stored record holds at most one request (262,144 bytes) and a little more: read up to twice that. */
const RECORD_MAX_BYTES = 2 * 262_144;

export class WitnessState {
  readonly #db: Level<string, Uint8Array>;

  constructor(dir: string) {
    this.#db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
  }

  async open(): Promise<void> {
    try {
      await this.#db.open();
    } catch (e) {
      const busy = (e as { cause?: { code?: string } })?.cause?.code === 'LEVEL_LOCKED';
      throw new LedgerError('UNAVAILABLE', busy ? 'the witness state is in use by another process' : `the witness state does not open: ${(e as Error).message}`, { cause: e });
    }
  }

  close(): Promise<void> {
    return this.#db.close();
  }

  async get(origin: string): Promise<Cosigned | undefined> {
    const raw = await this.#db.get(`s!${origin}`);
    if (raw === undefined) return undefined;
    const r = decodeCbor(raw, { maxBytes: RECORD_MAX_BYTES }) as unknown as Cosigned;
    return { size: r.size, root: r.root, checkpoint: r.checkpoint };
  }

  async put(origin: string, c: Cosigned): Promise<void> {
    await this.#db.put(`s!${origin}`, encodeCbor({ size: c.size, root: c.root, checkpoint: c.checkpoint }), { sync: true });
  }

  /** evidence keeps a refused request whose checkpoint the log signed, once per (origin, size, root). */
  async evidence(origin: string, size: number, root: Uint8Array, request: Uint8Array, reason: string): Promise<void> {
    const key = `e!${toHex(sha256(utf8(origin)))}!${String(size).padStart(16, '0')}!${toHex(root)}`;
    if ((await this.#db.get(key)) !== undefined) return;
    const time = Math.floor(Date.now() / 1000);
    await this.#db.put(key, encodeCbor({ time, origin, reason, request }), { sync: true });
  }

  /** evidences lists the kept refusals (of one origin, when given), oldest first; at most `limit`, by the lowest sizes. */
  async evidences(origin?: string, limit = Number.MAX_SAFE_INTEGER): Promise<Evidence[]> {
    const out: Evidence[] = [];
    const prefix = origin === undefined ? 'e!' : `e!${toHex(sha256(utf8(origin)))}!`;
    for await (const [, v] of this.#db.iterator({ gt: prefix, lt: `${prefix}~`, limit })) out.push(decodeCbor(v, { maxBytes: RECORD_MAX_BYTES }) as unknown as Evidence);
    return out.sort((a, b) => a.time - b.time);
  }
}
