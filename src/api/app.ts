/**
 * createApp builds the Koa application of the read API (docs/api.md): the C2SP
 * tlog-tiles endpoints and dojang's /v1 reads. It never listens: cli/ does.
 */
import Koa from 'koa';
import Router from '@koa/router';
import { gzipSync } from 'node:zlib';
import { LedgerError } from '../core/errors.js';
import { toBase64 } from '../core/bytes.js';
import { parseTilePath } from '../core/tiles.js';
import type { Ledger } from '../ledger/ledger.js';
import { errorToProblem, sendProblem } from './problem.js';
import { createMetrics, type Metrics } from './metrics.js';

export interface AppDeps {
  ledger: Ledger;
  /** Called with unexpected (5xx) errors. */
  log?: (msg: string, err?: unknown) => void;
  metrics?: Metrics;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

/** parseCount parses a decimal query/path number strictly; BAD_REQUEST otherwise. */
export function parseCount(s: unknown, what: string): number {
  if (typeof s !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(s)) throw new LedgerError('BAD_REQUEST', `${what} must be a decimal integer without leading zeros`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new LedgerError('BAD_REQUEST', `${what} is too large`);
  return n;
}

export function createApp(deps: AppDeps): Koa {
  const { ledger } = deps;
  const metrics = deps.metrics ?? createMetrics(ledger);
  const app = new Koa();
  app.proxy = false;

  // Errors → problem+json; metrics per route.
  app.use(async (ctx, next) => {
    const end = metrics.requestStarted();
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        sendProblem(ctx, 404, 'NOT_FOUND', 'Not found', `no resource at ${ctx.path}`);
      }
    } catch (e) {
      if (errorToProblem(ctx, e)) deps.log?.(`${ctx.method} ${ctx.path} failed`, e);
    } finally {
      end(ctx.state.route ?? 'other', ctx.status);
    }
  });

  app.use(async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      sendProblem(ctx, 405, 'METHOD_NOT_ALLOWED', 'Method not allowed', `${ctx.method} is not allowed on ${ctx.path}`);
      return;
    }
    await next();
  });

  // C2SP tlog-tiles: tiles and entry bundles, parsed strictly by core/tiles.
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/tile/')) return next();
    ctx.state.route = ctx.path.startsWith('/tile/entries/') ? 'entries' : 'tile';
    const t = parseTilePath(ctx.path.slice(1));
    const body = t.kind === 'entries' ? await ledger.entryBundle(t.index, t.width) : await ledger.hashTile(t.level, t.index, t.width);
    if (body === undefined) {
      sendProblem(ctx, 404, 'NOT_FOUND', 'Not found', `${ctx.path} is beyond the current tree`);
      return;
    }
    ctx.set('Cache-Control', IMMUTABLE);
    ctx.type = 'application/octet-stream';
    if (t.kind === 'entries' && /\bgzip\b/.test(ctx.get('Accept-Encoding'))) {
      ctx.set('Content-Encoding', 'gzip');
      ctx.set('Vary', 'Accept-Encoding');
      ctx.body = gzipSync(body);
    } else {
      ctx.body = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    }
  });

  const router = new Router();

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
    ctx.body = { ...ledger.publicKeys, size: h.size, time: h.time };
  });

  router.get('/v1/entries/:index/proof', async (ctx) => {
    ctx.state.route = 'proof';
    const index = parseCount(ctx.params.index, 'index');
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
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = {
      checkpoints: page.map((c) => ({ size: c.size, checkpoint: Buffer.from(c.checkpoint).toString('utf8') })),
      next: page.length === limit ? page[page.length - 1].size + 1 : null,
    };
  });

  router.get('/healthz', (ctx) => {
    ctx.state.route = 'healthz';
    const h = ledger.head;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ok: true, size: h.size, checkpointAge: Math.max(0, Math.floor(Date.now() / 1000) - h.time) };
  });

  router.get('/metrics', async (ctx) => {
    ctx.state.route = 'metrics';
    ctx.type = metrics.contentType;
    ctx.body = await metrics.render();
  });

  app.use(router.routes());
  return app;
}

