/**
 * WitnessState: what a witness must never forget (spec §13.2), in a LevelDB of its own
 * (DIR/state): per log origin, the latest checkpoint it cosigned — its size, its root and
 * the note as submitted — and the requests it refused although the log had signed them
 * (evidence of a log that forked or lied). Every write is synced before it returns, so a
 * cosignature is never given for a state that a crash could lose.
 *
 *   s!<origin>              → CBOR { size, root, checkpoint }
 *   e!<SHA-256(origin) hex>!<size, 16 digits>!<root hex>!<SHA-256(request) hex>
 *                           → CBOR { time, origin, reason, request }
 *                           (at most EVIDENCE_PER_CHECKPOINT requests per checkpoint, each once:
 *                           a flood of requests cannot fill the disk, and one sender cannot
 *                           take the only slot of a checkpoint)
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
  /** Where it sits in the listing: `<size, 16 digits>!<root hex>!<SHA-256(request) hex>`. */
  cursor: string;
  time: number;
  origin: string;
  reason: string;
  request: Uint8Array;
}

/** How many different refused requests are kept for one checkpoint (origin, size, root). */
export const EVIDENCE_PER_CHECKPOINT = 4;

/** A listing cursor, as Evidence.cursor. */
export const EVIDENCE_CURSOR = /^[0-9]{16}![0-9a-f]{64}![0-9a-f]{64}$/;

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

  /**
   * evidence keeps a refused request whose checkpoint the log signed: each different
   * request once, at most EVIDENCE_PER_CHECKPOINT per (origin, size, root).
   */
  async evidence(origin: string, size: number, root: Uint8Array, request: Uint8Array, reason: string): Promise<void> {
    const checkpoint = `e!${toHex(sha256(utf8(origin)))}!${String(size).padStart(16, '0')}!${toHex(root)}!`;
    const key = checkpoint + toHex(sha256(request));
    if ((await this.#db.get(key)) !== undefined) return;
    const kept = await this.#db.keys({ gt: checkpoint, lt: `${checkpoint}~`, limit: EVIDENCE_PER_CHECKPOINT }).all();
    if (kept.length >= EVIDENCE_PER_CHECKPOINT) return;
    const time = Math.floor(Date.now() / 1000);
    await this.#db.put(key, encodeCbor({ time, origin, reason, request }), { sync: true });
  }

  /**
   * evidences lists the kept refusals of one origin by size, then root, then request
   * hash: at most `limit`, after the cursor `after` when given.
   */
  async evidences(origin: string, limit: number, after?: string): Promise<Evidence[]> {
    const prefix = `e!${toHex(sha256(utf8(origin)))}!`;
    const out: Evidence[] = [];
    for await (const [k, v] of this.#db.iterator({ gt: after === undefined ? prefix : prefix + after, lt: `${prefix}~`, limit })) {
      const r = decodeCbor(v, { maxBytes: RECORD_MAX_BYTES }) as unknown as Omit<Evidence, 'cursor'>;
      out.push({ cursor: k.slice(prefix.length), time: r.time, origin: r.origin, reason: r.reason, request: r.request });
    }
    return out;
  }
}
