/**
 * The client's transport: one request to the dojang API (docs/api.md) with bounded
 * retries, its problem answers turned into LedgerErrors, and strict readers for the
 * fields of JSON answers. Uses only fetch, AbortSignal and setTimeout (browser-safe).
 *
 * Rules (the SDK's contract, src/client/sdk.ts):
 *  - a 2xx answer is returned as parsed JSON (MALFORMED if it is not JSON), text or bytes;
 *  - a problem answer (application/problem+json, docs/api.md) is thrown as a LedgerError
 *    with the problem's `code`; the problem { status, code, title, detail, type } is
 *    the error's `cause` (httpProblemOf). A code outside spec §9 (the HTTP layer's
 *    METHOD_NOT_ALLOWED, UNSUPPORTED_MEDIA_TYPE, INTERNAL, or an answer without a
 *    problem body, e.g. from a proxy) is mapped by status: 404 NOT_FOUND, 413 TOO_LARGE,
 *    other 4xx BAD_REQUEST, 5xx UNAVAILABLE;
 *  - a 503 with Retry-After (delay-seconds or an HTTP-date) is retried after that time,
 *    at most `retries` times; a Retry-After above `maxRetryAfter` seconds is not waited
 *    for. Then the last answer is thrown: OVERLOADED, or UNAVAILABLE when the server
 *    said UNAVAILABLE. A 503 without Retry-After is thrown at once;
 *  - a network failure or a timeout is UNAVAILABLE. Redirects are refused (UNAVAILABLE).
 */
import { LedgerError, type LedgerErrorCode } from '../core/errors.js';
import { fromBase64 } from '../core/bytes.js';

/** The body of an HTTP problem answer (docs/api.md), kept as a LedgerError's cause. */
export interface HttpProblem {
  status: number;
  code: string;
  title?: string;
  detail?: string;
  type?: string;
}

export interface TransportOptions {
  fetch: typeof fetch;
  /** Milliseconds since the epoch (for Retry-After dates). */
  clock: () => number;
  retries: number;
  maxRetryAfter: number;
  timeoutMs: number;
  sleep: (ms: number) => Promise<void>;
}

/** An HTTP method the API serves. */
export type Method = 'GET' | 'POST' | 'DELETE';

export interface Transport {
  (method: Method, path: string, body?: Uint8Array, as?: 'json', headers?: Record<string, string>): Promise<unknown>;
  (method: 'GET', path: string, body: undefined, as: 'text', headers?: Record<string, string>): Promise<string>;
  (method: 'GET', path: string, body: undefined, as: 'bytes', headers?: Record<string, string>): Promise<Uint8Array>;
}

// Every code of spec §9 that a LedgerError can carry; the type makes the list complete.
const CODES: Record<LedgerErrorCode, true> = {
  MALFORMED: true,
  NON_CANONICAL: true,
  TOO_LARGE: true,
  BAD_REQUEST: true,
  NOT_FOUND: true,
  BAD_SIGNATURE: true,
  UNKNOWN_KEY: true,
  INVALID_PROOF: true,
  INCONSISTENT: true,
  STATE_MISMATCH: true,
  CONFLICT: true,
  OVERLOADED: true,
  UNAVAILABLE: true,
  UNSUPPORTED: true,
  BAD_KEY: true,
  CLOCK_SKEW: true,
  UNKNOWN_ISSUER: true,
  ISSUER_RETIRED: true,
  DOCTYPE_NOT_ALLOWED: true,
  DUPLICATE_CERT: true,
  UNKNOWN_CERT: true,
  UNKNOWN_PARENT: true,
  NOT_HOLDER: true,
  NOT_ISSUER: true,
  UNKNOWN_DOCTYPE: true,
  ISSUED_AT_SKEW: true,
  VALIDITY_TOO_LONG: true,
  ISSUER_NOT_RETIRED: true,
  BAD_COMPROMISE: true,
  ISSUER_COMPROMISED: true,
  CHAIN_TOO_LONG: true,
  CERT_REVOKED: true,
  CERT_EXPIRED: true,
  UNAUTHORIZED: true,
  FORBIDDEN: true,
  REPLAYED: true,
  WRONG_PASSWORD: true,
};

function isCode(c: unknown): c is LedgerErrorCode {
  return typeof c === 'string' && Object.hasOwn(CODES, c);
}

/**
 * httpProblemOf returns the problem answer behind a LedgerError that the client threw
 * for a refusal by the server, or undefined (the error did not come from a problem
 * answer: a failed verification, a network failure). A 4xx problem from POST
 * /v1/entries means the entry was not appended.
 */
export function httpProblemOf(e: unknown): HttpProblem | undefined {
  if (!(e instanceof LedgerError)) return undefined;
  const c = e.cause as Partial<HttpProblem> | undefined;
  return typeof c === 'object' && c !== null && typeof c.status === 'number' && typeof c.code === 'string' ? (c as HttpProblem) : undefined;
}

function problemError(p: HttpProblem, what: string): LedgerError {
  let code: LedgerErrorCode;
  if (isCode(p.code)) code = p.code;
  else if (p.status === 404) code = 'NOT_FOUND';
  else if (p.status === 413) code = 'TOO_LARGE';
  else if (p.status >= 500) code = 'UNAVAILABLE';
  else code = 'BAD_REQUEST';
  const detail = p.detail ? `: ${p.detail}` : '';
  return new LedgerError(code, `${what} answered ${p.status} ${p.code}${detail}`, { cause: p });
}

/** retryAfterSeconds reads Retry-After: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
function retryAfterSeconds(h: string | null, nowMs: number): number | undefined {
  if (h === null) return undefined;
  const s = h.trim();
  if (/^[0-9]{1,9}$/.test(s)) return Number(s);
  if (!/[a-zA-Z]/.test(s)) return undefined; // not a date either
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, Math.ceil((t - nowMs) / 1000));
}

/** readProblem reads a problem+json body, or makes one from the status alone. */
async function readProblem(res: Response): Promise<HttpProblem> {
  let body: unknown;
  try {
    body = JSON.parse(await res.text());
  } catch {
    body = undefined;
  }
  if (isObject(body) && typeof body.code === 'string') {
    return {
      status: res.status,
      code: body.code,
      title: typeof body.title === 'string' ? body.title : undefined,
      detail: typeof body.detail === 'string' ? body.detail : undefined,
      type: typeof body.type === 'string' ? body.type : undefined,
    };
  }
  return { status: res.status, code: `HTTP_${res.status}` };
}

/**
 * createTransport returns the request function for the API at baseUrl (no trailing
 * slash); paths start with "/". Rules in the module comment.
 */
export function createTransport(baseUrl: string, o: TransportOptions): Transport {
  async function request(method: Method, path: string, body?: Uint8Array, as: 'json' | 'text' | 'bytes' = 'json', headers: Record<string, string> = {}): Promise<unknown> {
    const what = `${method} ${path}`;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await o.fetch(baseUrl + path, {
          method,
          headers: { ...headers, ...(body === undefined ? { accept: as === 'json' ? 'application/json' : '*/*' } : { 'content-type': 'application/cbor', accept: 'application/json' }) },
          body: body === undefined ? undefined : new Uint8Array(body), // a copy on a plain ArrayBuffer
          signal: AbortSignal.timeout(o.timeoutMs),
          redirect: 'error',
        });
      } catch (e) {
        // fetch's own message is vague ("fetch failed"): name the cause (ECONNREFUSED, …).
        const cause = (e as { cause?: { code?: unknown; message?: unknown } })?.cause;
        const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
        throw new LedgerError('UNAVAILABLE', `${what} failed: ${(e as Error)?.message ?? String(e)}${why ? ` (${why})` : ''}`, { cause: e });
      }
      if (res.ok) {
        try {
          if (as === 'bytes') return new Uint8Array(await res.arrayBuffer());
          const s = await res.text();
          if (as === 'text') return s;
          return res.status === 204 ? null : JSON.parse(s);
        } catch (e) {
          if (e instanceof SyntaxError) throw malformed(`${what} answered ${res.status} with a body that is not JSON`, e);
          throw new LedgerError('UNAVAILABLE', `${what}: reading the answer failed: ${(e as Error)?.message}`, { cause: e });
        }
      }
      const problem = await readProblem(res);
      if (res.status === 503) {
        const wait = retryAfterSeconds(res.headers.get('retry-after'), o.clock());
        if (wait !== undefined && wait <= o.maxRetryAfter && attempt < o.retries) {
          await o.sleep(wait * 1000);
          continue;
        }
        if (wait !== undefined && problem.code !== 'UNAVAILABLE') {
          const tries = attempt + 1;
          throw new LedgerError('OVERLOADED', `${what}: the server is overloaded (${tries} ${tries === 1 ? 'try' : 'tries'}, Retry-After ${wait} s)`, { cause: problem });
        }
      }
      throw problemError(problem, what);
    }
  }
  return request as Transport;
}

// ---------------------------------------------------------------------------------------
// Readers for the fields of JSON answers: a wrong shape is MALFORMED.

export function malformed(msg: string, cause?: unknown): LedgerError {
  return new LedgerError('MALFORMED', msg, cause === undefined ? undefined : { cause });
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** readUint reads a non-negative safe integer. */
export function readUint(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw malformed(`${what} must be an unsigned integer`);
  return v;
}

export function readText(v: unknown, what: string): string {
  if (typeof v !== 'string') throw malformed(`${what} must be text`);
  return v;
}

/** readBase64 reads canonical padded base64, of `len` bytes when given. */
export function readBase64(v: unknown, what: string, len?: number): Uint8Array {
  let b: Uint8Array;
  try {
    b = fromBase64(readText(v, what));
  } catch (e) {
    throw malformed(`${what} is not canonical base64`, e);
  }
  if (len !== undefined && b.length !== len) throw malformed(`${what} must be ${len} bytes`);
  return b;
}
