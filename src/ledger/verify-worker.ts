/**
 * The verify worker: the body of one VerifyPool thread (src/ledger/verify-pool.ts). It
 * answers each batch of packed signature checks with one verdict byte per item, computed
 * by verifyEd25519 of src/core/crypto.ts — the same function, hence the same strict
 * RFC 8032 rules (spec §2), as a verification on the main thread.
 *
 * Protocol (one port, structured clone, both directions transfer their buffers):
 *
 *  - worker → pool, once, after the module loaded: `{ ready: true }`;
 *  - pool → worker: a VerifyRequest. Item i occupies lens[3i], lens[3i+1], lens[3i+2]
 *    bytes of data — public key, message, signature, in that order — directly after
 *    item i-1. Lengths are as received: a wrong length is a false verdict, not an error;
 *  - worker → pool: a VerifyReply with the same id and ok[i] = 1 when item i verifies.
 *
 * A batch that does not follow the protocol is the pool's bug: the worker throws, dies,
 * and the pool treats it like any crash (retry once, then UNAVAILABLE).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { verifyEd25519 } from '../core/crypto.js';

export interface VerifyRequest {
  id: number;
  lens: Uint32Array;
  data: Uint8Array;
}

export interface VerifyReply {
  id: number;
  ok: Uint8Array;
}

export interface VerifyReady {
  ready: true;
}

/** The workerData by which the pool starts this module; anything else leaves it inert. */
export const VERIFY_WORKER_TAG = 'dojang-verify-worker/1';

/** verifyPacked checks every item of a packed batch (the layout of the module comment). */
export function verifyPacked(lens: Uint32Array, data: Uint8Array): Uint8Array<ArrayBuffer> {
  if (lens.length % 3 !== 0) throw new RangeError('verify batch: lens is not a multiple of 3');
  const n = lens.length / 3;
  const ok = new Uint8Array(n);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const pubEnd = o + lens[3 * i];
    const msgEnd = pubEnd + lens[3 * i + 1];
    const sigEnd = msgEnd + lens[3 * i + 2];
    if (sigEnd > data.length) throw new RangeError('verify batch: lengths overrun the data');
    ok[i] = verifyEd25519(data.subarray(o, pubEnd), data.subarray(pubEnd, msgEnd), data.subarray(msgEnd, sigEnd)) ? 1 : 0;
    o = sigEnd;
  }
  if (o !== data.length) throw new RangeError('verify batch: trailing data');
  return ok;
}

// Only as a pool's thread: imported anywhere else (a test, a test runner's own worker
// thread) the module defines its functions and nothing more.
if (parentPort !== null && workerData === VERIFY_WORKER_TAG) {
  const port = parentPort;
  port.on('message', (req: VerifyRequest) => {
    const ok = verifyPacked(req.lens, req.data);
    const reply: VerifyReply = { id: req.id, ok };
    port.postMessage(reply, [ok.buffer]);
  });
  const ready: VerifyReady = { ready: true };
  port.postMessage(ready);
}
