/** readBody: a request body read within a limit. */
import type Koa from 'koa';
import { LedgerError } from '../core/errors.js';

/**
 * readBody reads a request body of at most `limit` bytes; TOO_LARGE beyond (by
 * Content-Length at once, or while reading), MALFORMED if the client stops early.
 */
export async function readBody(ctx: Koa.Context, limit: number): Promise<Uint8Array> {
  const declared = ctx.get('Content-Length');
  if (declared !== '' && Number(declared) > limit) {
    ctx.set('Connection', 'close');
    throw new LedgerError('TOO_LARGE', `the body is ${declared} bytes, limit ${limit}`);
  }
  // Listeners, not the stream's async iterator: it costs a promise and more per chunk,
  // a measurable share of the write path's allocations.
  const req = ctx.req;
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const done = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limit) {
        done();
        ctx.set('Connection', 'close'); // the socket closes once the 413 is sent
        req.resume(); // discard the rest meanwhile
        reject(new LedgerError('TOO_LARGE', `the body is over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      const body = Buffer.concat(chunks, total); // a copy: a chunk may be a view of a larger socket buffer
      resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    };
    const onError = (e: Error): void => {
      done();
      reject(new LedgerError('MALFORMED', `the body could not be read: ${e.message}`, { cause: e }));
    };
    const onClose = (): void => {
      done();
      reject(new LedgerError('MALFORMED', 'the client stopped before the end of the body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
