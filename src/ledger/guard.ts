/**
 * FileGuard keeps the last checkpoint a log signed in a file outside its store
 * (DIR/last-checkpoint, spec §8.1), so that a store rolled back to an older state — a
 * restored backup, a lost disk — is detected at start instead of being extended into a
 * fork (spec §8.2). Writes are atomic and durable: temporary file, fsync, rename, fsync
 * of the directory.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CheckpointGuard } from './sequencer.js';

export class FileGuard implements CheckpointGuard {
  constructor(private readonly path: string) {}

  static inDir(dir: string): FileGuard {
    return new FileGuard(join(dir, 'last-checkpoint'));
  }

  async load(): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async save(checkpoint: Uint8Array): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(checkpoint);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    await syncDir(dirname(this.path));
  }
}

/** syncDir fsyncs a directory so that a rename or a new file in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
