import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Level } from 'level';
import pg from 'pg';
import { join } from 'node:path';
import { serveWithWallets, type WalletServer } from '../helpers/wallet-server.js';
import { DojangClient } from '../../src/client/sdk.js';
import { decodePresentation } from '../../src/client/presentation.js';
import { PresentationVerifier, type Verdict } from '../../src/client/verify.js';
import { ed25519PublicKey, randomBytes, signEd25519 } from '../../src/core/crypto.js';
import { toBase64, toHex, utf8 } from '../../src/core/bytes.js';
import { encodeCbor } from '../../src/core/cbor.js';
import { isLedgerError } from '../../src/core/errors.js';
import { requestSigningInput, signRequest } from '../../src/wallet/request.js';
import { Wallet, WalletService, claimsOf, issueInto, deposit, type OpenedItem } from '../../src/wallet/wallet.js';
import { householdClaims, RESIDENT_REGISTRATION_COPY, type HouseholdCopy } from '../../src/wallet/doctypes.js';
import { demoHousehold } from '../../src/cli/demo.js';
import { decideProxyPurchase, proxyDisclosure } from '../../src/wallet/mask-policy.js';
import { challengeUri, parseAddress, parseChallenge } from '../../src/wallet/address.js';
import { qrPng, readQr } from '../../src/wallet/qr.js';
import { encodeItem, sealItem } from '../../src/wallet/item.js';
import { MAX_WAITING } from '../../src/storage/wallet-store.js';

// The wallet side end to end (spec §12) over real HTTP and LevelDB (or PostgreSQL, under npm run test:postgres): issuing into a wallet,
// listing and opening, sending by an address read from a QR code, presenting to a
// pharmacy both ways, expiry, and the store's refusals of badly signed requests.

const DAY = 86_400;
const household = (birthYearOfChild: number): HouseholdCopy => demoHousehold(`${birthYearOfChild}-05-05`);
// The demo's personal values (the child's birth date changes with the year; the rest do not).
const DEMO = demoHousehold('2000-01-01');
const PERSONAL = [DEMO.address, DEMO.head, ...DEMO.members.flatMap((m) => [m.name, ...(m.relation === '자녀' ? [] : [m.birthDate])]), '배우자'];

let s: WalletServer;
let client: DojangClient;
let office: Uint8Array;
let parent: WalletService;
let pharmacy: WalletService;
let verifier: PresentationVerifier;
const childYear = new Date().getUTCFullYear() - 6;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isLedgerError(e) ? e.code : `other: ${(e as Error).message}`;
  }
  return 'ok';
}

const failed = (v: Verdict) => v.checks.filter((c) => !c.ok).map((c) => `${c.name}:${c.reason}`);

async function issueToParent(o: { validUntil?: number } = {}): Promise<{ id: Uint8Array; item: string }> {
  const holder = parent.wallet.newHolderKey();
  const r = await issueInto(client, office, {
    to: parent.wallet.address,
    holder,
    docType: RESIDENT_REGISTRATION_COPY,
    claims: householdClaims(household(childYear)),
    validUntil: o.validUntil ?? client.now() + 90 * DAY,
  });
  return { id: r.id, item: r.item };
}

async function openByItem(w: WalletService, item: string): Promise<OpenedItem> {
  const info = (await w.list()).find((i) => i.item === item);
  expect(info).toBeDefined();
  return w.open(info!);
}

beforeAll(async () => {
  s = await serveWithWallets();
  client = s.client();
  office = randomBytes(32);
  await client.registerIssuer(s.root, ed25519PublicKey(office), '서울특별시 종로구청 (Jongno-gu Office)', [RESIDENT_REGISTRATION_COPY]);
  parent = new WalletService(client, Wallet.create());
  pharmacy = new WalletService(client, Wallet.create());
  verifier = new PresentationVerifier(s.t.ledger.publicKeys);
});

afterAll(async () => {
  await s?.close();
});

describe('issuing into a wallet, sending by QR and presenting to a pharmacy', () => {
  it('runs the proxy-purchase story both ways', async () => {
    const { id, item } = await issueToParent();
    // The parent's list shows what was issued; the item opens and holds every claim.
    const list = await parent.list();
    expect(list.map((i) => [i.item, i.kind, i.id])).toEqual([[item, 'issued', toHex(id)]]);
    const held = await parent.open(list[0]);
    expect(held.disclosure.claims.map((c) => c[1])).toContain('member.3.birthDate');
    expect(held.salt).toBeNull();

    // The pharmacy shows its address as a QR code; the parent reads it from the image.
    const png = await qrPng(pharmacy.wallet.uri({ upper: true }));
    const scanned = readQr(png);
    expect(scanned).toBe(pharmacy.wallet.uri({ upper: true }));
    expect(parseAddress(scanned)).toEqual(pharmacy.wallet.identityKey);

    // Sent with only what the pharmacist needs.
    const sent = await parent.send(held, scanned, proxyDisclosure(3));
    const received = await pharmacy.list();
    expect(received.map((i) => [i.item, i.kind, i.id])).toEqual([[sent.item, 'received', toHex(id)]]);
    const got = await pharmacy.open(received[0]);
    expect(got.disclosure.claims.map((c) => c[1]).sort()).toEqual(['applicant', 'member.3.birthDate', 'member.3.relation']);
    expect(got.transfers).toHaveLength(1);

    // The pharmacy presents it to itself (received flow): valid, and the policy allows it.
    const now = client.now();
    const v1 = verifier.verify(decodePresentation(await pharmacy.present(got, proxyDisclosure(3), { flow: 'received' })), { now, audience: pharmacy.wallet.identityKey });
    expect(failed(v1)).toEqual([]);
    expect(v1.claims).toEqual({ applicant: 1, 'member.3.relation': '자녀', 'member.3.birthDate': `${childYear}-05-05` });
    const d1 = decideProxyPurchase(v1);
    expect(d1.allowed).toBe(true);
    expect(d1.members).toEqual([expect.objectContaining({ number: 3, relation: '자녀', eligible: true })]);
    // Another wallet cannot claim it was sent to it.
    const v1b = verifier.verify(decodePresentation(await pharmacy.present(got, proxyDisclosure(3), { flow: 'received' })), { now, audience: parent.wallet.identityKey });
    expect(failed(v1b)).toEqual(['holding:NOT_RECIPIENT']);

    // Face to face: the pharmacy shows a challenge QR; the parent signs it with its holder key.
    const challenge = { verifier: '온누리약국 (Onnuri Pharmacy)', nonce: randomBytes(16) };
    const uri = readQr(await qrPng(challengeUri(challenge)));
    const face = await parent.present(held, proxyDisclosure(3), { flow: 'face', challenge: parseChallenge(uri) });
    const v2 = verifier.verify(decodePresentation(face), { now, nonce: challenge.nonce, verifierName: challenge.verifier });
    expect(failed(v2)).toEqual([]);
    expect(decideProxyPurchase(v2).allowed).toBe(true);
    // The same presentation for another nonce is refused.
    expect(failed(verifier.verify(decodePresentation(face), { now, nonce: randomBytes(16), verifierName: challenge.verifier }))).toEqual(['holding:NONCE_MISMATCH']);
    // Through the API too.
    const res = await fetch(`${s.base}/v1/verify?nonce=${toHex(challenge.nonce)}&verifier=${encodeURIComponent(challenge.verifier)}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: face });
    expect(((await res.json()) as Verdict).valid).toBe(true);

    // A spouse (aged 11–79) is not eligible, though the presentation is valid.
    const spouse = verifier.verify(decodePresentation(await parent.present(held, proxyDisclosure(2), { flow: 'face', challenge })), { now, nonce: challenge.nonce, verifierName: challenge.verifier });
    expect(spouse.valid).toBe(true);
    expect(decideProxyPurchase(spouse).reasons).toEqual(['NOT_ELIGIBLE']);

    // A view-only copy is genuine content but never an original; the policy refuses it.
    const view = verifier.verify(decodePresentation(await parent.present(held, proxyDisclosure(3), { flow: 'view' })), { now });
    expect(failed(view)).toEqual(['holding:VIEW_ONLY', 'original:VIEW_ONLY']);
    expect(decideProxyPurchase(view).reasons[0]).toBe('NOT_VALID');

    // Received copies can be sent on (to a grandparent), who then presents face to face;
    // the policy then refuses: the presenter is not shown to be the applicant.
    const grandparent = new WalletService(client, Wallet.create());
    await parent.send(held, grandparent.wallet.address, [...proxyDisclosure(3), 'member.1.name']);
    const gItem = await grandparent.open((await grandparent.list())[0]);
    const passed = await grandparent.send(gItem, pharmacy.wallet.uri(), proxyDisclosure(3));
    const twice = await openByItem(pharmacy, passed.item);
    expect(twice.transfers).toHaveLength(2);
    const v3 = verifier.verify(decodePresentation(await pharmacy.present(twice, proxyDisclosure(3), { flow: 'received' })), { now, audience: pharmacy.wallet.identityKey });
    expect(failed(v3)).toEqual([]);
    expect(decideProxyPurchase(v3).reasons).toEqual(['NOT_APPLICANT']);
    // A holder cannot pass on a claim it never received.
    await expect(grandparent.send(gItem, pharmacy.wallet.address, ['member.2.name'])).rejects.toThrow(RangeError);
  });

  it('refuses a revoked certificate and deletes expired originals', async () => {
    const revoked = await issueToParent();
    const heldRevoked = await openByItem(parent, revoked.item);
    await client.revoke(office, revoked.id, 'reissued');
    const vr = verifier.verify(decodePresentation(await parent.present(heldRevoked, ['applicant'], { flow: 'view' })), { now: client.now() });
    expect(failed(vr)).toContain('not-revoked:CERT_REVOKED');
    // A revoked certificate cannot be sent on: the log refuses the transfer.
    expect(await code(parent.send(heldRevoked, pharmacy.wallet.address, ['applicant']))).toBe('CERT_REVOKED');

    const soon = client.now() + 5;
    const expiring = await issueToParent({ validUntil: soon });
    const heldExpiring = await openByItem(parent, expiring.item);
    const p = await parent.present(heldExpiring, ['applicant'], { flow: 'view' });
    expect(failed(verifier.verify(decodePresentation(p), { now: soon + 1 }))).toContain('validity:CERT_EXPIRED');
    // At the server's clock past validUntil, the item is gone from the list and cannot be fetched…
    s.clock.ms = (soon + 1) * 1000;
    try {
      expect((await parent.list()).map((i) => i.item)).not.toContain(expiring.item);
      expect(await code(parent.open({ item: expiring.item, kind: 'issued' }))).toBe('NOT_FOUND');
    } finally {
      s.clock.ms = undefined;
    }
    // …and the sweeper deletes it (and only it) from the store.
    const before = (await parent.list()).map((i) => i.item);
    expect(before).toContain(expiring.item); // not yet expired at the real clock
    expect(await s.wallets.sweep(soon + 1)).toBe(1);
    expect((await parent.list()).map((i) => i.item)).toEqual(before.filter((i) => i !== expiring.item));
    for await (const [k] of s.wallets.rawEntries()) expect(k).not.toContain(expiring.item);
  });
});

describe('signed store requests', () => {
  const listPath = () => `/v1/wallets/${parent.wallet.address}/items`;
  let origin: string;
  beforeAll(async () => {
    origin = (await client.keys()).origin;
    if ((await parent.list()).length === 0) await issueToParent();
  });
  const headersFor = (seed: Uint8Array, method: string, path: string, body = new Uint8Array(0), time = client.now()) => signRequest(seed, { origin, method, target: path, body, time });
  const call = async (method: string, path: string, headers: Record<string, string>, body?: Uint8Array) => {
    const res = await fetch(s.base + path, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/cbor' } : {}) }, body });
    return { status: res.status, type: res.headers.get('content-type'), body: res.status === 204 ? null : ((await res.json()) as { code?: string; items?: unknown[] }) };
  };

  it('refuses a missing, malformed, wrong, stale, foreign or replayed signature, with codes, changing nothing', async () => {
    const before = await parent.list();
    const seed = parent.wallet.identitySeed;
    const ok = headersFor(seed, 'GET', listPath());
    const r0 = await call('GET', listPath(), {});
    expect([r0.status, r0.body?.code, r0.type]).toEqual([401, "UNAUTHORIZED", "application/problem+json"]);
    expect((await call('GET', listPath(), { ...ok, 'dojang-nonce': 'xyz' })).body?.code).toBe('UNAUTHORIZED');
    const bad = { ...ok, 'dojang-signature': headersFor(seed, 'GET', listPath() + 'x')['dojang-signature'] };
    expect(await call('GET', listPath(), bad)).toMatchObject({ status: 422, body: { code: 'BAD_SIGNATURE' } });
    expect(await call('GET', listPath(), headersFor(seed, 'GET', listPath(), undefined, client.now() - 301))).toMatchObject({ status: 422, body: { code: 'CLOCK_SKEW' } });
    expect(await call('GET', listPath(), headersFor(pharmacy.wallet.identitySeed, 'GET', listPath()))).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    // The good request works once; the same bytes again are a replay.
    expect((await call('GET', listPath(), ok)).status).toBe(200);
    expect(await call('GET', listPath(), ok)).toMatchObject({ status: 409, body: { code: 'REPLAYED' } });
    // A refused deletion deletes nothing; a replayed deletion is refused.
    const victim = before[0].item;
    const delPath = `${listPath()}/${victim}`;
    expect((await call('DELETE', delPath, headersFor(pharmacy.wallet.identitySeed, 'DELETE', delPath))).status).toBe(403);
    expect((await call('DELETE', delPath, { ...headersFor(seed, 'DELETE', delPath), 'dojang-time': String(client.now() + 1) })).body?.code).toBe('BAD_SIGNATURE');
    expect((await parent.list()).map((i) => i.item)).toEqual(before.map((i) => i.item));
    const del = headersFor(seed, 'DELETE', delPath);
    expect((await call('DELETE', delPath, del)).status).toBe(204);
    expect((await call('DELETE', delPath, del)).body?.code).toBe('REPLAYED');
    expect((await parent.list()).map((i) => i.item)).not.toContain(victim);
    // The nonces survive a restart of the store (they are durable).
    await s.wallets.close();
    await s.wallets.open();
    expect((await call('DELETE', delPath, del)).body?.code).toBe('REPLAYED');
  });

  it('answers a path that is not an address with 400, never a 500', async () => {
    for (const a of ['%25', '%E0%A4', 'dw1', encodeURIComponent(`dojang:${parent.wallet.address}`) + 'x']) {
      const path = `/v1/wallets/${a}/items`;
      const r = await call('GET', path, headersFor(parent.wallet.identitySeed, 'GET', path));
      expect([r.status, r.body?.code], a).toEqual([400, 'MALFORMED']);
    }
    const r = await fetch(`${s.base}/v1/wallets/${parent.wallet.address}/items`, { method: 'PUT' });
    expect([r.status, r.headers.get('allow')]).toEqual([405, 'GET, POST, OPTIONS']);
    const pre = await fetch(`${s.base}/v1/wallets/${parent.wallet.address}/items/${'0'.repeat(32)}`, { method: 'OPTIONS' });
    expect([pre.status, pre.headers.get('access-control-allow-methods'), pre.headers.get('access-control-allow-headers')]).toEqual([204, 'GET, DELETE', 'Content-Type, Dojang-Key, Dojang-Time, Dojang-Nonce, Dojang-Signature']);
  });

  it('takes a deposit only from the signer of an event in the log, for the wallet it was sent to, once', async () => {
    const holder = parent.wallet.newHolderKey();
    const r = await client.issue(office, { docType: RESIDENT_REGISTRATION_COPY, holder, claims: claimsOf(householdClaims(household(childYear))), validUntil: client.now() + DAY });
    const { origin: o } = await client.keys();
    const item = encodeItem({ origin: o, issue: { entry: r.entry, proof: r.receipt.proof }, transfers: [], disclosure: { claims: [], digests: r.digests }, salt: null });
    const before = await parent.list();
    expect(await code(deposit(client, randomBytes(32), parent.wallet.address, r.leafHash, item, null))).toBe('FORBIDDEN');
    expect(await code(deposit(client, office, parent.wallet.address, randomBytes(32), item, null))).toBe('NOT_FOUND');
    expect(await code(deposit(client, office, parent.wallet.address, r.leafHash, item, randomBytes(16)))).toBe('MALFORMED'); // an issuance has no salt
    expect(await code(deposit(client, s.root, parent.wallet.address, (await client.registerIssuer(s.root, ed25519PublicKey(randomBytes(32)), 'x', ['a.b'])).leafHash, item, null))).toBe('UNSUPPORTED');
    const path = `/v1/wallets/${parent.wallet.address}/items`;
    const junk = encodeCbor({ v: 1, event: r.leafHash, salt: null, sealed: utf8('plain text is not sealed') });
    expect((await call('POST', path, headersFor(office, 'POST', path, junk), junk)).body?.code).toBe('MALFORMED');
    expect((await call('POST', '/v1/wallets/dw1notanaddress/items', headersFor(office, 'POST', '/v1/wallets/dw1notanaddress/items', junk), junk)).body?.code).toBe('MALFORMED');
    const res415 = await fetch(s.base + path, { method: 'POST', headers: { ...headersFor(office, 'POST', path, junk), 'content-type': 'text/plain' }, body: junk });
    expect(res415.status).toBe(415);
    const huge = new Uint8Array((1 << 20) + 2048);
    expect((await call('POST', path, headersFor(office, 'POST', path, huge), huge)).status).toBe(413);
    expect((await parent.list()).length).toBe(before.length);

    // The signer's deposit is taken; the same sealed bytes signed again return it (a retry).
    const body = encodeCbor({ v: 1, event: r.leafHash, salt: null, sealed: sealItem(item, parent.wallet.identityKey) });
    const first = await call('POST', path, headersFor(office, 'POST', path, body), body);
    expect(first.status).toBe(201);
    const again = await call('POST', path, headersFor(office, 'POST', path, body), body);
    expect([again.status, (again.body as { item?: string }).item]).toEqual([200, (first.body as { item?: string }).item]);
    expect((await parent.list()).length).toBe(before.length + 1);
    // Other bytes for that event conflict — for this wallet and for any other.
    expect(await code(deposit(client, office, parent.wallet.address, r.leafHash, item, null))).toBe('CONFLICT');
    expect(await code(deposit(client, office, pharmacy.wallet.address, r.leafHash, item, null))).toBe('CONFLICT');
    // Deleted, it cannot be put back.
    await parent.remove((first.body as { item: string }).item);
    expect(await code(deposit(client, office, parent.wallet.address, r.leafHash, item, null))).toBe('CONFLICT');
    const retry = await call('POST', path, headersFor(office, 'POST', path, body), body);
    expect([retry.status, retry.body?.code]).toEqual([409, 'CONFLICT']);
  });

  it('delivers a transfer only to the wallet it was sent to, and nothing for a revoked or expired certificate', async () => {
    const { item } = await issueToParent();
    const held = await openByItem(parent, item);
    const { origin: o } = await client.keys();
    // A transfer to the pharmacy, deposited into a stranger's wallet: refused, whatever the salt.
    const t = await client.transfer(held.holderSeed, { id: held.parsed.issue.id, parent: held.last, senderSalt: null, recipientKey: pharmacy.wallet.identityKey });
    const toPharmacy = encodeItem({ origin: o, issue: held.issue, transfers: [{ entry: t.entry, proof: t.receipt.proof }], disclosure: { claims: [], digests: held.disclosure.digests }, salt: t.recipientSalt });
    const stranger = Wallet.create();
    expect(await code(deposit(client, held.holderSeed, stranger.address, t.leafHash, toPharmacy, t.recipientSalt))).toBe('FORBIDDEN');
    expect(await code(deposit(client, held.holderSeed, pharmacy.wallet.address, t.leafHash, toPharmacy, randomBytes(16)))).toBe('FORBIDDEN');
    expect(await code(deposit(client, held.holderSeed, pharmacy.wallet.address, t.leafHash, toPharmacy, null))).toBe('FORBIDDEN');
    expect(await code(deposit(client, held.holderSeed, pharmacy.wallet.address, t.leafHash, toPharmacy, t.recipientSalt))).toBe('ok');
    // Expired at the server's clock, or revoked: nothing is delivered.
    const t2 = await client.transfer(held.holderSeed, { id: held.parsed.issue.id, parent: held.last, senderSalt: null, recipientKey: pharmacy.wallet.identityKey });
    const item2 = encodeItem({ origin: o, issue: held.issue, transfers: [{ entry: t2.entry, proof: t2.receipt.proof }], disclosure: { claims: [], digests: held.disclosure.digests }, salt: t2.recipientSalt });
    s.clock.ms = (held.parsed.issue.validUntil + 1) * 1000;
    try {
      // The request's own time must be near the server's (skewed) clock.
      const path = `/v1/wallets/${pharmacy.wallet.address}/items`;
      const body = encodeCbor({ v: 1, event: t2.leafHash, salt: t2.recipientSalt, sealed: sealItem(item2, pharmacy.wallet.identityKey) });
      const h = signRequest(held.holderSeed, { origin: o, method: 'POST', target: path, body, time: held.parsed.issue.validUntil + 1 });
      expect((await call('POST', path, h, body)).body?.code).toBe('CERT_EXPIRED');
    } finally {
      s.clock.ms = undefined;
    }
    await client.revoke(office, held.parsed.issue.id);
    expect(await code(deposit(client, held.holderSeed, pharmacy.wallet.address, t2.leafHash, item2, t2.recipientSalt))).toBe('CERT_REVOKED');
  });

  it('does not spend a nonce on a refused request, refuses a future time and a small-order key, and forgets old nonces', async () => {
    const seed = parent.wallet.identitySeed;
    const mine = listPath();
    const theirs = `/v1/wallets/${pharmacy.wallet.address}/items`;
    const nonce = randomBytes(16);
    const signed = (target: string, time = client.now()) => {
      const sig = signEd25519(seed, requestSigningInput({ origin, method: 'GET', target, body: new Uint8Array(0), time, nonce }));
      return { 'dojang-key': toBase64(parent.wallet.identityKey), 'dojang-time': String(time), 'dojang-nonce': toHex(nonce), 'dojang-signature': toBase64(sig) };
    };
    expect((await call('GET', theirs, signed(theirs))).status).toBe(403);
    expect((await call('GET', mine, signed(mine))).status).toBe(200); // the same nonce: the refusal spent nothing
    expect((await call('GET', mine, signed(mine))).body?.code).toBe('REPLAYED');
    expect((await call('GET', mine, headersFor(seed, 'GET', mine, undefined, client.now() + 301))).body?.code).toBe('CLOCK_SKEW');
    const small = { ...headersFor(seed, 'GET', mine), 'dojang-key': toBase64(new Uint8Array(32)) };
    const res = await fetch(s.base + mine, { headers: small });
    expect([res.status, res.headers.get('www-authenticate'), ((await res.json()) as { code: string }).code]).toEqual([401, 'Dojang-Signature realm="dojang wallets"', 'UNAUTHORIZED']);
    // Another spelling of the address in the path is not the wallet's path.
    for (const alias of [parent.wallet.address.toUpperCase(), encodeURIComponent(parent.wallet.uri())]) {
      const p = `/v1/wallets/${alias}/items`;
      expect((await call('GET', p, headersFor(seed, 'GET', p))).body?.code).toBe('MALFORMED');
    }
    // The sweeper forgets a nonce 600 s after its request's time; the request is refused for its time then.
    const count = async () => {
      let n = 0;
      for await (const [k] of s.wallets.rawEntries()) if (k.endsWith(toHex(nonce))) n++;
      return n;
    };
    expect(await count()).toBe(2);
    await s.wallets.sweep(client.now() + 601);
    expect(await count()).toBe(0);
  });

  it('answers garbage with a coded 4xx problem, never a 5xx, and changes nothing', async () => {
    const before = (await parent.list()).map((i) => i.item);
    const path = listPath();
    const bodies = [new Uint8Array(0), utf8('{}'), randomBytes(1), randomBytes(300), encodeCbor([1, 2, 3]), encodeCbor({ v: 1, event: randomBytes(32), salt: null, sealed: randomBytes(64) }), encodeCbor({ v: 1, event: randomBytes(31), salt: null, sealed: new Uint8Array(0) })];
    for (const body of bodies) {
      for (const headers of [headersFor(office, 'POST', path, body), {}, { ...headersFor(office, 'POST', path, body), 'dojang-time': 'x' }]) {
        const res = await fetch(s.base + path, { method: 'POST', headers: { ...headers, 'content-type': 'application/cbor' }, body });
        expect(res.status, toHex(body.slice(0, 16))).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(typeof ((await res.json()) as { code?: unknown }).code).toBe('string');
      }
    }
    for (const item of ['x', '0'.repeat(32), '%00', 'A'.repeat(32)]) {
      const p = `${path}/${item}`;
      const res = await fetch(s.base + p, { headers: headersFor(parent.wallet.identitySeed, 'GET', p) });
      expect([res.status, ((await res.json()) as { code: string }).code], item).toEqual([404, 'NOT_FOUND']);
    }
    expect((await parent.list()).map((i) => i.item)).toEqual(before);
  });

  it('answers OVERLOADED when too many changes wait', async () => {
    const tries = Array.from({ length: MAX_WAITING + 50 }, () => s.wallets.accept(randomBytes(32), randomBytes(16), client.now()).then(() => 'ok', (e) => (isLedgerError(e) ? e.code : 'other')));
    const codes = await Promise.all(tries);
    expect(codes.filter((c) => c === 'OVERLOADED').length).toBeGreaterThan(0);
    expect(codes.filter((c) => c === 'ok').length).toBeGreaterThanOrEqual(MAX_WAITING - 1);
    expect(codes.every((c) => c === 'ok' || c === 'OVERLOADED')).toBe(true);
  });

  it('checks what the store lists against the item itself', async () => {
    const [info] = await parent.list();
    expect(await code(parent.open({ ...info, event: toHex(randomBytes(32)) }))).toBe('INVALID_PROOF');
    expect(await code(parent.open({ ...info, id: toHex(randomBytes(16)) }))).toBe('INVALID_PROOF');
    expect(await code(parent.open({ ...info, kind: info.kind === 'issued' ? 'received' : 'issued' }))).toBe('INVALID_PROOF');
    expect(await code(parent.open(info))).toBe('ok');
  });

  it('opens nothing with another wallet, and keeps no plaintext anywhere', async () => {
    const stranger = new WalletService(client, Wallet.create());
    const [info] = await parent.list();
    // The stranger cannot fetch the parent's item, and could not open its bytes.
    expect(await code(stranger.client.signedRequest(stranger.wallet.identitySeed, 'GET', `/v1/wallets/${parent.wallet.address}/items/${info.item}`, undefined, 'bytes'))).toBe('FORBIDDEN');
    const sealed = (await client.signedRequest(parent.wallet.identitySeed, 'GET', `/v1/wallets/${parent.wallet.address}/items/${info.item}`, undefined, 'bytes')) as Uint8Array;
    expect(() => stranger.wallet.openItem(sealed)).toThrow(expect.objectContaining({ code: 'INVALID_PROOF' }));
    // Every record of the store and of the log (LevelDB records, or PostgreSQL rows) holds none of the personal values.
    const needles = PERSONAL.map((p) => utf8(p));
    const hit = (b: Uint8Array) => needles.find((n) => Buffer.from(b).includes(Buffer.from(n)));
    let records = 0;
    for await (const [k, v] of s.wallets.rawEntries()) {
      records++;
      expect(hit(utf8(k)), k).toBeUndefined();
      expect(hit(v), k).toBeUndefined();
    }
    let logRecords = 0;
    if (s.t.storeUrl !== undefined) {
      // PostgreSQL: every row of every table of the database (the wallets' included), as text and bytes.
      const c = new pg.Client({ connectionString: s.t.storeUrl });
      await c.connect();
      const tables = (await c.query("select tablename from pg_tables where schemaname = 'public'")).rows.map((r) => r.tablename as string);
      expect(tables).toContain('dojang_wallet');
      for (const table of tables) {
        for (const row of (await c.query(`select * from ${table}`)).rows) {
          logRecords++;
          for (const [col, v] of Object.entries(row)) {
            const b = v instanceof Uint8Array ? v : utf8(String(v));
            expect(hit(b), `${table}.${col}`).toBeUndefined();
          }
        }
      }
      await c.end();
    } else {
      await s.t.ledger.close();
      const db = new Level<Uint8Array, Uint8Array>(join(s.t.dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
      for await (const [k, v] of db.iterator()) {
        logRecords++;
        expect(hit(k)).toBeUndefined();
        expect(hit(v), toHex(k.slice(0, 8))).toBeUndefined();
      }
      await db.close();
      await s.t.reopen();
    }
    expect(records).toBeGreaterThan(20);
    expect(logRecords).toBeGreaterThan(50);
  });
});
