/**
 * Tests of src/core/crypto.ts (spec §2): both backends — node:crypto (OpenSSL) and the
 * portable @noble one — accept exactly the same Ed25519 signatures, and the answer is
 * the one the documented rules give:
 *
 *   valid ⇔ A and R canonical (y < p, no "x = -0") ∧ neither A nor R of small order ∧
 *           S < L ∧ [S]B = R + [k]A (cofactorless), k = SHA-512(R ‖ A ‖ M) mod L
 *
 * The expected answer is computed by a slow, obvious reference written here from RFC 8032
 * §5.1 and §6 (BigInt extended coordinates, sharing no code with noble or OpenSSL).
 *
 * Vectors: test/vectors/ed25519-rfc8032.json (RFC 8032 §7.1), ed25519-speccheck.json
 * (the 12 cases of "Taming the many EdDSAs", Chalkias et al.), plus a torsion matrix
 * built here with noble's Point API: each of the 8 small-order points as A and as R,
 * mixed-order A and R (a torsion component added), their non-canonical encodings,
 * signatures valid only under the cofactored equation, and S ≥ L.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import * as ed from '@noble/ed25519';
import {
  checkEd25519PublicKey,
  cryptoBackend,
  ed25519PublicKey,
  portableBackend,
  randomBytes,
  sha256,
  signEd25519,
  verifyEd25519,
  type CryptoBackend,
} from '../../src/core/crypto.js';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/bytes.js';

const load = (name: string): any => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8'));

const node = cryptoBackend();
const backends: [string, CryptoBackend][] = [
  ['node:crypto', node],
  ['noble', portableBackend],
];

// ---------------------------------------------------------------------------------------
// Reference Ed25519 (RFC 8032 §5.1, §6), slow and obvious.

const p = 2n ** 255n - 19n;
const q = 2n ** 252n + 27742317777372353535851937790883648493n; // L
const mod = (a: bigint, m = p) => ((a % m) + m) % m;
function modPow(b: bigint, e: bigint, m = p): bigint {
  let r = 1n;
  b = mod(b, m);
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}
const inv = (x: bigint) => modPow(x, p - 2n);
const d = mod(-121665n * inv(121666n));
const sqrtM1 = modPow(2n, (p - 1n) / 4n);
type Pt = [bigint, bigint, bigint, bigint]; // extended (X, Y, Z, T)
const ID: Pt = [0n, 1n, 1n, 0n];

function add(P: Pt, Q: Pt): Pt {
  const A = mod((P[1] - P[0]) * (Q[1] - Q[0]));
  const B = mod((P[1] + P[0]) * (Q[1] + Q[0]));
  const C = mod(2n * P[3] * Q[3] * d);
  const D = mod(2n * P[2] * Q[2]);
  const E = B - A;
  const F = D - C;
  const G = D + C;
  const H = B + A;
  return [mod(E * F), mod(G * H), mod(F * G), mod(E * H)];
}
function mul(s: bigint, P: Pt): Pt {
  let Q = ID;
  for (; s > 0n; s >>= 1n, P = add(P, P)) if (s & 1n) Q = add(Q, P);
  return Q;
}
const eq = (P: Pt, Q: Pt) => mod(P[0] * Q[2] - Q[0] * P[2]) === 0n && mod(P[1] * Q[2] - Q[1] * P[2]) === 0n;
const leInt = (b: Uint8Array) => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);

/** recoverX per RFC 8032 §5.1.3; `strict` refuses y ≥ p and x = 0 with the sign bit. */
function recoverX(y: bigint, sign: bigint, strict: boolean): bigint | undefined {
  if (y >= p) {
    if (strict) return undefined;
    y -= p;
  }
  const x2 = mod((y * y - 1n) * inv(d * y * y + 1n));
  if (x2 === 0n) return sign && strict ? undefined : 0n;
  let x = modPow(x2, (p + 3n) / 8n);
  if (mod(x * x - x2) !== 0n) x = mod(x * sqrtM1);
  if (mod(x * x - x2) !== 0n) return undefined;
  if ((x & 1n) !== sign) x = p - x;
  return x;
}
function decompress(b: Uint8Array, strict = true): Pt | undefined {
  let y = leInt(b);
  const sign = y >> 255n;
  y &= (1n << 255n) - 1n;
  const x = recoverX(y, sign, strict);
  if (x === undefined) return undefined;
  const yy = y >= p ? y - p : y;
  return [x, yy, 1n, mod(x * yy)];
}
const G: Pt = decompress(fromHex('5866666666666666666666666666666666666666666666666666666666666666'))!;
const isSmallOrder = (P: Pt) => eq(mul(8n, P), ID);
const sha512 = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha512').update(concatBytes(...parts)).digest());

/** The facts that decide a verdict, from the reference. */
type Facts = {
  aCanonical: boolean;
  rCanonical: boolean;
  aSmallOrder: boolean;
  rSmallOrder: boolean;
  /** [L]A = 0: no torsion component (so neither small nor mixed order). */
  aTorsionFree: boolean;
  rTorsionFree: boolean;
  sBelowL: boolean;
  /** [S]B = R + [k]A, points decoded leniently (y mod p), S reduced mod L. */
  cofactorless: boolean;
  /** [8][S]B = [8]R + [8][k]A, the same lenient reading. */
  cofactored: boolean;
};

function facts(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Facts {
  const A = decompress(pub, false);
  const R = decompress(sig.subarray(0, 32), false);
  const S = leInt(sig.subarray(32));
  const k = mod(leInt(sha512(sig.subarray(0, 32), pub, msg)), q);
  let cofactorless = false;
  let cofactored = false;
  if (A && R) {
    const sB = mul(mod(S, q), G);
    const rhs = add(R, mul(k, A));
    cofactorless = eq(sB, rhs);
    cofactored = eq(mul(8n, sB), mul(8n, rhs));
  }
  return {
    aCanonical: decompress(pub) !== undefined,
    rCanonical: decompress(sig.subarray(0, 32)) !== undefined,
    aSmallOrder: A !== undefined && isSmallOrder(A),
    rSmallOrder: R !== undefined && isSmallOrder(R),
    aTorsionFree: A !== undefined && eq(mul(q, A), ID),
    rTorsionFree: R !== undefined && eq(mul(q, R), ID),
    sBelowL: S < q,
    cofactorless,
    cofactored,
  };
}

/** expected applies the documented rules (src/core/crypto.ts module comment) to the facts. */
const expected = (f: Facts) => f.aCanonical && f.rCanonical && !f.aSmallOrder && !f.rSmallOrder && f.sBelowL && f.cofactorless;

function verdicts(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): { node: boolean; noble: boolean } {
  return { node: verifyEd25519(pub, msg, sig, node), noble: verifyEd25519(pub, msg, sig, portableBackend) };
}

/** checkCase: both backends give the reference's answer; returns the facts for further checks. */
function checkCase(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Facts {
  const f = facts(pub, msg, sig);
  const want = expected(f);
  expect({ ...verdicts(pub, msg, sig), facts: f }).toEqual({ node: want, noble: want, facts: f });
  return f;
}

// ---------------------------------------------------------------------------------------
// Constructions with noble's Point API

const P = ed.Point;
const L = q;
const le32 = (n: bigint) => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
};

/** The torsion subgroup E[8], T8[j] = [j]T for a point T of order 8, found by clearing the prime-order part. */
const T8: ed.Point[] = (() => {
  for (let y = 2n; ; y++) {
    let X: ed.Point;
    try {
      X = P.fromBytes(le32(y));
    } catch {
      continue;
    }
    const T = X.multiply(L - 1n, false).add(X); // [L]X
    if (T.multiply(4n, false).is0()) continue; // order must be exactly 8
    return Array.from({ length: 8 }, (_, j) => (j === 0 ? P.ZERO : T.multiply(BigInt(j), false)));
  }
})();
const order = (Q: ed.Point) => [1, 2, 4, 8].find((n) => Q.multiply(BigInt(n), false).is0())!;

const a = mod(leInt(sha512(utf8('dojang test key a'))), L); // a fixed secret scalar
const A0 = P.BASE.multiply(a);
const k = (R: Uint8Array, A: Uint8Array, M: Uint8Array) => mod(leInt(sha512(R, A, M)), L);
const nonce = (tag: string) => mod(leInt(sha512(utf8(`dojang test nonce ${tag}`))), L);

/** tmul is [n]T for a point T of small order (so only n mod 8 matters). */
const tmul = (T: ed.Point, n: bigint) => T.multiply(n % 8n, false);

/** searchMessage returns the first message "tag i" (i < 200) for which cond(msg) holds. */
function searchMessage(tag: string, cond: (msg: Uint8Array) => boolean): Uint8Array {
  for (let i = 0; i < 200; i++) {
    const m = utf8(`${tag} ${i}`);
    if (cond(m)) return m;
  }
  throw new Error(`no message found for ${tag}`);
}

type Case = { name: string; pub: Uint8Array; msg: Uint8Array; sig: Uint8Array; want: Partial<Facts> };

function torsionMatrix(): Case[] {
  const out: Case[] = [];
  const A0b = A0.toBytes();

  // 1. Small-order A (each of the 8), S = 0, R small order with R = -[k]A: the plain
  //    RFC 8032 equation holds; the small-order rule refuses it.
  for (let j = 0; j < 8; j++) {
    const Ab = T8[j].toBytes();
    let found: Case | undefined;
    for (let i = 0; i < 8 && !found; i++) {
      const Rb = T8[i].toBytes();
      const sig = concatBytes(Rb, new Uint8Array(32));
      try {
        const msg = searchMessage(`small A ${j} R ${i}`, (m) => T8[i].add(tmul(T8[j], k(Rb, Ab, m))).is0());
        found = { name: `small-order A (order ${order(T8[j])}, #${j}), small-order R #${i}, S = 0`, pub: Ab, msg, sig, want: { aSmallOrder: true, cofactorless: true } };
      } catch {
        // try the next R
      }
    }
    out.push(found!);
  }

  // 2. Small-order R (each of the 8) with a prime-order A, S = k·a: the equation holds
  //    exactly for the identity R (refused by the small-order rule), otherwise only the
  //    cofactored one.
  for (let i = 0; i < 8; i++) {
    const Rb = T8[i].toBytes();
    const msg = utf8(`small R ${i}`);
    const S = mod(k(Rb, A0b, msg) * a, L);
    out.push({
      name: `small-order R (order ${order(T8[i])}, #${i}), prime-order A`,
      pub: A0b,
      msg,
      sig: concatBytes(Rb, le32(S)),
      want: { rSmallOrder: true, cofactored: true, cofactorless: i === 0 },
    });
  }

  // 3. Mixed-order A = A0 + T (T ≠ 0), R = rB, S = r + k·a: the equation holds exactly
  //    iff [k]T = 0; the cofactored one always.
  for (let j = 1; j < 8; j++) {
    const A = A0.add(T8[j]);
    const Ab = A.toBytes();
    const r = nonce(`mixed A ${j}`);
    const Rb = P.BASE.multiply(r).toBytes();
    for (const holds of [true, false]) {
      const msg = searchMessage(`mixed A ${j} ${holds}`, (m) => tmul(T8[j], k(Rb, Ab, m)).is0() === holds);
      const S = mod(r + k(Rb, Ab, msg) * a, L);
      out.push({
        name: `mixed-order A (torsion of order ${order(T8[j])}), torsion ${holds ? 'cancels' : 'remains'}`,
        pub: Ab,
        msg,
        sig: concatBytes(Rb, le32(S)),
        want: { aSmallOrder: false, cofactored: true, cofactorless: holds },
      });
    }
  }

  // 4. Mixed-order R = rB + T (T ≠ 0), prime-order A: only the cofactored equation holds.
  for (let i = 1; i < 8; i++) {
    const r = nonce(`mixed R ${i}`);
    const Rb = P.BASE.multiply(r).add(T8[i]).toBytes();
    const msg = utf8(`mixed R ${i}`);
    const S = mod(r + k(Rb, A0b, msg) * a, L);
    out.push({
      name: `mixed-order R (torsion of order ${order(T8[i])}), prime-order A`,
      pub: A0b,
      msg,
      sig: concatBytes(Rb, le32(S)),
      want: { rSmallOrder: false, cofactored: true, cofactorless: false },
    });
  }

  // 5. Mixed-order A and R: A = A0 + Tj, R = rB + Ti; exact iff Ti + [k]Tj = 0.
  for (let j = 1; j < 8; j++) {
    const A = A0.add(T8[j]);
    const Ab = A.toBytes();
    for (const holds of [true, false]) {
      let made: Case | undefined;
      for (let i = 1; i < 8 && !made; i++) {
        const r = nonce(`mixed AR ${j} ${i}`);
        const Rb = P.BASE.multiply(r).add(T8[i]).toBytes();
        try {
          const msg = searchMessage(`mixed A ${j} R ${i} ${holds}`, (m) => T8[i].add(tmul(T8[j], k(Rb, Ab, m))).is0() === holds);
          const S = mod(r + k(Rb, Ab, msg) * a, L);
          made = {
            name: `mixed-order A (order ${order(T8[j])}) and R (order ${order(T8[i])}), torsion ${holds ? 'cancels' : 'remains'}`,
            pub: Ab,
            msg,
            sig: concatBytes(Rb, le32(S)),
            want: { cofactored: true, cofactorless: holds },
          };
        } catch {
          // try another torsion for R
        }
      }
      out.push(made!);
    }
  }

  // 6. Non-canonical encodings of small-order points (y ≥ p, or "x = -0"), as A with a
  //    small-order R and S = 0, and as R (identity and others) with a prime-order A.
  const nonCanonical = [
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p ≡ 0 (order 4)
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', // y = p, sign set (order 4)
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p + 1 ≡ 1 (identity)
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', // y = p + 1, x = -0
    '0100000000000000000000000000000000000000000000000000000000000080', // y = 1, x = -0 (identity)
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', // y = p - 1, x = -0 (order 2)
  ].map(fromHex);
  for (const enc of nonCanonical) {
    const X = P.fromBytes(enc, true); // ZIP-215 decoding reads these leniently
    // as A: S = 0 and R = -[k]X for some small-order R
    let madeA: Case | undefined;
    for (let i = 0; i < 8 && !madeA; i++) {
      const Rb = T8[i].toBytes();
      try {
        const msg = searchMessage(`nc A ${toHex(enc)} R ${i}`, (m) => T8[i].add(tmul(X, k(Rb, enc, m))).is0());
        madeA = { name: `non-canonical A ${toHex(enc).slice(0, 4)}…${toHex(enc).slice(-2)}, S = 0`, pub: enc, msg, sig: concatBytes(Rb, new Uint8Array(32)), want: { aCanonical: false, cofactored: true } };
      } catch {
        // next R
      }
    }
    out.push(madeA!);
    // as R, with a prime-order A and S = k·a (k over the non-canonical bytes)
    const msg = utf8(`nc R ${toHex(enc)}`);
    const S = mod(k(enc, A0b, msg) * a, L);
    out.push({
      name: `non-canonical R ${toHex(enc).slice(0, 4)}…${toHex(enc).slice(-2)}, prime-order A`,
      pub: A0b,
      msg,
      sig: concatBytes(enc, le32(S)),
      want: { rCanonical: false, cofactored: true, cofactorless: X.is0() },
    });
  }

  // 7. S ≥ L: a valid signature with S + L, S + 2L, S + 8L, and S = L, S = 2^256 - 1.
  {
    const r = nonce('big S');
    const Rb = P.BASE.multiply(r).toBytes();
    const msg = utf8('big S');
    const S = mod(r + k(Rb, A0b, msg) * a, L);
    out.push({ name: 'valid signature (S < L)', pub: A0b, msg, sig: concatBytes(Rb, le32(S)), want: { sBelowL: true, cofactorless: true } });
    for (const m of [1n, 2n, 8n]) {
      out.push({ name: `S + ${m}·L`, pub: A0b, msg, sig: concatBytes(Rb, le32(S + m * L)), want: { sBelowL: false, cofactorless: true } });
    }
    out.push({ name: 'S = L', pub: A0b, msg, sig: concatBytes(Rb, le32(L)), want: { sBelowL: false } });
    out.push({ name: 'S = 2^256 - 1', pub: A0b, msg, sig: concatBytes(Rb, new Uint8Array(32).fill(0xff)), want: { sBelowL: false } });
  }
  return out;
}

// ---------------------------------------------------------------------------------------

describe('SHA-256', () => {
  const vectors: [string, Uint8Array][] = [
    ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', new Uint8Array(0)],
    ['ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', utf8('abc')],
    ['248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1', utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')],
    ['cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0', new Uint8Array(1_000_000).fill(0x61)],
  ];
  it.each(backends)('%s agrees with the FIPS 180 examples', (_, b) => {
    for (const [hex, data] of vectors) expect(toHex(b.sha256(data))).toBe(hex);
  });

  it('sha256(...parts) hashes the concatenation, and the backends agree on random input (property)', () => {
    expect(toHex(sha256(utf8('ab'), utf8('c')))).toBe(vectors[1][0]);
    expect(toHex(sha256())).toBe(vectors[0][0]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        expect(toHex(node.sha256(data))).toBe(toHex(portableBackend.sha256(data)));
        expect(toHex(sha256(data))).toBe(toHex(portableBackend.sha256(data)));
      }),
      { numRuns: 300 },
    );
  });

  it('returns fresh output (no shared buffer between calls)', () => {
    const x = node.sha256(utf8('x'));
    const y = node.sha256(utf8('y'));
    expect(toHex(x)).not.toBe(toHex(y));
    expect(x).toHaveLength(32);
  });
});

describe('Ed25519: RFC 8032 §7.1', () => {
  const rfc = load('ed25519-rfc8032.json') as { vectors: { name: string; seed: string; pub: string; msg: string; sig: string }[] };
  it.each(rfc.vectors)('$name: both backends derive, sign byte-identically and verify', ({ seed, pub, msg, sig }) => {
    for (const [, b] of backends) {
      expect(toHex(b.ed25519PublicKey(fromHex(seed)))).toBe(pub);
      expect(toHex(b.ed25519Sign(fromHex(seed), fromHex(msg)))).toBe(sig);
      expect(verifyEd25519(fromHex(pub), fromHex(msg), fromHex(sig), b)).toBe(true);
    }
    expect(toHex(signEd25519(fromHex(seed), fromHex(msg)))).toBe(sig);
    expect(toHex(ed25519PublicKey(fromHex(seed)))).toBe(pub);
    expect(checkEd25519PublicKey(fromHex(pub))).toBeUndefined();
    checkCase(fromHex(pub), fromHex(msg), fromHex(sig));
  });
});

describe('Ed25519: "Taming the many EdDSAs" (ed25519-speccheck)', () => {
  const spec = load('ed25519-speccheck.json') as { cases: { number: number; msg: string; pub: string; sig: string; what: string; facts: Facts; expected: boolean }[] };
  it.each(spec.cases)('case $number: $what → $expected', ({ msg, pub, sig, facts: want, expected: verdict }) => {
    const f = checkCase(fromHex(pub), fromHex(msg), fromHex(sig));
    expect(f).toEqual(want);
    expect(expected(f)).toBe(verdict);
  });

  it('the backends alone are laxer, never stricter, than the facade', () => {
    // OpenSSL by itself takes small-order and "x = -0" keys (cases 0, 1 and 11 on
    // OpenSSL 3.0): the facade's key checks are what make the two backends agree.
    for (const c of spec.cases) {
      const [pub, msg, sig] = [fromHex(c.pub), fromHex(c.msg), fromHex(c.sig)];
      for (const [, b] of backends) if (verifyEd25519(pub, msg, sig, b)) expect(b.ed25519VerifyRaw(pub, msg, sig)).toBe(true);
    }
  });
});

describe('Ed25519: torsion matrix (constructed with noble Point API)', () => {
  it('T8 is the torsion subgroup, and the facade refuses exactly its 8 canonical encodings as keys', () => {
    const encodings = new Set(T8.map((t) => toHex(t.toBytes())));
    expect(encodings.size).toBe(8);
    expect(T8.map(order).sort()).toEqual([1, 2, 4, 4, 8, 8, 8, 8]);
    for (const t of T8) {
      expect(t.multiply(8n, false).is0()).toBe(true);
      expect(checkEd25519PublicKey(t.toBytes())).toBe('public key has small order');
    }
    // A point with a torsion component is not small order: accepted as a key.
    expect(checkEd25519PublicKey(A0.add(T8[1]).toBytes())).toBeUndefined();
  });

  const cases = torsionMatrix();
  it('builds the intended cases', () => {
    expect(cases.length).toBe(8 + 8 + 14 + 7 + 14 + 12 + 6);
    for (const c of cases) expect({ name: c.name, ...facts(c.pub, c.msg, c.sig) }).toMatchObject({ name: c.name, ...c.want });
  });
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    checkCase(c.pub, c.msg, c.sig);
  });

  it('accepts mixed-order A and R when the equation holds exactly, and nothing of small order', () => {
    // The rules refuse small-order points, not points with a torsion component.
    const accepted = cases.filter((c) => expected(facts(c.pub, c.msg, c.sig))).map((c) => c.name);
    // The identity R satisfies the equation exactly, and is refused for its small order.
    const identityR = cases.find((c) => c.name === 'small-order R (order 1, #0), prime-order A')!;
    expect(facts(identityR.pub, identityR.msg, identityR.sig)).toMatchObject({ cofactorless: true, rSmallOrder: true });
    expect(accepted).not.toContain(identityR.name);
    expect(accepted.some((n) => n.startsWith('mixed-order A (torsion of order 8), torsion cancels'))).toBe(true);
    expect(accepted.some((n) => /^mixed-order A \(order \d\) and R \(order \d\), torsion cancels/.test(n))).toBe(true);
    expect(accepted).toContain('valid signature (S < L)');
  });
});

describe('Ed25519: public keys', () => {
  it('refuses non-canonical encodings: y = p … p + 18 (either sign) and "x = -0"', () => {
    for (let e = 0n; e < 19n; e++) {
      const y = le32(p + e);
      expect(checkEd25519PublicKey(y)).toBe('public key encoding is not canonical');
      y[31] |= 0x80;
      expect(checkEd25519PublicKey(y)).toBe('public key encoding is not canonical');
    }
    expect(checkEd25519PublicKey(fromHex('0100000000000000000000000000000000000000000000000000000000000080'))).toBe('public key encoding is not canonical');
    expect(checkEd25519PublicKey(fromHex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'))).toBe('public key encoding is not canonical');
    // y = p - 1 without the sign bit is canonical (and the point of order 2).
    expect(checkEd25519PublicKey(fromHex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'))).toBe('public key has small order');
    // The largest canonical y, p - 1, and y = p - 2 (not on the curve or not): never "not canonical".
    expect(checkEd25519PublicKey(le32(p - 2n))).not.toBe('public key encoding is not canonical');
  });

  it('refuses wrong lengths and points off the curve', () => {
    expect(checkEd25519PublicKey(new Uint8Array(31))).toBe('public key is not 32 bytes');
    expect(checkEd25519PublicKey(new Uint8Array(33))).toBe('public key is not 32 bytes');
    let offCurve = 2n;
    while (decompress(le32(offCurve)) !== undefined) offCurve++;
    expect(checkEd25519PublicKey(le32(offCurve))).toBe('public key is not a curve point');
  });

  it('agrees with the reference on random 32-byte strings (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
        const A = decompress(b);
        const ok = A !== undefined && !isSmallOrder(A);
        expect(checkEd25519PublicKey(b) === undefined).toBe(ok);
      }),
      { numRuns: 300 },
    );
  });
});

describe('Ed25519: random keys, messages and single-bit corruptions (property)', () => {
  it('both backends sign identically, accept the signature, and agree on every one-bit corruption', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom('pub', 'msg', 'sig'),
        fc.nat(),
        (seed, msg, where, bit) => {
          const pub = node.ed25519PublicKey(seed);
          expect(toHex(portableBackend.ed25519PublicKey(seed))).toBe(toHex(pub));
          const sig = node.ed25519Sign(seed, msg);
          expect(toHex(portableBackend.ed25519Sign(seed, msg))).toBe(toHex(sig));
          expect(verdicts(pub, msg, sig)).toEqual({ node: true, noble: true });
          const target = where === 'pub' ? pub.slice() : where === 'sig' ? sig.slice() : msg.slice();
          if (target.length === 0) return;
          const i = bit % (8 * target.length);
          target[i >> 3] ^= 1 << (i & 7);
          const [p2, m2, s2] = where === 'pub' ? [target, msg, sig] : where === 'sig' ? [pub, msg, target] : [pub, target, sig];
          const v = verdicts(p2, m2, s2);
          expect(v.node).toBe(v.noble);
          expect(v.node).toBe(false);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('agrees with the reference when the corruption lands in the top bits of S or in R (property)', () => {
    // Flipping high bits of S produces S ≥ L; flipping R's sign bit produces "x = -0" or
    // another point: the reference decides each.
    const seed = fromHex('00'.repeat(31) + '07');
    const pub = ed25519PublicKey(seed);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 248, max: 511 }), (msg, bit) => {
        const sig = signEd25519(seed, msg);
        const byte = bit < 256 ? 31 : 63;
        sig[byte] ^= 1 << (bit & 7);
        checkCase(pub, msg, sig);
      }),
      { numRuns: 40 },
    );
  });

  it('returns false (never throws) for wrong lengths', () => {
    const seed = randomBytes(32);
    const pub = ed25519PublicKey(seed);
    const sig = signEd25519(seed, utf8('m'));
    for (const [, b] of backends) {
      expect(verifyEd25519(pub.subarray(0, 31), utf8('m'), sig, b)).toBe(false);
      expect(verifyEd25519(pub, utf8('m'), sig.subarray(0, 63), b)).toBe(false);
      expect(verifyEd25519(pub, utf8('m'), concatBytes(sig, new Uint8Array(1)), b)).toBe(false);
      expect(verifyEd25519(new Uint8Array(32), utf8('m'), new Uint8Array(64), b)).toBe(false);
    }
    expect(() => signEd25519(new Uint8Array(31), utf8('m'))).toThrow(RangeError);
    expect(() => ed25519PublicKey(new Uint8Array(33))).toThrow(RangeError);
  });
});

describe('randomBytes', () => {
  it('returns n fresh bytes', () => {
    expect(randomBytes(0)).toHaveLength(0);
    const x = randomBytes(32);
    expect(x).toHaveLength(32);
    expect(toHex(x)).not.toBe(toHex(randomBytes(32)));
    const big = randomBytes(200_000); // beyond getRandomValues' 65,536-byte limit
    expect(big).toHaveLength(200_000);
    expect(big.subarray(150_000).some((b) => b !== 0)).toBe(true);
  });
});
