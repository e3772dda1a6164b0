/**
 * Wallet items and sealed items (spec §12.4): what the personal data store keeps for a
 * wallet — a certificate's issuance and transfers with their proofs, a disclosure and
 * the salt that makes the wallet a holder — sealed with HPKE to the wallet's X25519 key.
 *
 * Pure and portable (it runs in the browser).
 */
import { decodeCbor, encodeCbor, type CborValue } from '../core/cbor.js';
import { utf8 } from '../core/bytes.js';
import { LedgerError, isLedgerError } from '../core/errors.js';
import { decodeDisclosure, encodeDisclosure, verifyDisclosure, type Disclosure } from '../core/commitment.js';
import { parseEvent, SALT_BYTES, type CertIssue, type CertTransfer } from '../core/events.js';
import { isMap, type CborMap } from '../core/entry.js';
import { leafHash } from '../core/merkle.js';
import { parseProofBundle } from '../core/proof-bundle.js';
import { equalBytes } from '../core/bytes.js';
import { MAX_TRANSFERS, type Anchored } from '../client/presentation.js';
import { open, seal } from './hpke.js';
import { ed25519PublicKey } from '../core/crypto.js';
import { x25519PublicKey, x25519SecretKey } from './keys.js';

export const ITEM_VERSION = 1;
/** An item larger than this is refused with TOO_LARGE. */
export const MAX_ITEM_BYTES = 1 << 20;
/** A sealed item of a MAX_ITEM_BYTES item: the map, `enc` and the tag add 65 bytes. */
export const MAX_SEALED_BYTES = MAX_ITEM_BYTES + 128;
const INFO = utf8('dojang/v1/wallet-item');
const NO_AAD = new Uint8Array(0);

/** An item (spec §12.4). */
export interface WalletItem {
  origin: string;
  issue: Anchored;
  transfers: Anchored[];
  disclosure: Disclosure;
  /** null for an issued item; else the salt of the last transfer's commitment to this wallet. */
  salt: Uint8Array | null;
}

/** A decoded item with its events parsed. */
export interface DecodedItem extends WalletItem {
  parsed: { issue: CertIssue; transfers: CertTransfer[] };
  /** The leaf hash of the chain's last event (the issuance when there is no transfer). */
  last: Uint8Array;
}

const bad = (msg: string): never => {
  throw new LedgerError('MALFORMED', `item: ${msg}`);
};

function exactMap(v: CborValue | undefined, keys: string[], what: string): CborMap {
  if (!isMap(v)) return bad(`${what} is not a map`);
  if (Object.keys(v).sort().join(',') !== [...keys].sort().join(',')) bad(`${what} must have exactly the keys ${keys.join(', ')}`);
  return v;
}

function anchored(v: CborValue | undefined, what: string): Anchored {
  const m = exactMap(v, ['entry', 'proof'], what);
  if (!(m.entry instanceof Uint8Array)) return bad(`${what} entry is not a byte string`);
  if (typeof m.proof !== 'string') return bad(`${what} proof is not text`);
  try {
    parseProofBundle(m.proof);
  } catch (e) {
    if (isLedgerError(e)) bad(`${what} proof: ${e.message}`);
    throw e;
  }
  return { entry: m.entry, proof: m.proof };
}

function event(entry: Uint8Array, what: string) {
  try {
    return parseEvent(entry).event;
  } catch (e) {
    if (isLedgerError(e)) return bad(`${what}: ${e.message}`);
    throw e;
  }
}

/**
 * encodeItem writes an item as deterministic CBOR; it checks it by decoding what it
 * wrote (RangeError for anything decodeItem refuses: a caller's bug).
 */
export function encodeItem(i: WalletItem): Uint8Array {
  try {
    const out = encodeCbor({
      v: ITEM_VERSION,
      origin: i.origin,
      issue: { entry: i.issue.entry, proof: i.issue.proof },
      transfers: i.transfers.map((t) => ({ entry: t.entry, proof: t.proof })),
      disclosure: decodeCbor(encodeDisclosure(i.disclosure), { maxBytes: MAX_ITEM_BYTES }),
      salt: i.salt,
    });
    decodeItem(out);
    return out;
  } catch (e) {
    throw new RangeError(`encodeItem: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * decodeItem reads an item strictly: its format, that the disclosure commits to the
 * issuance (INVALID_PROOF otherwise) and that the transfers chain from it
 * (UNKNOWN_PARENT). It verifies no signature or proof (present the item for that), and
 * not who holds it (Wallet does). TOO_LARGE, MALFORMED, NON_CANONICAL, UNSUPPORTED.
 */
export function decodeItem(b: Uint8Array): DecodedItem {
  const m = exactMap(decodeCbor(b, { maxBytes: MAX_ITEM_BYTES }), ['v', 'origin', 'issue', 'transfers', 'disclosure', 'salt'], 'item');
  if (m.v !== ITEM_VERSION) {
    if (typeof m.v === 'number') throw new LedgerError('UNSUPPORTED', `item: version ${m.v} is not supported`);
    bad('v must be an unsigned integer');
  }
  if (typeof m.origin !== 'string' || m.origin === '') return bad('origin must be non-empty text');
  const issue = anchored(m.issue, 'issue');
  if (!Array.isArray(m.transfers)) return bad('transfers is not an array');
  if (m.transfers.length > MAX_TRANSFERS) bad(`at most ${MAX_TRANSFERS} transfers`);
  const transfers = m.transfers.map((t, i) => anchored(t, `transfer ${i}`));
  let disclosure: Disclosure;
  try {
    disclosure = decodeDisclosure(encodeCbor(m.disclosure), { maxBytes: MAX_ITEM_BYTES });
  } catch (e) {
    if (isLedgerError(e)) throw new LedgerError(e.code, `item: ${e.message}`, { cause: e });
    throw e;
  }
  let salt: Uint8Array | null = null;
  if (m.salt !== null) {
    if (!(m.salt instanceof Uint8Array) || m.salt.length !== SALT_BYTES) return bad(`salt must be ${SALT_BYTES} bytes or null`);
    salt = m.salt;
  }
  if ((salt === null) !== (transfers.length === 0)) bad('salt is null exactly when there is no transfer');
  const iss = event(issue.entry, 'issue');
  if (iss.type !== 'cert.issue') return bad(`issue is a ${iss.type}`);
  verifyDisclosure(disclosure, iss.commitment); // INVALID_PROOF
  let last = leafHash(issue.entry);
  const parsedTransfers: CertTransfer[] = [];
  transfers.forEach((t, i) => {
    const tr = event(t.entry, `transfer ${i}`);
    if (tr.type !== 'cert.transfer') return bad(`transfer ${i} is a ${tr.type}`);
    if (!equalBytes(tr.id, iss.id) || !equalBytes(tr.parent, last)) throw new LedgerError('UNKNOWN_PARENT', `item: transfer ${i} does not follow the event before it`);
    parsedTransfers.push(tr);
    last = leafHash(t.entry);
  });
  return { origin: m.origin, issue, transfers, disclosure, salt, parsed: { issue: iss, transfers: parsedTransfers }, last };
}

/** sealItem seals item bytes to a wallet, named by its identity public key (spec §12.4). */
export function sealItem(item: Uint8Array, identityKey: Uint8Array): Uint8Array {
  const { enc, ct } = seal(x25519PublicKey(identityKey), item, INFO, NO_AAD);
  return encodeCbor({ v: ITEM_VERSION, enc, ct });
}

function readSealed(sealed: Uint8Array): { enc: Uint8Array; ct: Uint8Array } {
  const m = exactMap(decodeCbor(sealed, { maxBytes: MAX_SEALED_BYTES }), ['v', 'enc', 'ct'], 'sealed item');
  if (m.v !== ITEM_VERSION) {
    if (typeof m.v === 'number') throw new LedgerError('UNSUPPORTED', `sealed item: version ${m.v} is not supported`);
    bad('v must be an unsigned integer');
  }
  if (!(m.enc instanceof Uint8Array) || m.enc.length !== 32) return bad('enc must be 32 bytes');
  if (!(m.ct instanceof Uint8Array) || m.ct.length < 16) return bad('ct must be a byte string of at least 16 bytes (the tag)');
  return { enc: m.enc, ct: m.ct };
}

/** checkSealed checks that bytes are a sealed item (the store's check: it cannot open it). MALFORMED, NON_CANONICAL, UNSUPPORTED, TOO_LARGE. */
export function checkSealed(sealed: Uint8Array): void {
  readSealed(sealed);
}

/**
 * openSealed opens a sealed item with the wallet's identity seed and returns the item
 * bytes (decode them with decodeItem). MALFORMED/UNSUPPORTED/TOO_LARGE for a sealed
 * item that is not one; INVALID_PROOF when it does not open with this wallet's key.
 */
export function openSealed(sealed: Uint8Array, identitySeed: Uint8Array, identityKey = ed25519PublicKey(identitySeed)): Uint8Array {
  const { enc, ct } = readSealed(sealed);
  try {
    // The X25519 public key by the birational map: a field inversion, not a scalar multiplication.
    return open(x25519SecretKey(identitySeed), enc, ct, INFO, NO_AAD, x25519PublicKey(identityKey));
  } catch (e) {
    // An `enc` of small order opens nothing either (spec §12.4 names one code for that).
    if (isLedgerError(e, 'BAD_KEY')) throw new LedgerError('INVALID_PROOF', `the sealed item does not open: ${e.message}`, { cause: e });
    throw e;
  }
}
