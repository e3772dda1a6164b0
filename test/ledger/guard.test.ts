import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileGuard, SLOT_SIZE } from '../../src/ledger/guard.js';
import { utf8 } from '../../src/core/bytes.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const note = (n: number) => utf8(`example.com/log\n${n}\nroot${n}\n\n— sig\n`);

describe('FileGuard', () => {
  it('has nothing before the first save, then returns the latest checkpoint, across instances', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dojang-guard-'));
    const g = FileGuard.inDir(dir);
    expect(await g.load()).toBeUndefined();
    for (let i = 1; i <= 5; i++) await g.save(note(i));
    await g.close();
    expect(await FileGuard.inDir(dir).load()).toEqual(note(5));
    const g2 = FileGuard.inDir(dir);
    await g2.load();
    await g2.save(note(6)); // continues the sequence, overwriting the older slot
    expect(await FileGuard.inDir(dir).load()).toEqual(note(6));
    await g2.close();
  });

  it('falls back to the other slot when the newer write was torn', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dojang-guard-'));
    const g = FileGuard.inDir(dir);
    await g.save(note(1)); // slot 1
    await g.save(note(2)); // slot 0
    await g.close();
    // Tear the newest slot (seq 2, slot 0): flip a byte of its note.
    const fh = await open(join(dir, 'last-checkpoint'), 'r+');
    await fh.write(new Uint8Array([0x58]), 0, 1, 48 + 3);
    await fh.close();
    expect(await FileGuard.inDir(dir).load()).toEqual(note(1));
  });

  it('refuses a file with no valid slot, and a checkpoint too large for a slot', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dojang-guard-'));
    await writeFile(join(dir, 'last-checkpoint'), new Uint8Array(2 * SLOT_SIZE).fill(7));
    await expect(FileGuard.inDir(dir).load()).rejects.toMatchObject({ code: 'STATE_MISMATCH' });
    const g = new FileGuard(join(dir, 'other'));
    await expect(g.save(new Uint8Array(SLOT_SIZE))).rejects.toThrow(RangeError);
    expect((await readFile(join(dir, 'last-checkpoint'))).length).toBe(2 * SLOT_SIZE);
  });
});
