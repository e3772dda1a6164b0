/**
 * Document commitments and selective disclosure (spec §5.8; the SD-JWT idea with CBOR).
 *
 * A document is a list of claims `[salt, name, value]`: salt 16 bytes from a CSPRNG, name
 * non-empty text of at most 64 UTF-8 bytes (distinct within a document), value any value
 * of spec §5.1. Each claim has a salted digest
 *
 *   digest = SHA-256("dojang/v1/claim\n" ‖ CBOR([salt, name, value]))
 *
 * and the document's commitment, carried by `cert.issue`, is
 *
 *   commitment = SHA-256("dojang/v1/commitment\n" ‖ CBOR(digests sorted ascending bytewise))
 *
 * A holder discloses some claims with their salts and every digest of the document; the
 * verifier recomputes the disclosed digests, finds them in the list and recomputes the
 * commitment. An undisclosed claim is hidden behind its salted digest; the number of
 * claims is not hidden.
 *
 * A disclosure travels as the deterministic CBOR map
 *
 *   { "claims": [[salt, name, value], …] in ascending byte order of name,
 *     "digests": [bytes(32), …] in ascending byte order }
 *
 * Building a commitment from bad values is a caller's bug (RangeError/TypeError);
 * checking one received from outside throws LedgerError (MALFORMED, NON_CANONICAL,
 * TOO_LARGE, INVALID_PROOF).
 */
import { LedgerError, type LedgerErrorCode } from './errors.js';
import { decodeCbor, encodeCbor, type CborOptions, type CborValue } from './cbor.js';
import { equalBytes, toHex, utf8 } from './bytes.js';
import { randomBytes, sha256 } from './crypto.js';

export type Claim = [salt: Uint8Array, name: string, value: CborValue];

/** A disclosure: the disclosed claims and every digest of the document. */
export interface Disclosure {
  claims: Claim[];
  digests: Uint8Array[];
}

export const CLAIM_SALT_BYTES = 16;
export const MAX_CLAIM_NAME_BYTES = 64;
export const DIGEST_BYTES = 32;

const CLAIM_PREFIX = utf8('dojang/v1/claim\n');
const COMMITMENT_PREFIX = utf8('dojang/v1/commitment\n');
const LONE_SURROGATE = /[\uD800-\uDFFF]/u; // with the u flag, matches unpaired surrogates only

/** compareBytes orders byte strings bytewise, a shorter prefix first. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** claimNameProblem says why a claim name is unacceptable, or undefined. */
function claimNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'claim name must be text';
  if (LONE_SURROGATE.test(name)) return 'claim name is not well-formed Unicode';
  const n = utf8(name).length;
  if (n < 1 || n > MAX_CLAIM_NAME_BYTES) return `claim name must be 1–${MAX_CLAIM_NAME_BYTES} bytes of UTF-8, is ${n}`;
  return undefined;
}

/** claimShapeProblem checks salt and name of a claim (not the value), or undefined. */
function claimShapeProblem(c: unknown): string | undefined {
  if (!Array.isArray(c) || c.length !== 3) return 'a claim must be [salt, name, value]';
  if (!(c[0] instanceof Uint8Array) || c[0].length !== CLAIM_SALT_BYTES) return `claim salt must be ${CLAIM_SALT_BYTES} bytes`;
  return claimNameProblem(c[1]);
}

/**
 * newClaim makes a claim with a fresh 16-byte salt from the CSPRNG. RangeError for a
 * name that is empty or longer than 64 UTF-8 bytes, or a value outside spec §5.1.
 */
export function newClaim(name: string, value: CborValue): Claim {
  const why = claimNameProblem(name);
  if (why !== undefined) throw new RangeError(`newClaim: ${why}`);
  encodeCbor(value); // throws for a value outside the data model, here rather than later
  return [randomBytes(CLAIM_SALT_BYTES), name, value];
}

/**
 * claimDigest is SHA-256("dojang/v1/claim\n" ‖ CBOR([salt, name, value])) (spec §5.8).
 * RangeError/TypeError for a bad salt, name or value (a caller's bug).
 */
export function claimDigest(c: Claim): Uint8Array {
  const why = claimShapeProblem(c);
  if (why !== undefined) throw new RangeError(`claimDigest: ${why}`);
  return sha256(CLAIM_PREFIX, encodeCbor([c[0], c[1], c[2]]));
}

/**
 * commitmentOf is SHA-256("dojang/v1/commitment\n" ‖ CBOR(sorted digests)) (spec §5.8):
 * it sorts a copy of the digests ascending bytewise, so their order does not matter.
 * RangeError for a digest that is not 32 bytes or a digest given twice.
 */
export function commitmentOf(digests: readonly Uint8Array[]): Uint8Array {
  for (const d of digests) {
    if (!(d instanceof Uint8Array) || d.length !== DIGEST_BYTES) throw new RangeError('commitmentOf: a digest must be 32 bytes');
  }
  const sorted = [...digests].sort(compareBytes);
  for (let i = 1; i < sorted.length; i++) {
    if (equalBytes(sorted[i - 1], sorted[i])) throw new RangeError('commitmentOf: a digest is given twice');
  }
  return sha256(COMMITMENT_PREFIX, encodeCbor(sorted));
}

/**
 * commitDocument computes the digest of every claim (in the claims' order) and the
 * document's commitment (spec §5.8). RangeError for a bad claim, two claims with the
 * same name, or the same claim twice.
 */
export function commitDocument(claims: readonly Claim[]): { commitment: Uint8Array; digests: Uint8Array[] } {
  const names = new Set<string>();
  for (const c of claims) {
    if (names.has(c[1])) throw new RangeError(`commitDocument: two claims are named ${JSON.stringify(c[1])}`);
    names.add(c[1]);
  }
  const digests = claims.map(claimDigest);
  return { commitment: commitmentOf(digests), digests };
}

/**
 * disclose makes the disclosure of the named claims of a document: those claims and every
 * digest. RangeError for a name the document does not have.
 */
export function disclose(claims: readonly Claim[], names: readonly string[]): Disclosure {
  const { digests } = commitDocument(claims);
  const picked = names.map((n) => {
    const c = claims.find((x) => x[1] === n);
    if (c === undefined) throw new RangeError(`disclose: no claim named ${JSON.stringify(n)}`);
    return c;
  });
  return { claims: picked, digests };
}

/**
 * narrowDisclosure keeps the named claims of a disclosure and every digest: what a holder
 * who received only some claims can pass on. RangeError for a name it does not disclose.
 */
export function narrowDisclosure(d: Disclosure, names: readonly string[]): Disclosure {
  const picked = names.map((n) => {
    const c = d.claims.find((x) => x[1] === n);
    if (c === undefined) throw new RangeError(`narrowDisclosure: no disclosed claim named ${JSON.stringify(n)}`);
    return c;
  });
  return { claims: picked, digests: [...d.digests] };
}

/**
 * verifyDisclosure checks a disclosure against a commitment from a cert.issue (spec §5.8)
 * and returns the disclosed claims as name → value. Throws LedgerError:
 *  - MALFORMED: a claim that is not [salt(16), name(1–64 bytes), value of §5.1], a digest
 *    that is not 32 bytes, or two disclosed claims with the same name;
 *  - INVALID_PROOF: the digest list has a duplicate, a disclosed claim's digest is not in
 *    it, or the digests do not commit to `commitment`.
 * RangeError if `commitment` is not 32 bytes (a caller's bug: events carry 32).
 */
export function verifyDisclosure(d: Disclosure, commitment: Uint8Array): Record<string, CborValue> {
  if (!(commitment instanceof Uint8Array) || commitment.length !== DIGEST_BYTES) throw new RangeError('verifyDisclosure: commitment must be 32 bytes');
  if (typeof d !== 'object' || d === null || !Array.isArray(d.claims) || !Array.isArray(d.digests)) {
    throw new LedgerError('MALFORMED', 'a disclosure has claims and digests');
  }
  const out: Record<string, CborValue> = {};
  const claimDigests: Uint8Array[] = [];
  for (const c of d.claims) {
    const why = claimShapeProblem(c);
    if (why !== undefined) throw new LedgerError('MALFORMED', why);
    if (Object.hasOwn(out, c[1])) throw new LedgerError('MALFORMED', `claim ${JSON.stringify(c[1])} is disclosed twice`);
    let digest: Uint8Array;
    try {
      digest = claimDigest(c);
    } catch (e) {
      throw new LedgerError('MALFORMED', `claim ${JSON.stringify(c[1])} has a value outside the data model`, { cause: e });
    }
    // An own property even for "__proto__", never the prototype setter.
    Object.defineProperty(out, c[1], { value: c[2], enumerable: true, writable: true, configurable: true });
    claimDigests.push(digest);
  }
  const listed = new Set<string>();
  for (const g of d.digests) {
    if (!(g instanceof Uint8Array) || g.length !== DIGEST_BYTES) throw new LedgerError('MALFORMED', 'a digest must be 32 bytes');
    const h = toHex(g);
    if (listed.has(h)) throw new LedgerError('INVALID_PROOF', 'the digest list has a duplicate');
    listed.add(h);
  }
  for (let i = 0; i < claimDigests.length; i++) {
    if (!listed.has(toHex(claimDigests[i]))) throw new LedgerError('INVALID_PROOF', `claim ${JSON.stringify(d.claims[i][1])} is not in the digest list`);
  }
  if (!equalBytes(commitmentOf(d.digests), commitment)) throw new LedgerError('INVALID_PROOF', 'the digests do not match the commitment');
  return out;
}

/** claimOrder orders claims by the UTF-8 bytes of their names. */
function claimOrder(a: Claim, b: Claim): number {
  return compareBytes(utf8(a[1]), utf8(b[1]));
}

/**
 * encodeDisclosure writes a disclosure as deterministic CBOR, claims ordered by name and
 * digests ascending (the module comment). RangeError/TypeError for bad claims or
 * digests, duplicate names or duplicate digests (a caller's bug).
 */
export function encodeDisclosure(d: Disclosure): Uint8Array {
  const names = new Set<string>();
  for (const c of d.claims) {
    const why = claimShapeProblem(c);
    if (why !== undefined) throw new RangeError(`encodeDisclosure: ${why}`);
    if (names.has(c[1])) throw new RangeError(`encodeDisclosure: claim ${JSON.stringify(c[1])} twice`);
    names.add(c[1]);
  }
  const digests = [...d.digests].sort(compareBytes);
  for (let i = 0; i < digests.length; i++) {
    if (!(digests[i] instanceof Uint8Array) || digests[i].length !== DIGEST_BYTES) throw new RangeError('encodeDisclosure: a digest must be 32 bytes');
    if (i > 0 && equalBytes(digests[i - 1], digests[i])) throw new RangeError('encodeDisclosure: a digest is given twice');
  }
  const claims = [...d.claims].sort(claimOrder).map((c): CborValue => [c[0], c[1], c[2]]);
  return encodeCbor({ claims, digests });
}

/**
 * decodeDisclosure reads a disclosure strictly (the module comment; spec §5.1 CBOR). It
 * does not verify it (verifyDisclosure does). Throws LedgerError:
 *  - TOO_LARGE: more than opts.maxBytes (default 65,535);
 *  - MALFORMED: not CBOR of §5.1, other keys than claims and digests, a bad claim or
 *    digest, a name or a digest twice;
 *  - NON_CANONICAL: claims not in ascending order of name, or digests not ascending.
 */
export function decodeDisclosure(b: Uint8Array, opts?: Pick<CborOptions, 'maxBytes'>): Disclosure {
  const v = decodeCbor(b, { maxBytes: opts?.maxBytes });
  const fail = (code: LedgerErrorCode, msg: string): never => {
    throw new LedgerError(code, `disclosure: ${msg}`);
  };
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array || Array.isArray(v)) return fail('MALFORMED', 'not a map');
  if (Object.keys(v).sort().join(',') !== 'claims,digests') fail('MALFORMED', 'must have exactly the keys claims and digests');
  const rawClaims = v.claims;
  const rawDigests = v.digests;
  if (!Array.isArray(rawClaims)) return fail('MALFORMED', 'claims is not an array');
  if (!Array.isArray(rawDigests)) return fail('MALFORMED', 'digests is not an array');
  let nonCanonical: string | undefined;
  const claims: Claim[] = [];
  const names = new Set<string>();
  for (const c of rawClaims) {
    const why = claimShapeProblem(c);
    if (why !== undefined) fail('MALFORMED', why);
    const claim = c as Claim;
    if (names.has(claim[1])) fail('MALFORMED', `claim ${JSON.stringify(claim[1])} twice`);
    names.add(claim[1]);
    if (claims.length > 0 && claimOrder(claims[claims.length - 1], claim) > 0) nonCanonical ??= 'claims are not in ascending order of name';
    claims.push([claim[0], claim[1], claim[2]]);
  }
  const digests: Uint8Array[] = [];
  for (const g of rawDigests) {
    if (!(g instanceof Uint8Array) || g.length !== DIGEST_BYTES) fail('MALFORMED', 'a digest must be 32 bytes');
    const d = g as Uint8Array;
    if (digests.length > 0) {
      const cmp = compareBytes(digests[digests.length - 1], d);
      if (cmp === 0) fail('MALFORMED', 'a digest is given twice');
      if (cmp > 0) nonCanonical ??= 'digests are not in ascending order';
    }
    digests.push(d);
  }
  // Duplicates that are not adjacent: only possible when the order is already wrong.
  if (nonCanonical !== undefined && new Set(digests.map(toHex)).size !== digests.length) fail('MALFORMED', 'a digest is given twice');
  if (nonCanonical !== undefined) fail('NON_CANONICAL', nonCanonical);
  return { claims, digests };
}
