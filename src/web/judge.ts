/**
 * What the verifier page does with a presentation, apart from the page itself: read it
 * from text (base64 or base64url, or a QR code's `dojang-presentation:` text) or from a
 * file, load the log's keys from the serving origin (GET /v1/log: the page trusts the
 * origin that served it), fetch the certificate's status fresh from the log (GET
 * /v1/certificates/<hex id>), and judge (spec §10.2) with the portable crypto backend at
 * the verifier's clock — then the mask proxy purchase (spec §12.8) for a resident
 * registration copy. The verifier's own key (the received flow) is its wallet address
 * (spec §12.2) or the public key in base64.
 *
 * Witnesses. When the log serves a witness policy (GET /v1/policy), the page judges by
 * it: every checkpoint the presentation is anchored on must meet it (the `witnessed`
 * check), and the verdict says which witnesses cosigned and when. A log without one
 * gives none; a policy that cannot be fetched or read is said, and not used.
 *
 * Status. A verdict judges "not revoked" as of a status statement; the fresher the
 * better. The log's current statement, when it verifies, is judged with in place of the
 * one the presentation carries; when it cannot be fetched or does not verify, the
 * presented one is used and the judgement says so (with why).
 *
 * No DOM: test/web/judge.test.ts runs it under Node against a real server.
 */
import { isLedgerError } from '../core/errors.js';
import { fromBase64 } from '../core/bytes.js';
import { checkEd25519PublicKey, portableBackend } from '../core/crypto.js';
import { DojangClient, type LogInfo } from '../client/sdk.js';
import { decodePresentation, MAX_PRESENTATION_BYTES } from '../client/presentation.js';
import { PresentationVerifier, type Verdict, type VerifyContext } from '../client/verify.js';
import type { StatusStatement } from '../client/status.js';
import { decideProxyPurchase, type ProxyDecision } from '../wallet/mask-policy.js';
import { RESIDENT_REGISTRATION_COPY } from '../wallet/doctypes.js';
import { parseAddress } from '../wallet/address.js';
import { checkCheckpoint, MAX_POLICY_BYTES, parsePolicy, type Policy } from '../core/policy.js';

/** What a QR code of a presentation holds before the presentation's base64url. */
export const QR_PREFIX = 'dojang-presentation:';
/** A file larger than this is not read: base64 text of the largest presentation, with room for line breaks. */
export const MAX_FILE_BYTES = Math.ceil((MAX_PRESENTATION_BYTES * 4) / 3) + 64 * 1024;

/**
 * Unjudged is why a presentation gets no verdict: `code` is a key of PROBLEM_LABELS
 * (src/web/labels.ts) — a code of spec §9, or one of the page's input problems.
 */
export class Unjudged extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'Unjudged';
  }
}

/** unjudged turns a LedgerError into an Unjudged with its code (and `what` before its message); anything else is a bug and is rethrown. */
function unjudged(e: unknown, what?: string): Unjudged {
  if (e instanceof Unjudged) return e;
  if (isLedgerError(e)) return new Unjudged(e.code, what === undefined ? e.message : `${what}: ${e.message}`, { cause: e });
  throw e;
}

/** base64Bytes reads base64 or base64url, padded or not, ignoring white space; NOT_BASE64 otherwise. */
function base64Bytes(text: string, what: string): Uint8Array {
  const s = text.replace(/\s+/g, '');
  if (s === '') throw new Unjudged('EMPTY', `no ${what} was given`);
  const m = /^([A-Za-z0-9+/_-]+)(={0,2})$/.exec(s);
  if (m === null || m[1].length % 4 === 1) throw new Unjudged('NOT_BASE64', `the ${what} is not base64 or base64url text`);
  const body = m[1].replace(/-/g, '+').replace(/_/g, '/');
  try {
    return fromBase64(body + '='.repeat((4 - (body.length % 4)) % 4));
  } catch (e) {
    throw new Unjudged('NOT_BASE64', `the ${what} is not base64 or base64url text: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * presentationFromText reads a presentation pasted as base64 or base64url text, or the
 * text of its QR code (`dojang-presentation:` then base64url). A challenge URI is
 * CHALLENGE_QR: the holder's wallet scans that, the verifier does not.
 */
export function presentationFromText(text: string): Uint8Array {
  const s = text.trim();
  if (s.startsWith(QR_PREFIX)) return base64Bytes(s.slice(QR_PREFIX.length), 'presentation');
  if (/^dojang:/i.test(s)) {
    if (/^dojang:verify\?/i.test(s)) throw new Unjudged('CHALLENGE_QR', 'this is the face-to-face challenge for the holder to scan, not a presentation');
    throw new Unjudged('NOT_PRESENTATION_QR', `this is a dojang URI, not a presentation: ${s.slice(0, 40)}`);
  }
  return base64Bytes(s, 'presentation');
}

/** presentationFromQrText reads the text of a QR code: it must be `dojang-presentation:` and base64url. */
export function presentationFromQrText(text: string): Uint8Array {
  if (!text.startsWith(QR_PREFIX)) {
    if (/^dojang:verify\?/i.test(text)) throw new Unjudged('CHALLENGE_QR', 'the QR code is a face-to-face challenge, not a presentation');
    throw new Unjudged('NOT_PRESENTATION_QR', `the QR code does not start with ${JSON.stringify(QR_PREFIX)}`);
  }
  return presentationFromText(text);
}

/**
 * presentationFromFile reads a `.dojang-presentation` file: the CBOR bytes (a map:
 * its first byte has major type 5) or, failing that, base64 text of them.
 */
export function presentationFromFile(b: Uint8Array): Uint8Array {
  if (b.length > MAX_FILE_BYTES) throw new Unjudged('TOO_LARGE', `the file is ${b.length} bytes: a presentation is at most ${MAX_PRESENTATION_BYTES}`);
  if (b.length > 0 && b[0] >> 5 === 5) return b;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    throw new Unjudged('MALFORMED', 'the file is neither a CBOR presentation nor base64 text');
  }
  return presentationFromText(text);
}

/**
 * readVerifierKey reads the verifier's own Ed25519 public key (the received flow): its
 * wallet address, `dw1…` or `dojang:dw1…` (parseAddress, spec §12.2), or the key as
 * base64 or base64url. BAD_ADDRESS for an address that does not read; BAD_KEY for a key
 * that is not 32 bytes or that spec §2.2 refuses.
 */
export function readVerifierKey(text: string): Uint8Array {
  const s = text.trim();
  if (/^(dojang:)?dw1/i.test(s)) {
    try {
      return parseAddress(s);
    } catch (e) {
      if (isLedgerError(e, 'MALFORMED')) throw new Unjudged('BAD_ADDRESS', `the verifier address: ${e.message}`, { cause: e });
      throw unjudged(e, 'the verifier address');
    }
  }
  const key = base64Bytes(s, 'verifier key');
  const why = checkEd25519PublicKey(key);
  if (why !== undefined) throw new Unjudged('BAD_KEY', `the verifier key: ${why}`);
  return key;
}

/** The witness policy a session judges by: the log's (GET /v1/policy), none, or none because the log's could not be used. */
export type PolicySource =
  | { source: 'log'; policy: Policy; witnesses: number }
  | { source: 'none' } // the log is served without a policy (404)
  | { source: 'unusable'; why: string }; // it could not be fetched or read: judged without one

/** A verifier of one log: the SDK client of the serving origin, what GET /v1/log said, its witness policy, and its PresentationVerifier. */
export interface VerifierSession {
  client: DojangClient;
  log: LogInfo;
  policy: PolicySource;
  verifier: PresentationVerifier;
}

/**
 * openSession reads the log's origin and keys from GET /v1/log at baseUrl (trusted: it
 * is the origin that served the page) and, when it says it has one, its witness policy
 * from GET /v1/policy, and
 * makes a verifier on the portable backend that judges by that policy (spec §13.3).
 * Unjudged UNAVAILABLE (or the log's code) when the log cannot be read; a policy that
 * cannot be fetched or parsed leaves the session without one, saying why.
 */
export async function openSession(baseUrl: string, o: { fetch?: typeof fetch } = {}): Promise<VerifierSession> {
  const client = new DojangClient(baseUrl, { fetch: o.fetch, retries: 2, timeoutMs: 15_000 });
  let log: LogInfo;
  try {
    log = await client.log();
  } catch (e) {
    throw unjudged(e, 'GET /v1/log');
  }
  const policy: PolicySource = log.policy ? await logPolicy(baseUrl, o.fetch ?? fetch) : { source: 'none' };
  return { client, log, policy, verifier: new PresentationVerifier(log, portableBackend, { policy: policy.source === 'log' ? policy.policy : undefined }) };
}

/** logPolicy fetches and parses GET /v1/policy: none on 404 (a log that said it had one), unusable (with why) on anything else that fails. */
async function logPolicy(baseUrl: string, f: typeof fetch): Promise<PolicySource> {
  const url = `${baseUrl.replace(/\/+$/, '')}/v1/policy`;
  let res: Response;
  try {
    res = await f(url, { signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    return { source: 'unusable', why: `GET /v1/policy: ${(e as Error).message}` };
  }
  if (res.status === 404) return { source: 'none' };
  if (!res.ok) return { source: 'unusable', why: `GET /v1/policy: HTTP ${res.status}` };
  try {
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > MAX_POLICY_BYTES) return { source: 'unusable', why: `GET /v1/policy: over ${MAX_POLICY_BYTES} bytes` };
    const policy = parsePolicy(bytes);
    return { source: 'log', policy, witnesses: policy.witnesses.length };
  } catch (e) {
    // The body could not be read, or is not a policy: either way the page judges without one.
    return { source: 'unusable', why: `GET /v1/policy: ${isLedgerError(e) ? `${e.code}: ` : ''}${(e as Error).message}` };
  }
}

/** Which status statement a verdict was judged with. */
export type StatusSource =
  | { source: 'log' } // fetched from the log now, and verified
  | { source: 'presentation'; why: string }; // the presentation's own: why the log's was not used

/** A verdict, the status and the witness policy it was judged with, and the mask policy's decision (for a resident registration copy). */
export interface Judgement {
  verdict: Verdict;
  status: StatusSource;
  policy: PolicySource;
  proxy: ProxyDecision | null;
}

/**
 * judge decodes a presentation and judges it at ctx (spec §10.2) with the session's log
 * keys and, when it can be had, the log's fresh status statement (module comment).
 * Unjudged with decodePresentation's code for a presentation that does not decode.
 */
export async function judge(s: VerifierSession, bytes: Uint8Array, ctx: VerifyContext): Promise<Judgement> {
  let p;
  try {
    p = decodePresentation(bytes);
  } catch (e) {
    throw unjudged(e); // "presentation: …"
  }
  let fresh: StatusStatement | undefined;
  let why = '';
  if (p.origin !== s.log.origin) why = `the presentation is of log ${JSON.stringify(p.origin)}, not this one`;
  else {
    try {
      fresh = await s.client.status(p.parsed.issue.event.id);
      // Under a witness policy the log's status counts only over a witnessed checkpoint
      // (spec §10.2): else it could be a view shown to this page alone.
      const policy = s.verifier.policy;
      if (policy !== undefined) {
        const v = checkCheckpoint(fresh.checkpoint, policy);
        if (!v.quorum) {
          fresh = undefined;
          why = `the log's status is over a checkpoint that does not meet the witness policy: ${v.short.join('; ')}`;
        }
      }
    } catch (e) {
      if (!isLedgerError(e)) throw e;
      why = `the log's status could not be used: ${e.code}: ${e.message}`;
    }
  }
  const verdict = s.verifier.verify(p, ctx, fresh);
  return {
    verdict,
    status: fresh !== undefined ? { source: 'log' } : { source: 'presentation', why },
    policy: s.policy,
    proxy: verdict.certificate.docType === RESIDENT_REGISTRATION_COPY ? decideProxyPurchase(verdict) : null,
  };
}
