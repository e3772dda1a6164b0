/**
 * WitnessClient: how a log asks one witness to cosign its checkpoints
 * (c2sp.org/tlog-witness, spec §13.4). It remembers the size the witness last cosigned
 * for this log, sends each new checkpoint with a consistency proof from that size, and
 * learns the witness's size from a 409 `text/x.tlog.size` answer (a witness it has never
 * talked to, or one another process of the log has moved on) before trying once more.
 *
 * cosign resolves with the witness's cosignature/v1 signature, verified under the
 * witness's key, or rejects with:
 *   INCONSISTENT  the witness has seen another tree (409 at an equal size, 422): the
 *                 log, or what the witness was shown, forked — the operator must look
 *   CONFLICT      the witness already cosigned a larger checkpoint than this one
 *   UNKNOWN_KEY   the witness does not witness this log, refuses its key (404, 403), or
 *                 answered with no valid cosignature by the key configured for it
 *   UNAVAILABLE   the witness cannot be reached, times out, or answers otherwise
 */
import { LedgerError, isLedgerError } from '../core/errors.js';
import { equalBytes, fromUtf8, toBase64, utf8 } from '../core/bytes.js';
import { parseDecimal, parseCheckpoint } from '../core/checkpoint.js';
import { openNote, parseNote, type NoteSignature, type NoteVerifier } from '../core/note.js';
import { TLOG_SIZE_TYPE } from './witness.js';

/** The most bytes of a witness's answer read. */
export const MAX_ANSWER_BYTES = 64 * 1024;

export interface WitnessEndpoint {
  /** The witness's verifier key (cosignature/v1, type 0x04). */
  readonly key: NoteVerifier;
  /** Its submission prefix: add-checkpoint is POSTed to `${url}/add-checkpoint`. */
  readonly url: string;
}

export interface WitnessClientOptions {
  /** prove returns the RFC 6962 consistency proof from tree size `from` to `to` of this log. */
  prove(from: number, to: number): Promise<Uint8Array[]>;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

export class WitnessClient {
  /** The size this witness last cosigned for the log, once known. */
  private known: number | undefined;

  constructor(
    readonly endpoint: WitnessEndpoint,
    private readonly o: WitnessClientOptions,
  ) {}

  /** The size the witness is known to have cosigned last (undefined until it answers). */
  get size(): number | undefined {
    return this.known;
  }

  /** cosign asks the witness to cosign the checkpoint note (see the file comment for errors). */
  async cosign(checkpoint: Uint8Array): Promise<NoteSignature> {
    const text = parseNote(checkpoint).text;
    const size = parseCheckpoint(text).size;
    for (let attempt = 0; attempt < 3; attempt++) {
      const old = Math.min(this.known ?? 0, size);
      const proof = old === 0 || old === size ? [] : await this.o.prove(old, size);
      const body = utf8(`old ${old}\n${proof.map((h) => `${toBase64(h)}\n`).join('')}\n${fromUtf8(checkpoint)}`);
      const r = await this.post(body);
      if (r.status === 200) {
        const sig = this.verify(checkpoint, r.body);
        this.known = size;
        return sig;
      }
      if (r.status === 409 && r.type === TLOG_SIZE_TYPE) {
        const m = /^(0|[1-9][0-9]*)\n$/.exec(r.body);
        const theirs = m === null ? undefined : parseDecimal(m[1]);
        if (theirs === undefined) throw new LedgerError('UNAVAILABLE', `${this.endpoint.url}: a 409 without a size`);
        this.known = theirs;
        if (theirs > size) throw new LedgerError('CONFLICT', `${this.endpoint.key.name} already cosigned size ${theirs}, above ${size}`);
        continue; // try again from the size it has
      }
      if (r.status === 409 || r.status === 422) {
        throw new LedgerError('INCONSISTENT', `${this.endpoint.key.name} refuses the checkpoint of size ${size} as inconsistent with what it cosigned (${r.status}: ${r.body.trim().slice(0, 300)})`);
      }
      if (r.status === 404 || r.status === 403) throw new LedgerError('UNKNOWN_KEY', `${this.endpoint.key.name} does not witness this log or its key (${r.status}: ${r.body.trim().slice(0, 300)})`);
      throw new LedgerError('UNAVAILABLE', `${this.endpoint.url} answered ${r.status}: ${r.body.trim().slice(0, 300)}`);
    }
    throw new LedgerError('UNAVAILABLE', `${this.endpoint.key.name} kept changing its size`);
  }

  /** verify finds the cosignature by the configured key among the answer's lines and checks it. */
  private verify(checkpoint: Uint8Array, lines: string): NoteSignature {
    const key = this.endpoint.key;
    try {
      const { verified } = openNote(utf8(fromUtf8(checkpoint) + lines), [key]);
      const sig = verified.find((s) => s.name === key.name && equalBytes(s.keyId, key.keyId));
      if (sig !== undefined) return sig;
    } catch (e) {
      if (!isLedgerError(e)) throw e;
      throw new LedgerError('UNKNOWN_KEY', `${key.name} answered without a valid cosignature by its key: ${e.message}`);
    }
    throw new LedgerError('UNKNOWN_KEY', `${key.name} answered without a cosignature by its key`);
  }

  private async post(body: Uint8Array): Promise<{ status: number; type: string; body: string }> {
    let res: Response;
    try {
      res = await fetch(`${this.endpoint.url}/add-checkpoint`, { method: 'POST', body: Buffer.from(body), signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000) });
    } catch (e) {
      throw new LedgerError('UNAVAILABLE', `${this.endpoint.url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`, { cause: e });
    }
    // Read at most MAX_ANSWER_BYTES: a witness is configured, not trusted with our memory.
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = res.body?.getReader();
    try {
      for (;;) {
        const r = await reader?.read();
        if (r === undefined || r.done) break;
        total += r.value.length;
        if (total > MAX_ANSWER_BYTES) {
          await reader!.cancel();
          throw new LedgerError('UNAVAILABLE', `${this.endpoint.url} answered more than ${MAX_ANSWER_BYTES} bytes`);
        }
        chunks.push(r.value);
      }
    } catch (e) {
      if (isLedgerError(e)) throw e;
      throw new LedgerError('UNAVAILABLE', `${this.endpoint.url}: ${(e as Error).message}`, { cause: e });
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return { status: res.status, type: (res.headers.get('content-type') ?? '').split(';')[0].trim(), body: new TextDecoder().decode(bytes) };
  }
}
