import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeLedger, entry, type TestLedger } from '../helpers/ledger.js';
import { createApp } from '../../src/api/app.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/core/merkle.js';
import { openNote, parseVerifierKey } from '../../src/core/note.js';
import { parseCheckpoint } from '../../src/core/checkpoint.js';
import { decodeEntryBundle } from '../../src/core/tiles.js';
import { parseProofBundle, verifyProofBundle } from '../../src/core/proof-bundle.js';
import { equalBytes, fromBase64, utf8 } from '../../src/core/bytes.js';

let t: TestLedger;
let server: Server;
let base: string;
const N = 600; // plus genesis: size 601 = 2 full level-0 tiles + a partial of 89

beforeAll(async () => {
  t = await makeLedger();
  await Promise.all(Array.from({ length: N }, (_, i) => t.ledger.append(entry(i))));
  server = createServer(createApp({ ledger: t.ledger }).callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await t.cleanup();
});

async function get(path: string, init?: RequestInit) {
  const res = await fetch(base + path, init);
  const body = new Uint8Array(await res.arrayBuffer());
  return { res, body, text: new TextDecoder().decode(body) };
}

function verifiers() {
  const k = t.ledger.publicKeys;
  return [parseVerifierKey(k.logKey), parseVerifierKey(k.timestampKey)];
}

describe('read API', () => {
  it('serves the checkpoint as a signed, cosigned note that must not be cached long', async () => {
    const { res, body } = await get('/checkpoint');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const { note, verified } = openNote(body, verifiers(), { requireAll: true });
    expect(verified).toHaveLength(2);
    expect(parseCheckpoint(note.text).size).toBe(N + 1);
  });

  it('serves /v1/log with the origin and the vkeys', async () => {
    const { res, text } = await get('/v1/log');
    expect(res.status).toBe(200);
    const j = JSON.parse(text);
    expect(j).toMatchObject(t.ledger.publicKeys);
    expect(j.size).toBe(N + 1);
  });

  it('serves full and partial tiles and entry bundles that match the checkpoint', async () => {
    const cp = parseCheckpoint(openNote((await get('/checkpoint')).body, verifiers()).note.text);
    const t0 = await get('/tile/0/000');
    expect(t0.res.status).toBe(200);
    expect(t0.res.headers.get('content-type')).toBe('application/octet-stream');
    expect(t0.res.headers.get('cache-control')).toContain('immutable');
    expect(t0.body.length).toBe(8192);
    const p = await get('/tile/0/002.p/89');
    expect(p.body.length).toBe(89 * 32);
    const e0 = decodeEntryBundle((await get('/tile/entries/000')).body);
    expect(e0).toHaveLength(256);
    for (let i = 0; i < 256; i++) expect(equalBytes(leafHash(e0[i]), t0.body.subarray(32 * i, 32 * i + 32))).toBe(true);
    const ep = decodeEntryBundle((await get('/tile/entries/002.p/89')).body);
    expect(ep).toHaveLength(89);
    const l1 = await get('/tile/1/000.p/2');
    expect(l1.body.length).toBe(64);
    // gzip on request
    const gz = await fetch(base + '/tile/entries/000', { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(decodeEntryBundle(new Uint8Array(await gz.arrayBuffer()))).toHaveLength(256);
    expect(cp.size).toBe(N + 1);
  });

  it('answers tiles beyond the tree with 404 problem+json', async () => {
    for (const path of ['/tile/0/003', '/tile/0/002', '/tile/0/002.p/90', '/tile/1/000', '/tile/entries/003', '/tile/entries/002.p/90', '/tile/2/000.p/1']) {
      const { res, text } = await get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(JSON.parse(text).code).toBe('NOT_FOUND');
    }
  });

  it('answers malformed tile paths with 400 MALFORMED', async () => {
    for (const path of ['/tile/0/1234', '/tile/-1/000', '/tile/64/000', '/tile/0/x001', '/tile/0/000.p/256', '/tile/0/000.p/0', '/tile/0/000.p/007', '/tile/entries/abc', '/tile/0/000/', '/tile/00/000', '/tile/0/x000/001', '/tile/0/99999999999999999999', '/tile/']) {
      const { res, text } = await get(path);
      expect(res.status, path).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(JSON.parse(text).code, path).toBe('MALFORMED');
    }
  });

  it('serves tlog-proof@v1 bundles that verify', async () => {
    for (const i of [0, 1, 255, 256, 600]) {
      const { res, text } = await get(`/v1/entries/${i}/proof`);
      expect(res.status).toBe(200);
      const b = parseProofBundle(text);
      const [e] = await t.ledger.store.readEntries(i, i + 1);
      const { checkpoint } = verifyProofBundle(b, e, verifiers());
      expect(checkpoint.size).toBe(N + 1);
      verifyInclusion(leafHash(e), i, checkpoint.size, b.proof, checkpoint.root);
    }
  });

  it('serves consistency proofs that verify', async () => {
    const head = t.ledger.head;
    for (const from of [1, 2, 256, 257, 600, 601]) {
      const { res, text } = await get(`/v1/proofs/consistency?from=${from}&to=${head.size}`);
      expect(res.status).toBe(200);
      const j = JSON.parse(text);
      verifyConsistency(from, head.size, j.proof.map(fromBase64), await t.ledger.rootAt(from), head.root);
    }
  });

  it('pages the checkpoint history', async () => {
    const { text } = await get('/v1/checkpoints?from=0&limit=2');
    const j = JSON.parse(text);
    expect(j.checkpoints).toHaveLength(2);
    expect(j.checkpoints[0].size).toBe(1);
    expect(j.next).toBe(j.checkpoints[1].size + 1);
    const { note } = openNote(utf8(j.checkpoints[1].checkpoint), verifiers(), { requireAll: true });
    expect(parseCheckpoint(note.text).size).toBe(j.checkpoints[1].size);
    const all = JSON.parse((await get('/v1/checkpoints?limit=1000')).text);
    expect(all.next).toBeNull();
    expect(all.checkpoints.at(-1).size).toBe(N + 1);
  });

  it('answers bad parameters on every route with a coded 4xx and changes nothing', async () => {
    const before = t.ledger.head;
    const cases: [string, number, string][] = [
      ['/v1/entries/601/proof', 404, 'NOT_FOUND'],
      ['/v1/entries/99999999/proof', 404, 'NOT_FOUND'],
      ['/v1/entries/-1/proof', 400, 'BAD_REQUEST'],
      ['/v1/entries/01/proof', 400, 'BAD_REQUEST'],
      ['/v1/entries/1e3/proof', 400, 'BAD_REQUEST'],
      ['/v1/entries/abc/proof', 400, 'BAD_REQUEST'],
      ['/v1/entries/99999999999999999999/proof', 400, 'BAD_REQUEST'],
      ['/v1/entries/9007199254740993/proof', 400, 'BAD_REQUEST'],
      ['/v1/proofs/consistency?from=10', 400, 'BAD_REQUEST'],
      ['/v1/proofs/consistency?from=10&to=5', 400, 'BAD_REQUEST'],
      ['/v1/proofs/consistency?from=0&to=5', 400, 'BAD_REQUEST'],
      ['/v1/proofs/consistency?from=1&to=602', 404, 'NOT_FOUND'],
      ['/v1/proofs/consistency?from=1&to=-5', 400, 'BAD_REQUEST'],
      ['/v1/proofs/consistency?from=1&to=5&to=6', 400, 'BAD_REQUEST'],
      ['/v1/proofs/consistency?from=x&to=5', 400, 'BAD_REQUEST'],
      ['/v1/checkpoints?limit=0', 400, 'BAD_REQUEST'],
      ['/v1/checkpoints?limit=1001', 400, 'BAD_REQUEST'],
      ['/v1/checkpoints?from=-1', 400, 'BAD_REQUEST'],
      ['/v1/checkpoints?from=abc', 400, 'BAD_REQUEST'],
      ['/nope', 404, 'NOT_FOUND'],
      ['/v1/entries', 404, 'NOT_FOUND'],
      ['/v1/entries/5/proof/extra', 404, 'NOT_FOUND'],
    ];
    for (const [path, status, code] of cases) {
      const { res, text } = await get(path);
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-type'), path).toBe('application/problem+json');
      const j = JSON.parse(text);
      expect(j.code, path).toBe(code);
      expect(j.status).toBe(status);
      expect(typeof j.detail).toBe('string');
    }
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const { res, text } = await get('/checkpoint', { method: m, body: m === 'DELETE' ? undefined : 'x' });
      expect(res.status).toBe(405);
      expect(JSON.parse(text).code).toBe('METHOD_NOT_ALLOWED');
    }
    expect(t.ledger.head.size).toBe(before.size);
    expect(equalBytes(t.ledger.head.root, before.root)).toBe(true);
  });

  it('serves health and Prometheus metrics', async () => {
    const h = JSON.parse((await get('/healthz')).text);
    expect(h).toMatchObject({ ok: true, size: N + 1 });
    const m = await get('/metrics');
    expect(m.res.status).toBe(200);
    expect(m.text).toContain(`dojang_log_size ${N + 1}`);
    expect(m.text).toContain('dojang_http_requests_total');
  });
});
