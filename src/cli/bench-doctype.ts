/**
 * The document type of dojang bench's certificates (docs/performance.md), which every
 * bench log registers before it issues (doctype.register, spec §5.7, §5.9).
 */
import { encodeEvent } from '../core/events.js';

/** BENCH_DOC_TYPE is the document type of the bench's certificates. */
export const BENCH_DOC_TYPE = 'dev.dojang.bench';

/** How long a bench certificate is valid: the most its document type allows. */
export const BENCH_VALIDITY_S = 90 * 86_400;

/**
 * benchDocTypeEntry is the doctype.register of BENCH_DOC_TYPE, signed by the bench
 * ledger's development root key. A bench appends it to every log it issues into (again
 * on a log that has it: the same maximum).
 */
export function benchDocTypeEntry(rootSeed: Uint8Array): Uint8Array {
  return encodeEvent({ type: 'doctype.register', docType: BENCH_DOC_TYPE, maxValidity: BENCH_VALIDITY_S, time: Math.floor(Date.now() / 1000) }, rootSeed);
}
