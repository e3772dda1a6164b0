/**
 * Publisher: a log publishes only checkpoints its witnesses cosigned enough of (spec
 * §13.5). It asks every witness of its policy (c2sp.org/tlog-policy, with their
 * submission URLs) to cosign the sequencer's latest checkpoint; as soon as the
 * cosignatures it has satisfy the quorum, that checkpoint — with those cosignature lines
 * added — is the published one, which the API serves and receipts are made against.
 * Until then the last published checkpoint stays. Writers are acknowledged only once a
 * published checkpoint covers their entry (waitFor), so a write waits for one witness
 * round trip more.
 *
 * A witness that fails (down, slow, refusing) is left alone for a while (1 s, doubling to
 * 30 s) and the others are asked; a round that cannot meet the quorum is tried again
 * every second, and `problem` says why meanwhile. A witness that says the log is
 * inconsistent (INCONSISTENT) is reported loudly: that is a fork, or a witness that was
 * shown one.
 */
import { LedgerError, isLedgerError } from '../core/errors.js';
import { equalBytes } from '../core/bytes.js';
import { formatNote, parseNote, type NoteSignature } from '../core/note.js';
import { quorumMet, type Policy } from '../core/policy.js';
import type { Head } from '../ledger/sequencer.js';
import { WitnessClient } from './client.js';

/** How often the publisher looks at the sequencer's head besides being told (re-cosignatures). */
const POLL_MS = 500;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

export interface PublisherOptions {
  policy: Policy;
  /** The sequencer's latest head (unwitnessed). */
  current(): Head | undefined;
  prove(from: number, to: number): Promise<Uint8Array[]>;
  timeoutMs?: number;
  log?: (m: string) => void;
}

interface Member {
  name: string;
  client: WitnessClient;
  /** Not asked again before this time (ms). */
  until: number;
  backoff: number;
  last?: string;
}

export class Publisher {
  private readonly members: Member[];
  private _published: Head | undefined;
  private _problem: string | undefined = 'no checkpoint has been witnessed yet';
  private readonly waiters: { size: number; wake(): void }[] = [];
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly o: PublisherOptions) {
    this.members = o.policy.witnesses.map((w) => {
      if (w.url === undefined) throw new LedgerError('BAD_REQUEST', `the policy gives no URL for witness ${w.name}: the log cannot ask it`);
      return { name: w.name, client: new WitnessClient({ key: w.key, url: w.url.replace(/\/+$/, '') }, { prove: o.prove, timeoutMs: o.timeoutMs }), until: 0, backoff: BACKOFF_MIN_MS };
    });
    this.timer = setInterval(() => this.notify(), POLL_MS);
    this.timer.unref();
  }

  /** The latest published (witnessed) head, or undefined before the first. */
  get published(): Head | undefined {
    return this._published;
  }

  /** Why the latest checkpoint is not published (undefined when it is). */
  get problem(): string | undefined {
    return this._problem;
  }

  /** notify: the sequencer has a new head (or may have): run a round for it. */
  notify(): void {
    if (this.closed) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.rounds().finally(() => (this.running = undefined));
  }

  /** settled resolves after the round in progress (and any it triggered) ended. */
  async settled(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /** waitFor resolves once a published checkpoint has at least `size` entries; UNAVAILABLE after timeoutMs, saying why. */
  waitFor(size: number, timeoutMs: number): Promise<Head> {
    const p = this._published;
    if (p !== undefined && p.size >= size) return Promise.resolve(p);
    return new Promise<Head>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new LedgerError('UNAVAILABLE', `the entry is appended but no checkpoint covering it met the witness policy within ${timeoutMs / 1000} s (${this._problem ?? 'witnessing is slow'}); submit it again later to get its receipt`));
      }, timeoutMs);
      const w = {
        size,
        wake: () => {
          clearTimeout(timer);
          if (this._published !== undefined && this._published.size >= size) resolve(this._published);
          else reject(new LedgerError('UNAVAILABLE', 'the ledger is closing'));
        },
      };
      this.waiters.push(w);
      this.notify();
    });
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const w of this.waiters.splice(0)) w.wake();
  }

  private async rounds(): Promise<void> {
    do {
      this.again = false;
      const target = this.o.current();
      if (target === undefined || this.closed) return;
      if (this._published !== undefined && equalBytes(this._published.checkpoint, target.checkpoint)) continue;
      if (this._published !== undefined && this._published.size === target.size && this._published.time >= target.time) continue;
      await this.round(target);
    } while (this.again && !this.closed);
  }

  /** round asks every witness not backing off for a cosignature of target, and publishes it once the quorum is met. */
  private async round(target: Head): Promise<void> {
    const got = new Map<string, NoteSignature>();
    const now = Date.now();
    let published = false;
    const ask = this.members.filter((m) => m.until <= now);
    await Promise.all(
      ask.map(async (m) => {
        try {
          got.set(m.name, await m.client.cosign(target.checkpoint));
          m.backoff = BACKOFF_MIN_MS;
          m.until = 0;
          m.last = undefined;
          if (!published && quorumMet(this.o.policy, new Set(got.keys()))) {
            published = true;
            this.publish(target, got);
          }
        } catch (e) {
          const why = isLedgerError(e) ? `${e.code}: ${e.message}` : String(e);
          m.last = why;
          m.until = Date.now() + m.backoff;
          m.backoff = Math.min(m.backoff * 2, BACKOFF_MAX_MS);
          if (isLedgerError(e, 'INCONSISTENT')) this.o.log?.(`witness ${m.name} refuses the log's checkpoint as inconsistent: ${e.message}`);
        }
      }),
    );
    if (published) {
      // Add the cosignatures that came after the quorum too.
      if (got.size > 0) this.publish(target, got);
      return;
    }
    const have = [...got.keys()];
    const failing = this.members.filter((m) => m.last !== undefined).map((m) => `${m.name}: ${m.last}`);
    this._problem = `the witness policy is not met for the checkpoint of size ${target.size}: cosigned by ${have.length === 0 ? 'none' : have.join(', ')}${failing.length === 0 ? '' : `; ${failing.join('; ')}`}`;
    this.o.log?.(this._problem);
    // Try again in a second (sooner if the sequencer moves on).
    setTimeout(() => this.notify(), BACKOFF_MIN_MS).unref();
  }

  private publish(target: Head, got: ReadonlyMap<string, NoteSignature>): void {
    const note = parseNote(target.checkpoint);
    const checkpoint = formatNote({ text: note.text, sigs: [...note.sigs, ...got.values()] });
    if (this._published === undefined || this._published.size <= target.size) this._published = { ...target, checkpoint };
    this._problem = undefined;
    const size = this._published.size;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].size <= size) this.waiters.splice(i, 1)[0].wake();
    }
  }
}
