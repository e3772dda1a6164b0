/**
 * The verifier web page (docs/api.md): GET /verify (the HTML), /verify.js (the browser
 * bundle of src/web/verify-page.ts) and /verify.css, from the dist/web/ directory that
 * `npm run build` writes (scripts/build-web.mjs). The page judges presentations in the
 * browser with this log's keys and status (GET /v1/log, GET /v1/certificates/<id>).
 *
 * - Content-Security-Policy: script, style and fetch from this origin only; images from
 *   it and data: URLs; no inline script or style, no eval, no plugins, no <base>, no
 *   form posts, no framing. With nosniff and no Referer.
 * - Caching: the names carry no content hash, so every answer is `no-cache` with a
 *   strong ETag: a browser revalidates and gets 304 Not Modified while the file is the
 *   same. gzip when the client accepts it (the bundle shrinks to about a third).
 * - A file that was not built is 503 UNAVAILABLE naming `npm run build`, not a crash.
 *   Files are read again when their size or mtime changes (a rebuild under a running
 *   server is served at once).
 */
import type Koa from 'koa';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { sendCodedProblem } from './problem.js';

const gzipAsync = promisify(gzip);

/** The page's paths and the built files they serve. */
export const WEB_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/verify': { file: 'verify.html', type: 'text/html; charset=utf-8' },
  '/verify.js': { file: 'verify.js', type: 'text/javascript; charset=utf-8' },
  '/verify.css': { file: 'verify.css', type: 'text/css; charset=utf-8' },
};

/** The Content-Security-Policy of every answer of the page (module comment). */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** dist/web/ of this package, from src/api/ (tests) and dist/api/ (built) alike. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

interface Loaded {
  /** What the file was read at: its size and mtime. */
  version: string;
  body: Buffer;
  gzipped: Buffer;
  etag: string;
}

/** load reads a file (and gzips it) unless the cached copy is of the same size and mtime; undefined if it does not exist. */
async function load(path: string, cache: Map<string, Loaded>): Promise<Loaded | undefined> {
  let version: string;
  try {
    const s = await stat(path);
    version = `${s.size}:${s.mtimeMs}`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const hit = cache.get(path);
  if (hit !== undefined && hit.version === version) return hit;
  const body = await readFile(path);
  const loaded = { version, body, gzipped: await gzipAsync(body), etag: createHash('sha256').update(body).digest('base64url').slice(0, 32) };
  cache.set(path, loaded);
  return loaded;
}

/**
 * webPage serves the verifier page's files from `dir` (default: this package's
 * dist/web/) at the paths of WEB_FILES; any other path goes on to the next middleware.
 * It expects createApp's middleware before it: problems, CORS and the GET/HEAD rule.
 */
export function webPage(dir: string = DEFAULT_WEB_DIR): Koa.Middleware {
  const cache = new Map<string, Loaded>();
  return async (ctx, next) => {
    const f = Object.hasOwn(WEB_FILES, ctx.path) ? WEB_FILES[ctx.path] : undefined;
    if (f === undefined) return next();
    ctx.state.route = 'web';
    const file = await load(join(dir, f.file), cache);
    if (file === undefined) {
      sendCodedProblem(ctx, 'UNAVAILABLE', `the verifier page is not built (no ${f.file}): run npm run build`);
      return;
    }
    const gz = ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
    ctx.status = 200;
    ctx.type = f.type;
    ctx.vary('Accept-Encoding');
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('Content-Security-Policy', WEB_CSP);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.etag = gz ? `${file.etag}-gzip` : file.etag; // one tag per representation
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    if (gz) ctx.set('Content-Encoding', 'gzip');
    ctx.body = gz ? file.gzipped : file.body;
  };
}
