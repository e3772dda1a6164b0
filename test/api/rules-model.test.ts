import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeLedger, type TestLedger } from '../helpers/ledger.js';
import { createApp } from '../../src/api/app.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { encodeEvent, eventBody, type CertEvent } from '../../src/core/events.js';
import { ed25519PublicKey } from '../../src/core/crypto.js';
import { decodeEntry, genesisBody, parseGenesis, signEntry, type CborMap } from '../../src/core/entry.js';
import { decodeCbor, encodeCbor } from '../../src/core/cbor.js';
import { concatBytes, toBase64, toHex, utf8 } from '../../src/core/bytes.js';
import {
  HTTP_STATUS,
  leafOf,
  LITERAL_READINGS,
  LONGEST_VALIDITY_S,
  RulesModel,
  type ModelEvent,
  type ModelIssue,
  type ModelTransfer,
  type Readings,
  type Submission,
  type Verdict,
} from '../reference/rules-model.js';

// A model-based property test of the certificate rules (spec §5.9) through
// POST /v1/entries (§8.6) and GET /v1/certificates/<id> (§8.7): random command
// sequences go, one at a time, to a real server over a real ledger and to the slow model
// of test/reference/rules-model.ts; every answer and the final state (the log, the state
// records of §8.3 and the status statements) must agree.
//
// Reproduce a failure with RULES_MODEL_SEED=<seed> RULES_MODEL_PATH=<path> (printed by
// fast-check); RULES_MODEL_RUNS sets the number of runs (default 40).

/**
 * Where the spec text allows two answers (see Readings in the model), the reading the
 * ledger follows. The report of the test names them.
 */
const READINGS: Readings = { retiredSuccessorRevokes: 'ISSUER_RETIRED' };
// RULES_MODEL_LITERAL=all (or a comma list of Readings names) takes the spec literally there.
for (const name of Object.keys(READINGS) as (keyof Readings)[]) {
  const literal = (process.env.RULES_MODEL_LITERAL ?? '').split(',');
  if (literal.includes('all') || literal.includes(name)) (READINGS as unknown as Record<string, string>)[name] = LITERAL_READINGS[name];
}

/** Ascending; the third enters the registry only by a random doctype.register (else UNKNOWN_DOCTYPE). */
const DOC_TYPES = ['kr.gov.family-relation.cert', 'kr.gov.resident-registration.copy', 'kr.gov.zz-rare'];
/** The maxValidity a doctype.register may give: around the validities the issuances ask for (see Validity). */
const MAX_VALIDITIES = [100_000, 2000, 1999, 4700, 300, LONGEST_VALIDITY_S, 11, 1];
/** The index into MAX_VALIDITIES of a random doctype.register: mostly ones that most issuances meet. */
const maxArb = fc.constantFrom(0, 0, 0, 5, 5, 1, 1, 2, 3, 4, 6, 7);
const START = 1_800_000_000;

// ---------------------------------------------------------------------------------------
// Commands, abstract: indices into a small universe, resolved against the state at run time.

type Skew = 0 | 7 | 300 | -300 | 301 | -301;
type Validity = 'normal' | 'short' | 'edge' | 'expired' | 'inverted' | 'future' | 'futureOk' | 'past' | 'pastOk' | 'long' | 'longest' | 'tooLongest' | 'zero';
type ParentMode = 'chain' | 'otherCert' | 'unknown' | 'nonEvent' | 'revoke';
type SenderMode = 'rightful' | 'stranger' | 'wrongSalt' | 'nullSalt' | 'wallet';
/** Who signs a cert.revoke: the certificate's issuer, the root key, the issuer's successor, another issuer, a wallet. */
type Revoker = 'issuer' | 'root' | 'successor' | 'other' | 'wallet';
/** The `from` of an issuer.compromise, from the issuer's entries: see build(). */
type FromMode = 'issue' | 'retire' | 'afterRetire' | 'lower' | 'same' | 'zero';
type Garbage =
  | 'empty'
  | 'break'
  | 'truncated'
  | 'trailing'
  | 'longHead'
  | 'unsortedDocTypes'
  | 'extraKey'
  | 'unknownType'
  | 'version2'
  | 'bench'
  | 'genesis'
  | 'genesisAgain'
  | 'tooLarge'
  | 'flippedSig'
  | 'shortSig'
  | 'badKeyIssuer'
  | 'badKeyHolder'
  | 'badKeySuccessor'
  | 'badKeyRevoker'
  | 'zeroValidity'
  | 'overlongValidity'
  | 'badDocType'
  | 'revokeByIssuerField';

/**
 * A certificate: one of the issued ones (the pick-th, in log order), one of those whose
 * issuer is retired (any issued one if none is), or the id of that index.
 */
type CertPick = { issued: number } | { ofRetired: number } | number;

type Cmd =
  | { c: 'doctype'; docType: number; max: number; wrongSigner: boolean; skew: Skew }
  /** issuer 'new': one never registered, if any is left. */
  | { c: 'register'; issuer: number | 'new'; docs: number; wrongSigner: boolean; skew: Skew }
  | { c: 'retire'; issuer: number | 'active'; pick: number; wrongSigner: boolean; skew: Skew }
  /** 'retired' / 'active': the pick-th issuer in that state at run time (issuers[pick] if none). */
  | { c: 'succeed'; issuer: number | 'retired'; successor: number | 'active'; pick: number; wrongSigner: boolean; skew: Skew }
  /** …and, with tryMove, a holder of one of the issuer's certificates issued from `from` on then sends it on. */
  | { c: 'compromise'; issuer: number | 'retired'; from: FromMode; pick: number; wrongSigner: boolean; skew: Skew; tryMove: boolean }
  /** docType 'allowed': one of those the issuer is registered for (DOC_TYPES[0] if none). */
  | { c: 'issue'; id: number; issuer: number | 'active'; docType: number | 'allowed'; holder: number; validity: Validity; otherSigner: boolean; skew: Skew }
  | { c: 'transfer'; cert: CertPick; parent: ParentMode; pick: number; sender: SenderMode; to: number; skew: Skew }
  /**
   * An office's key handed over: issuer.retire of the issuer, maybe issuer.succeed naming
   * the successor, maybe a revocation of one of its live certificates by the successor or
   * the root key, maybe an issuer.compromise of it (with tryMove).
   */
  | { c: 'handover'; issuer: number | 'active'; successor: number | 'active'; pick: number; succeed: boolean; revoke: 'successor' | 'root' | 'none'; compromise: FromMode | 'none' }
  /** n rightful transfers in a row, each from the one before, from the deepest copy of the certificate. */
  | { c: 'deepen'; cert: CertPick; n: number }
  | { c: 'revoke'; cert: CertPick; by: Revoker; pick: number; reason: number; skew: Skew }
  | { c: 'advance'; s: number }
  | { c: 'resubmit'; pick: number }
  | { c: 'garbage'; kind: Garbage };

const skewArb: fc.Arbitrary<Skew> = fc.oneof(
  { arbitrary: fc.constant(0 as const), weight: 12 },
  { arbitrary: fc.constantFrom<Skew>(7, 300, -300, 301, -301), weight: 4 },
);
const ISSUERS = 5;
const MAX_COMMANDS = 60;
const RUNS = 40;
const IDS = 8; // id 7 is never issued
const WALLETS = 4;
const wrongSignerArb = fc.constantFrom(false, false, false, false, false, true);

const certPickArb: fc.Arbitrary<CertPick> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ issued: fc.nat(10) }) },
  { weight: 2, arbitrary: fc.record({ ofRetired: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.nat(IDS - 1) },
);

const GARBAGE: Garbage[] = [
  'empty',
  'break',
  'truncated',
  'trailing',
  'longHead',
  'unsortedDocTypes',
  'extraKey',
  'unknownType',
  'version2',
  'bench',
  'genesis',
  'genesisAgain',
  'tooLarge',
  'flippedSig',
  'shortSig',
  'badKeyIssuer',
  'badKeyHolder',
  'badKeySuccessor',
  'badKeyRevoker',
  'zeroValidity',
  'overlongValidity',
  'badDocType',
  'revokeByIssuerField',
];

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ c: fc.constant('doctype' as const), docType: fc.nat(DOC_TYPES.length - 1), max: maxArb, wrongSigner: wrongSignerArb, skew: skewArb }) },
  {
    weight: 9,
    arbitrary: fc.record({ c: fc.constant('register' as const), issuer: fc.constantFrom<number | 'new'>('new', 'new', 0, 1, 2, 3, 4), docs: fc.integer({ min: 1, max: 7 }), wrongSigner: wrongSignerArb, skew: skewArb }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ c: fc.constant('retire' as const), issuer: fc.constantFrom<number | 'active'>('active', 'active', 0, 1, 2, 3, 4), pick: fc.nat(ISSUERS - 1), wrongSigner: wrongSignerArb, skew: skewArb }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      c: fc.constant('succeed' as const),
      issuer: fc.oneof(fc.constant('retired' as const), fc.nat(ISSUERS - 1)),
      successor: fc.oneof(fc.constant('active' as const), fc.nat(ISSUERS - 1)),
      pick: fc.nat(ISSUERS - 1),
      wrongSigner: wrongSignerArb,
      skew: skewArb,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      c: fc.constant('compromise' as const),
      issuer: fc.constantFrom<number | 'retired'>('retired', 'retired', 'retired', 0, 1, 2, 3),
      from: fc.constantFrom<FromMode>('issue', 'issue', 'issue', 'retire', 'afterRetire', 'lower', 'lower', 'same', 'zero'),
      pick: fc.nat(20),
      wrongSigner: wrongSignerArb,
      skew: skewArb,
      tryMove: fc.boolean(),
    }),
  },
  {
    weight: 20,
    arbitrary: fc.record({
      c: fc.constant('issue' as const),
      id: fc.nat(IDS - 2),
      issuer: fc.constantFrom<number | 'active'>('active', 'active', 'active', 'active', 0, 1, 2, 3),
      docType: fc.constantFrom<number | 'allowed'>('allowed', 'allowed', 'allowed', 0, 1, 2),
      holder: fc.nat(WALLETS - 1),
      validity: fc.constantFrom<Validity>(
        'normal',
        'normal',
        'normal',
        'normal',
        'normal',
        'normal',
        'normal',
        'normal',
        'short',
        'short',
        'edge',
        'expired',
        'inverted',
        'inverted',
        'inverted',
        'future',
        'futureOk',
        'past',
        'past',
        'pastOk',
        'long',
        'longest',
        'tooLongest',
        'zero',
      ),
      otherSigner: fc.constantFrom(false, false, false, false, false, false, false, false, false, false, false, true),
      skew: skewArb,
    }),
  },
  {
    weight: 22,
    arbitrary: fc.record({
      c: fc.constant('transfer' as const),
      cert: certPickArb,
      parent: fc.constantFrom<ParentMode>('chain', 'chain', 'chain', 'chain', 'chain', 'otherCert', 'unknown', 'nonEvent', 'revoke'),
      pick: fc.nat(20),
      sender: fc.constantFrom<SenderMode>('rightful', 'rightful', 'rightful', 'rightful', 'stranger', 'wrongSalt', 'nullSalt', 'wallet'),
      to: fc.nat(WALLETS - 1),
      skew: skewArb,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      c: fc.constant('handover' as const),
      issuer: fc.constantFrom<number | 'active'>('active', 'active', 'active', 'active', 'active', 0, 1),
      successor: fc.constantFrom<number | 'active'>('active', 'active', 'active', 'active', 'active', 1, 2),
      pick: fc.nat(ISSUERS - 1),
      succeed: fc.constantFrom(true, true, true, false),
      revoke: fc.constantFrom<'successor' | 'root' | 'none'>('successor', 'successor', 'successor', 'root', 'root', 'none'),
      compromise: fc.constantFrom<FromMode | 'none'>('none', 'none', 'issue', 'issue', 'afterRetire', 'zero'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('deepen' as const), cert: certPickArb, n: fc.constantFrom(2, 3, 5, 8) }) },
  {
    weight: 12,
    arbitrary: fc.record({
      c: fc.constant('revoke' as const),
      cert: certPickArb,
      by: fc.constantFrom<Revoker>('issuer', 'issuer', 'issuer', 'root', 'root', 'successor', 'successor', 'successor', 'other', 'wallet'),
      pick: fc.nat(ISSUERS - 1),
      reason: fc.nat(2),
      skew: skewArb,
    }),
  },
  { weight: 8, arbitrary: fc.record({ c: fc.constant('advance' as const), s: fc.constantFrom(1, 30, 299, 301, 1000, 5000) }) },
  { weight: 8, arbitrary: fc.record({ c: fc.constant('resubmit' as const), pick: fc.nat(1000) }) },
  { weight: 8, arbitrary: fc.record({ c: fc.constant('garbage' as const), kind: fc.constantFrom<Garbage>(...GARBAGE) }) },
);

/**
 * Every run starts by registering issuer 0 for all three types and the first two types
 * in the registry, then a random prelude of registrations and issuances, so that the
 * commands after have certificates to work on.
 */
const BASE: Cmd[] = [
  { c: 'register', issuer: 0, docs: 7, wrongSigner: false, skew: 0 },
  { c: 'doctype', docType: 0, max: 0, wrongSigner: false, skew: 0 },
  { c: 'doctype', docType: 1, max: 0, wrongSigner: false, skew: 0 },
];
const preludeArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      c: fc.constant('issue' as const),
      id: fc.nat(IDS - 2),
      issuer: fc.constant('active' as const),
      docType: fc.nat(1),
      holder: fc.nat(WALLETS - 1),
      validity: fc.constantFrom<Validity>('normal', 'normal', 'short', 'pastOk'),
      otherSigner: fc.constant(false),
      skew: fc.constant(0 as const),
    }),
  },
  { weight: 3, arbitrary: fc.record({ c: fc.constant('register' as const), issuer: fc.nat(ISSUERS - 1), docs: fc.constantFrom(1, 2, 3, 3, 7), wrongSigner: fc.constant(false), skew: fc.constant(0 as const) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('doctype' as const), docType: fc.nat(DOC_TYPES.length - 1), max: maxArb, wrongSigner: fc.constant(false), skew: fc.constant(0 as const) }) },
);

// ---------------------------------------------------------------------------------------
// The universe: deterministic keys and random-looking values, so a seed replays exactly.

const det = (label: string, n = 32): Uint8Array => new Uint8Array(createHash('sha256').update(`rules-model/${label}`).digest()).slice(0, n);

interface Key {
  seed: Uint8Array;
  pub: Uint8Array;
}
const keyOf = (label: string): Key => {
  const seed = det(`seed/${label}`);
  return { seed, pub: ed25519PublicKey(seed) };
};
const issuers = Array.from({ length: ISSUERS }, (_, i) => keyOf(`issuer/${i}`));
const wallets = Array.from({ length: WALLETS }, (_, i) => keyOf(`wallet/${i}`));
const stranger = keyOf('stranger');
const ids = Array.from({ length: IDS }, (_, i) => det(`id/${i}`, 16));
const SMALL_ORDER_KEY = new Uint8Array(32); // spec §2.2 rule 4: 0000…00

// ---------------------------------------------------------------------------------------
// One run: a fresh ledger and server, the commands in order, then the final state.

interface Tally {
  [k: string]: number;
}
const tally: Tally = {};
const count = (k: string) => (tally[k] = (tally[k] ?? 0) + 1);

const openLedgers: TestLedger[] = [];
afterAll(async () => {
  for (const t of openLedgers) await t.cleanup();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  type: string | null;
}

/** plain turns a decoded CBOR value into JSON-like data: byte strings as hex. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

async function runCommands(cmds: Cmd[]): Promise<void> {
  let now = START;
  const t = await makeLedger({ clock: () => now * 1000, sequencer: { recosignMs: 0 } }, 'example.com/rules-model');
  openLedgers.push(t);
  const server: Server = createServer(createApp({ ledger: t.ledger }).callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const transcript: string[] = [];
  try {
    const root = (await loadKeys(t.dir)).root!.seed;
    const rootKey: Key = { seed: root, pub: ed25519PublicKey(root) };
    const [genesisBytes] = await t.ledger.store.readEntries(0, 1);
    const genesis = parseGenesis(genesisBytes);
    const model = new RulesModel(rootKey.pub, genesisBytes, genesis.time, READINGS);

    let k = 0; // counter for nonces, salts, commitments
    const fresh = (what: string, n: number) => det(`${what}/${k++}`, n);
    // The secrets of the holders the harness made: leaf hex → key and salt (null for an issuance).
    const secrets = new Map<string, { key: Key; salt: Uint8Array | null }>();
    const history: Submission[] = [];
    const receipts = new Map<number, Record<string, unknown>>();

    const post = async (bytes: Uint8Array): Promise<Answer> => {
      const res = await fetch(`${base}/v1/entries`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: bytes as unknown as BodyInit });
      return { status: res.status, body: (await res.json()) as Record<string, unknown>, type: res.headers.get('content-type') };
    };
    const ev = (e: ModelEvent, signer: Key, sigIntact = true): Submission => {
      const bytes = encodeEvent(e as CertEvent, signer.seed);
      return { kind: 'event', bytes, event: e, signedBy: signer.pub, sigIntact };
    };
    /** signed: an event signed by any key, over a body built by hand (no checks). */
    const signed = (e: ModelEvent, body: CborMap, signer: Key): Submission => ({ kind: 'event', bytes: signEntry(e.type, body, signer.seed), event: e, signedBy: signer.pub, sigIntact: true });
    /** byRoot: a root event, or the same signed by another key. */
    const byRoot = (e: ModelEvent, wrongSigner: boolean, other: Key = stranger): Submission => (wrongSigner ? signed(e, eventBody(e as CertEvent), other) : ev(e, rootKey));

    const certOf = (p: CertPick): Uint8Array => {
      if (typeof p === 'number') return ids[p];
      const issued = model.log.flatMap((x) => (x.event?.type === 'cert.issue' ? [x.event] : []));
      const ofRetired = issued.filter((x) => model.issuerState(x.issuer) === 'retired');
      const [n, some] = 'issued' in p || ofRetired.length === 0 ? ['issued' in p ? p.issued : p.ofRetired, issued] : [p.ofRetired, ofRetired];
      return some.length > 0 ? some[n % some.length].id : ids[n % IDS];
    };
    const issuerOf = (key: Uint8Array): Key | undefined => issuers.find((i) => toHex(i.pub) === toHex(key));
    /** issuerIn: issuers[n], or the pick-th issuer in a state at this point of the log (issuers[pick] if there is none). */
    const issuerIn = (n: number | 'retired' | 'active', pick: number): Key => {
      if (typeof n === 'number') return issuers[n];
      const some = issuers.filter((i) => model.issuerState(i.pub) === n);
      return some.length > 0 ? some[pick % some.length] : issuers[pick % ISSUERS];
    };
    /** transferFrom: a rightful transfer of `id` from the holder by `parent` (whose secret the harness holds) to a wallet. */
    const transferFrom = (id: Uint8Array, parent: Uint8Array, to: number, skew: number): Submission => {
      const known = secrets.get(toHex(parent))!;
      return transferBy(id, parent, known.key, known.salt, to, skew);
    };
    const transferBy = (id: Uint8Array, parent: Uint8Array, sender: Key, senderSalt: Uint8Array | null, to: number, skew: number): Submission => {
      const salt = fresh('salt', 16);
      const recipient = createHash('sha256').update('dojang/v1/recipient\n').update(salt).update(wallets[to].pub).digest();
      const e: ModelEvent = { type: 'cert.transfer', id, parent, sender: sender.pub, senderSalt, recipient: new Uint8Array(recipient), nonce: fresh('nonce', 16), time: now + skew };
      const s = ev(e, sender);
      secrets.set(toHex(leafOf(s.bytes)), { key: wallets[to], salt });
      return s;
    };

    const build = (cmd: Cmd): Submission | undefined => {
      const T = now;
      switch (cmd.c) {
        case 'doctype': {
          const e: ModelEvent = { type: 'doctype.register', docType: DOC_TYPES[cmd.docType], maxValidity: MAX_VALIDITIES[cmd.max], time: T + cmd.skew };
          return byRoot(e, cmd.wrongSigner, issuers[0]);
        }
        case 'register': {
          const docTypes = DOC_TYPES.filter((_, i) => cmd.docs & (1 << i));
          const unused = issuers.filter((x) => model.issuerState(x.pub) === 'none');
          const n = cmd.issuer === 'new' ? issuers.indexOf(unused.length > 0 ? unused[cmd.docs % unused.length] : issuers[cmd.docs % ISSUERS]) : cmd.issuer;
          const e: ModelEvent = { type: 'issuer.register', issuer: issuers[n].pub, name: `Office ${n}`, docTypes, time: T + cmd.skew };
          return byRoot(e, cmd.wrongSigner);
        }
        case 'retire': {
          const key = issuerIn(cmd.issuer, cmd.pick);
          const e: ModelEvent = { type: 'issuer.retire', issuer: key.pub, time: T + cmd.skew };
          return byRoot(e, cmd.wrongSigner, key);
        }
        case 'succeed': {
          const successor = issuerIn(cmd.successor, cmd.pick);
          const e: ModelEvent = { type: 'issuer.succeed', issuer: issuerIn(cmd.issuer, cmd.pick).pub, successor: successor.pub, time: T + cmd.skew };
          return byRoot(e, cmd.wrongSigner, successor);
        }
        case 'compromise': {
          // 'retired': one that issued certificates, if any did.
          const issuing = issuers.filter((x) => model.issuerState(x.pub) === 'retired' && model.log.some((y) => y.event?.type === 'cert.issue' && toHex(y.event.issuer) === toHex(x.pub)));
          const key = (cmd.issuer === 'retired' && issuing.length > 0 ? issuing[cmd.pick % issuing.length] : issuerIn(cmd.issuer, cmd.pick)).pub;
          const r = model.issuer(key);
          const retired = r?.retire?.index;
          const lowest = r === undefined || r.compromises.length === 0 ? undefined : Math.min(...r.compromises.map((c) => c.event.from));
          const issued = model.log.filter((x) => x.event?.type === 'cert.issue' && toHex(x.event.issuer) === toHex(key)).map((x) => x.index);
          const from = {
            issue: issued.length > 0 ? issued[cmd.pick % issued.length] : (retired ?? cmd.pick),
            retire: retired ?? cmd.pick % model.log.length,
            afterRetire: (retired ?? cmd.pick) + 1,
            lower: Math.max(0, lowest !== undefined ? lowest - 1 : (retired ?? cmd.pick) - (cmd.pick % 3)),
            same: lowest ?? retired ?? cmd.pick,
            zero: 0,
          }[cmd.from];
          const e: ModelEvent = { type: 'issuer.compromise', issuer: key, from, time: T + cmd.skew };
          return byRoot(e, cmd.wrongSigner, issuerIn(cmd.issuer, cmd.pick));
        }
        case 'issue': {
          const v = {
            normal: [T, T + 2000],
            short: [T - 100, T + 200],
            edge: [T - 10, T + 1],
            expired: [T - 200, T],
            inverted: [T, T],
            future: [T + 301, T + 5000],
            futureOk: [T + 300, T + 5000],
            past: [T - 301, T + 1000],
            pastOk: [T - 300, T + 1700],
            long: [T, T + 100_001],
            longest: [T, T + LONGEST_VALIDITY_S],
            tooLongest: [T - 1, T + LONGEST_VALIDITY_S],
            zero: [0, T + 100],
          }[cmd.validity];
          const signer = issuerIn(cmd.issuer, cmd.holder);
          const allowed = model.issuer(signer.pub)?.register.event.docTypes ?? [DOC_TYPES[0]];
          const e: ModelEvent = {
            type: 'cert.issue',
            id: ids[cmd.id],
            docType: cmd.docType === 'allowed' ? allowed[cmd.holder % allowed.length] : DOC_TYPES[cmd.docType],
            issuer: signer.pub,
            holder: wallets[cmd.holder].pub,
            commitment: fresh('commitment', 32),
            issuedAt: v[0],
            validUntil: v[1],
            time: T + cmd.skew,
          };
          const s = cmd.otherSigner ? signed(e, eventBody(e as CertEvent), issuers[(issuers.indexOf(signer) + 1) % ISSUERS]) : ev(e, signer);
          secrets.set(toHex(leafOf(s.bytes)), { key: wallets[cmd.holder], salt: null });
          return s;
        }
        case 'transfer': {
          const id = certOf(cmd.cert);
          const own = model.eventsOf(id);
          const holders = own.filter((x) => x.event.type !== 'cert.revoke');
          let parent: Uint8Array;
          switch (cmd.parent) {
            case 'chain':
              parent = holders.length > 0 ? holders[cmd.pick % holders.length].leaf : fresh('parent', 32);
              break;
            case 'otherCert': {
              const others = model.log.filter((x) => (x.event?.type === 'cert.issue' || x.event?.type === 'cert.transfer') && toHex(x.event.id) !== toHex(id));
              parent = others.length > 0 ? others[cmd.pick % others.length].leaf : fresh('parent', 32);
              break;
            }
            case 'unknown':
              parent = fresh('parent', 32);
              break;
            case 'nonEvent': {
              const non = model.log.filter((x) => x.event === undefined || !x.event.type.startsWith('cert.'));
              parent = non[cmd.pick % non.length].leaf;
              break;
            }
            case 'revoke': {
              const r = own.find((x) => x.event.type === 'cert.revoke');
              parent = r !== undefined ? r.leaf : fresh('parent', 32);
              break;
            }
          }
          const known = secrets.get(toHex(parent));
          if (known === undefined) return transferBy(id, parent, wallets[cmd.to], null, cmd.to, cmd.skew);
          switch (cmd.sender) {
            case 'rightful':
              return transferBy(id, parent, known.key, known.salt, cmd.to, cmd.skew);
            case 'stranger':
              return transferBy(id, parent, stranger, known.salt === null ? null : fresh('salt', 16), cmd.to, cmd.skew);
            case 'wrongSalt':
              return transferBy(id, parent, known.key, fresh('salt', 16), cmd.to, cmd.skew);
            case 'nullSalt':
              return transferBy(id, parent, known.key, null, cmd.to, cmd.skew);
            case 'wallet':
              return transferBy(id, parent, wallets[cmd.pick % WALLETS], known.salt, cmd.to, cmd.skew);
          }
          break;
        }
        case 'deepen':
        case 'handover':
          return undefined; // submitted one event at a time by the loop
        case 'revoke': {
          // The root key or a successor revokes, if there is one, a live certificate of
          // an issuer that is retired or has a successor (else the pick).
          const entitled = model.log.flatMap((x) => {
            if (x.event?.type !== 'cert.issue' || model.certificate(x.event.id, T)!.state !== 'active') return [];
            const r = model.issuer(x.event.issuer);
            return (cmd.by === 'root' ? r?.retire : r?.succeed) !== undefined ? [x.event.id] : [];
          });
          const aimed = (cmd.by === 'root' || cmd.by === 'successor') && typeof cmd.cert !== 'number' && entitled.length > 0;
          const id = aimed ? entitled[cmd.pick % entitled.length] : certOf(cmd.cert);
          const issue = model.issueOf(id);
          const certIssuer = issue === undefined ? issuers[0] : issuerOf(issue.event.issuer)!;
          const successor = issue === undefined ? undefined : model.issuer(issue.event.issuer)?.succeed?.event.successor;
          const by = {
            issuer: certIssuer,
            root: rootKey,
            successor: successor === undefined ? issuers[cmd.pick] : issuerOf(successor)!,
            other: issuers[cmd.pick],
            wallet: wallets[cmd.pick % WALLETS],
          }[cmd.by];
          const e: ModelEvent = { type: 'cert.revoke', id, revoker: by.pub, reason: ['', 'reissued', '재발급'][cmd.reason], time: T + cmd.skew };
          return ev(e, by);
        }
        case 'advance':
          now += cmd.s;
          return undefined;
        case 'resubmit':
          return history.length > 0 ? history[cmd.pick % history.length] : undefined;
        case 'garbage':
          return garbage(cmd.kind);
      }
    };

    const garbage = (kind: Garbage): Submission => {
      const T = now;
      const reg: ModelEvent = { type: 'issuer.register', issuer: keyOf(`g/${k++}`).pub, name: 'Garbage Office', docTypes: [DOC_TYPES[1]], time: T };
      const valid = encodeEvent(reg as CertEvent, root);
      const unreadable = (bytes: Uint8Array, code: 'MALFORMED' | 'NON_CANONICAL' | 'TOO_LARGE' | 'UNSUPPORTED'): Submission => ({ kind: 'unreadable', bytes, code });
      switch (kind) {
        case 'empty':
          return unreadable(new Uint8Array(0), 'MALFORMED');
        case 'break':
          return unreadable(Uint8Array.of(0xff), 'MALFORMED');
        case 'truncated':
          return unreadable(valid.subarray(0, valid.length - 3), 'MALFORMED');
        case 'trailing':
          return unreadable(concatBytes(valid, Uint8Array.of(0)), 'MALFORMED');
        case 'longHead':
          // {"v": 1, …} with the 1 in a two-byte head: 0x18 0x01 (spec §5.1: a head longer than needed)
          expect(Array.from(valid.subarray(0, 4))).toEqual([0xa4, 0x61, 0x76, 0x01]);
          return unreadable(concatBytes(valid.subarray(0, 3), Uint8Array.of(0x18, 0x01), valid.subarray(4)), 'NON_CANONICAL');
        case 'unsortedDocTypes':
          return unreadable(signEntry('issuer.register', { ...eventBody(reg as CertEvent), docTypes: [DOC_TYPES[1], DOC_TYPES[0]] }, root), 'NON_CANONICAL');
        case 'extraKey':
          return unreadable(signEntry('issuer.register', { ...eventBody(reg as CertEvent), extra: 1 }, root), 'MALFORMED');
        case 'unknownType':
          return unreadable(signEntry('cert.frobnicate', { a: 1 }, root), 'UNSUPPORTED');
        case 'version2':
          return unreadable(encodeCbor({ v: 2, type: 'issuer.register', body: eventBody(reg as CertEvent), sig: decodeEntry(valid).sig }), 'UNSUPPORTED');
        case 'bench':
          return unreadable(encodeCbor({ v: 1, type: 'bench.record', body: { run: fresh('run', 16), n: 1, pad: new Uint8Array(4) }, sig: new Uint8Array(64) }), 'UNSUPPORTED');
        case 'genesis':
          return { kind: 'genesis', bytes: signEntry('genesis', genesisBody({ ...genesis, time: T + k++ }), root) };
        case 'genesisAgain': // entry 0 verbatim: already in the log (§8.2 step 2)
          return { kind: 'genesis', bytes: genesisBytes };
        case 'tooLarge':
          return unreadable(new Uint8Array(65_536), 'TOO_LARGE');
        case 'flippedSig': {
          const bytes = valid.slice();
          bytes[20] ^= 0x01; // inside R of the signature (the envelope's sig starts at byte 10)
          return { kind: 'event', bytes, event: reg, signedBy: rootKey.pub, sigIntact: false };
        }
        case 'shortSig':
          return unreadable(encodeCbor({ v: 1, type: 'issuer.register', body: eventBody(reg as CertEvent), sig: new Uint8Array(63) }), 'MALFORMED');
        case 'badKeyIssuer': {
          // a cert.issue naming a small-order issuer key, signed by a real issuer
          const e: ModelEvent = { type: 'cert.issue', id: fresh('id', 16), docType: DOC_TYPES[1], issuer: SMALL_ORDER_KEY, holder: wallets[0].pub, commitment: fresh('c', 32), issuedAt: T, validUntil: T + 100, time: T };
          return signed(e, bodyOf(e), issuers[0]);
        }
        case 'badKeyHolder': {
          const e: ModelEvent = { type: 'cert.issue', id: fresh('id', 16), docType: DOC_TYPES[1], issuer: issuers[0].pub, holder: SMALL_ORDER_KEY, commitment: fresh('c', 32), issuedAt: T, validUntil: T + 100, time: T };
          return signed(e, bodyOf(e), issuers[0]);
        }
        case 'badKeySuccessor': {
          const e: ModelEvent = { type: 'issuer.succeed', issuer: issuers[0].pub, successor: SMALL_ORDER_KEY, time: T };
          return signed(e, bodyOf(e), rootKey);
        }
        case 'badKeyRevoker': {
          const e: ModelEvent = { type: 'cert.revoke', id: ids[0], revoker: SMALL_ORDER_KEY, reason: '', time: T };
          return signed(e, bodyOf(e), issuers[0]);
        }
        case 'zeroValidity': // maxValidity outside 1 … 316,224,000 (§5.7)
          return unreadable(signEntry('doctype.register', { docType: DOC_TYPES[2], maxValidity: 0, time: T }, root), 'MALFORMED');
        case 'overlongValidity':
          return unreadable(signEntry('doctype.register', { docType: DOC_TYPES[2], maxValidity: LONGEST_VALIDITY_S + 1, time: T }, root), 'MALFORMED');
        case 'badDocType':
          return unreadable(signEntry('doctype.register', { docType: 'Kr.gov.copy', maxValidity: 1000, time: T }, root), 'MALFORMED');
        case 'revokeByIssuerField': // the body of the earlier draft: `issuer`, not `revoker`
          return unreadable(signEntry('cert.revoke', { id: ids[0], issuer: issuers[0].pub, reason: '', time: T }, issuers[0].seed), 'MALFORMED');
      }
    };

    /** step submits one entry to the model and the server and compares the answers. */
    const step = async (i: number, cmd: Cmd, s: Submission): Promise<Verdict> => {
      history.push(s);
      const T = now;
      const want: Verdict = model.submit(s, T);
      const got = await post(s.bytes);
      transcript.push(`#${i} ${JSON.stringify(cmd)} T=${T} model=${JSON.stringify(want)} real=${got.status} ${String(got.body.code ?? got.body.index)}`);
      const where = () => `command #${i} ${JSON.stringify(cmd)}\n${s.kind === 'event' ? describe_(s.event) : s.kind}\ntranscript:\n${transcript.join('\n')}`;
      if (want.outcome === 'refused') {
        count(want.code);
        expect({ status: got.status, code: got.body.code, type: got.type }, where()).toEqual({ status: HTTP_STATUS[want.code], code: want.code, type: 'application/problem+json' });
      } else if (want.outcome === 'appended') {
        count(`appended ${s.kind === 'event' ? s.event.type : s.kind}`);
        if (s.kind === 'event' && s.event.type === 'cert.revoke') {
          const iss = model.issueOf(s.event.id)!.event.issuer;
          count(`revoked by ${toHex(s.event.revoker) === toHex(iss) ? 'issuer' : toHex(s.event.revoker) === toHex(rootKey.pub) ? 'root' : 'successor'}`);
        }
        if (s.kind === 'event' && s.event.type === 'doctype.register' && model.log.some((x) => x.index < want.index && x.event?.type === 'doctype.register' && x.event.docType === (s.event as { docType: string }).docType)) {
          count('doctype maximum changed');
        }
        expect({ status: got.status, index: got.body.index, size: got.body.size, time: got.body.time, leafHash: got.body.leafHash }, where()).toEqual({
          status: 201,
          index: want.index,
          size: want.index + 1,
          time: want.time,
          leafHash: toBase64(leafOf(s.bytes)),
        });
        receipts.set(want.index, got.body);
      } else {
        count(want.index === 0 ? 'duplicate genesis' : 'duplicate');
        expect({ status: got.status, index: got.body.index }, where()).toEqual({ status: 200, index: want.index });
        const first = receipts.get(want.index);
        if (first === undefined) receipts.set(want.index, got.body);
        else expect(got.body, `${where()}\nthe resubmission's receipt differs from the first`).toEqual(first);
      }
      return want;
    };

    /** run submits what a command makes: one entry, or for the stories (handover, deepen, compromise with tryMove) a few in turn. */
    const run = async (i: number, cmd: Cmd): Promise<void> => {
      if (cmd.c === 'handover') {
        // 'active': one with live certificates, if any has.
        const liveOf = (x: Key) => model.log.flatMap((y) => (y.event?.type === 'cert.issue' && toHex(y.event.issuer) === toHex(x.pub) && model.certificate(y.event.id, now)!.state === 'active' ? [y.event.id] : []));
        const live = issuers.filter((x) => model.issuerState(x.pub) === 'active' && liveOf(x).length > 0);
        const from = cmd.issuer === 'active' && live.length > 0 ? live[cmd.pick % live.length] : issuerIn(cmd.issuer, cmd.pick);
        const active = issuers.filter((x) => x !== from && model.issuerState(x.pub) === 'active');
        const unused = issuers.filter((x) => model.issuerState(x.pub) === 'none');
        const to = cmd.successor !== 'active' ? issuers[cmd.successor] : active.length > 0 ? active[cmd.pick % active.length] : unused.length > 0 ? unused[0] : issuers[(cmd.pick + 1) % ISSUERS];
        if (cmd.successor === 'active' && active.length === 0 && unused.length > 0) {
          // the office's new key, registered first
          const docTypes = model.issuer(from.pub)?.register.event.docTypes ?? [DOC_TYPES[0]];
          await step(i, cmd, ev({ type: 'issuer.register', issuer: to.pub, name: `Office ${issuers.indexOf(to)}`, docTypes, time: now }, rootKey));
        }
        await step(i, cmd, ev({ type: 'issuer.retire', issuer: from.pub, time: now }, rootKey));
        if (cmd.succeed) await step(i, cmd, ev({ type: 'issuer.succeed', issuer: from.pub, successor: to.pub, time: now }, rootKey));
        // then the new key (or the root key) revokes one of the old one's live certificates, to reissue it
        const old = liveOf(from);
        const by = cmd.revoke === 'successor' ? to : rootKey;
        if (cmd.revoke !== 'none' && old.length > 0) await step(i, cmd, ev({ type: 'cert.revoke', id: old[cmd.pick % old.length], revoker: by.pub, reason: 'reissued', time: now }, by));
        // and the key turns out to have been stolen
        if (cmd.compromise !== 'none') await run(i, { c: 'compromise', issuer: issuers.indexOf(from), from: cmd.compromise, pick: cmd.pick, wrongSigner: false, skew: 0, tryMove: true });
        return;
      }
      if (cmd.c === 'deepen') {
        // From the deepest copy the harness can send on (an issuance or transfer in the log).
        const id = certOf(cmd.cert);
        const copies = model.eventsOf(id).filter((x): x is typeof x & { event: ModelIssue | ModelTransfer } => x.event.type !== 'cert.revoke' && secrets.has(toHex(x.leaf)));
        if (copies.length === 0) {
          transcript.push(`#${i} ${JSON.stringify(cmd)} (no copy, T=${now})`);
          return;
        }
        let parent = copies.reduce((a, b) => (model.depthOf(b) > model.depthOf(a) ? b : a)).leaf;
        for (let j = 0; j < cmd.n; j++) {
          const s = transferFrom(id, parent, j % WALLETS, 0);
          if ((await step(i, cmd, s)).outcome !== 'appended') break;
          parent = leafOf(s.bytes);
        }
        return;
      }
      const s = build(cmd);
      if (s === undefined) {
        transcript.push(`#${i} ${JSON.stringify(cmd)} (T=${now})`);
        return;
      }
      await step(i, cmd, s);
      if (cmd.c === 'compromise' && cmd.tryMove && s.kind === 'event' && s.event.type === 'issuer.compromise') {
        // a holder of one of the issuer's certificates issued from `from` on sends it on
        const { issuer, from } = s.event;
        const later = model.log.filter((y) => y.event?.type === 'cert.issue' && toHex(y.event.issuer) === toHex(issuer) && y.index >= from);
        if (later.length > 0) {
          const issue = later[cmd.pick % later.length];
          await step(i, cmd, transferFrom((issue.event as ModelIssue).id, issue.leaf, cmd.pick % WALLETS, 0));
        }
      }
    };
    for (const [i, cmd] of cmds.entries()) await run(i, cmd);

    // The final state: the log is exactly the model's, in order.
    expect(t.ledger.head.size, `log size\n${transcript.join('\n')}`).toBe(model.log.length);
    const stored = await t.ledger.store.readEntries(0, model.log.length);
    expect(stored.map(toHex)).toEqual(model.log.map((e) => toHex(e.bytes)));

    // The state records (spec §8.3) are the model's: every record it derives, and none
    // for what the log does not hold (unissued ids, unregistered keys and types, the
    // leaf hashes of refused entries).
    const want = model.records();
    const probes = new Set<string>(want.keys());
    const hexKey = (prefix: string, id: Uint8Array) => toHex(concatBytes(utf8(prefix), id));
    for (const d of DOC_TYPES) probes.add(hexKey('D', utf8(d)));
    for (const i of [...issuers, stranger]) probes.add(hexKey('I', i.pub));
    for (const id of ids) probes.add(hexKey('C', id));
    for (const s of history) probes.add(hexKey('P', leafOf(s.bytes)));
    const keys = [...probes];
    const values = await t.ledger.store.readState(keys.map((h) => Uint8Array.from(Buffer.from(h, 'hex'))));
    const got = Object.fromEntries(keys.map((h, i) => [h, values[i] === undefined ? undefined : plain(decodeCbor(values[i]!))]));
    expect(got, `state records\n${transcript.join('\n')}`).toEqual(Object.fromEntries(keys.map((h) => [h, want.get(h)])));

    // And every certificate's status statement (spec §8.7) says what the model says.
    const lastT = model.log[model.log.length - 1].time;
    for (const id of ids) {
      const res = await fetch(`${base}/v1/certificates/${toHex(id)}`);
      const body = (await res.json()) as { statement: string; events: { index: number; entry: string }[]; issuer: { index: number; entry: string }[]; code?: string };
      if (model.issueOf(id) === undefined) {
        expect({ status: res.status, code: body.code }, `certificate ${toHex(id)}`).toEqual({ status: 404, code: 'NOT_FOUND' });
        continue;
      }
      expect(res.status, `certificate ${toHex(id)}: ${JSON.stringify(body)}`).toBe(200);
      const lines = Object.fromEntries(
        body.statement
          .split('\n\n')[0]
          .split('\n')
          .slice(1)
          .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]),
      );
      const time = Number(lines.time);
      expect(time).toBeGreaterThanOrEqual(lastT);
      expect(time).toBeLessThanOrEqual(now);
      const m = model.certificate(id, time)!;
      count(`status ${m.state}`);
      expect({ state: lines.state, size: Number(lines.size), events: lines.events, issuer: lines.issuer }, `certificate ${toHex(id)}\n${transcript.join('\n')}`).toEqual({
        state: m.state,
        size: model.log.length,
        events: m.events.join(' '),
        issuer: m.issuer.join(' '),
      });
      expect(body.events.map((e) => [e.index, e.entry])).toEqual(m.events.map((i) => [i, toBase64(model.log[i].bytes)]));
      expect(body.issuer.map((e) => [e.index, e.entry])).toEqual(m.issuer.map((i) => [i, toBase64(model.log[i].bytes)]));
    }
  } finally {
    await new Promise((r) => server.close(r));
    await t.cleanup();
    openLedgers.splice(openLedgers.indexOf(t), 1);
  }
}

/** bodyOf is an event's body without the checks of eventBody (for bodies the spec refuses). */
function bodyOf(e: ModelEvent): CborMap {
  const { type: _type, ...body } = e;
  return body as unknown as CborMap;
}

function describe_(e: ModelEvent): string {
  return JSON.stringify(e, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v));
}

const issueCmd = (id: number, issuer = 0, validity: Validity = 'normal', docType = 0): Cmd => ({ c: 'issue', id, issuer, docType, holder: id % WALLETS, validity, otherSigner: false, skew: 0 });
const revokeCmd = (id: number, by: Revoker, pick = 0): Cmd => ({ c: 'revoke', cert: id, by, pick, reason: 1, skew: 0 });
const compromiseCmd = (issuer: number, from: FromMode, pick = 0, skew: Skew = 0): Cmd => ({ c: 'compromise', issuer, from, pick, wrongSigner: false, skew, tryMove: false });

describe('certificate rules against the reference model, through HTTP', () => {
  // Sequences the random runs reach rarely or never, pinned (their answers are the model's too).
  it('refuses to register a retired issuer key again, and a revocation as a transfer parent', async () => {
    await runCommands([
      ...BASE,
      { c: 'register', issuer: 1, docs: 1, wrongSigner: false, skew: 0 },
      { c: 'retire', issuer: 1, pick: 0, wrongSigner: false, skew: 7 },
      { c: 'register', issuer: 1, docs: 2, wrongSigner: false, skew: 0 },
      issueCmd(0),
      revokeCmd(0, 'issuer'),
      { c: 'transfer', cert: 0, parent: 'revoke', pick: 0, sender: 'rightful', to: 0, skew: 0 },
    ]);
  });

  it('lets the successor and the root key revoke a retired issuer’s certificates, and nobody else', async () => {
    await runCommands([
      ...BASE,
      { c: 'register', issuer: 1, docs: 1, wrongSigner: false, skew: 0 },
      { c: 'register', issuer: 2, docs: 1, wrongSigner: false, skew: 0 },
      issueCmd(0),
      issueCmd(1),
      issueCmd(2),
      issueCmd(3),
      revokeCmd(0, 'root'), // NOT_ISSUER: the issuer is active
      revokeCmd(0, 'other', 1), // NOT_ISSUER
      { c: 'succeed', issuer: 0, successor: 1, pick: 0, wrongSigner: false, skew: 0 }, // ISSUER_NOT_RETIRED
      { c: 'retire', issuer: 0, pick: 0, wrongSigner: false, skew: 0 },
      revokeCmd(0, 'issuer'), // ISSUER_RETIRED
      revokeCmd(0, 'other', 1), // NOT_ISSUER: no successor yet
      { c: 'succeed', issuer: 0, successor: 3, pick: 0, wrongSigner: false, skew: 0 }, // UNKNOWN_ISSUER
      { c: 'succeed', issuer: 0, successor: 0, pick: 0, wrongSigner: false, skew: 0 }, // ISSUER_RETIRED
      { c: 'succeed', issuer: 0, successor: 1, pick: 0, wrongSigner: false, skew: 0 },
      { c: 'succeed', issuer: 0, successor: 2, pick: 0, wrongSigner: false, skew: 0 }, // CONFLICT
      revokeCmd(0, 'other', 2), // NOT_ISSUER: not the successor
      revokeCmd(0, 'successor'),
      revokeCmd(1, 'root'),
      revokeCmd(1, 'successor'), // CERT_REVOKED
      { c: 'retire', issuer: 1, pick: 0, wrongSigner: false, skew: 0 },
      revokeCmd(2, 'successor'), // the retired successor (Readings.retiredSuccessorRevokes)
      revokeCmd(2, 'root'),
      { c: 'advance', s: 5000 },
      revokeCmd(3, 'root'), // CERT_EXPIRED
    ]);
  });

  it('marks a retired issuer compromised at most 16 times, each from lower, and stops its later copies moving', async () => {
    // 14 entries between the two issuances (distinct bytes: a second apart), so that 16 compromises fit below the retirement
    const fillers: Cmd[] = Array.from({ length: 14 }, (): Cmd[] => [
      { c: 'advance', s: 1 },
      { c: 'doctype', docType: 2, max: 0, wrongSigner: false, skew: 0 },
    ]).flat();
    await runCommands([
      ...BASE,
      compromiseCmd(1, 'zero'), // UNKNOWN_ISSUER
      { c: 'register', issuer: 1, docs: 1, wrongSigner: false, skew: 0 },
      compromiseCmd(1, 'zero'), // ISSUER_NOT_RETIRED
      issueCmd(0, 1),
      ...fillers,
      issueCmd(1, 1),
      { c: 'retire', issuer: 1, pick: 0, wrongSigner: false, skew: 0 },
      compromiseCmd(1, 'afterRetire'), // BAD_COMPROMISE
      compromiseCmd(1, 'issue', 1), // from the second issuance: its copies stop, the first's move
      { c: 'transfer', cert: 1, parent: 'chain', pick: 0, sender: 'rightful', to: 1, skew: 0 }, // ISSUER_COMPROMISED
      { c: 'transfer', cert: 0, parent: 'chain', pick: 0, sender: 'rightful', to: 1, skew: 0 },
      compromiseCmd(1, 'same', 0, 7), // BAD_COMPROMISE (a second later: not the same entry)
      compromiseCmd(1, 'retire'), // BAD_COMPROMISE: not lower
      ...Array.from({ length: 16 }, () => compromiseCmd(1, 'lower')), // the 16th is one too many
      revokeCmd(1, 'root'), // admitted whatever the compromise
    ]);
  });

  it('issues a type only once it is in the registry, within its latest maximum validity', async () => {
    const rare = (validity: Validity, id: number): Cmd => issueCmd(id, 0, validity, 2);
    const doctype = (max: number): Cmd => ({ c: 'doctype', docType: 2, max, wrongSigner: false, skew: 0 });
    await runCommands([
      ...BASE,
      rare('normal', 0), // UNKNOWN_DOCTYPE
      doctype(1), // 2000 s
      rare('normal', 0), // exactly the maximum
      doctype(2), // 1999 s: for the issuances after it
      rare('normal', 1), // VALIDITY_TOO_LONG
      rare('pastOk', 1), // VALIDITY_TOO_LONG (issued 300 s back, 2000 s)
      rare('short', 1),
      doctype(5), // 3,660 days
      rare('longest', 2),
      rare('tooLongest', 3), // VALIDITY_TOO_LONG
      rare('zero', 3), // ISSUED_AT_SKEW
      rare('past', 3), // ISSUED_AT_SKEW
      rare('future', 3), // ISSUED_AT_SKEW
      rare('inverted', 3), // BAD_REQUEST
      rare('expired', 3), // CERT_EXPIRED
      rare('futureOk', 3),
    ]);
  });

  it('refuses the 65th transfer of a chain (CHAIN_TOO_LONG), and lets other chains of the copy grow', async () => {
    await runCommands([
      ...BASE,
      issueCmd(0),
      { c: 'deepen', cert: 0, n: 66 },
      { c: 'transfer', cert: 0, parent: 'chain', pick: 0, sender: 'rightful', to: 2, skew: 0 },
    ]);
  });

  it('answers every command as the model does and ends in the model state', async () => {
    const seed = process.env.RULES_MODEL_SEED === undefined ? undefined : Number(process.env.RULES_MODEL_SEED);
    const path = process.env.RULES_MODEL_PATH;
    const numRuns = Number(process.env.RULES_MODEL_RUNS ?? RUNS);
    for (const k of Object.keys(tally)) delete tally[k]; // count the random runs alone
    await fc.assert(
      fc.asyncProperty(fc.array(preludeArb, { minLength: 1, maxLength: 5, size: 'max' }), fc.array(cmdArb, { minLength: 15, maxLength: MAX_COMMANDS, size: 'max' }), async (prelude, cmds) => {
        await runCommands([...BASE, ...prelude, ...cmds]);
      }),
      { numRuns, seed, path },
    );
    // The generator must reach the interesting answers, or the comparison says little.
    console.log('rules-model tally:', JSON.stringify(tally));
    const expected = ['appended cert.issue', 'appended cert.transfer', 'appended cert.revoke', 'appended issuer.retire', 'duplicate'];
    expected.push('appended doctype.register', 'doctype maximum changed', 'appended issuer.succeed', 'appended issuer.compromise', 'revoked by root', 'revoked by successor');
    expected.push('NOT_HOLDER', 'UNKNOWN_PARENT', 'UNKNOWN_CERT', 'CERT_REVOKED', 'CERT_EXPIRED', 'NOT_ISSUER', 'ISSUER_RETIRED', 'UNKNOWN_ISSUER');
    expected.push('DUPLICATE_CERT', 'DOCTYPE_NOT_ALLOWED', 'BAD_REQUEST', 'CLOCK_SKEW', 'CONFLICT', 'BAD_SIGNATURE', 'MALFORMED', 'BAD_KEY');
    expected.push('UNKNOWN_DOCTYPE', 'ISSUED_AT_SKEW', 'VALIDITY_TOO_LONG', 'ISSUER_NOT_RETIRED', 'BAD_COMPROMISE', 'ISSUER_COMPROMISED');
    expected.push('status active', 'status revoked', 'status expired', 'status compromised');
    for (const k of numRuns >= RUNS ? expected : []) {
      expect(tally[k] ?? 0, `the generator never reached ${k}`).toBeGreaterThan(0);
    }
  }, 180_000);
});
