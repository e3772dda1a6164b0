/**
 * The one table from LedgerError codes to HTTP statuses (spec §9), and the
 * application/problem+json (RFC 9457) bodies the API answers errors with.
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

export function sendProblem(ctx: Context, status: number, code: string, title: string, detail: string): void {
  const body: Problem = { type: problemType(code), title, status, code, detail, instance: ctx.path };
  ctx.status = status;
  ctx.type = 'application/problem+json';
  ctx.set('Cache-Control', 'no-store');
  if (status === 503) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
  ctx.body = JSON.stringify(body);
}

/**
 * errorToProblem answers a thrown value: a LedgerError by the table, a Koa HttpError by
 * its status, anything else as a 500 INTERNAL (logged by the caller, detail hidden).
 */
export function errorToProblem(ctx: Context, e: unknown): boolean {
  if (isLedgerError(e)) {
    sendProblem(ctx, STATUS[e.code], e.code, TITLES[e.code], e.message);
    return false;
  }
  const he = e as { status?: number; expose?: boolean; message?: string };
  if (typeof he?.status === 'number' && he.status >= 400 && he.status < 500) {
    const code = he.status === 413 ? 'TOO_LARGE' : he.status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : he.status === 405 ? 'METHOD_NOT_ALLOWED' : 'BAD_REQUEST';
    sendProblem(ctx, he.status, code, 'Bad request', he.expose && he.message ? he.message : 'bad request');
    return false;
  }
  sendProblem(ctx, 500, 'INTERNAL', 'Internal error', 'internal error');
  return true;
}
