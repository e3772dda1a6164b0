/**
 * RFC 3161 with a real time-stamping authority (spec §14): Debian's `openssl ts -reply`
 * answers the log's application/timestamp-query requests through a tiny HTTP server;
 * `dojang serve --tsa URL --tsa-cert ca.pem` stores a token for new checkpoints;
 * `openssl ts -verify` must accept every token dojang stores and serves; `dojang audit
 * --tsa-cert` verifies them all, and fails naming the size when one size's token is filed
 * under another.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { encodeEvent } from '../../src/core/events.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { fromBase64 } from '../../src/core/bytes.js';
import { parseNote } from '../../src/core/note.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { LevelStore } from '../../src/storage/level.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'dist/cli/main.js');
const run = promisify(execFile);

const TSA_CNF = `[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = ./serial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
[ ca_ext ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ tsa_ext ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
`;

function openssl(cwd: string, args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('RFC 3161 tokens from a TSA made with openssl ts', () => {
  let tmp = '';
  let data = '';
  let tsaServer: Server;
  let tsaUrl = '';
  let requests = 0;
  let serve: ChildProcess | undefined;
  let base = '';

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'dojang-tsa-'));
    data = join(tmp, 'ledger');
    await writeFile(join(tmp, 'tsa.cnf'), TSA_CNF);
    await writeFile(join(tmp, 'serial'), '01\n');
    // A CA (EC P-256) and a TSA (EC P-256, critical extendedKeyUsage timeStamping).
    for (const args of [
      ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=dojang system test CA', '-config', 'tsa.cnf', '-extensions', 'ca_ext'],
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'tsa.key', '-out', 'tsa.csr', '-subj', '/CN=dojang system test TSA'],
      ['x509', '-req', '-in', 'tsa.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'tsa.pem', '-days', '30', '-extfile', 'tsa.cnf', '-extensions', 'tsa_ext'],
    ]) {
      const r = openssl(tmp, args);
      expect(r.status, r.stderr).toBe(0);
    }
    // The TSA: each application/timestamp-query body goes through `openssl ts -reply`.
    let n = 0;
    tsaServer = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        requests++;
        if (req.method !== 'POST' || req.headers['content-type'] !== 'application/timestamp-query') {
          res.writeHead(415).end();
          return;
        }
        const k = ++n;
        try {
          await writeFile(join(tmp, `q${k}.tsq`), Buffer.concat(chunks));
          await run('openssl', ['ts', '-reply', '-queryfile', `q${k}.tsq`, '-inkey', 'tsa.key', '-signer', 'tsa.pem', '-config', 'tsa.cnf', '-out', `r${k}.tsr`], { cwd: tmp });
          res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(await readFile(join(tmp, `r${k}.tsr`)));
        } catch (e) {
          res.writeHead(500).end(String(e));
        }
      });
    });
    await new Promise<void>((r) => tsaServer.listen(0, '127.0.0.1', () => r()));
    tsaUrl = `http://127.0.0.1:${(tsaServer.address() as AddressInfo).port}/tsa`;

    const init = spawnSync(process.execPath, [CLI, 'init', '--data', data], { encoding: 'utf8' });
    expect(init.status, init.stderr).toBe(0);
    serve = spawn(process.execPath, [CLI, 'serve', '--data', data, '--port', '0', '--tsa', tsaUrl, '--tsa-cert', join(tmp, 'ca.pem')], { stdio: ['ignore', 'pipe', 'pipe'] });
    base = await new Promise<string>((res, rej) => {
      let out = '';
      let err = '';
      serve!.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) res(m[1]);
      });
      serve!.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      serve!.on('exit', (code) => rej(new Error(`serve exited ${code}: ${err}`)));
    });
  });

  afterAll(async () => {
    serve?.kill('SIGTERM');
    tsaServer?.closeAllConnections();
    await new Promise<void>((r) => (tsaServer ? tsaServer.close(() => r()) : r()));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** checkpoints reads the whole history with its tokens. */
  async function history(): Promise<{ size: number; checkpoint: string; timestamp?: string }[]> {
    const j = await (await fetch(`${base}/v1/checkpoints?from=0&limit=1000`)).json();
    return j.checkpoints;
  }

  it('stores tokens that openssl ts -verify accepts, every one', async () => {
    const keys = await loadKeys(data);
    for (let i = 0; i < 6; i++) {
      const body = encodeEvent({ type: 'issuer.register', issuer: ed25519PublicKey(randomBytes(32)), name: `TSA test office ${i}`, docTypes: ['kr.gov.resident-registration.copy'], time: Math.floor(Date.now() / 1000) }, keys.root!.seed);
      const r = await fetch(`${base}/v1/entries`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: Buffer.from(body) });
      expect(r.status).toBe(201);
      if (i % 2 === 1) await new Promise((res) => setTimeout(res, 300)); // let some sizes be stamped one by one
    }
    const size = (await (await fetch(`${base}/v1/log`)).json()).size as number;
    const end = Date.now() + 60_000;
    while ((await history()).find((c) => c.size === size)?.timestamp === undefined) {
      if (Date.now() > end) throw new Error('no token for the latest size in 60 s');
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(requests).toBeGreaterThan(0);
    const stamped = (await history()).filter((c) => c.timestamp !== undefined);
    expect(stamped.length).toBeGreaterThanOrEqual(2);
    for (const c of stamped) {
      const token = fromBase64(c.timestamp!);
      const served = new Uint8Array(await (await fetch(`${base}/v1/timestamp/${c.size}`)).arrayBuffer());
      expect(served).toEqual(token);
      const file = join(tmp, `token-${c.size}.der`);
      await writeFile(file, token);
      const digest = createHash('sha256').update(parseNote(new TextEncoder().encode(c.checkpoint)).text).digest('hex');
      const v = openssl(tmp, ['ts', '-verify', '-digest', digest, '-in', file, '-token_in', '-CAfile', 'ca.pem']);
      expect(`${v.stdout}${v.stderr}`, `size ${c.size}`).toMatch(/Verification: OK/);
      // and openssl refuses it for another checkpoint's digest
      const other = openssl(tmp, ['ts', '-verify', '-digest', createHash('sha256').update('another checkpoint\n').digest('hex'), '-in', file, '-token_in', '-CAfile', 'ca.pem']);
      expect(`${other.stdout}${other.stderr}`).not.toMatch(/Verification: OK/);
    }
  });

  it('dojang audit --tsa-cert verifies every token, and names the size of one filed under another', async () => {
    const n = (await history()).filter((c) => c.timestamp !== undefined).length;
    const ok = spawnSync(process.execPath, [CLI, 'audit', '--url', base, '--tsa-cert', join(tmp, 'ca.pem')], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`${n} timestamp tokens verified`);
    const wrongCa = spawnSync(process.execPath, [CLI, 'audit', '--url', base, '--tsa-cert', join(tmp, 'tsa.pem')], { encoding: 'utf8' });
    expect(wrongCa.status, wrongCa.stderr).toBe(0); // the TSA certificate itself is trusted too

    // Tamper in the store (the server stopped: LevelDB admits one process).
    const exited = new Promise((r) => serve!.once('exit', r));
    serve!.kill('SIGTERM');
    await exited;
    serve = undefined;
    const store = new LevelStore(join(data, 'db'));
    await store.open();
    const annexes = await store.readAnnexes('timestamp', 0, 100);
    const [a, b] = [annexes[annexes.length - 2], annexes[annexes.length - 1]];
    await store.putAnnex('timestamp', b.size, a.bytes);
    await store.close();
    const bad = spawnSync(process.execPath, [CLI, 'audit', '--data', data, '--tsa-cert', join(tmp, 'ca.pem')], { encoding: 'utf8' });
    expect(bad.status).toBe(3);
    expect(bad.stderr).toContain(`checkpoint ${b.size}`);
    expect(bad.stderr).toMatch(/BAD_SIGNATURE.*timestamp token/);
  });
});
