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
 * 5 s, so that one that returns is asked again within 5 s) and the others are asked; a
 * round that cannot meet the quorum is tried again every second, and `problem` says why
 * meanwhile. A witness that says the log is inconsistent (INCONSISTENT) is reported
 * loudly — logged, counted, named in `problem` or, while the quorum is still met, in
 * `alert` — because that is a fork, or a witness that was shown one. `witnesses` tells
 * each witness's last answer, and `counts` how each answered since the start (metrics).
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
/** The longest a failing witness is left alone: a witness that returns is asked again within this (spec §13.5). */
export const BACKOFF_MAX_MS = 5000;

export interface PublisherOptions {
  policy: Policy;
  /** The sequencer's latest head (unwitnessed). */
  current(): Head | undefined;
  prove(from: number, to: number): Promise<Uint8Array[]>;
  timeoutMs?: number;
  log?: (m: string) => void;
  /** The checkpoint published before a restart, checked by the caller: served until a round publishes a newer one. */
  restored?: Head;
  /** save stores a checkpoint durably before it is published (spec §13.5), so that a restart serves it again. */
  save?(size: number, checkpoint: Uint8Array): Promise<void>;
  /** published is told the size of each checkpoint once it is published (saved first). */
  published?(size: number): void;
}

interface Member {
  name: string;
  client: WitnessClient;
  /** Not asked again before this time (ms). */
  until: number;
  backoff: number;
  /** Why its last answer was not a cosignature (code: message), undefined after a cosignature. */
  last?: string;
  /** The code of that answer. */
  code?: string;
  /** When it began failing (Unix seconds), while it fails. */
  since?: number;
  /** Its failed answers in a row. */
  failures: number;
  /** Answering a request now (not asked again until it has answered or timed out). */
  busy?: boolean;
}

/** What the log knows of one witness of its policy (GET /healthz, metrics). */
export interface WitnessStatus {
  /** Its name in the policy. */
  name: string;
  /** Its key's name. */
  key: string;
  /** `cosigning` (its last answer was a cosignature, or it has not been asked yet), `failing` (down, slow, answering otherwise: UNAVAILABLE), `refusing` (it answered no: INCONSISTENT, CONFLICT, UNKNOWN_KEY). */
  state: 'cosigning' | 'failing' | 'refusing';
  /** The size it last cosigned for this log, once known. */
  size?: number;
  /** The code of its last answer when that was not a cosignature. */
  code?: string;
  /** Why, in words. */
  detail?: string;
  /** Since when it fails or refuses (Unix seconds). */
  since?: number;
  /** Its failed answers in a row (0 once it cosigns). */
  failures: number;
}

/** Codes by which a witness that answered refuses (the others are UNAVAILABLE). */
const REFUSALS = new Set(['INCONSISTENT', 'CONFLICT', 'UNKNOWN_KEY']);

export class Publisher {
  private readonly members: Member[];
  private _published: Head | undefined;
  private _problem: string | undefined = 'no checkpoint has been witnessed yet';
  /** The published checkpoint as the sequencer signed it, and the cosignatures it carries, by witness name. */
  private publishedFrom: Uint8Array | undefined;
  private publishedSigs = new Map<string, NoteSignature>();
  private readonly waiters: { size: number; wake(): void }[] = [];
  private running: Promise<void> | undefined;
  /** Saves of late cosignatures, one after another. */
  private lateSaves: Promise<void> = Promise.resolve();
  private again = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  /** Answers per witness name and result (`cosigned` or an error code), since the start. */
  private readonly answers = new Map<string, Map<string, number>>();

  constructor(private readonly o: PublisherOptions) {
    this.members = o.policy.witnesses.map((w) => {
      if (w.url === undefined) throw new LedgerError('BAD_REQUEST', `the policy gives no URL for witness ${w.name}: the log cannot ask it`);
      return { name: w.name, client: new WitnessClient({ key: w.key, url: w.url.replace(/\/+$/, '') }, { prove: o.prove, timeoutMs: o.timeoutMs }), until: 0, backoff: BACKOFF_MIN_MS, failures: 0 };
    });
    if (o.restored !== undefined) {
      this._published = o.restored;
      this._problem = undefined;
      // What it was published from, and by whom cosigned: so that a witness missing from it
      // is asked by a catch-up round, without waiting for a write.
      const note = parseNote(o.restored.checkpoint);
      const by = (sig: NoteSignature) => this.members.find((m) => m.client.endpoint.key.name === sig.name && equalBytes(m.client.endpoint.key.keyId, sig.keyId));
      for (const sig of note.sigs) {
        const m = by(sig);
        if (m !== undefined) this.publishedSigs.set(m.name, sig);
      }
      this.publishedFrom = formatNote({ text: note.text, sigs: note.sigs.filter((sig) => by(sig) === undefined) });
    }
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

  /**
   * A fork alarm while the quorum is met: which witnesses refuse the log's checkpoints
   * as inconsistent with what they cosigned (undefined when none does). While the quorum
   * is not met, `problem` says it.
   */
  get alert(): string | undefined {
    const refusing = this.members.filter((m) => m.code === 'INCONSISTENT');
    if (refusing.length === 0) return undefined;
    return forkWarning(refusing);
  }

  /** witnesses: each witness's last answer, in the policy's order. */
  get witnesses(): WitnessStatus[] {
    return this.members.map((m) => ({
      name: m.name,
      key: m.client.endpoint.key.name,
      state: m.code === undefined ? 'cosigning' : REFUSALS.has(m.code) ? 'refusing' : 'failing',
      ...(m.client.size === undefined ? {} : { size: m.client.size }),
      ...(m.code === undefined ? {} : { code: m.code, detail: m.last, since: m.since }),
      failures: m.failures,
    }));
  }

  /** counts: how many times each witness answered with each result (`cosigned`, or the error code), since the start. */
  get counts(): { witness: string; result: string; n: number }[] {
    const out: { witness: string; result: string; n: number }[] = [];
    for (const [witness, byResult] of this.answers) for (const [result, n] of byResult) out.push({ witness, result, n });
    return out;
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
      if (this.publishedFrom !== undefined && equalBytes(this.publishedFrom, target.checkpoint)) {
        // Published already: ask the witnesses whose cosignature it lacks, once their backoff ended.
        const now = Date.now();
        if (this.members.some((m) => !this.publishedSigs.has(m.name) && m.until <= now)) await this.round(target, true);
        continue;
      }
      if (this._published !== undefined && this._published.size === target.size && this._published.time >= target.time) continue;
      await this.round(target, false);
    } while (this.again && !this.closed);
  }

  /**
   * round asks every witness not backing off and not still answering an earlier round
   * for a cosignature of target, and publishes it once the quorum is met. It ends as soon
   * as the checkpoint is published (or every witness asked has answered): a witness that
   * is slow or hangs (until its timeout) never holds up the next round, and its late
   * cosignature is added to the published checkpoint if that is still target. A catch-up
   * round is for the published checkpoint: it asks only the witnesses that have not
   * cosigned it, and adds their cosignatures (so that a witness that missed a round is
   * asked again, and a refusal is seen, without waiting for the next write).
   */
  private async round(target: Head, catchUp: boolean): Promise<void> {
    const got = new Map<string, NoteSignature>(catchUp ? this.publishedSigs : []);
    const now = Date.now();
    let published = catchUp;
    const ask = this.members.filter((m) => !m.busy && m.until <= now && !got.has(m.name));
    let pending = ask.length;
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    // A catch-up round waits for nobody: its checkpoint is published already.
    if (pending === 0 || catchUp) end();
    for (const m of ask) {
      m.busy = true;
      void (async () => {
        try {
          const sig = await m.client.cosign(target.checkpoint);
          this.count(m.name, 'cosigned');
          if (m.code !== undefined) this.o.log?.(`witness ${m.name} cosigns again (size ${target.size})`);
          m.backoff = BACKOFF_MIN_MS;
          m.until = 0;
          m.last = m.code = m.since = undefined;
          m.failures = 0;
          got.set(m.name, sig);
          if (published) this.addCosignature(target, m.name, sig);
          else if (quorumMet(this.o.policy, new Set(got.keys()))) {
            published = true;
            await this.publish(target, got);
            end();
          }
        } catch (e) {
          const code = isLedgerError(e) ? e.code : 'UNAVAILABLE';
          const why = isLedgerError(e) ? `${e.code}: ${e.message}` : String(e);
          this.count(m.name, code);
          if (code === 'INCONSISTENT' && m.code !== 'INCONSISTENT') {
            this.o.log?.(`ALERT: witness ${m.name} refuses the log's checkpoint of size ${target.size} as inconsistent with what it cosigned — the log (or what the witness was shown) may be forked; the witness keeps the request as evidence: ${e instanceof Error ? e.message : why}`);
          }
          if (m.code === undefined) m.since = Math.floor(Date.now() / 1000);
          m.last = why;
          m.code = code;
          m.failures++;
          m.until = Date.now() + m.backoff;
          m.backoff = Math.min(m.backoff * 2, BACKOFF_MAX_MS);
        } finally {
          m.busy = false;
          if (--pending === 0) end();
        }
      })();
    }
    await ended;
    if (published) return;
    const have = this.members.filter((m) => got.has(m.name)).map((m) => m.name); // in the policy's order
    const failing = this.members.filter((m) => m.last !== undefined).map((m) => `${m.name}: ${m.last}`);
    const forked = this.members.filter((m) => m.code === 'INCONSISTENT');
    const why = `the witness policy is not met for the checkpoint of size ${target.size}: cosigned by ${have.length === 0 ? 'none' : have.join(', ')}${failing.length === 0 ? '' : `; ${failing.join('; ')}`}`;
    const problem = forked.length === 0 ? why : `${forkWarning(forked)}; ${why}`;
    // Logged when it changes, not every round.
    if (problem !== this._problem) this.o.log?.(problem);
    this._problem = problem;
    // Try again in a second (sooner if the sequencer moves on).
    setTimeout(() => this.notify(), BACKOFF_MIN_MS).unref();
  }

  /**
   * addCosignature adds a witness's cosignature that came after target was published,
   * if target is still the published checkpoint. It is served at once and saved in the
   * background, nobody waiting: the checkpoint saved before met the policy already.
   */
  private addCosignature(target: Head, name: string, sig: NoteSignature): void {
    if (this._published === undefined || this.publishedFrom === undefined || !equalBytes(this.publishedFrom, target.checkpoint) || this.publishedSigs.has(name)) return;
    const sigs = new Map(this.publishedSigs).set(name, sig);
    const checkpoint = this.cosigned(target, sigs);
    this._published = { ...this._published, checkpoint };
    this.publishedSigs = sigs;
    const save = this.o.save;
    if (save === undefined) return;
    this.lateSaves = this.lateSaves.then(() =>
      // Not when a newer version of the published checkpoint has come meanwhile (a re-cosignature).
      this._published?.checkpoint !== checkpoint ? undefined : save(target.size, checkpoint).catch((e: unknown) => {
        if (!this.closed) this.o.log?.(`a late cosignature of the checkpoint of size ${target.size} could not be saved (it is served; the saved one meets the policy): ${String(e)}`);
      }),
    );
  }

  /** cosigned is target's note with the cosignatures in sigs, in the policy's order, after the log's and the timestamp key's lines. */
  private cosigned(target: Head, sigs: ReadonlyMap<string, NoteSignature>): Uint8Array {
    const note = parseNote(target.checkpoint);
    return formatNote({ text: note.text, sigs: [...note.sigs, ...this.members.flatMap((m) => (sigs.has(m.name) ? [sigs.get(m.name)!] : []))] });
  }

  private count(witness: string, result: string): void {
    let m = this.answers.get(witness);
    if (m === undefined) this.answers.set(witness, (m = new Map()));
    m.set(result, (m.get(result) ?? 0) + 1);
  }

  /**
   * publish makes target, with the cosignatures in got, the published checkpoint, once it
   * is saved (a checkpoint that cannot be saved is not published: a restart would serve an
   * older one, and clients would see the log go back).
   */
  private async publish(target: Head, cosigned: ReadonlyMap<string, NoteSignature>): Promise<void> {
    // As they are now: more may arrive while it is saved (and are dropped: the next round or a catch-up round asks again).
    const got = new Map(cosigned);
    const checkpoint = this.cosigned(target, got);
    if (this._published !== undefined && this._published.size > target.size) return;
    if (this.o.save !== undefined) {
      try {
        await this.o.save(target.size, checkpoint);
      } catch (e) {
        const problem = `the checkpoint of size ${target.size} met the witness policy but could not be saved: ${isLedgerError(e) ? `${e.code}: ${e.message}` : String(e)}`;
        if (this.closed) return;
        if (problem !== this._problem) this.o.log?.(problem);
        this._problem = problem;
        setTimeout(() => this.notify(), BACKOFF_MIN_MS).unref();
        return;
      }
    }
    if (this._published === undefined || this._published.size <= target.size) {
      this._published = { ...target, checkpoint };
      this.publishedFrom = target.checkpoint;
      this.publishedSigs = got;
    }
    this._problem = undefined;
    const size = this._published.size;
    this.o.published?.(size);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].size <= size) this.waiters.splice(i, 1)[0].wake();
    }
  }
}

/** forkWarning names the witnesses that refuse the log's checkpoints as inconsistent. */
function forkWarning(refusing: readonly Member[]): string {
  const names = refusing.map((m) => m.name).join(', ');
  return `THE LOG MAY BE FORKED: witness${refusing.length > 1 ? 'es' : ''} ${names} refuse${refusing.length > 1 ? '' : 's'} its checkpoints as inconsistent with what ${refusing.length > 1 ? 'they' : 'it'} cosigned (INCONSISTENT; ${refusing.length > 1 ? 'they keep' : 'it keeps'} the request as evidence): stop, and compare this log with the checkpoint the witness holds (its GET /latest and GET /evidence)`;
}
