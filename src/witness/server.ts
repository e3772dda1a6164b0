/**
 * The witness's HTTP interface (c2sp.org/tlog-witness, spec §13.1), on Koa:
 *
 *   POST /add-checkpoint           the spec's call (its status codes and bodies)
 *   GET  /latest?origin=<origin>   the latest checkpoint cosigned for a log, with a fresh
 *                                  cosignature (the spec's monitoring API is still to be
 *                                  designed: this is ours); 404 when there is none
 *   GET  /evidence?origin=<origin> JSON: the checkpoints of that log it refused as
 *                                  inconsistent with what it cosigned (spec §13.2), with
 *                                  the latest it cosigned; 404 for an origin it does not
 *                                  witness
 *   GET  /witness                  JSON: the witness's name and verifier key, and the
 *                                  origins it witnesses
 *
 * Answers of the protocol are plain text, as the spec and its clients expect.
 */
import Koa from 'koa';
import Router from '@koa/router';
import { isLedgerError } from '../core/errors.js';
import { formatVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../core/note.js';
import { readBody } from '../api/body.js';
import { MAX_REQUEST_BYTES, type Witness } from './witness.js';
import { EVIDENCE_CURSOR } from './state.js';

export function createWitnessApp(w: Witness, origins: readonly string[], log?: (m: string) => void): Koa {
  const app = new Koa();
  const router = new Router();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (e) {
      const tooLarge = isLedgerError(e, 'TOO_LARGE');
      ctx.status = tooLarge ? 413 : isLedgerError(e) ? 400 : 500;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = `${(e as Error).message}\n`;
      if (ctx.status === 500) log?.(`witness: ${(e as Error).stack ?? String(e)}`);
    }
  });
  router.post('/add-checkpoint', async (ctx) => {
    const body = await readBody(ctx, MAX_REQUEST_BYTES);
    const a = await w.addCheckpoint(body);
    if (a.status !== 200 && a.status !== 409) log?.(`witness: refused a checkpoint with ${a.status}: ${a.body.trim()}`);
    ctx.status = a.status;
    ctx.set('Content-Type', a.contentType); // as given: Koa's type setter would add a charset to text/x.tlog.size
    ctx.body = a.body;
  });
  router.get('/latest', async (ctx) => {
    const origin = ctx.query.origin;
    if (typeof origin !== 'string' || origin === '') {
      ctx.status = 400;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = 'give one origin: /latest?origin=<origin>\n';
      return;
    }
    const note = await w.latest(origin);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/plain; charset=utf-8';
    if (note === undefined) {
      ctx.status = 404;
      ctx.body = `no checkpoint of ${origin} cosigned\n`;
      return;
    }
    ctx.body = Buffer.from(note);
  });
  router.get('/evidence', async (ctx) => {
    const origin = ctx.query.origin;
    if (typeof origin !== 'string' || origin === '') {
      ctx.status = 400;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = 'give one origin: /evidence?origin=<origin>\n';
      return;
    }
    if (!origins.includes(origin)) {
      ctx.status = 404;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = `unknown log origin ${JSON.stringify(origin)}\n`;
      return;
    }
    const after = ctx.query.after;
    if (after !== undefined && (typeof after !== 'string' || !EVIDENCE_CURSOR.test(after))) {
      ctx.status = 400;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = 'after= must be the next of an earlier page of /evidence\n';
      return;
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await w.evidence(origin, after);
  });
  router.get('/witness', (ctx) => {
    ctx.body = { name: w.name, key: formatVerifierKey({ name: w.name, type: SIG_TYPE_COSIGNATURE_V1, publicKey: w.publicKey }), origins };
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
