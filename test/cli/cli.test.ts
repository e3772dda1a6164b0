import { afterAll, describe, expect, it } from 'vitest';
import { testStoreKind } from '../helpers/postgres.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openNote, parseVerifierKey } from '../../src/core/note.js';
import { serveCli } from '../helpers/cli.js';
import { parseCheckpoint } from '../../src/core/checkpoint.js';
import { decodeEntryBundle, formatTilePath } from '../../src/core/tiles.js';
import { encodeEvent, newCertId, newNonce, parseEvent } from '../../src/core/events.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { DOC_TYPES } from '../../src/wallet/doctypes.js';

/** A new ledger holds its genesis entry and a doctype.register of each document type the wallet side knows. */
const INIT_SIZE = 1 + DOC_TYPES.size;

// The CLI runs from the build (npm test builds first: "pretest").
const MAIN = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
const dirs: string[] = [];
const children: ChildProcess[] = [];

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'dojang-cli-'));
  dirs.push(d);
  return d;
}

function run(args: string[], timeout = 60_000) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout });
}

/** serve starts `dojang serve` on a free port and resolves with its base URL. */
const serve = (dir: string, args?: string[]) => serveCli(dir, children, { args });

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('dojang CLI', () => {
  it('init creates 0600 keys and a genesis entry, prints the vkeys, and refuses to run twice', async () => {
    const dir = await tmp();
    const r = run(['init', '--data', dir, '--origin', 'example.com/dojang-test', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.origin).toBe('example.com/dojang-test');
    expect(parseVerifierKey(j.logKey).name).toBe('example.com/dojang-test');
    expect(parseVerifierKey(j.timestampKey).type).toBe(0x04);
    expect(j.developmentRootKey).toBe(true);
    for (const f of await readdir(join(dir, 'keys'))) expect((await stat(join(dir, 'keys', f))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'keys'))).mode & 0o777).toBe(0o700);
    const again = run(['init', '--data', dir]);
    expect(again.status).not.toBe(0);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain('already');
  });

  it('init with a separate root key file signs the genesis with it and does not copy it', async () => {
    const dir = await tmp();
    const rootDir = await tmp();
    const a = run(['init', '--data', rootDir, '--origin', 'root.example/keys', '--json']);
    expect(a.status, a.stderr).toBe(0);
    const r = run(['init', '--data', dir, '--origin', 'example.com/prod', '--root-key', join(rootDir, 'keys', 'root.key'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.rootKey).toBe(JSON.parse(a.stdout).rootKey);
    expect(j.developmentRootKey).toBe(false);
    expect((await readdir(join(dir, 'keys'))).sort()).toEqual(['log.key', 'status.key', 'timestamp.key']);
  });

  // LevelDB only: a second server on DIR is refused by LevelDB's lock on DIR/db; on PostgreSQL several processes share a database by design (test/ledger/cluster.test.ts, scripts/failover-test.mjs)
  it.skipIf(testStoreKind() === 'postgres')('serve creates a development ledger when there is none, says so, serves, and stops cleanly', async () => {
    const dir = await tmp();
    const { child, base, stderr } = await serve(dir);
    expect(stderr()).toContain('creating a development ledger');
    const log = await (await fetch(`${base}/v1/log`)).json();
    const note = new Uint8Array(await (await fetch(`${base}/checkpoint`)).arrayBuffer());
    const { note: n } = openNote(note, [parseVerifierKey(log.logKey), parseVerifierKey(log.timestampKey)], { requireAll: true });
    expect(parseCheckpoint(n.text).size).toBe(INIT_SIZE);
    // After the genesis: the wallet side's document types, with their validity as the maximum.
    const bundle = new Uint8Array(await (await fetch(`${base}/${formatTilePath({ kind: 'entries', index: 0, width: INIT_SIZE })}`)).arrayBuffer());
    const registered = decodeEntryBundle(bundle, INIT_SIZE).slice(1).map((e) => parseEvent(e).event);
    expect(registered).toEqual([...DOC_TYPES].map(([docType, d]) => expect.objectContaining({ type: 'doctype.register', docType, maxValidity: d.validitySeconds })));
    // A second server on the same directory is refused with a clear reason.
    const second = run(['serve', '--data', dir, '--port', '0']);
    expect(second.status).not.toBe(0);
    expect(second.stderr).toMatch(/in use/);
    const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    // and it starts again on the same data
    const again = await serve(dir);
    expect((await (await fetch(`${again.base}/v1/log`)).json()).logKey).toBe(log.logKey);
    again.child.kill('SIGTERM');
  });

  it('init checks before it writes: a bad origin leaves nothing behind', async () => {
    const dir = await tmp();
    const r = run(['init', '--data', dir, '--origin', 'bad\u0001name']);
    expect(r.status).not.toBe(0);
    expect(await readdir(dir).then((f) => f.filter((x) => x.startsWith('keys')))).toEqual([]);
    const ok = run(['init', '--data', dir, '--origin', 'example.com/after-a-bad-try', '--json']);
    expect(ok.status, ok.stderr).toBe(0);
  });

  // LevelDB only: it copies DIR/db to stand for a log without its keys
  it.skipIf(testStoreKind() === 'postgres')('serve finishes an interrupted development init, and never mints keys for an existing log', async () => {
    const dir = await tmp();
    // keys written, genesis never appended: what a crash in the middle of init leaves
    const { createKeys } = await import('../../src/ledger/keyfiles.js');
    await createKeys(dir, 'example.com/interrupted', true);
    const s = await serve(dir);
    const log = await (await fetch(`${s.base}/v1/log`)).json();
    expect(log).toMatchObject({ origin: 'example.com/interrupted', size: INIT_SIZE });
    const exit = new Promise((r) => s.child.on('exit', r));
    s.child.kill('SIGTERM');
    await exit;
    // a copy of db/ without keys/: refuse rather than make new keys
    const copy = await tmp();
    const { cp } = await import('node:fs/promises');
    await cp(join(dir, 'db'), join(copy, 'db'), { recursive: true });
    const r = run(['serve', '--data', copy, '--port', '0']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/restore the keys/);
    expect(await readdir(copy)).toEqual(['db']);
  });

  it('refuses --tsa without --tsa-cert (and the reverse), and a --tsa-cert without a certificate, before opening anything', async () => {
    const dir = await tmp();
    const pem = join(dir, 'empty.pem');
    await writeFile(pem, 'no certificate here\n');
    for (const args of [['--tsa', 'http://127.0.0.1:1/'], ['--tsa-cert', pem], ['--tsa', 'http://127.0.0.1:1/', '--tsa-cert', pem], ['--tsa', 'ftp://x/', '--tsa-cert', join(__dirname, '..', 'vectors', 'tsa', 'ca.pem')]]) {
      const r = run(['serve', '--data', dir, '--port', '0', ...args]);
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(/BAD_REQUEST|--tsa/);
    }
    expect(await readdir(dir)).toEqual(['empty.pem']); // no ledger was created
  });

  it('serve --max-queue bounds the write queue: a flood of signed writes by keys that hold nothing is answered 503 OVERLOADED, and the log goes on', async () => {
    const dir = await tmp();
    for (const bad of ['0', '262145', '1.5', 'x']) {
      const r = run(['serve', '--data', dir, '--port', '0', '--max-queue', bad]);
      expect(r.status, bad).not.toBe(0);
      expect(r.stderr).toMatch(/^dojang: BAD_REQUEST: --max-queue /);
    }
    expect(await readdir(dir)).toEqual([]); // refused before anything was created
    const { base } = await serve(dir, ['--max-queue', '1']);
    // Anyone can sign a transfer with a fresh key: it passes parsing and the signature
    // check, waits for the sequencer, and only then is refused (UNKNOWN_CERT).
    const flood = () => {
      const seed = randomBytes(32);
      const body = { type: 'cert.transfer', id: newCertId(), parent: randomBytes(32), sender: ed25519PublicKey(seed), senderSalt: null, recipient: randomBytes(32), nonce: newNonce(), time: Math.floor(Date.now() / 1000) } as const;
      return encodeEvent(body, seed);
    };
    const answers = await Promise.all(
      Array.from({ length: 400 }, async () => {
        const res = await fetch(`${base}/v1/entries`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: Buffer.from(flood()) });
        const j = (await res.json()) as { code?: string };
        return { status: res.status, code: j.code, retryAfter: res.headers.get('retry-after') };
      }),
    );
    const overloaded = answers.filter((a) => a.status === 503);
    expect(overloaded.length).toBeGreaterThan(0);
    for (const a of overloaded) expect(a).toMatchObject({ code: 'OVERLOADED', retryAfter: expect.stringMatching(/^[1-9]\d*$/) });
    for (const a of answers.filter((x) => x.status !== 503)) expect(a).toMatchObject({ status: 422, code: 'UNKNOWN_CERT' });
    // Nothing was appended, and a write after the flood is judged as usual.
    expect((await (await fetch(`${base}/v1/log`)).json()).size).toBe(INIT_SIZE);
    const after = await fetch(`${base}/v1/entries`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: Buffer.from(flood()) });
    expect([after.status, ((await after.json()) as { code: string }).code]).toEqual([422, 'UNKNOWN_CERT']);
  });

  it('fails with a one-line reason and non-zero status on bad usage', () => {
    for (const args of [['frobnicate'], ['serve', '--port', 'x'], ['init', '--bogus']]) {
      const r = run(args);
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr.length).toBeGreaterThan(0);
    }
  });

  // LevelDB only: bench keeps its LevelDB ledger in DIR (with --store it measures PostgreSQL in fresh databases and drops them), which serve then opens from DIR
  it.skipIf(testStoreKind() === 'postgres')('bench prints its figures beside the machine limits and keeps the ledger with --data', async () => {
    const dir = await tmp();
    const r = run(['bench', '--data', dir, '--entries', '3000', '--quick', '--json'], 140_000); // about a minute on 2 busy cores
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.limits.sha256PerSec).toBeGreaterThan(0);
    expect(j.limits.ed25519VerifyPerSec).toBeGreaterThan(0);
    expect(j.appends.entries).toBe(3000);
    expect(j.proofs.inclusionPerSec).toBeGreaterThan(0);
    expect(j.merkletreejs.proofsPerSec).toBeGreaterThan(0);
    expect(j.http.eventsPerSec).toBeGreaterThan(0);
    expect(j.http.cpuUsPerEvent.loadGenerator).toBeGreaterThan(0);
    // Witnessed appends beside unwitnessed ones, and the witness round trip (spec §13.5).
    for (const k of ['none', 'witnessed']) {
      expect(j.witnessing[k].throughput.appendsPerSec).toBeGreaterThan(0);
      expect(j.witnessing[k].sequential.p50Ms).toBeGreaterThan(0);
    }
    expect(j.witnessing.roundTripMs.p50).toBeGreaterThan(0);
    // A witnessed write waits for a witness round trip more than an unwitnessed one.
    expect(j.witnessing.witnessed.sequential.p50Ms).toBeGreaterThan(j.witnessing.none.sequential.p50Ms);
    expect(j.ratios.witnessedAppendsPerUnwitnessed).toBeGreaterThan(0);
    if (process.platform === 'linux') expect(j.http.cpuUsPerEvent.server).toBeGreaterThan(0);
    expect(j.presentations.api.perSec).toBeGreaterThan(0);
    expect(j.presentations.offlineCpuUs.node).toBeGreaterThan(0);
    expect(j.presentations.offlineCpuUs.noble).toBeGreaterThan(j.presentations.offlineCpuUs.node);
    expect(j.audit.entries).toBe(j.size);
    expect(j.ratios.auditEntriesPerTwoCoreVerify).toBeGreaterThan(0);
    expect(j.ratios.apiPresentationsPerTwoCoreVerify).toBeGreaterThan(0);
    expect(j.size).toBeGreaterThan(3000);
    const s = await serve(dir);
    const log = await (await fetch(`${s.base}/v1/log`)).json();
    expect(log.size).toBe(j.size);
    s.child.kill('SIGTERM');
  }, 150_000);
});
