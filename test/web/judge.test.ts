import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeLedger, type TestLedger, TEST_DOC_TYPES } from '../helpers/ledger.js';
import { createApp } from '../../src/api/app.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { DojangClient } from '../../src/client/sdk.js';
import { decodePresentation, encodePresentation, type Presentation } from '../../src/client/presentation.js';
import type { Verdict } from '../../src/client/verify.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { disclose, newClaim, type Claim } from '../../src/core/commitment.js';
import { toBase64 } from '../../src/core/bytes.js';
import { householdClaims, RESIDENT_REGISTRATION_COPY } from '../../src/wallet/doctypes.js';
import { koreanDate, proxyDisclosure } from '../../src/wallet/mask-policy.js';
import { challengeUri, encodeAddress } from '../../src/wallet/address.js';
import {
  judge,
  openSession,
  presentationFromFile,
  presentationFromQrText,
  presentationFromText,
  QR_PREFIX,
  readVerifierKey,
  Unjudged,
  type VerifierSession,
} from '../../src/web/judge.js';

// The verifier page's judgement (src/web/judge.ts) under Node, against a real served log:
// keys from GET /v1/log, the fresh status from GET /v1/certificates/<id> (and the
// presented one when that fails), the portable backend, the mask policy.

const PHARMACY = '약국 / Pharmacy';
const DAY = 86_400;

let t: TestLedger;
let server: Server;
let base: string;
let client: DojangClient;
let office: Uint8Array;
let s: VerifierSession;

/** yearsAgo is the Korean date `years` years before today (28 February for a 29th). */
function yearsAgo(years: number): string {
  const [y, m, d] = koreanDate(Math.floor(Date.now() / 1000)).split('-');
  return `${Number(y) - years}-${m}-${m === '02' && d === '29' ? '28' : d}`;
}

/** A household: the applicant (member 1, 본인) and a child born 7 years ago (member 2). */
const household = (): Claim[] =>
  householdClaims({
    address: '서울특별시 종로구 세종대로 209',
    head: '김민준',
    applicant: 1,
    members: [
      { name: '김민준', relation: '본인', birthDate: '1985-04-02' },
      { name: '김하늘', relation: '자녀', birthDate: yearsAgo(7) },
    ],
  }).map(([n, v]) => newClaim(n, v));

interface Cert {
  id: Uint8Array;
  issue: Uint8Array;
  claims: Claim[];
  holder: Uint8Array;
}

async function issue(): Promise<Cert> {
  const holder = randomBytes(32);
  const claims = household();
  const r = await client.issue(office, { docType: RESIDENT_REGISTRATION_COPY, holder: ed25519PublicKey(holder), claims, validUntil: client.now() + 90 * DAY });
  return { id: r.id, issue: r.entry, claims, holder };
}

const faceOf = (c: Cert, nonce: Uint8Array) =>
  client.present({ issue: c.issue, disclosure: disclose(c.claims, proxyDisclosure(2)), holding: { flow: 'face', holderSeed: c.holder, salt: null, verifier: PHARMACY, nonce } });

const ctxFace = (nonce: Uint8Array) => ({ now: client.now(), nonce, verifierName: PHARMACY });

/** failed lists the checks that failed, as name:reason. */
const failed = (v: Verdict) => v.checks.filter((c) => !c.ok).map((c) => `${c.name}:${c.reason}`);

function edit(bytes: Uint8Array, f: (p: Presentation) => void): Uint8Array {
  const p: Presentation = decodePresentation(bytes);
  f(p);
  return encodePresentation({ origin: p.origin, register: p.register, issue: p.issue, transfers: p.transfers, disclosure: p.disclosure, status: p.status, holding: p.holding });
}

/** A session whose status requests fail (the log unreachable for them). */
const noStatus = () => openSession(base, { fetch: (input, init) => (String(input).includes('/v1/certificates/') ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init)) });

async function unjudged(p: Promise<unknown> | (() => unknown)): Promise<Unjudged> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof Unjudged) return e;
    throw e;
  }
  throw new Error('expected Unjudged');
}

beforeAll(async () => {
  t = await makeLedger({ docTypes: TEST_DOC_TYPES }, 'example.com/judge-test');
  const root = (await loadKeys(t.dir)).root!.seed;
  server = createServer(createApp({ ledger: t.ledger }).callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new DojangClient(base);
  office = randomBytes(32);
  await client.registerIssuer(root, ed25519PublicKey(office), '종로구청 (Jongno-gu Office)', [RESIDENT_REGISTRATION_COPY]);
  s = await openSession(base);
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await t.cleanup();
});

describe('judge', () => {
  it('a parent shows the copy face to face for a child of 7: valid with the log’s status, the purchase allowed', async () => {
    expect(s.log.origin).toBe('example.com/judge-test');
    const c = await issue();
    const n = randomBytes(16);
    const j = await judge(s, await faceOf(c, n), ctxFace(n));
    expect(failed(j.verdict)).toEqual([]);
    expect(j.verdict.valid).toBe(true);
    expect(j.status).toEqual({ source: 'log' });
    expect(j.policy).toEqual({ source: 'none' }); // served without a witness policy: no witnessed check, no report
    expect(j.verdict.checks.map((c) => c.name)).not.toContain('witnessed');
    expect(j.verdict).not.toHaveProperty('witnesses');
    expect(j.verdict.status).toMatchObject({ state: 'active' });
    expect(Object.keys(j.verdict.claims!).sort()).toEqual(proxyDisclosure(2).sort());
    expect(j.proxy).toMatchObject({ allowed: true, reasons: [], applicant: 1, members: [{ number: 2, relation: '자녀', birthDate: yearsAgo(7), age: 7, eligible: true }] });
    // Another nonce or name: the presentation is a replay.
    expect(failed((await judge(s, await faceOf(c, n), ctxFace(randomBytes(16)))).verdict)).toEqual(['holding:NONCE_MISMATCH']);
  });

  it('received straight from the applicant: valid for the recipient’s key only', async () => {
    const c = await issue();
    const pharmacy = randomBytes(32);
    const r = await client.transfer(c.holder, { id: c.id, parent: (await client.status(c.id)).events[0].leafHash, senderSalt: null, recipientKey: ed25519PublicKey(pharmacy) });
    const bytes = await client.present({ issue: c.issue, transfers: [r.entry], disclosure: disclose(c.claims, proxyDisclosure(2)), holding: { flow: 'received', recipient: ed25519PublicKey(pharmacy), salt: r.recipientSalt } });
    const j = await judge(s, bytes, { now: client.now(), audience: readVerifierKey(encodeAddress(ed25519PublicKey(pharmacy))) });
    expect(failed(j.verdict)).toEqual([]);
    expect(j.proxy?.allowed).toBe(true);
    expect(failed((await judge(s, bytes, { now: client.now() })).verdict)).toEqual(['holding:NOT_RECIPIENT']);
  });

  it('the log’s fresh status wins over the presented one; without it the presented one is judged with, and said so', async () => {
    const c = await issue();
    const n = randomBytes(16);
    const bytes = await faceOf(c, n); // carries "active"
    await client.revoke(office, c.id, 'reissued');
    const fresh = await judge(s, bytes, ctxFace(n));
    expect(failed(fresh.verdict)).toEqual(['not-revoked:CERT_REVOKED']);
    expect(fresh.status.source).toBe('log');
    const stale = await judge(await noStatus(), bytes, ctxFace(n));
    expect(stale.verdict.valid).toBe(true);
    expect(stale.verdict.status).toMatchObject({ state: 'active' });
    expect(stale.status.source).toBe('presentation');
    expect(stale.status.source === 'presentation' && stale.status.why).toMatch(/UNAVAILABLE/);
  });

  it('a presentation without a status (one that fits a QR code) is judged with the log’s, and is NO_STATUS without it', async () => {
    const c = await issue();
    const n = randomBytes(16);
    const bare = edit(await faceOf(c, n), (p) => (p.status = null));
    expect((await judge(s, bare, ctxFace(n))).verdict.valid).toBe(true);
    expect(failed((await judge(await noStatus(), bare, ctxFace(n))).verdict)).toEqual(['not-revoked:NO_STATUS']);
  });

  it('a changed claim value fails the document check, and the purchase is refused', async () => {
    const c = await issue();
    const n = randomBytes(16);
    const tampered = edit(await faceOf(c, n), (p) => {
      p.disclosure = { ...p.disclosure, claims: p.disclosure.claims.map(([salt, name, value]) => [salt, name, name === 'member.2.birthDate' ? '1940-01-01' : value]) };
    });
    const j = await judge(s, tampered, ctxFace(n));
    expect(failed(j.verdict)).toEqual(['document:CLAIM_MISMATCH']);
    expect(j.verdict.claims).toBeNull();
    expect(j.proxy).toMatchObject({ allowed: false });
    expect(j.proxy!.reasons[0]).toBe('NOT_VALID');
  });

  it('a view-only copy is genuine but never valid', async () => {
    const c = await issue();
    const bytes = await client.present({ issue: c.issue, disclosure: disclose(c.claims, c.claims.map((x) => x[1])), holding: { flow: 'view' } });
    const j = await judge(s, bytes, { now: client.now() });
    expect(failed(j.verdict)).toEqual(['holding:VIEW_ONLY', 'original:VIEW_ONLY']);
    expect(j.proxy?.reasons[0]).toBe('NOT_VALID');
  });

  it('a presentation that does not decode gets its code, not a verdict; an unreachable log is UNAVAILABLE', async () => {
    expect((await unjudged(judge(s, new Uint8Array([0xa1, 0x61, 0x76, 0x01]), { now: 0 }))).code).toBe('MALFORMED');
    expect((await unjudged(judge(s, new Uint8Array([0x01]), { now: 0 }))).code).toBe('MALFORMED');
    const c = await issue();
    const bumped = (await faceOf(c, randomBytes(16))).slice();
    expect([...bumped.subarray(0, 4)]).toEqual([0xa8, 0x61, 0x76, 0x01]); // a map of 8, "v": 1 first
    bumped[3] = 0x02;
    expect((await unjudged(judge(s, bumped, { now: 0 }))).code).toBe('UNSUPPORTED');
    expect((await unjudged(openSession('http://127.0.0.1:9', { fetch: () => Promise.reject(new TypeError('refused')) }))).code).toBe('UNAVAILABLE');
  });
});

describe('reading presentations, keys and challenges', () => {
  const bytes = Uint8Array.from({ length: 200 }, (_, i) => (i * 37) & 255);
  bytes[0] = 0xa8; // a CBOR map of 8, as a presentation starts

  it('reads base64, base64url, the QR text and files, with white space', () => {
    const b64 = toBase64(bytes);
    const url = b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    for (const text of [b64, url, `${QR_PREFIX}${url}`, `  ${b64.slice(0, 60)}\n${b64.slice(60)}\n`]) expect(presentationFromText(text)).toEqual(bytes);
    expect(presentationFromQrText(`${QR_PREFIX}${url}`)).toEqual(bytes);
    expect(presentationFromFile(bytes)).toEqual(bytes);
    expect(presentationFromFile(new TextEncoder().encode(b64 + '\n'))).toEqual(bytes);
  });

  it('names what it cannot read', async () => {
    expect((await unjudged(() => presentationFromText(' \n'))).code).toBe('EMPTY');
    expect((await unjudged(() => presentationFromText('not base64!'))).code).toBe('NOT_BASE64');
    expect((await unjudged(() => presentationFromText('abcde'))).code).toBe('NOT_BASE64');
    expect((await unjudged(() => presentationFromText(challengeUri({ verifier: PHARMACY, nonce: randomBytes(16) })))).code).toBe('CHALLENGE_QR');
    expect((await unjudged(() => presentationFromQrText('https://example.com/'))).code).toBe('NOT_PRESENTATION_QR');
    expect((await unjudged(() => presentationFromQrText('DOJANG:DW1QQQQ'))).code).toBe('NOT_PRESENTATION_QR');
    expect((await unjudged(() => presentationFromFile(new Uint8Array([0x20, 0xff, 0xfe])))).code).toBe('MALFORMED');
  });

  it('reads a verifier key as a wallet address (spec §12.2) or base64, and refuses what spec §2.2 refuses', async () => {
    const key = ed25519PublicKey(randomBytes(32));
    const address = encodeAddress(key);
    for (const text of [address, ` dojang:${address}\n`, `DOJANG:${address.toUpperCase()}`, toBase64(key), toBase64(key).replace(/=+$/, '')]) expect(readVerifierKey(text)).toEqual(key);
    const flipped = address.slice(0, -1) + (address.endsWith('q') ? 'p' : 'q'); // a bad checksum
    expect((await unjudged(() => readVerifierKey(flipped))).code).toBe('BAD_ADDRESS');
    expect((await unjudged(() => readVerifierKey('dw1 not an address'))).code).toBe('BAD_ADDRESS');
    expect((await unjudged(() => readVerifierKey(toBase64(key.subarray(1))))).code).toBe('BAD_KEY');
    expect((await unjudged(() => readVerifierKey(toBase64(new Uint8Array(32))))).code).toBe('BAD_KEY'); // small order
    expect((await unjudged(() => readVerifierKey('not a key!'))).code).toBe('NOT_BASE64');
  });
});
