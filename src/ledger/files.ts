/**
 * Files written whole or not at all: to a temporary name beside the target, synced, then
 * renamed (or linked) into place, and the directory synced, so that a crash leaves the
 * old file or the new one, never a torn one.
 */
import { link, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { syncDir } from './guard.js';

async function writeTemp(path: string, bytes: Uint8Array, mode: number): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const f = await open(tmp, 'wx', mode);
  try {
    await f.writeFile(bytes);
    await f.sync();
  } catch (e) {
    await f.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await f.close();
  return tmp;
}

/** writeFileAtomic writes `path` (creating its directory), replacing any file there. */
export async function writeFileAtomic(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await rename(await writeTemp(path, bytes, mode), path);
  await syncDir(dirname(path));
}

/** createFileAtomic writes `path` only if there is none: a link, not a rename, never replaces a file (EEXIST). */
export async function createFileAtomic(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const tmp = await writeTemp(path, bytes, mode);
  try {
    await link(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
  await syncDir(dirname(path));
}
