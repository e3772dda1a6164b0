import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Koa from 'koa';
import { makeLedger, type TestLedger } from '../helpers/ledger.js';
import { createApp } from '../../src/api/app.js';
import { DEFAULT_WEB_DIR, WEB_CSP, webPage } from '../../src/api/web.js';

// The verifier page's routes (src/api/web.ts): the built files of dist/web/ (npm test
// builds first), their types, caching and Content-Security-Policy, and the bundle
// free of Node.js.

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** get makes one raw request (no automatic decompression, unlike fetch). */
function get(base: string, path: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method: o.method ?? 'GET', headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const problem = (a: Answer) => JSON.parse(a.body.toString('utf8')) as { code: string; status: number; detail: string };

let t: TestLedger;
let server: Server;
let base: string;

beforeAll(async () => {
  if (!existsSync(join(DEFAULT_WEB_DIR, 'verify.js'))) throw new Error('dist/web/verify.js is missing: run npm run build (npm test does)');
  t = await makeLedger({}, 'example.com/web-test');
  ({ server, base } = await listen(createApp({ ledger: t.ledger }).callback()));
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await t.cleanup();
});

describe('GET /verify, /verify.js, /verify.css', () => {
  it('serve the page with its content types, a strict CSP, nosniff and no-cache', async () => {
    for (const [path, type] of [
      ['/verify', 'text/html; charset=utf-8'],
      ['/verify.js', 'text/javascript; charset=utf-8'],
      ['/verify.css', 'text/css; charset=utf-8'],
    ]) {
      const a = await get(base, path, { headers: { 'accept-encoding': 'identity' } });
      expect(a.status, path).toBe(200);
      expect(a.headers['content-type']).toBe(type);
      expect(a.headers['content-security-policy']).toBe(WEB_CSP);
      expect(a.headers['x-content-type-options']).toBe('nosniff');
      expect(a.headers['cache-control']).toBe('no-cache');
      expect(a.headers['etag']).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
      expect(a.headers['content-encoding']).toBeUndefined();
      expect(a.body.length).toBeGreaterThan(100);
    }
    const csp = WEB_CSP.split('; ');
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(WEB_CSP).not.toMatch(/unsafe-|\*/);
  });

  it('the HTML has no inline script or style: one module script and one stylesheet of this origin', async () => {
    const html = (await get(base, '/verify')).body.toString('utf8');
    const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((m) => m[0])).toEqual(['<script type="module" src="/verify.js"></script>']);
    expect(html).toContain('<link rel="stylesheet" href="/verify.css">');
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=|javascript:/i);
    expect(html).toContain('lang="ko"');
    expect(html).toContain('aria-live="polite"');
  });

  it('the bundle imports no node: module and evaluates no strings', async () => {
    const js = (await get(base, '/verify.js', { headers: { 'accept-encoding': 'identity' } })).body.toString('utf8');
    expect(js).toBe(await readFile(join(DEFAULT_WEB_DIR, 'verify.js'), 'utf8'));
    expect(js).not.toMatch(/["'`]node:/); // no import, require or import() of a node: module
    expect(js).not.toMatch(/\brequire\(["'](crypto|fs|path|zlib|buffer|stream|util|os)["']\)/);
    expect(js).not.toMatch(/new Function\(|\beval\(/);
    expect(js.length).toBeLessThan(400 * 1024); // scripts/build-web.mjs's budget
  });

  it('revalidates with the ETag (304), gzips when asked, and answers HEAD without a body', async () => {
    const first = await get(base, '/verify.js', { headers: { 'accept-encoding': 'identity' } });
    const again = await get(base, '/verify.js', { headers: { 'accept-encoding': 'identity', 'if-none-match': first.headers.etag! } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const gz = await get(base, '/verify.js', { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toMatch(/Accept-Encoding/);
    expect(gz.headers.etag).not.toBe(first.headers.etag); // one tag per representation
    expect(gunzipSync(gz.body).equals(first.body)).toBe(true);
    expect(gz.body.length).toBeLessThan(first.body.length / 2);
    const head = await get(base, '/verify', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(head.body.length).toBe(0);
  });

  it('other methods are 405, and other spellings stay problem+json 404', async () => {
    const post = await get(base, '/verify', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD, OPTIONS');
    for (const path of ['/verify/', '/VERIFY', '/verify.html', '/verify.js.map', '/web/verify.js', '/verify-page.js', '/judge.js', '/verify.css/']) {
      const a = await get(base, path);
      expect(a.status, path).toBe(404);
      expect(a.headers['content-type']).toBe('application/problem+json');
      expect(problem(a).code).toBe('NOT_FOUND');
    }
  });
});

describe('webPage without a build', () => {
  let dir: string;
  let tiny: { server: Server; base: string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dojang-web-'));
    tiny = await listen(new Koa().use(webPage(dir)).callback());
  });

  afterAll(async () => {
    await new Promise((r) => tiny.server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing file is 503 UNAVAILABLE naming npm run build, and the server goes on', async () => {
    const a = await get(tiny.base, '/verify.js');
    expect(a.status).toBe(503);
    expect(a.headers['content-type']).toBe('application/problem+json');
    expect(a.headers['retry-after']).toBe('1');
    expect(problem(a)).toMatchObject({ code: 'UNAVAILABLE', status: 503 });
    expect(problem(a).detail).toContain('npm run build');
    expect((await get(tiny.base, '/verify')).status).toBe(503);
  });

  it('a file built while the server runs is served at once, and a rebuild replaces it', async () => {
    await writeFile(join(dir, 'verify.css'), 'body { color: black; }\n');
    const a = await get(tiny.base, '/verify.css', { headers: { 'accept-encoding': 'identity' } });
    expect(a.status).toBe(200);
    expect(a.body.toString()).toBe('body { color: black; }\n');
    await writeFile(join(dir, 'verify.css'), 'body { color: navy; }\n');
    const b = await get(tiny.base, '/verify.css', { headers: { 'accept-encoding': 'identity' } });
    expect(b.body.toString()).toBe('body { color: navy; }\n');
    expect(b.headers.etag).not.toBe(a.headers.etag);
  });
});
