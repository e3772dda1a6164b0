/**
 * Presentations (spec §10.1): what a holder shows a verifier — the issuer's registration,
 * the issuance, the transfers that lead to the presenter or the verifier, each with its
 * proof bundle, the disclosed claims, the newest status answer and the proof of holding.
 * One deterministic CBOR map; decoding is strict and checks the format only (the
 * verdict is src/client/verify.ts). Pure: no disk, network or clock.
 */
import { LedgerError, isLedgerError } from '../core/errors.js';
import { decodeCbor, encodeCbor, type CborValue } from '../core/cbor.js';
import { concatBytes, utf8 } from '../core/bytes.js';
import { signEd25519, ed25519PublicKey } from '../core/crypto.js';
import { decodeDisclosure, encodeDisclosure, type Disclosure } from '../core/commitment.js';
import { parseEvent, SALT_BYTES, type CertIssue, type CertTransfer, type IssuerRegister, type ParsedEvent } from '../core/events.js';
import { parseProofBundle, type ProofBundle } from '../core/proof-bundle.js';
import { isMap, type CborMap } from '../core/entry.js';
import type { StatusParts } from './status.js';
import { leafHash } from '../core/merkle.js';

/** PRESENTATION_VERSION is the value of "v". */
export const PRESENTATION_VERSION = 1;
/** A presentation larger than this is refused with TOO_LARGE. */
export const MAX_PRESENTATION_BYTES = 1 << 20;
/** At most this many transfers in a chain. */
export const MAX_TRANSFERS = 64;
export const MIN_NONCE_BYTES = 16;
export const MAX_NONCE_BYTES = 64;
export const MAX_VERIFIER_NAME_BYTES = 128;

/** An entry with the tlog-proof@v1 bundle that anchors it (its receipt's). */
export interface Anchored {
  entry: Uint8Array;
  proof: string;
}

/** The status answer of spec §8.7 as a presentation carries it (bytes in place of base64). */
export type PresentedStatus = StatusParts;
type ProvedEntry = StatusParts['events'][number];

export type Holding =
  | { flow: 'received'; recipient: Uint8Array; salt: Uint8Array }
  | { flow: 'face'; verifier: string; nonce: Uint8Array; holder: Uint8Array; salt: Uint8Array | null; sig: Uint8Array }
  | { flow: 'view' };

/** A presentation (spec §10.1). */
export interface Presentation {
  origin: string;
  register: Anchored;
  issue: Anchored;
  transfers: Anchored[];
  disclosure: Disclosure;
  status: PresentedStatus | null;
  holding: Holding;
}

/** A decoded presentation with its entries parsed and its bundles read (not verified). */
export interface DecodedPresentation extends Presentation {
  parsed: {
    register: ParsedEvent & { event: IssuerRegister };
    issue: ParsedEvent & { event: CertIssue };
    transfers: (ParsedEvent & { event: CertTransfer })[];
  };
  bundles: { register: ProofBundle; issue: ProofBundle; transfers: ProofBundle[] };
}

/**
 * faceSigningInput is what the holder key signs in the face-to-face flow (spec §10.1):
 * the domain prefix and the CBOR of origin, certificate id, the leaf hash of the last
 * event of the chain, the verifier's name and nonce.
 */
export function faceSigningInput(o: { origin: string; id: Uint8Array; last: Uint8Array; verifier: string; nonce: Uint8Array }): Uint8Array {
  return concatBytes(utf8('dojang/v1/presentation\n'), encodeCbor({ origin: o.origin, id: o.id, last: o.last, verifier: o.verifier, nonce: o.nonce }));
}

/**
 * signFace makes the face-to-face holding of a presentation: the holder key (seed)
 * signs the verifier's nonce and name over the chain's last event. `salt` is null
 * without transfers, else the salt of the last transfer's recipient commitment.
 */
export function signFace(
  p: Pick<Presentation, 'origin' | 'issue' | 'transfers'>,
  holderSeed: Uint8Array,
  o: { verifier: string; nonce: Uint8Array; salt: Uint8Array | null },
): Holding {
  const issue = parseEvent(p.issue.entry).event as CertIssue;
  const lastEntry = p.transfers.length === 0 ? p.issue.entry : p.transfers[p.transfers.length - 1].entry;
  const msg = faceSigningInput({ origin: p.origin, id: issue.id, last: leafHash(lastEntry), verifier: o.verifier, nonce: o.nonce });
  return { flow: 'face', verifier: o.verifier, nonce: o.nonce.slice(), holder: ed25519PublicKey(holderSeed), salt: o.salt === null ? null : o.salt.slice(), sig: signEd25519(holderSeed, msg) };
}

function holdingValue(h: Holding): CborValue {
  switch (h.flow) {
    case 'received':
      return { flow: h.flow, recipient: h.recipient, salt: h.salt };
    case 'face':
      return { flow: h.flow, verifier: h.verifier, nonce: h.nonce, holder: h.holder, salt: h.salt, sig: h.sig };
    case 'view':
      return { flow: h.flow };
  }
}

const proved = (e: ProvedEntry): CborValue => ({ index: e.index, entry: e.entry, proof: e.proof });

/**
 * encodePresentation writes a presentation as deterministic CBOR. It checks the format
 * by decoding what it wrote; RangeError for anything decodePresentation would refuse
 * (a caller's bug).
 */
export function encodePresentation(p: Presentation): Uint8Array {
  let out: Uint8Array;
  try {
    const disclosure = decodeCbor(encodeDisclosure(p.disclosure), { maxBytes: MAX_PRESENTATION_BYTES });
    out = encodeCbor({
      v: PRESENTATION_VERSION,
      origin: p.origin,
      register: { entry: p.register.entry, proof: p.register.proof },
      issue: { entry: p.issue.entry, proof: p.issue.proof },
      transfers: p.transfers.map((t) => ({ entry: t.entry, proof: t.proof })),
      disclosure,
      status: p.status === null ? null : { statement: p.status.statement, checkpoint: p.status.checkpoint, events: p.status.events.map(proved), issuer: p.status.issuer.map(proved) },
      holding: holdingValue(p.holding),
    });
    decodePresentation(out);
  } catch (e) {
    throw new RangeError(`encodePresentation: ${(e as Error).message}`, { cause: e });
  }
  return out;
}


const bad = (msg: string): never => {
  throw new LedgerError('MALFORMED', `presentation: ${msg}`);
};

function exactMap(v: CborValue | undefined, keys: string[], what: string): CborMap {
  if (!isMap(v)) return bad(`${what} is not a map`);
  if (Object.keys(v).sort().join(',') !== [...keys].sort().join(',')) bad(`${what} must have exactly the keys ${keys.join(', ')}`);
  return v;
}

function bytes(v: CborValue | undefined, what: string, len?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) return bad(`${what} is not a byte string`);
  if (len !== undefined && v.length !== len) bad(`${what} must be ${len} bytes`);
  return v;
}

function text(v: CborValue | undefined, what: string): string {
  if (typeof v !== 'string') return bad(`${what} is not text`);
  return v;
}

function uint(v: CborValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return bad(`${what} is not an unsigned integer`);
  return v;
}

function list(v: CborValue | undefined, what: string): CborValue[] {
  if (!Array.isArray(v)) return bad(`${what} is not an array`);
  return v;
}

function anchored(v: CborValue | undefined, what: string): { a: Anchored; bundle: ProofBundle } {
  const m = exactMap(v, ['entry', 'proof'], what);
  const a = { entry: bytes(m.entry, `${what} entry`), proof: text(m.proof, `${what} proof`) };
  try {
    return { a, bundle: parseProofBundle(a.proof) };
  } catch (e) {
    if (isLedgerError(e)) throw new LedgerError('MALFORMED', `presentation: ${what} proof: ${e.message}`, { cause: e });
    throw e;
  }
}

function parsedAs<T extends ParsedEvent['event']['type']>(entry: Uint8Array, type: T, what: string): ParsedEvent & { event: Extract<ParsedEvent['event'], { type: T }> } {
  let p: ParsedEvent;
  try {
    p = parseEvent(entry);
  } catch (e) {
    if (isLedgerError(e)) throw new LedgerError('MALFORMED', `presentation: ${what} entry: ${e.message}`, { cause: e });
    throw e;
  }
  if (p.event.type !== type) bad(`${what} entry is a ${p.event.type}, not a ${type}`);
  return p as ParsedEvent & { event: Extract<ParsedEvent['event'], { type: T }> };
}

function provedEntry(v: CborValue, what: string): ProvedEntry {
  const m = exactMap(v, ['index', 'entry', 'proof'], what);
  return { index: uint(m.index, `${what} index`), entry: bytes(m.entry, `${what} entry`), proof: list(m.proof, `${what} proof`).map((h) => bytes(h, `${what} proof hash`, 32)) };
}

function holding(v: CborValue | undefined): Holding {
  if (!isMap(v)) return bad('holding is not a map');
  switch (v.flow) {
    case 'received': {
      const m = exactMap(v, ['flow', 'recipient', 'salt'], 'holding');
      return { flow: 'received', recipient: bytes(m.recipient, 'holding recipient', 32), salt: bytes(m.salt, 'holding salt', SALT_BYTES) };
    }
    case 'face': {
      const m = exactMap(v, ['flow', 'verifier', 'nonce', 'holder', 'salt', 'sig'], 'holding');
      const verifier = text(m.verifier, 'holding verifier');
      const n = utf8(verifier).length;
      if (n < 1 || n > MAX_VERIFIER_NAME_BYTES) bad(`holding verifier must be 1-${MAX_VERIFIER_NAME_BYTES} bytes of UTF-8`);
      const nonce = bytes(m.nonce, 'holding nonce');
      if (nonce.length < MIN_NONCE_BYTES || nonce.length > MAX_NONCE_BYTES) bad(`holding nonce must be ${MIN_NONCE_BYTES}-${MAX_NONCE_BYTES} bytes`);
      const salt = m.salt === null ? null : bytes(m.salt, 'holding salt', SALT_BYTES);
      return { flow: 'face', verifier, nonce, holder: bytes(m.holder, 'holding holder', 32), salt, sig: bytes(m.sig, 'holding sig', 64) };
    }
    case 'view':
      exactMap(v, ['flow'], 'holding');
      return { flow: 'view' };
    default:
      return bad('holding flow must be "received", "face" or "view"');
  }
}

/**
 * decodePresentation reads a presentation strictly (spec §10.1) and parses its entries
 * and bundles. It verifies no signature or proof. Throws LedgerError: TOO_LARGE,
 * MALFORMED, NON_CANONICAL (CBOR or disclosure order), UNSUPPORTED (another version).
 */
export function decodePresentation(b: Uint8Array): DecodedPresentation {
  const v = decodeCbor(b, { maxBytes: MAX_PRESENTATION_BYTES });
  const m = exactMap(v, ['v', 'origin', 'register', 'issue', 'transfers', 'disclosure', 'status', 'holding'], 'presentation');
  if (m.v !== PRESENTATION_VERSION) {
    if (typeof m.v === 'number') throw new LedgerError('UNSUPPORTED', `presentation: version ${m.v} is not supported`);
    bad('v must be an unsigned integer');
  }
  const origin = text(m.origin, 'origin');
  if (origin === '') bad('origin must not be empty');
  const register = anchored(m.register, 'register');
  const issue = anchored(m.issue, 'issue');
  const rawTransfers = list(m.transfers, 'transfers');
  if (rawTransfers.length > MAX_TRANSFERS) bad(`at most ${MAX_TRANSFERS} transfers`);
  const transfers = rawTransfers.map((t, i) => anchored(t, `transfer ${i}`));
  let disclosure: Disclosure;
  try {
    disclosure = decodeDisclosure(encodeCbor(m.disclosure), { maxBytes: MAX_PRESENTATION_BYTES });
  } catch (e) {
    if (isLedgerError(e)) throw new LedgerError(e.code, `presentation: ${e.message}`, { cause: e });
    throw e;
  }
  let status: PresentedStatus | null = null;
  if (m.status !== null) {
    const s = exactMap(m.status, ['statement', 'checkpoint', 'events', 'issuer'], 'status');
    status = {
      statement: text(s.statement, 'status statement'),
      checkpoint: text(s.checkpoint, 'status checkpoint'),
      events: list(s.events, 'status events').map((e, i) => provedEntry(e, `status event ${i}`)),
      issuer: list(s.issuer, 'status issuer').map((e, i) => provedEntry(e, `status issuer event ${i}`)),
    };
  }
  const parsed = {
    register: parsedAs(register.a.entry, 'issuer.register', 'register'),
    issue: parsedAs(issue.a.entry, 'cert.issue', 'issue'),
    transfers: transfers.map((t, i) => parsedAs(t.a.entry, 'cert.transfer', `transfer ${i}`)),
  };
  return {
    origin,
    register: register.a,
    issue: issue.a,
    transfers: transfers.map((t) => t.a),
    disclosure,
    status,
    holding: holding(m.holding),
    parsed,
    bundles: { register: register.bundle, issue: issue.bundle, transfers: transfers.map((t) => t.bundle) },
  };
}
