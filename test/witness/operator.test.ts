/**
 * What the operator of a witnessed log sees (spec §13.5), with three witnesses over real
 * HTTP: a witness that refuses the log's checkpoints as inconsistent (it was shown a
 * forked copy of the log) is named in /healthz — as the reason while the quorum is not
 * met, as an alert while it still is — counted in /metrics, and its evidence is listed by
 * the witness's GET /evidence; a witness that was down for a while is asked again within
 * BACKOFF_MAX_MS of its return.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeLedger, entry, copyLedger, type TestLedger } from '../helpers/ledger.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { FileGuard } from '../../src/ledger/guard.js';
import { createApp } from '../../src/api/app.js';
import { Witness, type EvidenceReport } from '../../src/witness/witness.js';
import { WitnessState } from '../../src/witness/state.js';
import { createWitnessApp } from '../../src/witness/server.js';
import { BACKOFF_MAX_MS } from '../../src/witness/publisher.js';
import { WitnessClient } from '../../src/witness/client.js';
import { checkCheckpoint, parsePolicy, type Policy } from '../../src/core/policy.js';
import { formatVerifierKey, parseVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../../src/core/note.js';
import { parseCheckpoint } from '../../src/core/checkpoint.js';
import { fromBase64, utf8 } from '../../src/core/bytes.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { MAIN } from '../helpers/cli.js';
import { freshDatabase, testStoreKind } from '../helpers/postgres.js';

const ORIGIN = 'localhost/dojang-bench-operator';
let t: TestLedger;
const dirs: string[] = [];
const servers: Server[] = [];

interface Running {
  vkey: string;
  url: string;
  server?: Server;
  start(): Promise<void>;
  stop(): Promise<void>;
  close(): Promise<void>;
}
const witnesses: Running[] = [];

async function witness(i: number, logKey: string): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'dojang-op-w-'));
  dirs.push(dir);
  const state = new WitnessState(join(dir, 'state'));
  await state.open();
  const name = `witness.test/op${i}`;
  const w = new Witness({ name, seed: new Uint8Array(32).fill(60 + i), logs: new Map([[ORIGIN, [parseVerifierKey(logKey)]]]), state });
  let port = 0;
  const r: Running = {
    vkey: formatVerifierKey({ name, type: SIG_TYPE_COSIGNATURE_V1, publicKey: w.publicKey }),
    url: '',
    async start() {
      const s = createServer(createWitnessApp(w, [ORIGIN]).callback());
      await new Promise<void>((res) => s.listen(port, '127.0.0.1', () => res()));
      port = (s.address() as AddressInfo).port;
      r.url = `http://127.0.0.1:${port}`;
      r.server = s;
    },
    async stop() {
      const s = r.server;
      r.server = undefined;
      s?.closeAllConnections();
      await new Promise((res) => s?.close(res));
    },
    async close() {
      await r.stop();
      await state.close();
    },
  };
  await r.start();
  return r;
}

function policy(quorum: string, members = [0, 1, 2]): Policy {
  const lines = [`log ${t.ledger.publicKeys.logKey}`, ...members.map((i) => `witness W${i} ${witnesses[i].vkey} ${witnesses[i].url}`), `group G ${quorum} ${members.map((i) => `W${i}`).join(' ')}`, 'quorum G', ''];
  return parsePolicy(utf8(lines.join('\n')));
}

/** serve runs the API of l on a free port; returns its URL. */
async function serve(l: Ledger): Promise<string> {
  const s = createServer(createApp({ ledger: l }).callback());
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** metric finds `<name><labels> <value>` in a Prometheus text exposition. */
const metric = (text: string, name: string, labels: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(name.length + labels.length + 1));
};

beforeAll(async () => {
  t = await makeLedger({}, ORIGIN);
  for (let i = 0; i < 3; i++) witnesses.push(await witness(i, t.ledger.publicKeys.logKey));
}, 60_000);

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  for (const w of witnesses) await w.close();
  await t.cleanup();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('what the operator sees (spec §13.5)', () => {
  it('a fork: every witness refuses the copy, named in its /healthz and /metrics; a witness shown a fork is an alert on the original while 2 of 3 still cosign; the witnesses list their evidence', async () => {
    const p = policy('2');
    let a = await t.reopen({ witnessing: { policy: p, waitMs: 5000 } });
    await Promise.all(Array.from({ length: 10 }, (_, i) => a.append(entry(i))));
    // The fork: a copy of the log, stopped, then both go on with different entries.
    await a.close();
    const fork = await copyLedger(t, await mkdtemp(join(tmpdir(), 'dojang-op-fork-')));
    dirs.push(fork.dir);
    // The original goes on, witnessed, to size 16; the copy, unwitnessed, past it to 21.
    a = await t.reopen({ witnessing: { policy: p, waitMs: 5000 } });
    await Promise.all(Array.from({ length: 5 }, (_, i) => a.append(entry(100 + i))));
    expect(a.head.size).toBe(16);
    const openCopy = async (witnessing?: { policy: Policy; waitMs: number }) => {
      const s = fork.store();
      await s.open();
      return Ledger.open({ store: s, keys: await loadKeys(fork.dir), guard: FileGuard.inDir(fork.dir), witnessing });
    };
    let b = await openCopy();
    await Promise.all(Array.from({ length: 10 }, (_, i) => b.append(entry(200 + i))));
    await b.close();
    // Served with the same policy, the copy asks the same witnesses: each refuses (422).
    b = await openCopy({ policy: p, waitMs: 1000 });
    try {
      await expect(b.append(entry(300))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      const url = await serve(b);
      const h = await fetch(`${url}/healthz`);
      expect(h.status).toBe(503);
      const body = (await h.json()) as { code: string; detail: string; witnesses: { name: string; state: string; code?: string }[] };
      expect(body.code).toBe('UNAVAILABLE');
      expect(body.detail).toMatch(/THE LOG MAY BE FORKED: witnesses W0, W1, W2 refuse/);
      expect(body.witnesses.map((w) => [w.name, w.state, w.code])).toEqual([
        ['W0', 'refusing', 'INCONSISTENT'],
        ['W1', 'refusing', 'INCONSISTENT'],
        ['W2', 'refusing', 'INCONSISTENT'],
      ]);
      const m = await (await fetch(`${url}/metrics`)).text();
      expect(metric(m, 'dojang_witness_refusals_total', '{witness="W1",reason="INCONSISTENT"}')).toBeGreaterThanOrEqual(1);
      expect(metric(m, 'dojang_witness_up', '{witness="W1"}')).toBe(0);
      expect(/^dojang_witness_fork_alert 1$/m.test(m)).toBe(true);
      // The copy serves only what was witnessed before it was copied (size 11, spec §13.5): none of its own entries.
      expect(metric(m, 'dojang_log_size', '')).toBe(11);
      // Each witness kept the forked checkpoint as evidence, and says what it cosigned.
      for (const w of witnesses) {
        const ev = (await (await fetch(`${w.url}/evidence?origin=${encodeURIComponent(ORIGIN)}`)).json()) as EvidenceReport;
        expect(ev.latest?.size).toBe(16);
        expect(ev.evidence.length).toBeGreaterThanOrEqual(1); // 21, and 22 once the copy appended entry 300
        expect(ev.next).toBeNull();
        expect(ev.evidence.map((e) => e.size)).toContain(22);
        for (const e of ev.evidence) {
          expect(e.old).toBe(16);
          expect(e.reason).toMatch(/consistency proof from size 16 does not verify/);
          expect(parseCheckpoint(e.checkpoint.split('\n\n')[0] + '\n').size).toBe(e.size);
        }
        expect(fromBase64(ev.evidence.find((e) => e.size === 22)!.root)).toEqual(b.sequencer!.head.root);
      }
      expect((await fetch(`${witnesses[0].url}/evidence?origin=other.example/log`)).status).toBe(404);
      expect((await fetch(`${witnesses[0].url}/evidence`)).status).toBe(400);
      expect((await fetch(`${witnesses[0].url}/evidence?origin=${encodeURIComponent(ORIGIN)}&after=zz`)).status).toBe(400);
    } finally {
      await b.close();
      await fork.drop();
    }
    // The original goes on: the witnesses cosign it still.
    a = await t.reopen({ witnessing: { policy: p, waitMs: 5000 } });
    await a.append(entry(400));
    expect(checkCheckpoint(a.head.checkpoint, p).cosigned.length).toBeGreaterThanOrEqual(2);
    await expect.poll(() => checkCheckpoint(a.head.checkpoint, p).cosigned.length).toBe(3);
    expect(a.witnessing?.alert).toBeUndefined();
    // Another copy, at the size all three cosigned; W0 alone is shown it grown to 27.
    await a.close();
    const fork2 = await copyLedger(t, await mkdtemp(join(tmpdir(), 'dojang-op-fork-')));
    dirs.push(fork2.dir);
    const s2 = fork2.store();
    await s2.open();
    const c = await Ledger.open({ store: s2, keys: await loadKeys(fork2.dir), guard: FileGuard.inDir(fork2.dir) });
    try {
      await Promise.all(Array.from({ length: 10 }, (_, i) => c.append(entry(600 + i))));
      const w0 = new WitnessClient({ key: p.witnesses[0].key, url: witnesses[0].url }, { prove: (x, y) => c.consistencyProof(x, y) });
      await w0.cosign(c.head.checkpoint);
      expect(w0.size).toBe(27);
    } finally {
      await c.close();
      await fork2.drop();
    }
    // The original passes 27: W0 refuses it as inconsistent, W1 and W2 still meet 2 of 3.
    a = await t.reopen({ witnessing: { policy: p, waitMs: 5000 } });
    await Promise.all(Array.from({ length: 15 }, (_, i) => a.append(entry(700 + i))));
    expect(a.head.size).toBe(32);
    expect(checkCheckpoint(a.head.checkpoint, p).cosigned.map((x) => x.name)).toEqual(['W1', 'W2']);
    expect(a.failure).toBeUndefined();
    // W0 answered CONFLICT to the size-17 checkpoint at the start (it cosigned 27): asked again once its backoff ends.
    await expect.poll(() => a.witnessing?.alert, { timeout: 5000 }).toMatch(/^THE LOG MAY BE FORKED: witness W0 refuses/);
    expect(a.failure).toBeUndefined();
    const url = await serve(a);
    const h = await fetch(`${url}/healthz`);
    expect(h.status).toBe(200);
    const body = (await h.json()) as { ok: boolean; alert: string; witnesses: { name: string; state: string; code?: string; size?: number }[] };
    expect(body.alert).toMatch(/witness W0 refuses/);
    expect(body.witnesses.map((w) => [w.name, w.state, w.code])).toEqual([
      ['W0', 'refusing', 'INCONSISTENT'],
      ['W1', 'cosigning', undefined],
      ['W2', 'cosigning', undefined],
    ]);
    expect(body.witnesses[0].size).toBe(27);
    const ev = (await (await fetch(`${witnesses[0].url}/evidence?origin=${encodeURIComponent(ORIGIN)}`)).json()) as EvidenceReport;
    expect(ev.latest?.size).toBe(27);
    expect(ev.evidence.map((e) => e.size)).toContain(32);
  }, 60_000);

  it('a witness that was down for a while is asked again within BACKOFF_MAX_MS of its return', async () => {
    const p = policy('all', [1, 2]); // W0 holds the fork of the test above
    const l = await t.reopen({ witnessing: { policy: p, waitMs: 1000 } });
    await l.append(entry(500));
    await witnesses[2].stop();
    await expect(l.append(entry(501))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    // Backed off 1, 2, 4, then 8 s after its fourth failure — capped at BACKOFF_MAX_MS.
    await expect.poll(() => l.witnessing?.witnesses[1].failures, { timeout: 15_000, interval: 50 }).toBeGreaterThanOrEqual(4);
    expect(l.witnessing?.witnesses[1]).toMatchObject({ name: 'W2', state: 'failing', code: 'UNAVAILABLE' });
    expect(l.failure).toMatch(/W2: UNAVAILABLE/);
    await witnesses[2].start();
    const back = Date.now();
    // Asked again at most 5 s (spec §13.5) after that failure, and rounds run every 0.5 s.
    expect(BACKOFF_MAX_MS).toBe(5000);
    await expect.poll(() => l.failure, { timeout: 6500, interval: 100 }).toBeUndefined();
    expect(Date.now() - back).toBeLessThan(6500);
    expect(checkCheckpoint(l.head.checkpoint, p).cosigned).toHaveLength(2);
    expect(l.witnessing?.witnesses.every((w) => w.state === 'cosigning')).toBe(true);
  }, 30_000);

  it('dojang serve --policy starts and says why while no checkpoint meets the policy (its witnesses down), and a write gets 503 after --witness-wait', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dojang-op-serve-'));
    dirs.push(dir);
    const store = testStoreKind() === 'postgres' ? ['--store', await freshDatabase()] : [];
    const init = spawnSync(process.execPath, [MAIN, 'init', '--data', join(dir, 'log'), ...store, '--origin', 'localhost/dojang-bench-opserve', '--json'], { encoding: 'utf8' });
    expect(init.status, init.stderr).toBe(0);
    const { logKey } = JSON.parse(init.stdout) as { logKey: string };
    // A witness that listens nowhere: a port just freed.
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
    const port = (free.address() as AddressInfo).port;
    await new Promise((r) => free.close(r));
    await writeFile(join(dir, 'policy'), `log ${logKey}\nwitness W0 ${witnesses[0].vkey} http://127.0.0.1:${port}\nquorum W0\n`);
    const child: ChildProcess = spawn(process.execPath, [MAIN, 'serve', '--data', join(dir, 'log'), ...store, '--port', '0', '--policy', join(dir, 'policy'), '--witness-wait', '0.5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
        setTimeout(() => reject(new Error(`serve did not listen within 15 s: ${err}`)), 15_000).unref();
      });
      const h = await fetch(`${url}/healthz`);
      expect(h.status).toBe(503);
      const body = (await h.json()) as { detail: string; witnesses: { name: string; state: string }[] };
      expect(body.detail).toMatch(/witness policy is not met .*W0: UNAVAILABLE/);
      expect(body.witnesses).toMatchObject([{ name: 'W0', state: 'failing' }]);
      expect((await fetch(`${url}/checkpoint`)).status).toBe(503);
      expect((await fetch(`${url}/metrics`)).status).toBe(200);
      const w = await fetch(`${url}/v1/entries`, { method: 'POST', body: Buffer.from(entry(1)), headers: { 'content-type': 'application/cbor' } });
      expect(w.status).toBe(503);
      expect(((await w.json()) as { code: string }).code).toBe('UNAVAILABLE');
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
