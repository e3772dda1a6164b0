/**
 * A witness (c2sp.org/tlog-witness, spec §13): for every log it is configured with (an
 * origin and the keys it trusts for it), it keeps the latest checkpoint it cosigned, and
 * cosigns a new one (c2sp.org/tlog-cosignature, cosignature/v1) only if it is consistent
 * with that one. It works for any log that follows c2sp.org/tlog-checkpoint, not only
 * dojang's.
 *
 * addCheckpoint judges one request body exactly as the spec orders:
 *
 *   404  the checkpoint's origin is not a configured log
 *   403  no signature on it verifies under a key trusted for that origin
 *   400  the body is malformed, or the old size is above the checkpoint's size
 *   409  the old size is not the size of the latest cosigned checkpoint (body: that
 *        size and a newline, Content-Type text/x.tlog.size), or the sizes are equal and
 *        the roots differ
 *   422  the consistency proof does not verify (or is not empty for old size 0)
 *   200  the witness's cosignature line(s), after the new state is durable
 *
 * Checking the old size and storing the new checkpoint happen under one lock per origin,
 * so two requests can never roll the state back (the race the spec describes). A
 * checkpoint the log signed that does not extend what was cosigned (another root at the
 * same size, or a consistency proof that does not verify) is kept as evidence, each different
 * request once, a few per (origin, size, root) (WitnessState.evidence): it may show the log forking.
 */
import { LedgerError, isLedgerError } from '../core/errors.js';
import { fromBase64, fromUtf8, equalBytes, toBase64, utf8 } from '../core/bytes.js';
import { parseCheckpoint, parseDecimal, type Checkpoint } from '../core/checkpoint.js';
import { formatNote, formatSignatureLine, openNote, parseNote, type NoteVerifier } from '../core/note.js';
import { cosignatureSigner } from '../core/cosignature.js';
import { verifyConsistency } from '../core/merkle.js';
import { EVIDENCE_CURSOR, type WitnessState } from './state.js';

/** The most consistency proof lines a request may carry (the spec's limit). */
export const MAX_PROOF_LINES = 63;
/** The largest request body the witness reads: a note with 16 large (post-quantum) signatures and 63 proof lines. */
export const MAX_REQUEST_BYTES = 256 * 1024;
/** The media type of a 409 answer's body: the latest cosigned size. */
export const TLOG_SIZE_TYPE = 'text/x.tlog.size';

/** The most evidence records one page of GET /evidence lists. */
export const MAX_EVIDENCE_LISTED = 100;

/** GET /evidence?origin=: what a witness kept of the checkpoints it refused as inconsistent (spec §13.1). */
export interface EvidenceReport {
  origin: string;
  /** The latest checkpoint it cosigned for the origin (the note as the log signed it), or null. */
  latest: { size: number; root: string; checkpoint: string } | null;
  evidence: { time: number; reason: string; size: number; root: string; old: number; checkpoint: string; request: string }[];
  /** The cursor of the next page (`GET /evidence?origin=…&after=<next>`), or null on the last. */
  next: string | null;
}

export interface WitnessAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface WitnessOptions {
  /** The witness's name (its key's name) and Ed25519 seed. */
  name: string;
  seed: Uint8Array;
  /** The logs it witnesses: origin → the keys it trusts for that origin's checkpoints. */
  logs: ReadonlyMap<string, readonly NoteVerifier[]>;
  state: WitnessState;
  /** Unix seconds (default: the system clock). */
  now?: () => number;
}

interface Request {
  old: number;
  proof: Uint8Array[];
  note: Uint8Array;
}

export class Witness {
  private readonly signer: ReturnType<typeof cosignatureSigner>;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly o: WitnessOptions) {
    const now = o.now ?? (() => Math.floor(Date.now() / 1000));
    this.signer = cosignatureSigner(o.name, o.seed, now);
  }

  get name(): string {
    return this.signer.name;
  }

  get publicKey(): Uint8Array {
    return this.signer.publicKey;
  }

  /** addCheckpoint answers one add-checkpoint request body (tlog-witness). */
  async addCheckpoint(body: Uint8Array): Promise<WitnessAnswer> {
    let req: Request;
    let cp: Checkpoint;
    let text: string;
    try {
      req = parseRequest(body);
      text = parseNote(req.note).text;
      cp = parseCheckpoint(text);
    } catch (e) {
      return plain(400, `malformed request: ${(e as Error).message}`);
    }
    const verifiers = this.o.logs.get(cp.origin);
    if (verifiers === undefined) return plain(404, `unknown log origin ${JSON.stringify(cp.origin)}`);
    // What is kept — the state and any evidence — is the checkpoint with the lines that
    // verified under the log's trusted keys only: foreign lines, however many, are never stored.
    let kept: Uint8Array;
    try {
      kept = formatNote({ text, sigs: openNote(req.note, [...verifiers]).verified });
    } catch (e) {
      if (isLedgerError(e, 'UNKNOWN_KEY') || isLedgerError(e, 'BAD_SIGNATURE') || isLedgerError(e, 'MALFORMED')) return plain(403, `no signature by a key trusted for ${cp.origin} verifies: ${(e as Error).message}`);
      throw e;
    }
    if (req.old > cp.size) return plain(400, `old size ${req.old} is above the checkpoint's size ${cp.size}`);
    return this.locked(cp.origin, async () => {
      const latest = await this.o.state.get(cp.origin);
      const size = latest?.size ?? 0;
      if (req.old !== size) return { status: 409, contentType: TLOG_SIZE_TYPE, body: `${size}\n` };
      let problem: string | undefined;
      if (latest !== undefined && req.old === cp.size) {
        // The same size as the latest cosigned (size 0 included): the same root, or a fork.
        if (!equalBytes(latest.root, cp.root)) {
          await this.o.state.evidence(cp.origin, cp.size, cp.root, formatRequest(req.old, req.proof, kept), 'same size as the latest cosigned checkpoint, another root');
          return plain(409, `the checkpoint has size ${cp.size} like the latest cosigned one, but another root`);
        }
        if (req.proof.length !== 0) return plain(422, 'the consistency proof between equal sizes must be empty');
      } else if (req.old === 0) {
        if (req.proof.length !== 0) return plain(422, 'the consistency proof from size 0 must be empty');
      } else {
        try {
          verifyConsistency(req.old, cp.size, req.proof, latest!.root, cp.root);
        } catch (e) {
          problem = `the consistency proof from size ${req.old} does not verify: ${(e as Error).message}`;
        }
      }
      if (problem !== undefined) {
        // Kept (a few per checkpoint): the log signed it, and it may not extend what was cosigned.
        await this.o.state.evidence(cp.origin, cp.size, cp.root, formatRequest(req.old, req.proof, kept), problem);
        return plain(422, problem);
      }
      // Durable before the answer (the spec's MUST), then cosign. Kept with the log's
      // verified lines only (so /latest never carries two by this witness either).
      await this.o.state.put(cp.origin, { size: cp.size, root: cp.root, checkpoint: kept });
      return { status: 200, contentType: 'text/plain; charset=utf-8', body: formatSignatureLine(this.signer.signAt(text, this.now())) };
    });
  }

  /**
   * latest returns the latest checkpoint cosigned for `origin`, with this witness's
   * cosignature of it (signed now), or undefined when it has cosigned none.
   */
  latest(origin: string): Promise<Uint8Array | undefined> {
    // Under the origin's lock: never a cosignature of an older checkpoint dated after a newer one's.
    return this.locked(origin, async () => {
      const rec = await this.o.state.get(origin);
      if (rec === undefined) return undefined;
      const note = fromUtf8(rec.checkpoint);
      const text = parseNote(rec.checkpoint).text;
      return utf8(note + formatSignatureLine(this.signer.signAt(text, this.now())));
    });
  }

  /**
   * evidence lists what this witness kept of the requests it refused as inconsistent for
   * `origin` (spec §13.2): for each, when, why, the checkpoint's size and root, the
   * checkpoint note the log signed, and the whole request; with the latest checkpoint it
   * cosigned, to compare. A page of at most MAX_EVIDENCE_LISTED by size, after the cursor
   * `after` (the `next` of the page before).
   */
  async evidence(origin: string, after?: string): Promise<EvidenceReport> {
    if (after !== undefined && !EVIDENCE_CURSOR.test(after)) throw new LedgerError('MALFORMED', 'the cursor is not one a page of /evidence gave');
    const latest = await this.o.state.get(origin);
    const kept = await this.o.state.evidences(origin, MAX_EVIDENCE_LISTED + 1, after);
    const page = kept.slice(0, MAX_EVIDENCE_LISTED);
    return {
      origin,
      latest: latest === undefined ? null : { size: latest.size, root: toBase64(latest.root), checkpoint: fromUtf8(latest.checkpoint) },
      evidence: page.map((e) => {
        // The request was parsed and its note's signature verified before it was kept.
        const req = parseRequest(e.request);
        const cp = parseCheckpoint(parseNote(req.note).text);
        return { time: e.time, reason: e.reason, size: cp.size, root: toBase64(cp.root), old: req.old, checkpoint: fromUtf8(req.note), request: toBase64(e.request) };
      }),
      next: kept.length > MAX_EVIDENCE_LISTED ? page[page.length - 1].cursor : null,
    };
  }

  private now(): number {
    return (this.o.now ?? (() => Math.floor(Date.now() / 1000)))();
  }

  /** locked runs f after every other change for this origin (check and store are one step). */
  private locked<T>(origin: string, f: () => Promise<T>): Promise<T> {
    const before = this.locks.get(origin) ?? Promise.resolve();
    const run = before.then(f, f);
    const settled = run.catch(() => {});
    this.locks.set(origin, settled);
    void settled.then(() => {
      if (this.locks.get(origin) === settled) this.locks.delete(origin);
    });
    return run;
  }
}

function plain(status: number, message: string): WitnessAnswer {
  return { status, contentType: 'text/plain; charset=utf-8', body: `${message}\n` };
}

/**
 * parseRequest splits an add-checkpoint body: "old <size>\n", up to 63 lines of one
 * base64 hash each, an empty line, then the checkpoint note. Throws LedgerError
 * MALFORMED with the reason.
 */
export function parseRequest(body: Uint8Array): Request {
  if (body.length > MAX_REQUEST_BYTES) throw new LedgerError('TOO_LARGE', `the request is over ${MAX_REQUEST_BYTES} bytes`);
  let at = 0;
  const line = (): string => {
    const end = body.indexOf(0x0a, at);
    if (end < 0) throw new LedgerError('MALFORMED', 'a line does not end in a newline');
    const s = fromUtf8(body.subarray(at, end));
    at = end + 1;
    return s;
  };
  const first = line();
  const m = /^old (0|[1-9][0-9]*)$/.exec(first);
  const old = m === null ? undefined : parseDecimal(m[1]);
  if (old === undefined) throw new LedgerError('MALFORMED', `the first line must be "old <size>", not ${JSON.stringify(first.slice(0, 40))}`);
  const proof: Uint8Array[] = [];
  for (;;) {
    const l = line();
    if (l === '') break;
    if (proof.length === MAX_PROOF_LINES) throw new LedgerError('MALFORMED', `more than ${MAX_PROOF_LINES} consistency proof lines`);
    let h: Uint8Array;
    try {
      h = fromBase64(l);
    } catch {
      throw new LedgerError('MALFORMED', 'a consistency proof line is not base64');
    }
    if (h.length !== 32) throw new LedgerError('MALFORMED', 'a consistency proof line is not a 32-byte hash');
    proof.push(h);
  }
  return { old, proof, note: body.slice(at) };
}

/** formatRequest writes an add-checkpoint body (the old size, the proof, the note), as kept for evidence. */
function formatRequest(old: number, proof: readonly Uint8Array[], note: Uint8Array): Uint8Array {
  return utf8(`old ${old}\n${proof.map((h) => toBase64(h) + '\n').join('')}\n${fromUtf8(note)}`);
}
