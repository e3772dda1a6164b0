/**
 * Ledger ties a store, the keys and the sequencer together, and answers the reads the
 * API serves: tiles, entry bundles, proofs and the checkpoint history (spec §6–§8).
 * Proofs come from stored hashes through a bounded cache, never from an in-memory
 * copy of the tree, so memory stays flat as the log grows.
 */
import { LedgerError } from '../core/errors.js';

import { leafHash, proveConsistency, proveInclusion, treeHash, type HashReader } from '../core/merkle.js';
import { equalBytes, toBase64, toHex } from '../core/bytes.js';
import { formatVerifierKey, ed25519Signer, parseNote, signNote, type NoteSigner, type NoteVerifier, parseVerifierKey } from '../core/note.js';
import { decodeCbor, encodeCbor } from '../core/cbor.js';
import { parseCheckpoint } from '../core/checkpoint.js';
import { cosignatureSigner, cosignedTime } from '../core/cosignature.js';
import { encodeEntryBundle, tileHashIndices, TILE_WIDTH } from '../core/tiles.js';
import { formatProofBundle } from '../core/proof-bundle.js';
import { decodeEntry, genesisBody, parseGenesis, signEntry, type Genesis } from '../core/entry.js';
import { isLedgerError } from '../core/errors.js';
import type { LedgerStore, StoredCheckpoint } from '../storage/store.js';
import type { LogKeys } from './keyfiles.js';
import { HashCache } from './hash-cache.js';
import { CertificateRules, certificateAt, certKey, compromiseAt, doctypeKey, issuerKey, parentKey, revocationRefusal, type CertRecord, type CertState, type DoctypeRecord, type IssuerRecord, type ParentRecord } from './rules.js';
import { VerifyPool } from './verify-pool.js';
import { CERT_ID_BYTES, encodeEvent, isDocType, isEventType, parseEvent, verifyEventSignature, type ParsedEvent } from '../core/events.js';
import { Cluster } from './cluster.js';
import { Publisher, type WitnessStatus } from '../witness/publisher.js';
import type { KnownStatus } from '../client/verify.js';
import { Stamper } from '../timestamp/stamper.js';
import type { TsaClient } from '../timestamp/stamper.js';
import { checkCheckpoint, type Policy } from '../core/policy.js';
import { DEFAULT_MAX_QUEUE, Sequencer, type Admit, type CheckpointGuard, type Clock, type Head, type Receipt, type SequencerOptions, checkStoredHead } from './sequencer.js';

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
  /** Signature-verification worker threads (default: one per core; 0 verifies inline). */
  verifyThreads?: number;
  /** Where a ledger shared by several processes reports its changes of role (spec §8.4b). */
  log?: (message: string) => void;
  /**
   * The log's witness policy (spec §13.5): publish, and acknowledge writes with, only
   * checkpoints whose witness cosignatures meet it. `waitMs` bounds how long a write
   * waits for that (default 25 s).
   */
  witnessing?: { policy: Policy; waitMs?: number };
  /**
   * A time-stamping authority (spec §14.2): after each new checkpoint size this process
   * appends, a token over its text is asked for in the background and kept as the
   * 'timestamp' annex of that size.
   */
  timestamping?: { client: Pick<TsaClient, 'stamp' | 'url'>; minBackoffMs?: number; maxBackoffMs?: number };
}

/** CertificateStatus is the answer of GET /v1/certificates/<id> (spec §8.7). */
export interface CertificateStatus {
  readonly state: CertState;
  /** The signed statement note. */
  readonly statement: Uint8Array;
  /** The checkpoint the statement is bound to. */
  readonly checkpoint: Uint8Array;
  /** The issuance and, if revoked by then, the revocation. */
  readonly events: readonly ProvedEntry[];
  /** The issuer's issuer.register and, by then, its issuer.retire and its lowest issuer.compromise. */
  readonly issuer: readonly ProvedEntry[];
}

/** An entry with its inclusion proof in a status statement's checkpoint. */
export interface ProvedEntry {
  readonly index: number;
  readonly entry: Uint8Array;
  readonly proof: Uint8Array[];
}

/** EntryReceipt is what a writer gets for an acknowledged entry (spec §8.6). */
export interface EntryReceipt {
  readonly index: number;
  readonly leafHash: Uint8Array;
  /** Size of the checkpoint that first covered the entry. */
  readonly size: number;
  /** That checkpoint's cosignature time (the batch time T), Unix seconds. */
  readonly time: number;
  readonly checkpoint: Uint8Array;
  /** c2sp.org/tlog-proof@v1 bundle of the entry against that checkpoint. */
  readonly proof: string;
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

/** Sizes of checkpoint notes already parsed, by note object (receipts of one batch). */
const sizeOfNote = new WeakMap<Uint8Array, number>();

/** DEFAULT_CACHE_HASHES bounds the proof cache: 2^18 hashes (about 40 MiB with overheads). */
export const DEFAULT_CACHE_HASHES = 1 << 18;

export class Ledger {
  private constructor(
    readonly store: LedgerStore,
    private readonly writer: Writer,
    readonly genesis: Genesis,
    readonly verifiers: { log: NoteVerifier; timestamp: NoteVerifier },
    private readonly admission: { rootKey: Uint8Array; pool: VerifyPool },
    private readonly statusSigner: NoteSigner,
    readonly cache: HashCache,
    /** What this process appended: batches, and the tree size after the last one (spec §8.4b). */
    readonly appended: { readonly batches: number; readonly size: number },
    /** With a witness policy: what publishes checkpoints (spec §13.5). */
    private readonly publisher?: Publisher,
    private readonly witnessWaitMs = 25_000,
    /** With a time-stamping authority: what asks it for tokens (spec §14.2). */
    readonly stamper?: Stamper,
  ) {}

  /**
   * create appends the genesis entry to an empty store and returns the open ledger.
   * The root key signs the genesis: `rootSeed` (a development root key) or the
   * keys.root key; it then registers `docTypes` (doctype.register, spec §5.7) with
   * their maximum validity in seconds. Throws CONFLICT if the store is not empty.
   */
  static async create(o: LedgerOptions & { origin: string; rootSeed?: Uint8Array; rootName?: string; docTypes?: readonly { docType: string; maxValidity: number }[] }): Promise<Ledger> {
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
    await o.store.claim?.();
    const seq = await Sequencer.open(sequencerOptions(o));
    try {
      const r = await seq.add(signEntry('genesis', genesisBody(genesis), rootSeed));
      if (r.index !== 0) throw new LedgerError('STATE_MISMATCH', `genesis landed at index ${r.index}`);
    } finally {
      await seq.close();
    }
    const ledger = await Ledger.open(o);
    try {
      const time = Math.floor(clock() / 1000);
      await Promise.all((o.docTypes ?? []).map((d) => ledger.append(encodeEvent({ type: 'doctype.register', docType: d.docType, maxValidity: d.maxValidity, time }, rootSeed))));
    } catch (e) {
      await ledger.close();
      throw e;
    }
    return ledger;
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
    const rootKey = parseVerifierKey(genesis.rootKey).publicKey;
    const log = parseVerifierKey(genesis.logKey);
    const timestamp = parseVerifierKey(genesis.timestampKey);
    // Every term of the sequencer judges with fresh admission state (rules.ts keeps an overlay).
    const appended = { batches: 0, size: 0 };
    let publisher: Publisher | undefined;
    // Only the process whose sequencer appended asks the TSA (spec §14.2).
    const stamper = o.timestamping === undefined ? undefined : new Stamper({ store: o.store, log: o.log, ...o.timestamping });
    const onAppend = (size: number) => {
      appended.batches++;
      appended.size = size;
      publisher?.notify();
      // Under a witness policy the TSA is asked when a checkpoint is published: a token
      // over one that is never published would be stored but never served (spec §14.2).
      if (o.witnessing === undefined) stamper?.notify(size);
    };
    const openSequencer = async () => {
      const term = (await o.store.claim?.()) ?? 0;
      const rules = new CertificateRules(o.store, rootKey);
      const sequencer = await Sequencer.open({ ...sequencerOptions(o), admit: admission({ origin: genesis.origin, rootKey, rules, extra: o.admit }), onAppend });
      return { sequencer, term };
    };
    const cache = new HashCache((ix) => o.store.readHashes(ix), o.cacheHashes ?? DEFAULT_CACHE_HASHES, 4);
    let writer: Writer;
    let self: Ledger | undefined; // for the cluster's receipts, once constructed
    if (o.store.coordinator !== undefined) {
      // Several processes may share this store (spec §8.4b).
      writer = await Cluster.start({
        store: o.store,
        coordinator: o.store.coordinator(),
        origin: genesis.origin,
        verifiers: { log, timestamp },
        readHashes: cache.read,
        openSequencer,
        meta: (w) => (w.verified ? verifiedMeta(w.entry) : undefined),
        encodeReceipt: async (r) => {
          if (self === undefined) throw new LedgerError('UNAVAILABLE', 'the ledger is still opening');
          return encodeReceipt(await self.receipt(r.index, r));
        },
        maxQueue: o.sequencer?.maxQueue ?? DEFAULT_MAX_QUEUE,
        guard: o.guard,
        log: o.log,
      });
    } else writer = singleWriter((await openSequencer()).sequencer);
    if (o.witnessing !== undefined) {
      const { policy } = o.witnessing;
      if (!policy.logs.some((l) => l.origin === genesis.origin && equalBytes(l.key.publicKey, log.publicKey))) {
        await writer.close();
        throw new LedgerError('BAD_REQUEST', `the witness policy does not list this log (${genesis.logKey})`);
      }
      const w = writer;
      const restored = await restoreWitnessed(o.store, policy, { origin: genesis.origin, log, timestamp, readHashes: cache.read }, o.log);
      publisher = new Publisher({
        policy,
        current: () => w.head,
        prove: (a, b) => proveConsistency(a, b, cache.read),
        timeoutMs: 5000,
        log: o.log,
        restored,
        save: (size, checkpoint) => o.store.putAnnex('witnessed', size, checkpoint),
        published: (size) => {
          if (w.sequencer !== undefined) stamper?.notify(size);
        },
      });
      publisher.notify();
      await publisher.settled(); // a first round: publish the current checkpoint if the witnesses agree
    }
    const pool = new VerifyPool({ threads: o.verifyThreads });
    const statusSigner = ed25519Signer(o.keys.status.name, o.keys.status.seed);
    self = new Ledger(o.store, writer, genesis, { log, timestamp }, { rootKey, pool }, statusSigner, cache, appended, publisher, o.witnessing?.waitMs ?? 25_000, stamper);
    if (stamper !== undefined && writer.sequencer !== undefined) {
      // The head this process sequences from (or publishes, under a policy), if the TSA has not stamped it yet (a restart).
      const size = (publisher === undefined ? writer.head?.size : publisher.published?.size) ?? 0;
      if (size > ((await o.store.latestAnnex('timestamp'))?.size ?? 0)) stamper.notify(size);
    }
    return self;
  }

  get origin(): string {
    return this.genesis.origin;
  }

  get publicKeys(): PublicKeys {
    const g = this.genesis;
    return { origin: g.origin, logKey: g.logKey, timestampKey: g.timestampKey, statusKey: g.statusKey, rootKey: g.rootKey };
  }

  /** head is the latest tree head this process serves (the log always has its genesis entry). */
  get head(): Head {
    if (this.publisher !== undefined) {
      // Only checkpoints the witnesses cosigned enough of are served (spec §13.5).
      const p = this.publisher.published;
      if (p === undefined) throw new LedgerError('UNAVAILABLE', `no checkpoint of this log has met its witness policy yet: ${this.publisher.problem ?? ''}`);
      return p;
    }
    const h = this.writer.head;
    if (h === undefined) throw new LedgerError('UNAVAILABLE', 'ledger has no head');
    return h;
  }

  /**
   * role: `single` (the only process of its store), `leader` (sequences for the
   * processes sharing the store) or `follower` (forwards writes to the leader), with the
   * leader's term (spec §8.4b).
   */
  get role(): { role: 'single' | 'leader' | 'follower'; term: number } {
    const w = this.writer;
    if (w instanceof Cluster) return w.leading ? { role: 'leader', term: w.currentTerm } : { role: 'follower', term: 0 };
    return { role: 'single', term: 0 };
  }

  /** sequencer is this process's sequencer while it sequences the log (undefined on a follower). */
  get sequencer(): Sequencer | undefined {
    return this.writer.sequencer;
  }

  /**
   * witnessing: with a witness policy, each witness's last answer, a fork alarm (a
   * witness refusing the log's checkpoints as inconsistent while the quorum is still
   * met) and the answers counted since the start (spec §13.5); undefined without one.
   */
  get witnessing(): { witnesses: WitnessStatus[]; alert: string | undefined; counts: { witness: string; result: string; n: number }[] } | undefined {
    const p = this.publisher;
    if (p === undefined) return undefined;
    return { witnesses: p.witnesses, alert: p.alert, counts: p.counts };
  }

  /** failure says why this process takes no writes, or is undefined when it does. */
  get failure(): string | undefined {
    return this.writer.failure ?? this.publisher?.problem;
  }

  /** Writes waiting: in the sequencer, or forwarded and not yet answered. */
  get queueLength(): number {
    return this.writer.queueLength;
  }

  /**
   * append submits an entry and resolves with its receipt once it is durable and
   * covered by a cosigned checkpoint (spec §8.2). A certificate event is parsed and its
   * signature verified here, on the worker pool, before it is queued, so that the
   * sequencer never waits on signature checks. Rejects with the refusal's LedgerError.
   */
  async append(entry: Uint8Array): Promise<Receipt> {
    if (!(entry instanceof Uint8Array)) throw new TypeError('append: entry must be a Uint8Array');
    let parsed: ParsedEvent | undefined;
    try {
      parsed = parseEvent(entry);
    } catch (e) {
      // A well-formed entry of another type goes on to the sequencer, which judges it;
      // anything else is refused here with its code.
      if (!isLedgerError(e, 'UNSUPPORTED')) throw e;
    }
    if (parsed !== undefined) {
      const key = parsed.signer === 'root' ? this.admission.rootKey : parsed.signer;
      let ok: boolean;
      try {
        [ok] = await this.admission.pool.verify([{ publicKey: key, message: parsed.signingInput, signature: parsed.sig }]);
      } catch (e) {
        // A full verify pool must not refuse an entitled revocation either (spec §8.2):
        // its one signature is checked here, after the cheap entitlement gate.
        if (!isLedgerError(e, 'OVERLOADED') || parsed.event.type !== 'cert.revoke' || !(await this.mayRevoke(parsed.event.id, parsed.event.revoker))) throw e;
        verifyEventSignature(parsed, key); // BAD_SIGNATURE
        ok = true;
      }
      if (!ok) throw new LedgerError('BAD_SIGNATURE', `signature on ${parsed.event.type} does not verify under the key it names`);
    }
    // The sequencer hands the parsed, verified event to admission with the entry.
    const meta = parsed === undefined ? undefined : new Verified(parsed);
    let r: Receipt;
    try {
      r = await this.writer.add(entry, meta, parsed !== undefined);
    } catch (e) {
      // A full queue: a revocation by an entitled key takes a reserved place (spec §8.2).
      if (!isLedgerError(e, 'OVERLOADED') || parsed?.event.type !== 'cert.revoke' || !(await this.mayRevoke(parsed.event.id, parsed.event.revoker))) throw e;
      r = await this.writer.add(entry, meta, true, toHex(parsed.event.revoker));
    }
    if (this.publisher === undefined) return r;
    // Acknowledged once a published (witnessed) checkpoint covers it; its receipt is made against that.
    await this.publisher.waitFor(r.index + 1, this.witnessWaitMs);
    return { index: r.index, leafHash: r.leafHash, duplicate: r.duplicate };
  }

  /**
   * mayRevoke says whether `key` may revoke the certificate as of the state index now
   * (spec §5.9: entitled by revocationRefusal, the certificate neither revoked already nor
   * expired at the latest checkpoint's time): the reserve's gate. A revocation replayed
   * from the log therefore takes no reserved place. The sequencer judges the revocation
   * again at its batch time.
   */
  private async mayRevoke(id: Uint8Array, key: Uint8Array): Promise<boolean> {
    const [rawCert] = await this.store.readState([certKey(id)]);
    if (rawCert === undefined) return false;
    const cert = decodeCbor(rawCert) as unknown as CertRecord;
    if (cert.revoked !== null || this.head.time >= cert.validUntil) return false;
    const [rawIssuer] = await this.store.readState([issuerKey(cert.issuer)]);
    if (rawIssuer === undefined) return false;
    const issuer = decodeCbor(rawIssuer) as unknown as IssuerRecord;
    const [rawSuccessor] = issuer.successor ? await this.store.readState([issuerKey(issuer.successor)]) : [undefined];
    const successor = rawSuccessor === undefined ? undefined : (decodeCbor(rawSuccessor) as unknown as IssuerRecord);
    return revocationRefusal(cert, issuer, successor, key, this.admission.rootKey) === undefined;
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
   * receipt returns the receipt of entry `index` (spec §8.6): its leaf hash, the first
   * checkpoint that covered it (from the history, as first signed) with that
   * checkpoint's trusted time, and a tlog-proof@v1 bundle against it. It depends only
   * on the index, so a resubmitted entry gets exactly the receipt it got the first time.
   */
  async receipt(index: number, fresh?: Receipt): Promise<EntryReceipt> {
    checkIndex(index, 'index');
    if (fresh?.encoded !== undefined && this.publisher === undefined) {
      // Built by the leader that appended the entry (spec §8.4b): the same receipt this would
      // build, and good even while this follower's served head has not caught up with it.
      const r = decodeReceipt(fresh.encoded);
      if (r !== undefined && r.index === index && equalBytes(r.leafHash, fresh.leafHash)) return r;
    }
    // A fresh entry's batch checkpoint is the first that covers it (and is in the history):
    // the receipt is made from it alone, whatever head this process serves meanwhile (a
    // leader that steps down as its last batch commits follows a head without the entry).
    const batch = this.publisher === undefined && fresh !== undefined && !fresh.duplicate && fresh.checkpoint !== undefined && fresh.time !== undefined;
    if (!batch && index >= this.head.size) throw new LedgerError('NOT_FOUND', `no entry ${index}`);
    if (this.publisher !== undefined) {
      // Against the published checkpoint: the one with the witnesses' cosignatures.
      const h = this.head;
      const lh = fresh?.leafHash ?? leafHash((await this.store.readEntries(index, index + 1))[0]);
      const proof = await this.inclusionProof(index, h.size);
      return { index, leafHash: lh, size: h.size, time: h.time, checkpoint: h.checkpoint, proof: formatProofBundle({ index, proof, checkpoint: h.checkpoint }) };
    }
    let size: number;
    let checkpoint: Uint8Array;
    let time: number;
    if (batch) {
      checkpoint = fresh.checkpoint!;
      time = fresh.time!;
      // One batch's receipts share one checkpoint object: parse it once.
      let known = sizeOfNote.get(checkpoint);
      if (known === undefined) {
        known = parseCheckpoint(parseNote(checkpoint).text).size;
        sizeOfNote.set(checkpoint, known);
      }
      size = known;
    } else {
      const [cp] = await this.store.readCheckpoints(index + 1, 1);
      if (cp === undefined) throw new LedgerError('STATE_MISMATCH', `no history checkpoint covers entry ${index}`);
      // Our own history, written by our sequencer: read its time, no need to re-verify.
      const ts = parseNote(cp.checkpoint).sigs.find((g) => g.name === this.verifiers.timestamp.name && equalBytes(g.keyId, this.verifiers.timestamp.keyId));
      if (ts === undefined) throw new LedgerError('STATE_MISMATCH', `history checkpoint ${cp.size} has no timestamp cosignature`);
      ({ size, checkpoint } = cp);
      time = cosignedTime(ts);
    }
    const lh = fresh?.leafHash ?? leafHash((await this.store.readEntries(index, index + 1))[0]);
    // A fresh entry is proved from its batch's hashes in memory; others from the store.
    const read = fresh?.duplicate === false && fresh.batchHashes !== undefined ? fresh.batchHashes : undefined;
    const proof = read !== undefined ? await proveInclusion(index, size, read) : batch ? await proveInclusion(index, size, this.cache.read) : await this.inclusionProof(index, size);
    return { index, leafHash: lh, size, time, checkpoint, proof: formatProofBundle({ index, proof, checkpoint }) };
  }

  /**
   * certificateState is what the state index says of a certificate as of the latest
   * checkpoint (spec §8.7): its state, its issuance (and revocation) indices and its
   * issuer's registration (retirement, compromise) indices, unsigned (what
   * certificateStatus signs). Undefined for an unknown id.
   */
  async certificateState(id: Uint8Array): Promise<{ head: Head; state: CertState; events: number[]; issuer: number[] } | undefined> {
    if (id.length !== CERT_ID_BYTES) throw new LedgerError('BAD_REQUEST', `a certificate id is ${CERT_ID_BYTES} bytes`);
    const head = this.head;
    const [raw] = await this.store.readState([certKey(id)]);
    if (raw === undefined) return undefined;
    const rec = decodeCbor(raw) as unknown as CertRecord;
    const [rawIssuer] = await this.store.readState([issuerKey(rec.issuer)]);
    if (rawIssuer === undefined) throw new LedgerError('STATE_MISMATCH', `certificate ${toHex(id)} names an issuer the state index does not hold`);
    // The state index may already hold a batch whose checkpoint is not served yet: as of the head.
    const at = certificateAt(rec, decodeCbor(rawIssuer) as unknown as IssuerRecord, head.size, head.time);
    return at === undefined ? undefined : { head, ...at };
  }

  /**
   * knownStatus is what this log knows of a certificate, as a verifier uses it
   * (KnownStatus in src/client/verify.ts), read in one state lookup: its state as of the
   * latest checkpoint, whether `chain[0]` (the leaf hash of a presentation's issuance)
   * is its issuance, which of `chain` (that and the transfers) are events of it in the
   * log, and its issuer's retirement and lowest compromise. Those events were
   * signature-checked when the log admitted them, so the verifier need not check them
   * again (`admitted`). `issuerHint` is the issuer key the presentation names. Undefined
   * for a certificate the log does not hold.
   */
  async knownStatus(id: Uint8Array, issuerHint: Uint8Array, chain: readonly Uint8Array[]): Promise<KnownStatus | undefined> {
    if (id.length !== CERT_ID_BYTES) throw new LedgerError('BAD_REQUEST', `a certificate id is ${CERT_ID_BYTES} bytes`);
    const head = this.head;
    const [raw, rawIssuer, ...parents] = await this.store.readState([certKey(id), issuerKey(issuerHint), ...chain.map(parentKey)]);
    if (raw === undefined) return undefined;
    const rec = decodeCbor(raw) as unknown as CertRecord;
    if (!equalBytes(rec.issuer, issuerHint)) return undefined; // not the certificate the presentation describes
    if (rawIssuer === undefined) throw new LedgerError('STATE_MISMATCH', `certificate ${toHex(id)} names an issuer the state index does not hold`);
    const iss = decodeCbor(rawIssuer) as unknown as IssuerRecord;
    const at = certificateAt(rec, iss, head.size, head.time);
    if (at === undefined) return undefined;
    const inLog = new Set<string>();
    let issuance: Uint8Array | undefined;
    chain.forEach((leaf, i) => {
      const r = parents[i] === undefined ? undefined : (decodeCbor(parents[i]!) as unknown as ParentRecord);
      if (r === undefined || !equalBytes(r.id, id) || r.index >= head.size) return;
      inLog.add(toHex(leaf));
      if (r.index === rec.issue) issuance = leaf;
    });
    const c = compromiseAt(iss, head.size);
    return {
      state: at.state,
      size: head.size,
      time: head.time,
      events: issuance === undefined ? [] : [{ leafHash: issuance }],
      retired: iss.retired !== null && iss.retired < head.size ? iss.retired : null,
      compromised: c === undefined ? null : { from: c[0], index: c[1] },
      admitted: (leaf) => inLog.has(toHex(leaf)),
    };
  }

  /**
   * docType is the log's registry entry of a document type as the sequencer judges
   * issuances now (spec §5.7): its maximum validity in seconds and the index of the
   * doctype.register that set it. Undefined for a type the registry does not hold.
   */
  async docType(name: string): Promise<{ docType: string; maxValidity: number; registered: number } | undefined> {
    if (!isDocType(name)) throw new LedgerError('BAD_REQUEST', 'not a document type (spec §5.7)');
    const [raw] = await this.store.readState([doctypeKey(name)]);
    if (raw === undefined) return undefined;
    const r = decodeCbor(raw) as unknown as DoctypeRecord;
    // As the sequencer judges now: `registered` may name an entry the served checkpoint does not cover yet.
    return { docType: name, maxValidity: r.maxValidity, registered: r.registered };
  }

  /** verifySignatures checks Ed25519 signatures on the ledger's worker pool (strict rules, spec §2.3). */
  verifySignatures(items: readonly { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array }[]): Promise<boolean[]> {
    return this.admission.pool.verify(items);
  }

  /**
   * certificateStatus makes the signed status statement of a certificate as of the
   * latest checkpoint (spec §8.7), with its issuance (and revocation) and its issuer's
   * events, each with its inclusion proof in that checkpoint: at most five entries,
   * whatever the certificate's history. Undefined for an unknown id.
   */
  async certificateStatus(id: Uint8Array): Promise<CertificateStatus | undefined> {
    const known = await this.certificateState(id);
    if (known === undefined) return undefined;
    const { head, state, events, issuer } = known;
    const text =
      `dojang/v1/status\norigin ${this.origin}\nid ${toHex(id)}\nstate ${state}\n` +
      `size ${head.size}\nroot ${toBase64(head.root)}\ntime ${head.time}\nevents ${events.join(' ')}\n` +
      `issuer ${issuer.join(' ')}\n`;
    const statement = signNote(text, [this.statusSigner]);
    const prove = (indices: number[]) =>
      Promise.all(
        indices.map(async (index) => {
          const [entry] = await this.store.readEntries(index, index + 1);
          return { index, entry, proof: await this.inclusionProof(index, head.size) };
        }),
      );
    return { state, statement, checkpoint: head.checkpoint, events: await prove(events), issuer: await prove(issuer) };
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
    // As of the served head: under a witness policy, never a checkpoint not yet published (spec §13.5).
    const served = this.head.size;
    if (fromSize > served) return [];
    const page = await this.store.readCheckpoints(fromSize, Math.max(1, Math.min(limit, MAX_CHECKPOINTS_PAGE)));
    return page.filter((c) => c.size <= served);
  }

  /**
   * timestampTokens returns the stored timestamp tokens (spec §14) of the sizes in
   * [fromSize, toSize], by size. They are served as stored: readers verify them.
   */
  async timestampTokens(fromSize: number, toSize: number): Promise<Map<number, Uint8Array>> {
    checkIndex(fromSize, 'from');
    if (toSize < fromSize) return new Map();
    const out = new Map<number, Uint8Array>();
    const limit = Math.min(MAX_CHECKPOINTS_PAGE, toSize - fromSize + 1);
    for (const a of await this.store.readAnnexes('timestamp', fromSize, limit)) if (a.size <= toSize) out.set(a.size, a.bytes);
    return out;
  }

  /** timestampToken returns the stored timestamp token of `size`, or NOT_FOUND. */
  async timestampToken(size: number): Promise<Uint8Array> {
    checkIndex(size, 'size');
    if (size > this.head.size) throw new LedgerError('NOT_FOUND', `no timestamp token for size ${size}: the log serves ${this.head.size}`);
    const [a] = await this.store.readAnnexes('timestamp', size, 1);
    if (a === undefined || a.size !== size) throw new LedgerError('NOT_FOUND', `no timestamp token for size ${size}`);
    return a.bytes;
  }

  /** close drains the sequencer and closes the store. */
  async close(): Promise<void> {
    this.publisher?.close();
    await this.stamper?.close();
    await this.writer.close();
    await this.admission.pool.close();
    await this.store.close();
  }
}

/**
 * Verified marks an event Ledger.append parsed from the entry and whose signature it
 * checked. Not exported: what a caller of sequencer.add passes as meta is never taken
 * for a verified event.
 */
class Verified {
  constructor(readonly parsed: ParsedEvent) {}
}

/**
 * verifiedMeta is the meta of a write another process of the cluster queued as verified
 * (spec §8.4b): parsed again here, its signature not checked again — whoever can write
 * the store can write the log. An entry that does not parse gets the full admission.
 */
function verifiedMeta(entry: Uint8Array): Verified | undefined {
  try {
    return new Verified(parseEvent(entry));
  } catch {
    return undefined;
  }
}

/** encodeReceipt encodes a receipt for another process of the cluster (spec §8.4b): a CBOR map. */
function encodeReceipt(r: EntryReceipt): Uint8Array {
  return encodeCbor({ index: r.index, leafHash: r.leafHash, size: r.size, time: r.time, checkpoint: r.checkpoint, proof: r.proof });
}

/** decodeReceipt reads what encodeReceipt wrote, or undefined for anything else (the receipt is then built from the history). */
function decodeReceipt(b: Uint8Array): EntryReceipt | undefined {
  let m: Record<string, unknown>;
  try {
    m = decodeCbor(b) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { index, leafHash, size, time, checkpoint, proof } = m;
  if (!Number.isSafeInteger(index) || !(leafHash instanceof Uint8Array) || !Number.isSafeInteger(size) || !Number.isSafeInteger(time) || !(checkpoint instanceof Uint8Array) || typeof proof !== 'string') {
    return undefined;
  }
  return { index: index as number, leafHash, size: size as number, time: time as number, checkpoint, proof };
}

/** Writer is where Ledger.append sends entries: its own sequencer, or the cluster. */
interface Writer {
  readonly head: Head | undefined;
  readonly sequencer: Sequencer | undefined;
  readonly failure: string | undefined;
  readonly queueLength: number;
  add(entry: Uint8Array, meta: unknown, verified: boolean, reserveFor?: string): Promise<Receipt>;
  close(): Promise<void>;
}

function singleWriter(seq: Sequencer): Writer {
  return {
    get head() {
      return seq.head;
    },
    sequencer: seq,
    get failure() {
      return seq.failure;
    },
    get queueLength() {
      return seq.queueLength;
    },
    add: (entry, meta, _verified, reserveFor) => seq.add(entry, meta, reserveFor),
    close: () => seq.close(),
  };
}

/** BENCH_ORIGIN_PREFIX: logs whose origin starts so are bench logs (spec §5.2, bench.record). */
export const BENCH_ORIGIN_PREFIX = 'localhost/dojang-bench-';

/**
 * parseAdmissible reads an entry after the genesis as admission's first step does (spec
 * §5.2): a certificate event, parsed strictly (its signature not checked yet), or
 * undefined for a bench record in a bench log (`bench`). Throws the refusal: CONFLICT
 * for a second genesis, UNSUPPORTED for another type, the envelope's or the event's
 * parse codes. The auditor replays the log with it.
 */
export function parseAdmissible(e: Uint8Array, bench: boolean): ParsedEvent | undefined {
  const { type } = decodeEntry(e);
  if (type === 'genesis') throw new LedgerError('CONFLICT', 'the log already has its genesis entry');
  if (type === 'bench.record' && bench) return undefined;
  if (!isEventType(type)) throw new LedgerError('UNSUPPORTED', `this log does not accept entries of type ${type}`);
  return parseEvent(e);
}

/**
 * admission is the sequencer's admission rule set (spec §5.2, §5.9), judged at the
 * batch time:
 *  1. every entry must be a well-formed entry envelope — deterministic CBOR, known
 *     version, 64-byte signature — of a type this log accepts: no second genesis
 *     (CONFLICT), bench.record only in bench logs, the certificate events, nothing
 *     else (UNSUPPORTED);
 *  2. a certificate event must parse strictly and carry a valid signature by the key
 *     its type names (normally verified on worker threads before the entry reached
 *     the sequencer, see Ledger.append; verified here otherwise);
 *  3. the `extra` hook (tests) judges what passed;
 *  4. the certificate rules judge what is left, in order, and return the state writes
 *     the sequencer stores with the batch.
 */
export function admission(o: {
  origin: string;
  rootKey: Uint8Array;
  rules: CertificateRules;
  extra?: Admit;
}): Admit {
  const bench = o.origin.startsWith(BENCH_ORIGIN_PREFIX);
  return async (entries, time, ctx) => {
    const events: (ParsedEvent | undefined)[] = new Array(entries.length);
    const out: (LedgerError | undefined)[] = entries.map((e, i) => {
      try {
        const meta = ctx.meta[i];
        let parsed = meta instanceof Verified ? meta.parsed : undefined; // parsed and verified by Ledger.append already
        if (parsed === undefined) {
          parsed = parseAdmissible(e, bench);
          if (parsed === undefined) return undefined; // a bench record
          verifyEventSignature(parsed, parsed.signer === 'root' ? o.rootKey : parsed.signer);
        }
        events[i] = parsed;
        return undefined;
      } catch (err) {
        if (isLedgerError(err)) return err;
        return new LedgerError('MALFORMED', `entry does not decode: ${(err as Error).message}`);
      }
    });
    let passed = out.flatMap((v, i) => (v === undefined ? [i] : []));
    if (o.extra !== undefined && passed.length > 0) {
      const r = await o.extra(passed.map((i) => entries[i]), time, { firstIndex: ctx.firstIndex, leafHashes: passed.map((i) => ctx.leafHashes[i]), meta: passed.map((i) => ctx.meta[i]) });
      const verdicts = Array.isArray(r) ? r : r.verdicts;
      passed.forEach((i, k) => (out[i] = verdicts[k]));
      passed = passed.filter((i) => out[i] === undefined);
    }
    if (passed.length === 0) return out;
    const j = await o.rules.judge({
      events: passed.map((i) => events[i]),
      leafHashes: passed.map((i) => ctx.leafHashes[i]),
      time,
      firstIndex: ctx.firstIndex,
    });
    passed.forEach((i, k) => (out[i] = j.verdicts[k]));
    return { verdicts: out, state: j.state, persisted: () => o.rules.persisted(j.state) };
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

/**
 * restoreWitnessed reads the checkpoint this log published last under a witness policy
 * (the 'witnessed' annex, spec §13.5), so that a restarted process serves it again before
 * its first round meets the quorum. It is evidence, not trusted: it must verify under the
 * log and timestamp keys, match the stored tree at its size (checkStoredHead) and still
 * meet the policy; otherwise it is ignored, and said so.
 */
async function restoreWitnessed(
  store: LedgerStore,
  policy: Policy,
  o: { origin: string; log: NoteVerifier; timestamp: NoteVerifier; readHashes: HashReader },
  log: ((m: string) => void) | undefined,
): Promise<Head | undefined> {
  const saved = await store.latestAnnex('witnessed');
  if (saved === undefined) return undefined;
  try {
    const { head } = await checkStoredHead({ size: saved.size, checkpoint: saved.bytes }, o);
    const verdict = checkCheckpoint(saved.bytes, policy);
    if (!verdict.quorum) throw new Error(`it does not meet this policy (cosigned by ${verdict.cosigned.map((c) => c.name).join(', ') || 'none'})`);
    return head;
  } catch (e) {
    log?.(`the witnessed checkpoint of size ${saved.size} kept from before is not served again: ${isLedgerError(e) ? `${e.code}: ${e.message}` : String(e)}`);
    return undefined;
  }
}
