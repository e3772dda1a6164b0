import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import pg from 'pg';
import { makeLedger, type TestLedger, TEST_DOC_TYPES } from '../helpers/ledger.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { encodeEvent, newCertId, newNonce, newSalt, recipientCommitment, type CertIssue } from '../../src/core/events.js';
import { commitDocument, disclose, newClaim, verifyDisclosure, type Claim } from '../../src/core/commitment.js';
import { decodeCbor, encodeCbor, type CborValue } from '../../src/core/cbor.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { equalBytes, toHex, utf8 } from '../../src/core/bytes.js';
import { leafHash } from '../../src/core/merkle.js';

// Privacy (DESIGN.md "Privacy", spec §5.7 last paragraph, §5.8): no personal value of a
// certificate's document ever reaches the ledger's storage. A household's resident
// registration copy (주민등록등본) for a mask proxy purchase (마스크 대리구매) is
// committed, issued, sent to a pharmacy and issued a second time; then every logical
// record the ledger keeps is searched for every personal value.

const DOC = 'kr.gov.resident-registration.copy';
const NOW = 1_768_435_200; // 2026-01-15T00:00:00Z
const OFFICE_NAME = 'Jongno-gu Office'; // an office, never a person (§5.7)

interface Member {
  name: string;
  relation: string;
  birthDate: string; // YYYY-MM-DD
  rrn: string; // 주민등록번호 YYMMDD-NNNNNNN (made up)
  age: number;
}
const ADDRESS = '서울특별시 종로구 자하문로12길 34, 101동 1203호 (청운동)';
const MEMBERS: Member[] = [
  { name: '김민준', relation: '세대주', birthDate: '1985-03-15', rrn: '850315-1023456', age: 40 },
  { name: '이서연', relation: '배우자', birthDate: '1987-07-22', rrn: '870722-2034567', age: 38 },
  { name: '김하은', relation: '자녀', birthDate: '2017-04-05', rrn: '170405-4045678', age: 8 },
  { name: '김영수', relation: '부모', birthDate: '1943-01-18', rrn: '430118-1056789', age: 82 },
];

/** The claims of the household's document (spec §5.8), each with a fresh salt. */
function householdClaims(): Claim[] {
  const claims: Claim[] = [newClaim('purpose', '마스크 대리구매'), newClaim('household.address', ADDRESS), newClaim('household.head', MEMBERS[0].name), newClaim('household.size', MEMBERS.length)];
  MEMBERS.forEach((m, i) => {
    claims.push(
      newClaim(`member.${i}.name`, m.name),
      newClaim(`member.${i}.relation`, m.relation),
      newClaim(`member.${i}.birthDate`, m.birthDate),
      newClaim(`member.${i}.birthYear`, Number(m.birthDate.slice(0, 4))),
      newClaim(`member.${i}.rrn`, m.rrn),
      newClaim(`member.${i}.rrnDigits`, Number(m.rrn.replace('-', ''))),
      newClaim(`member.${i}.age`, m.age),
    );
  });
  return claims;
}

// ---------------------------------------------------------------------------------------
// What to look for. Each personal value as UTF-8 and as CBOR; dates and numbers also as
// their digits and as CBOR integers. Byte needles shorter than MIN_NEEDLE would match
// random bytes (hashes, signatures, base64) by chance, so they are searched only where
// the match is exact: integers and text strings of decoded entries.

const MIN_NEEDLE = 5;

interface Needle {
  what: string;
  bytes: Uint8Array;
}

const textNeedles: string[] = [ADDRESS, '자하문로12길 34', '101동 1203호', '청운동'];
const numberNeedles: number[] = [];
for (const m of MEMBERS) {
  const [y, mo, d] = m.birthDate.split('-');
  textNeedles.push(m.name, m.relation, m.birthDate, `${y}${mo}${d}`, `${y.slice(2)}${mo}${d}`, m.rrn, m.rrn.replace('-', ''), m.rrn.slice(7), y);
  numberNeedles.push(m.age, Number(y), Number(`${y}${mo}${d}`), Number(m.rrn.replace('-', '')));
}

const byteNeedles: Needle[] = [
  ...textNeedles.flatMap((s) => [
    { what: `UTF-8 of ${s}`, bytes: utf8(s) },
    { what: `CBOR of ${s}`, bytes: encodeCbor(s) },
  ]),
  ...numberNeedles.flatMap((n) => [
    { what: `digits of ${n}`, bytes: utf8(String(n)) },
    { what: `CBOR of ${n}`, bytes: encodeCbor(n) },
  ]),
];
const longNeedles = byteNeedles.filter((n) => n.bytes.length >= MIN_NEEDLE);

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** personalIn lists the needles found in some bytes. */
function personalIn(bytes: Uint8Array, needles: readonly Needle[] = longNeedles): string[] {
  return needles.filter((n) => contains(bytes, n.bytes)).map((n) => n.what);
}

/** walk visits every text, byte string and integer of a decoded CBOR value, map keys included. */
function walk(v: CborValue, visit: (x: string | Uint8Array | number) => void): void {
  if (typeof v === 'string' || typeof v === 'number' || v instanceof Uint8Array) visit(v);
  else if (Array.isArray(v)) v.forEach((x) => walk(x, visit));
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      visit(k);
      walk(x, visit);
    }
  }
}

/** personalInDecoded lists the personal values in a decoded entry: exact integers, text containing a value, bytes containing one. */
function personalInDecoded(v: CborValue): string[] {
  const found: string[] = [];
  walk(v, (x) => {
    if (typeof x === 'number') {
      if (numberNeedles.includes(x)) found.push(`integer ${x}`);
    } else if (typeof x === 'string') {
      for (const s of textNeedles) if (x.includes(s)) found.push(`text ${s} in ${JSON.stringify(x)}`);
    } else {
      // byte strings of an entry are ids, keys, hashes, salts: 32 bytes at most, few of them
      found.push(...personalIn(x, byteNeedles.filter((n) => n.bytes.length >= 4)));
    }
  });
  return found;
}

// ---------------------------------------------------------------------------------------

let t: TestLedger;
let now = NOW;
const office = randomBytes(32);
const pharmacy = randomBytes(32);

interface Issued {
  claims: Claim[];
  digests: Uint8Array[];
  holderSeed: Uint8Array;
  event: CertIssue;
  bytes: Uint8Array;
}
let first: Issued;
let second: Issued;
let transferBytes: Uint8Array;
let transferSalt: Uint8Array;
let entries: Uint8Array[] = [];
let checkpointNotes: Uint8Array[] = [];
let guardFile: Uint8Array;
const levelRecords: { key: Uint8Array; value: Uint8Array }[] = [];

/** issueHousehold commits a fresh copy of the document to a holder key made for it alone, and anchors the issuance. */
async function issueHousehold(): Promise<Issued> {
  const claims = householdClaims();
  const { commitment, digests } = commitDocument(claims);
  const holderSeed = randomBytes(32); // the wallet derives one key per certificate
  const event: CertIssue = {
    type: 'cert.issue',
    id: newCertId(),
    docType: DOC,
    issuer: ed25519PublicKey(office),
    holder: ed25519PublicKey(holderSeed),
    commitment,
    issuedAt: now,
    validUntil: now + 90 * 86_400,
    time: now,
  };
  const bytes = encodeEvent(event, office);
  expect((await t.ledger.append(bytes)).duplicate).toBe(false);
  return { claims, digests, holderSeed, event, bytes };
}

beforeAll(async () => {
  t = await makeLedger({ clock: () => now * 1000, docTypes: TEST_DOC_TYPES.filter((d) => d.docType === DOC) }, 'example.com/privacy');
  const root = (await loadKeys(t.dir)).root!.seed;
  await t.ledger.append(encodeEvent({ type: 'issuer.register', issuer: ed25519PublicKey(office), name: OFFICE_NAME, docTypes: [DOC], time: now }, root));
  first = await issueHousehold();
  now += 60;
  // the holder sends its copy to the pharmacy, named only by a salted commitment to its key
  transferSalt = newSalt();
  transferBytes = encodeEvent(
    {
      type: 'cert.transfer',
      id: first.event.id,
      parent: leafHash(first.bytes),
      sender: first.event.holder,
      senderSalt: null,
      recipient: recipientCommitment(transferSalt, ed25519PublicKey(pharmacy)),
      nonce: newNonce(),
      time: now,
    },
    first.holderSeed,
  );
  await t.ledger.append(transferBytes);
  now += 3600;
  second = await issueHousehold(); // the same household, issued again

  const size = t.ledger.head.size;
  entries = await t.ledger.store.readEntries(0, size);
  checkpointNotes = [t.ledger.head.checkpoint, ...(await t.ledger.checkpoints(0, 1000)).map((c) => c.checkpoint)];
  await t.ledger.close();
  guardFile = new Uint8Array(await readFile(join(t.dir, 'last-checkpoint')));
  // The database itself: every logical record — through LevelDB (decompressed), or every
  // row of every table in PostgreSQL, keyed by the LevelDB prefix of its kind (spec §8.4, §8.4a).
  if (t.storeUrl !== undefined) {
    const c = new pg.Client({ connectionString: t.storeUrl });
    await c.connect();
    try {
      const tables: [number, string][] = [
        [0x01, 'select id::text::bytea as k, size::text::bytea || checkpoint as v from dojang_head'],
        [0x02, 'select idx::text::bytea as k, entry || leaf as v from dojang_entries'],
        [0x03, 'select idx::text::bytea as k, hash as v from dojang_hashes'],
        [0x05, 'select size::text::bytea as k, checkpoint as v from dojang_checkpoints'],
        [0x06, 'select k, v from dojang_state'],
      ];
      for (const [prefix, sql] of tables) {
        for (const row of (await c.query(sql)).rows) levelRecords.push({ key: Uint8Array.from([prefix, ...row.k]), value: new Uint8Array(row.v) });
      }
    } finally {
      await c.end();
    }
  } else {
    const db = new Level<Uint8Array, Uint8Array>(join(t.dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: false });
    await db.open();
    try {
      for await (const [key, value] of db.iterator()) levelRecords.push({ key: new Uint8Array(key), value: new Uint8Array(value) });
    } finally {
      await db.close();
    }
  }
});
afterAll(async () => {
  await t?.cleanup();
});

describe('privacy of certificate documents', () => {
  it('searches what it means to search: the needles are in the document, the records are readable', () => {
    // every personal value, as UTF-8 and CBOR, is in the document's own encoding
    const doc = encodeCbor(first.claims);
    for (const s of [ADDRESS, ...MEMBERS.flatMap((m) => [m.name, m.relation, m.birthDate, m.rrn])]) {
      expect(contains(doc, utf8(s)), s).toBe(true);
      expect(contains(doc, encodeCbor(s)), s).toBe(true);
    }
    for (const m of MEMBERS) expect(contains(doc, encodeCbor(Number(m.rrn.replace('-', ''))))).toBe(true);
    expect(personalInDecoded(first.claims as unknown as CborValue).length).toBeGreaterThan(0);
    // the LevelDB iteration sees the entries in clear: the office name and type are there
    expect(entries).toHaveLength(6); // genesis, doctype, register, issue, transfer, issue
    expect(levelRecords.filter((r) => r.key[0] === 0x02)).toHaveLength(6);
    expect(levelRecords.some((r) => contains(r.value, utf8(OFFICE_NAME)))).toBe(true);
    expect(levelRecords.some((r) => contains(r.value, utf8(DOC)))).toBe(true);
    expect(levelRecords.filter((r) => r.key[0] === 0x06).length).toBeGreaterThan(0); // the certificate-rule state
    expect(checkpointNotes.length).toBeGreaterThan(1);
    expect(contains(guardFile, utf8('example.com/privacy\n'))).toBe(true);
  });

  it('keeps every personal value out of every decoded entry', () => {
    for (const [i, e] of entries.entries()) {
      expect(personalInDecoded(decodeCbor(e)), `entry ${i}`).toEqual([]);
      expect(personalIn(e), `entry ${i} bytes`).toEqual([]);
    }
  });

  it('keeps every personal value out of every LevelDB key and value, the checkpoint notes and the guard file', () => {
    for (const r of levelRecords) {
      expect(personalIn(r.key), `key ${toHex(r.key)}`).toEqual([]);
      expect(personalIn(r.value), `value of ${toHex(r.key)}`).toEqual([]);
    }
    for (const [i, n] of checkpointNotes.entries()) expect(personalIn(n), `checkpoint note ${i}`).toEqual([]);
    expect(personalIn(guardFile), 'last-checkpoint').toEqual([]);
  });

  it('stores neither the claim digests nor the pharmacy key: only the commitment and the salted recipient', () => {
    const secrets: Needle[] = [
      ...[...first.digests, ...second.digests].map((d) => ({ what: `claim digest ${toHex(d)}`, bytes: d })),
      ...[...first.claims, ...second.claims].map((c) => ({ what: `salt of ${c[1]}`, bytes: c[0] })),
      { what: 'pharmacy key', bytes: ed25519PublicKey(pharmacy) },
      { what: 'recipient salt', bytes: transferSalt },
    ];
    const everything = [...entries, ...levelRecords.flatMap((r) => [r.key, r.value]), ...checkpointNotes, guardFile];
    for (const b of everything) expect(personalIn(b, secrets)).toEqual([]);
    // and the holder can still prove to the pharmacy what it needs: birth years and relations
    const names = MEMBERS.flatMap((_, i) => [`member.${i}.birthYear`, `member.${i}.relation`]);
    const shown = verifyDisclosure(disclose(first.claims, names), first.event.commitment);
    expect(Object.keys(shown).sort()).toEqual([...names].sort());
    expect(shown['member.2.birthYear']).toBe(2017);
  });

  it('makes the two certificates of one person share no holder key, id or commitment', () => {
    expect(equalBytes(first.event.holder, second.event.holder)).toBe(false);
    expect(equalBytes(first.event.id, second.event.id)).toBe(false);
    expect(equalBytes(first.event.commitment, second.event.commitment)).toBe(false);
    // more broadly: no byte string of one issuance's body but the issuer's key is in the other entry
    const strings = (e: CertIssue) => [e.id, e.holder, e.commitment];
    for (const s of strings(first.event)) expect(contains(second.bytes, s)).toBe(false);
    for (const s of strings(second.event)) expect(contains(first.bytes, s)).toBe(false);
    expect(contains(transferBytes, second.event.holder)).toBe(false);
    expect(contains(transferBytes, second.event.id)).toBe(false);
  });

  it('makes the commitments of identical documents differ by their salts alone', () => {
    const a = householdClaims();
    const b = householdClaims();
    expect(a.map((c) => [c[1], c[2]])).toEqual(b.map((c) => [c[1], c[2]])); // the same names and values
    const ca = commitDocument(a);
    const cb = commitDocument(b);
    expect(equalBytes(ca.commitment, cb.commitment)).toBe(false);
    const hexes = new Set([...ca.digests, ...cb.digests].map(toHex));
    expect(hexes.size).toBe(ca.digests.length + cb.digests.length); // no claim digest repeats either
    // control: with b's salts replaced by a's, the commitment is a's
    const same: Claim[] = b.map((c, i) => [a[i][0], c[1], c[2]]);
    expect(commitDocument(same).commitment).toEqual(ca.commitment);
  });
});
