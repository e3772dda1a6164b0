import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Witness } from '../../src/witness/witness.js';
import { WitnessState } from '../../src/witness/state.js';
import { createWitnessApp } from '../../src/witness/server.js';
import { formatVerifierKey, parseVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../../src/core/note.js';

/** A real witness (src/witness) of one log, served over HTTP on a free port in this process. */
export interface RunningWitness {
  /** Its key name. */
  name: string;
  vkey: string;
  url: string;
  stop(): Promise<void>;
}

/**
 * startWitness starts witness number i (key name witness.test/w<i>, a fixed seed) of the
 * log `origin` signed by logKey (a vkey), with its state in a fresh temp directory.
 */
export async function startWitness(i: number, origin: string, logKey: string): Promise<RunningWitness> {
  const dir = await mkdtemp(join(tmpdir(), 'dojang-witness-'));
  const state = new WitnessState(join(dir, 'state'));
  await state.open();
  const name = `witness.test/w${i}`;
  const w = new Witness({ name, seed: new Uint8Array(32).fill(40 + i), logs: new Map([[origin, [parseVerifierKey(logKey)]]]), state });
  const server: Server = createServer(createWitnessApp(w, [origin]).callback());
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return {
    name,
    vkey: formatVerifierKey({ name, type: SIG_TYPE_COSIGNATURE_V1, publicKey: w.publicKey }),
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
      await state.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * policyText is a tlog-policy file for the log `logKey` and the witnesses, named W0, W1,
 * … (with their URLs), in one group G with the threshold `quorum` (all, any or k).
 */
export function policyText(logKey: string, witnesses: readonly RunningWitness[], quorum: string): string {
  return [`log ${logKey}`, ...witnesses.map((w, i) => `witness W${i} ${w.vkey} ${w.url}`), `group G ${quorum} ${witnesses.map((_, i) => `W${i}`).join(' ')}`, 'quorum G', ''].join('\n');
}

/**
 * allCosigned waits (up to 10 s) until the checkpoint served at `base` carries `n`
 * cosignatures of these test witnesses: receipts carry the quorum's, and the others are
 * added as they arrive. Tests that cut lines from checkpoints take them after this.
 */
export async function allCosigned(base: string, n = 3): Promise<void> {
  const count = async () => (await fetch(`${base}/checkpoint`).then((r) => r.text())).split('\n').filter((l) => l.startsWith('— witness.test/')).length;
  for (const end = Date.now() + 10_000; (await count()) < n && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
}
