/**
 * A rogue operator's log, in memory: it signs checkpoints, proof bundles and status
 * statements with real log, timestamp and status keys over any entries at all, with no
 * rules, and serves itself to the auditor. A verifier must catch what the signatures cannot: an anchored transfer by a
 * non-holder, an issuance of a document type the issuer was not registered for, an
 * issuance after the issuer's retirement.
 */
import { formatCheckpoint } from '../../src/core/checkpoint.js';
import { cosignatureSigner } from '../../src/core/cosignature.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { ed25519Signer, formatVerifierKey, signNote, SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519 } from '../../src/core/note.js';
import { formatProofBundle } from '../../src/core/proof-bundle.js';
import { toBase64, toHex } from '../../src/core/bytes.js';
import type { PresentedStatus } from '../../src/client/presentation.js';
import type { VerifierKeys } from '../../src/client/verify.js';
import { RefTree } from '../reference/merkle-ref.js';
import { genesisBody, signEntry } from '../../src/core/entry.js';
import type { AuditSource } from '../../src/audit/audit.js';

export interface RogueSeeds {
  log: Uint8Array;
  timestamp: Uint8Array;
  status: Uint8Array;
  root: Uint8Array;
}

export class RogueLog {
  readonly entries: Uint8Array[] = [];
  private readonly tree = new RefTree(this.entries);

  /**
   * A rogue log of `origin` whose notes are signed at `time`, with fresh keys or with a
   * real log's (its key files): what a server holding those keys could be made to sign.
   */
  constructor(
    readonly origin: string,
    public time: number,
    readonly seeds: RogueSeeds = { log: randomBytes(32), timestamp: randomBytes(32), status: randomBytes(32), root: randomBytes(32) },
  ) {
    // Entry 0: a real genesis naming these keys, signed by the root key.
    this.add(signEntry('genesis', genesisBody({ origin, ...this.keys, time }), seeds.root));
    this.seal();
  }

  /** Batches sealed so far: the size after each and its time (each gets a history checkpoint). */
  readonly batches: { size: number; time: number }[] = [];

  /** seal ends a batch at the current size, judged at `time` (default this.time). */
  seal(time = this.time): void {
    this.batches.push({ size: this.entries.length, time });
  }

  /**
   * source is the log as an auditor reads it (src/audit): the entries, a history with one
   * checkpoint per sealed batch, the latest checkpoint, consistency proofs.
   */
  source(): AuditSource {
    const note = (b: { size: number; time: number }) => new TextEncoder().encode(this.checkpoint(b.size, b.time));
    return {
      name: `rogue ${this.origin}`,
      latest: async () => note(this.batches[this.batches.length - 1]),
      checkpoints: async (from, limit) => this.batches.filter((b) => b.size >= from).slice(0, limit).map((b) => ({ size: b.size, checkpoint: note(b) })),
      entries: async (start, end) => this.entries.slice(start, Math.min(end, this.batches[this.batches.length - 1].size)),
      consistency: async (from, to) => this.tree.consistency(from, to),
      close: async () => {},
    };
  }

  get keys(): VerifierKeys {
    const v = (name: string, type: number, seed: Uint8Array) => formatVerifierKey({ name, type, publicKey: ed25519PublicKey(seed) });
    return {
      logKey: v(this.origin, SIG_TYPE_ED25519, this.seeds.log),
      timestampKey: v(`${this.origin}/timestamp`, SIG_TYPE_COSIGNATURE_V1, this.seeds.timestamp),
      statusKey: v(`${this.origin}/status`, SIG_TYPE_ED25519, this.seeds.status),
      rootKey: v(`${this.origin}/root`, SIG_TYPE_ED25519, this.seeds.root),
    };
  }

  /** add appends an entry (any bytes) and returns its index. */
  add(entry: Uint8Array): number {
    this.entries.push(entry);
    return this.entries.length - 1;
  }

  /** checkpoint signs the checkpoint of `size` (default: all) with the log key, cosigned at `time` (default this.time). */
  checkpoint(size = this.entries.length, time = this.time): string {
    const text = formatCheckpoint({ origin: this.origin, size, root: this.tree.root(size), extensions: [] });
    const note = signNote(text, [ed25519Signer(this.origin, this.seeds.log), cosignatureSigner(`${this.origin}/timestamp`, this.seeds.timestamp, () => time)]);
    return new TextDecoder().decode(note);
  }

  /** bundle is a tlog-proof@v1 bundle of entry `index` in the checkpoint of `size`. */
  bundle(index: number, size = this.entries.length): string {
    return formatProofBundle({ index, proof: this.tree.inclusion(index, size), checkpoint: new TextEncoder().encode(this.checkpoint(size)) });
  }

  anchored(index: number): { entry: Uint8Array; proof: string } {
    return { entry: this.entries[index], proof: this.bundle(index, index + 1) };
  }

  /** status signs a status statement (spec §8.7) of whatever the rogue chooses to say. */
  status(id: Uint8Array, state: string, events: number[], issuer: number[]): PresentedStatus {
    const size = this.entries.length;
    const text =
      `dojang/v1/status\norigin ${this.origin}\nid ${toHex(id)}\nstate ${state}\nsize ${size}\nroot ${toBase64(this.tree.root(size))}\n` +
      `time ${this.time}\nevents ${events.join(' ')}\nissuer ${issuer.join(' ')}\n`;
    const statement = new TextDecoder().decode(signNote(text, [ed25519Signer(`${this.origin}/status`, this.seeds.status)]));
    const proved = (index: number) => ({ index, entry: this.entries[index], proof: this.tree.inclusion(index, size) });
    return { statement, checkpoint: this.checkpoint(size), events: events.map(proved), issuer: issuer.map(proved) };
  }
}
