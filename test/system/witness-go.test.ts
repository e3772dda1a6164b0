/**
 * The witness and a log made by other software: scripts/go-verify --serve-fixture serves
 * a log whose tree is built by Go's golang.org/x/mod/sumdb/tlog and whose checkpoints
 * are signed by its note package, with consistency proofs from tlog.ProveTree. `dojang
 * witness`, configured with that log's key, cosigns its checkpoints one after another,
 * each with Go's proof from the one before, and refuses a proof with a flipped byte (422).
 * Each cosigned checkpoint is then checked by Go (go-verify --cosigned: the note package
 * for the log's signature, crypto/ed25519 for the cosignature/v1 line), which also
 * refuses one with a flipped bit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openNote, parseVerifierKey } from '../../src/core/note.js';
import { fromBase64, utf8 } from '../../src/core/bytes.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'dist/cli/main.js');
const BUILD = join(ROOT, 'scripts/go-verify.sh');

function started(p: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((res, rej) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => rej(new Error(`${what} did not start in 120 s: ${out}${err}`)), 120_000);
    p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m);
      }
    });
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${what} exited (${code}): ${err.trim()}`));
    });
  });
}

describe("dojang witness cosigns a log built by Go's sumdb tlog and note", () => {
  const children: ChildProcess[] = [];
  let dir = '';
  let fixture = '';
  let logKey = '';
  let witness = '';
  let witnessKey = '';
  let bin = '';

  beforeAll(async () => {
    const b = spawn('bash', [BUILD], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    bin = await new Promise<string>((res, rej) => {
      let out = '';
      b.stdout!.on('data', (d) => (out += d));
      b.on('exit', (code) => (code === 0 ? res(out.trim().split('\n').pop()!) : rej(new Error(`scripts/go-verify.sh failed (${code})`))));
    });
    const f = spawn(bin, ['--serve-fixture', '127.0.0.1:0', '--entries', '3000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(f);
    const m = await started(f, /listening on (http:\/\/\S+) size \d+\nlog-key (\S+)\n/, 'the Go fixture log');
    [fixture, logKey] = [m[1], m[2]];
    dir = await mkdtemp(join(tmpdir(), 'dojang-witness-go-'));
    const w = spawn(process.execPath, [CLI, 'witness', '--data', dir, '--name', 'witness.test/go', '--log', logKey, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(w);
    const wm = await started(w, /witness key (\S+)\n[\s\S]*listening on (http:\/\/\S+)/, 'dojang witness');
    [witnessKey, witness] = [wm[1], wm[2]];
  }, 300_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('cosigns every checkpoint of the Go log in turn, and refuses a broken Go proof', async () => {
    const page = (await (await fetch(`${fixture}/v1/checkpoints?from=0&limit=300`)).json()) as { checkpoints: { size: number; checkpoint: string }[] };
    const cps = page.checkpoints.filter((c) => c.size > 0);
    expect(cps.length).toBeGreaterThan(3);
    const keys = [parseVerifierKey(logKey), parseVerifierKey(witnessKey)];
    let old = 0;
    for (const [i, c] of cps.entries()) {
      let proof: string[] = [];
      if (old > 0 && old < c.size) proof = ((await (await fetch(`${fixture}/v1/proofs/consistency?from=${old}&to=${c.size}`)).json()) as { proof: string[] }).proof;
      if (i === 2) {
        // A flipped byte in Go's proof: 422, and the witness stays where it was.
        const broken = proof.map((h, k) => (k === 0 ? Buffer.from(fromBase64(h).map((x, j) => (j === 0 ? x ^ 1 : x))).toString('base64') : h));
        const r = await fetch(`${witness}/add-checkpoint`, { method: 'POST', body: `old ${old}\n${broken.map((h) => h + '\n').join('')}\n${c.checkpoint}` });
        expect(r.status).toBe(422);
      }
      const r = await fetch(`${witness}/add-checkpoint`, { method: 'POST', body: `old ${old}\n${proof.map((h) => h + '\n').join('')}\n${c.checkpoint}` });
      expect(r.status, `checkpoint of size ${c.size}`).toBe(200);
      // The Go log's signature and our cosignature, together, open under both keys …
      const line = await r.text();
      openNote(utf8(c.checkpoint + line), keys, { requireAll: true });
      // … and Go checks our cosignature on its own.
      const file = join(dir, `cosigned-${c.size}`);
      await writeFile(file, c.checkpoint + line);
      const g = spawnSync(bin, ['--cosigned', file, '--log-key', logKey, '--witness-key', witnessKey], { encoding: 'utf8' });
      expect(g.stderr).toBe('');
      expect(g.stdout).toMatch(new RegExp(`^go-verify: cosigned: \\S+ size ${c.size} by witness\\.test/go at \\d+\\n$`));
      if (i === 1) {
        const sig = Buffer.from(line.trim().split(' ').pop()!, 'base64');
        sig[sig.length - 1] ^= 1;
        await writeFile(file, c.checkpoint + line.replace(line.trim().split(' ').pop()!, sig.toString('base64')));
        const bad = spawnSync(bin, ['--cosigned', file, '--log-key', logKey, '--witness-key', witnessKey], { encoding: 'utf8' });
        expect(bad.status).toBe(1);
        expect(bad.stderr).toMatch(/invalid signature/);
      }
      old = c.size;
    }
  }, 120_000);
});
