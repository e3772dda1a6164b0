/**
 * Prometheus metrics of one API process (GET /metrics), on a registry of its own so
 * that several apps in one process (tests) do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Ledger } from '../ledger/ledger.js';

/** ReadStats is what the API reports about its tile and bundle reads (see app.ts ReadGate). */
export interface ReadStats {
  /** Reads (with their compression) running now. */
  readonly active: number;
  /** Reads waiting for a slot. */
  readonly waiting: number;
  /** Bytes and bundles held by the cache of compressed full bundles. */
  readonly cacheBytes: number;
  readonly cacheEntries: number;
}

export interface Metrics {
  readonly contentType: string;
  requestStarted(): (route: string, status: number) => void;
  /** trackReads makes the read gauges report `stats` (the latest call wins; 0 before any). */
  trackReads(stats: () => ReadStats): void;
  render(): Promise<string>;
}

export function createMetrics(ledger: Ledger, opts: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'dojang_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry] });
  const duration = new Histogram({
    name: 'dojang_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['route'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  // With a witness policy there is no head until a checkpoint met it: report 0 then, not an error.
  const head = () => {
    try {
      return ledger.head;
    } catch {
      return undefined;
    }
  };
  new Gauge({ name: 'dojang_log_size', help: 'Entries in the log (latest checkpoint size; 0 while none is published)', registers: [registry], collect() { this.set(head()?.size ?? 0); } });
  new Gauge({ name: 'dojang_checkpoint_time_seconds', help: 'Cosignature time of the latest checkpoint (0 while none is published)', registers: [registry], collect() { this.set(head()?.time ?? 0); } });
  // Witnesses (spec §13.5): present only with a witness policy.
  new Counter({
    name: 'dojang_witness_answers_total',
    help: 'Answers of each witness of the policy to the log, by result: cosigned, or the error code (INCONSISTENT: it says the log forked; CONFLICT; UNKNOWN_KEY; UNAVAILABLE)',
    labelNames: ['witness', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of ledger.witnessing?.counts ?? []) this.inc({ witness: c.witness, result: c.result }, c.n);
    },
  });
  new Counter({
    name: 'dojang_witness_refusals_total',
    help: 'Checkpoints a witness refused although it answered, by reason (INCONSISTENT: the log, or what the witness was shown, forked; CONFLICT; UNKNOWN_KEY)',
    labelNames: ['witness', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of ledger.witnessing?.counts ?? []) if (c.result !== 'cosigned' && c.result !== 'UNAVAILABLE') this.inc({ witness: c.witness, reason: c.result }, c.n);
    },
  });
  new Gauge({
    name: 'dojang_witness_up',
    help: '1 while the last answer of the witness was a cosignature (or it was not asked yet), 0 while it fails or refuses',
    labelNames: ['witness'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of ledger.witnessing?.witnesses ?? []) this.set({ witness: s.name }, s.state === 'cosigning' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'dojang_witness_fork_alert',
    help: '1 while a witness refuses the log\'s checkpoints as inconsistent with what it cosigned (the log may be forked), else 0 (also without a witness policy)',
    registers: [registry],
    collect() {
      this.reset();
      const w = ledger.witnessing;
      if (w !== undefined) this.set(w.witnesses.some((s) => s.code === 'INCONSISTENT') ? 1 : 0);
    },
  });
  new Gauge({ name: 'dojang_sequencer_queue_length', help: 'Entries waiting to be sequenced', registers: [registry], collect() { this.set(ledger.queueLength); } });
  new Gauge({ name: 'dojang_sequencer_batches', help: 'Batches this process appended since it started', registers: [registry], collect() { this.set(ledger.appended.batches); } });
  new Gauge({ name: 'dojang_sequencer_last_append_size', help: 'Tree size after the last batch this process appended (0: none)', registers: [registry], collect() { this.set(ledger.appended.size); } });
  new Gauge({ name: 'dojang_sequencer_leader', help: '1 while this process sequences the log (or is its only process), 0 while it forwards writes', registers: [registry], collect() { this.set(ledger.role.role === 'follower' ? 0 : 1); } });
  new Gauge({ name: 'dojang_hash_cache_entries', help: 'Stored hashes held in the proof cache', registers: [registry], collect() { this.set(ledger.cache.size); } });
  let reads: (() => ReadStats) | undefined;
  const read = <K extends keyof ReadStats>(k: K): number => (reads === undefined ? 0 : reads()[k]);
  new Gauge({ name: 'dojang_tile_reads_active', help: 'Tile and entry bundle reads (and compressions) in flight', registers: [registry], collect() { this.set(read('active')); } });
  new Gauge({ name: 'dojang_tile_reads_waiting', help: 'Tile and entry bundle reads waiting for a slot', registers: [registry], collect() { this.set(read('waiting')); } });
  new Gauge({ name: 'dojang_bundle_cache_bytes', help: 'Bytes of gzipped full entry bundles held in the cache', registers: [registry], collect() { this.set(read('cacheBytes')); } });
  new Gauge({ name: 'dojang_bundle_cache_entries', help: 'Gzipped full entry bundles held in the cache', registers: [registry], collect() { this.set(read('cacheEntries')); } });
  return {
    trackReads(stats) {
      reads = stats;
    },
    contentType: registry.contentType,
    requestStarted() {
      const t0 = process.hrtime.bigint();
      return (route, status) => {
        requests.inc({ route, status: String(status) });
        duration.observe({ route }, Number(process.hrtime.bigint() - t0) / 1e9);
      };
    },
    render: () => registry.metrics(),
  };
}
