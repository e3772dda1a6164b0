/**
 * `dojang bench --store postgres://…`, the API processes part (docs/performance.md
 * "PostgreSQL"): the same HTTP workload against one `dojang serve` on LevelDB, one on
 * PostgreSQL, and three on one PostgreSQL database (spec §8.4b: one leads, two forward),
 * in one run, so the figures share the machine's state:
 *
 *  - durable appends/s and receipt latency (p50, p99): a closed loop of signed
 *    cert.issue events POSTed over CONNECTIONS keep-alive connections spread evenly over
 *    the processes; every answer must be 201;
 *  - inclusion proofs/s: GET /v1/entries/<i>/proof for random i, closed loop over
 *    PROOF_CONNECTIONS connections spread the same way.
 *
 * The processes, PostgreSQL and the load generator all share the machine's cores: on a
 * small machine the figures show where the CPU goes, not what more machines would add.
 */
import * as nc from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../core/bytes.js';
import { encodeEvent } from '../core/events.js';
import { ed25519PublicKey, sha256 } from '../core/crypto.js';
import { loadKeys } from '../ledger/keyfiles.js';
import { BENCH_ORIGIN_PREFIX } from '../ledger/ledger.js';
import { LoadConnection, LoadPool } from './http-load.js';
import { median, processCpuSeconds, quantile } from './bench-verify.js';
import { initLedger } from './serve.js';
import { BENCH_DOC_TYPE, benchDocTypeEntry } from './bench-doctype.js';

const CONNECTIONS = 96;
const PROOF_CONNECTIONS = 48;

export interface ApiFigures {
  /** `level` or `postgres`. */
  store: string;
  processes: number;
  events: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  proofsPerSec: number;
  /** CPU seconds each process spent during the append loop. */
  cpuSecondsPerProcess: number[];
}

/**
 * apiFigures starts `processes` `dojang serve` on a fresh ledger (in LevelDB when `admin`
 * is undefined; else in a fresh database on that server, dropped after), measures, and
 * stops them.
 */
export async function apiFigures(admin: string | undefined, processes: number, events: number, proofSecs: number): Promise<ApiFigures> {
  const base = await mkdtemp(join(tmpdir(), 'dojang-bench-api-'));
  const db = admin === undefined ? undefined : await createDatabase(admin);
  const children: ChildProcess[] = [];
  const pools: LoadPool[] = [];
  try {
    const dirs = Array.from({ length: processes }, (_, i) => join(base, `p${i}`));
    const { ledger } = await initLedger({ data: dirs[0], store: db, json: false, origin: `${BENCH_ORIGIN_PREFIX}${toHex(nc.randomBytes(4))}` });
    await ledger.close();
    for (const d of dirs.slice(1)) await cp(join(dirs[0], 'keys'), join(d, 'keys'), { recursive: true });
    const bases: string[] = [];
    for (const d of dirs) {
      const { child, url } = await serve(d, db);
      children.push(child);
      bases.push(url);
    }
    const root = (await loadKeys(dirs[0])).root!.seed;
    for (const b of bases) pools.push(await LoadPool.open(b, '/v1/entries', 'application/cbor', Math.ceil(CONNECTIONS / processes)));
    const issuerSeed = new Uint8Array(nc.randomBytes(32));
    const issuer = ed25519PublicKey(issuerSeed);
    const t0 = Math.floor(Date.now() / 1000);
    if ((await pools[0].post(benchDocTypeEntry(root))) !== 201) throw new Error('document type registration over HTTP failed');
    if ((await pools[0].post(encodeEvent({ type: 'issuer.register', issuer, name: 'dojang bench', docTypes: [BENCH_DOC_TYPE], time: t0 }, root))) !== 201) {
      throw new Error('issuer registration over HTTP failed');
    }
    const run = nc.randomBytes(8);
    const made = Array.from({ length: events }, (_, i) => {
      const id = new Uint8Array(16);
      id.set(run, 0);
      new DataView(id.buffer).setBigUint64(8, BigInt(i));
      return encodeEvent({ type: 'cert.issue', id, docType: BENCH_DOC_TYPE, issuer, holder: issuer, commitment: sha256(id), issuedAt: t0, validUntil: t0 + 86_400, time: t0 }, issuerSeed);
    });
    const cpu0 = children.map((c) => processCpuSeconds(c.pid) ?? 0);
    const conns = pools.flatMap((p) => p.conns);
    const lat: number[] = new Array(events);
    let next = 0;
    let bad = 0;
    const start = performance.now();
    await Promise.all(
      conns.map(async (c) => {
        while (next < events) {
          const i = next++;
          const a = performance.now();
          if ((await c.post(made[i])) !== 201) bad++;
          lat[i] = performance.now() - a;
        }
      }),
    );
    const secs = (performance.now() - start) / 1000;
    if (bad > 0) throw new Error(`${bad} of ${events} events were not accepted`);
    const cpu = children.map((c, i) => (processCpuSeconds(c.pid) ?? 0) - cpu0[i]);
    lat.sort((x, y) => x - y);
    for (const p of pools) p.close();
    pools.length = 0;
    const proofsPerSec = await proofRate(bases, events + 1, proofSecs);
    return { store: admin === undefined ? 'level' : 'postgres', processes, events, eventsPerSec: events / secs, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), proofsPerSec, cpuSecondsPerProcess: cpu };
  } finally {
    for (const p of pools) p.close();
    await Promise.all(children.map(stop));
    await rm(base, { recursive: true, force: true });
    if (db !== undefined) await dropDatabase(admin!, db);
  }
}

/** proofRate: GET /v1/entries/<i>/proof (i random below size) over connections spread over the bases; median of 3 rounds, proofs/s. */
async function proofRate(bases: string[], size: number, secs: number): Promise<number> {
  const conns = (await Promise.all(bases.map((b) => Promise.all(Array.from({ length: Math.ceil(PROOF_CONNECTIONS / bases.length) }, () => LoadConnection.open(b, '/', 'text/plain')))))).flat();
  try {
    const rounds: number[] = [];
    for (let r = 0; r < 3; r++) {
      let n = 0;
      const until = performance.now() + (secs * 1000) / 3;
      const start = performance.now();
      await Promise.all(
        conns.map(async (c) => {
          while (performance.now() < until) {
            const status = await c.get(`/v1/entries/${Math.floor(Math.random() * size)}/proof`);
            if (status !== 200) throw new Error(`a proof request got ${status}`);
            n++;
          }
        }),
      );
      rounds.push(n / ((performance.now() - start) / 1000));
    }
    return median(rounds);
  } finally {
    for (const c of conns) c.close();
  }
}

async function serve(dir: string, db: string | undefined): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [process.argv[1], 'serve', '--data', dir, '--port', '0', ...(db === undefined ? [] : ['--store', db])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  try {
    const url = await new Promise<string>((res, rej) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) res(m[1]);
      });
      child.once('exit', (c) => rej(new Error(`serve exited with ${c}: ${err.trim()}`)));
    });
    return { child, url };
  } catch (e) {
    await stop(child);
    throw e;
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function admin(url: string, sql: string): Promise<void> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** createDatabase makes a fresh database on the server of `url` (whose user may create databases) and returns its URL. */
export async function createDatabase(url: string): Promise<string> {
  const name = `dojang_bench_${toHex(nc.randomBytes(6))}`;
  await admin(url, `create database ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.href;
}

/** dropDatabase drops a database createDatabase made, even with sessions open. */
export async function dropDatabase(adminUrl: string, db: string): Promise<void> {
  await admin(adminUrl, `drop database if exists ${new URL(db).pathname.slice(1)} with (force)`);
}
