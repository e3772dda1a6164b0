/**
 * A slow, obvious model of the certificate rules of spec §5.9 (with §5.2's genesis rule,
 * §5.7's key check and §8.2's strong dedup), written from the spec text alone to
 * cross-check the sequencer (src/ledger/rules.ts) through POST /v1/entries (§8.6). It
 * shares no code with src/: it hashes with node:crypto and never parses CBOR. The test
 * that drives it builds every entry itself, so it hands the model the event it signed
 * (or, for bytes it built to be unreadable, the code §5.1/§5.2/§5.7 give them).
 *
 * There is no state but the list of accepted entries: every question ("is this issuer
 * active?", "which events does this certificate have?") is a linear scan of that list
 * from the start, exactly as an auditor replaying the log would answer it.
 *
 * Order of the checks, from the spec:
 *   1. bytes already in the log: answered with their first index (§8.2 step 2);
 *   2. bytes that do not parse: MALFORMED, NON_CANONICAL, TOO_LARGE, UNSUPPORTED (§5.1,
 *      §5.2, §5.7); a `genesis` entry anywhere but index 0: CONFLICT (§5.2);
 *   3. a body key that §2.2 refuses: BAD_KEY (§5.7: a parser refuses it, and §8.6 parses
 *      before it verifies the signature);
 *   4. the signature under the key the type names: BAD_SIGNATURE (§5.9 bullet 1);
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
  issuer: Uint8Array;
  reason: string;
  time: number;
}
export type ModelEvent = ModelRegister | ModelRetire | ModelIssue | ModelTransfer | ModelRevoke;

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

export type Verdict =
  | { outcome: 'appended'; index: number; time: number }
  | { outcome: 'duplicate'; index: number; time: number }
  | { outcome: 'refused'; code: string };

/**
 * The points where the spec text allows two answers.
 *  - retiredReRegister: §5.9 says `issuer.register` needs "the key is not registered and
 *    active already (CONFLICT)". Read literally a retired key is not active, so it may be
 *    registered again ('accept'). DESIGN.md says "an issuer key retired at index k signs
 *    nothing after k", which forbids it; the code then answers ISSUER_RETIRED.
 *  - revokeAsParent: §5.9 refuses with UNKNOWN_PARENT a parent that is not "an event of
 *    this certificate". A cert.revoke is an event of the certificate but makes nobody a
 *    holder ('NOT_HOLDER'); §8.3 keeps parent records only for issuances and transfers
 *    ("possible parents"), which answers 'UNKNOWN_PARENT'.
 * (A third point needs no switch here: §5.2 keeps bench.record out of other logs without
 * naming a code; the test reads §5.7, "an entry of any other type is UNSUPPORTED".)
 */
export interface Readings {
  retiredReRegister: 'accept' | 'ISSUER_RETIRED';
  revokeAsParent: 'NOT_HOLDER' | 'UNKNOWN_PARENT';
}

export const LITERAL_READINGS: Readings = { retiredReRegister: 'accept', revokeAsParent: 'NOT_HOLDER' };

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
  CERT_REVOKED: 422,
  CERT_EXPIRED: 422,
};

/** The allowed difference between an event's `time` and the batch time (§5.9). */
export const CLOCK_WINDOW_S = 300;

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
    case 'issuer.register':
    case 'issuer.retire':
      return [e.issuer];
    case 'cert.issue':
      return [e.issuer, e.holder];
    case 'cert.transfer':
      return [e.sender];
    case 'cert.revoke':
      return [e.issuer];
  }
}

// ---------------------------------------------------------------------------------------

/** What the model knows about a certificate at a time T (spec §8.7). */
export interface ModelCertificate {
  state: 'active' | 'revoked' | 'expired';
  /** Indices of the issuance, the transfers and the revocation, ascending. */
  events: number[];
  issue: ModelEntry & { event: ModelIssue };
}

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
  private events(): (ModelEntry & { event: ModelEvent })[] {
    return this.log.filter((e): e is ModelEntry & { event: ModelEvent } => e.event !== undefined);
  }

  /**
   * issuerState replays the registrations and retirements of a key: 'none' if never
   * registered, else the effect of the last one.
   */
  issuerState(key: Uint8Array): { state: 'none' } | { state: 'active'; docTypes: string[] } | { state: 'retired' } {
    let st: { state: 'none' } | { state: 'active'; docTypes: string[] } | { state: 'retired' } = { state: 'none' };
    for (const e of this.events()) {
      if (e.event.type === 'issuer.register' && same(e.event.issuer, key)) st = { state: 'active', docTypes: e.event.docTypes };
      if (e.event.type === 'issuer.retire' && same(e.event.issuer, key)) st = { state: 'retired' };
    }
    return st;
  }

  /** issueOf finds the accepted cert.issue of an id. */
  issueOf(id: Uint8Array): (ModelEntry & { event: ModelIssue }) | undefined {
    for (const e of this.events()) {
      if (e.event.type === 'cert.issue' && same(e.event.id, id)) return e as ModelEntry & { event: ModelIssue };
    }
    return undefined;
  }

  /** eventsOf lists the accepted events (issue, transfers, revoke) of a certificate, in log order. */
  eventsOf(id: Uint8Array): (ModelEntry & { event: ModelIssue | ModelTransfer | ModelRevoke })[] {
    const out: (ModelEntry & { event: ModelIssue | ModelTransfer | ModelRevoke })[] = [];
    for (const e of this.events()) {
      const ev = e.event;
      if ((ev.type === 'cert.issue' || ev.type === 'cert.transfer' || ev.type === 'cert.revoke') && same(ev.id, id)) {
        out.push(e as ModelEntry & { event: ModelIssue | ModelTransfer | ModelRevoke });
      }
    }
    return out;
  }

  isRevoked(id: Uint8Array): boolean {
    return this.eventsOf(id).some((e) => e.event.type === 'cert.revoke');
  }

  /** entryByLeaf finds the accepted entry with a leaf hash. */
  entryByLeaf(leaf: Uint8Array): ModelEntry | undefined {
    return this.log.find((e) => same(e.leaf, leaf));
  }

  /** certificate is the §8.7 view of a certificate judged at time T, or undefined if never issued. */
  certificate(id: Uint8Array, T: number): ModelCertificate | undefined {
    const issue = this.issueOf(id);
    if (issue === undefined) return undefined;
    const events = this.eventsOf(id).map((e) => e.index);
    const state = this.isRevoked(id) ? 'revoked' : T >= issue.event.validUntil ? 'expired' : 'active';
    return { state, events, issue };
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
    const signer = e.type === 'issuer.register' || e.type === 'issuer.retire' ? this.rootKey : e.type === 'cert.transfer' ? e.sender : e.issuer;
    if (!s.sigIntact || !same(s.signedBy, signer)) return 'BAD_SIGNATURE';
    if (Math.abs(e.time - T) > CLOCK_WINDOW_S) return 'CLOCK_SKEW';
    switch (e.type) {
      case 'issuer.register': {
        const st = this.issuerState(e.issuer);
        if (st.state === 'active') return 'CONFLICT';
        if (st.state === 'retired' && this.readings.retiredReRegister !== 'accept') return this.readings.retiredReRegister;
        return undefined;
      }
      case 'issuer.retire': {
        const st = this.issuerState(e.issuer);
        if (st.state === 'none') return 'UNKNOWN_ISSUER';
        if (st.state === 'retired') return 'ISSUER_RETIRED';
        return undefined;
      }
      case 'cert.issue': {
        const st = this.issuerState(e.issuer);
        if (st.state === 'none') return 'UNKNOWN_ISSUER';
        if (st.state === 'retired') return 'ISSUER_RETIRED';
        if (!st.docTypes.includes(e.docType)) return 'DOCTYPE_NOT_ALLOWED';
        if (this.issueOf(e.id) !== undefined) return 'DUPLICATE_CERT';
        if (e.issuedAt > T + CLOCK_WINDOW_S) return 'BAD_REQUEST';
        if (e.issuedAt >= e.validUntil) return 'BAD_REQUEST';
        if (T >= e.validUntil) return 'CERT_EXPIRED';
        return undefined;
      }
      case 'cert.transfer': {
        const issue = this.issueOf(e.id);
        if (issue === undefined) return 'UNKNOWN_CERT';
        const parent = this.entryByLeaf(e.parent);
        const pe = parent?.event;
        const ofThisCert = pe !== undefined && (pe.type === 'cert.issue' || pe.type === 'cert.transfer' || pe.type === 'cert.revoke') && same(pe.id, e.id);
        if (!ofThisCert) return 'UNKNOWN_PARENT';
        let holder: boolean;
        if (pe.type === 'cert.issue') holder = same(e.sender, pe.holder) && e.senderSalt === null;
        else if (pe.type === 'cert.transfer') holder = e.senderSalt !== null && same(recipientOf(e.senderSalt, e.sender), pe.recipient);
        else return this.readings.revokeAsParent; // a revocation makes nobody a holder
        if (!holder) return 'NOT_HOLDER';
        if (this.isRevoked(e.id)) return 'CERT_REVOKED';
        if (T >= issue.event.validUntil) return 'CERT_EXPIRED';
        return undefined;
      }
      case 'cert.revoke': {
        const issue = this.issueOf(e.id);
        if (issue === undefined) return 'UNKNOWN_CERT';
        if (!same(e.issuer, issue.event.issuer)) return 'NOT_ISSUER';
        if (this.issuerState(e.issuer).state === 'retired') return 'ISSUER_RETIRED';
        if (this.isRevoked(e.id)) return 'CERT_REVOKED';
        if (T >= issue.event.validUntil) return 'CERT_EXPIRED';
        return undefined;
      }
    }
  }
}
