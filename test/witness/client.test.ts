/**
 * WitnessClient (spec §13.4) against our witness over real HTTP, with a real ledger's
 * checkpoints and proofs: learning the witness's size from 409, following the log,
 * a forked copy refused as INCONSISTENT, and the answers of a witness that is down, does
 * not know the log, or cosigns with another key.
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
import { Witness } from '../../src/witness/witness.js';
import { WitnessState } from '../../src/witness/state.js';
import { createWitnessApp } from '../../src/witness/server.js';
import { WitnessClient } from '../../src/witness/client.js';
import { cosignatureVerifier, cosignedTime } from '../../src/core/cosignature.js';
import { parseVerifierKey } from '../../src/core/note.js';

const NAME = 'witness.test/client';
const SEED = new Uint8Array(32).fill(0x33);
let t: TestLedger;
let state: WitnessState;
let server: Server;
let url = '';
const dirs: string[] = [];

beforeAll(async () => {
  t = await makeLedger({}, 'localhost/dojang-bench-wclient');
  await Promise.all(Array.from({ length: 30 }, (_, i) => t.ledger.append(entry(i))));
  const dir = await mkdtemp(join(tmpdir(), 'dojang-wclient-'));
  dirs.push(dir);
  state = new WitnessState(join(dir, 'state'));
  await state.open();
  const w = new Witness({ name: NAME, seed: SEED, logs: new Map([[t.ledger.origin, [parseVerifierKey(t.ledger.publicKeys.logKey)]]]), state });
  server = createServer(createWitnessApp(w, [t.ledger.origin]).callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await state.close();
  await t.cleanup();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const key = () => cosignatureVerifier(NAME, new Witness({ name: NAME, seed: SEED, logs: new Map(), state }).publicKey);
const client = (l: Ledger, over: Partial<{ url: string; key: ReturnType<typeof key> }> = {}) => new WitnessClient({ key: over.key ?? key(), url: over.url ?? url }, { prove: (a, b) => l.consistencyProof(a, b), timeoutMs: 3000 });
const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));

describe('WitnessClient', () => {
  it('gets cosignatures for each new checkpoint, learning the witness size from a 409', async () => {
    const a = client(t.ledger);
    const sig = await a.cosign(t.ledger.head.checkpoint);
    expect(sig.name).toBe(NAME);
    expect(cosignedTime(sig)).toBeGreaterThan(1_700_000_000);
    expect(a.size).toBe(t.ledger.head.size);
    await Promise.all(Array.from({ length: 10 }, (_, i) => t.ledger.append(entry(100 + i))));
    await a.cosign(t.ledger.head.checkpoint); // with a proof from the size it knew
    // A second client (another process of the log) starts from nothing: it learns the size from the 409.
    await Promise.all(Array.from({ length: 5 }, (_, i) => t.ledger.append(entry(200 + i))));
    const b = client(t.ledger);
    await b.cosign(t.ledger.head.checkpoint);
    expect(b.size).toBe(t.ledger.head.size);
    // An older checkpoint than what the witness cosigned: CONFLICT.
    const [old] = await t.ledger.checkpoints(1, 1);
    expect(await code(b.cosign(old.checkpoint))).toBe('CONFLICT');
  });

  it('says INCONSISTENT for a forked copy, UNKNOWN_KEY for a wrong witness key or an unknown log, UNAVAILABLE when the witness is down', async () => {
    await client(t.ledger).cosign(t.ledger.head.checkpoint);
    await t.ledger.close();
    const fork = await copyLedger(t, await mkdtemp(join(tmpdir(), 'dojang-wclient-fork-')));
    dirs.push(fork.dir);
    const a = await t.reopen();
    const s = fork.store();
    await s.open();
    const b = await Ledger.open({ store: s, keys: await loadKeys(fork.dir), guard: FileGuard.inDir(fork.dir) });
    try {
      await Promise.all(Array.from({ length: 7 }, (_, i) => a.append(entry(300 + i))));
      await Promise.all(Array.from({ length: 9 }, (_, i) => b.append(entry(400 + i))));
      await client(a).cosign(a.head.checkpoint);
      expect(await code(client(b).cosign(b.head.checkpoint))).toBe('INCONSISTENT');
      const wrong = cosignatureVerifier(NAME, new Uint8Array(32).fill(9));
      expect(await code(client(a, { key: wrong }).cosign(a.head.checkpoint))).toBe('UNKNOWN_KEY');
    } finally {
      await b.close();
      await fork.drop();
    }
    const stranger = await makeLedger({}, 'localhost/dojang-bench-stranger');
    try {
      expect(await code(client(stranger.ledger).cosign(stranger.ledger.head.checkpoint))).toBe('UNKNOWN_KEY');
    } finally {
      await stranger.cleanup();
    }
    expect(await code(client(t.ledger, { url: 'http://127.0.0.1:1' }).cosign(t.ledger.head.checkpoint))).toBe('UNAVAILABLE');
  });
});
