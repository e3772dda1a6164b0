import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { leafHash } from '../../src/core/merkle.js';
import { LevelStore } from '../../src/storage/level.js';
import { LogBuilder, storeConformance } from './conformance.js';

const dirs: string[] = [];

async function freshDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'dojang-level-'));
  dirs.push(d);
  return d;
}

afterEach(async () => {
  vi.restoreAllMocks();
  while (dirs.length > 0) await rm(dirs.pop()!, { recursive: true, force: true });
});

storeConformance('LevelStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dojang-level-'));
  const store = new LevelStore(dir);
  await store.open();
  return {
    store,
    reopen: async () => {
      const s = new LevelStore(dir);
      await s.open();
      return s;
    },
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('LevelStore (LevelDB only)', () => {
  it('is single-process, and touches no disk before open()', async () => {
    const dir = join(await freshDir(), 'ledger');
    const store = new LevelStore(dir);
    expect(store.supports).toEqual({ multiProcess: false });
    await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(dir)).toBe(false);
    await store.close();
    expect(existsSync(dir)).toBe(false);
  });

  it('reopens at once after close, even when close is not awaited', async () => {
    const dir = await freshDir();
    const store = new LevelStore(dir);
    await store.open();
    const log = new LogBuilder(4);
    await log.append(store, 3);
    void store.close();
    await store.open();
    try {
      expect((await store.readHead())!.size).toBe(3);
    } finally {
      await store.close();
    }
  });

  it('lets writes called before close() finish and persist; refuses calls made after', async () => {
    const dir = await freshDir();
    const store = new LevelStore(dir);
    await store.open();
    const log = new LogBuilder(9);
    await log.append(store, 2);
    const a = log.batch(3);
    log.commit(a);
    const b = log.batch(1);
    log.commit(b);
    // One append in progress, one queued behind it, then close() without awaiting either.
    const first = store.append(a);
    const second = store.append(b);
    const closed = store.close();
    const late = store.append(new LogBuilder(10).batch(1)).then(() => 'appended', (e: unknown) => e);
    const lateRead = store.readHead().then(() => 'read', (e: unknown) => e);
    await expect(first).resolves.toBeUndefined();
    await expect(second).resolves.toBeUndefined();
    expect(await late).toMatchObject({ name: 'LedgerError', code: 'UNAVAILABLE' });
    expect(await lateRead).toMatchObject({ name: 'LedgerError', code: 'UNAVAILABLE' });
    await closed;

    // Also once the write is under way (past the size check, inside LevelDB), not only queued.
    await store.open();
    const c = log.batch(5);
    log.commit(c);
    const third = store.append(c);
    await new Promise((r) => setImmediate(r));
    await Promise.all([store.close(), expect(third).resolves.toBeUndefined()]);

    const again = new LevelStore(dir);
    await again.open();
    try {
      expect(await again.readHead()).toEqual({ size: 11, checkpoint: log.headNote });
      expect(await again.readEntries(0, 20)).toEqual(log.entries);
      expect((await again.readCheckpoints(0, 10)).map((x) => x.size)).toEqual([2, 5, 6, 11]);
    } finally {
      await again.close();
    }
  });

  it('lays out keys as docs/spec.md §8 says', async () => {
    const dir = await freshDir();
    const store = new LevelStore(dir);
    await store.open();
    const log = new LogBuilder(1);
    await log.append(store, 2);
    await log.append(store, 1);
    await store.close();

    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    try {
      const rows = await db.iterator().all();
      const keys = rows.map(([k]) => hex(k));
      const u64 = (n: number) => n.toString(16).padStart(16, '0');
      const expected = [
        '00',
        '01',
        ...[0, 1, 2].map((i) => '02' + u64(i)),
        ...[0, 1, 2, 3].map((i) => '03' + u64(i)),
        ...log.leaves.map((l) => '04' + hex(l)).sort(),
        '05' + u64(2),
        '05' + u64(3),
      ];
      expect(keys).toEqual(expected);
      const value = (k: string) => rows.find(([key]) => hex(key) === k)![1];
      expect(new TextDecoder().decode(value('00'))).toBe('dojang-level/1');
      expect(hex(value('01'))).toBe(u64(3) + hex(log.headNote));
      expect(hex(value('02' + u64(1)))).toBe(hex(log.entries[1]));
      expect(hex(value('03' + u64(2)))).toBe(hex(log.hashes[2]));
      expect(hex(value('04' + hex(log.leaves[2])))).toBe(u64(2));
      expect(hex(value('05' + u64(2)))).toBe(hex(log.checkpoints[0].checkpoint));
    } finally {
      await db.close();
    }
  });

  it('lays out the state index as 0x06 ‖ key → value, deletes leaving no record (docs/spec.md §8.4)', async () => {
    const dir = await freshDir();
    const store = new LevelStore(dir);
    await store.open();
    const log = new LogBuilder(5);
    const key = (s: string) => new TextEncoder().encode(s);
    await log.append(store, 1, {
      state: [
        { key: key('b'), value: key('1') },
        { key: key('a'), value: new Uint8Array(0) },
        { key: key('gone'), value: key('x') },
        { key: new Uint8Array([0xff, 0]), value: key('2') },
      ],
    });
    await log.append(store, 1, { state: [{ key: key('gone'), value: null }, { key: key('b'), value: key('3') }] });
    await store.close();

    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    try {
      const rows = await db.iterator({ gte: new Uint8Array([6]) }).all();
      expect(rows.map(([k, v]) => [hex(k), hex(v)])).toEqual([
        ['06' + hex(key('a')), ''],
        ['06' + hex(key('b')), hex(key('3'))],
        ['06ff00', hex(key('2'))],
      ]);
    } finally {
      await db.close();
    }
  });

  it('reads any number of state keys with one LevelDB getMany', async () => {
    const dir = await freshDir();
    const store = new LevelStore(dir);
    await store.open();
    try {
      const log = new LogBuilder(6);
      const keys = Array.from({ length: 300 }, (_, i) => new TextEncoder().encode(`cert/${i}`));
      await log.append(store, 2, { state: keys.filter((_, i) => i % 2 === 0).map((key) => ({ key, value: key })) });
      const getMany = vi.spyOn(Level.prototype, 'getMany');
      const get = vi.spyOn(Level.prototype, 'get');
      const got = await store.readState(keys);
      expect(getMany).toHaveBeenCalledTimes(1);
      expect(get).not.toHaveBeenCalled();
      expect(got.map((v, i) => (v === undefined ? undefined : hex(v)))).toEqual(keys.map((k, i) => (i % 2 === 0 ? hex(k) : undefined)));
      expect(await store.readState([])).toEqual([]);
      expect(getMany).toHaveBeenCalledTimes(1); // no keys, no round trip
    } finally {
      await store.close();
    }
  });

  it('applies no state when the LevelDB write of an append fails (UNAVAILABLE), and appends after it', async () => {
    const dir = await freshDir();
    const store = new LevelStore(dir);
    await store.open();
    try {
      const log = new LogBuilder(7);
      const a = new TextEncoder().encode('a');
      await log.append(store, 2, { state: [{ key: a, value: a }] });
      const batch = Level.prototype.batch;
      vi.spyOn(Level.prototype, 'batch').mockImplementationOnce(function (this: Level<Uint8Array, Uint8Array>) {
        const chained = (batch as () => ReturnType<Level<Uint8Array, Uint8Array>['batch']>).call(this);
        chained.write = async () => {
          await chained.close();
          throw new Error('injected: disk full');
        };
        return chained;
      } as never);
      const failed = log.batch(3, { state: [{ key: a, value: null }, { key: new TextEncoder().encode('b'), value: a }] });
      await expect(store.append(failed)).rejects.toMatchObject({ name: 'LedgerError', code: 'UNAVAILABLE' });
      expect((await store.readHead())!.size).toBe(2);
      expect((await store.readState([a, new TextEncoder().encode('b')])).map((v) => v && hex(v))).toEqual([hex(a), undefined]);
      await log.append(store, 1, { state: [{ key: a, value: null }] });
      expect(await store.readState([a])).toEqual([undefined]);
      expect((await store.readHead())!.size).toBe(3);
    } finally {
      await store.close();
    }
  });

  it('persists across close and open of the same instance', async () => {
    const dir = await freshDir();
    const store = new LevelStore(dir);
    await store.open();
    const log = new LogBuilder(2);
    await log.append(store, 5);
    await store.close();
    await store.open();
    try {
      expect(await store.readHead()).toEqual({ size: 5, checkpoint: log.headNote });
      expect(await store.readEntries(0, 10)).toEqual(log.entries);
      await log.append(store, 3);
      expect((await store.readHead())!.size).toBe(8);
      expect(await store.findLeaf(leafHash(log.entries[6]))).toBe(6);
    } finally {
      await store.close();
    }
  });

  it('refuses a second opener in this process with UNAVAILABLE', async () => {
    const dir = await freshDir();
    const a = new LevelStore(dir);
    await a.open();
    try {
      const b = new LevelStore(dir);
      await expect(b.open()).rejects.toMatchObject({ name: 'LedgerError', code: 'UNAVAILABLE', message: expect.stringMatching(/in use/) });
      await expect(b.readHead()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      await b.close();
    } finally {
      await a.close();
    }
  });

  it('refuses to open a directory another process holds, with UNAVAILABLE', async () => {
    const dir = await freshDir();
    // The other process opens the directory with LevelDB directly and holds it.
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { Level } from 'level';
         const db = new Level(process.argv[1]);
         await db.open();
         process.stdout.write('ready\\n');
         process.stdin.on('data', () => {});
         process.stdin.on('end', async () => { await db.close(); process.exit(0); });`,
        dir,
      ],
      { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.on('error', reject);
        holder.on('exit', (code) => reject(new Error(`holder exited early (${code})`)));
        holder.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) resolve();
        });
      });
      const store = new LevelStore(dir);
      const err = await store.open().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: 'LedgerError', code: 'UNAVAILABLE', message: expect.stringMatching(/in use/) });
    } finally {
      holder.removeAllListeners('exit');
      const exited = new Promise((r) => holder.once('exit', r));
      holder.stdin!.end(); // the holder closes its database and exits
      await exited;
    }
    // Once the other process is gone, the directory opens.
    const store = new LevelStore(dir);
    await store.open();
    expect(await store.readHead()).toBeUndefined();
    await store.close();
  });

  it('does not create a missing directory when createIfMissing is false', async () => {
    const dir = join(await freshDir(), 'absent');
    const store = new LevelStore(dir, { createIfMissing: false });
    await expect(store.open()).rejects.toMatchObject({ name: 'LedgerError', code: 'UNAVAILABLE' });
  });

  it('refuses a LevelDB directory that is not a dojang ledger with UNSUPPORTED', async () => {
    const dir = await freshDir();
    const db = new Level(dir);
    await db.put('some', 'thing');
    await db.close();
    await expect(new LevelStore(dir).open()).rejects.toMatchObject({ name: 'LedgerError', code: 'UNSUPPORTED' });

    const dir2 = await freshDir();
    const db2 = new Level<Uint8Array, Uint8Array>(dir2, { keyEncoding: 'view', valueEncoding: 'view' });
    await db2.put(new Uint8Array([0]), new TextEncoder().encode('dojang-level/2'));
    await db2.close();
    await expect(new LevelStore(dir2).open()).rejects.toMatchObject({ name: 'LedgerError', code: 'UNSUPPORTED' });
  });

  it('serialises pipelined appends in call order', async () => {
    const dir = await freshDir();
    const store = new LevelStore(dir);
    await store.open();
    try {
      const log = new LogBuilder(3);
      const batches = [];
      for (const n of [1, 4, 7, 2]) {
        const b = log.batch(n);
        log.commit(b);
        batches.push(b);
      }
      await Promise.all(batches.map((b) => store.append(b)));
      expect((await store.readHead())!.size).toBe(14);
      expect(await store.readEntries(0, 20)).toEqual(log.entries);
    } finally {
      await store.close();
    }
  });
});

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
