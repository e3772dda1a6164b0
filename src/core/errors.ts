/**
 * LedgerError is the one error type that crosses module boundaries for conditions a
 * caller can cause with its input or that the ledger detects in its own data. The code
 * is API: documented in docs/spec.md §9, stable, mapped to HTTP statuses in one table
 * (src/api/problem.ts). Messages are for people and may change.
 *
 * A programming error (a caller's bug) is a plain TypeError/RangeError, never a
 * LedgerError.
 */
export type LedgerErrorCode =
  // Parsing and format errors (attacker-controlled bytes)
  | 'MALFORMED' // bytes or text do not follow the format at all
  | 'NON_CANONICAL' // well-formed but not the one canonical encoding
  | 'TOO_LARGE' // above a size limit (entry > 65,535 bytes, body > limit, ...)
  | 'BAD_REQUEST' // a request parameter is missing or out of its domain
  | 'NOT_FOUND' // the addressed object does not exist (yet)
  // Cryptographic verification
  | 'BAD_SIGNATURE' // a signature by a known key does not verify
  | 'UNKNOWN_KEY' // no signature by a required key was found
  | 'INVALID_PROOF' // an inclusion or consistency proof does not verify
  | 'INCONSISTENT' // two tree heads of one log that cannot both be true (fork evidence)
  // Ledger state
  | 'STATE_MISMATCH' // stored tree state disagrees with the last checkpoint
  | 'CONFLICT' // a compare-and-swap on the tree head lost (another writer)
  | 'OVERLOADED' // the write queue is full; retry later
  | 'UNAVAILABLE' // the ledger is closed or not ready
  | 'UNSUPPORTED' // a version or type this implementation does not know
  // Certificate event rules (spec §5.9)
  | 'BAD_KEY' // a public key in a body is not an acceptable Ed25519 key
  | 'CLOCK_SKEW' // the submitter's time is more than 300 s from the batch time
  | 'UNKNOWN_ISSUER' // the issuer key was never registered (before this point of the log)
  | 'ISSUER_RETIRED' // the issuer key was retired before this point of the log
  | 'DOCTYPE_NOT_ALLOWED' // the issuer is not registered for this document type
  | 'DUPLICATE_CERT' // a certificate with this id exists
  | 'UNKNOWN_CERT' // no certificate with this id
  | 'UNKNOWN_PARENT' // the parent event is not in the log, or is of another certificate
  | 'NOT_HOLDER' // the sender is not a holder of the certificate by the parent event
  | 'NOT_ISSUER' // the key may not revoke this certificate at this point of the log
  | 'UNKNOWN_DOCTYPE' // the document type is not in the log's registry
  | 'ISSUED_AT_SKEW' // issuedAt is more than 300 s from the batch time
  | 'VALIDITY_TOO_LONG' // validUntil − issuedAt exceeds the document type's maxValidity
  | 'ISSUER_NOT_RETIRED' // issuer.succeed and issuer.compromise need a retired issuer
  | 'BAD_COMPROMISE' // an issuer.compromise's from is after the retirement or not lower than an earlier one's
  | 'ISSUER_COMPROMISED' // the certificate's issuer was compromised from an index at or before its issuance
  | 'CHAIN_TOO_LONG' // a transfer would be the 65th of its chain
  | 'CERT_REVOKED' // the certificate is revoked
  | 'CERT_EXPIRED' // the certificate is past its validUntil (or born expired)
  // The wallet side (spec §12)
  | 'UNAUTHORIZED' // a store request without its signature headers, or with malformed ones
  | 'FORBIDDEN' // a store request signed by a key that may not make it
  | 'REPLAYED' // a store request's (key, nonce) was accepted before
  | 'WRONG_PASSWORD'; // a wallet file that the password does not open

export class LedgerError extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LedgerError';
  }
}

/** isLedgerError narrows an unknown thrown value, optionally to one code. */
export function isLedgerError(e: unknown, code?: LedgerErrorCode): e is LedgerError {
  return e instanceof LedgerError && (code === undefined || e.code === code);
}
