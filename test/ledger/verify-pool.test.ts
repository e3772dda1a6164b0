/**
 * Tests of src/ledger/verify-pool.ts: every verdict of the pool, on workers or inline, is
 * verifyEd25519's (spec §2) for the same item, in order, whatever the batching; a dead
 * worker is replaced and its items retried once; close() and the queue bound refuse
 * with UNAVAILABLE and OVERLOADED; idle workers do not keep a process alive.
 *
 * Items: the RFC 8032 §7.1 vectors and the 12 "Taming the many EdDSAs" cases
 * (test/vectors), plus items made here: valid, message/R/S bit flips, S + L (malleable),
 * the eight small-order points as keys, wrong key, wrong lengths.
 *
 * Under vitest the workers run the tsc output in dist/ (see workerUrl in the module):
 * `npm test` builds it first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ed25519PublicKey, signEd25519, verifyEd25519 } from '../../src/core/crypto.js';
import { concatBytes, fromHex, utf8 } from '../../src/core/bytes.js';
import { isLedgerError } from '../../src/core/errors.js';
import { VerifyPool, type VerifyItem } from '../../src/ledger/verify-pool.js';
import { verifyPacked } from '../../src/ledger/verify-worker.js';
import { SMALL_ORDER_KEYS_HEX } from '../helpers/vectors.js';

const load = (name: string): any => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8'));

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function seed(i: number): Uint8Array {
  const s = new Uint8Array(32);
  s[0] = i & 255;
  s[1] = i >> 8;
  s[31] = 0x5a;
  return s;
}

/** addLtoS returns the signature with L added to S (still < 2^256: a malleable twin). */
function addLtoS(sig: Uint8Array): Uint8Array {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]);
  s += L;
  const out = sig.slice();
  for (let i = 32; i < 64; i++, s >>= 8n) out[i] = Number(s & 255n);
  return out;
}

function flip(b: Uint8Array, i: number): Uint8Array {
  const out = b.slice();
  out[i] ^= 1;
  return out;
}


interface Case extends VerifyItem {
  what: string;
  expected: boolean;
}

/** cases builds the mixed item set, each with the verdict the rules of spec §2 give. */
function cases(): Case[] {
  const out: Case[] = [];
  for (const v of load('ed25519-rfc8032.json').vectors) {
    out.push({ what: `RFC 8032 ${v.name}`, publicKey: fromHex(v.pub), message: fromHex(v.msg), signature: fromHex(v.sig), expected: true });
  }
  for (const c of load('ed25519-speccheck.json').cases) {
    out.push({ what: `speccheck ${c.number}`, publicKey: fromHex(c.pub), message: fromHex(c.msg), signature: fromHex(c.sig), expected: c.expected });
  }
  const pub = ed25519PublicKey(seed(1));
  const other = ed25519PublicKey(seed(2));
  for (let i = 0; i < 6; i++) {
    const message = utf8(`entry ${i} `.repeat(i * 7));
    const signature = signEd25519(seed(1), message);
    out.push({ what: `valid ${i}`, publicKey: pub, message, signature, expected: true });
    out.push({ what: `message flipped ${i}`, publicKey: pub, message: message.length ? flip(message, i % message.length) : utf8('x'), signature, expected: false });
    out.push({ what: `R flipped ${i}`, publicKey: pub, message, signature: flip(signature, i), expected: false });
    out.push({ what: `S flipped ${i}`, publicKey: pub, message, signature: flip(signature, 32 + i), expected: false });
    out.push({ what: `S + L ${i}`, publicKey: pub, message, signature: addLtoS(signature), expected: false });
    out.push({ what: `wrong key ${i}`, publicKey: other, message, signature, expected: false });
  }
  const m = utf8('small order');
  const sig = signEd25519(seed(3), m);
  for (const h of SMALL_ORDER_KEYS_HEX) out.push({ what: `small-order key ${h.slice(0, 8)}`, publicKey: fromHex(h), message: m, signature: sig, expected: false });
  out.push({ what: 'short key', publicKey: pub.subarray(0, 31), message: m, signature: signEd25519(seed(1), m), expected: false });
  out.push({ what: 'short sig', publicKey: pub, message: m, signature: signEd25519(seed(1), m).subarray(0, 63), expected: false });
  out.push({ what: 'long sig', publicKey: pub, message: m, signature: concatBytes(signEd25519(seed(1), m), new Uint8Array(1)), expected: false });
  out.push({ what: 'empty', publicKey: new Uint8Array(0), message: new Uint8Array(0), signature: new Uint8Array(0), expected: false });
  return out;
}

const CASES = cases();
const direct = (items: readonly VerifyItem[]) => items.map((it) => verifyEd25519(it.publicKey, it.message, it.signature));

/** pick returns n items drawn from CASES by a small LCG (deterministic), with their indices. */
function pick(n: number, state: number): Case[] {
  const out: Case[] = [];
  for (let i = 0; i < n; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    out.push(CASES[state % CASES.length]);
  }
  return out;
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isLedgerError(e) ? e.code : (e as Error).name;
  }
  return 'OK';
}

const pools: VerifyPool[] = [];
function pool(opts?: ConstructorParameters<typeof VerifyPool>[0]): VerifyPool {
  const p = new VerifyPool(opts);
  pools.push(p);
  return p;
}
afterEach(async () => {
  while (pools.length > 0) await pools.pop()!.close();
});

describe('the case set', () => {
  it('means what it says: verifyEd25519 gives the expected verdicts', () => {
    expect(CASES.filter((c) => c.expected).length).toBeGreaterThan(5);
    for (const c of CASES) expect([c.what, verifyEd25519(c.publicKey, c.message, c.signature)]).toEqual([c.what, c.expected]);
  });
});

describe('VerifyPool on workers', () => {
  it('answers a mixed call in order, as verifyEd25519 does', async () => {
    const p = pool({ threads: 2 });
    expect(p.threads).toBe(2);
    expect(await p.verify(CASES)).toEqual(CASES.map((c) => c.expected));
    const shuffled = pick(500, 7);
    expect(await p.verify(shuffled)).toEqual(direct(shuffled));
    expect(await p.verify([])).toEqual([]);
  });

  it('answers many concurrent calls, coalesced and split across workers', async () => {
    const p = pool({ threads: 2 });
    const calls = Array.from({ length: 300 }, (_, i) => pick((i * 37) % 23, i + 1));
    calls.push(pick(3000, 99)); // one call larger than a batch, split over both workers
    const results = await Promise.all(calls.map((c) => p.verify(c)));
    results.forEach((r, i) => expect(r).toEqual(direct(calls[i])));
  });

  it('splits batches by bytes as well as items (64 KiB messages)', async () => {
    const p = pool({ threads: 2 });
    const items: VerifyItem[] = [];
    for (let i = 0; i < 40; i++) {
      const message = new Uint8Array(65_535).fill(i);
      const signature = signEd25519(seed(4), message);
      items.push({ publicKey: ed25519PublicKey(seed(4)), message, signature: i % 5 === 0 ? flip(signature, 40) : signature });
    }
    expect(await p.verify(items)).toEqual(items.map((_, i) => i % 5 !== 0));
  });

  it('leaves the caller’s buffers usable (it copies, transferring only its own)', async () => {
    const p = pool({ threads: 1 });
    const items = pick(50, 3);
    await p.verify(items);
    for (const it of items) expect(it.signature.buffer.byteLength).toBeGreaterThan(0);
    expect(await p.verify(items)).toEqual(direct(items));
  });

  it('replaces a worker that dies and retries its items', async () => {
    const p = pool({ threads: 2 });
    const items = pick(3000, 11);
    const pending = p.verify(items);
    await turn(); // dispatch waits for the end of the event loop's turn
    expect(await p.terminateWorkerForTest(0)).toBeGreaterThan(0);
    expect(await pending).toEqual(direct(items));
    // the pool is whole again: both workers take a split call
    const more = pick(1000, 12);
    expect(await p.verify(more)).toEqual(direct(more));
  });

  it('rejects UNAVAILABLE when the retry dies too, and keeps serving', async () => {
    const p = pool({ threads: 1 });
    const items = pick(3000, 13);
    const pending = p.verify(items);
    const bystander = rejection(pending);
    await turn();
    expect(await p.terminateWorkerForTest(0)).toBeGreaterThan(0);
    expect(await p.terminateWorkerForTest(0)).toBeGreaterThan(0); // the replacement, holding the retries
    expect(await bystander).toBe('UNAVAILABLE');
    const more = pick(100, 14);
    expect(await p.verify(more)).toEqual(direct(more));
  });

  it('fails UNAVAILABLE, pending and later calls, when workers die before they start', async () => {
    const p = pool({ threads: 1 });
    const pending = rejection(p.verify(pick(100, 27)));
    // Each kill follows the previous replacement's start at once, before it can load.
    for (let i = 0; i < 3; i++) await p.terminateWorkerForTest(0);
    expect(await pending).toBe('UNAVAILABLE');
    expect(await rejection(p.verify(pick(1, 28)))).toBe('UNAVAILABLE');
  });

  it('close() rejects pending and later calls with UNAVAILABLE', async () => {
    const p = pool({ threads: 2 });
    const a = rejection(p.verify(pick(2000, 15)));
    const b = rejection(p.verify(pick(10, 16)));
    await p.close();
    expect(await a).toBe('UNAVAILABLE');
    expect(await b).toBe('UNAVAILABLE');
    expect(await rejection(p.verify(pick(1, 17)))).toBe('UNAVAILABLE');
    await p.close(); // idempotent
  });

  it('refuses OVERLOADED beyond maxQueue, queueing nothing of the refused call', async () => {
    const p = pool({ threads: 1, maxQueue: 100 });
    const first = p.verify(pick(80, 18));
    expect(await rejection(p.verify(pick(21, 19)))).toBe('OVERLOADED');
    const second = p.verify(pick(20, 20)); // exactly full
    expect(await rejection(p.verify(pick(1, 21)))).toBe('OVERLOADED');
    expect(await first).toEqual(direct(pick(80, 18)));
    expect(await second).toEqual(direct(pick(20, 20)));
    expect(await rejection(p.verify(pick(101, 22)))).toBe('OVERLOADED'); // larger than the bound itself
    expect(await p.verify(pick(100, 23))).toEqual(direct(pick(100, 23)));
  });

  it('refuses callers’ bugs with TypeError and RangeError', async () => {
    expect(() => new VerifyPool({ threads: -1 })).toThrow(RangeError);
    expect(() => new VerifyPool({ threads: 1.5 })).toThrow(RangeError);
    expect(() => new VerifyPool({ maxQueue: 0 })).toThrow(RangeError);
    const p = pool({ threads: 1 });
    const bad = { publicKey: 'x', message: new Uint8Array(0), signature: new Uint8Array(64) } as unknown as VerifyItem;
    expect(await rejection(p.verify([CASES[0], bad]))).toBe('TypeError');
    expect(await rejection(p.verify(undefined as unknown as VerifyItem[]))).toBe('TypeError');
  });
});

describe('VerifyPool inline', () => {
  it('gives the same answers on the calling thread', async () => {
    const p = pool({ inline: true, threads: 4 });
    expect(p.threads).toBe(0);
    expect(await p.verify(CASES)).toEqual(CASES.map((c) => c.expected));
    const items = pick(500, 24);
    expect(await p.verify(items)).toEqual(direct(items));
    expect(await pool({ threads: 0 }).verify(items)).toEqual(direct(items));
  });

  it('keeps the same bound and close contract', async () => {
    const p = pool({ inline: true, maxQueue: 10 });
    expect(await rejection(p.verify(pick(11, 25)))).toBe('OVERLOADED');
    await p.close();
    expect(await rejection(p.verify(pick(1, 26)))).toBe('UNAVAILABLE');
  });
});

describe('the worker protocol', () => {
  it('verifyPacked reads the packed layout and refuses a broken one', () => {
    const items = CASES.slice(0, 10);
    const lens = new Uint32Array(items.flatMap((c) => [c.publicKey.length, c.message.length, c.signature.length]));
    const data = concatBytes(...items.flatMap((c) => [c.publicKey, c.message, c.signature]));
    expect([...verifyPacked(lens, data)].map((b) => b === 1)).toEqual(direct(items));
    expect(() => verifyPacked(lens.subarray(1), data)).toThrow(RangeError);
    expect(() => verifyPacked(lens, data.subarray(1))).toThrow(RangeError);
    expect(() => verifyPacked(lens, concatBytes(data, new Uint8Array(1)))).toThrow(RangeError);
  });
});

describe('VerifyPool compiled (dist/), in a process of its own', () => {
  // The pool in dist/ finds its worker beside it; workers hold the process only while
  // they hold work: the script ends by itself without close(), after printing.
  const script = `
    import { VerifyPool } from ${JSON.stringify(new URL('../../dist/ledger/verify-pool.js', import.meta.url).href)};
    import { signEd25519, ed25519PublicKey } from ${JSON.stringify(new URL('../../dist/core/crypto.js', import.meta.url).href)};
    const seed = new Uint8Array(32).fill(7);
    const m = new Uint8Array(10);
    const it = { publicKey: ed25519PublicKey(seed), message: m, signature: signEd25519(seed, m) };
    const p = new VerifyPool({ threads: 2 });
    p.verify(Array(2000).fill(it)).then((r) => console.log('verified', r.filter(Boolean).length));
  `;
  it('finds its worker and does not keep an idle process alive', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    expect(out.trim()).toBe('verified 2000');
  });
});

/** turn resolves after the event loop's current turn (when the pool dispatches). */
function turn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
