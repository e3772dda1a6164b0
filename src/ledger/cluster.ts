/**
 * Cluster: one process among several that share a store (spec §8.4b). Every process
 * serves reads; the one that holds the store's sequencer lock leads: it claims a new term
 * (which fences every earlier writer, store rule 12), opens a Sequencer (which checks the
 * stored right edge against the checkpoint and this process's last-checkpoint file) and
 * appends. The others follow:
 *
 *  - Heads: on every change notification, and every TICK_MS, a follower reads the stored
 *    head, checks it (checkStoredHead: signatures, origin, root from the stored right
 *    edge) and that it extends the head it serves (a consistency proof from the stored
 *    hashes), and only then serves it. A head that does not extend it is a fork: the
 *    process stops moving its head and reports STATE_MISMATCH.
 *  - Writes: a follower checks an entry as the leader would (Ledger.append parses it and
 *    verifies its signature), queues it in the store and waits for the leader's answer,
 *    then for a head that covers the entry. The receipt is then built from the history,
 *    so it is the same bytes the leader would have given.
 *
 * The leader takes queued writes (its own term marks them), feeds them to its sequencer
 * with its local writes, and records every answer. Writes it could not judge (its
 * sequencer stopped, or was full) are put back for a later take.
 *
 * The lock is a lease (the store's control session): when it is lost, or when the
 * sequencer stops (a CONFLICT means another process claimed the log), the leader aborts
 * its sequencer — waiting writers get UNAVAILABLE and may resubmit (dedup makes that
 * safe) — and follows again. Every half second a follower tries to take the lock.
 */
import { LedgerError, isLedgerError, type LedgerErrorCode } from '../core/errors.js';
import { equalBytes } from '../core/bytes.js';
import { leafHash, proveConsistency, verifyConsistency, type HashReader } from '../core/merkle.js';
import type { NoteVerifier } from '../core/note.js';
import type { Coordinator, LedgerStore, QueueAnswer, QueuedWrite } from '../storage/store.js';
import { checkStoredHead, REVOCATION_RESERVE, type CheckpointGuard, type Head, type Receipt, type Sequencer } from './sequencer.js';

/** How often a follower tries to lead, re-reads the head and looks for answers (a backstop for notifications). */
export const TICK_MS = 500;
/** How long a forwarded write waits for the leader's answer and a head that covers it. */
export const FORWARD_TIMEOUT_MS = 25_000;
/** Queued writes older than this are dropped (their submitters gave up long before). */
const PRUNE_AFTER_S = 600;
/** The most queued writes the leader takes at once. */
const TAKE_MAX = 1024;

export interface ClusterOptions {
  store: LedgerStore;
  coordinator: Coordinator;
  origin: string;
  verifiers: { log: NoteVerifier; timestamp: NoteVerifier };
  /** Stored hashes, through the ledger's cache (they never change). */
  readHashes: HashReader;
  /** openSequencer claims the log and opens a sequencer with fresh admission state; returns the term. */
  openSequencer(): Promise<{ sequencer: Sequencer; term: number }>;
  /** meta makes the sequencer's meta for a queued entry its submitter verified (or undefined). */
  meta(write: QueuedWrite): unknown;
  /** encodeReceipt builds and encodes the receipt of an entry this leader appended, for the process that queued it. */
  encodeReceipt(r: Receipt): Promise<Uint8Array>;
  /** The most forwarded writes that may wait at once (OVERLOADED beyond). */
  maxQueue: number;
  /** This process's last-checkpoint file: a follower saves the heads it serves in it too. */
  guard?: CheckpointGuard;
  log?: (message: string) => void;
}

interface Waiter {
  leafHash: Uint8Array;
  deadline: number;
  resolve(r: Receipt): void;
  reject(e: unknown): void;
}

export class Cluster {
  private seq: Sequencer | undefined;
  private term = 0;
  private followed: Head;
  private fatal: string | undefined;
  private closed = false;
  private readonly outbox: { write: QueuedWrite; waiter: Waiter }[] = [];
  private readonly waiting = new Map<number, Waiter>();
  private readonly headWaiters: { size: number; wake(): void }[] = [];
  private readonly answers: QueueAnswer[] = [];
  private readonly unanswered: number[] = [];
  private readonly busy = new Set<string>();
  private readonly again = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  private inPump = 0;
  private ticking: Promise<void> | undefined;
  /** Changes of role run one after another. */
  private roleChain: Promise<unknown> = Promise.resolve();
  /** Goes up at every change of role (a refresh begun before one is judged again). */
  private generation = 0;
  private lastGuardSave = 0;

  private constructor(
    private readonly o: ClusterOptions,
    head: Head,
  ) {
    this.followed = head;
  }

  /**
   * start joins the cluster: it opens the control session, checks the stored head, and
   * tries once to lead (a STATE_MISMATCH then is thrown: the process must not start).
   */
  static async start(o: ClusterOptions): Promise<Cluster> {
    const stored = await o.store.readHead();
    if (stored === undefined) throw new LedgerError('UNAVAILABLE', 'the store holds no log: run dojang init');
    const { head } = await checkStoredHead(stored, { origin: o.origin, ...o.verifiers, readHashes: o.readHashes });
    const c = new Cluster(o, head);
    await o.coordinator.start({
      head: () => void c.refresh(),
      queued: () => void c.pump(),
      settled: () => void c.collect(),
      lost: (reason) => void c.demote(`lost the sequencer lock: ${reason}`),
    });
    try {
      if (await o.coordinator.tryLead()) await c.promote(true);
    } catch (e) {
      await o.coordinator.close();
      throw e;
    }
    c.timer = setInterval(() => void c.tick(), TICK_MS);
    c.timer.unref();
    return c;
  }

  /** head is what this process serves: its sequencer's head when leading, else the checked head it follows. */
  get head(): Head {
    return this.seq?.head ?? this.followed;
  }

  /** sequencer is this process's sequencer while it leads. */
  get sequencer(): Sequencer | undefined {
    return this.seq;
  }

  get leading(): boolean {
    return this.seq !== undefined;
  }

  /** The term of this process's sequencer while it leads (0 when following). */
  get currentTerm(): number {
    return this.seq === undefined ? 0 : this.term;
  }

  /** failure: why this process cannot take writes, or undefined. */
  get failure(): string | undefined {
    return this.fatal ?? this.seq?.failure;
  }

  get queueLength(): number {
    return (this.seq?.queueLength ?? 0) + this.waiting.size + this.outbox.length;
  }

  /** add sequences the entry here when leading, else forwards it to the leader through the store. */
  add(entry: Uint8Array, meta: unknown, verified: boolean, reserveFor?: string): Promise<Receipt> {
    if (this.closed) return Promise.reject(new LedgerError('UNAVAILABLE', 'the ledger is closing'));
    if (this.fatal !== undefined) return Promise.reject(new LedgerError('STATE_MISMATCH', this.fatal));
    const seq = this.seq;
    if (seq !== undefined && !seq.stopped) return seq.add(entry, meta, reserveFor);
    // An entitled revocation may wait beyond the bound, by the sequencer's reserve (spec §8.2).
    const bound = this.o.maxQueue + (reserveFor === undefined ? 0 : REVOCATION_RESERVE);
    if (this.waiting.size + this.outbox.length >= bound) return Promise.reject(new LedgerError('OVERLOADED', 'too many writes wait for the sequencer'));
    return new Promise<Receipt>((resolve, reject) => {
      const waiter: Waiter = { leafHash: leafHash(entry), deadline: Date.now() + FORWARD_TIMEOUT_MS, resolve, reject };
      this.outbox.push({ write: { entry, verified }, waiter });
      void this.send();
    });
  }

  /** once runs f unless it is running; then it runs again once it ends (coalescing). */
  private async once(name: string, f: () => Promise<void>): Promise<void> {
    if (this.busy.has(name)) {
      this.again.add(name);
      return;
    }
    this.busy.add(name);
    try {
      do {
        this.again.delete(name);
        await f().catch((e) => this.o.log?.(`${name}: ${(e as Error)?.message ?? String(e)}`));
      } while (this.again.has(name) && !this.closed);
    } finally {
      this.busy.delete(name);
    }
  }

  /** send queues the outbox in the store (one statement for all that wait). */
  private send(): Promise<void> {
    return this.once('send', async () => {
      const batch = this.outbox.splice(0);
      if (batch.length === 0) return;
      let ids: number[];
      try {
        ids = await this.o.coordinator.enqueue(batch.map((b) => b.write));
      } catch (e) {
        const err = new LedgerError('UNAVAILABLE', `could not forward the write to the sequencer: ${(e as Error)?.message ?? String(e)}`, { cause: e });
        for (const b of batch) b.waiter.reject(err);
        return;
      }
      if (this.closed) {
        const err = new LedgerError('UNAVAILABLE', 'the ledger is closing (the write may still be appended: submitting it again is safe)');
        for (const b of batch) b.waiter.reject(err);
        return;
      }
      ids.forEach((id, i) => this.waiting.set(id, batch[i].waiter));
    });
  }

  /** collect reads the leader's answers to this process's forwarded writes. */
  private collect(): Promise<void> {
    return this.once('collect', async () => {
      if (this.waiting.size === 0) return;
      const got = await this.o.coordinator.collect([...this.waiting.keys()]);
      for (const a of got) {
        const w = this.waiting.get(a.id);
        if (w === undefined) continue;
        this.waiting.delete(a.id);
        if ('code' in a) w.reject(new LedgerError(a.code as LedgerErrorCode, a.message));
        else void this.answer(w, a.index, a.duplicate, a.receipt);
      }
      const now = Date.now();
      for (const [id, w] of this.waiting) {
        if (now < w.deadline) continue;
        this.waiting.delete(id);
        w.reject(new LedgerError('UNAVAILABLE', `no sequencer answered within ${FORWARD_TIMEOUT_MS / 1000} s (the write may still be appended: submitting it again is safe)`));
      }
    });
  }

  /** answer resolves a forwarded write once this process serves a head that covers it. */
  private async answer(w: Waiter, index: number, duplicate: boolean, encoded: Uint8Array | undefined): Promise<void> {
    if (this.head.size <= index) {
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, Math.max(0, w.deadline - Date.now()));
        this.headWaiters.push({
          size: index + 1,
          wake: () => {
            clearTimeout(timer);
            wake();
          },
        });
        void this.refresh();
      });
    }
    if (this.head.size <= index) w.reject(new LedgerError('UNAVAILABLE', `entry ${index} is appended but this process does not serve a head that covers it yet`));
    else w.resolve({ index, leafHash: w.leafHash, duplicate, encoded });
  }

  private wakeHeadWaiters(force = false): void {
    const size = this.head.size;
    for (let i = this.headWaiters.length - 1; i >= 0; i--) {
      const hw = this.headWaiters[i];
      if (force || hw.size <= size) {
        this.headWaiters.splice(i, 1);
        hw.wake();
      }
    }
  }

  /**
   * refresh moves a follower to the stored head once it is checked and extends the one it
   * serves; a stored tree that does not (smaller, or another root) is a fork or a
   * rollback of the database, and this process stops (fatal). The head it moves to is
   * also saved in its last-checkpoint file, at most once a second, so that it will not
   * take over a database rolled back behind what it served, even after a restart.
   */
  private refresh(): Promise<void> {
    return this.once('refresh', async () => {
      if (this.seq !== undefined || this.fatal !== undefined) return this.wakeHeadWaiters();
      const gen = this.generation;
      const stored = await this.o.store.readHead();
      if (stored === undefined || equalBytes(stored.checkpoint, this.followed.checkpoint)) return this.wakeHeadWaiters();
      const { head } = await checkStoredHead(stored, { origin: this.o.origin, ...this.o.verifiers, readHashes: this.o.readHashes });
      const problem = await this.extends(this.followed, head);
      if (gen !== this.generation || this.seq !== undefined) {
        this.again.add('refresh'); // the role changed meanwhile: judge again against the new head
        return;
      }
      if (problem !== undefined) return this.stop(problem);
      if (head.size === this.followed.size && head.time <= this.followed.time) return this.wakeHeadWaiters();
      this.followed = head;
      this.wakeHeadWaiters();
      if (this.o.guard !== undefined && Date.now() - this.lastGuardSave >= 1000) {
        this.lastGuardSave = Date.now();
        await this.o.guard.save(head.checkpoint);
      }
    });
  }

  /** extends says why `next` does not extend `cur` (a consistency proof from the stored hashes), or undefined when it does. */
  private async extends(cur: Head, next: Head): Promise<string | undefined> {
    if (next.size < cur.size) return `the database holds a tree of size ${next.size} but this process served size ${cur.size}: it was rolled back`;
    try {
      if (next.size === cur.size) {
        if (!equalBytes(next.root, cur.root)) throw new Error('another root at the same size');
      } else {
        verifyConsistency(cur.size, next.size, await proveConsistency(cur.size, next.size, this.o.readHashes), cur.root, next.root);
      }
    } catch (e) {
      if (isLedgerError(e, 'UNAVAILABLE')) throw e; // the database, not the tree
      return `the stored checkpoint of size ${next.size} does not extend the checkpoint of size ${cur.size} this process served (${(e as Error).message}): the log forked`;
    }
    return undefined;
  }

  /** stop: this process found the database forked or rolled back; it takes no writes and serves what it had. */
  private stop(problem: string): void {
    this.fatal = problem;
    this.o.log?.(problem);
    this.wakeHeadWaiters(true);
  }

  /** role runs a change of role after the one before it has finished. */
  private role(f: () => Promise<void>): Promise<void> {
    const run = this.roleChain.then(f);
    this.roleChain = run.catch((e) => this.o.log?.(`change of role: ${(e as Error)?.message ?? String(e)}`));
    return run;
  }

  /**
   * promote takes the sequencer role: claim, open the sequencer (its start-up checks:
   * signatures, right edge, this process's last-checkpoint file), and check that the
   * tree extends the head this process served and that the lock is still held.
   */
  private promote(starting = false): Promise<void> {
    return this.role(async () => {
      if (this.seq !== undefined || this.closed || this.fatal !== undefined) return;
      let opened: { sequencer: Sequencer; term: number };
      try {
        opened = await this.o.openSequencer();
      } catch (e) {
        await this.o.coordinator.resign().catch(() => {});
        if (isLedgerError(e, 'STATE_MISMATCH')) {
          if (starting) throw e;
          this.stop(`cannot take over the sequencer: ${e.message}`);
        } else this.o.log?.(`could not take over the sequencer: ${(e as Error)?.message ?? String(e)}`);
        return;
      }
      const seq = opened.sequencer;
      let problem: string | undefined;
      try {
        problem = seq.head === undefined ? 'the store is empty' : await this.extends(this.followed, seq.head);
      } catch (e) {
        await seq.abort('could not check the tree at takeover');
        await this.o.coordinator.resign().catch(() => {});
        this.o.log?.(`could not take over the sequencer: ${(e as Error)?.message ?? String(e)}`);
        return;
      }
      const held = await this.o.coordinator.tryLead(); // true at once unless the session was lost meanwhile
      if (problem !== undefined || !held || this.closed) {
        await seq.abort(problem ?? 'the sequencer lock was lost during the takeover');
        await this.o.coordinator.resign().catch(() => {});
        if (problem !== undefined) {
          if (starting) throw new LedgerError('STATE_MISMATCH', problem);
          this.stop(`cannot take over the sequencer: ${problem}`);
        }
        return;
      }
      this.generation++;
      this.seq = seq;
      this.term = opened.term;
      this.o.log?.(`leading the log from size ${this.head.size} (term ${this.term})`);
      this.wakeHeadWaiters();
      void this.pump();
    });
  }

  /** demote gives up the sequencer role (the lock was lost or the sequencer stopped) and follows again. */
  private demote(reason: string): Promise<void> {
    return this.role(async () => {
      const seq = this.seq;
      if (seq === undefined) return;
      this.generation++;
      this.seq = undefined;
      if (seq.head !== undefined) this.followed = seq.head;
      this.o.log?.(`stepped down (term ${this.term}): ${reason}`);
      // Waits for a batch in flight: no write of this term can start after this.
      await seq.abort(`this process no longer sequences the log (${reason}): submit the write again`);
      if (seq.head !== undefined && seq.head.size > this.followed.size) this.followed = seq.head;
      await this.o.coordinator.resign().catch(() => {});
      void this.refresh();
    });
  }

  /** pump feeds queued writes to this leader's sequencer, as much as it has room for. */
  private pump(): Promise<void> {
    return this.once('pump', async () => {
      const seq = this.seq;
      if (seq === undefined || seq.stopped) return;
      const room = Math.min(TAKE_MAX, this.o.maxQueue - seq.queueLength - this.inPump);
      if (room <= 0) return;
      const rows = await this.o.coordinator.take(room);
      for (const { id, write } of rows) {
        this.inPump++;
        seq.add(write.entry, this.o.meta(write)).then(
          async (r) => {
            // The receipt from the batch's hashes in memory, so the other process need not read them.
            const receipt = await this.o.encodeReceipt(r).catch(() => undefined);
            this.answers.push({ id, index: r.index, duplicate: r.duplicate, receipt });
          },
          (e) => {
            // Put back what this sequencer could not judge because it stopped or was full; a
            // refusal by a sequencer that goes on (UNAVAILABLE for a clock behind, say) is an answer.
            const retry = isLedgerError(e, 'OVERLOADED') || (isLedgerError(e, 'UNAVAILABLE') && (seq.stopped || this.seq !== seq)) || !isLedgerError(e);
            if (retry) this.unanswered.push(id);
            else this.answers.push({ id, code: e.code, message: e.message });
          },
        ).finally(() => {
          this.inPump--;
          void this.flush();
        });
      }
      if (rows.length === room) this.again.add('pump');
    });
  }

  /** flush records the leader's answers (and puts back what it could not judge). */
  private flush(): Promise<void> {
    return this.once('flush', async () => {
      const answers = this.answers.splice(0);
      const back = this.unanswered.splice(0);
      try {
        await this.o.coordinator.settle(answers);
        await this.o.coordinator.release(back);
      } catch (e) {
        // Tried again on the next round (settle and release are idempotent).
        this.answers.push(...answers);
        this.unanswered.push(...back);
        throw e;
      }
      if (this.seq !== undefined) void this.pump();
    });
  }

  /** tick runs one round of the follower's and leader's chores, unless one is running. */
  private tick(): Promise<void> {
    // The body may finish without awaiting anything: clear the flag in a later microtask.
    this.ticking ??= this.chores().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async chores(): Promise<void> {
    try {
      if (this.closed) return;
      if (this.seq?.stopped) await this.demote(`the sequencer stopped: ${this.seq.failure}`);
      await this.roleChain; // a change of role started elsewhere (a lost lock) ends first
      if (this.seq === undefined && this.fatal === undefined && !this.closed && (await this.o.coordinator.tryLead())) await this.promote();
      if (this.seq === undefined) await this.refresh();
      else {
        void this.pump();
        if (Date.now() - this.lastPrune > 60_000) {
          this.lastPrune = Date.now();
          await this.o.coordinator.prune(PRUNE_AFTER_S).catch(() => {});
        }
      }
      if (this.answers.length > 0 || this.unanswered.length > 0) void this.flush();
      if (this.waiting.size > 0) void this.collect();
    } catch (e) {
      this.o.log?.(`cluster: ${(e as Error)?.message ?? String(e)}`);
    }
  }

  /** close drains this process's sequencer (if it leads), answers what waits, and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    try {
      await this.ticking;
      await this.roleChain;
      const seq = this.seq;
      this.seq = undefined;
      if (seq !== undefined) {
        await seq.close();
        if (seq.head !== undefined) this.followed = seq.head;
        await this.flush().catch(() => {});
      }
    } finally {
      const err = new LedgerError('UNAVAILABLE', 'the ledger is closing (the write may still be appended: submitting it again is safe)');
      for (const b of this.outbox.splice(0)) b.waiter.reject(err);
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
      this.wakeHeadWaiters(true);
      await this.o.coordinator.close();
    }
  }
}
