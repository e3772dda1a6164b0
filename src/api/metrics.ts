/**
 * Prometheus metrics of one API process (GET /metrics), on a registry of its own so
 * that several apps in one process (tests) do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Ledger } from '../ledger/ledger.js';

export interface Metrics {
  readonly contentType: string;
  requestStarted(): (route: string, status: number) => void;
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
  new Gauge({ name: 'dojang_log_size', help: 'Entries in the log (latest checkpoint size)', registers: [registry], collect() { this.set(ledger.head.size); } });
  new Gauge({ name: 'dojang_checkpoint_time_seconds', help: 'Cosignature time of the latest checkpoint', registers: [registry], collect() { this.set(ledger.head.time); } });
  new Gauge({ name: 'dojang_sequencer_queue_length', help: 'Entries waiting to be sequenced', registers: [registry], collect() { this.set(ledger.sequencer.queueLength); } });
  new Gauge({ name: 'dojang_hash_cache_entries', help: 'Stored hashes held in the proof cache', registers: [registry], collect() { this.set(ledger.cache.size); } });
  return {
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
