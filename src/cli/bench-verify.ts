/**
 * The verification side of dojang bench (docs/performance.md): presentations judged
 * through POST /v1/verify and offline (node:crypto and the portable @noble code), and the
 * audit's replay rate. Each figure stands beside the machine's signature-check rate,
 * measured in the same run.
 */
import * as nc from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../core/bytes.js';
import { ed25519PublicKey, portableBackend } from '../core/crypto.js';
import { disclose, newClaim } from '../core/commitment.js';
import { loadKeys } from '../ledger/keyfiles.js';
import { DojangClient } from '../client/sdk.js';
import { decodePresentation } from '../client/presentation.js';
import { PresentationVerifier } from '../client/verify.js';
import { audit } from '../audit/audit.js';
import { dataSource } from '../audit/sources.js';
import { LoadPool } from './http-load.js';

const now = () => performance.now();

/** median of a list (of rounds). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** quantile q of an ascending list; NaN when empty. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * httpClosedLoop sends requests 0 … n−1 (body(i)) over the pool's connections, one in
 * flight on each, and returns the seconds taken, the latencies in ms (ascending) and how
 * many answers were not `status`.
 */
export async function httpClosedLoop(pool: LoadPool, n: number, body: (i: number) => Uint8Array, status: number): Promise<{ secs: number; lat: number[]; bad: number }> {
  const lat: number[] = new Array(n);
  let next = 0;
  let bad = 0;
  const t0 = now();
  await Promise.all(
    pool.conns.map(async (c) => {
      while (next < n) {
        const i = next++;
        const a = now();
        if ((await c.post(body(i))) !== status) bad++;
        lat[i] = now() - a;
      }
    }),
  );
  const secs = (now() - t0) / 1000;
  return { secs, lat: lat.sort((a, b) => a - b), bad };
}

/** processCpuSeconds reads the user + system CPU of process `pid` (all threads) from /proc; undefined elsewhere. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    return Number.isFinite(ticks) ? ticks / 100 : undefined; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** startServe runs `dojang serve` on a fresh ledger in a child process; resolves with its base URL. */
export async function startServe(): Promise<{ child: ChildProcess; base: string; dir: string; stop: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dojang-serve-'));
  const child = spawn(process.execPath, [process.argv[1], 'serve', '--data', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const base = await new Promise<string>((res, rej) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) res(m[1]);
      });
      child.once('exit', (c) => rej(new Error(`serve exited with ${c}`)));
    });
    return { child, base, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface PresentationFigures {
  /** Distinct presentations (certificates, each sent to the verifier through one transfer). */
  presentations: number;
  bytes: number;
  api: { clients: number; judged: number; perSec: number; p50Ms: number; p99Ms: number; serverCpuUsPer: number | undefined };
  /** CPU per presentation judged offline, µs (medians of rounds), and per bare node:crypto signature check measured between the rounds. */
  offlineCpuUs: { node: number; noble: number; signatureCheck: number };
}

/**
 * presentationFigures issues certificates into a served log, sends each to one verifier
 * key (the pharmacy's QR code), makes a presentation of each with the SDK, and judges
 * them: through POST /v1/verify (closed loop, keep-alive clients, server in a child
 * process) and offline in this process. Every verdict must be valid.
 */
export async function presentationFigures(quick: boolean): Promise<PresentationFigures> {
  const s = await startServe();
  try {
    const root = (await loadKeys(s.dir)).root!.seed;
    const client = new DojangClient(s.base);
    const issuer = new Uint8Array(nc.randomBytes(32));
    const { householdClaims, RESIDENT_REGISTRATION_COPY: doc } = await import('../wallet/doctypes.js');
    const { demoHousehold } = await import('./demo.js');
    const household = householdClaims(demoHousehold('2019-05-05'));
    const shown = ['applicant', 'member.3.relation', 'member.3.birthDate'];
    await client.registerIssuer(root, ed25519PublicKey(issuer), 'bench office', [doc]);
    const pharmacy = new Uint8Array(nc.randomBytes(32));
    const audience = ed25519PublicKey(pharmacy);
    const k = quick ? 100 : 300;
    const made: Uint8Array[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (made.length < k) {
          made.push(new Uint8Array(0)); // reserve a slot
          const slot = made.length - 1;
          const holder = new Uint8Array(nc.randomBytes(32));
          const claims = household.map(([name, value]) => newClaim(name, value));
          const issued = await client.issue(issuer, { docType: doc, holder: ed25519PublicKey(holder), claims, validUntil: client.now() + 90 * 86_400 });
          const sent = await client.transfer(holder, { id: issued.id, parent: issued.leafHash, senderSalt: null, recipientKey: audience });
          made[slot] = await client.present({ issue: issued.entry, transfers: [sent.entry], disclosure: disclose(claims, shown), holding: { flow: 'received', recipient: audience, salt: sent.recipientSalt } });
        }
      }),
    );
    const keys = { ...(await client.keys()), rootKey: (await client.log()).rootKey };
    const t = client.now();

    // Offline: CPU per presentation, node:crypto and the portable backend.
    // Each round is followed by a round of bare signature checks, the unit the figure is
    // reported in: this machine's speed moves by tens of percent within a run.
    const { privateKey, publicKey } = nc.generateKeyPairSync('ed25519');
    const msg = nc.randomBytes(300);
    const sig = nc.sign(null, msg, privateKey);
    const offline = (v: PresentationVerifier, list: Uint8Array[], rounds: number): { us: number; sigUs: number } => {
      for (const b of list) v.verify(decodePresentation(b), { now: t, audience }); // warm the caches (checkpoints, registrations) and the JIT
      const per: number[] = [];
      const sigs: number[] = [];
      for (let r = 0; r < rounds; r++) {
        let c0 = process.cpuUsage();
        for (const b of list) {
          if (!v.verify(decodePresentation(b), { now: t, audience }).valid) throw new Error('a bench presentation was judged not valid');
        }
        let c = process.cpuUsage(c0);
        per.push((c.user + c.system) / list.length);
        c0 = process.cpuUsage();
        for (let i = 0; i < 500; i++) nc.verify(null, msg, publicKey, sig);
        c = process.cpuUsage(c0);
        sigs.push((c.user + c.system) / 500);
      }
      return { us: median(per), sigUs: median(sigs) };
    };
    const nodeRun = offline(new PresentationVerifier(keys), made, quick ? 3 : 5);
    const nobleUs = offline(new PresentationVerifier(keys, portableBackend), made.slice(0, quick ? 20 : 50), quick ? 3 : 5).us;

    // Through the API.
    const clients = 64;
    const pool = await LoadPool.open(s.base, `/v1/verify?audience=${toHex(audience)}`, 'application/cbor', clients);
    const n = quick ? 3_000 : 12_000;
    const cpu0 = processCpuSeconds(s.child.pid);
    const { secs, lat, bad } = await httpClosedLoop(pool, n, (i) => made[i % made.length], 200);
    const cpu1 = processCpuSeconds(s.child.pid);
    pool.close();
    if (bad > 0) throw new Error(`${bad} verify requests failed`);
    // One answer in full: every verdict is valid (the status is the log's own).
    const check = await fetch(`${s.base}/v1/verify?audience=${toHex(audience)}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: Buffer.from(made[0]) });
    if (!((await check.json()) as { valid: boolean }).valid) throw new Error('the API judged a bench presentation not valid');
    return {
      presentations: made.length,
      bytes: Math.round(made.reduce((x, b) => x + b.length, 0) / made.length),
      api: {
        clients,
        judged: n,
        perSec: n / secs,
        p50Ms: quantile(lat, 0.5),
        p99Ms: quantile(lat, 0.99),
        serverCpuUsPer: cpu0 === undefined || cpu1 === undefined ? undefined : ((cpu1 - cpu0) * 1e6) / n,
      },
      offlineCpuUs: { node: nodeRun.us, noble: nobleUs, signatureCheck: nodeRun.sigUs },
    };
  } finally {
    await s.stop();
  }
}

export interface AuditFigures {
  entries: number;
  entriesPerSec: number;
  checkpoints: number;
  seconds: number;
}

/** auditFigures replays the ledger in `dir` (closed) with `dojang audit --data`'s code: best of rounds. */
export async function auditFigures(dir: string, quick: boolean): Promise<AuditFigures> {
  const runs: AuditFigures[] = [];
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    const src = await dataSource(dir);
    try {
      const a = await audit(src);
      runs.push({ entries: a.entries, entriesPerSec: a.entries / a.seconds, checkpoints: a.checkpoints, seconds: a.seconds });
    } finally {
      await src.close();
    }
  }
  return runs.sort((a, b) => a.entriesPerSec - b.entriesPerSec)[runs.length >> 1];
}

export interface WalletFigures {
  /** Items in the measured wallet, and their sealed size (bytes, mean). */
  items: number;
  sealedBytes: number;
  /** CPU per seal and per open of one item, µs (medians of rounds), and per bare node:crypto signature check between them. */
  cpuUs: { seal: number; open: number; signatureCheck: number };
  /** Signed store reads through HTTP (each verifies a signature and writes its nonce with fsync). */
  list: { clients: number; requests: number; perSec: number; p50Ms: number; p99Ms: number };
  fetch: { clients: number; requests: number; perSec: number; p50Ms: number; p99Ms: number };
}

/**
 * walletFigures issues resident registration copies into one wallet of a served log
 * (spec §12), then measures sealing and opening an item in this process and the signed
 * store reads — listing the wallet, fetching one sealed item — through HTTP with
 * concurrent clients (each request signed afresh, as a wallet makes it).
 */
export async function walletFigures(quick: boolean): Promise<WalletFigures> {
  const { Wallet, issueInto } = await import('../wallet/wallet.js');
  const { householdClaims, RESIDENT_REGISTRATION_COPY } = await import('../wallet/doctypes.js');
  const { sealItem, openSealed } = await import('../wallet/item.js');
  const s = await startServe();
  try {
    const root = (await loadKeys(s.dir)).root!.seed;
    const client = new DojangClient(s.base);
    const issuer = new Uint8Array(nc.randomBytes(32));
    await client.registerIssuer(root, ed25519PublicKey(issuer), 'bench office', [RESIDENT_REGISTRATION_COPY]);
    const w = Wallet.create();
    const { demoHousehold } = await import('./demo.js');
    const copy = demoHousehold('2019-05-05');
    const k = quick ? 10 : 20;
    const items: string[] = [];
    for (let i = 0; i < k; i++) {
      items.push((await issueInto(client, issuer, { to: w.address, holder: w.newHolderKey(), docType: RESIDENT_REGISTRATION_COPY, claims: householdClaims(copy), validUntil: client.now() + 90 * 86_400 })).item);
    }
    const path = `/v1/wallets/${w.address}/items`;
    const sealed = (await client.signedRequest(w.identitySeed, 'GET', `${path}/${items[0]}`, undefined, 'bytes')) as Uint8Array;
    const plain = openSealed(sealed, w.identitySeed);

    // CPU per seal and open, beside a bare signature check.
    const { privateKey, publicKey } = nc.generateKeyPairSync('ed25519');
    const msg = nc.randomBytes(300);
    const sig = nc.sign(null, msg, privateKey);
    const seal: number[] = [];
    const open: number[] = [];
    const sigs: number[] = [];
    const per = (n: number, f: () => void): number => {
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) f();
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / n;
    };
    per(50, () => openSealed(sealItem(plain, w.identityKey), w.identitySeed)); // warm the JIT
    for (let r = 0; r < (quick ? 3 : 5); r++) {
      seal.push(per(100, () => sealItem(plain, w.identityKey)));
      open.push(per(100, () => openSealed(sealed, w.identitySeed, w.identityKey)));
      sigs.push(per(500, () => nc.verify(null, msg, publicKey, sig)));
    }

    // Signed reads through HTTP, closed loop.
    const clients = 16;
    const loop = async (n: number, target: string) => {
      const lat: number[] = [];
      let next = 0;
      const t0 = now();
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (next < n) {
            next++;
            const a = now();
            const r = await client.signedRequest(w.identitySeed, 'GET', target, undefined, target === path ? 'json' : 'bytes');
            if (r === undefined || r === null) throw new Error('a store read answered nothing');
            lat.push(now() - a);
          }
        }),
      );
      const secs = (now() - t0) / 1000;
      lat.sort((x, y) => x - y);
      return { clients, requests: n, perSec: n / secs, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99) };
    };
    const n = quick ? 500 : 2000;
    const list = await loop(n, path);
    const fetchOne = await loop(n, `${path}/${items[0]}`);
    return { items: k, sealedBytes: sealed.length, cpuUs: { seal: median(seal), open: median(open), signatureCheck: median(sigs) }, list, fetch: fetchOne };
  } finally {
    await s.stop();
  }
}
