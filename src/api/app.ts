/**
 * createApp builds the Koa application of the read API (docs/api.md): the C2SP
 * tlog-tiles endpoints and dojang's /v1 reads. It never listens: cli/ does.
 *
 * - Routes are exact: case-sensitive, no trailing slash; anything else is 404.
 * - The API is public: every answer carries `Access-Control-Allow-Origin: *` (Fetch
 *   standard, CORS) so that a browser verifier page on any origin can read it.
 * - Tile and entry-bundle reads, and their compression, are bounded (ReadGate) and
 *   compress on the libuv threadpool, so a burst of large bundles never blocks the
 *   event loop; beyond the bound a request is answered 503 OVERLOADED at once.
 */
import Koa, { type Context } from 'koa';
import Router from '@koa/router';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { LedgerError } from '../core/errors.js';
import { fromHex, toBase64 } from '../core/bytes.js';
import { MAX_ENTRY_SIZE, parseTilePath, tileForSize, TILE_WIDTH, type TileCoord } from '../core/tiles.js';
import { leafHash } from '../core/merkle.js';
import { parseCheckpoint } from '../core/checkpoint.js';
import { parseNote } from '../core/note.js';
import type { ProofBundle } from '../core/proof-bundle.js';
import type { Ledger, ProvedEntry } from '../ledger/ledger.js';
import { decodePresentation, MAX_PRESENTATION_BYTES, MAX_VERIFIER_NAME_BYTES } from '../client/presentation.js';
import { MAX_STATUS_AGE_LIMIT_S, PresentationVerifier, verdictJson } from '../client/verify.js';
import type { Policy } from '../core/policy.js';
import { errorToProblem, sendCodedProblem } from './problem.js';
import { readBody } from './body.js';
import type { WalletStore } from '../storage/wallet-store.js';
import { mountWalletRoutes, WALLET_HEADERS, walletMethods } from './wallet-routes.js';
import { createMetrics, type Metrics } from './metrics.js';
import { webPage } from './web.js';

const gzipAsync = promisify(gzip);

/** ReadLimits bound the tile and entry-bundle reads of one app. */
export interface ReadLimits {
  /** Reads (each with its compression) in flight at once. */
  active: number;
  /** Reads that may wait for a slot; a read beyond that is answered 503 OVERLOADED. */
  waiting: number;
  /** Bytes of gzipped full entry bundles kept in memory (least recently used first out); 0: none. */
  cacheBytes: number;
}

/** READ_LIMITS are the defaults: 8 in flight, 256 waiting, a 32 MiB bundle cache. */
export const READ_LIMITS: Readonly<ReadLimits> = { active: 8, waiting: 256, cacheBytes: 32 * 1024 * 1024 };

export interface AppDeps {
  ledger: Ledger;
  /** Called with unexpected (5xx) errors. */
  log?: (msg: string, err?: unknown) => void;
  metrics?: Metrics;
  /** Overrides of READ_LIMITS. */
  limits?: Partial<ReadLimits>;
  /** The verifier's clock for POST /v1/verify and the wallet store, milliseconds like Date.now (the default). */
  clock?: () => number;
  /** The personal data store (spec §12.6); without it the /v1/wallets routes are not served. */
  wallets?: WalletStore;
  /**
   * The log's witness policy (spec §13.3, §13.5): the file's bytes, served as they are at
   * GET /v1/policy, and the policy parsed from them, by which POST /v1/verify judges.
   * Without it GET /v1/policy is 404 and verdicts have no `witnessed` check.
   */
  policy?: { file: Uint8Array; policy: Policy };
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The write endpoint: signed entries, application/cbor (spec §8.6). */
const WRITE_PATH = '/v1/entries';
/** Presentations to judge (spec §10): application/cbor, answered with a verdict. */
const VERIFY_PATH = '/v1/verify';

/**
 * verifyQuery reads the query of POST /v1/verify: `audience` (the verifier's key, 64 hex
 * digits: received flow), `nonce` (32–128 hex digits) and `verifier` (its name: face
 * flow), and `maxStatusAge` (seconds, spec §10.2), each at most once. BAD_REQUEST otherwise.
 */
function verifyQuery(qs: string): { audience?: Uint8Array; nonce?: Uint8Array; verifierName?: string; maxStatusAge?: number } {
  const params = new URLSearchParams(qs);
  const out: { audience?: Uint8Array; nonce?: Uint8Array; verifierName?: string; maxStatusAge?: number } = {};
  const seen = new Set<string>();
  for (const [k, v] of params) {
    if (seen.has(k)) throw new LedgerError('BAD_REQUEST', `${VERIFY_PATH}: ${k} is given twice`);
    seen.add(k);
    if (k === 'audience') {
      if (!/^[0-9a-f]{64}$/.test(v)) throw new LedgerError('BAD_REQUEST', 'audience must be a public key as 64 lowercase hex digits');
      out.audience = fromHex(v);
    } else if (k === 'nonce') {
      if (!/^([0-9a-f]{2}){16,64}$/.test(v)) throw new LedgerError('BAD_REQUEST', 'nonce must be 16-64 bytes as lowercase hex');
      out.nonce = fromHex(v);
    } else if (k === 'verifier') {
      const n = Buffer.byteLength(v, 'utf8');
      if (n < 1 || n > MAX_VERIFIER_NAME_BYTES) throw new LedgerError('BAD_REQUEST', `verifier must be 1-${MAX_VERIFIER_NAME_BYTES} bytes of UTF-8`);
      out.verifierName = v;
    } else if (k === 'maxStatusAge') {
      const n = parseCount(v, 'maxStatusAge');
      if (n > MAX_STATUS_AGE_LIMIT_S) throw new LedgerError('BAD_REQUEST', `maxStatusAge must be at most ${MAX_STATUS_AGE_LIMIT_S} seconds`);
      out.maxStatusAge = n;
    } else throw new LedgerError('BAD_REQUEST', `${VERIFY_PATH} takes audience, nonce, verifier and maxStatusAge, not ${JSON.stringify(k)}`);
  }
  if ((out.nonce === undefined) !== (out.verifierName === undefined)) throw new LedgerError('BAD_REQUEST', 'nonce and verifier go together (the face-to-face flow)');
  return out;
}

/** provedJson is an entry with its inclusion proof as the status answer carries it (spec §8.7). */
function provedJson(e: ProvedEntry): { index: number; entry: string; proof: string[] } {
  return { index: e.index, entry: toBase64(e.entry), proof: e.proof.map(toBase64) };
}

/** How long a browser may cache a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE = '86400';

/** parseCount parses a decimal query/path number strictly; BAD_REQUEST otherwise. */
export function parseCount(s: unknown, what: string): number {
  if (typeof s !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(s)) throw new LedgerError('BAD_REQUEST', `${what} must be a decimal integer without leading zeros`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new LedgerError('BAD_REQUEST', `${what} is too large`);
  return n;
}

/**
 * ReadGate lets at most `maxActive` tasks run at once and at most `maxWaiting` more
 * wait, first come first served; run() rejects a task beyond that at once with
 * LedgerError OVERLOADED (503 with Retry-After: overload is answered, never a hang).
 */
export class ReadGate {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    readonly maxActive: number,
    readonly maxWaiting: number,
  ) {
    if (!Number.isSafeInteger(maxActive) || maxActive < 1) throw new RangeError(`ReadGate: maxActive must be a positive integer, got ${maxActive}`);
    if (!Number.isSafeInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`ReadGate: maxWaiting must be a non-negative integer, got ${maxWaiting}`);
  }

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** run runs task when a slot is free; rejects with OVERLOADED when the wait list is full. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.maxActive) this.running++;
    else if (this.queue.length < this.maxWaiting) await new Promise<void>((r) => this.queue.push(r)); // the slot is handed over
    else throw new LedgerError('OVERLOADED', `${this.running} tile reads in flight and ${this.queue.length} waiting: retry later`);
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }
}

/**
 * BundleCache keeps byte strings by key up to a total of `maxBytes`, evicting the least
 * recently used first. A value larger than maxBytes is not kept.
 */
export class BundleCache {
  private readonly items = new Map<number, Buffer>();
  private total = 0;

  constructor(readonly maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`BundleCache: maxBytes must be a non-negative integer, got ${maxBytes}`);
  }

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.items.size;
  }

  get(key: number): Buffer | undefined {
    const v = this.items.get(key);
    if (v !== undefined) {
      this.items.delete(key);
      this.items.set(key, v);
    }
    return v;
  }

  set(key: number, value: Buffer): void {
    const old = this.items.get(key);
    if (old !== undefined) {
      this.items.delete(key);
      this.total -= old.length;
    }
    if (value.length > this.maxBytes) return;
    this.items.set(key, value);
    this.total += value.length;
    for (const [k, v] of this.items) {
      if (this.total <= this.maxBytes) break;
      this.items.delete(k);
      this.total -= v.length;
    }
  }
}

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** inTree says whether the tree of `size` leaves has tile or bundle t (c2sp.org/tlog-tiles). */
function inTree(t: TileCoord, size: number): boolean {
  return tileForSize(t.kind === 'hash' ? t.level : 0, t.index, size) >= t.width;
}

export function createApp(deps: AppDeps): Koa {
  const { ledger } = deps;
  const limits: ReadLimits = { ...READ_LIMITS, ...deps.limits };
  const gate = new ReadGate(limits.active, limits.waiting);
  const cache = new BundleCache(limits.cacheBytes);
  /** Full bundles being gzipped now, so that concurrent requests share one compression. */
  const compressing = new Map<number, Promise<Buffer | undefined>>();
  const metrics = deps.metrics ?? createMetrics(ledger);
  metrics.trackReads(() => ({ active: gate.active, waiting: gate.waiting, cacheBytes: cache.bytes, cacheEntries: cache.size }));
  const app = new Koa();
  app.proxy = false;

  // Errors → problem+json; CORS on every answer; metrics per route.
  app.use(async (ctx, next) => {
    const end = metrics.requestStarted();
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) sendCodedProblem(ctx, 'NOT_FOUND', `no resource at ${ctx.path}`);
    } catch (e) {
      if (errorToProblem(ctx, e)) deps.log?.(`${ctx.method} ${ctx.path} failed`, e);
    } finally {
      // The data is public: any origin may read every answer, problems included, and
      // see Retry-After (not a CORS-safelisted response header).
      ctx.set('Access-Control-Allow-Origin', '*');
      ctx.set('Access-Control-Expose-Headers', 'Retry-After');
      end(ctx.state.route ?? 'other', ctx.status);
    }
  });

  app.use(async (ctx, next) => {
    const write = ctx.path === WRITE_PATH || ctx.path === VERIFY_PATH;
    const wallet = deps.wallets === undefined ? undefined : walletMethods(ctx.path);
    const methods = wallet ?? (write ? ['POST'] : ['GET', 'HEAD']);
    if (methods.includes(ctx.method)) return next();
    ctx.set('Allow', [...methods, 'OPTIONS'].join(', '));
    if (ctx.method === 'OPTIONS') {
      // A CORS preflight (or a plain OPTIONS): say what a browser may send here.
      ctx.state.route = 'preflight';
      ctx.set('Access-Control-Allow-Methods', methods.join(', '));
      if (wallet !== undefined) ctx.set('Access-Control-Allow-Headers', WALLET_HEADERS);
      else if (write) ctx.set('Access-Control-Allow-Headers', 'Content-Type');
      ctx.set('Access-Control-Max-Age', PREFLIGHT_MAX_AGE);
      ctx.status = 204;
      return;
    }
    sendCodedProblem(ctx, 'METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}`);
  });

  // /checkpoint and tiles take no query: refuse one, so that caches never store variants
  // of immutable (or signed) resources under other URLs.
  app.use(async (ctx, next) => {
    if ((ctx.path === '/checkpoint' || ctx.path.startsWith('/tile/')) && ctx.url.includes('?')) {
      throw new LedgerError('BAD_REQUEST', `${ctx.path} takes no query string`);
    }
    await next();
  });

  /**
   * fullBundleGzip returns the gzipped full bundle `index` from the cache, from a
   * compression in progress, or by reading and compressing it (in the gate).
   */
  function fullBundleGzip(index: number): Promise<Buffer | undefined> {
    const hit = cache.get(index);
    if (hit !== undefined) return Promise.resolve(hit);
    let p = compressing.get(index);
    if (p === undefined) {
      p = gate
        .run(async () => {
          const raw = await ledger.entryBundle(index, TILE_WIDTH);
          if (raw === undefined) return undefined;
          const z = await gzipAsync(raw);
          cache.set(index, z); // a full bundle never changes
          return z;
        })
        .finally(() => compressing.delete(index));
      compressing.set(index, p);
    }
    return p;
  }

  async function sendBundle(ctx: Context, index: number, width: number): Promise<boolean> {
    // RFC 9110 §12.5.3: gzip only if the client accepts it ("gzip;q=0" refuses it);
    // an absent header, or one that accepts nothing we have, gets identity.
    const wantsGzip = ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
    const body =
      wantsGzip && width === TILE_WIDTH
        ? await fullBundleGzip(index)
        : await gate.run(async () => {
            const raw = await ledger.entryBundle(index, width);
            if (raw === undefined) return undefined;
            return wantsGzip ? gzipAsync(raw) : toBuffer(raw);
          });
    if (body === undefined) return false;
    ctx.vary('Accept-Encoding');
    if (wantsGzip) ctx.set('Content-Encoding', 'gzip');
    ctx.body = body;
    return true;
  }

  async function sendHashTile(ctx: Context, level: number, index: number, width: number): Promise<boolean> {
    const body = await gate.run(() => ledger.hashTile(level, index, width));
    if (body === undefined) return false;
    ctx.body = toBuffer(body);
    return true;
  }

  // C2SP tlog-tiles: tiles and entry bundles, parsed strictly by core/tiles.
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/tile/')) return next();
    ctx.state.route = ctx.path.startsWith('/tile/entries/') ? 'entries' : 'tile';
    const t = parseTilePath(ctx.path.slice(1));
    // Beyond the tree: answered without taking a read slot.
    const found = inTree(t, ledger.head.size) && (t.kind === 'entries' ? await sendBundle(ctx, t.index, t.width) : await sendHashTile(ctx, t.level, t.index, t.width));
    if (!found) {
      sendCodedProblem(ctx, 'NOT_FOUND', `${ctx.path} is beyond the current tree`);
      return;
    }
    ctx.set('Cache-Control', IMMUTABLE);
    ctx.type = 'application/octet-stream';
  });

  // Exact routes: /CHECKPOINT and /checkpoint/ are not /checkpoint.
  const router = new Router({ strict: true, sensitive: true });

  router.get('/checkpoint', (ctx) => {
    ctx.state.route = 'checkpoint';
    const h = ledger.head;
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = Buffer.from(h.checkpoint);
  });

  router.get('/v1/log', (ctx) => {
    ctx.state.route = 'log';
    const h = ledger.head;
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = { ...ledger.publicKeys, size: h.size, time: h.time, policy: deps.policy !== undefined };
  });

  router.get('/v1/entries/:index/proof', async (ctx) => {
    ctx.state.route = 'proof';
    // The raw path segment, not the router's percent-decoded param: "%30" is not "0".
    const index = parseCount(ctx.path.slice('/v1/entries/'.length, -'/proof'.length), 'index');
    if (index >= ledger.head.size) throw new LedgerError('NOT_FOUND', `no entry ${index}: the log has ${ledger.head.size}`);
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = await ledger.proofBundle(index);
  });

  router.get('/v1/proofs/consistency', async (ctx) => {
    ctx.state.route = 'consistency';
    const from = parseCount(ctx.query.from, 'from');
    const to = parseCount(ctx.query.to, 'to');
    const proof = await ledger.consistencyProof(from, to);
    ctx.set('Cache-Control', IMMUTABLE);
    ctx.body = { from, to, proof: proof.map(toBase64) };
  });

  router.get('/v1/checkpoints', async (ctx) => {
    ctx.state.route = 'checkpoints';
    const from = ctx.query.from === undefined ? 0 : parseCount(ctx.query.from, 'from');
    const limit = ctx.query.limit === undefined ? 100 : parseCount(ctx.query.limit, 'limit');
    if (limit < 1 || limit > 1000) throw new LedgerError('BAD_REQUEST', 'limit must be between 1 and 1000');
    const page = await ledger.checkpoints(from, limit);
    // Each checkpoint with a timestamp token (spec §14) carries it, base64 of the DER.
    const tokens = page.length === 0 ? new Map<number, Uint8Array>() : await ledger.timestampTokens(page[0].size, page[page.length - 1].size);
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = {
      checkpoints: page.map((c) => {
        const token = tokens.get(c.size);
        return { size: c.size, checkpoint: Buffer.from(c.checkpoint).toString('utf8'), ...(token ? { timestamp: toBase64(token) } : {}) };
      }),
      next: page.length === limit ? page[page.length - 1].size + 1 : null,
    };
  });

  // The witness policy the log uses (spec §13.3): the file as given to `serve --policy`.
  router.get('/v1/policy', (ctx) => {
    ctx.state.route = 'policy';
    if (deps.policy === undefined) throw new LedgerError('NOT_FOUND', 'this log is served without a witness policy');
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = Buffer.from(deps.policy.file);
  });

  // The timestamp token of one history size (spec §14.3): DER CMS, as stored.
  router.get('/v1/timestamp/:size', async (ctx) => {
    ctx.state.route = 'timestamp';
    const size = parseCount(ctx.path.slice('/v1/timestamp/'.length), 'size');
    const token = await ledger.timestampToken(size);
    ctx.type = 'application/pkcs7-mime; smime-type=signed-data';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = Buffer.from(token);
  });

  // Healthy means the sequencer takes writes; reads go on either way.
  // Signed entries (spec §8.6): 201 with the receipt once durable and covered by a
  // cosigned checkpoint; 200 with the same receipt for an entry already in the log.
  router.post(WRITE_PATH, async (ctx) => {
    ctx.state.route = 'submit';
    if (ctx.querystring !== '') throw new LedgerError('BAD_REQUEST', `${WRITE_PATH} takes no query string`);
    if (ctx.is('application/cbor') !== 'application/cbor') {
      sendCodedProblem(ctx, 'UNSUPPORTED_MEDIA_TYPE', 'entries are sent as application/cbor');
      return;
    }
    const entry = await readBody(ctx, MAX_ENTRY_SIZE);
    const r = await ledger.append(entry);
    const receipt = await ledger.receipt(r.index, r);
    ctx.status = r.duplicate ? 200 : 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      index: receipt.index,
      leafHash: toBase64(receipt.leafHash),
      size: receipt.size,
      time: receipt.time,
      checkpoint: Buffer.from(receipt.checkpoint).toString('utf8'),
      proof: receipt.proof,
    };
  });

  // Presentations (spec §10): the verdict, judged with this log's keys, its clock and its
  // current state of the certificate (fresher than any statement the presentation carries).
  const verifier = new PresentationVerifier(ledger.publicKeys, undefined, { policy: deps.policy?.policy });
  const clock = deps.clock ?? Date.now;
  // Roots of published trees never change: remembered by size (bounded).
  const rootsBySize = new Map<number, Uint8Array>();
  /** publishedRoots returns this log's roots at the sizes the bundles' checkpoints name (those it has reached). */
  async function publishedRoots(bundles: readonly ProofBundle[]): Promise<Map<number, Uint8Array>> {
    const out = new Map<number, Uint8Array>();
    for (const b of bundles) {
      let size: number;
      try {
        size = parseCheckpoint(parseNote(b.checkpoint).text).size; // verified by the verdict
      } catch {
        continue; // the verdict reports it
      }
      if (out.has(size) || size === 0 || size > ledger.head.size) continue;
      let root = rootsBySize.get(size);
      if (root === undefined) {
        root = await ledger.rootAt(size);
        if (rootsBySize.size >= 65_536) rootsBySize.delete(rootsBySize.keys().next().value as number);
        rootsBySize.set(size, root);
      }
      out.set(size, root);
    }
    return out;
  }
  router.post(VERIFY_PATH, async (ctx) => {
    ctx.state.route = 'verify';
    const q = verifyQuery(ctx.querystring);
    if (ctx.is('application/cbor') !== 'application/cbor') {
      sendCodedProblem(ctx, 'UNSUPPORTED_MEDIA_TYPE', 'presentations are sent as application/cbor');
      return;
    }
    const p = decodePresentation(await readBody(ctx, MAX_PRESENTATION_BYTES)); // 4xx for a malformed one
    // The log knows the status itself: no statement to sign or check. Signatures go to the worker pool.
    const chain = p.origin === ledger.origin ? [p.issue.entry, ...p.transfers.map((t) => t.entry)].map((e) => leafHash(e)) : [];
    const known = p.origin === ledger.origin ? await ledger.knownStatus(p.parsed.issue.event.id, p.parsed.issue.event.issuer, chain) : undefined;
    const published = p.origin === ledger.origin ? await publishedRoots([p.bundles.register, p.bundles.issue, ...p.bundles.transfers]) : undefined;
    const verdict = await verifier.verifyWith(p, { now: Math.floor(clock() / 1000), ...q, published }, (items) => ledger.verifySignatures(items), known);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = verdictJson(verdict);
  });

  // The document type registry (spec §5.7).
  router.get('/v1/doctypes/:docType', async (ctx) => {
    ctx.state.route = 'doctype';
    const d = await ledger.docType(ctx.params.docType);
    if (d === undefined) throw new LedgerError('NOT_FOUND', `${ctx.params.docType} is not in the log's document type registry`);
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = d;
  });

  // Status statements (spec §8.7).
  router.get('/v1/certificates/:id', async (ctx) => {
    ctx.state.route = 'certificate';
    const hex = ctx.params.id;
    if (!/^[0-9a-f]{32}$/.test(hex)) throw new LedgerError('BAD_REQUEST', 'a certificate id is 32 lowercase hex digits');
    const st = await ledger.certificateStatus(fromHex(hex));
    if (st === undefined) throw new LedgerError('NOT_FOUND', `no certificate ${hex} in the log`);
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = {
      statement: Buffer.from(st.statement).toString('utf8'),
      checkpoint: Buffer.from(st.checkpoint).toString('utf8'),
      events: st.events.map(provedJson),
      issuer: st.issuer.map(provedJson),
    };
  });

  router.get('/healthz', (ctx) => {
    ctx.state.route = 'healthz';
    const failure = ledger.failure;
    // With a witness policy: each witness's last answer, and a fork alarm (spec §13.5).
    const w = ledger.witnessing;
    const witnessing = w === undefined ? {} : { witnesses: w.witnesses, ...(w.alert === undefined ? {} : { alert: w.alert }) };
    if (failure !== undefined) {
      sendCodedProblem(ctx, 'UNAVAILABLE', `the ledger takes no writes: ${failure}`);
      if (w !== undefined) ctx.body = JSON.stringify({ ...JSON.parse(ctx.body as string), ...witnessing });
      return;
    }
    const h = ledger.head;
    ctx.set('Cache-Control', 'no-store');
    const st = ledger.stamper;
    // A failing TSA is reported, never a reason to refuse writes (spec §14.2).
    const timestamp = st === undefined ? {} : { timestamp: { stamped: st.stamped.size, ...(st.problem !== undefined ? { problem: st.problem } : {}) } };
    ctx.body = { ok: true, size: h.size, checkpointAge: Math.max(0, Math.floor(Date.now() / 1000) - h.time), ...ledger.role, ...witnessing, ...timestamp };
  });

  router.get('/metrics', async (ctx) => {
    ctx.state.route = 'metrics';
    ctx.type = metrics.contentType;
    ctx.body = await metrics.render();
  });

  if (deps.wallets !== undefined) mountWalletRoutes(router, { ledger, wallets: deps.wallets, clock });

  app.use(webPage()); // GET /verify: the verifier page (src/api/web.ts)
  app.use(router.routes());
  return app;
}
