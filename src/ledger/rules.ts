/**
 * CertificateRules judges certificate events at sequencing (spec §5.9), against the
 * certificate state index the store keeps atomically with the log (store.ts
 * readState / AppendBatch.state).
 *
 * State records (keys: one prefix byte ‖ id; values: deterministic CBOR maps):
 *
 *   'I' ‖ issuer key(32)  { name, docTypes, registered: index, retired: index | null }
 *   'C' ‖ cert id(16)     { issuer, docType, holder, issuedAt, validUntil, issue: index,
 *                           revoked: index | null, events: [index, …] }
 *   'P' ‖ leaf hash(32)   { id, index, holder: key | null, recipient: bytes32 | null }
 *                         — an issuance (holder) or a transfer (recipient commitment):
 *                           the events a cert.transfer may name as its parent
 *
 * Signatures are not checked here: the ledger verifies every event's signature (on
 * worker threads) before it reaches the sequencer. The rules only decide whether the
 * key that signed has the role the event needs at this point of the log.
 *
 * Batches are pipelined (sequencer.ts), so a batch is judged before the one before it
 * is durable: judgements go through an overlay of state written by prepared batches,
 * consulted before the store and dropped once the store holds the writes.
 */
import { LedgerError } from '../core/errors.js';
import { decodeCbor, encodeCbor, type CborValue } from '../core/cbor.js';
import { byteKey, concatBytes, equalBytes } from '../core/bytes.js';
import { MAX_CLOCK_SKEW_S, recipientCommitment, type ParsedEvent } from '../core/events.js';
import type { StateWrite } from '../storage/store.js';

/** MAX_EVENTS_PER_CERT bounds a certificate's record (its event list) — spec §5.9. */
export const MAX_EVENTS_PER_CERT = 4096;

export interface StateView {
  readState(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
}

export interface IssuerRecord {
  name: string;
  docTypes: string[];
  registered: number;
  retired: number | null;
}

export interface CertRecord {
  issuer: Uint8Array;
  docType: string;
  holder: Uint8Array;
  issuedAt: number;
  validUntil: number;
  issue: number;
  revoked: number | null;
  events: number[];
}

/**
 * certificateAt is what a status statement says of a certificate (spec §8.7) as of the
 * tree of `size` cosigned at `time`: its state, its event indices, and its issuer's
 * registration (and, if retired before `size`, retirement) indices. Undefined when none
 * of its events is in that tree. The ledger signs it; the auditor recomputes it.
 */
export function certificateAt(rec: CertRecord, iss: IssuerRecord, size: number, time: number): { state: 'active' | 'revoked' | 'expired'; events: number[]; issuer: number[] } | undefined {
  const events = rec.events.filter((i) => i < size);
  if (events.length === 0) return undefined;
  const state = rec.revoked !== null && rec.revoked < size ? 'revoked' : time >= rec.validUntil ? 'expired' : 'active';
  const issuer = iss.retired !== null && iss.retired < size ? [iss.registered, iss.retired] : [iss.registered];
  return { state, events, issuer };
}

export interface ParentRecord {
  id: Uint8Array;
  index: number;
  holder: Uint8Array | null;
  recipient: Uint8Array | null;
}

export const issuerKey = (k: Uint8Array) => concatBytes(new Uint8Array([0x49]), k);
export const certKey = (id: Uint8Array) => concatBytes(new Uint8Array([0x43]), id);
export const parentKey = (leaf: Uint8Array) => concatBytes(new Uint8Array([0x50]), leaf);

export interface JudgeInput {
  /** The events of the batch in order; undefined for entries that are not certificate events. */
  events: readonly (ParsedEvent | undefined)[];
  leafHashes: readonly Uint8Array[];
  time: number;
  /** Index the first accepted entry will get. */
  firstIndex: number;
}

export interface Judgement {
  verdicts: (LedgerError | undefined)[];
  state: StateWrite[];
}

type Rec = IssuerRecord | CertRecord | ParentRecord;

export class CertificateRules {
  private readonly overlay = new Map<string, Uint8Array | null>();
  /**
   * Records decoded from (or encoded to) a value, by the value's bytes object: a batch
   * of issuances by one issuer decodes its record once. Records are never mutated
   * (judgeOne copies before it changes one).
   */
  private readonly decoded = new WeakMap<Uint8Array, Rec>();

  constructor(private readonly view: StateView) {}

  /**
   * judge decides each event in order at time T; an accepted event is visible to the
   * ones after it. Entries that are not certificate events (undefined) are accepted
   * here (other rules judge them) and take an index.
   */
  async judge(input: JudgeInput): Promise<Judgement> {
    const keys = new Map<string, Uint8Array>();
    for (const p of input.events) if (p !== undefined) for (const k of keysOf(p)) keys.set(byteKey(k), k);
    const values = await this.read([...keys.values()]);
    const local = new Map<string, Uint8Array | undefined>();
    [...keys.keys()].forEach((h, i) => local.set(h, values[i]));
    const written = new Map<string, { key: Uint8Array; value: Uint8Array }>();
    const get = <T extends Rec>(k: Uint8Array): T | undefined => {
      const v = local.get(byteKey(k));
      if (v === undefined) return undefined;
      let r = this.decoded.get(v);
      if (r === undefined) this.decoded.set(v, (r = fromCbor(v)));
      return r as T;
    };
    const put = (k: Uint8Array, r: Rec): void => {
      const v = encodeCbor(toCbor(r));
      this.decoded.set(v, r);
      const id = byteKey(k);
      local.set(id, v);
      written.set(id, { key: k, value: v });
    };

    const verdicts: (LedgerError | undefined)[] = [];
    let index = input.firstIndex;
    input.events.forEach((p, i) => {
      if (p === undefined) {
        verdicts.push(undefined);
        index++;
        return;
      }
      const err = this.judgeOne(p, input.leafHashes[i], input.time, index, get, put);
      verdicts.push(err);
      if (err === undefined) index++;
    });
    const state = [...written.values()].map((w) => ({ key: w.key, value: w.value }));
    for (const w of state) this.overlay.set(byteKey(w.key), w.value);
    return { verdicts, state };
  }

  /** persisted drops overlay entries the store now holds (unless a later batch rewrote them). */
  persisted(writes: readonly StateWrite[]): void {
    for (const w of writes) {
      const h = byteKey(w.key);
      if (this.overlay.get(h) === w.value) this.overlay.delete(h);
    }
  }

  private async read(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    const out = new Array<Uint8Array | undefined>(keys.length);
    const miss: number[] = [];
    keys.forEach((k, i) => {
      const h = byteKey(k);
      if (this.overlay.has(h)) out[i] = this.overlay.get(h) ?? undefined;
      else miss.push(i);
    });
    if (miss.length > 0) {
      const got = await this.view.readState(miss.map((i) => keys[i]));
      miss.forEach((i, j) => (out[i] = got[j]));
    }
    return out;
  }

  private judgeOne(
    p: ParsedEvent,
    leaf: Uint8Array,
    T: number,
    index: number,
    get: <R extends Rec>(k: Uint8Array) => R | undefined,
    put: (k: Uint8Array, r: Rec) => void,
  ): LedgerError | undefined {
    const e = p.event;
    if (Math.abs(e.time - T) > MAX_CLOCK_SKEW_S) {
      return new LedgerError('CLOCK_SKEW', `event time ${e.time} is ${e.time - T} s from the batch time ${T} (limit ±${MAX_CLOCK_SKEW_S} s)`);
    }
    switch (e.type) {
      case 'issuer.register': {
        const r = get<IssuerRecord>(issuerKey(e.issuer));
        if (r !== undefined && r.retired === null) return new LedgerError('CONFLICT', 'issuer key is already registered');
        if (r !== undefined) return new LedgerError('ISSUER_RETIRED', 'a retired issuer key cannot be registered again');
        put(issuerKey(e.issuer), { name: e.name, docTypes: e.docTypes, registered: index, retired: null });
        return undefined;
      }
      case 'issuer.retire': {
        const r = get<IssuerRecord>(issuerKey(e.issuer));
        if (r === undefined) return new LedgerError('UNKNOWN_ISSUER', 'issuer key is not registered');
        if (r.retired !== null) return new LedgerError('ISSUER_RETIRED', `issuer key was retired at index ${r.retired}`);
        put(issuerKey(e.issuer), { ...r, retired: index });
        return undefined;
      }
      case 'cert.issue': {
        const r = get<IssuerRecord>(issuerKey(e.issuer));
        if (r === undefined) return new LedgerError('UNKNOWN_ISSUER', 'issuer key is not registered');
        if (r.retired !== null) return new LedgerError('ISSUER_RETIRED', `issuer key was retired at index ${r.retired}`);
        if (!r.docTypes.includes(e.docType)) return new LedgerError('DOCTYPE_NOT_ALLOWED', `issuer is not registered for ${e.docType}`);
        if (get<CertRecord>(certKey(e.id)) !== undefined) return new LedgerError('DUPLICATE_CERT', 'a certificate with this id exists');
        if (e.issuedAt >= e.validUntil) return new LedgerError('BAD_REQUEST', 'issuedAt must be before validUntil');
        if (e.issuedAt > T + MAX_CLOCK_SKEW_S) return new LedgerError('BAD_REQUEST', 'issuedAt is in the future');
        if (T >= e.validUntil) return new LedgerError('CERT_EXPIRED', 'validUntil is not after the batch time');
        put(certKey(e.id), { issuer: e.issuer, docType: e.docType, holder: e.holder, issuedAt: e.issuedAt, validUntil: e.validUntil, issue: index, revoked: null, events: [index] });
        put(parentKey(leaf), { id: e.id, index, holder: e.holder, recipient: null });
        return undefined;
      }
      case 'cert.transfer': {
        const c = get<CertRecord>(certKey(e.id));
        if (c === undefined) return new LedgerError('UNKNOWN_CERT', 'no certificate with this id');
        const parent = get<ParentRecord>(parentKey(e.parent));
        if (parent === undefined || !equalBytes(parent.id, e.id)) return new LedgerError('UNKNOWN_PARENT', 'the parent is not an issuance or transfer of this certificate');
        if (parent.holder !== null) {
          if (e.senderSalt !== null || !equalBytes(parent.holder, e.sender)) return new LedgerError('NOT_HOLDER', 'the sender is not the holder named by the issuance');
        } else if (e.senderSalt === null || !equalBytes(recipientCommitment(e.senderSalt, e.sender), parent.recipient!)) {
          return new LedgerError('NOT_HOLDER', 'the sender does not open the recipient commitment of the parent transfer');
        }
        if (c.revoked !== null) return new LedgerError('CERT_REVOKED', `the certificate was revoked at index ${c.revoked}`);
        if (T >= c.validUntil) return new LedgerError('CERT_EXPIRED', 'the certificate has expired');
        if (c.events.length >= MAX_EVENTS_PER_CERT) return new LedgerError('TOO_LARGE', `a certificate has at most ${MAX_EVENTS_PER_CERT} events`);
        put(certKey(e.id), { ...c, events: [...c.events, index] });
        put(parentKey(leaf), { id: e.id, index, holder: null, recipient: e.recipient });
        return undefined;
      }
      case 'cert.revoke': {
        const c = get<CertRecord>(certKey(e.id));
        if (c === undefined) return new LedgerError('UNKNOWN_CERT', 'no certificate with this id');
        if (!equalBytes(c.issuer, e.issuer)) return new LedgerError('NOT_ISSUER', 'only the issuing issuer may revoke');
        const r = get<IssuerRecord>(issuerKey(e.issuer));
        if (r === undefined) return new LedgerError('UNKNOWN_ISSUER', 'issuer key is not registered');
        if (r.retired !== null) return new LedgerError('ISSUER_RETIRED', `issuer key was retired at index ${r.retired}`);
        if (c.revoked !== null) return new LedgerError('CERT_REVOKED', `the certificate was revoked at index ${c.revoked}`);
        if (T >= c.validUntil) return new LedgerError('CERT_EXPIRED', 'the certificate has expired');
        if (c.events.length >= MAX_EVENTS_PER_CERT) return new LedgerError('TOO_LARGE', `a certificate has at most ${MAX_EVENTS_PER_CERT} events`);
        put(certKey(e.id), { ...c, revoked: index, events: [...c.events, index] });
        return undefined;
      }
    }
  }
}

function keysOf(p: ParsedEvent): Uint8Array[] {
  const e = p.event;
  switch (e.type) {
    case 'issuer.register':
    case 'issuer.retire':
      return [issuerKey(e.issuer)];
    case 'cert.issue':
      return [issuerKey(e.issuer), certKey(e.id)];
    case 'cert.transfer':
      return [certKey(e.id), parentKey(e.parent)];
    case 'cert.revoke':
      return [certKey(e.id), issuerKey(e.issuer)];
  }
}

function toCbor(r: Rec): CborValue {
  return r as unknown as CborValue;
}

function fromCbor(v: Uint8Array): Rec {
  return decodeCbor(v) as unknown as Rec;
}
