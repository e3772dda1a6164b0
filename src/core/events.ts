/**
 * Certificate events (spec §5.7): the typed bodies of the entry types `doctype.register`,
 * `issuer.register`, `issuer.retire`, `issuer.succeed`, `issuer.compromise`, `cert.issue`,
 * `cert.transfer` and `cert.revoke`, in the entry envelope
 * of spec §5.2 (src/core/entry.ts).
 *
 * `parseEvent` is the one strict reader of these entries: canonical CBOR and envelope
 * (decodeEntry), then exactly the body keys of the type, with their CBOR types, lengths,
 * text limits (in UTF-8 bytes) and syntax, and every public key per spec §2.2.
 * `encodeEvent` accepts exactly the events `parseEvent` returns, so whatever this module
 * writes, it reads back unchanged.
 *
 * Codes, in order of precedence (the first rule broken decides):
 *  - TOO_LARGE, MALFORMED, NON_CANONICAL, UNSUPPORTED (version) from decodeEntry;
 *  - UNSUPPORTED: the entry type is not one of the certificate event types;
 *  - MALFORMED: missing or extra body keys, a wrong CBOR type, a byte string of the wrong
 *    length, a text outside its limits, a bad docType, duplicate docTypes, a time that is
 *    negative, a maxValidity outside 1 … MAX_VALIDITY_S;
 *  - NON_CANONICAL: distinct docTypes not in ascending byte order (the same set has one
 *    encoding);
 *  - BAD_KEY: a byte string in a key field that §2.2 refuses (any length but 32
 *    included).
 *
 * Parsing never checks the signature: the rules of §5.9 say which key must have made it
 * (`ParsedEvent.signer`), and `verifyEventSignature` checks it.
 */
import { LedgerError, type LedgerErrorCode } from './errors.js';
import type { CborValue } from './cbor.js';
import { concatBytes, equalBytes, utf8 } from './bytes.js';
import { checkEd25519PublicKey, ed25519PublicKey, randomBytes, sha256, verifyEd25519, type CryptoBackend } from './crypto.js';
import { decodeEntry, encodeEntry, ENTRY_VERSION, signEntry, type CborMap } from './entry.js';

export type EventType = 'doctype.register' | 'issuer.register' | 'issuer.retire' | 'issuer.succeed' | 'issuer.compromise' | 'cert.issue' | 'cert.transfer' | 'cert.revoke';

/** EVENT_TYPES lists the certificate event types of spec §5.7. */
export const EVENT_TYPES: readonly EventType[] = ['doctype.register', 'issuer.register', 'issuer.retire', 'issuer.succeed', 'issuer.compromise', 'cert.issue', 'cert.transfer', 'cert.revoke'];

/** doctype.register: the root key puts a document type in the log's registry with its longest validity. */
export interface DoctypeRegister {
  type: 'doctype.register';
  docType: string;
  /** Seconds, 1 … MAX_VALIDITY_S. */
  maxValidity: number;
  time: number;
}

/** issuer.register: the root key registers an issuing office's key for some document types. */
export interface IssuerRegister {
  type: 'issuer.register';
  issuer: Uint8Array;
  name: string;
  docTypes: string[];
  time: number;
}

/** issuer.retire: the root key retires an issuer key; it signs nothing after this entry. */
export interface IssuerRetire {
  type: 'issuer.retire';
  issuer: Uint8Array;
  time: number;
}

/** issuer.succeed: the root key names the active issuer that may revoke a retired issuer's certificates. */
export interface IssuerSucceed {
  type: 'issuer.succeed';
  issuer: Uint8Array;
  successor: Uint8Array;
  time: number;
}

/** issuer.compromise: the root key says a retired issuer's key was stolen from log index `from` on. */
export interface IssuerCompromise {
  type: 'issuer.compromise';
  issuer: Uint8Array;
  from: number;
  time: number;
}

/** cert.issue: an issuer issues a certificate to a holder key made for it alone. */
export interface CertIssue {
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

/** cert.transfer: a holder shares a copy with a recipient named by a salted commitment. */
export interface CertTransfer {
  type: 'cert.transfer';
  id: Uint8Array;
  parent: Uint8Array;
  sender: Uint8Array;
  senderSalt: Uint8Array | null;
  recipient: Uint8Array;
  nonce: Uint8Array;
  time: number;
}

/** cert.revoke: an entitled key (spec §5.9: the issuer, its successor or the root) revokes a certificate. */
export interface CertRevoke {
  type: 'cert.revoke';
  id: Uint8Array;
  revoker: Uint8Array;
  reason: string;
  time: number;
}

export type CertEvent = DoctypeRegister | IssuerRegister | IssuerRetire | IssuerSucceed | IssuerCompromise | CertIssue | CertTransfer | CertRevoke;

/** ParsedEvent is a certificate event as read from entry bytes, signature not yet checked. */
export interface ParsedEvent {
  event: CertEvent;
  sig: Uint8Array;
  /**
   * The public key that must have made `sig`: `body.issuer` for cert.issue,
   * `body.revoker` for cert.revoke, `body.sender` for cert.transfer, and 'root' for
   * doctype.register and issuer.* (the root key of the genesis entry, which the parser
   * does not know).
   */
  signer: Uint8Array | 'root';
  /** The signed bytes, "dojang/v1/" ‖ type ‖ 0x0A ‖ body, with the body as received. */
  signingInput: Uint8Array;
  /** The entry bytes as given to parseEvent. */
  bytes: Uint8Array;
}

/** A submitter's clock may be this many seconds off the batch time (spec §5.9, CLOCK_SKEW). */
export const MAX_CLOCK_SKEW_S = 300;
/** Byte lengths of the random values and digests of spec §5.7. */
export const CERT_ID_BYTES = 16;
export const SALT_BYTES = 16;
export const NONCE_BYTES = 16;
export const HASH_BYTES = 32;
/** Text limits of spec §5.7, in UTF-8 bytes. */
export const MAX_ISSUER_NAME_BYTES = 128;
export const MAX_REASON_BYTES = 128;
export const MAX_DOCTYPE_BYTES = 64;
export const MAX_DOCTYPES = 32;
/** The longest validity a document type may be registered with: 3,660 days, in seconds (spec §5.7). */
export const MAX_VALIDITY_S = 3660 * 86_400;

const DOCTYPE = /^[a-z0-9]+(\.[a-z0-9-]+)+$/;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u; // with the u flag, matches unpaired surrogates only

/** isDocType checks the document type syntax of spec §5.7: `[a-z0-9]+(\.[a-z0-9-]+)+`, ≤ 64 bytes. */
export function isDocType(s: unknown): s is string {
  return typeof s === 'string' && s.length <= MAX_DOCTYPE_BYTES && DOCTYPE.test(s);
}

/** newCertId returns a fresh 16-byte certificate id from the CSPRNG. */
export function newCertId(): Uint8Array {
  return randomBytes(CERT_ID_BYTES);
}

/** newSalt returns a fresh 16-byte salt (recipient commitments, spec §5.7). */
export function newSalt(): Uint8Array {
  return randomBytes(SALT_BYTES);
}

/** newNonce returns a fresh 16-byte transfer nonce. */
export function newNonce(): Uint8Array {
  return randomBytes(NONCE_BYTES);
}

const RECIPIENT_PREFIX = utf8('dojang/v1/recipient\n');

/**
 * recipientCommitment is SHA-256("dojang/v1/recipient\n" ‖ salt(16) ‖ key(32)), the way a
 * cert.transfer names its recipient (spec §5.7). RangeError on wrong lengths (caller bug).
 */
export function recipientCommitment(salt: Uint8Array, recipientKey: Uint8Array): Uint8Array {
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_BYTES) throw new RangeError('recipientCommitment: salt must be 16 bytes');
  if (!(recipientKey instanceof Uint8Array) || recipientKey.length !== 32) throw new RangeError('recipientCommitment: key must be 32 bytes');
  return sha256(RECIPIENT_PREFIX, salt, recipientKey);
}

// ---------------------------------------------------------------------------------------
// The one body reader, shared by parseEvent (fail throws a LedgerError) and by
// eventBody/encodeEvent (fail throws a RangeError): both sides accept the same bodies.

type Fail = (code: LedgerErrorCode, msg: string) => never;

/** Exact body keys per type, sorted (spec §5.7). */
const BODY_KEYS: Record<EventType, string> = {
  'doctype.register': 'docType,maxValidity,time',
  'issuer.register': 'docTypes,issuer,name,time',
  'issuer.retire': 'issuer,time',
  'issuer.succeed': 'issuer,successor,time',
  'issuer.compromise': 'from,issuer,time',
  'cert.issue': 'commitment,docType,holder,id,issuedAt,issuer,time,validUntil',
  'cert.transfer': 'id,nonce,parent,recipient,sender,senderSalt,time',
  'cert.revoke': 'id,reason,revoker,time',
};

/** isEventType tells whether an entry type is one of the certificate events of spec §5.7. */
export function isEventType(t: unknown): t is EventType {
  return typeof t === 'string' && Object.hasOwn(BODY_KEYS, t);
}

/** utf8Length counts the UTF-8 bytes of well-formed text (no unpaired surrogates). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4; // a surrogate pair (well-formedness is checked before)
      i++;
    } else n += 3;
  }
  return n;
}

class BodyReader {
  private keys: [field: string, key: Uint8Array][] = [];
  private nonCanonical: string | undefined;

  constructor(
    readonly type: EventType,
    readonly body: CborMap,
    readonly fail: Fail,
  ) {}

  bytes(field: string, len: number): Uint8Array {
    const v = this.body[field];
    if (!(v instanceof Uint8Array) || v.length !== len) this.fail('MALFORMED', `${this.type} ${field} must be ${len} bytes`);
    return v;
  }

  /** key reads a public key; §2.2 is checked in finish(), after every MALFORMED rule. */
  key(field: string): Uint8Array {
    const v = this.body[field];
    if (!(v instanceof Uint8Array)) this.fail('MALFORMED', `${this.type} ${field} must be a byte string (a public key)`);
    this.keys.push([field, v]);
    return v;
  }

  text(field: string, min: number, max: number): string {
    const v = this.body[field];
    if (typeof v !== 'string') this.fail('MALFORMED', `${this.type} ${field} must be text`);
    if (LONE_SURROGATE.test(v)) this.fail('MALFORMED', `${this.type} ${field} is not well-formed Unicode`);
    const n = utf8Length(v);
    if (n < min || n > max) this.fail('MALFORMED', `${this.type} ${field} must be ${min}–${max} bytes of UTF-8, is ${n}`);
    return v;
  }

  uint(field: string): number {
    const v = this.body[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || Object.is(v, -0)) {
      this.fail('MALFORMED', `${this.type} ${field} must be an unsigned integer ≤ 2^53 − 1`);
    }
    return v;
  }

  docType(field: string): string {
    const v = this.body[field];
    if (!isDocType(v)) this.fail('MALFORMED', `${this.type} ${field} is not a document type`);
    return v;
  }

  docTypes(field: string): string[] {
    const v = this.body[field];
    if (!Array.isArray(v) || v.length < 1 || v.length > MAX_DOCTYPES) {
      this.fail('MALFORMED', `${this.type} ${field} must be an array of 1–${MAX_DOCTYPES} document types`);
    }
    const seen = new Set<string>();
    for (let i = 0; i < v.length; i++) {
      const d = v[i];
      if (!isDocType(d)) this.fail('MALFORMED', `${this.type} ${field}[${i}] is not a document type`);
      if (seen.has(d)) this.fail('MALFORMED', `${this.type} ${field} has ${d} twice`);
      seen.add(d);
      // Document types are ASCII, so UTF-16 order is byte order.
      if (i > 0 && (v[i - 1] as string) > d && this.nonCanonical === undefined) {
        this.nonCanonical = `${this.type} ${field} are not in ascending byte order`;
      }
    }
    return [...(v as string[])];
  }

  nullOrBytes(field: string, len: number): Uint8Array | null {
    return this.body[field] === null ? null : this.bytes(field, len);
  }

  /** finish applies the rules of lower precedence: order (NON_CANONICAL), then keys (BAD_KEY). */
  finish(): void {
    if (this.nonCanonical !== undefined) this.fail('NON_CANONICAL', this.nonCanonical);
    for (const [field, k] of this.keys) {
      const why = checkEd25519PublicKey(k);
      if (why !== undefined) this.fail('BAD_KEY', `${this.type} ${field}: ${why}`);
    }
  }
}

/** readBody checks a body against spec §5.7 and returns the typed event. */
function readBody(type: EventType, body: CborMap, fail: Fail): CertEvent {
  const keys = Object.keys(body).sort().join(',');
  if (keys !== BODY_KEYS[type]) fail('MALFORMED', `${type} body must have exactly the keys ${BODY_KEYS[type]}`);
  const r = new BodyReader(type, body, fail);
  let e: CertEvent;
  switch (type) {
    case 'doctype.register': {
      const docType = r.docType('docType');
      const maxValidity = r.uint('maxValidity');
      if (maxValidity < 1 || maxValidity > MAX_VALIDITY_S) fail('MALFORMED', `doctype.register maxValidity must be 1–${MAX_VALIDITY_S} seconds`);
      e = { type, docType, maxValidity, time: r.uint('time') };
      break;
    }
    case 'issuer.succeed':
      e = { type, issuer: r.key('issuer'), successor: r.key('successor'), time: r.uint('time') };
      break;
    case 'issuer.compromise':
      e = { type, issuer: r.key('issuer'), from: r.uint('from'), time: r.uint('time') };
      break;
    case 'issuer.register':
      e = { type, issuer: r.key('issuer'), name: r.text('name', 1, MAX_ISSUER_NAME_BYTES), docTypes: r.docTypes('docTypes'), time: r.uint('time') };
      break;
    case 'issuer.retire':
      e = { type, issuer: r.key('issuer'), time: r.uint('time') };
      break;
    case 'cert.issue':
      e = {
        type,
        id: r.bytes('id', CERT_ID_BYTES),
        docType: r.docType('docType'),
        issuer: r.key('issuer'),
        holder: r.key('holder'),
        commitment: r.bytes('commitment', HASH_BYTES),
        issuedAt: r.uint('issuedAt'),
        validUntil: r.uint('validUntil'),
        time: r.uint('time'),
      };
      break;
    case 'cert.transfer':
      e = {
        type,
        id: r.bytes('id', CERT_ID_BYTES),
        parent: r.bytes('parent', HASH_BYTES),
        sender: r.key('sender'),
        senderSalt: r.nullOrBytes('senderSalt', SALT_BYTES),
        recipient: r.bytes('recipient', HASH_BYTES),
        nonce: r.bytes('nonce', NONCE_BYTES),
        time: r.uint('time'),
      };
      break;
    case 'cert.revoke':
      e = { type, id: r.bytes('id', CERT_ID_BYTES), revoker: r.key('revoker'), reason: r.text('reason', 0, MAX_REASON_BYTES), time: r.uint('time') };
      break;
  }
  r.finish();
  return e;
}

const callerBug: Fail = (_code, msg) => {
  throw new RangeError(msg);
};

/**
 * eventBody returns the CBOR body of an event (spec §5.7), checked as parseEvent checks
 * it. Throws TypeError for an unknown type and RangeError for any value the spec does not
 * allow (a caller's bug).
 */
export function eventBody(e: CertEvent): CborMap {
  let body: { [k: string]: CborValue | undefined };
  switch (e?.type) {
    case 'doctype.register':
      body = { docType: e.docType, maxValidity: e.maxValidity, time: e.time };
      break;
    case 'issuer.succeed':
      body = { issuer: e.issuer, successor: e.successor, time: e.time };
      break;
    case 'issuer.compromise':
      body = { issuer: e.issuer, from: e.from, time: e.time };
      break;
    case 'issuer.register':
      body = { issuer: e.issuer, name: e.name, docTypes: Array.isArray(e.docTypes) ? [...e.docTypes] : e.docTypes, time: e.time };
      break;
    case 'issuer.retire':
      body = { issuer: e.issuer, time: e.time };
      break;
    case 'cert.issue':
      body = { id: e.id, docType: e.docType, issuer: e.issuer, holder: e.holder, commitment: e.commitment, issuedAt: e.issuedAt, validUntil: e.validUntil, time: e.time };
      break;
    case 'cert.transfer':
      body = { id: e.id, parent: e.parent, sender: e.sender, senderSalt: e.senderSalt, recipient: e.recipient, nonce: e.nonce, time: e.time };
      break;
    case 'cert.revoke':
      body = { id: e.id, revoker: e.revoker, reason: e.reason, time: e.time };
      break;
    default:
      throw new TypeError(`eventBody: ${String((e as { type?: unknown } | undefined)?.type)} is not a certificate event type`);
  }
  readBody(e.type, body as CborMap, callerBug);
  return body as CborMap;
}

/** signerOf names the key that must sign an event (spec §5.2 table, §5.9). */
function signerOf(e: CertEvent): Uint8Array | 'root' {
  switch (e.type) {
    case 'doctype.register':
    case 'issuer.register':
    case 'issuer.retire':
    case 'issuer.succeed':
    case 'issuer.compromise':
      return 'root';
    case 'cert.issue':
      return e.issuer;
    case 'cert.revoke':
      return e.revoker;
    case 'cert.transfer':
      return e.sender;
  }
}

/**
 * encodeEvent builds the entry of an event and signs it with a 32-byte Ed25519 seed
 * (spec §5.2, §5.7). Picking the right key is the caller's job: the root key for
 * doctype.register and issuer.*; for the other types the seed's public key must be the
 * body's issuer (cert.issue), sender (cert.transfer) or revoker (cert.revoke), else
 * RangeError. Throws TypeError/RangeError for an event the spec does not
 * allow (see eventBody); the result always passes parseEvent.
 */
export function encodeEvent(e: CertEvent, seed: Uint8Array): Uint8Array {
  const body = eventBody(e);
  const signer = signerOf(e);
  if (signer !== 'root' && !equalBytes(ed25519PublicKey(seed), signer)) {
    throw new RangeError(`encodeEvent: the seed is not the key of the ${e.type === 'cert.transfer' ? 'sender' : e.type === 'cert.revoke' ? 'revoker' : 'issuer'}`);
  }
  return signEntry(e.type, body, seed);
}

// The canonical envelope {"v": 1, "sig": bytes(64), "body": …, "type": …} has its keys in
// this order (shorter key first), so the body's exact bytes start at a fixed offset.
const ENVELOPE_HEAD = concatBytes(
  Uint8Array.of(0xa4, 0x61, 0x76, ENTRY_VERSION, 0x63, 0x73, 0x69, 0x67, 0x58, 0x40),
  new Uint8Array(64),
  Uint8Array.of(0x64, 0x62, 0x6f, 0x64, 0x79),
);
const BODY_OFFSET = ENVELOPE_HEAD.length; // 79

/**
 * bodyBytes returns the body as it appears in canonical entry bytes, so the signature is
 * checked over the bytes received rather than a re-encoding (spec §5.1). decodeEntry has
 * established that the entry is canonical; the checks here only guard that reasoning.
 */
function bodyBytes(bytes: Uint8Array, type: string): Uint8Array {
  const tail = 5 + (type.length < 24 ? 1 : 2) + type.length; // "type" key, head, ASCII name
  const sameHead = (from: number, to: number): boolean => {
    for (let i = from; i < to; i++) if (bytes[i] !== ENVELOPE_HEAD[i]) return false;
    return true;
  };
  if (bytes.length <= BODY_OFFSET + tail || !sameHead(0, 10) || !sameHead(74, BODY_OFFSET)) {
    throw new Error('events: entry envelope is not in its canonical layout'); // unreachable after decodeEntry
  }
  return bytes.subarray(BODY_OFFSET, bytes.length - tail);
}

/**
 * parseEvent reads a certificate event entry strictly (spec §5.2, §5.7); see the module
 * comment for the checks and codes (MALFORMED, NON_CANONICAL, UNSUPPORTED, TOO_LARGE,
 * BAD_KEY). It does not verify the signature: use verifyEventSignature with the key that
 * `signer` names. Byte strings in the result are copies.
 */
export function parseEvent(bytes: Uint8Array): ParsedEvent {
  const entry = decodeEntry(bytes);
  if (!isEventType(entry.type)) throw new LedgerError('UNSUPPORTED', `entry type ${entry.type} is not a certificate event`);
  const event = readBody(entry.type, entry.body, (code, msg) => {
    throw new LedgerError(code, msg);
  });
  const signingInput = concatBytes(utf8(`dojang/v1/${entry.type}\n`), bodyBytes(bytes, entry.type));
  return { event, sig: entry.sig, signer: signerOf(event), signingInput, bytes };
}

/**
 * verifyEventSignature checks the event's signature under publicKey with the strict
 * rules of spec §2.3 (optionally on a given crypto backend). Throws BAD_SIGNATURE.
 */
export function verifyEventSignature(p: ParsedEvent, publicKey: Uint8Array, backend?: CryptoBackend): void {
  if (!verifyEd25519(publicKey, p.signingInput, p.sig, backend)) {
    throw new LedgerError('BAD_SIGNATURE', `signature on ${p.event.type} entry does not verify`);
  }
}

/**
 * encodeParsedEvent re-encodes a parsed event with its signature: the entry bytes it was
 * read from (parseEvent accepts only canonical bytes). For tests and tools.
 */
export function encodeParsedEvent(p: Pick<ParsedEvent, 'event' | 'sig'>): Uint8Array {
  return encodeEntry({ v: ENTRY_VERSION, type: p.event.type, body: eventBody(p.event), sig: p.sig });
}
