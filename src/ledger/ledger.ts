/**
 * Ledger ties a store, the keys and the sequencer together, and answers the reads the
 * API serves: tiles, entry bundles, proofs and the checkpoint history (spec §6–§8).
 * Proofs come from stored hashes through a bounded cache, never from an in-memory
 * copy of the tree, so memory stays flat as the log grows.
 */
import { LedgerError } from '../core/errors.js';

import { proveConsistency, proveInclusion, treeHash } from '../core/merkle.js';
import { formatVerifierKey, ed25519Signer, type NoteVerifier, parseVerifierKey } from '../core/note.js';
import { cosignatureSigner } from '../core/cosignature.js';
import { encodeEntryBundle, tileHashIndices, TILE_WIDTH } from '../core/tiles.js';
import { formatProofBundle } from '../core/proof-bundle.js';
import { decodeEntry, genesisBody, parseGenesis, signEntry, type Genesis } from '../core/entry.js';
import { isLedgerError } from '../core/errors.js';
import type { LedgerStore, StoredCheckpoint } from '../storage/store.js';
import type { LogKeys } from './keyfiles.js';
import { HashCache } from './hash-cache.js';
import { Sequencer, type Admit, type CheckpointGuard, type Clock, type Head, type Receipt, type SequencerOptions } from './sequencer.js';

export interface LedgerOptions {
  store: LedgerStore;
  keys: LogKeys;
  /** Keeps the last signed checkpoint outside the store (fork protection, spec §8.2). */
  guard?: CheckpointGuard;
  clock?: Clock;
  admit?: Admit;
  sequencer?: Pick<SequencerOptions, 'maxBatch' | 'maxDelayMs' | 'maxQueue' | 'recosignMs'>;
  /** Capacity of the stored-hash cache, in hashes. */
  cacheHashes?: number;
}

export interface PublicKeys {
  readonly origin: string;
  readonly logKey: string;
  readonly timestampKey: string;
  readonly statusKey: string;
  readonly rootKey: string;
}

/** MAX_CHECKPOINTS_PAGE bounds every history read that an HTTP request can cause. */
export const MAX_CHECKPOINTS_PAGE = 1000;

/** DEFAULT_CACHE_HASHES bounds the proof cache: 2^18 hashes (about 40 MiB with overheads). */
export const DEFAULT_CACHE_HASHES = 1 << 18;

export class Ledger {
  readonly cache: HashCache;

  private constructor(
    readonly store: LedgerStore,
    readonly sequencer: Sequencer,
    readonly genesis: Genesis,
    readonly verifiers: { log: NoteVerifier; timestamp: NoteVerifier },
    cacheHashes = DEFAULT_CACHE_HASHES,
  ) {
    this.cache = new HashCache((ix) => store.readHashes(ix), cacheHashes, 4);
  }

  /**
   * create appends the genesis entry to an empty store and returns the open ledger.
   * The root key signs the genesis: `rootSeed` (a development root key) or the
   * keys.root key. Throws CONFLICT if the store is not empty.
   */
  static async create(o: LedgerOptions & { origin: string; rootSeed?: Uint8Array; rootName?: string }): Promise<Ledger> {
    if ((await o.store.readHead()) !== undefined) throw new LedgerError('CONFLICT', 'store already holds a log');
    const { keys } = o;
    if (keys.log.name !== o.origin) throw new RangeError('log key name must be the origin');
    const rootSeed = o.rootSeed ?? keys.root?.seed;
    const rootName = o.rootName ?? keys.root?.name;
    if (rootSeed === undefined || rootName === undefined) throw new RangeError('a root key is needed to sign the genesis entry');
    const root = ed25519Signer(rootName, rootSeed);
    const clock = o.clock ?? Date.now;
    const genesis: Genesis = {
      origin: o.origin,
      ...publicKeysOf(keys, formatVerifierKey(root)),
      time: Math.floor(clock() / 1000),
    };
    const seq = await Sequencer.open(sequencerOptions(o));
    try {
      const r = await seq.add(signEntry('genesis', genesisBody(genesis), rootSeed));
      if (r.index !== 0) throw new LedgerError('STATE_MISMATCH', `genesis landed at index ${r.index}`);
    } finally {
      await seq.close();
    }
    return Ledger.open(o);
  }

  /**
   * open checks the store against the keys (entry 0 must be a genesis entry naming
   * exactly these keys) and the tree against its checkpoint, then starts the
   * sequencer. Throws STATE_MISMATCH or UNAVAILABLE (empty store: run init).
   */
  static async open(o: LedgerOptions): Promise<Ledger> {
    const head = await o.store.readHead();
    if (head === undefined || head.size === 0) throw new LedgerError('UNAVAILABLE', 'the store holds no log: run dojang init');
    const [first] = await o.store.readEntries(0, 1);
    const genesis = parseGenesis(first);
    const expected = publicKeysOf(o.keys, genesis.rootKey);
    for (const k of ['logKey', 'timestampKey', 'statusKey'] as const) {
      if (genesis[k] !== expected[k]) throw new LedgerError('STATE_MISMATCH', `genesis ${k} ${genesis[k]} does not match the key file (${expected[k]})`);
    }
    if (genesis.origin !== o.keys.log.name) throw new LedgerError('STATE_MISMATCH', 'genesis origin does not match the log key name');
    const seq = await Sequencer.open({ ...sequencerOptions(o), admit: admission(genesis.origin, o.admit) });
    const log = parseVerifierKey(genesis.logKey);
    const timestamp = parseVerifierKey(genesis.timestampKey);
    return new Ledger(o.store, seq, genesis, { log, timestamp }, o.cacheHashes);
  }

  get origin(): string {
    return this.genesis.origin;
  }

  get publicKeys(): PublicKeys {
    const g = this.genesis;
    return { origin: g.origin, logKey: g.logKey, timestampKey: g.timestampKey, statusKey: g.statusKey, rootKey: g.rootKey };
  }

  /** head is the latest tree head (the log always has its genesis entry). */
  get head(): Head {
    const h = this.sequencer.head;
    if (h === undefined) throw new LedgerError('UNAVAILABLE', 'ledger has no head');
    return h;
  }

  append(entry: Uint8Array): Promise<Receipt> {
    return this.sequencer.add(entry);
  }

  /** inclusionProof proves entry `index` in the tree of the given size (default: head). */
  async inclusionProof(index: number, size = this.head.size): Promise<Uint8Array[]> {
    checkIndex(index, 'index');
    checkIndex(size, 'size');
    if (size > this.head.size) throw new LedgerError('NOT_FOUND', `tree size ${size} is beyond the current size ${this.head.size}`);
    if (index >= size) throw new LedgerError('NOT_FOUND', `index ${index} is not below tree size ${size}`);
    return proveInclusion(index, size, this.cache.read);
  }

  /** consistencyProof proves the tree of size `from` is a prefix of the tree of size `to`. */
  async consistencyProof(from: number, to: number): Promise<Uint8Array[]> {
    checkIndex(from, 'from');
    checkIndex(to, 'to');
    if (to > this.head.size) throw new LedgerError('NOT_FOUND', `tree size ${to} is beyond the current size ${this.head.size}`);
    if (from > to) throw new LedgerError('BAD_REQUEST', `from ${from} is greater than to ${to}`);
    if (from === 0) throw new LedgerError('BAD_REQUEST', 'a consistency proof needs from >= 1');
    return proveConsistency(from, to, this.cache.read);
  }

  /** rootAt recomputes the root of the tree of a past size from stored hashes. */
  async rootAt(size: number): Promise<Uint8Array> {
    checkIndex(size, 'size');
    if (size > this.head.size) throw new LedgerError('NOT_FOUND', `tree size ${size} is beyond the current size`);
    return treeHash(size, this.cache.read);
  }

  /**
   * proofBundle returns the c2sp.org/tlog-proof@v1 bundle for entry `index` against the
   * latest checkpoint.
   */
  async proofBundle(index: number): Promise<string> {
    const h = this.head;
    const proof = await this.inclusionProof(index, h.size);
    return formatProofBundle({ index, proof, checkpoint: h.checkpoint });
  }

  /**
   * hashTile returns the hash tile at (level, index) of `width` hashes, or undefined if
   * the tree is not that large yet. Tiles are immutable once they exist.
   */
  async hashTile(level: number, index: number, width: number): Promise<Uint8Array | undefined> {
    const needed = (index * TILE_WIDTH + width) * 2 ** (8 * level);
    if (needed > this.head.size) return undefined;
    const hashes = await this.store.readHashes(tileHashIndices({ level, index, width }));
    const out = new Uint8Array(32 * hashes.length);
    hashes.forEach((h, i) => out.set(h, 32 * i));
    return out;
  }

  /** entryBundle returns the entries [256·index, 256·index + width) bundled, or undefined. */
  async entryBundle(index: number, width: number): Promise<Uint8Array | undefined> {
    const start = index * TILE_WIDTH;
    if (start + width > this.head.size) return undefined;
    const entries = await this.store.readEntries(start, start + width);
    if (entries.length !== width) return undefined;
    return encodeEntryBundle(entries);
  }

  async checkpoints(fromSize: number, limit: number): Promise<StoredCheckpoint[]> {
    checkIndex(fromSize, 'from');
    return this.store.readCheckpoints(fromSize, Math.max(1, Math.min(limit, MAX_CHECKPOINTS_PAGE)));
  }

  /** close drains the sequencer and closes the store. */
  async close(): Promise<void> {
    await this.sequencer.close();
    await this.store.close();
  }
}

/** BENCH_ORIGIN_PREFIX: logs whose origin starts so are bench logs (spec §5.2, bench.record). */
export const BENCH_ORIGIN_PREFIX = 'localhost/dojang-bench-';

/**
 * admission is the sequencer's admission rule set: every entry must be a well-formed
 * entry envelope (spec §5.2) — deterministic CBOR, known version, 64-byte signature —
 * of a type this log accepts (a second genesis: CONFLICT; bench.record only in bench
 * logs; anything else: UNSUPPORTED until its rules exist); then the caller's rules, if
 * any, judge what passed, at the batch time.
 */
export function admission(origin: string, rules?: Admit): Admit {
  const bench = origin.startsWith(BENCH_ORIGIN_PREFIX);
  return async (entries, time) => {
    const out: (LedgerError | undefined)[] = entries.map((e) => {
      try {
        const { type } = decodeEntry(e);
        if (type === 'genesis') return new LedgerError('CONFLICT', 'the log already has its genesis entry');
        if (type === 'bench.record' && bench) return undefined;
        return new LedgerError('UNSUPPORTED', `this log does not accept entries of type ${type}`);
      } catch (err) {
        if (isLedgerError(err)) return err;
        return new LedgerError('MALFORMED', `entry does not decode: ${(err as Error).message}`);
      }
    });
    if (rules === undefined) return out;
    const passed = out.flatMap((v, i) => (v === undefined ? [i] : []));
    const verdicts = await rules(passed.map((i) => entries[i]), time);
    passed.forEach((i, k) => (out[i] = verdicts[k]));
    return out;
  };
}

function sequencerOptions(o: LedgerOptions): SequencerOptions {
  const { keys } = o;
  return {
    store: o.store,
    origin: keys.log.name,
    logSigner: ed25519Signer(keys.log.name, keys.log.seed),
    timestampSigner: cosignatureSigner(keys.timestamp.name, keys.timestamp.seed, () => Math.floor((o.clock ?? Date.now)() / 1000)),
    guard: o.guard,
    clock: o.clock,
    admit: o.admit,
    ...o.sequencer,
  };
}

function publicKeysOf(keys: LogKeys, rootKey: string): Omit<PublicKeys, 'origin'> {
  return {
    logKey: formatVerifierKey({ name: keys.log.name, type: 0x01, publicKey: keys.log.publicKey }),
    timestampKey: formatVerifierKey({ name: keys.timestamp.name, type: 0x04, publicKey: keys.timestamp.publicKey }),
    statusKey: formatVerifierKey({ name: keys.status.name, type: 0x01, publicKey: keys.status.publicKey }),
    rootKey,
  };
}

function checkIndex(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new LedgerError('BAD_REQUEST', `${what} must be a non-negative integer`);
}

