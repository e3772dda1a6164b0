import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeLedger, entry, type TestLedger } from '../helpers/ledger.js';
import { JsTsa } from '../helpers/tsa.js';
import { vectorText } from '../helpers/vectors.js';
import { createApp } from '../../src/api/app.js';
import { audit, AuditFailure } from '../../src/audit/audit.js';
import { dataSource, urlSource } from '../../src/audit/sources.js';
import { parseNote } from '../../src/core/note.js';
import { fromBase64 } from '../../src/core/bytes.js';
import { checkpointImprint, parseTsaTrust, verifyTimestampToken } from '../../src/timestamp/rfc3161.js';
import { TsaClient } from '../../src/timestamp/stamper.js';

// The log asks a TSA (the JavaScript one of test/helpers/tsa.ts) for a token over each
// new checkpoint, serves the tokens, and the auditor verifies them (spec §14).

const trust = parseTsaTrust(vectorText('tsa/ca.pem'));
const tsa = new JsTsa();
let t: TestLedger;
let server: Server;
let base = '';
const logs: string[] = [];

async function until(f: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  const url = await tsa.listen();
  t = await makeLedger({ timestamping: { client: new TsaClient(url, trust, 5000), minBackoffMs: 20, maxBackoffMs: 100 }, log: (m) => logs.push(m) });
  server = createServer(createApp({ ledger: t.ledger }).callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await t.cleanup();
  await tsa.close();
});

describe('timestamp tokens over checkpoints', () => {
  it('stamps new checkpoint sizes in the background and keeps verified tokens as annexes', async () => {
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 5 }, (_, i) => t.ledger.append(entry(round * 10 + i))));
      const size = t.ledger.head.size;
      await until(async () => (await t.ledger.store.latestAnnex('timestamp'))?.size === size);
    }
    const annexes = await t.ledger.store.readAnnexes('timestamp', 0, 100);
    expect(annexes.length).toBeGreaterThanOrEqual(3);
    for (const a of annexes) {
      const [cp] = await t.ledger.store.readCheckpoints(a.size, 1);
      expect(cp.size).toBe(a.size);
      const v = verifyTimestampToken(a.bytes, trust, { imprint: checkpointImprint(parseNote(cp.checkpoint).text) });
      expect(v.signer).toContain('dojang test TSA');
    }
  });

  it('never delays writes: a failing TSA is retried, reported at /healthz, and catches up', async () => {
    tsa.mode = 'http500';
    const before = tsa.requests;
    const logged = logs.length;
    await t.ledger.append(entry(100));
    const size = t.ledger.head.size;
    await until(() => tsa.requests >= before + 4 && t.ledger.stamper!.problem !== undefined);
    // Retried, but said once.
    expect(logs.slice(logged).filter((m) => /HTTP 500/.test(m))).toHaveLength(1);
    const h = await (await fetch(`${base}/healthz`)).json();
    expect(h.ok).toBe(true);
    expect(h.timestamp.problem).toMatch(/UNAVAILABLE.*HTTP 500/);
    expect(h.timestamp.stamped).toBeLessThan(size);
    // A TSA that answers with a token over the wrong request is no better.
    tsa.mode = 'wrong-nonce';
    await until(() => /BAD_SIGNATURE/.test(t.ledger.stamper!.problem ?? ''));
    expect((await t.ledger.store.latestAnnex('timestamp'))!.size).toBeLessThan(size);
    tsa.mode = 'ok';
    await until(async () => (await t.ledger.store.latestAnnex('timestamp'))?.size === size);
    const h2 = await (await fetch(`${base}/healthz`)).json();
    expect(h2.timestamp).toEqual({ stamped: size });
    expect(logs.at(-1)).toMatch(/answers again/);
  });

  it('asks one request at a time and only for the latest size (coalescing)', async () => {
    tsa.delayMs = 1500;
    const asked = tsa.asked.length;
    const first = t.ledger.head.size + 1;
    await t.ledger.append(entry(200)); // size first: its request is in flight for 1.5 s
    for (let i = 0; i < 4; i++) await t.ledger.append(entry(201 + i)); // four more sizes meanwhile
    const size = t.ledger.head.size;
    expect(size).toBe(first + 4);
    await until(async () => (await t.ledger.store.latestAnnex('timestamp'))?.size === size);
    tsa.delayMs = 0;
    const imprints = await Promise.all(
      [first, size].map(async (s) => {
        const [cp] = await t.ledger.store.readCheckpoints(s, 1);
        return Buffer.from(checkpointImprint(parseNote(cp.checkpoint).text)).toString('hex');
      }),
    );
    // The first size, then straight to the latest: the sizes in between were skipped.
    expect(tsa.asked.slice(asked)).toEqual(imprints);
    const stamped = (await t.ledger.store.readAnnexes('timestamp', first, 100)).map((a) => a.size);
    expect(stamped).toEqual([first, size]);
  });

  it('serves tokens with the checkpoint history and at /v1/timestamp/<size>', async () => {
    const j = await (await fetch(`${base}/v1/checkpoints?from=0&limit=1000`)).json();
    const stamped = j.checkpoints.filter((c: { timestamp?: string }) => c.timestamp !== undefined);
    expect(stamped.length).toBeGreaterThanOrEqual(4);
    const annexes = await t.ledger.store.readAnnexes('timestamp', 0, 100);
    for (const c of stamped) {
      const a = annexes.find((x) => x.size === c.size)!;
      expect(fromBase64(c.timestamp)).toEqual(a.bytes);
      const r = await fetch(`${base}/v1/timestamp/${c.size}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/pkcs7-mime; smime-type=signed-data');
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(a.bytes);
    }
    const r404 = await fetch(`${base}/v1/timestamp/${t.ledger.head.size + 1000}`);
    expect(r404.status).toBe(404);
    expect(r404.headers.get('content-type')).toMatch(/problem\+json/);
    expect((await r404.json()).type).toBe('urn:dojang:problem:NOT_FOUND');
    for (const bad of ['-1', '01', 'x', '1.5', '99999999999999999999']) expect((await fetch(`${base}/v1/timestamp/${bad}`)).status).toBe(400);
  });

  it('the auditor verifies every token, over HTTP and in the store', async () => {
    const n = (await t.ledger.store.readAnnexes('timestamp', 0, 100)).length;
    const r = await audit(urlSource(base), { tsaTrust: trust, threads: 0 });
    expect(r.timestamps.verified).toBe(n);
    expect(r.timestamps.first! <= r.timestamps.last!).toBe(true);
    const unchecked = await audit(urlSource(base), { threads: 0 });
    expect(unchecked.timestamps).toEqual({ verified: 0, unchecked: n });
    // Trusting another CA: the first token is a finding.
    const first = (await t.ledger.store.readAnnexes('timestamp', 0, 1))[0].size;
    await expect(audit(urlSource(base), { tsaTrust: parseTsaTrust(vectorText('tsa/other-ca.pem')), threads: 0 })).rejects.toMatchObject({ where: `checkpoint ${first}`, code: 'UNKNOWN_KEY' });
  });

  it('the auditor catches a token over another checkpoint, naming the size', async () => {
    const annexes = await t.ledger.store.readAnnexes('timestamp', 0, 100);
    const [a, b] = [annexes[1], annexes[2]];
    await t.ledger.store.putAnnex('timestamp', b.size, a.bytes); // size a's token filed under size b
    let failure: unknown;
    try {
      await audit(urlSource(base), { tsaTrust: trust, threads: 0 });
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(AuditFailure);
    expect(failure).toMatchObject({ where: `checkpoint ${b.size}`, code: 'BAD_SIGNATURE' });
    expect((failure as Error).message).toMatch(/another message imprint/);
    // Through the store too (the ledger closed: LevelDB admits one process).
    await t.ledger.close();
    const src = await dataSource(t.dir, t.storeUrl);
    try {
      await expect(audit(src, { tsaTrust: trust, threads: 0 })).rejects.toMatchObject({ where: `checkpoint ${b.size}`, code: 'BAD_SIGNATURE' });
    } finally {
      await src.close();
    }
  });
});
