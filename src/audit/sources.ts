/**
 * The two places an auditor reads a log from: the public read API of a server (tiles,
 * entry bundles, checkpoint history; spec §6, docs/api.md), exactly as any outsider
 * can, or a ledger directory through the storage layer (its LevelDB must not be open in
 * a running server: LevelDB allows one process).
 */
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { LedgerError } from '../core/errors.js';
import { fromBase64, utf8 } from '../core/bytes.js';
import { decodeEntryBundle, formatTilePath, TILE_WIDTH } from '../core/tiles.js';
import { parseCheckpoint } from '../core/checkpoint.js';
import { parseNote } from '../core/note.js';
import { LevelStore } from '../storage/level.js';
import { PostgresStore } from '../storage/postgres.js';
import { proveConsistency } from '../core/merkle.js';
import type { AuditSource } from './audit.js';
import { TOKEN_MAX } from '../timestamp/rfc3161.js';

/**
 * dataSource reads the ledger in DIR (DIR/db), or in the PostgreSQL database at `url`
 * (spec §8.4a). UNAVAILABLE if there is none or it is in use.
 */
export async function dataSource(dir: string, url?: string): Promise<AuditSource> {
  const path = join(dir, 'db');
  if (url === undefined) {
    try {
      await stat(join(path, 'CURRENT'));
    } catch {
      throw new LedgerError('UNAVAILABLE', `${dir} holds no ledger (no ${path})`);
    }
  }
  const store = url === undefined ? new LevelStore(path) : new PostgresStore(url);
  await store.open();
  return {
    name: dir,
    async latest() {
      const h = await store.readHead();
      if (h === undefined) throw new LedgerError('UNAVAILABLE', `${dir} holds an empty store`);
      return h.checkpoint;
    },
    witnessed: async () => (await store.latestAnnex('witnessed'))?.bytes,
    async checkpoints(from, limit) {
      const page = await store.readCheckpoints(from, limit);
      if (page.length === 0) return page;
      // Each checkpoint's timestamp token (spec §14), if the store keeps one.
      const last = page[page.length - 1].size;
      const tokens = new Map<number, Uint8Array>();
      for (let at = from; ; ) {
        const annexes = await store.readAnnexes('timestamp', at, 1000);
        for (const a of annexes) if (a.size <= last) tokens.set(a.size, a.bytes);
        if (annexes.length < 1000 || annexes[annexes.length - 1].size >= last) break;
        at = annexes[annexes.length - 1].size + 1;
      }
      return page.map((c) => (tokens.has(c.size) ? { ...c, timestamp: tokens.get(c.size) } : c));
    },
    entries: (start, end) => store.readEntries(start, end),
    storedHashes: (start, end) => store.readHashes(Array.from({ length: end - start }, (_, i) => start + i)),
    consistency: (from, to) => proveConsistency(from, to, (ix) => store.readHashes(ix)),
    close: () => store.close(),
  };
}

/** urlSource reads a served log through its public read API. */
export function urlSource(base: string, fetchImpl: typeof fetch = fetch): AuditSource {
  const root = base.replace(/\/+$/, '');
  let headSize: number | undefined;
  let lastTile: { index: number; width: number; entries: Uint8Array[] } | undefined;
  const get = async (path: string): Promise<Response> => {
    let r: Response;
    try {
      r = await fetchImpl(root + path, { signal: AbortSignal.timeout(60_000) });
    } catch (e) {
      throw new LedgerError('UNAVAILABLE', `GET ${root + path}: ${(e as Error).message}`, { cause: e });
    }
    if (r.status === 404) throw new LedgerError('NOT_FOUND', `GET ${root + path}: 404`);
    if (!r.ok) throw new LedgerError('UNAVAILABLE', `GET ${root + path}: HTTP ${r.status}`);
    return r;
  };
  const bytes = async (path: string) => new Uint8Array(await (await get(path)).arrayBuffer());
  const json = async (path: string): Promise<Record<string, unknown>> => {
    try {
      return (await (await get(path)).json()) as Record<string, unknown>;
    } catch (e) {
      if (e instanceof LedgerError) throw e;
      throw new LedgerError('MALFORMED', `GET ${root + path}: not JSON`, { cause: e });
    }
  };
  const tile = async (index: number): Promise<Uint8Array[]> => {
    if (headSize === undefined) throw new RangeError('urlSource: read latest() first');
    const width = Math.min(TILE_WIDTH, headSize - index * TILE_WIDTH);
    if (lastTile?.index === index && lastTile.width === width) return lastTile.entries;
    const entries = decodeEntryBundle(await bytes('/' + formatTilePath({ kind: 'entries', index, width })), width);
    lastTile = { index, width, entries };
    return entries;
  };
  return {
    name: root,
    async latest() {
      const note = await bytes('/checkpoint');
      headSize = parseCheckpoint(parseNote(note).text).size; // verified by the auditor
      return note;
    },
    async checkpoints(from, limit) {
      const j = await json(`/v1/checkpoints?from=${from}&limit=${Math.min(limit, 1000)}`);
      if (!Array.isArray(j.checkpoints)) throw new LedgerError('MALFORMED', 'GET /v1/checkpoints: no checkpoints array');
      return j.checkpoints.map((c: { size: unknown; checkpoint: unknown; timestamp?: unknown }) => {
        if (typeof c.size !== 'number' || typeof c.checkpoint !== 'string') throw new LedgerError('MALFORMED', 'GET /v1/checkpoints: an item is not { size, checkpoint }');
        if (c.timestamp === undefined) return { size: c.size, checkpoint: utf8(c.checkpoint) };
        // A token is at most TOKEN_MAX bytes: its base64 at most 4/3 of that.
        if (typeof c.timestamp !== 'string' || c.timestamp.length > Math.ceil(TOKEN_MAX / 3) * 4) throw new LedgerError('MALFORMED', `GET /v1/checkpoints: the timestamp of size ${c.size} is not a base64 token`);
        let timestamp: Uint8Array;
        try {
          timestamp = fromBase64(c.timestamp);
        } catch (e) {
          throw new LedgerError('MALFORMED', `GET /v1/checkpoints: the timestamp of size ${c.size} is not base64`, { cause: e });
        }
        return { size: c.size, checkpoint: utf8(c.checkpoint), timestamp };
      });
    },
    async entries(start, end) {
      if (start === 0 && end === 1 && headSize === undefined) await this.latest();
      const out: Uint8Array[] = [];
      for (let t = Math.floor(start / TILE_WIDTH); t * TILE_WIDTH < end; t++) {
        const es = await tile(t);
        const lo = Math.max(start, t * TILE_WIDTH);
        const hi = Math.min(end, t * TILE_WIDTH + es.length);
        for (let i = lo; i < hi; i++) out.push(es[i - t * TILE_WIDTH]);
      }
      return out;
    },
    async hashTile(level, index, width) {
      const b = await bytes('/' + formatTilePath({ kind: 'hash', level, index, width }));
      if (b.length !== 32 * width) throw new LedgerError('MALFORMED', `tile ${level}/${index}: ${b.length} bytes, not ${32 * width}`);
      return b;
    },
    async consistency(from, to) {
      const j = await json(`/v1/proofs/consistency?from=${from}&to=${to}`);
      if (!Array.isArray(j.proof)) throw new LedgerError('MALFORMED', 'GET /v1/proofs/consistency: no proof array');
      return j.proof.map((h) => fromBase64(String(h)));
    },
    async close() {},
  };
}
