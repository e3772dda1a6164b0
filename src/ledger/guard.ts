/**
 * FileGuard keeps the last checkpoint a log signed in a file outside its store
 * (DIR/last-checkpoint, spec §8.1), so that a store rolled back to an older state — a
 * restored backup, a lost disk — is detected at start instead of being extended into a
 * fork (spec §8.2).
 *
 * The file has two fixed slots that are written in turn, each
 *
 *   "DJG1" ‖ u64be(sequence) ‖ u32be(length) ‖ SHA-256(sequence ‖ length ‖ note) ‖ note
 *
 * padded to SLOT_SIZE bytes. A save writes the older slot in place and fdatasyncs: one
 * small write and one sync per batch, no rename. A write torn by a crash fails its
 * checksum, and the other slot — the checkpoint before, which is all that can have been
 * acknowledged — is read instead.
 */
import { open, rename, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256 } from '../core/crypto.js';
import { concatBytes, equalBytes, u64be } from '../core/bytes.js';
import { LedgerError } from '../core/errors.js';
import type { CheckpointGuard } from './sequencer.js';

const MAGIC = new Uint8Array([0x44, 0x4a, 0x47, 0x31]); // "DJG1"
const HEADER = 4 + 8 + 4 + 32;
export const SLOT_SIZE = 16384;

interface Slot {
  seq: number;
  note: Uint8Array;
}

export class FileGuard implements CheckpointGuard {
  private fh: FileHandle | undefined;
  private seq = 0;

  constructor(private readonly path: string) {}

  static inDir(dir: string): FileGuard {
    return new FileGuard(join(dir, 'last-checkpoint'));
  }

  async load(): Promise<Uint8Array | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      const buf = new Uint8Array(2 * SLOT_SIZE);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      const slots = [parseSlot(buf.subarray(0, Math.min(bytesRead, SLOT_SIZE))), parseSlot(buf.subarray(SLOT_SIZE, Math.max(SLOT_SIZE, bytesRead)))];
      const valid = slots.filter((s): s is Slot => s !== undefined).sort((a, b) => b.seq - a.seq);
      if (valid.length === 0) throw new LedgerError('STATE_MISMATCH', `${this.path} holds no valid checkpoint`);
      this.seq = valid[0].seq;
      return valid[0].note;
    } finally {
      await fh.close();
    }
  }

  async save(checkpoint: Uint8Array): Promise<void> {
    if (checkpoint.length > SLOT_SIZE - HEADER) throw new RangeError(`checkpoint of ${checkpoint.length} bytes does not fit a guard slot`);
    if (this.fh === undefined) await this.openForWrite();
    const seq = ++this.seq;
    const slot = new Uint8Array(SLOT_SIZE);
    const head = concatBytes(u64be(seq), u32be(checkpoint.length));
    slot.set(MAGIC, 0);
    slot.set(head, 4);
    slot.set(sha256(head, checkpoint), 16);
    slot.set(checkpoint, HEADER);
    await this.fh!.write(slot, 0, SLOT_SIZE, (seq % 2) * SLOT_SIZE);
    await this.fh!.datasync();
  }

  /** close releases the file handle (the guard reopens it on the next save). */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  private async openForWrite(): Promise<void> {
    try {
      this.fh = await open(this.path, 'r+');
      if (this.seq === 0) await this.load();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // First save: create the file full-size under a temporary name, then rename.
      const tmp = `${this.path}.tmp`;
      const fh = await open(tmp, 'w', 0o644);
      await fh.write(new Uint8Array(2 * SLOT_SIZE), 0, 2 * SLOT_SIZE, 0);
      await fh.sync();
      await fh.close();
      await rename(tmp, this.path);
      await syncDir(dirname(this.path));
      this.fh = await open(this.path, 'r+');
    }
  }
}

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function parseSlot(b: Uint8Array): Slot | undefined {
  if (b.length < HEADER || !equalBytes(b.subarray(0, 4), MAGIC)) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const seq = Number(dv.getBigUint64(4));
  const len = dv.getUint32(12);
  if (seq === 0 || len > SLOT_SIZE - HEADER || HEADER + len > b.length) return undefined;
  const note = b.slice(HEADER, HEADER + len);
  if (!equalBytes(sha256(b.subarray(4, 16), note), b.subarray(16, 48))) return undefined;
  return { seq, note };
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
