/**
 * A slow, obvious model of the certificate rules of spec §5.9 (with §5.2's genesis rule,
 * §5.7's key check, §8.2's strong dedup, §8.3's state records and §8.7's status
 * statements), written from the spec text alone to cross-check the sequencer
 * (src/ledger/rules.ts) through POST /v1/entries (§8.6). It shares no code with src/: it
 * hashes with node:crypto and never parses CBOR. The test that drives it builds every
 * entry itself, so it hands the model the event it signed (or, for bytes it built to be
 * unreadable, the code §5.1/§5.2/§5.7 give them).
 *
 * There is no state but the list of accepted entries: every question ("is this issuer
 * active?", "what is this document type's maximum validity?", "how many transfers is
 * this parent from its issuance?") is a linear scan of that list from the start, exactly
 * as an auditor replaying the log would answer it.
 *
 * Order of the checks, from the spec:
 *   1. bytes already in the log: answered with their first index (§8.2 step 2);
 *   2. bytes that do not parse: MALFORMED, NON_CANONICAL, TOO_LARGE, UNSUPPORTED (§5.1,
 *      §5.2, §5.7); a `genesis` entry anywhere but index 0: CONFLICT (§5.2);
 *   3. a body key that §2.2 refuses: BAD_KEY (§5.7: a parser refuses it, and §8.6 parses
 *      before it verifies the signature);
 *   4. the signature under the key the type names (§5.7 table: the root key for
 *      doctype.* and issuer.*, `issuer` for cert.issue, `sender` for cert.transfer,
 *      `revoker` for cert.revoke): BAD_SIGNATURE (§5.9 bullet 1);
 *   5. |time − T| ≤ 300: CLOCK_SKEW (§5.9 bullet 2);
 *   6. the bullets of the event's type, in the order §5.9 lists them, the first broken
 *      rule deciding.
 *
 * Where the spec can be read two ways, `Readings` names both and the test picks one;
 * the report of the test run says which the code follows.
 */
import { createHash } from 'node:crypto';

// ---------------------------------------------------------------------------------------
// Events, as the spec's §5.7 table has them (the model's own types).

export interface ModelDoctype {
  type: 'doctype.register';
  docType: string;
  maxValidity: number;
  time: number;
}
export interface ModelRegister {
  type: 'issuer.register';
  issuer: Uint8Array;
  name: string;
  docTypes: string[];
  time: number;
}
export interface ModelRetire {
  type: 'issuer.retire';
  issuer: Uint8Array;
  time: number;
}
export interface ModelSucceed {
  type: 'issuer.succeed';
  issuer: Uint8Array;
  successor: Uint8Array;
  time: number;
}
export interface ModelCompromise {
  type: 'issuer.compromise';
  issuer: Uint8Array;
  from: number;
  time: number;
}
export interface ModelIssue {
  type: 'cert.issue';
  id: Uint8Array;
  docType: string;
  issuer: Uint8Array;
  holder: Uint8Array;
  commitment: Uint8Array;
  issuedAt: number;
  validUntil: number;
  time: number;
}
export interface ModelTransfer {
  type: 'cert.transfer';
  id: Uint8Array;
  parent: Uint8Array;
  sender: Uint8Array;
  senderSalt: Uint8Array | null;
  recipient: Uint8Array;
  nonce: Uint8Array;
  time: number;
}
export interface ModelRevoke {
  type: 'cert.revoke';
  id: Uint8Array;
  revoker: Uint8Array;
  reason: string;
  time: number;
}
export type ModelEvent = ModelDoctype | ModelRegister | ModelRetire | ModelSucceed | ModelCompromise | ModelIssue | ModelTransfer | ModelRevoke;

/**
 * What the test submitted, as the model needs to know it:
 *  - `event`: a readable certificate event; `signedBy` is the public key whose seed made
 *    `sig`, and `sigIntact` is false when the test damaged the signature afterwards;
 *  - `genesis`: a well-formed genesis entry (§5.3);
 *  - `unreadable`: bytes built to break §5.1/§5.2/§5.7, with the code the spec gives them.
 */
export type Submission =
  | { kind: 'event'; bytes: Uint8Array; event: ModelEvent; signedBy: Uint8Array; sigIntact: boolean }
  | { kind: 'genesis'; bytes: Uint8Array }
  | { kind: 'unreadable'; bytes: Uint8Array; code: 'MALFORMED' | 'NON_CANONICAL' | 'TOO_LARGE' | 'UNSUPPORTED' };

/** An entry of the modelled log. */
export interface ModelEntry {
  index: number;
  bytes: Uint8Array;
  /** SHA-256(0x00 ‖ bytes), RFC 9162 §2.1.1. */
  leaf: Uint8Array;
  /** The batch time T it was accepted at (for entry 0, the genesis time). */
  time: number;
  /** The certificate event, or undefined for the genesis entry. */
  event?: ModelEvent;
}
type Accepted<E extends ModelEvent = ModelEvent> = ModelEntry & { event: E };

export type Verdict =
  | { outcome: 'appended'; index: number; time: number }
  | { outcome: 'duplicate'; index: number; time: number }
  | { outcome: 'refused'; code: string };

/**
 * The points where the spec text allows two answers.
 *  - retiredSuccessorRevokes: §5.9 entitles, once the certificate's issuer is retired,
 *    "its successor while the successor is active, or the root key … (a retired
 *    issuer's own key: ISSUER_RETIRED; any other key: NOT_ISSUER)". A successor that
 *    was retired since is not the certificate's issuer, so literally "any other key"
 *    ('NOT_ISSUER'); but its key is itself a retired issuer's own key, and §9 gives
 *    ISSUER_RETIRED to "the issuer key was retired before this point of the log"
 *    ('ISSUER_RETIRED').
 * (The two readings of the earlier draft — a retired key registered again, a revocation
 * named as a transfer's parent — are settled by the text now: ISSUER_RETIRED and
 * UNKNOWN_PARENT.)
 */
export interface Readings {
  retiredSuccessorRevokes: 'NOT_ISSUER' | 'ISSUER_RETIRED';
}

export const LITERAL_READINGS: Readings = { retiredSuccessorRevokes: 'NOT_ISSUER' };

/** HTTP status of each code, copied from the table of spec §9. */
export const HTTP_STATUS: Record<string, number> = {
  MALFORMED: 400,
  NON_CANONICAL: 400,
  BAD_REQUEST: 400,
  UNSUPPORTED: 400,
  TOO_LARGE: 413,
  NOT_FOUND: 404,
  BAD_SIGNATURE: 422,
  UNKNOWN_KEY: 422,
  INVALID_PROOF: 422,
  INCONSISTENT: 409,
  CONFLICT: 409,
  OVERLOADED: 503,
  UNAVAILABLE: 503,
  STATE_MISMATCH: 500,
  BAD_KEY: 400,
  CLOCK_SKEW: 422,
  UNKNOWN_ISSUER: 422,
  ISSUER_RETIRED: 422,
  DOCTYPE_NOT_ALLOWED: 422,
  DUPLICATE_CERT: 409,
  UNKNOWN_CERT: 422,
  UNKNOWN_PARENT: 422,
  NOT_HOLDER: 422,
  NOT_ISSUER: 422,
  UNKNOWN_DOCTYPE: 422,
  ISSUED_AT_SKEW: 422,
  VALIDITY_TOO_LONG: 422,
  ISSUER_NOT_RETIRED: 422,
  BAD_COMPROMISE: 422,
  ISSUER_COMPROMISED: 422,
  CHAIN_TOO_LONG: 422,
  CERT_REVOKED: 422,
  CERT_EXPIRED: 422,
};

/** The allowed difference between an event's `time` (and a cert.issue's `issuedAt`) and the batch time (§5.9). */
export const CLOCK_WINDOW_S = 300;
/** The longest maxValidity a doctype.register may give: 3,660 days (§5.7). */
export const LONGEST_VALIDITY_S = 316_224_000;
/** A chain has at most this many transfers: the parent is at most 63 from the issuance (§5.9, §10.1). */
export const MOST_TRANSFERS = 64;
/** At most this many issuer.compromise per issuer (§5.9). */
export const MOST_COMPROMISES = 16;

// ---------------------------------------------------------------------------------------
// Small helpers, kept dumb on purpose.

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return hex(a) === hex(b);
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** leafOf is the RFC 9162 leaf hash SHA-256(0x00 ‖ entry) (spec §3.1). */
export function leafOf(bytes: Uint8Array): Uint8Array {
  return sha256(Uint8Array.of(0), bytes);
}

/** recipientOf is SHA-256("dojang/v1/recipient\n" ‖ salt ‖ key) (spec §5.7). */
export function recipientOf(salt: Uint8Array, key: Uint8Array): Uint8Array {
  return sha256(new TextEncoder().encode('dojang/v1/recipient\n'), salt, key);
}

/** The eight small-order points of spec §2.2 rule 4, as listed there (the short forms spelled out). */
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
];

/**
 * keyRefused applies the rules of spec §2.2 that need no curve arithmetic: length (1),
 * canonical y (2) and small order (4). Rule 3 (off the curve) is not modelled: the test
 * never builds such a key.
 */
export function keyRefused(k: Uint8Array): boolean {
  if (k.length !== 32) return true;
  if (SMALL_ORDER.includes(hex(k))) return true;
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? k[i] & 0x7f : k[i]);
  return y >= 2n ** 255n - 19n;
}

function keysOf(e: ModelEvent): Uint8Array[] {
  switch (e.type) {
    case 'doctype.register':
      return [];
    case 'issuer.register':
    case 'issuer.retire':
    case 'issuer.compromise':
      return [e.issuer];
    case 'issuer.succeed':
      return [e.issuer, e.successor];
    case 'cert.issue':
      return [e.issuer, e.holder];
    case 'cert.transfer':
      return [e.sender];
    case 'cert.revoke':
      return [e.revoker];
  }
}

// ---------------------------------------------------------------------------------------

/** What a status statement says of a certificate (spec §8.7), as of the whole log at time T. */
export interface ModelCertificate {
  state: 'active' | 'revoked' | 'compromised' | 'expired';
  /** The index of the issuance, then of the revocation if any. */
  events: number[];
  /** The issuer's register index, then its retire index, then its lowest-`from` compromise's index (each if any). */
  issuer: number[];
  issue: Accepted<ModelIssue>;
}

/** An issuer as the log's entries make it (spec §5.9). */
export interface ModelIssuer {
  register: Accepted<ModelRegister>;
  retire: Accepted<ModelRetire> | undefined;
  succeed: Accepted<ModelSucceed> | undefined;
  /** The accepted issuer.compromise of the key, in log order. */
  compromises: Accepted<ModelCompromise>[];
}

/**
 * The state records of spec §8.3 as the model derives them from the log (keys as hex:
 * the prefix letter, then the hex of the document type's UTF-8, the key, the id or the
 * leaf hash; byte strings as hex).
 */
export type ModelRecords = Map<string, Record<string, unknown>>;

export class RulesModel {
  /** The accepted entries, in log order; entry 0 is the genesis. */
  readonly log: ModelEntry[] = [];

  constructor(
    readonly rootKey: Uint8Array,
    genesisBytes: Uint8Array,
    genesisTime: number,
    readonly readings: Readings = LITERAL_READINGS,
  ) {
    this.log.push({ index: 0, bytes: genesisBytes, leaf: leafOf(genesisBytes), time: genesisTime });
  }

  /** The certificate events accepted so far, with their entries. */
  private events(): Accepted[] {
    return this.log.filter((e): e is Accepted => e.event !== undefined);
  }

  /** maxValidity is the maximum of the last doctype.register of a type, or undefined if it was never registered. */
  maxValidity(docType: string): number | undefined {
    let out: number | undefined;
    for (const e of this.events()) if (e.event.type === 'doctype.register' && e.event.docType === docType) out = e.event.maxValidity;
    return out;
  }

  /** issuer collects the registration, retirement, succession and compromises of a key; undefined if never registered. */
  issuer(key: Uint8Array): ModelIssuer | undefined {
    let out: ModelIssuer | undefined;
    for (const e of this.events()) {
      const ev = e.event;
      if (ev.type === 'issuer.register' && same(ev.issuer, key)) out = { register: e as Accepted<ModelRegister>, retire: undefined, succeed: undefined, compromises: [] };
      if (out === undefined) continue;
      if (ev.type === 'issuer.retire' && same(ev.issuer, key)) out.retire = e as Accepted<ModelRetire>;
      if (ev.type === 'issuer.succeed' && same(ev.issuer, key)) out.succeed = e as Accepted<ModelSucceed>;
      if (ev.type === 'issuer.compromise' && same(ev.issuer, key)) out.compromises.push(e as Accepted<ModelCompromise>);
    }
    return out;
  }

  /** issuerState: 'none' if never registered, 'active', or 'retired'. */
  issuerState(key: Uint8Array): 'none' | 'active' | 'retired' {
    const r = this.issuer(key);
    return r === undefined ? 'none' : r.retire === undefined ? 'active' : 'retired';
  }

  /** compromisedFor: has the issuer an accepted compromise with `from` ≤ the index? */
  compromisedFor(key: Uint8Array, index: number): boolean {
    return (this.issuer(key)?.compromises ?? []).some((c) => c.event.from <= index);
  }

  /** issueOf finds the accepted cert.issue of an id. */
  issueOf(id: Uint8Array): Accepted<ModelIssue> | undefined {
    for (const e of this.events()) {
      if (e.event.type === 'cert.issue' && same(e.event.id, id)) return e as Accepted<ModelIssue>;
    }
    return undefined;
  }

  /** eventsOf lists the accepted events (issue, transfers, revoke) of a certificate, in log order. */
  eventsOf(id: Uint8Array): Accepted<ModelIssue | ModelTransfer | ModelRevoke>[] {
    const out: Accepted<ModelIssue | ModelTransfer | ModelRevoke>[] = [];
    for (const e of this.events()) {
      const ev = e.event;
      if ((ev.type === 'cert.issue' || ev.type === 'cert.transfer' || ev.type === 'cert.revoke') && same(ev.id, id)) {
        out.push(e as Accepted<ModelIssue | ModelTransfer | ModelRevoke>);
      }
    }
    return out;
  }

  revocationOf(id: Uint8Array): Accepted<ModelRevoke> | undefined {
    return this.eventsOf(id).find((e): e is Accepted<ModelRevoke> => e.event.type === 'cert.revoke');
  }

  /** entryByLeaf finds the accepted entry with a leaf hash. */
  entryByLeaf(leaf: Uint8Array): ModelEntry | undefined {
    return this.log.find((e) => same(e.leaf, leaf));
  }

  /** depthOf counts the transfers from the issuance to an accepted issuance or transfer, following parents. */
  depthOf(e: Accepted<ModelIssue | ModelTransfer>): number {
    let n = 0;
    let at: ModelEntry | undefined = e;
    while (at?.event?.type === 'cert.transfer') {
      n++;
      at = this.entryByLeaf(at.event.parent);
    }
    return n;
  }

  /** certificate is the §8.7 view of a certificate judged at time T, or undefined if never issued. */
  certificate(id: Uint8Array, T: number): ModelCertificate | undefined {
    const issue = this.issueOf(id);
    if (issue === undefined) return undefined;
    const revoke = this.revocationOf(id);
    const iss = this.issuer(issue.event.issuer)!;
    const issuer = [iss.register.index];
    if (iss.retire !== undefined) issuer.push(iss.retire.index);
    // The one with the lowest `from` (each later one is lower: the latest).
    let lowest: Accepted<ModelCompromise> | undefined;
    for (const c of iss.compromises) if (lowest === undefined || c.event.from < lowest.event.from) lowest = c;
    if (lowest !== undefined) issuer.push(lowest.index);
    const state =
      revoke !== undefined ? 'revoked' : lowest !== undefined && lowest.event.from <= issue.index ? 'compromised' : T >= issue.event.validUntil ? 'expired' : 'active';
    return { state, events: revoke === undefined ? [issue.index] : [issue.index, revoke.index], issuer, issue };
  }

  /** records derives the state records of spec §8.3 from the log. */
  records(): ModelRecords {
    const out: ModelRecords = new Map();
    const key = (prefix: string, id: Uint8Array) => hex(new TextEncoder().encode(prefix)) + hex(id);
    for (const e of this.events()) {
      const ev = e.event;
      switch (ev.type) {
        case 'doctype.register':
          out.set(key('D', new TextEncoder().encode(ev.docType)), { maxValidity: ev.maxValidity, registered: e.index });
          break;
        case 'issuer.register': {
          const r = this.issuer(ev.issuer)!;
          out.set(key('I', ev.issuer), {
            name: ev.name,
            docTypes: ev.docTypes,
            registered: e.index,
            retired: r.retire?.index ?? null,
            successor: r.succeed === undefined ? null : hex(r.succeed.event.successor),
            compromises: r.compromises.map((c) => [c.event.from, c.index]),
          });
          break;
        }
        case 'cert.issue': {
          out.set(key('C', ev.id), {
            issuer: hex(ev.issuer),
            docType: ev.docType,
            holder: hex(ev.holder),
            issuedAt: ev.issuedAt,
            validUntil: ev.validUntil,
            issue: e.index,
            revoked: this.revocationOf(ev.id)?.index ?? null,
          });
          out.set(key('P', e.leaf), { id: hex(ev.id), index: e.index, holder: hex(ev.holder), recipient: null, depth: 0 });
          break;
        }
        case 'cert.transfer':
          out.set(key('P', e.leaf), { id: hex(ev.id), index: e.index, holder: null, recipient: hex(ev.recipient), depth: this.depthOf(e as Accepted<ModelTransfer>) });
          break;
        default:
          break;
      }
    }
    return out;
  }

  /**
   * submit judges one entry alone in a batch at batch time T, appends it if it is
   * accepted, and returns the verdict.
   */
  submit(s: Submission, T: number): Verdict {
    const first = this.log.find((e) => same(e.bytes, s.bytes));
    if (first !== undefined) return { outcome: 'duplicate', index: first.index, time: first.time };
    const code = this.judge(s, T);
    if (code !== undefined) return { outcome: 'refused', code };
    const e = s as Extract<Submission, { kind: 'event' }>;
    const index = this.log.length;
    this.log.push({ index, bytes: e.bytes, leaf: leafOf(e.bytes), time: T, event: e.event });
    return { outcome: 'appended', index, time: T };
  }

  /** judge returns the code that refuses a new entry at T, or undefined to accept it. */
  private judge(s: Submission, T: number): string | undefined {
    if (s.kind === 'unreadable') return s.code;
    if (s.kind === 'genesis') return 'CONFLICT'; // a genesis entry at any index but 0 (§5.2)
    const e = s.event;
    if (keysOf(e).some(keyRefused)) return 'BAD_KEY';
    const signer = e.type === 'cert.issue' ? e.issuer : e.type === 'cert.transfer' ? e.sender : e.type === 'cert.revoke' ? e.revoker : this.rootKey;
    if (!s.sigIntact || !same(s.signedBy, signer)) return 'BAD_SIGNATURE';
    if (Math.abs(e.time - T) > CLOCK_WINDOW_S) return 'CLOCK_SKEW';
    switch (e.type) {
      case 'doctype.register':
        return undefined;
      case 'issuer.register': {
        const st = this.issuerState(e.issuer);
        if (st === 'active') return 'CONFLICT';
        if (st === 'retired') return 'ISSUER_RETIRED';
        return undefined;
      }
      case 'issuer.retire': {
        const st = this.issuerState(e.issuer);
        if (st === 'none') return 'UNKNOWN_ISSUER';
        if (st === 'retired') return 'ISSUER_RETIRED';
        return undefined;
      }
      case 'issuer.succeed': {
        const r = this.issuer(e.issuer);
        if (r === undefined) return 'UNKNOWN_ISSUER';
        if (r.retire === undefined) return 'ISSUER_NOT_RETIRED';
        if (r.succeed !== undefined) return 'CONFLICT';
        const st = this.issuerState(e.successor);
        if (st === 'none') return 'UNKNOWN_ISSUER';
        if (st === 'retired') return 'ISSUER_RETIRED';
        return undefined;
      }
      case 'issuer.compromise': {
        const r = this.issuer(e.issuer);
        if (r === undefined) return 'UNKNOWN_ISSUER';
        if (r.retire === undefined) return 'ISSUER_NOT_RETIRED';
        if (e.from > r.retire.index) return 'BAD_COMPROMISE';
        if (r.compromises.some((c) => e.from >= c.event.from)) return 'BAD_COMPROMISE';
        if (r.compromises.length >= MOST_COMPROMISES) return 'BAD_COMPROMISE';
        return undefined;
      }
      case 'cert.issue': {
        const r = this.issuer(e.issuer);
        if (r === undefined) return 'UNKNOWN_ISSUER';
        if (r.retire !== undefined) return 'ISSUER_RETIRED';
        if (!r.register.event.docTypes.includes(e.docType)) return 'DOCTYPE_NOT_ALLOWED';
        const max = this.maxValidity(e.docType);
        if (max === undefined) return 'UNKNOWN_DOCTYPE';
        if (this.issueOf(e.id) !== undefined) return 'DUPLICATE_CERT';
        if (e.issuedAt >= e.validUntil) return 'BAD_REQUEST';
        if (Math.abs(e.issuedAt - T) > CLOCK_WINDOW_S) return 'ISSUED_AT_SKEW';
        if (e.validUntil - e.issuedAt > max) return 'VALIDITY_TOO_LONG';
        if (T >= e.validUntil) return 'CERT_EXPIRED';
        return undefined;
      }
      case 'cert.transfer': {
        const issue = this.issueOf(e.id);
        if (issue === undefined) return 'UNKNOWN_CERT';
        const parent = this.entryByLeaf(e.parent);
        const pe = parent?.event;
        if (pe === undefined || (pe.type !== 'cert.issue' && pe.type !== 'cert.transfer') || !same(pe.id, e.id)) return 'UNKNOWN_PARENT';
        const holder = pe.type === 'cert.issue' ? same(e.sender, pe.holder) && e.senderSalt === null : e.senderSalt !== null && same(recipientOf(e.senderSalt, e.sender), pe.recipient);
        if (!holder) return 'NOT_HOLDER';
        if (this.revocationOf(e.id) !== undefined) return 'CERT_REVOKED';
        if (this.compromisedFor(issue.event.issuer, issue.index)) return 'ISSUER_COMPROMISED';
        if (T >= issue.event.validUntil) return 'CERT_EXPIRED';
        if (this.depthOf(parent as Accepted<ModelIssue | ModelTransfer>) + 1 > MOST_TRANSFERS) return 'CHAIN_TOO_LONG';
        return undefined;
      }
      case 'cert.revoke': {
        const issue = this.issueOf(e.id);
        if (issue === undefined) return 'UNKNOWN_CERT';
        const refused = this.entitlement(issue.event.issuer, e.revoker);
        if (refused !== undefined) return refused;
        if (this.revocationOf(e.id) !== undefined) return 'CERT_REVOKED';
        if (T >= issue.event.validUntil) return 'CERT_EXPIRED';
        return undefined;
      }
    }
  }

  /**
   * entitlement: may `key` revoke a certificate of `issuerKey` at this point of the log
   * (§5.9)? Undefined if it may, else the code.
   */
  private entitlement(issuerKey: Uint8Array, key: Uint8Array): string | undefined {
    const r = this.issuer(issuerKey)!;
    if (r.retire === undefined) return same(key, issuerKey) ? undefined : 'NOT_ISSUER';
    if (same(key, this.rootKey)) return undefined;
    if (same(key, issuerKey)) return 'ISSUER_RETIRED';
    if (r.succeed !== undefined && same(key, r.succeed.event.successor)) {
      return this.issuerState(key) === 'active' ? undefined : this.readings.retiredSuccessorRevokes;
    }
    return 'NOT_ISSUER';
  }
}
