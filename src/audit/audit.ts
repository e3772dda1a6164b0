/**
 * The auditor (spec §11): replays a whole log from its genesis, as any outsider can, and
 * re-checks everything the operator promised — every entry's format and signature (on
 * all cores), every rule of §5.9 at its batch time, every checkpoint's signatures, that
 * checkpoint times never go back, that every checkpoint's root is the root of the
 * entries before it (so each is consistent with every other), every stored hash or
 * served tile, and any status statements it is given. It stops at the first problem
 * and names where. A saved state lets the next run resume, and keeps the checkpoints
 * seen per origin, so that a log that shows two inconsistent views (a fork) is caught.
 */
import { LedgerError, isLedgerError } from '../core/errors.js';
import { byteKey, equalBytes, fromHex, fromUtf8, toBase64, toHex } from '../core/bytes.js';
import { parseGenesis, type Genesis } from '../core/entry.js';
import { leafHash, storedHashCount, splitStoredHashIndex, TreeEdge, verifyConsistency } from '../core/merkle.js';
import { parseNote, parseVerifierKey } from '../core/note.js';
import { parseCheckpoint } from '../core/checkpoint.js';
import type { ParsedEvent } from '../core/events.js';
import { TILE_HEIGHT, TILE_WIDTH, tileForSize, tileHashIndices } from '../core/tiles.js';
import { checkpointVerifiers, openCheckpoint, type CheckpointVerifiers } from '../client/receipt.js';
import { verifyStatus } from '../client/status.js';
import { CertificateRules, certificateAt, certKey, issuerKey, type CertRecord, type IssuerRecord } from '../ledger/rules.js';
import { BENCH_ORIGIN_PREFIX, parseAdmissible } from '../ledger/ledger.js';
import { VerifyPool } from '../ledger/verify-pool.js';
import { decodeCbor } from '../core/cbor.js';
import type { Policy } from '../core/policy.js';
import { checkWitnessed, type WitnessedReport } from './witnessed.js';
import { checkpointImprint, verifyTimestampToken, type TsaTrust } from '../timestamp/rfc3161.js';

/** What an auditor reads: the public read API (--url) or a ledger directory (--data). */
export interface AuditSource {
  /** For messages: a URL or a directory. */
  readonly name: string;
  /** The latest checkpoint note (the head; possibly a re-cosignature of the last size). */
  latest(): Promise<Uint8Array>;
  /**
   * The latest checkpoint the log published under its witness policy, with the witnesses'
   * lines, when the source keeps it apart from the head (a directory or database: the
   * 'witnessed' annex, spec §13.5; a served log's /checkpoint carries the lines itself).
   */
  witnessed?(): Promise<Uint8Array | undefined>;
  /**
   * The history: checkpoints of size ≥ fromSize, ascending, at most `limit`, each with
   * its RFC 3161 timestamp token (DER) when the log keeps one (spec §14).
   */
  checkpoints(fromSize: number, limit: number): Promise<{ size: number; checkpoint: Uint8Array; timestamp?: Uint8Array }[]>;
  /** Entries [start, end). */
  entries(start: number, end: number): Promise<Uint8Array[]>;
  /** Stored hashes [start, end) by stored-hash index (spec §3.2), when the source keeps them. */
  storedHashes?(start: number, end: number): Promise<Uint8Array[]>;
  /** The hash tile (level, index) of `width` hashes, when the source serves tiles (spec §6). */
  hashTile?(level: number, index: number, width: number): Promise<Uint8Array>;
  /** A consistency proof between two sizes (served, or made from the stored hashes). */
  consistency(from: number, to: number): Promise<Uint8Array[]>;
  close(): Promise<void>;
}

/** An audit finding: where (an entry, a checkpoint, a stored hash…), its code and evidence. */
export class AuditFailure extends Error {
  constructor(
    readonly where: string,
    readonly code: string,
    message: string,
    /** Signed notes that prove the finding (a split view: both checkpoints). */
    readonly evidence: string[] = [],
  ) {
    super(`${where}: ${code}: ${message}`);
  }
}

/** What the auditor keeps between runs, per origin. */
export interface AuditState {
  origin: string;
  rootKey: string;
  /** The size replayed so far, its right edge and the last checkpoint time. */
  size: number;
  edge: Uint8Array[];
  time: number;
  /** The replayed state index (the rules' records). */
  state: [Uint8Array, Uint8Array][];
  /** The leaf hashes after the last full level-0 tile (to check that tile when it fills). */
  tail: Uint8Array[];
  /** The stored hashes at tree levels 8, 16, … by stored-hash index (the hash tiles above level 0). */
  upper: [number, Uint8Array][];
  /** Every checkpoint seen, by size (the notes as signed). */
  seen: [number, string][];
}

export interface AuditOptions {
  /** The root key (vkey) the genesis must name; default: whatever it names (reported). */
  rootKey?: string;
  /** A state saved by an earlier audit of this origin: resume and compare. */
  resume?: AuditState;
  /** Status answers (spec §8.7 JSON) to check against the replayed state. */
  statuses?: unknown[];
  /**
   * Checkpoint notes of this log obtained elsewhere (from other verifiers, witnesses, a
   * receipt): each must be a tree the audited log is consistent with, or it is a split
   * view.
   */
  checkpoints?: Uint8Array[];
  /** Signature-verification threads (default: one per core). */
  threads?: number;
  /**
   * The certificates a timestamp token's signer must be or chain to (spec §14.4): every
   * token in the history is verified over its checkpoint's text. Without it tokens are
   * counted, not checked.
   */
  tsaTrust?: TsaTrust;
  /** Called now and then with the entries replayed and the total. */
  progress?: (done: number, total: number) => void;
  /** A witness policy the latest checkpoint must meet (spec §13.3; src/audit/witnessed.ts). */
  policy?: Policy;
}

export interface AuditReport {
  origin: string;
  rootKey: string;
  size: number;
  /** Entries replayed in this run (after any resumed prefix). */
  entries: number;
  checkpoints: number;
  /** Tiles or stored hashes compared. */
  hashes: number;
  statuses: number;
  /**
   * What each given status answer says, as the replay confirmed it (spec §8.7): the
   * certificate's id (hex), its state at the answer's size (`compromised` and `revoked`
   * certificates are not valid) and that size.
   */
  certificates: { id: string; state: string; size: number }[];
  /** Given checkpoints found consistent with the audited log. */
  given: number;
  /**
   * Timestamp tokens of the replayed history (spec §14.4): how many were verified (with
   * tsaTrust), how many were seen without being checked, and the range of their genTime.
   */
  timestamps: { verified: number; unchecked: number; first?: string; last?: string };
  resumedFrom: number;
  headTime: number;
  seconds: number;
  state: AuditState;
  /** With a policy: who cosigned the latest checkpoint (and the given ones), and when. */
  witnessed?: WitnessedReport;
}

/** How many entries the auditor reads and verifies at once (whole batches). */
const CHUNK = 4096;
const PAGE = 1000;

/**
 * audit replays `src` (module comment) and resolves with the report, or rejects with the
 * first AuditFailure. Other errors (the source cannot be read) propagate as they are.
 */
export async function audit(src: AuditSource, o: AuditOptions = {}): Promise<AuditReport> {
  const started = performance.now();
  const [first] = await read('entry 0', () => src.entries(0, 1));
  if (first === undefined) throw new AuditFailure('entry 0', 'NOT_FOUND', 'the log has no genesis entry');
  let genesis: Genesis;
  try {
    genesis = parseGenesis(first);
  } catch (e) {
    throw fromError('entry 0', e);
  }
  if (o.rootKey !== undefined && genesis.rootKey !== o.rootKey) throw new AuditFailure('entry 0', 'UNKNOWN_KEY', `the genesis names root key ${genesis.rootKey}, not ${o.rootKey}`);
  const v = checkpointVerifiers(genesis);
  const rootKey = parseVerifierKey(genesis.rootKey).publicKey;
  const headNote = await read('the latest checkpoint', () => src.latest());
  const head = openAt('the latest checkpoint', headNote, v);
  const bench = genesis.origin.startsWith(BENCH_ORIGIN_PREFIX);

  // The state index, replayed in memory.
  const stateMap = new Map<string, [Uint8Array, Uint8Array]>();
  const rules = new CertificateRules({ readState: async (keys) => keys.map((k) => stateMap.get(byteKey(k))?.[1]) }, rootKey);
  let edge = new TreeEdge(0, []);
  let size = 0;
  let lastTime = 0;
  const seen = new Map<number, string>();
  let tail: Uint8Array[] = []; // leaf hashes since the last full level-0 tile
  const tileHashes = new Map<number, Uint8Array>(); // stored hashes at tree levels 8, 16, …
  const saved = o.resume;
  let resumedFrom = 0;
  if (saved !== undefined) {
    if (saved.origin !== genesis.origin) throw new RangeError(`the saved audit state is of ${saved.origin}, not ${genesis.origin}`);
    if (saved.rootKey !== genesis.rootKey) throw new AuditFailure('entry 0', 'INCONSISTENT', `the genesis names root key ${genesis.rootKey}; an earlier audit saw ${saved.rootKey}`);
    for (const [s, n] of saved.seen) seen.set(s, n);
    if (head.checkpoint.size < saved.size) {
      // An honest log only grows: a smaller head is a rollback, or another view of the log.
      const last = saved.seen[saved.seen.length - 1];
      throw new AuditFailure(`checkpoint ${head.checkpoint.size}`, 'INCONSISTENT', `the log's latest checkpoint is of size ${head.checkpoint.size}; an earlier audit saw size ${saved.size} (a rollback or a split view)`, [last?.[1] ?? '', fromUtf8(await src.latest())].filter((x) => x !== ''));
    }
    if (saved.size > 0) {
      // Resume: the log must still show the tree that was audited, extended.
      const last = saved.seen.length > 0 ? saved.seen[saved.seen.length - 1][1] : undefined;
      const savedRoot = new TreeEdge(saved.size, saved.edge).root();
      const split = async (why: string): Promise<never> => {
        throw new AuditFailure(`checkpoint ${head.checkpoint.size}`, 'INCONSISTENT', `${why} (a split view)`, [...(last === undefined ? [] : [last]), fromUtf8(await src.latest())]);
      };
      if (head.checkpoint.size === saved.size) {
        if (!equalBytes(head.checkpoint.root, savedRoot)) await split(`the log's tree of size ${saved.size} is not the one an earlier audit saw`);
      } else {
        const proof = await read(`a consistency proof from size ${saved.size}`, () => src.consistency(saved.size, head.checkpoint.size));
        try {
          verifyConsistency(saved.size, head.checkpoint.size, proof, savedRoot, head.checkpoint.root);
        } catch (e) {
          if (!isLedgerError(e)) throw e;
          await split(`the latest checkpoint does not extend the tree of size ${saved.size} an earlier audit saw: ${e.message}`);
        }
      }
      edge = new TreeEdge(saved.size, saved.edge);
      size = saved.size;
      lastTime = saved.time;
      resumedFrom = saved.size;
      for (const [k, val] of saved.state) stateMap.set(byteKey(k), [k, val]);
      tail = saved.tail.slice();
      for (const [ix, h] of saved.upper) tileHashes.set(ix, h);
    }
  }
  const pool = new VerifyPool({ threads: o.threads });
  let entriesDone = 0;
  const timestamps: AuditReport['timestamps'] = { verified: 0, unchecked: 0 };
  let checkpoints = 0;
  let hashes = 0;
  try {
    // The history after what is replayed, page by page.
    let pending: { size: number; checkpoint: Uint8Array; timestamp?: Uint8Array }[] = [];
    let nextFrom = size + 1;
    const more = async (): Promise<boolean> => {
      if (nextFrom > head.checkpoint.size) return false;
      const page = await read(`the checkpoint history from size ${nextFrom}`, () => src.checkpoints(nextFrom, PAGE));
      if (page.length === 0) return false;
      for (const c of page) {
        if (c.size < nextFrom) throw new AuditFailure(`checkpoint ${c.size}`, 'MALFORMED', `the history answered size ${c.size} when asked from ${nextFrom}`);
        nextFrom = c.size + 1;
        if (c.size <= head.checkpoint.size) pending.push(c);
      }
      return true;
    };
    // Chunks of whole batches are read, parsed and sent to the verify pool one ahead of
    // the one being judged, so that the workers check signatures while this thread judges.
    let readPos = size;
    const prepare = async () => {
      if (readPos >= head.checkpoint.size) return undefined;
      const start = readPos;
      // Whole batches (one checkpoint each) up to about CHUNK entries.
      while (pending.length === 0 || (pending[pending.length - 1].size - start < CHUNK && nextFrom <= head.checkpoint.size)) {
        if (!(await more())) break;
      }
      if (pending.length === 0) throw new AuditFailure(`checkpoint ${head.checkpoint.size}`, 'NOT_FOUND', `the history has no checkpoint between sizes ${start + 1} and ${head.checkpoint.size}: entries ${start}… are covered by no batch checkpoint`);
      let k = 0;
      while (k + 1 < pending.length && pending[k + 1].size - start <= CHUNK) k++;
      const batchCps = pending.slice(0, k + 1);
      pending = pending.slice(k + 1);
      const end = batchCps[batchCps.length - 1].size;
      readPos = end;
      const entries = await read(`entries ${start}..${end - 1}`, () => src.entries(start, end));
      if (entries.length !== end - start) throw new AuditFailure(`entry ${start}`, 'NOT_FOUND', `asked for entries ${start}..${end - 1}, got ${entries.length}`);
      const leaves = entries.map(leafHash);
      // Format, then every signature on the pool (in slices the pool's queue admits).
      // Problems are kept by index and raised when their batch is judged, so that the
      // first problem in log order is the one reported.
      const problems = new Map<number, AuditFailure>();
      const parsed: (ParsedEvent | undefined)[] = entries.map((e, i) => {
        const index = start + i;
        if (index === 0) {
          if (!equalBytes(e, first)) problems.set(0, new AuditFailure('entry 0', 'INCONSISTENT', 'the genesis entry read twice differs'));
          return undefined;
        }
        try {
          return parseAdmissible(e, bench);
        } catch (err) {
          problems.set(index, fromError(`entry ${index}`, err));
          return undefined;
        }
      });
      const items = parsed.flatMap((p, i) => (p === undefined ? [] : [{ i, item: { publicKey: p.signer === 'root' ? rootKey : p.signer, message: p.signingInput, signature: p.sig } }]));
      const verified = (async () => {
        for (let k = 0; k < items.length; k += CHUNK) {
          const slice = items.slice(k, k + CHUNK);
          const ok = await pool.verify(slice.map((x) => x.item));
          ok.forEach((good, j) => {
            const i = slice[j].i;
            if (!good) problems.set(start + i, new AuditFailure(`entry ${start + i}`, 'BAD_SIGNATURE', `the signature on ${parsed[i]!.event.type} does not verify under the key it names`));
          });
        }
      })();
      verified.catch(() => {}); // awaited when the chunk is judged
      return { end, batchCps, entries, leaves, parsed, problems, verified };
    };
    let ahead = prepare();
    ahead.catch(() => {}); // reported when awaited
    for (;;) {
      const chunk = await ahead;
      if (chunk === undefined) break;
      ahead = prepare();
      ahead.catch(() => {});
      const { end, batchCps, entries, leaves, parsed } = chunk;
      await chunk.verified;

      for (const cp of batchCps) {
        const where = `checkpoint ${cp.size}`;
        const { checkpoint, time } = openAt(where, cp.checkpoint, v);
        if (checkpoint.size !== cp.size) throw new AuditFailure(where, 'INCONSISTENT', `the history files a checkpoint of size ${checkpoint.size} under size ${cp.size}`);
        if (time < lastTime) throw new AuditFailure(where, 'INCONSISTENT', `its time ${time} is before the previous checkpoint's ${lastTime}: time went back`);
        // The batch [size, cp.size): each entry admissible and signed, then judged at its time T.
        for (let i = size; i < cp.size; i++) {
          const problem = chunk.problems.get(i);
          if (problem !== undefined) throw problem;
        }
        const from = size - (end - entries.length); // offset of `size` in this chunk
        const batch = parsed.slice(from, from + cp.size - size);
        const j = await rules.judge({ events: batch, leafHashes: leaves.slice(from, from + cp.size - size), time, firstIndex: size });
        j.verdicts.forEach((err, i) => {
          if (err !== undefined) throw new AuditFailure(`entry ${size + i}`, err.code, `${err.message} (judged at the batch time ${time} of ${where})`);
        });
        for (const w of j.state) stateMap.set(byteKey(w.key), [w.key, w.value as Uint8Array]);
        rules.persisted(j.state);
        // The tree: every new stored hash, compared with the source's.
        const firstStored = storedHashCount(size);
        const added: Uint8Array[] = [];
        for (let i = from; i < from + cp.size - size; i++) {
          const created = edge.append(leaves[i]);
          created.forEach((h, level) => {
            if (level > 0 && level % TILE_HEIGHT === 0) tileHashes.set(firstStored + added.length + level, h);
          });
          for (const h of created) added.push(h);
        }
        const root = edge.root();
        const stored = src.storedHashes === undefined ? undefined : await read(`stored hashes ${firstStored}..${firstStored + added.length - 1}`, () => src.storedHashes!(firstStored, firstStored + added.length));
        if (!equalBytes(root, checkpoint.root)) {
          // The signed root is not the entries' root: find the entry that changed, if the stored leaf hashes still say.
          const changed = stored === undefined ? undefined : added.findIndex((h, i) => splitStoredHashIndex(firstStored + i)[0] === 0 && !equalBytes(stored[i], h));
          if (changed !== undefined && changed >= 0) {
            const n = splitStoredHashIndex(firstStored + changed)[1];
            throw new AuditFailure(`entry ${n}`, 'STATE_MISMATCH', `it is not the entry ${where} covers: its leaf hash is not the one stored with the tree`);
          }
          throw new AuditFailure(where, 'STATE_MISMATCH', `its root ${toBase64(checkpoint.root)} is not the root ${toBase64(root)} of entries 0..${cp.size - 1}`);
        }
        if (stored !== undefined) {
          added.forEach((h, i) => {
            if (stored[i] === undefined || !equalBytes(stored[i], h)) {
              const [level, n] = splitStoredHashIndex(firstStored + i);
              throw new AuditFailure(`stored hash ${firstStored + i} (level ${level}, n ${n})`, 'STATE_MISMATCH', 'it is not the hash recomputed from the entries the checkpoints sign');
            }
          });
          hashes += added.length;
        }
        if (cp.timestamp !== undefined) {
          // The checkpoint is now known to be the log's tree of this size: its token must stamp its text.
          if (o.tsaTrust === undefined) timestamps.unchecked++;
          else {
            let genTime: Date;
            try {
              genTime = verifyTimestampToken(cp.timestamp, o.tsaTrust, { imprint: checkpointImprint(parseNote(cp.checkpoint).text) }).genTime;
            } catch (e) {
              if (!isLedgerError(e)) throw e;
              throw new AuditFailure(where, e.code, `its timestamp token does not verify: ${e.message}`);
            }
            timestamps.verified++;
            const t = genTime.toISOString();
            if (timestamps.first === undefined || t < timestamps.first) timestamps.first = t;
            if (timestamps.last === undefined || t > timestamps.last) timestamps.last = t;
          }
        }
        seen.set(cp.size, fromUtf8(cp.checkpoint));
        size = cp.size;
        lastTime = time;
        checkpoints++;
      }
      entriesDone += entries.length;
      // Level-0 tiles are the leaf hashes of the entries just read.
      // Level-0 tiles are the leaf hashes: each is checked when it is full, the last
      // (partial) one at the end; `tail` carries a tile's leaves across chunks and runs.
      const chunkStart = size - entries.length;
      for (let k = 0; k < leaves.length; k++) {
        tail.push(leaves[k]);
        const p = chunkStart + k;
        if ((p + 1) % TILE_WIDTH === 0) {
          if (src.hashTile !== undefined) hashes += await checkLeafTile(src, Math.floor(p / TILE_WIDTH), tail);
          tail = [];
        }
      }
      o.progress?.(size, head.checkpoint.size);
    }
    if (size !== head.checkpoint.size) throw new AuditFailure(`checkpoint ${head.checkpoint.size}`, 'NOT_FOUND', `the history ends at size ${size}`);
    if (!equalBytes(edge.root(), head.checkpoint.root)) throw new AuditFailure('the latest checkpoint', 'STATE_MISMATCH', `its root is not the root of entries 0..${size - 1}`);
    if (head.time < lastTime) throw new AuditFailure('the latest checkpoint', 'INCONSISTENT', `its time ${head.time} is before the history's last ${lastTime}`);
    if (src.hashTile !== undefined && tail.length > 0) hashes += await checkLeafTile(src, Math.floor(size / TILE_WIDTH), tail);
    if (src.hashTile !== undefined) hashes += await checkUpperTiles(src, tileHashes, size);
    let given = 0;
    for (const [i, note] of (o.checkpoints ?? []).entries()) {
      await checkGiven(`given checkpoint ${i + 1}`, note, v, src, seen, edge, head.checkpoint.size, () => read('the latest checkpoint', () => src.latest()));
      given++;
    }
    let statuses = 0;
    const certificates: { id: string; state: string; size: number }[] = [];
    for (const [i, s] of (o.statuses ?? []).entries()) {
      certificates.push(checkStatus(`status answer ${i + 1}`, s, genesis, stateMap, seen));
      statuses++;
    }
    // The witnessed checkpoint a directory keeps is judged like a given one (it must be the
    // log's tree at its size), then by the policy in place of the head, which has no lines.
    const kept = await read('the witnessed checkpoint', async () => (await src.witnessed?.()) ?? undefined);
    if (kept !== undefined) {
      await checkGiven('the witnessed checkpoint', kept, v, src, seen, edge, head.checkpoint.size, () => read('the latest checkpoint', () => src.latest()));
    }
    const witnessed = o.policy === undefined ? undefined : checkWitnessed(o.policy, kept ?? headNote, o.checkpoints ?? []);
    return {
      ...(witnessed === undefined ? {} : { witnessed }),
      origin: genesis.origin,
      rootKey: genesis.rootKey,
      size,
      entries: entriesDone,
      checkpoints,
      hashes,
      statuses,
      certificates,
      given,
      timestamps,
      resumedFrom,
      headTime: head.time,
      seconds: (performance.now() - started) / 1000,
      state: {
        origin: genesis.origin,
        rootKey: genesis.rootKey,
        size,
        edge: edge.hashes,
        time: lastTime,
        state: [...stateMap.values()],
        tail: tail.slice(),
        upper: [...tileHashes.entries()],
        seen: [...seen.entries()].sort((a, b) => a[0] - b[0]),
      },
    };
  } finally {
    await pool.close();
  }
}

/** openAt opens a checkpoint note, naming `where` in the failure. */
function openAt(where: string, note: Uint8Array, v: CheckpointVerifiers) {
  try {
    return openCheckpoint(note, v);
  } catch (e) {
    throw fromError(where, e);
  }
}

/** read runs a source read; a LedgerError (a record the store cannot read, a missing tile) becomes a finding at `where`. */
async function read<T>(where: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isLedgerError(e) && e.code !== 'UNAVAILABLE') throw fromError(where, e);
    throw e;
  }
}

function fromError(where: string, e: unknown): AuditFailure {
  if (isLedgerError(e)) return new AuditFailure(where, e.code, e.message);
  throw e;
}

/** checkLeafTile compares the level-0 hash tile `index` (as wide as `leaves`) with the leaf hashes. */
async function checkLeafTile(src: AuditSource, index: number, leaves: Uint8Array[]): Promise<number> {
  const tile = await read(`tile 0/${index}`, () => src.hashTile!(0, index, leaves.length));
  leaves.forEach((l, i) => {
    if (!equalBytes(tile.subarray(32 * i, 32 * i + 32), l)) throw new AuditFailure(`tile 0/${index}`, 'STATE_MISMATCH', `hash ${i} is not the leaf hash of entry ${index * TILE_WIDTH + i}`);
  });
  return leaves.length;
}

/** checkUpperTiles compares every hash tile above level 0 of the tree of `size` with the recomputed hashes. */
async function checkUpperTiles(src: AuditSource, kept: Map<number, Uint8Array>, size: number): Promise<number> {
  let n = 0;
  for (let level = 1; 2 ** (TILE_HEIGHT * level) <= size; level++) {
    for (let index = 0; ; index++) {
      const width = tileForSize(level, index, size);
      if (width === 0) break;
      const tile = await read(`tile ${level}/${index}`, () => src.hashTile!(level, index, width));
      tileHashIndices({ level, index, width }).forEach((ix, i) => {
        const h = kept.get(ix);
        if (h === undefined || !equalBytes(tile.subarray(32 * i, 32 * i + 32), h)) throw new AuditFailure(`tile ${level}/${index}`, 'STATE_MISMATCH', `hash ${i} is not the recomputed one`);
      });
      n += width;
    }
  }
  return n;
}

/**
 * checkGiven checks a checkpoint of this log obtained elsewhere against the audited log:
 * signed by the log and timestamp keys, and its tree the audited tree of that size (the
 * history's root, the root from the stored hashes, or a consistency proof to the head).
 * A tree the log does not show is a split view (INCONSISTENT, both notes as evidence).
 */
async function checkGiven(
  where: string,
  note: Uint8Array,
  v: CheckpointVerifiers,
  src: AuditSource,
  seen: Map<number, string>,
  edge: TreeEdge,
  headSize: number,
  latest: () => Promise<Uint8Array>,
): Promise<void> {
  const { checkpoint } = openAt(where, note, v);
  const text = fromUtf8(note);
  const split = async (why: string, other?: string): Promise<never> => {
    throw new AuditFailure(where, 'INCONSISTENT', `${why} (a split view)`, [text, other ?? fromUtf8(await latest())]);
  };
  if (checkpoint.size === 0) return; // the empty tree is a prefix of every tree
  if (checkpoint.size > headSize) return split(`it is of size ${checkpoint.size}, beyond the log's latest ${headSize}: the log signed a tree it does not show`);
  const known = seen.get(checkpoint.size);
  if (known !== undefined) {
    const root = parseCheckpoint(parseNote(new TextEncoder().encode(known)).text).root;
    if (!equalBytes(root, checkpoint.root)) return split(`its tree of size ${checkpoint.size} is not the log's`, known);
    return;
  }
  if (checkpoint.size === headSize) {
    if (!equalBytes(edge.root(), checkpoint.root)) return split(`its tree of size ${checkpoint.size} is not the log's`);
    return;
  }
  // Any other size: a consistency proof from it to the audited head (the proof's hashes
  // come from the source, but it is checked against the root recomputed from the entries).
  const proof = await read(`a consistency proof from size ${checkpoint.size}`, () => src.consistency(checkpoint.size, headSize));
  try {
    verifyConsistency(checkpoint.size, headSize, proof, checkpoint.root, edge.root());
  } catch (e) {
    if (!isLedgerError(e)) throw e;
    return split(`the log's latest tree does not extend it: ${e.message}`);
  }
}

/** checkStatus verifies a status answer and compares it with the replayed state at its size. */
function checkStatus(where: string, json: unknown, g: Genesis, state: Map<string, [Uint8Array, Uint8Array]>, seen: Map<number, string>): { id: string; state: string; size: number } {
  const id = (() => {
    try {
      const text = (json as { statement: string }).statement;
      const m = /\nid ([0-9a-f]{32})\n/.exec(text);
      if (m === null) throw new Error('no id');
      return fromHex(m[1]);
    } catch {
      throw new AuditFailure(where, 'MALFORMED', 'not a status answer (spec §8.7)');
    }
  })();
  let st;
  try {
    st = verifyStatus(id, json, { logKey: g.logKey, timestampKey: g.timestampKey, statusKey: g.statusKey, rootKey: g.rootKey });
  } catch (e) {
    throw fromError(where, e);
  }
  const note = seen.get(st.size);
  if (note === undefined) throw new AuditFailure(where, 'NOT_FOUND', `its checkpoint of size ${st.size} is not in the history audited`);
  const audited = parseCheckpoint(parseNote(new TextEncoder().encode(note)).text);
  if (!equalBytes(audited.root, st.root)) throw new AuditFailure(where, 'INCONSISTENT', `its checkpoint of size ${st.size} is not the one in the history (a split view)`, [note, fromUtf8(st.checkpoint)]);
  const record = <T>(key: Uint8Array): T | undefined => {
    const raw = state.get(byteKey(key))?.[1];
    return raw === undefined ? undefined : (decodeCbor(raw) as unknown as T);
  };
  const rec = record<CertRecord>(certKey(id));
  const iss = rec === undefined ? undefined : record<IssuerRecord>(issuerKey(rec.issuer));
  const at = rec === undefined || iss === undefined ? undefined : certificateAt(rec, iss, st.size, st.time);
  const expect = at?.state ?? 'unknown';
  const events = at?.events ?? [];
  const issuer = at?.issuer ?? [];
  const said = st.events.map((e) => e.index);
  if (expect !== st.state || said.join(' ') !== events.join(' ')) {
    throw new AuditFailure(where, 'INCONSISTENT', `the status key says ${st.state} with events ${said.join(' ')} at size ${st.size}; the replayed log says ${expect} with events ${events.join(' ')}`, [fromUtf8(st.statement)]);
  }
  if (st.issuer.map((e) => e.index).join(' ') !== issuer.join(' ')) {
    throw new AuditFailure(where, 'INCONSISTENT', `the status key names issuer events ${st.issuer.map((e) => e.index).join(' ')}; the replayed log has ${issuer.join(' ')}`, [fromUtf8(st.statement)]);
  }
  return { id: toHex(id), state: st.state, size: st.size };
}
