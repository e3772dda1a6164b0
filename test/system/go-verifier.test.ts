/**
 * The outside verifier (scripts/go-verify: Go's golang.org/x/mod/sumdb/tlog and note,
 * from Debian) against a real dojang ledger of at least 100,000 entries.
 *
 * 1. Builds the verifier (scripts/go-verify.sh) and runs its --self-test: logs built by
 *    x/mod itself must pass, and every listed corruption must fail for its reason.
 * 2. Fills a ledger with `dojang bench --data DIR --entries 100000`, serves it with
 *    `dojang serve --data DIR --port 0`, and runs go-verify with the vkeys of /v1/log:
 *    checkpoint signature and cosignature, every tile, every entry bundle, 64 inclusion
 *    proofs, the checkpoint history and its consistency proofs. Exit 0 required.
 * 3. Negative cases: a wrong log key, a wrong timestamp key, and a proxy in front of the
 *    server that flips one byte of a hash tile or of an entry bundle, or changes one
 *    hash of an inclusion or consistency proof. Each must exit non-zero with its reason.
 *
 * Needs the Debian packages of scripts/install-system-deps.sh (golang-go,
 * golang-golang-x-mod-dev) and a built dist/ (`npm run test:system` builds it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'dist/cli/main.js');
const BUILD = join(ROOT, 'scripts/go-verify.sh');
const ENTRIES = 100_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** run executes a command to completion (bounded by timeoutMs) and collects its output. */
function run(cmd: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

/** vkeyFor makes a fresh Ed25519 vkey `name+hex8+base64(type ‖ pub)` (c2sp.org/signed-note). */
function vkeyFor(name: string, type: 0x01 | 0x04): string {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  const raw = Buffer.concat([Buffer.from([type]), Buffer.from(jwk.x as string, 'base64url')]);
  const id = createHash('sha256').update(name).update('\n').update(raw).digest().subarray(0, 4);
  return `${name}+${id.toString('hex')}+${raw.toString('base64')}`;
}

/** tileCount is the number of hash tiles of a tree of n leaves (c2sp.org/tlog-tiles). */
function tileCount(n: number): number {
  let count = 0;
  for (let l = 0; Math.floor(n / 256 ** l) > 0; l++) {
    const hashes = Math.floor(n / 256 ** l);
    count += Math.floor(hashes / 256) + (hashes % 256 ? 1 : 0);
  }
  return count;
}

describe('go-verify, the outside verifier on x/mod sumdb/tlog and note', () => {
  let bin = '';

  beforeAll(async () => {
    const b = await run('bash', [BUILD], 300_000);
    if (b.code !== 0) throw new Error(`scripts/go-verify.sh failed (${b.code}): ${b.stderr.trim()}`);
    bin = b.stdout.trim().split('\n').pop() ?? '';
  });

  it('passes its self-test: x/mod-built logs verify, each corruption fails for its reason', async () => {
    const r = await run(bin, ['--self-test'], 120_000);
    expect(r.stdout).not.toMatch(/^FAIL/m);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^self-test: all \d+ fixture runs and the tile checks behaved$/m);
  });

  describe(`against dojang serve with ${ENTRIES.toLocaleString('en-US')} entries`, () => {
    let dir = '';
    let server: ChildProcess | undefined;
    let url = '';
    let info: { origin: string; logKey: string; timestampKey: string };
    let proxy: Server | undefined;
    let proxyUrl = '';
    let mutate: (path: string, body: Buffer) => Buffer = (_p, b) => b;

    const verify = (base: string, logKey: string, timestampKey: string, extra: string[] = []) =>
      run(bin, ['--url', base, '--log-key', logKey, '--timestamp-key', timestampKey, '--seed', '20240601', ...extra], 240_000);

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'dojang-go-verify-'));
      const bench = await run(process.execPath, [CLI, 'bench', '--data', dir, '--entries', String(ENTRIES), '--json', '--quick'], 600_000);
      if (bench.code !== 0) throw new Error(`dojang bench failed (${bench.code}): ${bench.stderr.trim()}`);

      const s = spawn(process.execPath, [CLI, 'serve', '--data', dir, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      server = s;
      url = await new Promise<string>((res, rej) => {
        let out = '';
        let err = '';
        const timer = setTimeout(() => rej(new Error(`dojang serve did not start in 60 s: ${out}${err}`)), 60_000);
        s.stdout!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            res(m[1]);
          }
        });
        s.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
        s.on('exit', (code) => {
          clearTimeout(timer);
          rej(new Error(`dojang serve exited (${code}) before listening: ${err.trim()}`));
        });
      });
      info = (await (await fetch(`${url}/v1/log`)).json()) as typeof info;

      // A proxy that passes everything through, except what `mutate` changes.
      proxy = createServer((req, res) => {
        void (async () => {
          try {
            const up = await fetch(url + (req.url ?? '/'));
            const body = mutate(req.url ?? '/', Buffer.from(await up.arrayBuffer()));
            res.writeHead(up.status, { 'Content-Type': up.headers.get('content-type') ?? 'application/octet-stream' });
            res.end(body);
          } catch (e) {
            res.writeHead(502).end(String(e));
          }
        })();
      });
      await new Promise<void>((res) => proxy!.listen(0, '127.0.0.1', () => res()));
      proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      if (proxy) await new Promise<void>((res) => proxy!.close(() => res()));
      if (server && server.exitCode === null) {
        const exited = new Promise<void>((res) => server!.once('exit', () => res()));
        server.kill('SIGTERM');
        await Promise.race([exited, new Promise((res) => setTimeout(res, 10_000))]);
        if (server.exitCode === null) server.kill('SIGKILL');
      }
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('verifies the whole ledger: checkpoint, every tile and entry, 64 inclusion proofs, the history', async () => {
      const r = await verify(url, info.logKey, info.timestampKey, ['--proofs', '64', '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const s = JSON.parse(r.stdout.trim()) as Record<string, number | string | boolean>;
      console.info(`go-verify: ${r.stdout.trim()}`);
      expect(s.ok).toBe(true);
      expect(s.origin).toBe(info.origin);
      const size = s.size as number;
      expect(size).toBeGreaterThanOrEqual(ENTRIES);
      expect(s.entries).toBe(size);
      expect(s.tiles).toBe(tileCount(size));
      expect(s.proofs).toBe(64);
      expect(s.history as number).toBeGreaterThanOrEqual(1);
      expect(s.consecutive as number).toBeGreaterThan(0);
      expect(s.consecutive).toBe(Math.min(s.consecutiveTotal as number, 2000));
      expect(s.toLatest).toBe(Math.min(s.toLatestTotal as number, 2000));
    });

    it('the proxy alone changes nothing', async () => {
      mutate = (_p, b) => b;
      const r = await verify(proxyUrl, info.logKey, info.timestampKey, ['--proofs', '8']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^go-verify: ok: /);
    });

    it('fails with a wrong log key', async () => {
      const r = await verify(url, vkeyFor(info.origin, 0x01), info.timestampKey);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^go-verify: FAIL: checkpoint: checkpoint has no signature by log key/);
    });

    it('fails with a wrong timestamp key', async () => {
      const r = await verify(url, info.logKey, vkeyFor(info.timestampKey.split('+')[0], 0x04));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no cosignature line from timestamp key/);
    });

    it('fails when one byte of a hash tile is flipped', async () => {
      mutate = (p, b) => (p === '/tile/0/100' ? flipLast(b) : b);
      const r = await verify(proxyUrl, info.logKey, info.timestampKey);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/FAIL: tiles: .*(downloaded inconsistent tile|\/tile\/0\/100 does not match its parent tile)/);
    });

    it('fails when one byte of an entry bundle is flipped', async () => {
      mutate = (p, b) => (p === '/tile/entries/007' ? flipLast(b) : b);
      const r = await verify(proxyUrl, info.logKey, info.timestampKey);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/FAIL: entries: entry \d+ \(\/tile\/entries\/007\): record hash does not match/);
    });

    it('fails when an inclusion proof hash is changed', async () => {
      mutate = (p, b) => {
        if (!/^\/v1\/entries\/\d+\/proof$/.test(p)) return b;
        const lines = b.toString('utf8').split('\n');
        lines[2] = Buffer.alloc(32, 7).toString('base64'); // the first hash after the index line
        return Buffer.from(lines.join('\n'));
      };
      const r = await verify(proxyUrl, info.logKey, info.timestampKey, ['--proofs', '4']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/FAIL: inclusion proofs: .*tlog\.CheckRecord/);
    });

    it('fails when a consistency proof hash is changed', async () => {
      mutate = (p, b) => {
        if (!p.startsWith('/v1/proofs/consistency')) return b;
        const j = JSON.parse(b.toString('utf8')) as { proof: string[] };
        if (j.proof.length > 0) j.proof[0] = Buffer.alloc(32, 9).toString('base64');
        return Buffer.from(JSON.stringify(j));
      };
      const r = await verify(proxyUrl, info.logKey, info.timestampKey, ['--proofs', '4', '--max-consistency', '50']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/FAIL: history: .*tlog\.CheckTree/);
    });

    // Last: it stops the server (a LevelDB ledger is mirrored stopped).
    it('accepts the static mirror of the ledger (dojang mirror, served as plain files), and fails on a flipped byte', async () => {
      const exited = new Promise<void>((res) => server!.once('exit', () => res()));
      server!.kill('SIGTERM');
      await exited;
      const out = join(dir, 'mirror');
      const m = await run(process.execPath, [CLI, 'mirror', '--data', dir, '--to', out, '--json'], 300_000);
      expect(m.code, m.stderr).toBe(0);
      const mirrored = JSON.parse(m.stdout) as { size: number; written: number };
      expect(mirrored.size).toBeGreaterThanOrEqual(ENTRIES);
      let flip: string | undefined;
      const files = createServer((req, res) => {
        void (async () => {
          const path = (req.url ?? '/').split('?')[0];
          if (path.includes('..')) return void res.writeHead(400).end();
          try {
            let body = await readFile(join(out, path));
            if (path === flip) {
              body = Buffer.from(body);
              body[body.length >> 1] ^= 1;
            }
            res.writeHead(200, { 'Content-Type': path === '/checkpoint' ? 'text/plain; charset=utf-8' : 'application/octet-stream' });
            res.end(body);
          } catch {
            res.writeHead(404).end();
          }
        })();
      });
      await new Promise<void>((res) => files.listen(0, '127.0.0.1', () => res()));
      const base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
      try {
        const ok = await verify(base, info.logKey, info.timestampKey, ['--static']);
        expect(ok.code, ok.stderr).toBe(0);
        expect(ok.stdout).toMatch(/^go-verify: ok: /);
        flip = '/tile/0/001';
        const bad = await verify(base, info.logKey, info.timestampKey, ['--static']);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toMatch(/FAIL: tiles: /);
      } finally {
        await new Promise<void>((res) => files.close(() => res()));
      }
    });
  });
});

/** flipLast returns a copy of b with its last byte's low bit flipped. */
function flipLast(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c[c.length - 1] ^= 1;
  return c;
}
