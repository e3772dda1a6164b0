/**
 * The one table from LedgerError codes to HTTP statuses (spec §9), the table of codes
 * the HTTP layer adds, and the application/problem+json (RFC 9457) bodies the API
 * answers errors with.
 */
import type { Context } from 'koa';
import { isLedgerError, type LedgerErrorCode } from '../core/errors.js';

export const STATUS: Record<LedgerErrorCode, number> = {
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
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  REPLAYED: 409,
  WRONG_PASSWORD: 400,
};

export const TITLES: Record<LedgerErrorCode, string> = {
  MALFORMED: 'Malformed input',
  NON_CANONICAL: 'Non-canonical encoding',
  BAD_REQUEST: 'Bad request parameter',
  UNSUPPORTED: 'Unsupported version or type',
  TOO_LARGE: 'Too large',
  NOT_FOUND: 'Not found',
  BAD_SIGNATURE: 'Bad signature',
  UNKNOWN_KEY: 'Unknown key',
  INVALID_PROOF: 'Invalid proof',
  INCONSISTENT: 'Inconsistent tree heads',
  CONFLICT: 'Conflict',
  OVERLOADED: 'Overloaded',
  UNAVAILABLE: 'Unavailable',
  STATE_MISMATCH: 'Ledger state mismatch',
  BAD_KEY: 'Unacceptable public key',
  CLOCK_SKEW: 'Submitter clock too far off',
  UNKNOWN_ISSUER: 'Unknown issuer',
  ISSUER_RETIRED: 'Issuer retired',
  DOCTYPE_NOT_ALLOWED: 'Document type not allowed for this issuer',
  DUPLICATE_CERT: 'Duplicate certificate id',
  UNKNOWN_CERT: 'Unknown certificate',
  UNKNOWN_PARENT: 'Unknown parent event',
  NOT_HOLDER: 'Not a holder',
  NOT_ISSUER: 'Not entitled to revoke',
  UNKNOWN_DOCTYPE: 'Unknown document type',
  ISSUED_AT_SKEW: 'Issuance time too far off',
  VALIDITY_TOO_LONG: 'Validity too long for the document type',
  ISSUER_NOT_RETIRED: 'Issuer not retired',
  BAD_COMPROMISE: 'Compromise index not allowed',
  ISSUER_COMPROMISED: 'Issuer compromised',
  CHAIN_TOO_LONG: 'Transfer chain too long',
  CERT_REVOKED: 'Certificate revoked',
  CERT_EXPIRED: 'Certificate expired',
  UNAUTHORIZED: 'Request not signed',
  FORBIDDEN: 'Not allowed for this key',
  REPLAYED: 'Request replayed',
  WRONG_PASSWORD: 'Wrong password',
};

/** HttpProblemCode names a problem the HTTP layer answers that is not a LedgerError code. */
export type HttpProblemCode = 'METHOD_NOT_ALLOWED' | 'UNSUPPORTED_MEDIA_TYPE' | 'NOT_FOUND' | 'INTERNAL';

/**
 * HTTP_PROBLEMS is the table of problem codes the HTTP layer adds to the LedgerError
 * codes of STATUS (spec §9): stable API like them. NOT_FOUND is also a LedgerError
 * code, with the same status; here it is the answer for a path that names no resource.
 */
export const HTTP_PROBLEMS: Readonly<Record<HttpProblemCode, { readonly status: number; readonly title: string; readonly meaning: string }>> = {
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', meaning: 'the read API takes only GET and HEAD (and OPTIONS preflights); the answer carries Allow' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', meaning: 'a request body of a media type the endpoint does not take' },
  NOT_FOUND: { status: 404, title: 'Not found', meaning: 'no resource at this path (paths are case-sensitive, without a trailing slash)' },
  INTERNAL: { status: 500, title: 'Internal error', meaning: 'a fault the server did not expect; logged, no detail is given' },
};

/** RETRY_AFTER_SECONDS is sent with every 503. */
export const RETRY_AFTER_SECONDS = 1;

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance?: string;
}

/** problemType is the stable type URI of a code. */
export function problemType(code: string): string {
  return `urn:dojang:problem:${code}`;
}

/**
 * sendProblem answers ctx with a problem+json body, never cached; a 503 carries
 * Retry-After. It drops a Content-Encoding set for a body it replaces.
 */
export function sendProblem(ctx: Context, status: number, code: string, title: string, detail: string): void {
  const body: Problem = { type: problemType(code), title, status, code, detail, instance: ctx.path };
  ctx.status = status;
  ctx.remove('Content-Encoding');
  ctx.type = 'application/problem+json';
  ctx.set('Cache-Control', 'no-store');
  if (status === 503) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
  // RFC 9110 §15.5.2: a 401 names the scheme that authenticates (spec §12.6).
  if (status === 401) ctx.set('WWW-Authenticate', 'Dojang-Signature realm="dojang wallets"');
  ctx.body = JSON.stringify(body);
}

/** sendCodedProblem answers with the status and title that the tables give `code`. */
export function sendCodedProblem(ctx: Context, code: LedgerErrorCode | HttpProblemCode, detail: string): void {
  if (code in HTTP_PROBLEMS) {
    const p = HTTP_PROBLEMS[code as HttpProblemCode];
    sendProblem(ctx, p.status, code, p.title, detail);
  } else {
    sendProblem(ctx, STATUS[code as LedgerErrorCode], code, TITLES[code as LedgerErrorCode], detail);
  }
}

/**
 * errorToProblem answers a thrown value: a LedgerError by the table, a Koa HttpError by
 * its status, anything else as a 500 INTERNAL (logged by the caller, detail hidden).
 */
export function errorToProblem(ctx: Context, e: unknown): boolean {
  if (isLedgerError(e)) {
    sendCodedProblem(ctx, e.code, e.message);
    return false;
  }
  const he = e as { status?: number; expose?: boolean; message?: string };
  if (typeof he?.status === 'number' && he.status >= 400 && he.status < 500) {
    // A Koa HttpError keeps its status; the code and title come from the tables.
    const code: LedgerErrorCode | HttpProblemCode =
      he.status === 413 ? 'TOO_LARGE' : he.status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : he.status === 405 ? 'METHOD_NOT_ALLOWED' : he.status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST';
    const title = code in HTTP_PROBLEMS ? HTTP_PROBLEMS[code as HttpProblemCode].title : TITLES[code as LedgerErrorCode];
    sendProblem(ctx, he.status, code, title, he.expose && he.message ? he.message : 'bad request');
    return false;
  }
  sendCodedProblem(ctx, 'INTERNAL', 'internal error');
  return true;
}
