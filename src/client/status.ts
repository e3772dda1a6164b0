/**
 * Status statements (spec §8.7): the answer of GET /v1/certificates/<id>, verified
 * against the checkpoint it is bound to. Presence is proved (the issuance, a revocation
 * and the issuer's events, each with its inclusion proof); absence — "no revocation, no
 * retirement, no lower compromise" — is the status key's signed word as of the
 * checkpoint, which an auditor can hold against the operator. Pure: no I/O.
 */
import { LedgerError } from '../core/errors.js';
import type { CryptoBackend } from '../core/crypto.js';
import { equalBytes, toHex, utf8 } from '../core/bytes.js';
import { parseDecimal } from '../core/checkpoint.js';
import { openNote, parseVerifierKey, SIG_TYPE_ED25519, type NoteVerifier } from '../core/note.js';
import { leafHash, verifyInclusion } from '../core/merkle.js';
import { parseEvent, verifyEventSignature, type ParsedEvent, type CertIssue, type CertRevoke, type IssuerCompromise, type IssuerRegister, type IssuerRetire } from '../core/events.js';
import { isObject, malformed, readBase64, readText, readUint } from './http.js';
import { checkpointVerifiers, openCheckpoint, type CheckpointVerifiers } from './receipt.js';

export type CertState = 'active' | 'revoked' | 'compromised' | 'expired';

/** One proved event of a certificate. */
export interface StatusEvent {
  index: number;
  /** The entry bytes, proved at `index` in the statement's checkpoint. */
  entry: Uint8Array;
  leafHash: Uint8Array;
  event: CertIssue | CertRevoke;
}

/** One proved event of the certificate's issuer: its registration, its retirement, its lowest compromise. */
export interface IssuerEvent {
  index: number;
  entry: Uint8Array;
  leafHash: Uint8Array;
  event: IssuerRegister | IssuerRetire | IssuerCompromise;
}

/** A verified status statement (spec §8.7). */
export interface StatusStatement {
  origin: string;
  id: Uint8Array;
  state: CertState;
  /** The checkpoint the statement is bound to: its size, root and cosignature time T. */
  size: number;
  root: Uint8Array;
  time: number;
  /** The issuance and, if it was revoked before `size`, the revocation. */
  events: StatusEvent[];
  /** The issuer's registration, then (before `size`) its retirement and its lowest compromise. */
  issuer: IssuerEvent[];
  /** The index of the issuer's retirement, or null. */
  retired: number | null;
  /** The issuer's lowest proved compromise (`from` = c, and the event's index), or null. */
  compromised: { from: number; index: number } | null;
  /** The statement note, signed by the status key. */
  statement: Uint8Array;
  /** The checkpoint note, signed by the log key and the timestamp key. */
  checkpoint: Uint8Array;
}

/** The verifiers of a status answer. */
export interface StatusVerifiers extends CheckpointVerifiers {
  status: NoteVerifier;
  /** The root key (32 bytes): when given, the issuer events' signatures are checked too. */
  root?: Uint8Array;
}

/**
 * statusVerifiers parses the three vkeys (the status key: type 0x01) and, if given, the
 * root key (type 0x01). MALFORMED otherwise.
 */
export function statusVerifiers(keys: { logKey: string; timestampKey: string; statusKey: string; rootKey?: string }, backend?: CryptoBackend): StatusVerifiers {
  const status = parseVerifierKey(keys.statusKey, backend);
  if (status.type !== SIG_TYPE_ED25519) throw malformed('the status key must be an Ed25519 (0x01) key');
  if (keys.rootKey === undefined) return { ...checkpointVerifiers(keys, backend), status };
  const root = parseVerifierKey(keys.rootKey, backend);
  if (root.type !== SIG_TYPE_ED25519) throw malformed('the root key must be an Ed25519 (0x01) key');
  return { ...checkpointVerifiers(keys, backend), status, root: root.publicKey };
}

const invalid = (msg: string) => new LedgerError('INVALID_PROOF', msg);

interface StatusText {
  origin: string;
  id: string;
  state: CertState;
  size: number;
  root: Uint8Array;
  time: number;
  events: number[];
  issuer: number[];
}

const FIELDS = ['origin', 'id', 'state', 'size', 'root', 'time', 'events', 'issuer'] as const;

/**
 * parseStatusText parses the text of a statement (spec §8.7) strictly: the header line,
 * then exactly the seven lines in order, single spaces, canonical decimals, canonical
 * base64, ascending event indices. MALFORMED otherwise.
 */
export function parseStatusText(s: string): StatusText {
  const lines = s.split('\n');
  if (lines.length !== FIELDS.length + 2 || lines[0] !== 'dojang/v1/status' || lines[lines.length - 1] !== '') {
    throw malformed('a status statement is "dojang/v1/status" and eight lines');
  }
  const f: Record<string, string> = {};
  FIELDS.forEach((n, i) => {
    const line = lines[i + 1];
    if (!line.startsWith(n + ' ')) throw malformed(`status statement line ${i + 2} must start with "${n} "`);
    f[n] = line.slice(n.length + 1);
  });
  if (!/^[0-9a-f]{32}$/.test(f.id)) throw malformed('status statement id must be 32 lowercase hex digits');
  const state = f.state;
  if (state !== 'active' && state !== 'revoked' && state !== 'compromised' && state !== 'expired') throw malformed(`status statement state ${JSON.stringify(state)} is not known`);
  const size = parseDecimal(f.size);
  const time = parseDecimal(f.time);
  if (size === undefined || time === undefined) throw malformed('status statement size and time must be canonical decimals');
  const root = readBase64(f.root, 'status statement root', 32);
  const indices = (line: string, what: string): number[] => {
    const out = line.split(' ').map((x) => {
      const n = parseDecimal(x);
      if (n === undefined) throw malformed(`status statement ${what} must be canonical decimals separated by single spaces`);
      return n;
    });
    for (let i = 1; i < out.length; i++) if (out[i] <= out[i - 1]) throw malformed(`status statement ${what} must ascend`);
    return out;
  };
  const events = indices(f.events, 'events');
  const issuer = indices(f.issuer, 'issuer');
  if (events.length > 2) throw malformed('status statement events names the issuance and at most a revocation');
  if (issuer.length > 3) throw malformed('status statement issuer names a registration, at most a retirement and a compromise');
  return { origin: f.origin, id: f.id, state, size, root, time, events, issuer };
}

/**
 * verifyStatus checks the answer of GET /v1/certificates/<id> (spec §8.7: the JSON
 * { statement, checkpoint, events: [{ index, entry, proof }], issuer: [...] }) for the
 * certificate `id`:
 *  - the checkpoint: log key and timestamp key, the origin (openCheckpoint);
 *  - the statement: signed by the status key (BAD_SIGNATURE, UNKNOWN_KEY), exactly the
 *    text of §8.7 (MALFORMED), naming this id, the checkpoint's origin, size, root and
 *    cosignature time T, and exactly the events the answer proves, in order;
 *  - the events: each proved in the checkpoint; a cert.issue of this id signed by its
 *    issuer (BAD_SIGNATURE), then at most a cert.revoke of this id (whose signer the
 *    log's rules judged: a revocation can only make a verdict not valid);
 *  - the issuer events: proved likewise, an issuer.register, then an issuer.retire, then
 *    an issuer.compromise of the issuance's issuer, the registration before the
 *    issuance; signed by the root key when the verifiers hold one (BAD_SIGNATURE);
 *  - the state: `revoked` iff a revocation is proved, else `compromised` iff the proved
 *    compromise's `from` ≤ the issuance's index, else `expired` iff T ≥ validUntil, else
 *    `active`.
 * INVALID_PROOF for any mismatch; MALFORMED for JSON of another shape. `keys` are vkeys
 * or verifiers made by statusVerifiers.
 */
export function verifyStatus(id: Uint8Array, json: unknown, keys: { logKey: string; timestampKey: string; statusKey: string; rootKey?: string } | StatusVerifiers): StatusStatement {
  return verifyStatusParts(id, statusParts(json), keys);
}

/** The parts of a status answer (spec §8.7), read but not verified: notes as text, bytes as bytes. */
export interface StatusParts {
  statement: string;
  checkpoint: string;
  events: { index: number; entry: Uint8Array; proof: Uint8Array[] }[];
  issuer: { index: number; entry: Uint8Array; proof: Uint8Array[] }[];
}

/** statusParts reads the JSON of a status answer (MALFORMED for another shape). */
export function statusParts(json: unknown): StatusParts {
  if (!isObject(json)) throw malformed('a status answer is { statement, checkpoint, events: [], issuer: [] }');
  const list = (x: unknown, what: string) => {
    if (!Array.isArray(x)) throw malformed(`a status answer's ${what} is an array`);
    return x.map((r) => {
      if (!isObject(r) || !Array.isArray(r.proof)) throw malformed(`a status ${what} item is { index, entry, proof: [] }`);
      return { index: readUint(r.index, `status ${what} index`), entry: readBase64(r.entry, `status ${what} entry`), proof: r.proof.map((h) => readBase64(h, `status ${what} proof hash`, 32)) };
    });
  };
  return { statement: readText(json.statement, 'status statement'), checkpoint: readText(json.checkpoint, 'status checkpoint'), events: list(json.events, 'events'), issuer: list(json.issuer, 'issuer') };
}

/**
 * verifyStatusParts is verifyStatus on an answer already read (statusParts, or as a
 * presentation carries it). `known(leafHash)` may vouch for an entry the caller has
 * already parsed and whose signature it has checked, by returning its parse (it is not
 * parsed or checked again); everything else is.
 */
export function verifyStatusParts(
  id: Uint8Array,
  parts: StatusParts,
  keys: { logKey: string; timestampKey: string; statusKey: string; rootKey?: string } | StatusVerifiers,
  known: (leafHash: Uint8Array) => ParsedEvent | undefined = () => undefined,
): StatusStatement {
  const v = 'log' in keys ? keys : statusVerifiers(keys);
  const checkpoint = utf8(parts.checkpoint);
  const statement = utf8(parts.statement);
  const { checkpoint: cp, time } = openCheckpoint(checkpoint, v);
  const st = parseStatusText(openNote(statement, [v.status]).note.text);
  if (st.origin !== cp.origin) throw invalid('the statement is about another log than its checkpoint');
  if (st.id !== toHex(id)) throw invalid(`the statement is about certificate ${st.id}, not ${toHex(id)}`);
  if (st.size !== cp.size || !equalBytes(st.root, cp.root)) throw invalid('the statement names another tree than its checkpoint');
  if (st.time !== time) throw invalid(`the statement says time ${st.time}, its checkpoint was cosigned at ${time}`);
  const proved = (list: StatusParts['events'], names: number[], what: string) => {
    if (list.length !== names.length) throw invalid(`the statement names ${names.length} ${what}, the answer proves ${list.length}`);
    return list.map(({ index, entry, proof }, i) => {
      if (index !== names[i]) throw invalid(`the statement names ${what} ${names[i]}, the answer proves ${index}`);
      const leaf = leafHash(entry);
      verifyInclusion(leaf, index, cp.size, proof, cp.root); // INVALID_PROOF
      const vouched = known(leaf);
      if (vouched !== undefined) return { index, entry, leafHash: leaf, parsed: vouched, vouched: true };
      try {
        return { index, entry, leafHash: leaf, parsed: parseEvent(entry), vouched: false };
      } catch (e) {
        throw new LedgerError('INVALID_PROOF', `entry ${index} is not a certificate event: ${(e as Error).message}`, { cause: e });
      }
    });
  };
  const events = proved(parts.events, st.events, 'events').map(({ index, entry, leafHash: leaf, parsed, vouched }, i): StatusEvent => {
    const ev = parsed.event;
    const want = i === 0 ? 'cert.issue' : 'cert.revoke';
    if (ev.type !== want) throw invalid(`status event ${index} is a ${ev.type}, not a ${want}`);
    if (!equalBytes(ev.id, id)) throw invalid(`event ${index} is of another certificate`);
    if (i === 0 && !vouched) verifyEventSignature(parsed, parsed.signer as Uint8Array, v.backend); // BAD_SIGNATURE: the log would hold a forged issuance
    return { index, entry, leafHash: leaf, event: ev };
  });
  const issue = events[0].event as CertIssue;
  const ISSUER_TYPES = ['issuer.register', 'issuer.retire', 'issuer.compromise'] as const;
  const issuer = proved(parts.issuer, st.issuer, 'issuer').map(({ index, entry, leafHash: leaf, parsed, vouched }, i): IssuerEvent => {
    const ev = parsed.event;
    if (ev.type !== ISSUER_TYPES[i]) throw invalid(`issuer event ${index} is a ${ev.type}, not an ${ISSUER_TYPES[i]}`);
    if (!equalBytes((ev as IssuerRegister | IssuerRetire | IssuerCompromise).issuer, issue.issuer)) throw invalid(`issuer event ${index} is about another key than the issuance's issuer`);
    if (v.root !== undefined && !vouched) verifyEventSignature(parsed, v.root, v.backend); // BAD_SIGNATURE
    return { index, entry, leafHash: leaf, event: ev as IssuerRegister | IssuerRetire | IssuerCompromise };
  });
  if (issuer[0].index >= events[0].index) throw invalid('the issuer was registered after the issuance');
  const retired = issuer.length > 1 ? issuer[1].index : null;
  const compromised = issuer.length > 2 ? { from: (issuer[2].event as IssuerCompromise).from, index: issuer[2].index } : null;
  const revoked = events.length > 1;
  const state: CertState = revoked ? 'revoked' : compromised !== null && compromised.from <= events[0].index ? 'compromised' : time >= issue.validUntil ? 'expired' : 'active';
  if (st.state !== state) throw invalid(`the statement says ${st.state}, the proved events say ${state}`);
  return { origin: st.origin, id: id.slice(), state, size: cp.size, root: cp.root, time, events, issuer, retired, compromised, statement, checkpoint };
}
