import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { makeLedger, entry, type TestLedger } from '../helpers/ledger.js';
import { createApp } from '../../src/api/app.js';
import { mirror } from '../../src/ledger/mirror.js';
import { runMirror } from '../../src/cli/mirror.js';
import { parseCheckpoint } from '../../src/core/checkpoint.js';
import { parseNote } from '../../src/core/note.js';
import { toBase64 } from '../../src/core/bytes.js';
import { isLedgerError } from '../../src/core/errors.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// The static mirror (issue 6): every file is byte for byte what the API serves at that
// path; runs are incremental and never rewrite a tile; a fork of what it showed is refused.

let t: TestLedger;
let out: string;
let server: Server;
let base: string;

async function files(dir: string): Promise<string[]> {
  const outp: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else outp.push(relative(dir, join(d, e.name)));
    }
  };
  await walk(dir);
  return outp.sort();
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isLedgerError(e) ? e.code : `other: ${(e as Error).message}`;
  }
  return 'ok';
}

const keys = () => ({ logKey: t.ledger.publicKeys.logKey, timestampKey: t.ledger.publicKeys.timestampKey });

beforeAll(async () => {
  t = await makeLedger(); // the bench origin: it takes bench records
  out = await mkdtemp(join(tmpdir(), 'dojang-mirror-'));
  server = createServer(createApp({ ledger: t.ledger }).callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await t.cleanup();
  await rm(out, { recursive: true, force: true });
});

describe('dojang mirror', () => {
  it('writes what the API serves, byte for byte, then only what is new', async () => {
    await Promise.all(Array.from({ length: 600 }, (_, i) => t.ledger.append(entry(i))));
    const first = await mirror(t.ledger.store, out, keys());
    expect(first).toMatchObject({ size: 601, previous: 0, kept: 0 });
    const listed = await files(out);
    // 601 leaves: level-0 tiles 0, 1 (full) and 2.p/89; level-1 tile 0.p/2; the same bundles.
    expect(listed).toEqual(['checkpoint', 'tile/0/000', 'tile/0/001', 'tile/0/002.p/89', 'tile/1/000.p/2', 'tile/entries/000', 'tile/entries/001', 'tile/entries/002.p/89']);
    for (const f of listed) {
      const res = await fetch(`${base}/${f}`, { headers: { 'accept-encoding': 'identity' } });
      expect(res.status, f).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(await readFile(join(out, f))), f).toBe(true);
    }
    const before = await stat(join(out, 'tile/0/000'));

    // Grow past a tile boundary: only the new tiles are written; the old ones stay as they are.
    await Promise.all(Array.from({ length: 200 }, (_, i) => t.ledger.append(entry(1000 + i))));
    const second = await mirror(t.ledger.store, out, keys());
    expect(second).toMatchObject({ size: 801, previous: 601 });
    expect(second.kept).toBe(4); // the full tiles and bundles 0 and 1; the partial ones of size 601 are not in the new layout
    expect(second.written).toBe(5); // tile/0/003.p/33, entries/003.p/33, tile/0/002, entries/002, tile/1/000.p/3
    const after = await stat(join(out, 'tile/0/000'));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(await files(out)).toContain('tile/0/002.p/89'); // partial tiles stay for older checkpoints
    const again = await mirror(t.ledger.store, out, keys());
    expect(again.written).toBe(0);
    expect(parseCheckpoint(parseNote(await readFile(join(out, 'checkpoint'))).text).size).toBe(801);
  });

  it('refuses to publish what does not extend the mirror: a fork, a rollback, another log', async () => {
    const cp = await readFile(join(out, 'checkpoint'));
    const text = parseNote(new Uint8Array(cp)).text;
    const c = parseCheckpoint(text);
    const forge = async (body: string) => writeFile(join(out, 'checkpoint'), `${body}\n— someone AAAA\n`);
    try {
      const root = Uint8Array.from(c.root);
      root[0] ^= 1;
      await forge(`${c.origin}\n700\n${toBase64(root)}\n`); // another tree of size 700
      expect(await codeOf(mirror(t.ledger.store, out, keys()))).toBe('INCONSISTENT');
      await forge(`${c.origin}\n${c.size}\n${toBase64(root)}\n`); // another root at the same size
      expect(await codeOf(mirror(t.ledger.store, out, keys()))).toBe('INCONSISTENT');
      await forge(`${c.origin}\n${c.size + 10}\n${toBase64(c.root)}\n`); // the mirror is ahead: a rollback
      expect(await codeOf(mirror(t.ledger.store, out, keys()))).toBe('INCONSISTENT');
      await forge(`example.com/another-log\n5\n${toBase64(c.root)}\n`);
      expect(await codeOf(mirror(t.ledger.store, out, keys()))).toBe('INCONSISTENT');
    } finally {
      await writeFile(join(out, 'checkpoint'), cp);
    }
    // Keys that did not sign the store's checkpoint: nothing is written.
    const other = await makeLedger();
    try {
      expect(await codeOf(mirror(t.ledger.store, out, { logKey: other.ledger.publicKeys.logKey, timestampKey: other.ledger.publicKeys.timestampKey }))).toMatch(/UNKNOWN_KEY|BAD_SIGNATURE/);
    } finally {
      await other.cleanup();
    }
    expect((await readFile(join(out, 'checkpoint'))).equals(cp)).toBe(true);
  });

  it('runs as dojang mirror on a stopped ledger directory', async () => {
    await t.ledger.append(entry(5000));
    await t.ledger.close();
    try {
      const lines: string[] = [];
      const io = { out: (s: string) => lines.push(s), err: (s: string) => lines.push(s) };
      const args = ['--data', t.dir, '--to', out, '--json', ...(t.storeUrl ? ['--store', t.storeUrl] : [])];
      expect(await runMirror(args, io)).toBe(0);
      expect(JSON.parse(lines[0])).toMatchObject({ size: 802, previous: 801 });
    } finally {
      await t.reopen();
    }
  });
});
