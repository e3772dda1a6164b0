/**
 * A log that publishes only witnessed checkpoints (spec §13.5), with three witnesses over
 * real HTTP: 2 of 3 keeps publishing when one is down; 3 of 3 stops, says why, and
 * resumes when the witness returns. Every receipt's checkpoint meets the policy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeLedger, entry, type TestLedger } from '../helpers/ledger.js';
import { Witness } from '../../src/witness/witness.js';
import { WitnessState } from '../../src/witness/state.js';
import { createWitnessApp } from '../../src/witness/server.js';
import { checkCheckpoint, parsePolicy, type Policy } from '../../src/core/policy.js';
import { formatVerifierKey, parseVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../../src/core/note.js';
import { utf8 } from '../../src/core/bytes.js';
import { ed25519PublicKey } from '../../src/core/crypto.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { JsTsa } from '../helpers/tsa.js';
import { vectorText } from '../helpers/vectors.js';
import { parseTsaTrust } from '../../src/timestamp/rfc3161.js';
import { TsaClient } from '../../src/timestamp/stamper.js';

interface Running {
  name: string;
  vkey: string;
  port: number;
  state: WitnessState;
  server?: Server;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const ORIGIN = 'localhost/dojang-bench-published';
let t: TestLedger;
const witnesses: Running[] = [];
const dirs: string[] = [];

async function witness(i: number, logKey: string): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'dojang-pub-w-'));
  dirs.push(dir);
  const state = new WitnessState(join(dir, 'state'));
  await state.open();
  const name = `witness.test/w${i}`;
  const w = new Witness({ name, seed: new Uint8Array(32).fill(40 + i), logs: new Map([[ORIGIN, [parseVerifierKey(logKey)]]]), state });
  const r: Running = {
    name,
    vkey: formatVerifierKey({ name, type: SIG_TYPE_COSIGNATURE_V1, publicKey: w.publicKey }),
    port: 0,
    state,
    async start() {
      const s = createServer(createWitnessApp(w, [ORIGIN]).callback());
      await new Promise<void>((res) => s.listen(r.port, '127.0.0.1', () => res()));
      r.port = (s.address() as AddressInfo).port;
      r.server = s;
    },
    async stop() {
      const s = r.server;
      r.server = undefined;
      s?.closeAllConnections();
      await new Promise((res) => s?.close(res));
    },
  };
  await r.start();
  return r;
}

function policy(quorum: string): Policy {
  const lines = [`log ${t.ledger.publicKeys.logKey}`, ...witnesses.map((w, i) => `witness W${i} ${w.vkey} http://127.0.0.1:${w.port}`), `group G ${quorum} W0 W1 W2`, 'quorum G', ''];
  return parsePolicy(utf8(lines.join('\n')));
}

const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));

beforeAll(async () => {
  t = await makeLedger({}, ORIGIN);
  for (let i = 0; i < 3; i++) witnesses.push(await witness(i, t.ledger.publicKeys.logKey));
}, 60_000);

afterAll(async () => {
  for (const w of witnesses) {
    await w.stop();
    await w.state.close();
  }
  await t.cleanup();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function receiptOf(l: Ledger, n: number) {
  const r = await l.append(entry(n));
  return l.receipt(r.index, r);
}

describe('publishing witnessed checkpoints (spec §13.5)', () => {
  it('2 of 3: every receipt and the served checkpoint meet the policy, also while one witness is down', async () => {
    const p = policy('2');
    const l = await t.reopen({ witnessing: { policy: p, waitMs: 10_000 } });
    const receipts = await Promise.all(Array.from({ length: 20 }, (_, i) => receiptOf(l, i)));
    for (const r of receipts) {
      const v = checkCheckpoint(r.checkpoint, p);
      expect(v.quorum).toBe(true);
      expect(v.cosigned.length).toBeGreaterThanOrEqual(2);
      expect(r.size).toBeGreaterThan(r.index);
    }
    expect(checkCheckpoint(l.head.checkpoint, p).quorum).toBe(true);
    await witnesses[1].stop();
    const during = await receiptOf(l, 100);
    const v = checkCheckpoint(during.checkpoint, p);
    expect(v.quorum).toBe(true);
    expect(v.cosigned.map((c) => c.name)).toEqual(['W0', 'W2']);
    expect(l.failure).toBeUndefined();
    await witnesses[1].start();
  }, 60_000);

  it('3 of 3: with one witness down it stops publishing and says why, and resumes when the witness returns', async () => {
    const p = policy('all');
    const l = await t.reopen({ witnessing: { policy: p, waitMs: 2000 } });
    await receiptOf(l, 200);
    const before = l.head;
    await witnesses[2].stop();
    expect(await code(receiptOf(l, 201))).toBe('UNAVAILABLE'); // appended, but not acknowledged
    expect(l.head).toEqual(before); // the last published checkpoint stays
    // The history is served as of it too: the sequencer's unwitnessed checkpoint is not (found by review).
    expect(await l.checkpoints(before.size + 1, 10)).toEqual([]);
    expect((await l.checkpoints(0, 1000)).at(-1)?.size).toBe(before.size);
    expect(l.failure).toMatch(/witness policy is not met .*W2: UNAVAILABLE/);
    await witnesses[2].start();
    // The same entry again: acknowledged at its index once a witnessed checkpoint covers it.
    const again = await l.append(entry(201));
    expect(again.duplicate).toBe(true);
    const r = await l.receipt(again.index, again);
    expect(checkCheckpoint(r.checkpoint, p).cosigned.map((c) => c.name)).toEqual(['W0', 'W1', 'W2']);
    expect(l.head.size).toBeGreaterThan(before.size);
    await expect.poll(() => l.failure, { timeout: 5000 }).toBeUndefined();
  }, 60_000);

  it('a restart serves the checkpoint published before, checked, until a round publishes a newer one', async () => {
    const p = policy('2');
    let l = await t.reopen({ witnessing: { policy: p, waitMs: 1000 } });
    await receiptOf(l, 300);
    const before = l.head;
    expect(checkCheckpoint(before.checkpoint, p).quorum).toBe(true);
    for (const w of witnesses) await w.stop();
    try {
      l = await t.reopen({ witnessing: { policy: p, waitMs: 1000 } });
      // No witness answers, yet the log serves what it published before (not the unwitnessed head).
      const served = l.head;
      expect([served.size, served.root]).toEqual([before.size, before.root]);
      expect(checkCheckpoint(served.checkpoint, p).quorum).toBe(true);
      expect(await code(receiptOf(l, 301))).toBe('UNAVAILABLE');
      expect(l.head).toEqual(served);
      expect(l.failure).toMatch(/witness policy is not met/);
      // A saved checkpoint that does not meet the policy (here: its cosignature lines cut off) is not served.
      await l.close();
      const s = t.newStore();
      await s.open();
      const note = new TextDecoder().decode(before.checkpoint);
      const cut = note.split('\n').filter((line) => !line.startsWith('— witness.test/')).join('\n');
      await s.putAnnex('witnessed', before.size + 1, utf8(cut)); // and at a size the log never witnessed
      await s.close();
      const logged: string[] = [];
      l = await t.reopen({ witnessing: { policy: p, waitMs: 1000 }, log: (m) => logged.push(m) });
      expect(() => l.head).toThrow(/no checkpoint of this log has met its witness policy/);
      expect(logged.join('\n')).toMatch(/kept from before is not served again/);
    } finally {
      for (const w of witnesses) await w.start();
    }
    // Once the witnesses answer, a newer checkpoint is published and saved over it.
    l = await t.reopen({ witnessing: { policy: p, waitMs: 10_000 } });
    await receiptOf(l, 302);
    expect(l.head.size).toBeGreaterThan(before.size + 1);
  }, 60_000);

  it('after a restart, a witness missing from the restored checkpoint is asked to cosign it, with no new write (found by review)', async () => {
    const p = policy('2');
    await witnesses[2].stop();
    let l: Ledger;
    let restored;
    try {
      l = await t.reopen({ witnessing: { policy: p, waitMs: 10_000 } });
      await receiptOf(l, 400);
      restored = l.head;
      expect(checkCheckpoint(restored.checkpoint, p).cosigned.map((c) => c.name)).toEqual(['W0', 'W1']);
    } finally {
      await witnesses[2].start();
    }
    const p2 = policy('2'); // W2's new port
    l = await t.reopen({ witnessing: { policy: p2, waitMs: 10_000 } });
    const until = Date.now() + 2500; // sooner than the sequencer cosigns its head again (5 s), which would start a round anyway
    while (Date.now() < until && checkCheckpoint(l.head.checkpoint, p2).cosigned.length < 3) await new Promise((r) => setTimeout(r, 100));
    expect(checkCheckpoint(l.head.checkpoint, p2).cosigned.map((c) => c.name)).toEqual(['W0', 'W1', 'W2']);
    expect([l.head.size, l.head.root]).toEqual([restored.size, restored.root]);
  }, 60_000);

  it('under a policy the TSA is asked for published checkpoints only: a token over an unpublished one would never be served (found by review)', async () => {
    const tsa = new JsTsa();
    const timestamping = { client: new TsaClient(await tsa.listen(), parseTsaTrust(vectorText('tsa/ca.pem')), 5000), minBackoffMs: 20, maxBackoffMs: 100 };
    await witnesses[2].stop();
    let l: Ledger;
    try {
      l = await t.reopen({ witnessing: { policy: policy('3'), waitMs: 300 }, timestamping });
      const published = l.head.size; // restored from before
      expect(await code(l.append(entry(500)))).toBe('UNAVAILABLE');
      expect(l.sequencer!.head.size).toBeGreaterThan(published); // appended, not published
      await new Promise((res) => setTimeout(res, 300));
      expect((await l.store.latestAnnex('timestamp'))?.size ?? 0).toBeLessThanOrEqual(published);
    } finally {
      await witnesses[2].start();
    }
    try {
      l = await t.reopen({ witnessing: { policy: policy('3'), waitMs: 10_000 }, timestamping });
      const r = await receiptOf(l, 501);
      const until = Date.now() + 5000;
      while (Date.now() < until && ((await l.store.latestAnnex('timestamp'))?.size ?? 0) < l.head.size) await new Promise((res) => setTimeout(res, 20));
      expect((await l.store.latestAnnex('timestamp'))?.size).toBe(l.head.size);
      expect(l.head.size).toBeGreaterThan(r.index);
    } finally {
      await t.reopen();
      await tsa.close();
    }
  }, 60_000);

  it('2 of 3 with one witness that takes requests and never answers: every write is acknowledged, none waits for that witness (found by review)', async () => {
    // A witness that hangs (stopped, or a network that drops answers) is only timed out
    // after 5 s; the rounds must go on with the others meanwhile.
    const sockets = new Set<Socket>();
    const hung = createNetServer((c) => sockets.add(c)); // accepts, reads nothing, never answers
    await new Promise<void>((res) => hung.listen(0, '127.0.0.1', () => res()));
    const lines = [`log ${t.ledger.publicKeys.logKey}`, `witness W0 ${witnesses[0].vkey} http://127.0.0.1:${witnesses[0].port}`, `witness W1 ${witnesses[1].vkey} http://127.0.0.1:${witnesses[1].port}`, `witness W2 ${witnesses[2].vkey} http://127.0.0.1:${(hung.address() as AddressInfo).port}`, 'group G 2 W0 W1 W2', 'quorum G', ''];
    const p = parsePolicy(utf8(lines.join('\n')));
    try {
      const l = await t.reopen({ witnessing: { policy: p, waitMs: 2000 } });
      // Writes one after another for 8 s: the hung witness is asked again after each backoff (1, 2, 4, 5 s).
      const results = new Map<string, number>();
      for (let i = 0, end = Date.now() + 8000; Date.now() < end; i++) {
        const r = await code(receiptOf(l, 600 + i));
        results.set(r, (results.get(r) ?? 0) + 1);
      }
      expect([...results.keys()]).toEqual(['ok']);
      expect(checkCheckpoint(l.head.checkpoint, p).cosigned.map((c) => c.name)).toEqual(['W0', 'W1']);
    } finally {
      await t.reopen();
      for (const c of sockets) c.destroy();
      await new Promise((res) => hung.close(res));
    }
  }, 60_000);

  it('refuses a policy that does not list this log', async () => {
    const other = parsePolicy(utf8(`log ${formatVerifierKey({ name: ORIGIN, type: 1, publicKey: ed25519PublicKey(new Uint8Array(32).fill(5)) })}\nquorum none\n`));
    await expect(t.reopen({ witnessing: { policy: other } })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await t.reopen();
  });
});
