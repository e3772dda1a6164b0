/**
 * The log's side of RFC 3161 (docs/spec.md §14.2): TsaClient asks a time-stamping
 * authority over HTTP for a token over one checkpoint text; Stamper asks for the latest
 * checkpoint size in the background, one request at a time, and keeps each verified
 * token as the 'timestamp' annex of its size.
 */
import { LedgerError } from '../core/errors.js';
import { parseNote } from '../core/note.js';
import type { LedgerStore } from '../storage/store.js';
import {
  buildTimestampRequest,
  checkpointImprint,
  parseTimestampResponse,
  TOKEN_MAX,
  verifyTimestampToken,
  type TsaTrust,
  type VerifiedToken,
} from './rfc3161.js';

/** TsaClient talks to one time-stamping authority (RFC 3161 §3.4, HTTP). */
export class TsaClient {
  constructor(
    readonly url: string,
    private readonly trust: TsaTrust,
    private readonly timeoutMs = 10_000,
  ) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new LedgerError('BAD_REQUEST', `--tsa ${JSON.stringify(url)}: not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new LedgerError('BAD_REQUEST', `--tsa ${JSON.stringify(url)}: an http(s) URL`);
  }

  /**
   * stamp asks for a token over `text` (a checkpoint text) and returns it, verified
   * against the request (imprint and nonce) and the trusted certificates. A TSA that
   * cannot be reached, answers other than 200 application/timestamp-reply, or refuses
   * is UNAVAILABLE; an answer above TOKEN_MAX is TOO_LARGE; a token that does not verify
   * keeps its code (MALFORMED, BAD_SIGNATURE, UNKNOWN_KEY, UNSUPPORTED).
   */
  async stamp(text: string | Uint8Array, signal?: AbortSignal): Promise<{ token: Uint8Array; verified: VerifiedToken }> {
    const req = buildTimestampRequest(checkpointImprint(text));
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' },
        body: Buffer.from(req.der),
        signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
        redirect: 'error',
      });
    } catch (e) {
      throw new LedgerError('UNAVAILABLE', `the time-stamping authority ${this.url} cannot be reached: ${(e as Error).message}`, { cause: e });
    }
    const body = await readBounded(res, TOKEN_MAX);
    if (res.status !== 200) throw new LedgerError('UNAVAILABLE', `the time-stamping authority answered HTTP ${res.status}`);
    const type = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/timestamp-reply') throw new LedgerError('UNAVAILABLE', `the time-stamping authority answered ${type || 'no content type'}, not application/timestamp-reply`);
    const token = parseTimestampResponse(body);
    const verified = verifyTimestampToken(token, this.trust, { imprint: req.imprint, nonce: req.nonce });
    return { token, verified };
  }
}

/** readBounded reads a response body of at most max bytes (TOO_LARGE beyond, without reading further). */
async function readBounded(res: Response, max: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => {});
    throw new LedgerError('TOO_LARGE', `the time-stamping authority's answer is ${declared} bytes, limit ${max}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > max) {
          await res.body.cancel().catch(() => {});
          throw new LedgerError('TOO_LARGE', `the time-stamping authority's answer exceeds ${max} bytes`);
        }
        chunks.push(chunk);
      }
    }
  } catch (e) {
    if (e instanceof LedgerError) throw e;
    throw new LedgerError('UNAVAILABLE', `reading the time-stamping authority's answer failed: ${(e as Error).message}`, { cause: e });
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

export interface StamperOptions {
  readonly store: LedgerStore;
  readonly client: Pick<TsaClient, 'stamp' | 'url'>;
  /** Reports failures and recoveries. */
  readonly log?: (message: string) => void;
  /** First wait after a failure (doubling up to maxBackoffMs). */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

/**
 * Stamper keeps a timestamp token for the latest checkpoint size (spec §14.2). notify()
 * never waits: it records the size, and one background loop asks the TSA for the
 * largest size notified so far (sizes notified meanwhile are skipped: coalescing), reads
 * that size's history checkpoint, and stores the verified token with putAnnex. A failure
 * is retried with backoff (1 s doubling to 60 s) and reported in `problem` until a token
 * is stored again.
 */
export class Stamper {
  #wanted = 0;
  #done = 0;
  #running: Promise<void> | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  #problem: string | undefined;
  /** The failure last logged (so a TSA that stays down is logged once). */
  #reported: string | undefined;
  #stamped = 0;
  /** Aborts the request in flight when the stamper closes. */
  readonly #abort = new AbortController();

  constructor(private readonly o: StamperOptions) {}

  /** problem says why the last request failed, until one succeeds. */
  get problem(): string | undefined {
    return this.#problem;
  }

  /** The largest size this stamper stored a token for (0: none yet), and how many it stored. */
  get stamped(): { size: number; count: number } {
    return { size: this.#done, count: this.#stamped };
  }

  /** notify asks for a token over the checkpoint of `size` (or a later one). */
  notify(size: number): void {
    if (this.#closed || size <= this.#wanted) return;
    this.#wanted = size;
    this.#start();
  }

  #start(): void {
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
      if (!this.#closed && this.#wanted > this.#done) this.#start(); // a size notified as the loop ended
    });
  }

  /** settled resolves when the loop is idle (for tests and a clean close). */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** close stops asking; a request in flight is abandoned. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    this.#wake?.();
    await this.#running?.catch(() => {});
  }

  async #loop(): Promise<void> {
    let backoff = this.o.minBackoffMs ?? 1000;
    const max = this.o.maxBackoffMs ?? 60_000;
    while (!this.#closed && this.#wanted > this.#done) {
      const size = this.#wanted;
      try {
        const [cp] = await this.o.store.readCheckpoints(size, 1);
        if (cp === undefined || cp.size !== size) throw new LedgerError('NOT_FOUND', `no history checkpoint of size ${size}`);
        const { token } = await this.o.client.stamp(parseNote(cp.checkpoint).text, this.#abort.signal);
        await this.o.store.putAnnex('timestamp', size, token);
        this.#done = Math.max(this.#done, size);
        this.#stamped++;
        if (this.#problem !== undefined) this.o.log?.(`timestamp: ${this.o.client.url} answers again (size ${size} stamped)`);
        this.#problem = undefined;
        this.#reported = undefined;
        backoff = this.o.minBackoffMs ?? 1000;
      } catch (e) {
        if (this.#closed) return;
        const msg = `${(e as LedgerError).code ?? 'ERROR'}: ${(e as Error).message}`;
        // Logged once per kind of failure, not at every retry.
        if (this.#reported !== msg) this.o.log?.(`timestamp: no token for size ${size} from ${this.o.client.url}: ${msg}; retrying`);
        this.#reported = msg;
        this.#problem = `no timestamp token for size ${size}: ${msg}`;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, backoff);
          t.unref();
          this.#wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.#wake = undefined;
        backoff = Math.min(max, backoff * 2);
      }
    }
  }
}
