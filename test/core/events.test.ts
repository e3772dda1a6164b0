/**
 * Tests of src/core/events.ts (spec §5.2, §5.7).
 *
 * Vectors: one entry of each of the eight certificate event types, made once by an
 * independent Python implementation (hand-written RFC 8949 §4.2.1 encoder, hashlib, the
 * `cryptography` package's Ed25519) from fixed seeds 01…01 (root: signs doctype.register
 * and issuer.*), 02…02 (issuer: signs cert.issue and, as `revoker`, cert.revoke), 03…03
 * (holder: signs cert.transfer) and pinned below; the issuer.succeed successor is the key
 * of seed 04…04, the cert.issue commitment is the household of commitment-household.json
 * and the transfer's recipient is the commitment to the key of seed 07…07.
 * Negative cases: every body rule of §5.7 broken one at a time, for every type; the
 * precedence of the codes; signatures over another type's domain. Properties: random
 * valid events round-trip; parseEvent throws only LedgerErrors on random and mutated
 * bytes, and anything it accepts re-encodes identically.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  encodeEvent,
  encodeParsedEvent,
  EVENT_TYPES,
  eventBody,
  isDocType,
  isEventType,
  MAX_CLOCK_SKEW_S,
  MAX_VALIDITY_S,
  newCertId,
  newNonce,
  newSalt,
  parseEvent,
  recipientCommitment,
  verifyEventSignature,
  type CertEvent,
  type EventType,
  type ParsedEvent,
} from '../../src/core/events.js';
import { decodeEntry, encodeEntry, signEntry, signingInput, type CborMap } from '../../src/core/entry.js';
import { encodeCbor, type CborValue } from '../../src/core/cbor.js';
import { concatBytes, fromHex, toHex, utf8 } from '../../src/core/bytes.js';
import { cryptoBackend, ed25519PublicKey, portableBackend, sha256, signEd25519, type CryptoBackend } from '../../src/core/crypto.js';
import { leafHash } from '../../src/core/merkle.js';
import { LedgerError } from '../../src/core/errors.js';
import { code, SMALL_ORDER_KEYS_HEX } from '../helpers/vectors.js';

const backends: [string, CryptoBackend][] = [
  ['node:crypto', cryptoBackend()],
  ['noble', portableBackend],
];

const seed = (b: number) => new Uint8Array(32).fill(b);
const ROOT = seed(1);
const ISSUER = seed(2);
const HOLDER = seed(3);
const ROOT_PUB = fromHex('8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c');
const ISSUER_PUB = fromHex('8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394');
const HOLDER_PUB = fromHex('ed4928c628d1c2c6eae90338905995612959273a5c63f93636c14614ac8737d1');
const SUCCESSOR = seed(4);
const SUCCESSOR_PUB = fromHex('ca93ac1705187071d67b83c7ff0efe8108e8ec4530575d7726879333dbdabe7c');
const T = 1767225600; // 2026-01-01T00:00:00Z

// Made by the Python implementation (see the header).
const KAT: Record<EventType, string> = {
  'doctype.register':
    'a461760163736967584057966e8ec46478b1fb6e907370a50c1bd6503ef4b74d4fe0f6d2aaea96fa6df84cda9cd0be0152a77d31a52ac2b228cc38c538efec551bb398029d99a78b130664626f6479a36474696d651a6955b88867646f635479706578216b722e676f762e7265736964656e742d726567697374726174696f6e2e636f70796b6d617856616c69646974791a0076a700647479706570646f63747970652e7265676973746572',
  'issuer.register':
    'a46176016373696758400f64fe1e2e1827a04e4c4a858c142bdec8f6d4c73013e566001b71d362fb1a99d8f31bda3a156a1ce50652cfe83fe2c454502cd07ea2cecd7823fc80c4f0390064626f6479a4646e616d65781ceca285eba19ceab5acecb2ad20ebafbcec9b90ec97aceab68ceab3bc6474696d651a6955b8c46669737375657258208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b39468646f63547970657382781b6b722e676f762e66616d696c792d72656c6174696f6e2e6365727478216b722e676f762e7265736964656e742d726567697374726174696f6e2e636f707964747970656f6973737565722e7265676973746572',
  'issuer.retire':
    'a4617601637369675840aa6045e1fc456db5b8e4d85ad9e301ce5e4e58a1db133e6ae0a25a2ed38345f71c4306d3b270b895a2ba9635ea7ae3abb573d9e1ec790ee2a6270b8bb0a4420464626f6479a26474696d651a6955bce86669737375657258208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b39464747970656d6973737565722e726574697265',
  'issuer.succeed':
    'a46176016373696758404f3ba6fac1972b50cb81e717d54e71f8749458fe3466ddd9f067fbb7675afcd4672d8ea7ecb914cac20b3b288ad755e386c07f15a5b73ab2a6d5399cb567970964626f6479a36474696d651a6955bcf26669737375657258208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b39469737563636573736f725820ca93ac1705187071d67b83c7ff0efe8108e8ec4530575d7726879333dbdabe7c64747970656e6973737565722e73756363656564',
  'issuer.compromise':
    'a4617601637369675840ede5724c846027ff1f9b4734bf1f5a68f249720b991a675bacb195ea36e30ed1b5c88fa7a9f93f0676a13f7cfe852fc1b60717299aeaea222176f1c09e73060d64626f6479a36466726f6d056474696d651a6955bcfc6669737375657258208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b3946474797065716973737565722e636f6d70726f6d697365',
  'cert.issue':
    'a461760163736967584064344a3f43b3ec9e440f450290642dad28d972a24385036a828d751987bfdca14de8a146ad0c4f0ce7e2b7da20f74ce09dace2de807e9badf51d5e5dd542f20d64626f6479a862696450000102030405060708090a0b0c0d0e0f6474696d651a6955b90066686f6c6465725820ed4928c628d1c2c6eae90338905995612959273a5c63f93636c14614ac8737d16669737375657258208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b39467646f635479706578216b722e676f762e7265736964656e742d726567697374726174696f6e2e636f70796869737375656441741a6955b9006a636f6d6d69746d656e74582057e743b085787c362c0b6d34b5ef4ae1273c384b20401d7f551077391b64e50a6a76616c6964556e74696c1a69cc600064747970656a636572742e6973737565',
  'cert.transfer':
    'a4617601637369675840a6902234039e760b97c93c0c985fde11e5e297b5c267154a9109722fa8d3521d0f8b355988387b4804ede6343c22bd7d1444fd9a33e693004ff1a715d57b920264626f6479a762696450000102030405060708090a0b0c0d0e0f6474696d651a6955b905656e6f6e636550aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa66706172656e7458208050f33b0ae95ac1151c4c7057a03b502290bf2a5e7875a726e428a2033c64666673656e6465725820ed4928c628d1c2c6eae90338905995612959273a5c63f93636c14614ac8737d169726563697069656e74582035813ff0de537aadbd81552e89754e6a5081ebe074fd1ae2efd5ee4011130ae16a73656e64657253616c74f664747970656d636572742e7472616e73666572',
  'cert.revoke':
    'a4617601637369675840c0fa304f8d975d66297a28ebeecc7f0f2471d9a6de861a03d2ee1179ca03651079c57f9809eceea85bc15c1cb4e557e68160a868089390342dd7f9e9b386150864626f6479a462696450000102030405060708090a0b0c0d0e0f6474696d651a6955b90a66726561736f6e60677265766f6b657258208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b39464747970656b636572742e7265766f6b65',
};
const RECIPIENT_SALT = fromHex('87e5a6c4556bbfa0065a173e4c8d6774');
const RECIPIENT_PUB = fromHex('ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c');
const RECIPIENT = fromHex('35813ff0de537aadbd81552e89754e6a5081ebe074fd1ae2efd5ee4011130ae1');
const HOUSEHOLD_COMMITMENT = fromHex('57e743b085787c362c0b6d34b5ef4ae1273c384b20401d7f551077391b64e50a');
const CERT_ID = fromHex('000102030405060708090a0b0c0d0e0f');

/** The events of the KAT entries, as typed values. */
const KAT_EVENTS: Record<EventType, CertEvent> = {
  'doctype.register': { type: 'doctype.register', docType: 'kr.gov.resident-registration.copy', maxValidity: 90 * 86400, time: T - 120 },
  'issuer.register': {
    type: 'issuer.register',
    issuer: ISSUER_PUB,
    name: '종로구청 민원여권과',
    docTypes: ['kr.gov.family-relation.cert', 'kr.gov.resident-registration.copy'],
    time: T - 60,
  },
  'issuer.retire': { type: 'issuer.retire', issuer: ISSUER_PUB, time: T + 1000 },
  'issuer.succeed': { type: 'issuer.succeed', issuer: ISSUER_PUB, successor: SUCCESSOR_PUB, time: T + 1010 },
  'issuer.compromise': { type: 'issuer.compromise', issuer: ISSUER_PUB, from: 5, time: T + 1020 },
  'cert.issue': {
    type: 'cert.issue',
    id: CERT_ID,
    docType: 'kr.gov.resident-registration.copy',
    issuer: ISSUER_PUB,
    holder: HOLDER_PUB,
    commitment: HOUSEHOLD_COMMITMENT,
    issuedAt: T,
    validUntil: T + 90 * 86400,
    time: T,
  },
  'cert.transfer': {
    type: 'cert.transfer',
    id: CERT_ID,
    parent: leafHash(fromHex(KAT['cert.issue'])),
    sender: HOLDER_PUB,
    senderSalt: null,
    recipient: RECIPIENT,
    nonce: new Uint8Array(16).fill(0xaa),
    time: T + 5,
  },
  'cert.revoke': { type: 'cert.revoke', id: CERT_ID, revoker: ISSUER_PUB, reason: '', time: T + 10 },
};
const SEED_OF: Record<EventType, Uint8Array> = {
  'doctype.register': ROOT,
  'issuer.register': ROOT,
  'issuer.retire': ROOT,
  'issuer.succeed': ROOT,
  'issuer.compromise': ROOT,
  'cert.issue': ISSUER,
  'cert.transfer': HOLDER,
  'cert.revoke': ISSUER,
};
const PUB_OF: Record<EventType, Uint8Array> = {
  'doctype.register': ROOT_PUB,
  'issuer.register': ROOT_PUB,
  'issuer.retire': ROOT_PUB,
  'issuer.succeed': ROOT_PUB,
  'issuer.compromise': ROOT_PUB,
  'cert.issue': ISSUER_PUB,
  'cert.transfer': HOLDER_PUB,
  'cert.revoke': ISSUER_PUB,
};
/** The types the root key signs (spec §5.2): ParsedEvent.signer is 'root'. */
const ROOT_SIGNED = new Set<string>(['doctype.register', 'issuer.register', 'issuer.retire', 'issuer.succeed', 'issuer.compromise']);
/** The body field that names the signing key, for the other types. */
const SIGNER_FIELD: Record<string, string> = { 'cert.issue': 'issuer', 'cert.transfer': 'sender', 'cert.revoke': 'revoker' };

/** A transfer by a recipient of an earlier transfer: senderSalt given. */
const SECOND_TRANSFER: CertEvent = {
  type: 'cert.transfer',
  id: CERT_ID,
  parent: leafHash(fromHex(KAT['cert.transfer'])),
  sender: RECIPIENT_PUB,
  senderSalt: RECIPIENT_SALT,
  recipient: recipientCommitment(new Uint8Array(16).fill(9), ISSUER_PUB),
  nonce: new Uint8Array(16).fill(0xbb),
  time: T + 20,
};

// Other keys spec §2.2 refuses, beside the eight small-order encodings.
const NON_CANONICAL_KEYS = [
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p + 1
  '0100000000000000000000000000000000000000000000000000000000000080', // y = 1, x = -0
];
/** notOnCurve finds a canonical encoding that decodes to no point (y = 2 is one). */
const NOT_ON_CURVE = '0200000000000000000000000000000000000000000000000000000000000000';

const KEY_FIELDS: Record<EventType, string[]> = {
  'doctype.register': [],
  'issuer.register': ['issuer'],
  'issuer.retire': ['issuer'],
  'issuer.succeed': ['issuer', 'successor'],
  'issuer.compromise': ['issuer'],
  'cert.issue': ['issuer', 'holder'],
  'cert.transfer': ['sender'],
  'cert.revoke': ['revoker'],
};
const BYTES_FIELDS: Record<EventType, [string, number][]> = {
  'doctype.register': [],
  'issuer.register': [],
  'issuer.retire': [],
  'issuer.succeed': [],
  'issuer.compromise': [],
  'cert.issue': [
    ['id', 16],
    ['commitment', 32],
  ],
  'cert.transfer': [
    ['id', 16],
    ['parent', 32],
    ['recipient', 32],
    ['nonce', 16],
    ['senderSalt', 16],
  ],
  'cert.revoke': [['id', 16]],
};
/** Unsigned fields of the full range 0 … 2^53 − 1 (maxValidity, 1 … MAX_VALIDITY_S, is tested on its own). */
const UINT_FIELDS: Record<EventType, string[]> = {
  'doctype.register': ['time'],
  'issuer.register': ['time'],
  'issuer.retire': ['time'],
  'issuer.succeed': ['time'],
  'issuer.compromise': ['from', 'time'],
  'cert.issue': ['issuedAt', 'validUntil', 'time'],
  'cert.transfer': ['time'],
  'cert.revoke': ['time'],
};

/** bodyOf returns a fresh copy of the body of the KAT event of a type. */
function bodyOf(type: EventType): CborMap {
  return { ...decodeEntry(fromHex(KAT[type])).body };
}

/** signed signs a raw body as an entry of a type, with the type's KAT seed. */
function signed(type: string, body: CborMap, s: Uint8Array = SEED_OF[type as EventType] ?? ROOT): Uint8Array {
  return signEntry(type, body, s);
}

/** withBody parses the KAT event of a type after changing its body. */
function withBody(type: EventType, change: (b: CborMap) => void): string {
  const b = bodyOf(type);
  change(b);
  return code(() => parseEvent(signed(type, b)));
}

/** replaceOnce replaces the one occurrence of `from` in `bytes`. */
function replaceOnce(bytes: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  const h = toHex(bytes);
  const f = toHex(from);
  const i = h.indexOf(f);
  expect(i % 2).toBe(0);
  expect(h.indexOf(f, i + 1)).toBe(-1);
  return fromHex(h.slice(0, i) + toHex(to) + h.slice(i + f.length));
}

const LEDGER_CODES = new Set(['MALFORMED', 'NON_CANONICAL', 'UNSUPPORTED', 'TOO_LARGE', 'BAD_KEY']);

describe('known answers (independent implementation)', () => {
  for (const type of EVENT_TYPES) {
    it(`${type}: parses, verifies on both backends, and encodeEvent rebuilds it byte for byte`, () => {
      const bytes = fromHex(KAT[type]);
      const p = parseEvent(bytes);
      expect(p.event).toEqual(KAT_EVENTS[type]);
      expect(p.bytes).toBe(bytes);
      if (ROOT_SIGNED.has(type)) expect(p.signer).toBe('root');
      else expect(toHex(p.signer as Uint8Array)).toBe(toHex(PUB_OF[type]));
      for (const [, b] of backends) verifyEventSignature(p, PUB_OF[type], b);
      expect(toHex(encodeEvent(KAT_EVENTS[type], SEED_OF[type]))).toBe(KAT[type]);
      expect(toHex(encodeParsedEvent(p))).toBe(KAT[type]);
    });
  }

  it('the KAT seeds give the KAT public keys', () => {
    expect(toHex(ed25519PublicKey(ROOT))).toBe(toHex(ROOT_PUB));
    expect(toHex(ed25519PublicKey(ISSUER))).toBe(toHex(ISSUER_PUB));
    expect(toHex(ed25519PublicKey(HOLDER))).toBe(toHex(HOLDER_PUB));
    expect(toHex(ed25519PublicKey(SUCCESSOR))).toBe(toHex(SUCCESSOR_PUB));
    expect(toHex(ed25519PublicKey(seed(7)))).toBe(toHex(RECIPIENT_PUB));
  });

  it('recipientCommitment is SHA-256("dojang/v1/recipient\\n" ‖ salt ‖ key) (spec §5.7)', () => {
    expect(toHex(recipientCommitment(RECIPIENT_SALT, RECIPIENT_PUB))).toBe(toHex(RECIPIENT));
    expect(toHex(recipientCommitment(RECIPIENT_SALT, RECIPIENT_PUB))).toBe(toHex(sha256(utf8('dojang/v1/recipient\n'), RECIPIENT_SALT, RECIPIENT_PUB)));
    expect(code(() => recipientCommitment(new Uint8Array(15), RECIPIENT_PUB))).toBe('RangeError');
    expect(code(() => recipientCommitment(new Uint8Array(17), RECIPIENT_PUB))).toBe('RangeError');
    expect(code(() => recipientCommitment(RECIPIENT_SALT, new Uint8Array(31)))).toBe('RangeError');
  });

  it('signingInput is "dojang/v1/" ‖ type ‖ 0x0A ‖ body, over the body bytes as received', () => {
    for (const type of EVENT_TYPES) {
      const p = parseEvent(fromHex(KAT[type]));
      const e = decodeEntry(fromHex(KAT[type]));
      expect(toHex(p.signingInput)).toBe(toHex(signingInput(type, e.body)));
      expect(toHex(p.signingInput)).toBe(toHex(concatBytes(utf8(`dojang/v1/${type}\n`), encodeCbor(e.body))));
    }
  });

  it('MAX_CLOCK_SKEW_S is 300 (spec §5.9); MAX_VALIDITY_S is 3,660 days = 316,224,000 s (spec §5.7)', () => {
    expect(MAX_CLOCK_SKEW_S).toBe(300);
    expect(MAX_VALIDITY_S).toBe(316_224_000);
  });

  it('EVENT_TYPES lists the eight types of spec §5.7, in order', () => {
    expect(EVENT_TYPES).toEqual(['doctype.register', 'issuer.register', 'issuer.retire', 'issuer.succeed', 'issuer.compromise', 'cert.issue', 'cert.transfer', 'cert.revoke']);
    for (const t of EVENT_TYPES) expect(isEventType(t)).toBe(true);
  });
});

describe('round trips on both backends', () => {
  const events: CertEvent[] = [...Object.values(KAT_EVENTS), SECOND_TRANSFER];
  for (const e of events) {
    it(`${e.type}${e.type === 'cert.transfer' && e.senderSalt ? ' (with senderSalt)' : ''}`, () => {
      const s = e === SECOND_TRANSFER ? seed(7) : SEED_OF[e.type];
      const bytes = encodeEvent(e, s);
      const p = parseEvent(bytes);
      expect(p.event).toEqual(e);
      expect(p.event.type).toBe(e.type);
      // Ed25519 is deterministic: both backends make the same signature over the input.
      for (const [, b] of backends) {
        expect(toHex(b.ed25519Sign(s, p.signingInput))).toBe(toHex(p.sig));
        verifyEventSignature(p, ed25519PublicKey(s), b);
      }
      expect(toHex(encodeParsedEvent(p))).toBe(toHex(bytes));
    });
  }

  it('fresh ids, salts and nonces are 16 random bytes', () => {
    for (const f of [newCertId, newSalt, newNonce]) {
      const a = f();
      const b = f();
      expect(a.length).toBe(16);
      expect(toHex(a)).not.toBe(toHex(b));
    }
  });

  it('a freshly keyed issue and transfer chain parses and verifies', () => {
    const issuerSeed = crypto.getRandomValues(new Uint8Array(32));
    const holderSeed = crypto.getRandomValues(new Uint8Array(32));
    const issue: CertEvent = {
      type: 'cert.issue',
      id: newCertId(),
      docType: 'kr.gov.resident-registration.copy',
      issuer: ed25519PublicKey(issuerSeed),
      holder: ed25519PublicKey(holderSeed),
      commitment: sha256(utf8('document')),
      issuedAt: T,
      validUntil: T + 1,
      time: T,
    };
    const issueBytes = encodeEvent(issue, issuerSeed);
    const salt = newSalt();
    const transfer: CertEvent = {
      type: 'cert.transfer',
      id: issue.id,
      parent: leafHash(issueBytes),
      sender: issue.holder,
      senderSalt: null,
      recipient: recipientCommitment(salt, ed25519PublicKey(crypto.getRandomValues(new Uint8Array(32)))),
      nonce: newNonce(),
      time: T,
    };
    for (const [e, s] of [
      [issue, issuerSeed],
      [transfer, holderSeed],
    ] as const) {
      const p = parseEvent(encodeEvent(e, s));
      for (const [, b] of backends) verifyEventSignature(p, p.signer as Uint8Array, b);
    }
  });
});

describe('signatures', () => {
  for (const type of EVENT_TYPES) {
    it(`${type}: a flipped bit or another key is BAD_SIGNATURE on both backends`, () => {
      const p = parseEvent(fromHex(KAT[type]));
      for (const [, b] of backends) {
        for (const bit of [0, 7, 255, 256, 511]) {
          const sig = p.sig.slice();
          sig[bit >> 3] ^= 1 << (bit & 7);
          expect(code(() => verifyEventSignature({ ...p, sig }, PUB_OF[type], b))).toBe('BAD_SIGNATURE');
        }
        const other = PUB_OF[type] === ROOT_PUB ? ISSUER_PUB : ROOT_PUB;
        expect(code(() => verifyEventSignature(p, other, b))).toBe('BAD_SIGNATURE');
        expect(code(() => verifyEventSignature(p, fromHex(SMALL_ORDER_KEYS_HEX[0]), b))).toBe('BAD_SIGNATURE');
      }
    });
  }

  it('a signature made for another type (domain separation) does not verify', () => {
    const e = decodeEntry(fromHex(KAT['cert.issue']));
    for (const other of ['cert.revoke', 'cert.transfer', 'genesis', 'issuer.register']) {
      const sig = signEd25519(ISSUER, signingInput(other, e.body));
      const bytes = encodeEntry({ v: 1, type: 'cert.issue', body: e.body, sig });
      const p = parseEvent(bytes);
      for (const [, b] of backends) expect(code(() => verifyEventSignature(p, ISSUER_PUB, b))).toBe('BAD_SIGNATURE');
    }
  });

  it('a root signature made for another root-signed type does not verify', () => {
    const e = decodeEntry(fromHex(KAT['issuer.compromise']));
    for (const other of ['doctype.register', 'issuer.register', 'issuer.retire', 'issuer.succeed', 'cert.revoke', 'genesis']) {
      const sig = signEd25519(ROOT, signingInput(other, e.body));
      const p = parseEvent(encodeEntry({ v: 1, type: 'issuer.compromise', body: e.body, sig }));
      for (const [, b] of backends) expect(code(() => verifyEventSignature(p, ROOT_PUB, b))).toBe('BAD_SIGNATURE');
    }
  });

  it('a cert.revoke by the root key (an entitled revoker, spec §5.9) names the root key as signer', () => {
    const e: CertEvent = { ...(KAT_EVENTS['cert.revoke'] as Extract<CertEvent, { type: 'cert.revoke' }>), revoker: ROOT_PUB };
    const p = parseEvent(encodeEvent(e, ROOT));
    expect(p.event).toEqual(e);
    expect(toHex(p.signer as Uint8Array)).toBe(toHex(ROOT_PUB));
    for (const [, b] of backends) {
      verifyEventSignature(p, ROOT_PUB, b);
      expect(code(() => verifyEventSignature(p, ISSUER_PUB, b))).toBe('BAD_SIGNATURE');
    }
  });

  it('parseEvent does not check the signature', () => {
    const e = decodeEntry(fromHex(KAT['cert.revoke']));
    const p = parseEvent(encodeEntry({ ...e, sig: new Uint8Array(64) }));
    expect(code(() => verifyEventSignature(p, ISSUER_PUB))).toBe('BAD_SIGNATURE');
  });
});

describe('encodeEvent refuses what the spec does not allow (caller bugs)', () => {
  it('an unknown type is a TypeError', () => {
    expect(code(() => encodeEvent({ ...KAT_EVENTS['issuer.retire'], type: 'issuer.rename' } as unknown as CertEvent, ROOT))).toBe('TypeError');
    expect(code(() => eventBody(undefined as unknown as CertEvent))).toBe('TypeError');
  });

  it('a seed that is not the issuer, sender or revoker key is a RangeError', () => {
    expect(code(() => encodeEvent(KAT_EVENTS['cert.issue'], HOLDER))).toBe('RangeError');
    expect(code(() => encodeEvent(KAT_EVENTS['cert.revoke'], ROOT))).toBe('RangeError');
    expect(code(() => encodeEvent(KAT_EVENTS['cert.revoke'], SUCCESSOR))).toBe('RangeError');
    expect(code(() => encodeEvent(KAT_EVENTS['cert.transfer'], ISSUER))).toBe('RangeError');
    expect(code(() => encodeEvent(KAT_EVENTS['issuer.retire'], new Uint8Array(31)))).toBe('RangeError');
  });

  const bad: [string, CertEvent][] = [
    ['float time', { ...KAT_EVENTS['issuer.retire'], time: 1.5 } as CertEvent],
    ['negative time', { ...KAT_EVENTS['issuer.retire'], time: -1 } as CertEvent],
    ['-0 time', { ...KAT_EVENTS['issuer.retire'], time: -0 } as CertEvent],
    ['unsafe time', { ...KAT_EVENTS['issuer.retire'], time: 2 ** 53 } as CertEvent],
    ['NaN validUntil', { ...KAT_EVENTS['cert.issue'], validUntil: NaN } as CertEvent],
    ['small-order issuer', { ...KAT_EVENTS['issuer.retire'], issuer: fromHex(SMALL_ORDER_KEYS_HEX[4]) } as CertEvent],
    ['31-byte holder', { ...KAT_EVENTS['cert.issue'], holder: new Uint8Array(31) } as CertEvent],
    ['15-byte id', { ...KAT_EVENTS['cert.revoke'], id: new Uint8Array(15) } as CertEvent],
    ['empty name', { ...KAT_EVENTS['issuer.register'], name: '' } as CertEvent],
    ['unsorted docTypes', { ...KAT_EVENTS['issuer.register'], docTypes: ['b.b', 'a.a'] } as CertEvent],
    ['bad docType', { ...KAT_EVENTS['cert.issue'], docType: 'KR.gov' } as CertEvent],
    ['undefined senderSalt', { ...KAT_EVENTS['cert.transfer'], senderSalt: undefined } as unknown as CertEvent],
    ['lone surrogate in reason', { ...KAT_EVENTS['cert.revoke'], reason: '\ud800' } as CertEvent],
    ['129-byte reason', { ...KAT_EVENTS['cert.revoke'], reason: 'x'.repeat(129) } as CertEvent],
    ['revoke with the old field issuer, no revoker', { type: 'cert.revoke', id: CERT_ID, issuer: ISSUER_PUB, reason: '', time: T + 10 } as unknown as CertEvent],
    ['maxValidity 0', { ...KAT_EVENTS['doctype.register'], maxValidity: 0 } as CertEvent],
    ['maxValidity 316,224,001', { ...KAT_EVENTS['doctype.register'], maxValidity: MAX_VALIDITY_S + 1 } as CertEvent],
    ['float maxValidity', { ...KAT_EVENTS['doctype.register'], maxValidity: 86400.5 } as CertEvent],
    ['bad docType in doctype.register', { ...KAT_EVENTS['doctype.register'], docType: 'kr.gov.' } as CertEvent],
    ['small-order successor', { ...KAT_EVENTS['issuer.succeed'], successor: fromHex(SMALL_ORDER_KEYS_HEX[2]) } as CertEvent],
    ['negative from', { ...KAT_EVENTS['issuer.compromise'], from: -1 } as CertEvent],
  ];
  for (const [why, e] of bad) {
    it(why, () => {
      expect(code(() => encodeEvent(e, SEED_OF[e.type]))).toBe('RangeError');
      expect(code(() => eventBody(e))).toBe('RangeError');
    });
  }

  it('extra properties of an event object are not written', () => {
    const e = { ...KAT_EVENTS['issuer.retire'], extra: 1 } as unknown as CertEvent;
    expect(toHex(encodeEvent(e, ROOT))).toBe(KAT['issuer.retire']);
  });
});

describe('parseEvent: the envelope', () => {
  it('an unknown or non-event type is UNSUPPORTED', () => {
    for (const t of ['cert.reissue', 'genesis', 'bench.record', 'issuer', 'x']) {
      expect(code(() => parseEvent(signed(t, bodyOf('cert.issue'), ISSUER)))).toBe('UNSUPPORTED');
    }
    expect(isEventType('cert.issue')).toBe(true);
    expect(isEventType('toString')).toBe(false);
    expect(isEventType('__proto__')).toBe(false);
  });

  it('a type name outside the entry syntax is MALFORMED; another version UNSUPPORTED', () => {
    const e = decodeEntry(fromHex(KAT['cert.revoke']));
    expect(code(() => parseEvent(encodeCbor({ v: 1, type: 'Cert.Revoke', body: e.body, sig: e.sig })))).toBe('MALFORMED');
    expect(code(() => parseEvent(encodeCbor({ v: 2, type: 'cert.revoke', body: e.body, sig: e.sig })))).toBe('UNSUPPORTED');
    expect(code(() => parseEvent(encodeCbor({ v: 1, type: 'cert.revoke', body: e.body, sig: e.sig, x: 0 })))).toBe('MALFORMED');
    expect(code(() => parseEvent(encodeCbor({ v: 1, type: 'cert.revoke', body: e.body, sig: e.sig.subarray(1) })))).toBe('MALFORMED');
    expect(code(() => parseEvent(encodeCbor({ v: 1, type: 'cert.revoke', body: [], sig: e.sig })))).toBe('MALFORMED');
  });

  it('more than 65,535 bytes is TOO_LARGE', () => {
    expect(code(() => parseEvent(new Uint8Array(65536)))).toBe('TOO_LARGE');
  });

  it('non-canonical CBOR is NON_CANONICAL', () => {
    const bytes = fromHex(KAT['issuer.retire']);
    // time as a 64-bit head instead of the 32-bit one
    const time = concatBytes(Uint8Array.of(0x1a), fromHex((T + 1000).toString(16).padStart(8, '0')));
    expect(code(() => parseEvent(replaceOnce(bytes, time, concatBytes(Uint8Array.of(0x1b, 0, 0, 0, 0), time.subarray(1)))))).toBe('NON_CANONICAL');
    // body keys out of order: "time" before "issuer" is canonical; swap them
    const b = bodyOf('issuer.retire');
    const swapped = concatBytes(
      Uint8Array.of(0xa2),
      encodeCbor('issuer'),
      encodeCbor(b.issuer),
      encodeCbor('time'),
      encodeCbor(b.time),
    );
    expect(code(() => parseEvent(replaceOnce(bytes, encodeCbor(b), swapped)))).toBe('NON_CANONICAL');
    // the id as a byte string with a 1-byte length head
    const issue = fromHex(KAT['cert.issue']);
    expect(code(() => parseEvent(replaceOnce(issue, concatBytes(Uint8Array.of(0x50), CERT_ID), concatBytes(Uint8Array.of(0x58, 16), CERT_ID))))).toBe('NON_CANONICAL');
  });

  it('trailing bytes and truncation are MALFORMED', () => {
    const bytes = fromHex(KAT['cert.transfer']);
    expect(code(() => parseEvent(concatBytes(bytes, Uint8Array.of(0))))).toBe('MALFORMED');
    for (const n of [0, 1, 79, bytes.length - 1]) expect(code(() => parseEvent(bytes.subarray(0, n)))).toBe('MALFORMED');
  });
});

describe('parseEvent: every body rule of spec §5.7, for every type', () => {
  for (const type of EVENT_TYPES) {
    describe(type, () => {
      const keys = Object.keys(bodyOf(type));

      it('the KAT body is accepted', () => {
        expect(withBody(type, () => {})).toBe('OK');
      });

      it('a missing key is MALFORMED', () => {
        for (const k of keys) expect(withBody(type, (b) => delete b[k])).toBe('MALFORMED');
      });

      it('an extra key is MALFORMED', () => {
        for (const extra of ['extra', 'v', 'sig', 'type', 'holder2', '']) expect(withBody(type, (b) => (b[extra] = 0))).toBe('MALFORMED');
        // a key of another type's body
        const foreign = type === 'cert.revoke' ? 'nonce' : 'reason';
        expect(withBody(type, (b) => (b[foreign] = ''))).toBe('MALFORMED');
      });

      it('a value of the wrong CBOR type is MALFORMED', () => {
        const wrong: CborValue[] = [0, 1, -1, '', 'x', true, false, [], {}, new Uint8Array(0), null];
        for (const k of keys) {
          const good = bodyOf(type)[k];
          for (const w of wrong) {
            // skip values of the right type that are valid there
            if (typeof w === typeof good && !(w instanceof Uint8Array) && !Array.isArray(w) && w !== null) continue;
            if (k === 'senderSalt' && w === null) continue;
            if (k === 'reason' && w === '') continue;
            const c = withBody(type, (b) => (b[k] = w));
            // a byte string in a key field fails §2.2, not the format
            expect([k, w, c]).toEqual([k, w, w instanceof Uint8Array && KEY_FIELDS[type].includes(k) ? 'BAD_KEY' : 'MALFORMED']);
          }
        }
      });

      it('byte strings of the wrong length are MALFORMED (15/17-byte id, 31/33-byte hashes)', () => {
        for (const [k, n] of BYTES_FIELDS[type]) {
          for (const len of [0, n - 1, n + 1, 2 * n]) expect([k, len, withBody(type, (b) => (b[k] = new Uint8Array(len).fill(3)))]).toEqual([k, len, 'MALFORMED']);
          expect(withBody(type, (b) => (b[k] = new Uint8Array(n).fill(3)))).toBe('OK');
        }
      });

      it('a key that spec §2.2 refuses is BAD_KEY (length, non-canonical, off the curve, small order)', () => {
        for (const k of KEY_FIELDS[type]) {
          const bad = [...SMALL_ORDER_KEYS_HEX, ...NON_CANONICAL_KEYS, NOT_ON_CURVE].map(fromHex);
          bad.push(new Uint8Array(0), ROOT_PUB.subarray(0, 31), concatBytes(ROOT_PUB, Uint8Array.of(0)));
          for (const key of bad) expect([k, toHex(key), withBody(type, (b) => (b[k] = key))]).toEqual([k, toHex(key), 'BAD_KEY']);
        }
      });

      it('times: unsigned safe integers only (negative, float, beyond 2^53 − 1 are MALFORMED)', () => {
        for (const k of UINT_FIELDS[type]) {
          expect(withBody(type, (b) => (b[k] = -1))).toBe('MALFORMED');
          expect(withBody(type, (b) => (b[k] = -T))).toBe('MALFORMED');
          expect(withBody(type, (b) => (b[k] = 0))).toBe('OK');
          expect(withBody(type, (b) => (b[k] = Number.MAX_SAFE_INTEGER))).toBe('OK');
          // A float, spliced in by hand (the encoder cannot write one): 0xfb then float64.
          const marker = 0x12345678;
          const b = bodyOf(type);
          b[k] = marker;
          const bytes = signed(type, b);
          const f = new Uint8Array(9);
          f[0] = 0xfb;
          new DataView(f.buffer).setFloat64(1, 1767225600.5);
          expect(code(() => parseEvent(replaceOnce(bytes, Uint8Array.of(0x1a, 0x12, 0x34, 0x56, 0x78), f)))).toBe('MALFORMED');
          const whole = new Uint8Array(9);
          whole[0] = 0xfb;
          new DataView(whole.buffer).setFloat64(1, 1767225600);
          expect(code(() => parseEvent(replaceOnce(bytes, Uint8Array.of(0x1a, 0x12, 0x34, 0x56, 0x78), whole)))).toBe('MALFORMED');
          // beyond 2^53 − 1, as a 64-bit head
          expect(code(() => parseEvent(replaceOnce(bytes, Uint8Array.of(0x1a, 0x12, 0x34, 0x56, 0x78), fromHex('1b0020000000000000'))))).toBe('MALFORMED');
        }
      });
    });
  }

  describe('issuer.register: name and docTypes', () => {
    it('name is 1–128 bytes of UTF-8 (counted in bytes, not characters)', () => {
      expect(withBody('issuer.register', (b) => (b.name = ''))).toBe('MALFORMED');
      expect(withBody('issuer.register', (b) => (b.name = 'x'))).toBe('OK');
      expect(withBody('issuer.register', (b) => (b.name = 'x'.repeat(128)))).toBe('OK');
      expect(withBody('issuer.register', (b) => (b.name = 'x'.repeat(129)))).toBe('MALFORMED');
      expect(withBody('issuer.register', (b) => (b.name = '구'.repeat(42) + 'xx'))).toBe('OK'); // 128 bytes
      expect(withBody('issuer.register', (b) => (b.name = '구'.repeat(43)))).toBe('MALFORMED'); // 129 bytes, 43 characters
      expect(withBody('issuer.register', (b) => (b.name = '😀'.repeat(32)))).toBe('OK'); // 128 bytes, 64 UTF-16 units
      expect(withBody('issuer.register', (b) => (b.name = '😀'.repeat(32) + 'x'))).toBe('MALFORMED');
    });

    it('docTypes: 1–32 distinct document types in ascending byte order', () => {
      const many = (n: number) => Array.from({ length: n }, (_, i) => `kr.t${String(i).padStart(2, '0')}`);
      expect(withBody('issuer.register', (b) => (b.docTypes = []))).toBe('MALFORMED');
      expect(withBody('issuer.register', (b) => (b.docTypes = many(1)))).toBe('OK');
      expect(withBody('issuer.register', (b) => (b.docTypes = many(32)))).toBe('OK');
      expect(withBody('issuer.register', (b) => (b.docTypes = many(33)))).toBe('MALFORMED');
      expect(withBody('issuer.register', (b) => (b.docTypes = ['b.b', 'a.a']))).toBe('NON_CANONICAL');
      expect(withBody('issuer.register', (b) => (b.docTypes = ['a.a', 'a.a']))).toBe('MALFORMED');
      expect(withBody('issuer.register', (b) => (b.docTypes = ['b.b', 'a.a', 'b.b']))).toBe('MALFORMED'); // duplicate beats order
      expect(withBody('issuer.register', (b) => (b.docTypes = ['a.a', 'kr.gov.x', 'kr.gov']))).toBe('NON_CANONICAL');
      expect(withBody('issuer.register', (b) => (b.docTypes = ['kr.gov', 'kr.gov-x', 'kr.gov.x']))).toBe('OK'); // '-' (0x2d) < '.' (0x2e)
      expect(withBody('issuer.register', (b) => (b.docTypes = ['kr.gov', 'kr.gov.x', 'kr.gov-x']))).toBe('NON_CANONICAL');
      expect(withBody('issuer.register', (b) => (b.docTypes = ['a.a', 'Bad']))).toBe('MALFORMED');
      expect(withBody('issuer.register', (b) => (b.docTypes = ['a.a', 1]))).toBe('MALFORMED');
      expect(withBody('issuer.register', (b) => (b.docTypes = 'a.a'))).toBe('MALFORMED');
    });
  });

  describe('cert.issue, doctype.register: docType syntax [a-z0-9]+(\\.[a-z0-9-]+)+, at most 64 bytes', () => {
    const good = ['a.b', '1.2', 'kr.gov.resident-registration.copy', 'a.-', 'a0.b-c.d', 'a.' + 'b'.repeat(62)];
    const bad = ['', 'kr', 'a.', '.a', 'a..b', 'KR.gov', 'kr.Gov', 'kr-gov.x', 'kr_gov.x', 'kr.gov_x', 'kr.gov x', ' kr.gov', 'kr.gov\n', 'kr.gov.', 'ㄱ.ㄴ', 'a.' + 'b'.repeat(63)];
    for (const d of good) {
      it(`accepts ${JSON.stringify(d)}`, () => {
        expect(isDocType(d)).toBe(true);
        expect(withBody('cert.issue', (b) => (b.docType = d))).toBe('OK');
        expect(withBody('doctype.register', (b) => (b.docType = d))).toBe('OK');
        expect(withBody('issuer.register', (b) => (b.docTypes = [d]))).toBe('OK');
      });
    }
    for (const d of bad) {
      it(`refuses ${JSON.stringify(d)}`, () => {
        expect(isDocType(d)).toBe(false);
        expect(withBody('cert.issue', (b) => (b.docType = d))).toBe('MALFORMED');
        expect(withBody('doctype.register', (b) => (b.docType = d))).toBe('MALFORMED');
        expect(withBody('issuer.register', (b) => (b.docTypes = [d]))).toBe('MALFORMED');
      });
    }
  });

  describe('doctype.register: maxValidity and docType', () => {
    it('maxValidity is 1 … 316,224,000 seconds (3,660 days); outside is MALFORMED', () => {
      expect(withBody('doctype.register', (b) => (b.maxValidity = 0))).toBe('MALFORMED');
      expect(withBody('doctype.register', (b) => (b.maxValidity = 1))).toBe('OK');
      expect(withBody('doctype.register', (b) => (b.maxValidity = 316_224_000))).toBe('OK');
      expect(withBody('doctype.register', (b) => (b.maxValidity = 316_224_001))).toBe('MALFORMED');
      expect(withBody('doctype.register', (b) => (b.maxValidity = 2 ** 32))).toBe('MALFORMED');
      expect(withBody('doctype.register', (b) => (b.maxValidity = Number.MAX_SAFE_INTEGER))).toBe('MALFORMED');
      expect(withBody('doctype.register', (b) => (b.maxValidity = -1))).toBe('MALFORMED');
      expect(withBody('doctype.register', (b) => (b.maxValidity = '7776000'))).toBe('MALFORMED');
      expect(withBody('doctype.register', (b) => (b.maxValidity = null))).toBe('MALFORMED');
    });

    it('maxValidity as a float (spliced in by hand) is MALFORMED, even a whole one', () => {
      const bytes = fromHex(KAT['doctype.register']);
      const head = fromHex('1a0076a700'); // 7,776,000 = 90 days
      for (const v of [7776000, 7776000.5]) {
        const f = new Uint8Array(9);
        f[0] = 0xfb;
        new DataView(f.buffer).setFloat64(1, v);
        expect(code(() => parseEvent(replaceOnce(bytes, head, f)))).toBe('MALFORMED');
      }
      // a longer head than needed is NON_CANONICAL, as for every integer
      expect(code(() => parseEvent(replaceOnce(bytes, head, fromHex('1b000000000076a700'))))).toBe('NON_CANONICAL');
    });

    it('a docType that breaks the syntax is MALFORMED', () => {
      for (const d of ['', 'kr', 'KR.gov.x', 'kr.gov.', 'kr..gov', 'kr_gov.x', 'a.' + 'b'.repeat(63), 'ㄱ.ㄴ']) {
        expect([d, withBody('doctype.register', (b) => (b.docType = d))]).toEqual([d, 'MALFORMED']);
      }
      expect(withBody('doctype.register', (b) => (b.docType = ['kr.gov.x']))).toBe('MALFORMED');
      expect(withBody('doctype.register', (b) => (b.docType = 'a.' + 'b'.repeat(62)))).toBe('OK');
    });
  });

  describe('issuer.succeed, issuer.compromise', () => {
    it('successor may be any key §2.2 accepts, even the issuer itself (the rules of §5.9 judge it)', () => {
      expect(withBody('issuer.succeed', (b) => (b.successor = ROOT_PUB))).toBe('OK');
      expect(withBody('issuer.succeed', (b) => (b.successor = ISSUER_PUB))).toBe('OK');
    });
    it('from is any unsigned integer, a log index', () => {
      for (const v of [0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) expect(withBody('issuer.compromise', (b) => (b.from = v))).toBe('OK');
      for (const v of [-1, '5', null, new Uint8Array(8)]) expect(withBody('issuer.compromise', (b) => (b.from = v))).toBe('MALFORMED');
    });
  });

  describe('cert.transfer: senderSalt', () => {
    it('is null or 16 bytes', () => {
      expect(withBody('cert.transfer', (b) => (b.senderSalt = null))).toBe('OK');
      expect(withBody('cert.transfer', (b) => (b.senderSalt = new Uint8Array(16)))).toBe('OK');
      for (const n of [0, 15, 17, 32]) expect(withBody('cert.transfer', (b) => (b.senderSalt = new Uint8Array(n)))).toBe('MALFORMED');
      expect(withBody('cert.transfer', (b) => (b.senderSalt = false))).toBe('MALFORMED');
    });
  });

  describe('cert.revoke: reason', () => {
    it('is 0–128 bytes of UTF-8', () => {
      expect(withBody('cert.revoke', (b) => (b.reason = ''))).toBe('OK');
      expect(withBody('cert.revoke', (b) => (b.reason = '발급 착오'))).toBe('OK');
      expect(withBody('cert.revoke', (b) => (b.reason = 'x'.repeat(128)))).toBe('OK');
      expect(withBody('cert.revoke', (b) => (b.reason = 'x'.repeat(129)))).toBe('MALFORMED');
      expect(withBody('cert.revoke', (b) => (b.reason = '착'.repeat(43)))).toBe('MALFORMED');
    });
  });

  describe('cert.revoke: revoker (the field was issuer before)', () => {
    it('the old field name issuer is MALFORMED, in place of revoker or beside it', () => {
      expect(
        withBody('cert.revoke', (b) => {
          b.issuer = b.revoker;
          delete b.revoker;
        }),
      ).toBe('MALFORMED');
      expect(withBody('cert.revoke', (b) => (b.issuer = b.revoker))).toBe('MALFORMED');
    });
    it('the old KAT entry, with issuer, is MALFORMED', () => {
      const old =
        'a4617601637369675840372c8413de24d9e07900bd9a4c2c8a859cbcc56b69ac392bc2c087cd850cae34c4c604066fc4ceb3e9d4582e1c4a4ebe63268f80babcb9a7c5ac60a0dc0b2a0164626f6479a462696450000102030405060708090a0b0c0d0e0f6474696d651a6955b90a6669737375657258208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b39466726561736f6e6064747970656b636572742e7265766f6b65';
      expect(code(() => parseEvent(fromHex(old)))).toBe('MALFORMED');
    });
    it('revoker may be any key §2.2 accepts (the root key, a successor: §5.9 judges entitlement)', () => {
      for (const k of [ROOT_PUB, SUCCESSOR_PUB, HOLDER_PUB]) expect(withBody('cert.revoke', (b) => (b.revoker = k))).toBe('OK');
    });
  });

  describe('precedence: MALFORMED, then NON_CANONICAL, then BAD_KEY', () => {
    it('a bad key with a malformed field is MALFORMED, whatever the field order', () => {
      expect(withBody('cert.issue', (b) => ((b.issuer = fromHex(SMALL_ORDER_KEYS_HEX[0])), (b.validUntil = -1)))).toBe('MALFORMED');
      expect(withBody('cert.issue', (b) => ((b.holder = fromHex(SMALL_ORDER_KEYS_HEX[0])), (b.id = new Uint8Array(15))))).toBe('MALFORMED');
      expect(withBody('cert.transfer', (b) => ((b.sender = new Uint8Array(31)), (b.time = 'now')))).toBe('MALFORMED');
      expect(withBody('issuer.succeed', (b) => ((b.successor = fromHex(SMALL_ORDER_KEYS_HEX[0])), (b.time = -1)))).toBe('MALFORMED');
      expect(withBody('issuer.compromise', (b) => ((b.issuer = new Uint8Array(0)), (b.from = -1)))).toBe('MALFORMED');
      expect(withBody('cert.revoke', (b) => ((b.revoker = fromHex(SMALL_ORDER_KEYS_HEX[0])), (b.reason = 'x'.repeat(129))))).toBe('MALFORMED');
    });
    it('doctype.register: a bad docType and a maxValidity out of range are both MALFORMED', () => {
      expect(withBody('doctype.register', (b) => ((b.docType = 'Bad'), (b.maxValidity = 0)))).toBe('MALFORMED');
    });
    it('a bad key with unsorted docTypes is NON_CANONICAL', () => {
      expect(withBody('issuer.register', (b) => ((b.issuer = fromHex(SMALL_ORDER_KEYS_HEX[1])), (b.docTypes = ['b.b', 'a.a'])))).toBe('NON_CANONICAL');
    });
    it('unsorted docTypes with a malformed field is MALFORMED', () => {
      expect(withBody('issuer.register', (b) => ((b.docTypes = ['b.b', 'a.a']), (b.name = '')))).toBe('MALFORMED');
    });
    it('a missing key beats everything', () => {
      expect(withBody('issuer.register', (b) => ((b.docTypes = ['b.b', 'a.a']), delete b.time))).toBe('MALFORMED');
    });
  });

  it('NOT_ON_CURVE is really off the curve, and the small-order list is right', async () => {
    const { checkEd25519PublicKey } = await import('../../src/core/crypto.js');
    expect(checkEd25519PublicKey(fromHex(NOT_ON_CURVE))).toBe('public key is not a curve point');
    for (const h of SMALL_ORDER_KEYS_HEX) expect(checkEd25519PublicKey(fromHex(h))).toBe('public key has small order');
    for (const h of NON_CANONICAL_KEYS) expect(checkEd25519PublicKey(fromHex(h))).toBe('public key encoding is not canonical');
  });
});

// ---------------------------------------------------------------------------------------
// Properties.

const POOL = Array.from({ length: 4 }, (_, i) => seed(0x40 + i));
const POOL_PUB = POOL.map(ed25519PublicKey);
const arbTime = fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(0, T, Number.MAX_SAFE_INTEGER));
const arbText = (min: number, max: number) =>
  fc.string({ unit: 'grapheme', minLength: min, maxLength: max }).filter((s) => utf8(s).length >= min && utf8(s).length <= max);
const arbDocType = fc.stringMatching(/^[a-z0-9]{1,6}(\.[a-z0-9-]{1,6}){1,4}$/);
const bytesN = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

/** arbEvent makes a valid event and the seed that must sign it. */
const arbEvent: fc.Arbitrary<[CertEvent, Uint8Array]> = fc.integer({ min: 0, max: POOL.length - 1 }).chain((k) => {
  const key = POOL_PUB[k];
  const s = POOL[k];
  const other = fc.constantFrom(...POOL_PUB);
  return fc.oneof(
    fc
      .record({ name: arbText(1, 128), docTypes: fc.uniqueArray(arbDocType, { minLength: 1, maxLength: 32 }), time: arbTime })
      .map((r): [CertEvent, Uint8Array] => [{ type: 'issuer.register', issuer: key, name: r.name, docTypes: [...r.docTypes].sort(), time: r.time }, ROOT]),
    arbTime.map((time): [CertEvent, Uint8Array] => [{ type: 'issuer.retire', issuer: key, time }, ROOT]),
    fc
      .record({ docType: arbDocType, maxValidity: fc.integer({ min: 1, max: MAX_VALIDITY_S }), time: arbTime })
      .map((r): [CertEvent, Uint8Array] => [{ type: 'doctype.register', ...r }, ROOT]),
    fc.record({ successor: other, time: arbTime }).map((r): [CertEvent, Uint8Array] => [{ type: 'issuer.succeed', issuer: key, ...r }, ROOT]),
    fc.record({ from: arbTime, time: arbTime }).map((r): [CertEvent, Uint8Array] => [{ type: 'issuer.compromise', issuer: key, ...r }, ROOT]),
    fc
      .record({ id: bytesN(16), docType: arbDocType, holder: other, commitment: bytesN(32), issuedAt: arbTime, validUntil: arbTime, time: arbTime })
      .map((r): [CertEvent, Uint8Array] => [{ type: 'cert.issue', issuer: key, ...r }, s]),
    fc
      .record({ id: bytesN(16), parent: bytesN(32), senderSalt: fc.option(bytesN(16), { nil: null }), recipient: bytesN(32), nonce: bytesN(16), time: arbTime })
      .map((r): [CertEvent, Uint8Array] => [{ type: 'cert.transfer', sender: key, ...r }, s]),
    fc
      .record({ id: bytesN(16), reason: arbText(0, 128), time: arbTime })
      .map((r): [CertEvent, Uint8Array] => [{ type: 'cert.revoke', revoker: key, ...r }, s]),
  );
});

/** checkAccepted: what parseEvent accepts re-encodes identically, with the same signing input. */
function checkAccepted(bytes: Uint8Array, p: ParsedEvent): void {
  expect(toHex(encodeParsedEvent(p))).toBe(toHex(bytes));
  const e = decodeEntry(bytes);
  expect(toHex(p.signingInput)).toBe(toHex(signingInput(e.type, e.body)));
  expect(toHex(p.signer === 'root' ? new Uint8Array(0) : p.signer)).toBe(
    toHex(ROOT_SIGNED.has(p.event.type) ? new Uint8Array(0) : (e.body[SIGNER_FIELD[p.event.type]] as Uint8Array)),
  );
}

/** parseOrCode parses, and checks that a refusal is a LedgerError with a parser code. */
function parseOrCode(bytes: Uint8Array): ParsedEvent | string {
  try {
    return parseEvent(bytes);
  } catch (err) {
    if (!(err instanceof LedgerError)) throw err;
    expect(LEDGER_CODES.has(err.code)).toBe(true);
    return err.code;
  }
}

describe('properties', () => {
  it('random valid events round-trip and verify', () => {
    fc.assert(
      fc.property(arbEvent, ([e, s]) => {
        const bytes = encodeEvent(e, s);
        const p = parseEvent(bytes);
        expect(p.event).toEqual(e);
        checkAccepted(bytes, p);
        verifyEventSignature(p, ed25519PublicKey(s));
        verifyEventSignature(p, ed25519PublicKey(s), portableBackend);
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes: only LedgerErrors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const r = parseOrCode(bytes);
        if (typeof r !== 'string') checkAccepted(bytes, r);
      }),
      { numRuns: 3000 },
    );
  });

  it('random CBOR-shaped entries: only LedgerErrors, and what is accepted re-encodes identically', () => {
    const arbBody = fc.dictionary(
      fc.constantFrom('issuer', 'name', 'docTypes', 'time', 'id', 'docType', 'maxValidity', 'successor', 'from', 'holder', 'commitment', 'issuedAt', 'validUntil', 'parent', 'sender', 'senderSalt', 'recipient', 'nonce', 'revoker', 'reason', 'x'),
      fc.oneof(
        fc.constantFrom<CborValue>(...POOL_PUB, null, 0, -1, 1, MAX_VALIDITY_S, MAX_VALIDITY_S + 1, '', 'a.b', ['a.b'], ['b.b', 'a.a']),
        bytesN(16),
        bytesN(32),
        arbTime,
        arbText(0, 10),
      ),
      { maxKeys: 9 },
    );
    fc.assert(
      fc.property(fc.constantFrom(...EVENT_TYPES, 'genesis'), arbBody, bytesN(64), (type, body, sig) => {
        const bytes = encodeEntry({ v: 1, type, body, sig });
        const r = parseOrCode(bytes);
        if (typeof r !== 'string') checkAccepted(bytes, r);
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated valid entries: only LedgerErrors, and what is accepted re-encodes identically', () => {
    const valid = [...Object.values(KAT), toHex(encodeEvent(SECOND_TRANSFER, seed(7)))].map(fromHex);
    const arbMutation = fc.oneof(
      fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat(), byte: fc.constant(0) }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), byte: fc.constant(0) }),
    );
    let accepted = 0;
    fc.assert(
      fc.property(fc.constantFrom(...valid), fc.array(arbMutation, { minLength: 1, maxLength: 3 }), (base, muts) => {
        let b: Uint8Array = base.slice();
        for (const m of muts) {
          const at = b.length === 0 ? 0 : m.at % b.length;
          if (m.op === 'set') b[at] = m.byte;
          else if (m.op === 'flip') b[at] ^= 1 << m.byte;
          else if (m.op === 'insert') b = concatBytes(b.subarray(0, at), Uint8Array.of(m.byte), b.subarray(at));
          else if (m.op === 'delete') b = concatBytes(b.subarray(0, at), b.subarray(at + 1));
          else b = b.subarray(0, at);
        }
        const r = parseOrCode(b);
        if (typeof r !== 'string') {
          accepted++;
          checkAccepted(b, r);
        }
      }),
      { numRuns: 5000 },
    );
    expect(accepted).toBeGreaterThan(0); // flips inside ids, hashes and signatures are accepted
  });
});
