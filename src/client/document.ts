/**
 * The issued-document file (`dojang issue --out FILE`): what a holder must keep to use a
 * certificate — every claim with its salt, every digest, the exact `cert.issue` entry and
 * its receipt's proof bundle. It is one deterministic CBOR map (spec §5.1):
 *
 *   {
 *     "v":       1,
 *     "origin":  text                  the log the certificate was issued into
 *     "issue":   bytes                 the cert.issue entry, byte for byte as logged (§5.7)
 *     "claims":  [[salt(16), name, value], …]   ascending by the UTF-8 of name (§5.8)
 *     "digests": [bytes(32), …]        ascending; every claim's digest (and any decoys)
 *     "proof":   text | null          the c2sp.org/tlog-proof@v1 bundle of the receipt
 *                                      (§7, §8.6), or null if the issuer never got one
 *   }
 *
 * The id, document type, issuer, holder, commitment and dates are read from `issue`, so
 * the file cannot contradict the log. `claims` and `digests` are exactly a §5.8
 * disclosure of every claim, and must commit to the entry's commitment. Files SHOULD use
 * the extension `.dojang`. Decoding checks the format and the commitment; it verifies no
 * signature (verify the proof bundle with the log's keys, spec §7.3).
 *
 * Pure: no disk, network or clock.
 */
import { LedgerError, isLedgerError } from '../core/errors.js';
import { decodeCbor, encodeCbor, type CborValue } from '../core/cbor.js';
import { decodeDisclosure, encodeDisclosure, verifyDisclosure, type Claim } from '../core/commitment.js';
import { parseEvent, type CertIssue } from '../core/events.js';
import { parseProofBundle } from '../core/proof-bundle.js';

/** DOCUMENT_VERSION is the value of "v". */
export const DOCUMENT_VERSION = 1;
/** A document file larger than this is refused with TOO_LARGE (claims may be large). */
export const MAX_DOCUMENT_BYTES = 1 << 20;

/** An issued document (module comment). */
export interface IssuedDocument {
  origin: string;
  /** The cert.issue entry bytes. */
  issue: Uint8Array;
  claims: Claim[];
  digests: Uint8Array[];
  /** The receipt's tlog-proof@v1 bundle, or null. */
  proof: string | null;
}

/**
 * encodeDocument writes a document as deterministic CBOR (module comment), claims
 * sorted by name and digests ascending. It checks that `issue` is a cert.issue entry and
 * that the claims and digests commit to its commitment. RangeError/TypeError for
 * anything else (a caller's bug).
 */
export function encodeDocument(d: IssuedDocument): Uint8Array {
  if (typeof d.origin !== 'string' || d.origin.length === 0) throw new RangeError('encodeDocument: origin must be non-empty text');
  if (d.proof !== null && typeof d.proof !== 'string') throw new TypeError('encodeDocument: proof must be text or null');
  let event: CertIssue;
  try {
    event = issueEvent(d.issue);
    verifyDisclosure({ claims: d.claims, digests: d.digests }, event.commitment);
  } catch (e) {
    throw new RangeError(`encodeDocument: ${(e as Error).message}`, { cause: e });
  }
  const disclosure = decodeCbor(encodeDisclosure({ claims: d.claims, digests: d.digests }), { maxBytes: MAX_DOCUMENT_BYTES }) as { claims: CborValue; digests: CborValue };
  const out = encodeCbor({ v: DOCUMENT_VERSION, origin: d.origin, issue: d.issue, claims: disclosure.claims, digests: disclosure.digests, proof: d.proof });
  if (out.length > MAX_DOCUMENT_BYTES) throw new RangeError(`encodeDocument: a document is at most ${MAX_DOCUMENT_BYTES} bytes`);
  return out;
}

/**
 * decodeDocument reads a document strictly and returns it with its parsed cert.issue.
 * Throws LedgerError:
 *  - TOO_LARGE: more than MAX_DOCUMENT_BYTES;
 *  - MALFORMED / NON_CANONICAL: not the deterministic CBOR map of the module comment
 *    (other keys, wrong types, claims or digests as decodeDisclosure refuses them, an
 *    `issue` that parseEvent refuses, a proof that is not a tlog-proof@v1 bundle);
 *  - UNSUPPORTED: another version, or an `issue` entry of another event type;
 *  - INVALID_PROOF: claims and digests that do not commit to the entry's commitment.
 * Whether the proof bundle proves `issue` is for the verifier to check with the log's
 * keys (verifyProofBundle against `issue`, spec §7.3).
 */
export function decodeDocument(bytes: Uint8Array): IssuedDocument & { event: CertIssue } {
  const v = decodeCbor(bytes, { maxBytes: MAX_DOCUMENT_BYTES });
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array || Array.isArray(v)) throw new LedgerError('MALFORMED', 'document: not a map');
  if (Object.keys(v).sort().join(',') !== 'claims,digests,issue,origin,proof,v') {
    throw new LedgerError('MALFORMED', 'document: must have exactly the keys v, origin, issue, claims, digests, proof');
  }
  if (v.v !== DOCUMENT_VERSION) {
    if (typeof v.v === 'number') throw new LedgerError('UNSUPPORTED', `document: version ${v.v} is not supported`);
    throw new LedgerError('MALFORMED', 'document: v must be an unsigned integer');
  }
  if (typeof v.origin !== 'string' || v.origin.length === 0) throw new LedgerError('MALFORMED', 'document: origin must be non-empty text');
  if (!(v.issue instanceof Uint8Array)) throw new LedgerError('MALFORMED', 'document: issue must be a byte string');
  if (v.proof !== null && typeof v.proof !== 'string') throw new LedgerError('MALFORMED', 'document: proof must be text or null');
  // claims and digests are a §5.8 disclosure: the same strict reader, on the same bytes.
  const { claims, digests } = decodeDisclosure(encodeCbor({ claims: v.claims, digests: v.digests }), { maxBytes: MAX_DOCUMENT_BYTES });
  const event = issueEvent(v.issue);
  verifyDisclosure({ claims, digests }, event.commitment); // MALFORMED, INVALID_PROOF
  if (v.proof !== null) parseProofBundle(v.proof); // MALFORMED
  return { origin: v.origin, issue: v.issue, claims, digests, proof: v.proof, event };
}

/** issueEvent parses a cert.issue entry (parseEvent codes; UNSUPPORTED for another type). */
function issueEvent(entry: Uint8Array): CertIssue {
  let p;
  try {
    p = parseEvent(entry);
  } catch (e) {
    if (isLedgerError(e)) throw new LedgerError(e.code, `document issue entry: ${e.message}`, { cause: e });
    throw e;
  }
  if (p.event.type !== 'cert.issue') throw new LedgerError('UNSUPPORTED', `document issue entry is a ${p.event.type}, not a cert.issue`);
  return p.event;
}
