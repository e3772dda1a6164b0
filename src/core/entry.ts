/**
 * Entries are signed events in deterministic CBOR (spec §5). Every entry has the same
 * envelope, a map with exactly these keys:
 *
 *   { "v": 1, "type": <text>, "body": <map>, "sig": <bytes(64)> }
 *
 * and is signed by the key that the rules of its type name, over the signing input
 *
 *   "dojang/v1/" ‖ type ‖ "\n" ‖ encodeCbor(body)
 *
 * so a signature for one type can never be replayed as another (domain separation).
 * Entry 0 of every log is a `genesis` entry, signed by the root key it names.
 */
import { LedgerError } from './errors.js';
import { decodeCbor, encodeCbor, type CborValue } from './cbor.js';
import { concatBytes, utf8 } from './bytes.js';
import { MAX_ENTRY_SIZE } from './tiles.js';
import { parseVerifierKey } from './note.js';
import { signEd25519, verifyEd25519 } from './crypto.js';

export const ENTRY_VERSION = 1;

export type CborMap = { [key: string]: CborValue };

export interface Entry {
  readonly v: number;
  readonly type: string;
  readonly body: CborMap;
  readonly sig: Uint8Array;
}

/** signingInput returns the bytes an entry's signature covers (spec §5.2). */
export function signingInput(type: string, body: CborMap): Uint8Array {
  return concatBytes(utf8(`dojang/v1/${type}\n`), encodeCbor(body));
}

/** encodeEntry encodes an entry envelope; TOO_LARGE above 65,535 bytes. */
export function encodeEntry(e: Entry): Uint8Array {
  const bytes = encodeCbor({ v: e.v, type: e.type, body: e.body, sig: e.sig });
  if (bytes.length > MAX_ENTRY_SIZE) throw new LedgerError('TOO_LARGE', `entry is ${bytes.length} bytes, limit ${MAX_ENTRY_SIZE}`);
  return bytes;
}

/** signEntry builds and signs an entry of the given type with a 32-byte Ed25519 seed. */
export function signEntry(type: string, body: CborMap, seed: Uint8Array): Uint8Array {
  const sig = signEd25519(seed, signingInput(type, body));
  return encodeEntry({ v: ENTRY_VERSION, type, body, sig });
}

/**
 * decodeEntry parses an entry strictly: canonical CBOR, the exact envelope keys, a known
 * version. Throws MALFORMED, NON_CANONICAL, TOO_LARGE or UNSUPPORTED. It does not check
 * the signature (the type's rules say which key must have made it).
 */
export function decodeEntry(bytes: Uint8Array): Entry {
  if (bytes.length > MAX_ENTRY_SIZE) throw new LedgerError('TOO_LARGE', `entry is ${bytes.length} bytes, limit ${MAX_ENTRY_SIZE}`);
  const v = decodeCbor(bytes);
  if (!isMap(v)) throw new LedgerError('MALFORMED', 'entry is not a CBOR map');
  const keys = Object.keys(v).sort();
  if (keys.join(',') !== 'body,sig,type,v') throw new LedgerError('MALFORMED', 'entry must have exactly the keys v, type, body, sig');
  if (v.v !== ENTRY_VERSION) throw new LedgerError('UNSUPPORTED', `entry version ${String(v.v)} is not supported`);
  if (typeof v.type !== 'string' || !/^[a-z][a-z0-9.-]{0,63}$/.test(v.type)) throw new LedgerError('MALFORMED', 'entry type is not a valid type name');
  if (!isMap(v.body)) throw new LedgerError('MALFORMED', 'entry body is not a map');
  if (!(v.sig instanceof Uint8Array) || v.sig.length !== 64) throw new LedgerError('MALFORMED', 'entry sig is not 64 bytes');
  return { v: v.v, type: v.type, body: v.body, sig: v.sig };
}

/** verifyEntrySignature checks e.sig under an Ed25519 public key; BAD_SIGNATURE if not. */
export function verifyEntrySignature(e: Entry, publicKey: Uint8Array): void {
  if (!verifyEd25519(publicKey, signingInput(e.type, e.body), e.sig)) {
    throw new LedgerError('BAD_SIGNATURE', `signature on ${e.type} entry does not verify`);
  }
}

export function isMap(v: unknown): v is CborMap {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !Array.isArray(v);
}

/** Genesis is the body of entry 0 (spec §5.3). Keys are note vkeys. */
export interface Genesis {
  readonly origin: string;
  readonly logKey: string;
  readonly timestampKey: string;
  readonly statusKey: string;
  readonly rootKey: string;
  /** Unix seconds when the log was created. */
  readonly time: number;
}

export function genesisBody(g: Genesis): CborMap {
  return { origin: g.origin, logKey: g.logKey, timestampKey: g.timestampKey, statusKey: g.statusKey, rootKey: g.rootKey, time: g.time };
}

/**
 * parseGenesis checks that an entry is a genesis entry with a well-formed body, signed
 * by the root key it names, and returns the body. Throws MALFORMED or BAD_SIGNATURE.
 */
export function parseGenesis(bytes: Uint8Array): Genesis {
  const e = decodeEntry(bytes);
  if (e.type !== 'genesis') throw new LedgerError('MALFORMED', `entry 0 has type ${e.type}, want genesis`);
  const b = e.body;
  const keys = Object.keys(b).sort().join(',');
  if (keys !== 'logKey,origin,rootKey,statusKey,time,timestampKey') throw new LedgerError('MALFORMED', 'genesis body has the wrong keys');
  for (const k of ['origin', 'logKey', 'timestampKey', 'statusKey', 'rootKey'] as const) {
    if (typeof b[k] !== 'string') throw new LedgerError('MALFORMED', `genesis ${k} is not text`);
  }
  if (typeof b.time !== 'number' || !Number.isSafeInteger(b.time) || b.time < 0) throw new LedgerError('MALFORMED', 'genesis time is not a non-negative integer');
  const g: Genesis = {
    origin: b.origin as string,
    logKey: b.logKey as string,
    timestampKey: b.timestampKey as string,
    statusKey: b.statusKey as string,
    rootKey: b.rootKey as string,
    time: b.time,
  };
  const root = parseVerifierKey(g.rootKey);
  if (root.type !== 0x01) throw new LedgerError('MALFORMED', 'genesis root key must be an Ed25519 (0x01) key');
  const log = parseVerifierKey(g.logKey);
  if (log.name !== g.origin || log.type !== 0x01) throw new LedgerError('MALFORMED', 'genesis log key must be an Ed25519 key named by the origin');
  if (parseVerifierKey(g.timestampKey).type !== 0x04) throw new LedgerError('MALFORMED', 'genesis timestamp key must be a cosignature/v1 (0x04) key');
  if (parseVerifierKey(g.statusKey).type !== 0x01) throw new LedgerError('MALFORMED', 'genesis status key must be an Ed25519 (0x01) key');
  verifyEntrySignature(e, root.publicKey);
  return g;
}
