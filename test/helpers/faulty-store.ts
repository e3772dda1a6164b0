import type { AnnexKind, AppendBatch, LedgerStore, StoreSupports, StoredAnnex, StoredCheckpoint, StoredHead } from '../../src/storage/store.js';

/** The LedgerStore calls a FaultyStore can fail. */
export type FaultyMethod = 'append' | 'putLatestCheckpoint' | 'findLeaves' | 'readHashes' | 'readState' | 'putAnnex';

/**
 * Where an injected fault strikes:
 *  - 'before': throw without calling the inner store (nothing is persisted);
 *  - 'after': call the inner store, let it succeed (a write is durable), then throw, so
 *    the caller sees an error for a write that happened.
 * These are the two failure points Sunlight's test backend walks.
 */
export type FaultPoint = 'before' | 'after';

/** A fault that struck: which call, where, and the arguments it was given. */
export interface FiredFault {
  readonly method: FaultyMethod;
  readonly point: FaultPoint;
  readonly args: readonly unknown[];
  readonly error: unknown;
}

interface Armed {
  methods: readonly FaultyMethod[];
  countdown: number;
  point: FaultPoint;
  error: unknown;
}

/**
 * FaultyStore wraps a real LedgerStore and fails chosen future calls of append,
 * putLatestCheckpoint, findLeaves, readHashes, readState or putAnnex. Every other call, and every
 * call not chosen, goes straight to the inner store. A fault strikes once; when the inner call of
 * a 'after' fault fails by itself, that error is passed on and the fault is spent.
 *
 *   store.failBefore('append');             // the next append fails, persisting nothing
 *   store.failAfter(['append', 'findLeaves'], 3); // the 3rd of those calls from now persists, then fails
 */
export class FaultyStore implements LedgerStore {
  /** Calls of each faultable method so far (fired faults included). */
  readonly calls: Record<FaultyMethod, number> = {
    append: 0,
    putLatestCheckpoint: 0,
    findLeaves: 0,
    readHashes: 0,
    readState: 0,
    putAnnex: 0,
  };
  /** Faults that have struck, in order. */
  readonly fired: FiredFault[] = [];
  #armed: Armed[] = [];

  constructor(readonly inner: LedgerStore) {}

  get supports(): StoreSupports {
    return this.inner.supports;
  }

  /**
   * claim passes through (a ledger on it fences earlier writers, store rule 12); the
   * coordinator does not, so a ledger on a FaultyStore is its store's one process and
   * fail-stops as spec §8.2 says, where a cluster would hand the log to another process.
   */
  claim(): Promise<number> {
    return this.inner.claim?.() ?? Promise.resolve(0);
  }

  /**
   * failBefore makes the nth future call (1 = the next one) among `methods` throw
   * `error` without reaching the inner store.
   */
  failBefore(methods: FaultyMethod | readonly FaultyMethod[], n = 1, error?: unknown): void {
    this.#arm(methods, n, 'before', error);
  }

  /** failAfter makes the nth future call among `methods` reach the inner store, then throw `error`. */
  failAfter(methods: FaultyMethod | readonly FaultyMethod[], n = 1, error?: unknown): void {
    this.#arm(methods, n, 'after', error);
  }

  /** disarm drops every fault that has not struck yet. */
  disarm(): void {
    this.#armed = [];
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  readHead(): Promise<StoredHead | undefined> {
    return this.inner.readHead();
  }

  append(batch: AppendBatch): Promise<void> {
    return this.#call('append', [batch], () => this.inner.append(batch));
  }

  putLatestCheckpoint(size: number, checkpoint: Uint8Array): Promise<void> {
    return this.#call('putLatestCheckpoint', [size, checkpoint], () => this.inner.putLatestCheckpoint(size, checkpoint));
  }

  readHashes(indices: readonly number[]): Promise<Uint8Array[]> {
    return this.#call('readHashes', [indices], () => this.inner.readHashes(indices));
  }

  readEntries(start: number, end: number): Promise<Uint8Array[]> {
    return this.inner.readEntries(start, end);
  }

  findLeaf(leafHash: Uint8Array): Promise<number | undefined> {
    return this.inner.findLeaf(leafHash);
  }

  findLeaves(leafHashes: readonly Uint8Array[]): Promise<(number | undefined)[]> {
    return this.#call('findLeaves', [leafHashes], () => this.inner.findLeaves(leafHashes));
  }

  readState(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return this.#call('readState', [keys], () => this.inner.readState(keys));
  }

  readCheckpoints(fromSize: number, limit: number): Promise<StoredCheckpoint[]> {
    return this.inner.readCheckpoints(fromSize, limit);
  }

  putAnnex(kind: AnnexKind, size: number, bytes: Uint8Array): Promise<void> {
    return this.#call('putAnnex', [kind, size, bytes], () => this.inner.putAnnex(kind, size, bytes));
  }

  readAnnexes(kind: AnnexKind, fromSize: number, limit: number): Promise<StoredAnnex[]> {
    return this.inner.readAnnexes(kind, fromSize, limit);
  }

  latestAnnex(kind: AnnexKind): Promise<StoredAnnex | undefined> {
    return this.inner.latestAnnex(kind);
  }

  #arm(methods: FaultyMethod | readonly FaultyMethod[], n: number, point: FaultPoint, error: unknown): void {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`FaultyStore: n must be a positive integer, got ${n}`);
    const list = typeof methods === 'string' ? [methods] : methods;
    this.#armed.push({ methods: list, countdown: n, point, error });
  }

  async #call<T>(method: FaultyMethod, args: unknown[], run: () => Promise<T>): Promise<T> {
    this.calls[method]++;
    let strike: Armed | undefined;
    for (const a of this.#armed) {
      if (!a.methods.includes(method)) continue;
      a.countdown--;
      if (a.countdown === 0) strike ??= a;
    }
    this.#armed = this.#armed.filter((a) => a.countdown > 0);
    if (strike === undefined) return run();
    const error = strike.error ?? new Error(`injected fault: ${method} fails ${strike.point} reaching the store`);
    if (strike.point === 'after') await run();
    this.fired.push({ method, point: strike.point, args, error });
    throw error;
  }
}
