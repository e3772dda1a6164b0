/**
 * CertificateRules judges certificate events at sequencing (spec §5.9), against the
 * certificate state index the store keeps atomically with the log (store.ts
 * readState / AppendBatch.state).
 *
 * State records (keys: one prefix byte ‖ id; values: deterministic CBOR maps of constant
 * size — none grows with a certificate's copies, spec §8.3):
 *
 *   'D' ‖ document type   { maxValidity, registered: index }
 *   'I' ‖ issuer key(32)  { name, docTypes, registered: index, retired: index | null,
 *                           successor: key | null, compromises: [[from, index], …] }
 *   'C' ‖ cert id(16)     { issuer, docType, holder, issuedAt, validUntil, issue: index,
 *                           revoked: index | null }
 *   'P' ‖ leaf hash(32)   { id, index, holder: key | null, recipient: bytes32 | null, depth }
 *                         — an issuance (holder, depth 0) or a transfer (recipient
 *                           commitment, the parent's depth + 1): the events a
 *                           cert.transfer may name as its parent
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
import { byteKey, concatBytes, equalBytes, utf8 } from '../core/bytes.js';
import { MAX_CLOCK_SKEW_S, recipientCommitment, type ParsedEvent } from '../core/events.js';
import type { StateWrite } from '../storage/store.js';

/** MAX_TRANSFER_DEPTH: a chain has at most this many transfers (spec §5.9, §10.1). */
export const MAX_TRANSFER_DEPTH = 64;
/** MAX_COMPROMISES: issuer.compromise events per issuer (spec §5.9). */
export const MAX_COMPROMISES = 16;

export interface StateView {
  readState(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
}

export interface DoctypeRecord {
  maxValidity: number;
  registered: number;
}

export interface IssuerRecord {
  name: string;
  docTypes: string[];
  registered: number;
  retired: number | null;
  successor: Uint8Array | null;
  /** [from, index] of each issuer.compromise, in log order: `from` descends. */
  compromises: [number, number][];
}

export interface CertRecord {
  issuer: Uint8Array;
  docType: string;
  holder: Uint8Array;
  issuedAt: number;
  validUntil: number;
  issue: number;
  revoked: number | null;
}

export type CertState = 'active' | 'revoked' | 'compromised' | 'expired';

/**
 * compromiseAt returns the issuer.compromise with the lowest `from` among those before
 * `size` (the latest of them), as [from, index], or undefined.
 */
export function compromiseAt(iss: IssuerRecord, size: number): [number, number] | undefined {
  let out: [number, number] | undefined;
  for (const c of iss.compromises ?? []) if (c[1] < size) out = c;
  return out;
}

/**
 * certificateAt is what a status statement says of a certificate (spec §8.7) as of the
 * tree of `size` cosigned at `time`: its state, its event indices (the issuance and any
 * revocation), and its issuer's registration, retirement and lowest compromise indices
 * before `size`. Undefined when the issuance is not in that tree. The ledger signs it;
 * the auditor recomputes it.
 */
export function certificateAt(rec: CertRecord, iss: IssuerRecord, size: number, time: number): { state: CertState; events: number[]; issuer: number[] } | undefined {
  if (rec.issue >= size) return undefined;
  const revoked = rec.revoked !== null && rec.revoked < size;
  const events = revoked ? [rec.issue, rec.revoked!] : [rec.issue];
  const issuer = [iss.registered];
  if (iss.retired !== null && iss.retired < size) issuer.push(iss.retired);
  const c = compromiseAt(iss, size);
  if (c !== undefined) issuer.push(c[1]);
  const state: CertState = revoked ? 'revoked' : c !== undefined && c[0] <= rec.issue ? 'compromised' : time >= rec.validUntil ? 'expired' : 'active';
  return { state, events, issuer };
}

/** isCompromisedFor: was the issuer compromised (so far) from an index ≤ the issuance's? */
function compromisedFor(iss: IssuerRecord, issue: number): boolean {
  const last = (iss.compromises ?? []).at(-1);
  return last !== undefined && last[0] <= issue;
}

export interface ParentRecord {
  id: Uint8Array;
  index: number;
  holder: Uint8Array | null;
  recipient: Uint8Array | null;
  /** 0 for an issuance, the parent's depth + 1 for a transfer. */
  depth: number;
}

export const issuerKey = (k: Uint8Array) => concatBytes(new Uint8Array([0x49]), k);
export const certKey = (id: Uint8Array) => concatBytes(new Uint8Array([0x43]), id);
export const parentKey = (leaf: Uint8Array) => concatBytes(new Uint8Array([0x50]), leaf);
export const doctypeKey = (docType: string) => concatBytes(new Uint8Array([0x44]), utf8(docType));

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

type Rec = DoctypeRecord | IssuerRecord | CertRecord | ParentRecord;

export class CertificateRules {
  private readonly overlay = new Map<string, Uint8Array | null>();
  /**
   * Records decoded from (or encoded to) a value, by the value's bytes object: a batch
   * of issuances by one issuer decodes its record once. Records are never mutated
   * (judgeOne copies before it changes one).
   */
  private readonly decoded = new WeakMap<Uint8Array, Rec>();

  /** rootKey: the root key of the genesis entry (it may revoke a retired issuer's certificates). */
  constructor(
    private readonly view: StateView,
    private readonly rootKey: Uint8Array,
  ) {}

  /**
   * judge decides each event in order at time T; an accepted event is visible to the
   * ones after it. Entries that are not certificate events (undefined) are accepted
   * here (other rules judge them) and take an index.
   */
  async judge(input: JudgeInput): Promise<Judgement> {
    const local = new Map<string, Uint8Array | undefined>();
    const load = async (list: Uint8Array[]) => {
      const keys = new Map<string, Uint8Array>();
      for (const k of list) if (!local.has(byteKey(k))) keys.set(byteKey(k), k);
      const values = await this.read([...keys.values()]);
      [...keys.keys()].forEach((h, i) => local.set(h, values[i]));
    };
    await load(input.events.flatMap((p) => (p === undefined ? [] : keysOf(p))));
    // A transfer or revocation does not name the certificate's issuer: read it from the
    // certificate's record (spec §5.7). Certificates issued in this batch have theirs loaded.
    const second: Uint8Array[] = [];
    for (const p of input.events) {
      if (p?.event.type !== 'cert.transfer' && p?.event.type !== 'cert.revoke') continue;
      const v = local.get(byteKey(certKey(p.event.id)));
      if (v !== undefined) second.push(issuerKey((fromCbor(v) as CertRecord).issuer));
    }
    await load(second);
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
      case 'doctype.register': {
        put(doctypeKey(e.docType), { maxValidity: e.maxValidity, registered: index });
        return undefined;
      }
      case 'issuer.register': {
        const r = get<IssuerRecord>(issuerKey(e.issuer));
        if (r !== undefined && r.retired === null) return new LedgerError('CONFLICT', 'issuer key is already registered');
        if (r !== undefined) return new LedgerError('ISSUER_RETIRED', 'a retired issuer key cannot be registered again');
        put(issuerKey(e.issuer), { name: e.name, docTypes: e.docTypes, registered: index, retired: null, successor: null, compromises: [] });
        return undefined;
      }
      case 'issuer.retire': {
        const r = get<IssuerRecord>(issuerKey(e.issuer));
        if (r === undefined) return new LedgerError('UNKNOWN_ISSUER', 'issuer key is not registered');
        if (r.retired !== null) return new LedgerError('ISSUER_RETIRED', `issuer key was retired at index ${r.retired}`);
        put(issuerKey(e.issuer), { ...r, retired: index });
        return undefined;
      }
      case 'issuer.succeed': {
        const r = get<IssuerRecord>(issuerKey(e.issuer));
        if (r === undefined) return new LedgerError('UNKNOWN_ISSUER', 'issuer key is not registered');
        if (r.retired === null) return new LedgerError('ISSUER_NOT_RETIRED', 'only a retired issuer has a successor');
        if ((r.successor ?? null) !== null) return new LedgerError('CONFLICT', 'the issuer already has a successor');
        const s = get<IssuerRecord>(issuerKey(e.successor));
        if (s === undefined) return new LedgerError('UNKNOWN_ISSUER', 'the successor key is not registered');
        if (s.retired !== null) return new LedgerError('ISSUER_RETIRED', `the successor key was retired at index ${s.retired}`);
        put(issuerKey(e.issuer), { ...r, successor: e.successor });
        return undefined;
      }
      case 'issuer.compromise': {
        const r = get<IssuerRecord>(issuerKey(e.issuer));
        if (r === undefined) return new LedgerError('UNKNOWN_ISSUER', 'issuer key is not registered');
        if (r.retired === null) return new LedgerError('ISSUER_NOT_RETIRED', 'retire the issuer before marking it compromised');
        if (e.from > r.retired) return new LedgerError('BAD_COMPROMISE', `from ${e.from} is after the retirement at index ${r.retired}`);
        const list = r.compromises ?? [];
        const last = list.at(-1);
        if (last !== undefined && e.from >= last[0]) return new LedgerError('BAD_COMPROMISE', `the issuer is compromised from index ${last[0]} already: a later compromise may only lower it`);
        if (list.length >= MAX_COMPROMISES) return new LedgerError('BAD_COMPROMISE', `at most ${MAX_COMPROMISES} compromise events per issuer`);
        put(issuerKey(e.issuer), { ...r, compromises: [...list, [e.from, index]] });
        return undefined;
      }
      case 'cert.issue': {
        const r = get<IssuerRecord>(issuerKey(e.issuer));
        if (r === undefined) return new LedgerError('UNKNOWN_ISSUER', 'issuer key is not registered');
        if (r.retired !== null) return new LedgerError('ISSUER_RETIRED', `issuer key was retired at index ${r.retired}`);
        if (!r.docTypes.includes(e.docType)) return new LedgerError('DOCTYPE_NOT_ALLOWED', `issuer is not registered for ${e.docType}`);
        const d = get<DoctypeRecord>(doctypeKey(e.docType));
        if (d === undefined) return new LedgerError('UNKNOWN_DOCTYPE', `${e.docType} is not in the log's document type registry`);
        if (get<CertRecord>(certKey(e.id)) !== undefined) return new LedgerError('DUPLICATE_CERT', 'a certificate with this id exists');
        if (e.issuedAt >= e.validUntil) return new LedgerError('BAD_REQUEST', 'issuedAt must be before validUntil');
        if (Math.abs(e.issuedAt - T) > MAX_CLOCK_SKEW_S) return new LedgerError('ISSUED_AT_SKEW', `issuedAt ${e.issuedAt} is ${e.issuedAt - T} s from the batch time ${T} (limit ±${MAX_CLOCK_SKEW_S} s)`);
        if (e.validUntil - e.issuedAt > d.maxValidity) return new LedgerError('VALIDITY_TOO_LONG', `${e.docType} is valid at most ${d.maxValidity} s, this issuance ${e.validUntil - e.issuedAt} s`);
        if (T >= e.validUntil) return new LedgerError('CERT_EXPIRED', 'validUntil is not after the batch time');
        put(certKey(e.id), { issuer: e.issuer, docType: e.docType, holder: e.holder, issuedAt: e.issuedAt, validUntil: e.validUntil, issue: index, revoked: null });
        put(parentKey(leaf), { id: e.id, index, holder: e.holder, recipient: null, depth: 0 });
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
        const iss = get<IssuerRecord>(issuerKey(c.issuer));
        if (iss === undefined) throw new LedgerError('STATE_MISMATCH', 'a certificate names an issuer the state index does not hold');
        if (compromisedFor(iss, c.issue)) return new LedgerError('ISSUER_COMPROMISED', `the issuer was compromised from index ${iss.compromises.at(-1)![0]}, at or before this issuance (${c.issue})`);
        if (T >= c.validUntil) return new LedgerError('CERT_EXPIRED', 'the certificate has expired');
        const depth = (parent.depth ?? 0) + 1;
        if (depth > MAX_TRANSFER_DEPTH) return new LedgerError('CHAIN_TOO_LONG', `a chain has at most ${MAX_TRANSFER_DEPTH} transfers (a presentation carries no more)`);
        put(parentKey(leaf), { id: e.id, index, holder: null, recipient: e.recipient, depth });
        return undefined;
      }
      case 'cert.revoke': {
        const c = get<CertRecord>(certKey(e.id));
        if (c === undefined) return new LedgerError('UNKNOWN_CERT', 'no certificate with this id');
        const iss = get<IssuerRecord>(issuerKey(c.issuer));
        if (iss === undefined) throw new LedgerError('STATE_MISMATCH', 'a certificate names an issuer the state index does not hold');
        const entitled = this.entitled(c, iss, e.revoker, get);
        if (entitled !== undefined) return entitled;
        if (c.revoked !== null) return new LedgerError('CERT_REVOKED', `the certificate was revoked at index ${c.revoked}`);
        if (T >= c.validUntil) return new LedgerError('CERT_EXPIRED', 'the certificate has expired');
        put(certKey(e.id), { ...c, revoked: index });
        return undefined;
      }
    }
  }

  /** entitled is revocationRefusal with the successor's record read from this batch's view. */
  private entitled(c: CertRecord, iss: IssuerRecord, key: Uint8Array, get: <R extends Rec>(k: Uint8Array) => R | undefined): LedgerError | undefined {
    const successor = (iss.successor ?? null) === null ? undefined : get<IssuerRecord>(issuerKey(iss.successor!));
    return revocationRefusal(c, iss, successor, key, this.rootKey);
  }
}

/**
 * revocationRefusal decides whether `key` may revoke the certificate `c` of issuer `iss`
 * (spec §5.9): its issuer while active; once retired, the successor (`successor`: its
 * record) while active, or the root key. Undefined when it may, else the refusal
 * (ISSUER_RETIRED, NOT_ISSUER).
 */
export function revocationRefusal(c: CertRecord, iss: IssuerRecord, successor: IssuerRecord | undefined, key: Uint8Array, rootKey: Uint8Array): LedgerError | undefined {
  if (iss.retired === null) return equalBytes(key, c.issuer) ? undefined : new LedgerError('NOT_ISSUER', "only the certificate's issuer may revoke it while its key is active");
  if (equalBytes(key, rootKey)) return undefined;
  if (equalBytes(key, c.issuer)) return new LedgerError('ISSUER_RETIRED', `issuer key was retired at index ${iss.retired}: its successor or the root key revokes`);
  if ((iss.successor ?? null) !== null && equalBytes(key, iss.successor!)) {
    if (successor !== undefined && successor.retired === null) return undefined;
    return new LedgerError('ISSUER_RETIRED', 'the successor key was retired too: the root key revokes');
  }
  return new LedgerError('NOT_ISSUER', "the key is neither the retired issuer's successor nor the root key");
}

function keysOf(p: ParsedEvent): Uint8Array[] {
  const e = p.event;
  switch (e.type) {
    case 'doctype.register':
      return [doctypeKey(e.docType)];
    case 'issuer.register':
    case 'issuer.retire':
    case 'issuer.compromise':
      return [issuerKey(e.issuer)];
    case 'issuer.succeed':
      return [issuerKey(e.issuer), issuerKey(e.successor)];
    case 'cert.issue':
      return [issuerKey(e.issuer), doctypeKey(e.docType), certKey(e.id)];
    case 'cert.transfer':
      return [certKey(e.id), parentKey(e.parent)];
    case 'cert.revoke':
      return [certKey(e.id), issuerKey(e.revoker)];
  }
}

function toCbor(r: Rec): CborValue {
  return r as unknown as CborValue;
}

function fromCbor(v: Uint8Array): Rec {
  return decodeCbor(v) as unknown as Rec;
}
