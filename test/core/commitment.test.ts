/**
 * Tests of src/core/commitment.ts (spec §5.8).
 *
 * Vectors (test/vectors/), computed once by an independent Python implementation
 * (hand-written RFC 8949 §4.2.1 encoder, hashlib), not by src/core:
 *  - commitment-claims.json: claims of every value kind (text, Hangul, integers at the
 *    head boundaries and ±(2^53 − 1), bytes, booleans, null, nested arrays and maps with
 *    keys to sort, a 64-byte name), with their CBOR, digests and the commitment;
 *  - commitment-household.json: the mask-purchase example, a resident registration copy
 *    (주민등록등본) of a fictional household, and the disclosure of the child's birth date
 *    and relation.
 * Negative cases: every way a disclosure can fail (changed value or salt, dropped, added
 * or duplicated digest, foreign claim, wrong commitment) and every strict-decoding rule.
 * Properties: any subset of any document verifies in any digest order; decodeDisclosure
 * throws only LedgerErrors and what it accepts re-encodes identically.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  claimDigest,
  commitDocument,
  commitmentOf,
  decodeDisclosure,
  disclose,
  encodeDisclosure,
  newClaim,
  verifyDisclosure,
  type Claim,
  type Disclosure,
} from '../../src/core/commitment.js';
import { encodeCbor, type CborValue } from '../../src/core/cbor.js';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/bytes.js';
import { sha256 } from '../../src/core/crypto.js';
import { LedgerError } from '../../src/core/errors.js';
import { encodeEvent, parseEvent, verifyEventSignature, type CertIssue } from '../../src/core/events.js';
import { ed25519PublicKey } from '../../src/core/crypto.js';
import { code, fromJson, vectorText, type Json } from '../helpers/vectors.js';

interface VectorClaim {
  salt: string;
  name: string;
  value: Json;
  cbor: string;
  digest: string;
}
const claimsVector = JSON.parse(vectorText('commitment-claims.json')) as {
  claims: VectorClaim[];
  sortedDigestsCbor: string;
  commitment: string;
  emptyCommitment: string;
  singleCommitment: { claim: string; commitment: string };
};
const household = JSON.parse(vectorText('commitment-household.json')) as {
  docType: string;
  claims: VectorClaim[];
  commitment: string;
  disclosed: string[];
  disclosure: string;
};

const toClaim = (v: VectorClaim): Claim => [fromHex(v.salt), v.name, fromJson(v.value)];
const salt = (b: number) => new Uint8Array(16).fill(b);
const sortHex = (ds: Uint8Array[]) => ds.map(toHex).sort();

describe('known answers (independent implementation)', () => {
  const claims = claimsVector.claims.map(toClaim);

  it('claim CBOR and digests', () => {
    for (let i = 0; i < claims.length; i++) {
      const c = claims[i];
      const v = claimsVector.claims[i];
      expect([v.name, toHex(encodeCbor([c[0], c[1], c[2]]))]).toEqual([v.name, v.cbor]);
      expect([v.name, toHex(claimDigest(c))]).toEqual([v.name, v.digest]);
      expect(toHex(claimDigest(c))).toBe(toHex(sha256(utf8('dojang/v1/claim\n'), fromHex(v.cbor))));
    }
  });

  it('the commitment of the document, of one claim and of none', () => {
    const { commitment, digests } = commitDocument(claims);
    expect(toHex(commitment)).toBe(claimsVector.commitment);
    expect(digests.map(toHex)).toEqual(claimsVector.claims.map((c) => c.digest));
    expect(toHex(encodeCbor([...digests].sort((a, b) => (toHex(a) < toHex(b) ? -1 : 1))))).toBe(claimsVector.sortedDigestsCbor);
    expect(toHex(commitment)).toBe(toHex(sha256(utf8('dojang/v1/commitment\n'), fromHex(claimsVector.sortedDigestsCbor))));
    expect(toHex(commitmentOf([claimDigest(claims[0])]))).toBe(claimsVector.singleCommitment.commitment);
    expect(toHex(commitmentOf([]))).toBe(claimsVector.emptyCommitment);
    expect(toHex(commitDocument([]).commitment)).toBe(claimsVector.emptyCommitment);
  });

  it('map values hash the same whatever the insertion order of their keys', () => {
    const nested = claims.find((c) => c[1] === 'nested')!;
    const v = nested[2] as { [k: string]: CborValue };
    const reordered: { [k: string]: CborValue } = {};
    for (const k of Object.keys(v).reverse()) reordered[k] = v[k];
    expect(toHex(claimDigest([nested[0], nested[1], reordered]))).toBe(toHex(claimDigest(nested)));
  });

  it('the household commitment', () => {
    const { commitment } = commitDocument(household.claims.map(toClaim));
    expect(toHex(commitment)).toBe(household.commitment);
  });
});

describe('commitmentOf', () => {
  const ds = Array.from({ length: 6 }, (_, i) => sha256(Uint8Array.of(i)));

  it('does not depend on the order of the digests, and leaves its input alone', () => {
    const before = ds.map(toHex);
    const c = commitmentOf(ds);
    expect(ds.map(toHex)).toEqual(before);
    expect(toHex(commitmentOf([...ds].reverse()))).toBe(toHex(c));
    expect(toHex(commitmentOf([ds[3], ds[0], ds[5], ds[1], ds[4], ds[2]]))).toBe(toHex(c));
  });

  it('sorts bytewise (not by length, not as numbers)', () => {
    const a = new Uint8Array(32).fill(0xff);
    a[0] = 0x01;
    const b = new Uint8Array(32);
    b[0] = 0x02;
    const expected = sha256(utf8('dojang/v1/commitment\n'), encodeCbor([a, b]));
    expect(toHex(commitmentOf([b, a]))).toBe(toHex(expected));
  });

  it('refuses a digest that is not 32 bytes or given twice (RangeError)', () => {
    expect(code(() => commitmentOf([new Uint8Array(31)]))).toBe('RangeError');
    expect(code(() => commitmentOf([new Uint8Array(33)]))).toBe('RangeError');
    expect(code(() => commitmentOf([ds[0], ds[1], ds[0]]))).toBe('RangeError');
    expect(code(() => commitmentOf(['x' as unknown as Uint8Array]))).toBe('RangeError');
  });
});

describe('claims', () => {
  it('newClaim draws a fresh 16-byte salt', () => {
    const a = newClaim('n', 1);
    const b = newClaim('n', 1);
    expect(a[0].length).toBe(16);
    expect(toHex(a[0])).not.toBe(toHex(b[0]));
    expect(toHex(claimDigest(a))).not.toBe(toHex(claimDigest(b)));
    expect([a[1], a[2]]).toEqual(['n', 1]);
  });

  it('names are non-empty text of at most 64 UTF-8 bytes', () => {
    expect(code(() => newClaim('', 1))).toBe('RangeError');
    expect(code(() => newClaim('n'.repeat(64), 1))).toBe('OK');
    expect(code(() => newClaim('n'.repeat(65), 1))).toBe('RangeError');
    expect(code(() => newClaim('관'.repeat(21) + 'x', 1))).toBe('OK'); // 64 bytes
    expect(code(() => newClaim('관'.repeat(22), 1))).toBe('RangeError'); // 66 bytes, 22 characters
    expect(code(() => newClaim('\ud800', 1))).toBe('RangeError');
    expect(code(() => newClaim(1 as unknown as string, 1))).toBe('RangeError');
  });

  it('values outside the data model of spec §5.1 are refused', () => {
    expect(code(() => newClaim('n', 1.5))).toBe('RangeError');
    expect(code(() => newClaim('n', undefined as unknown as CborValue))).toBe('TypeError');
    expect(code(() => claimDigest([salt(1), 'n', 2 ** 53]))).toBe('RangeError');
  });

  it('claimDigest refuses salts of other lengths and bad shapes', () => {
    for (const n of [0, 15, 17, 32]) expect(code(() => claimDigest([new Uint8Array(n), 'n', 1]))).toBe('RangeError');
    expect(code(() => claimDigest([salt(1), 'n'] as unknown as Claim))).toBe('RangeError');
    expect(code(() => claimDigest([salt(1), '', 1]))).toBe('RangeError');
  });

  it('commitDocument refuses two claims with one name, and one claim twice', () => {
    expect(code(() => commitDocument([[salt(1), 'a', 1], [salt(2), 'a', 2]]))).toBe('RangeError');
    const c: Claim = [salt(1), 'a', 1];
    expect(code(() => commitDocument([c, c]))).toBe('RangeError');
  });

  it('the digest depends on salt, name and value', () => {
    const base = claimDigest([salt(1), 'a', 1]);
    expect(toHex(claimDigest([salt(2), 'a', 1]))).not.toBe(toHex(base));
    expect(toHex(claimDigest([salt(1), 'b', 1]))).not.toBe(toHex(base));
    expect(toHex(claimDigest([salt(1), 'a', 2]))).not.toBe(toHex(base));
    expect(toHex(claimDigest([salt(1), 'a', '1']))).not.toBe(toHex(base));
  });
});

describe('selective disclosure', () => {
  const doc: Claim[] = [
    [salt(1), 'name', '홍길동'],
    [salt(2), 'birthDate', '2012-07-21'],
    [salt(3), 'relation', '자녀'],
    [salt(4), 'address', '서울특별시 종로구'],
    [salt(5), 'scores', [1, 2, 3]],
  ];
  const { commitment, digests } = commitDocument(doc);
  const d = (claims: Claim[], ds: Uint8Array[] = digests): Disclosure => ({ claims, digests: ds });

  it('every subset verifies and reveals exactly the disclosed claims', () => {
    for (let mask = 0; mask < 1 << doc.length; mask++) {
      const picked = doc.filter((_, i) => mask & (1 << i));
      const out = verifyDisclosure(d(picked), commitment);
      expect(out).toEqual(Object.fromEntries(picked.map((c) => [c[1], c[2]])));
      expect(verifyDisclosure(disclose(doc, picked.map((c) => c[1])), commitment)).toEqual(out);
    }
  });

  it('a digest list in another order still verifies (sorting is part of the commitment)', () => {
    expect(verifyDisclosure(d([doc[1]], [...digests].reverse()), commitment)).toEqual({ birthDate: '2012-07-21' });
    expect(verifyDisclosure(d([doc[1]], [digests[2], digests[4], digests[0], digests[1], digests[3]]), commitment)).toEqual({ birthDate: '2012-07-21' });
  });

  it('a changed value or salt is INVALID_PROOF', () => {
    expect(code(() => verifyDisclosure(d([[salt(2), 'birthDate', '2010-07-21']]), commitment))).toBe('INVALID_PROOF');
    expect(code(() => verifyDisclosure(d([[salt(2), 'birthDate', ['2012-07-21']]]), commitment))).toBe('INVALID_PROOF');
    expect(code(() => verifyDisclosure(d([[salt(9), 'birthDate', '2012-07-21']]), commitment))).toBe('INVALID_PROOF');
    expect(code(() => verifyDisclosure(d([[salt(2), 'birthdate', '2012-07-21']]), commitment))).toBe('INVALID_PROOF'); // renamed
    const flipped = salt(2);
    flipped[15] ^= 1;
    expect(code(() => verifyDisclosure(d([[flipped, 'birthDate', '2012-07-21']]), commitment))).toBe('INVALID_PROOF');
  });

  it('a dropped digest is INVALID_PROOF (its own claim, or an undisclosed one)', () => {
    for (let i = 0; i < digests.length; i++) {
      const fewer = digests.filter((_, j) => j !== i);
      expect(code(() => verifyDisclosure(d([doc[1]], fewer), commitment))).toBe('INVALID_PROOF');
    }
    expect(code(() => verifyDisclosure(d([], []), commitment))).toBe('INVALID_PROOF');
  });

  it('an added or duplicated digest is INVALID_PROOF', () => {
    expect(code(() => verifyDisclosure(d([doc[1]], [...digests, sha256(utf8('decoy'))]), commitment))).toBe('INVALID_PROOF');
    expect(code(() => verifyDisclosure(d([doc[1]], [...digests, digests[1]]), commitment))).toBe('INVALID_PROOF');
    expect(code(() => verifyDisclosure(d([doc[1]], [...digests, digests[0]]), commitment))).toBe('INVALID_PROOF');
  });

  it('a claim of another document is INVALID_PROOF, even with its digest in place of another', () => {
    const foreign: Claim = [salt(7), 'relation', '본인'];
    expect(code(() => verifyDisclosure(d([foreign]), commitment))).toBe('INVALID_PROOF');
    const swapped = digests.map((g, i) => (i === 2 ? claimDigest(foreign) : g));
    expect(code(() => verifyDisclosure(d([foreign], swapped), commitment))).toBe('INVALID_PROOF');
  });

  it('another commitment is INVALID_PROOF; a commitment that is not 32 bytes is a RangeError', () => {
    const other = commitment.slice();
    other[0] ^= 1;
    expect(code(() => verifyDisclosure(d([doc[0]]), other))).toBe('INVALID_PROOF');
    expect(code(() => verifyDisclosure(d([doc[0]]), commitment.subarray(1)))).toBe('RangeError');
  });

  it('a badly shaped disclosure is MALFORMED', () => {
    expect(code(() => verifyDisclosure(d([doc[1], doc[1]]), commitment))).toBe('MALFORMED'); // a name twice
    expect(code(() => verifyDisclosure(d([doc[1], [salt(8), 'birthDate', 'x']]), commitment))).toBe('MALFORMED');
    expect(code(() => verifyDisclosure(d([[new Uint8Array(15), 'birthDate', '2012-07-21']]), commitment))).toBe('MALFORMED');
    expect(code(() => verifyDisclosure(d([[salt(2), '', 1]]), commitment))).toBe('MALFORMED');
    expect(code(() => verifyDisclosure(d([[salt(2), 'x', 1.5]]), commitment))).toBe('MALFORMED');
    expect(code(() => verifyDisclosure(d([[salt(2), 'x'] as unknown as Claim]), commitment))).toBe('MALFORMED');
    expect(code(() => verifyDisclosure(d([doc[1]], [...digests, new Uint8Array(31)]), commitment))).toBe('MALFORMED');
    expect(code(() => verifyDisclosure({ claims: [doc[1]] } as unknown as Disclosure, commitment))).toBe('MALFORMED');
    expect(code(() => verifyDisclosure(null as unknown as Disclosure, commitment))).toBe('MALFORMED');
  });

  it('a claim named __proto__ is an own property of the result', () => {
    const claims: Claim[] = [[salt(1), '__proto__', { polluted: true }], [salt(2), 'constructor', 1]];
    const c = commitDocument(claims);
    const out = verifyDisclosure({ claims, digests: c.digests }, c.commitment);
    expect(Object.keys(out).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('disclose refuses a name the document does not have', () => {
    expect(code(() => disclose(doc, ['nickname']))).toBe('RangeError');
  });

  it('property: any subset of any document verifies, in any digest order', () => {
    const arbValue = fc.oneof(fc.string(), fc.integer(), fc.uint8Array({ maxLength: 8 }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));
    const arbName = fc.string({ minLength: 1, maxLength: 16 }).filter((s) => utf8(s).length <= 64);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(arbName, arbValue, fc.uint8Array({ minLength: 16, maxLength: 16 })), { selector: (t) => t[0], maxLength: 10 }),
        fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
        fc.infiniteStream(fc.nat()),
        (entries, pick, rnd) => {
          const claims: Claim[] = entries.map(([n, v, s]) => [s, n, v]);
          const c = commitDocument(claims);
          const picked = claims.filter((_, i) => pick[i]);
          const shuffled = c.digests.map((g) => [rnd.next().value, g] as const).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
          const out = verifyDisclosure({ claims: picked, digests: shuffled }, c.commitment);
          expect(Object.keys(out).length).toBe(picked.length);
          const back = decodeDisclosure(encodeDisclosure({ claims: picked, digests: shuffled }));
          expect(verifyDisclosure(back, c.commitment)).toEqual(out);
          if (picked.length > 0) {
            const changed: Claim[] = picked.map((x, i) => (i === 0 ? [x[0], x[1], { changed: x[2] }] : x));
            expect(code(() => verifyDisclosure({ claims: changed, digests: shuffled }, c.commitment))).toBe('INVALID_PROOF');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('encodeDisclosure / decodeDisclosure', () => {
  const doc: Claim[] = [
    [salt(1), 'b', 2],
    [salt(2), 'a', 1],
    [salt(3), 'aa', 3],
    [salt(4), '가', 4],
  ];
  const { digests } = commitDocument(doc);
  const sorted = [...digests].sort((x, y) => (toHex(x) < toHex(y) ? -1 : 1));

  it('writes claims by name (UTF-8 bytes) and digests ascending, whatever the input order', () => {
    const bytes = encodeDisclosure({ claims: doc, digests });
    const back = decodeDisclosure(bytes);
    expect(back.claims.map((c) => c[1])).toEqual(['a', 'aa', 'b', '가']);
    expect(back.digests.map(toHex)).toEqual(sorted.map(toHex));
    expect(toHex(encodeDisclosure({ claims: [...doc].reverse(), digests: [...digests].reverse() }))).toBe(toHex(bytes));
    expect(toHex(encodeDisclosure(back))).toBe(toHex(bytes));
    expect(toHex(bytes)).toBe(toHex(encodeCbor({ claims: back.claims.map((c) => [c[0], c[1], c[2]]), digests: sorted })));
  });

  it('an empty disclosure round-trips', () => {
    const bytes = encodeDisclosure({ claims: [], digests: [] });
    expect(toHex(bytes)).toBe('a266636c61696d73806764696765737473' + '80'); // {"claims": [], "digests": []}
    expect(decodeDisclosure(bytes)).toEqual({ claims: [], digests: [] });
  });

  it('encodeDisclosure refuses what decodeDisclosure would (RangeError)', () => {
    expect(code(() => encodeDisclosure({ claims: [doc[0], doc[0]], digests }))).toBe('RangeError');
    expect(code(() => encodeDisclosure({ claims: [[salt(1), '', 1]], digests }))).toBe('RangeError');
    expect(code(() => encodeDisclosure({ claims: [[new Uint8Array(17), 'a', 1]], digests }))).toBe('RangeError');
    expect(code(() => encodeDisclosure({ claims: [], digests: [digests[0], digests[0]] }))).toBe('RangeError');
    expect(code(() => encodeDisclosure({ claims: [], digests: [new Uint8Array(33)] }))).toBe('RangeError');
  });

  const raw = (v: CborValue) => code(() => decodeDisclosure(encodeCbor(v)));
  const claimRaw = (c: Claim): CborValue => [c[0], c[1], c[2]];

  it('decodeDisclosure: strict order is NON_CANONICAL', () => {
    expect(raw({ claims: [claimRaw(doc[0]), claimRaw(doc[1])], digests: sorted })).toBe('NON_CANONICAL'); // b before a
    expect(raw({ claims: [claimRaw(doc[0]), claimRaw(doc[2])], digests: sorted })).toBe('NON_CANONICAL'); // b before aa
    expect(raw({ claims: [claimRaw(doc[3]), claimRaw(doc[0])], digests: sorted })).toBe('NON_CANONICAL'); // 가 before b
    expect(raw({ claims: [], digests: [...sorted].reverse() })).toBe('NON_CANONICAL');
    // non-canonical CBOR underneath
    const bytes = encodeDisclosure({ claims: [doc[1]], digests });
    const longHead = concatBytes(bytes.subarray(0, 1), Uint8Array.of(0x78, 6), bytes.subarray(2));
    expect(toHex(bytes.subarray(1, 2))).toBe('66'); // "claims"
    expect(code(() => decodeDisclosure(longHead))).toBe('NON_CANONICAL');
  });

  it('decodeDisclosure: bad shapes are MALFORMED', () => {
    const cases: [string, CborValue][] = [
      ['not a map', [[], []]],
      ['a missing key', { claims: [] }],
      ['an extra key', { claims: [], digests: [], v: 1 }],
      ['claims not an array', { claims: {}, digests: [] }],
      ['digests not an array', { claims: [], digests: new Uint8Array(32) }],
      ['a claim of two items', { claims: [[salt(1), 'a']], digests: [] }],
      ['a claim of four items', { claims: [[salt(1), 'a', 1, 2]], digests: [] }],
      ['a claim that is a map', { claims: [{ salt: salt(1), name: 'a', value: 1 }], digests: [] }],
      ['a 15-byte salt', { claims: [[new Uint8Array(15), 'a', 1]], digests: [] }],
      ['a 17-byte salt', { claims: [[new Uint8Array(17), 'a', 1]], digests: [] }],
      ['a text salt', { claims: [['0123456789abcdef', 'a', 1]], digests: [] }],
      ['an empty name', { claims: [[salt(1), '', 1]], digests: [] }],
      ['a 65-byte name', { claims: [[salt(1), 'n'.repeat(65), 1]], digests: [] }],
      ['a name that is bytes', { claims: [[salt(1), utf8('a'), 1]], digests: [] }],
      ['a name twice', { claims: [[salt(1), 'a', 1], [salt(2), 'a', 2]], digests: [] }],
      ['a 31-byte digest', { claims: [], digests: [new Uint8Array(31)] }],
      ['a 33-byte digest', { claims: [], digests: [new Uint8Array(33)] }],
      ['a text digest', { claims: [], digests: ['x'] }],
      ['a digest twice', { claims: [], digests: [sorted[0], sorted[0]] }],
      ['a digest twice, apart and out of order', { claims: [], digests: [sorted[1], sorted[0], sorted[1]] }],
    ];
    for (const [why, v] of cases) expect([why, raw(v)]).toEqual([why, 'MALFORMED']);
    expect(code(() => decodeDisclosure(new Uint8Array(0)))).toBe('MALFORMED');
    expect(code(() => decodeDisclosure(Uint8Array.of(0xf9, 0, 0)))).toBe('MALFORMED');
  });

  it('decodeDisclosure: TOO_LARGE above the limit', () => {
    const big = encodeDisclosure({ claims: [[salt(1), 'photo', new Uint8Array(70000)]], digests: [] });
    expect(code(() => decodeDisclosure(big))).toBe('TOO_LARGE');
    expect(decodeDisclosure(big, { maxBytes: 1 << 20 }).claims[0][1]).toBe('photo');
    const small = encodeDisclosure({ claims: [doc[1]], digests });
    expect(code(() => decodeDisclosure(small, { maxBytes: small.length - 1 }))).toBe('TOO_LARGE');
  });

  it('property: only LedgerErrors on random and mutated bytes; what is accepted re-encodes identically', () => {
    const base = encodeDisclosure({ claims: doc, digests });
    const check = (b: Uint8Array) => {
      let d: Disclosure;
      try {
        d = decodeDisclosure(b);
      } catch (e) {
        if (!(e instanceof LedgerError)) throw e;
        expect(['MALFORMED', 'NON_CANONICAL', 'TOO_LARGE']).toContain(e.code);
        return;
      }
      expect(toHex(encodeDisclosure(d))).toBe(toHex(b));
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => check(b)), { numRuns: 2000 });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 3 }), (muts) => {
        let b: Uint8Array = base.slice();
        for (const [at0, byte, op] of muts) {
          const at = at0 % b.length;
          if (op === 'set') b[at] = byte;
          else if (op === 'insert') b = concatBytes(b.subarray(0, at), Uint8Array.of(byte), b.subarray(at));
          else b = concatBytes(b.subarray(0, at), b.subarray(at + 1));
          if (b.length === 0) break;
        }
        check(b);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('the mask-purchase example (a resident registration copy)', () => {
  // 2020: a parent buying masks for a child at a pharmacy shows the household's resident
  // registration copy to prove the child's birth year and the relation. With dojang the
  // pharmacy needs only two claims of the committed document; nothing else leaves the
  // wallet, and the ledger never saw any of it.
  const claims = household.claims.map(toClaim);
  const issuerSeed = new Uint8Array(32).fill(2);
  const holderSeed = new Uint8Array(32).fill(3);

  it('the issuer commits, the holder discloses the child’s birth date and relation, the pharmacy verifies', () => {
    const { commitment } = commitDocument(claims);
    const issue: CertIssue = {
      type: 'cert.issue',
      id: new Uint8Array(16).fill(0x11),
      docType: household.docType,
      issuer: ed25519PublicKey(issuerSeed),
      holder: ed25519PublicKey(holderSeed),
      commitment,
      issuedAt: 1767225600,
      validUntil: 1767225600 + 90 * 86400,
      time: 1767225600,
    };
    const entry = encodeEvent(issue, issuerSeed);
    // No personal data on the ledger: none of the values appears in the entry.
    for (const c of claims) expect(toHex(entry)).not.toContain(toHex(encodeCbor(c[2])));

    // The holder's wallet: the two claims and every digest.
    const disclosure = disclose(claims, household.disclosed);
    const bytes = encodeDisclosure(disclosure);
    expect(toHex(bytes)).toBe(household.disclosure);

    // The pharmacy: the entry (proved in the log elsewhere) and the disclosure bytes.
    const p = parseEvent(entry);
    verifyEventSignature(p, p.signer as Uint8Array);
    const out = verifyDisclosure(decodeDisclosure(bytes), (p.event as CertIssue).commitment);
    expect(out).toEqual({ 'member.3.birthDate': '2012-07-21', 'member.3.relation': '자녀' });
    expect(Number((out['member.3.birthDate'] as string).slice(0, 4))).toBeGreaterThanOrEqual(2010);
  });

  it('the disclosure reveals nothing else: no other name, value or salt is in its bytes', () => {
    const bytes = toHex(fromHex(household.disclosure));
    for (const c of claims) {
      const shown = household.disclosed.includes(c[1]);
      for (const part of [c[0], utf8(c[1]), encodeCbor(c[2])]) {
        if (!shown) expect([c[1], bytes.includes(toHex(part))]).toEqual([c[1], false]);
      }
    }
    // The address, the parents' names and every resident number stay hidden; the
    // child's birth date appears once, as its own claim.
    const text = new TextDecoder().decode(fromHex(household.disclosure));
    for (const secret of ['서울특별시', '김민준', '이서연', '김하은', '800517', '821102', '120721', '본인', '배우자']) expect(text).not.toContain(secret);
    expect(text.split('2012-07-21').length).toBe(2);
  });

  it('a tampered disclosure fails: another birth year, another relation, a missing digest', () => {
    const { commitment } = commitDocument(claims);
    const d = decodeDisclosure(fromHex(household.disclosure));
    const older = { claims: d.claims.map((c): Claim => (c[1] === 'member.3.birthDate' ? [c[0], c[1], '2008-07-21'] : c)), digests: d.digests };
    expect(code(() => verifyDisclosure(older, commitment))).toBe('INVALID_PROOF');
    const parent = { claims: d.claims.map((c): Claim => (c[1] === 'member.3.relation' ? [c[0], c[1], '본인'] : c)), digests: d.digests };
    expect(code(() => verifyDisclosure(parent, commitment))).toBe('INVALID_PROOF');
    expect(code(() => verifyDisclosure({ claims: d.claims, digests: d.digests.slice(1) }, commitment))).toBe('INVALID_PROOF');
    // The holder may disclose more claims of the same document; a claim of another
    // document cannot be slipped in.
    const mine = claims.find((c) => c[1] === 'member.1.relation')!;
    expect(verifyDisclosure({ claims: [...d.claims, mine], digests: d.digests }, commitment)['member.1.relation']).toBe('본인');
    const foreign: Claim = [new Uint8Array(16).fill(5), 'member.4.relation', '자녀'];
    expect(code(() => verifyDisclosure({ claims: [...d.claims, foreign], digests: d.digests }, commitment))).toBe('INVALID_PROOF');
  });
});
