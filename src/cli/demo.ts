/**
 * dojang demo: the whole e-certificate story against a running server, step by step
 * (issue 5). The root key is the development root key of --data DIR (keys/root.key); a
 * production ledger keeps its root key offline and has no demo. Every run makes fresh
 * keys and wallets, so it can run again and again against the same server. Exit 0 only
 * when every step behaves as expected; 3 when one does not (named on stderr).
 */
import { parseArgs } from 'node:util';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerError, isLedgerError } from '../core/errors.js';
import { toHex } from '../core/bytes.js';
import { ed25519PublicKey, randomBytes } from '../core/crypto.js';
import { formatVerifierKey } from '../core/note.js';
import { keyPath, readKeyFile } from '../ledger/keyfiles.js';
import { DojangClient } from '../client/sdk.js';
import { decodePresentation } from '../client/presentation.js';
import { PresentationVerifier, type Verdict } from '../client/verify.js';
import { challengeUri, parseChallenge } from '../wallet/address.js';
import { householdClaims, RESIDENT_REGISTRATION_COPY, DOC_TYPES, type HouseholdCopy } from '../wallet/doctypes.js';
import { decideProxyPurchase, koreanDate, proxyDisclosure } from '../wallet/mask-policy.js';
import { qrPng, readQr } from '../wallet/qr.js';
import { signRequest } from '../wallet/request.js';
import { viewOnlyPdf } from '../wallet/view-pdf.js';
import { Wallet, WalletService, issueInto, type OpenedItem } from '../wallet/wallet.js';
import { loadWallet, saveWallet } from '../wallet/wallet-file.js';
import { badRequest, need } from './events.js';
import type { Io } from './main.js';

export const DEMO_USAGE = `  demo   --url URL [--data DIR] [--json]
         run the whole story against the server at URL, with the development
         root key of DIR: register an office, issue a resident registration copy
         into a parent's wallet, send it to a pharmacy by QR code, verify it and
         the mask proxy purchase both ways, refuse a view-only copy as an
         original, an expired and a revoked certificate. Exit 0 only when every
         step behaves as expected`;

/**
 * demoHousehold is the demo's resident registration copy: a parent (the applicant, member
 * 1), a spouse and a child born on `childBirthDate` (member 3). Its personal values are
 * what the privacy tests search the stores for.
 */
export function demoHousehold(childBirthDate: string): HouseholdCopy {
  return {
    address: '서울특별시 종로구 세종대로 209',
    head: '김민준',
    applicant: 1,
    members: [
      { name: '김민준', relation: '본인', birthDate: '1985-04-02' },
      { name: '이서윤', relation: '배우자', birthDate: '1987-09-30' },
      { name: '김하은', relation: '자녀', birthDate: childBirthDate },
    ],
  };
}

/**
 * registered returns the index of the doctype.register that put docType in the log's
 * registry with at least maxValidity seconds, or undefined (also when the log does not
 * serve its registry: GET /v1/doctypes/<type> 404).
 */
async function registered(client: DojangClient, docType: string, maxValidity: number): Promise<number | undefined> {
  try {
    const d = await client.docType(docType);
    return d !== undefined && d.maxValidity >= maxValidity ? d.registered : undefined;
  } catch (e) {
    if (isLedgerError(e) && e.code === 'NOT_FOUND') return undefined;
    throw e;
  }
}

class StepFailed extends Error {}

function expect(cond: boolean, what: string): void {
  if (!cond) throw new StepFailed(what);
}

const failed = (v: Verdict) => v.checks.filter((c) => !c.ok).map((c) => `${c.name}:${c.reason}`);

export async function runDemo(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { url: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const url = need(values, 'url');
  const data = values.data ?? 'ledger-data';
  let root;
  try {
    root = await readKeyFile(keyPath(data, 'root'));
  } catch (e) {
    throw new LedgerError('BAD_REQUEST', `--data ${data}: no development root key (keys/root.key): the demo needs it to register an office (${(e as Error).message})`, { cause: e });
  }
  let client: DojangClient;
  try {
    client = new DojangClient(url, { rootKey: formatVerifierKey(root) }); // the log's keys from the genesis entry the root key signed
  } catch (e) {
    throw badRequest(`--url ${JSON.stringify(url)} is not an http(s) URL`, e);
  }
  const keys = { ...(await client.keys()), rootKey: formatVerifierKey(root) }; // UNKNOWN_KEY if this server's log is not of this root key
  const verifier = new PresentationVerifier(keys);
  const tmp = await mkdtemp(join(tmpdir(), 'dojang-demo-'));
  const results: { step: string; ok: boolean; detail: string }[] = [];
  let n = 0;
  const step = async (title: string, body: () => Promise<string>): Promise<void> => {
    n++;
    try {
      const detail = await body();
      results.push({ step: title, ok: true, detail });
      if (!values.json) io.out(`[${n}] ${title}\n    ✓ ${detail.split('\n').join('\n      ')}`);
    } catch (e) {
      const detail = e instanceof StepFailed ? e.message : `${isLedgerError(e) ? e.code + ': ' : ''}${(e as Error).message}`;
      results.push({ step: title, ok: false, detail });
      if (!values.json) io.out(`[${n}] ${title}\n    ✗ ${detail}`);
      throw new StepFailed(`step ${n} (${title}): ${detail}`);
    }
  };
  const verifyAt = async (p: Uint8Array, query: string): Promise<Verdict> => {
    const res = await fetch(`${client.baseUrl}/v1/verify?${query}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: new Uint8Array(p) });
    if (res.status !== 200) throw new StepFailed(`POST /v1/verify answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as Verdict;
  };
  try {
    const office = randomBytes(32);
    const officeName = '서울특별시 종로구청 (Jongno-gu Office, Seoul)';
    const copy = demoHousehold(`${new Date().getUTCFullYear() - 7}-05-05`);
    const validity = DOC_TYPES.get(RESIDENT_REGISTRATION_COPY)!.validitySeconds;
    let parent!: WalletService;
    let pharmacy!: WalletService;
    let held!: OpenedItem;
    let atPharmacy!: OpenedItem;

    await step('root registers the issuing office', async () => {
      // The document type is in the registry of a log `dojang init` made; else register it (spec §5.7).
      const known = await registered(client, RESIDENT_REGISTRATION_COPY, validity);
      const typeLine = known !== undefined
        ? `${RESIDENT_REGISTRATION_COPY} is in the log's registry (doctype.register at index ${known})`
        : `${RESIDENT_REGISTRATION_COPY} put in the log's registry, valid at most ${validity / 86_400} days (doctype.register at index ${(await client.registerDocType(root.seed, RESIDENT_REGISTRATION_COPY, validity)).index})`;
      const r = await client.registerIssuer(root.seed, ed25519PublicKey(office), officeName, [RESIDENT_REGISTRATION_COPY]);
      return `${typeLine}\n${officeName} may issue ${RESIDENT_REGISTRATION_COPY}; issuer.register at index ${r.index}`;
    });

    await step("a parent's wallet, kept encrypted under a password", async () => {
      const file = join(tmp, 'parent.wallet');
      await saveWallet(file, Wallet.create(), '부모님의 비밀번호');
      let refused = '';
      try {
        await loadWallet(file, 'wrong password');
      } catch (e) {
        refused = isLedgerError(e) ? e.code : String(e);
      }
      expect(refused === 'WRONG_PASSWORD', `a wrong password should open nothing, got ${refused || 'the wallet'}`);
      parent = new WalletService(client, await loadWallet(file, '부모님의 비밀번호'));
      pharmacy = new WalletService(client, Wallet.create());
      return `parent ${parent.wallet.uri()} (a wrong password opens nothing: WRONG_PASSWORD)\npharmacy ${pharmacy.wallet.uri()}`;
    });

    await step('the office issues a resident registration copy into the parent wallet', async () => {
      const holder = parent.wallet.newHolderKey();
      const now = client.now();
      const r = await issueInto(client, office, { to: parent.wallet.address, holder, docType: RESIDENT_REGISTRATION_COPY, claims: householdClaims(copy), validUntil: now + validity });
      const list = await parent.list();
      const info = list.find((i) => i.item === r.item);
      expect(info?.kind === 'issued', 'the parent wallet should list the issued copy');
      held = await parent.open(info!);
      return `certificate ${toHex(r.id)}, valid 90 days until ${koreanDate(now + validity)}; ${held.disclosure.claims.length} claims sealed in the parent's store (the server holds only ciphertext)`;
    });

    await step("the parent scans the pharmacy's QR code and sends only what the pharmacist needs", async () => {
      const qrFile = join(tmp, 'pharmacy-address.png');
      await writeFile(qrFile, await qrPng(pharmacy.wallet.uri({ upper: true })));
      const scanned = readQr(await readFile(qrFile));
      const sent = await parent.send(held, scanned, proxyDisclosure(3));
      const list = await pharmacy.list();
      const info = list.find((i) => i.item === sent.item);
      expect(info?.kind === 'received', "the pharmacy's received list should show the copy");
      atPharmacy = await pharmacy.open(info!);
      const names = atPharmacy.disclosure.claims.map((c) => c[1]).sort();
      expect(names.join() === proxyDisclosure(3).sort().join(), `the pharmacy should see only ${proxyDisclosure(3).join(', ')}, saw ${names.join(', ')}`);
      return `scanned ${scanned}\nsent with ${names.join(', ')}; ${atPharmacy.disclosure.digests.length - names.length} claims stay hidden behind their digests`;
    });

    await step('the pharmacy verifies the copy it received, and the mask proxy purchase', async () => {
      const p = await pharmacy.present(atPharmacy, proxyDisclosure(3), { flow: 'received' });
      const v = await verifyAt(p, `audience=${toHex(pharmacy.wallet.identityKey)}`);
      expect(v.valid, `the copy should be valid: ${failed(v).join(', ')}`);
      const offline = verifier.verify(decodePresentation(p), { now: client.now(), audience: pharmacy.wallet.identityKey });
      expect(offline.valid, `offline the copy should be valid too: ${failed(offline).join(', ')}`);
      const d = decideProxyPurchase(v);
      expect(d.allowed, `the proxy purchase should be allowed: ${d.reasons.join(', ')}`);
      const m = d.members.find((x) => x.eligible)!;
      return `VALID (server and offline); issued by ${v.certificate.issuerName}\nmask proxy purchase ALLOWED on ${d.checkDate}: member ${m.number} (${m.relation}), born ${m.birthDate}, aged ${m.age}; the presenter is member ${d.applicant}`;
    });

    await step("face to face: the parent signs the pharmacy's nonce QR", async () => {
      const challenge = { verifier: '온누리약국 (Onnuri Pharmacy)', nonce: randomBytes(16) };
      const scanned = parseChallenge(readQr(await qrPng(challengeUri(challenge))));
      const p = await parent.present(held, proxyDisclosure(3), { flow: 'face', challenge: scanned });
      const v = await verifyAt(p, `nonce=${toHex(challenge.nonce)}&verifier=${encodeURIComponent(challenge.verifier)}`);
      expect(v.valid && decideProxyPurchase(v).allowed, `face to face should be valid and allowed: ${failed(v).join(', ')}`);
      const replay = await verifyAt(p, `nonce=${toHex(randomBytes(16))}&verifier=${encodeURIComponent(challenge.verifier)}`);
      expect(failed(replay).join() === 'holding:NONCE_MISMATCH', `the same presentation for another nonce should fail holding:NONCE_MISMATCH, got ${failed(replay).join(', ')}`);
      return 'VALID and ALLOWED; shown again for another nonce it fails (holding: NONCE_MISMATCH)';
    });

    await step('a view-only copy (열람용) is genuine content but never an original', async () => {
      const p = await parent.present(held, held.disclosure.claims.map((c) => c[1]), { flow: 'view' });
      const pdf = await viewOnlyPdf({ presentation: p, password: '인쇄용 암호', now: client.now() });
      expect(new TextDecoder('latin1').decode(pdf).includes('/Encrypt'), 'the PDF should be encrypted');
      const v = await verifyAt(p, '');
      expect(!v.valid && failed(v).join() === 'holding:VIEW_ONLY,original:VIEW_ONLY', `a view-only copy should fail only as an original, got ${failed(v).join(', ') || 'valid'}`);
      expect(decideProxyPurchase(v).reasons[0] === 'NOT_VALID', 'the proxy purchase should be refused');
      return `a password-protected PDF (${pdf.length} bytes, AES-256) with the proofs embedded\nNOT VALID as an original (original: VIEW_ONLY); its content and proofs check out; the proxy purchase is refused`;
    });

    await step('an expired certificate is refused and leaves the store', async () => {
      const holder = parent.wallet.newHolderKey();
      const until = client.now() + 3;
      const r = await issueInto(client, office, { to: parent.wallet.address, holder, docType: RESIDENT_REGISTRATION_COPY, claims: householdClaims(copy), validUntil: until });
      const it = await parent.open((await parent.list()).find((i) => i.item === r.item)!);
      const p = await parent.present(it, proxyDisclosure(3), { flow: 'face', challenge: { verifier: 'pharmacy', nonce: new Uint8Array(16) } });
      await new Promise((res) => setTimeout(res, Math.max(0, (until + 1) * 1000 - Date.now())));
      const v = await verifyAt(p, `nonce=${'00'.repeat(16)}&verifier=pharmacy`);
      expect(failed(v).includes('validity:CERT_EXPIRED'), `should fail validity:CERT_EXPIRED, got ${failed(v).join(', ') || 'valid'}`);
      expect(!(await parent.list()).some((i) => i.item === r.item), 'the expired original should be gone from the list');
      return 'NOT VALID (validity: CERT_EXPIRED); the original is gone from the wallet (the sweeper deletes it)';
    });

    await step('a revoked certificate is refused and cannot be sent on', async () => {
      const holder = parent.wallet.newHolderKey();
      const r = await issueInto(client, office, { to: parent.wallet.address, holder, docType: RESIDENT_REGISTRATION_COPY, claims: householdClaims(copy), validUntil: client.now() + validity });
      const it = await parent.open((await parent.list()).find((i) => i.item === r.item)!);
      await client.revoke(office, r.id, 'reissued');
      const p = await parent.present(it, proxyDisclosure(3), { flow: 'face', challenge: { verifier: 'pharmacy', nonce: new Uint8Array(16) } });
      const v = await verifyAt(p, `nonce=${'00'.repeat(16)}&verifier=pharmacy`);
      expect(failed(v).includes('not-revoked:CERT_REVOKED'), `should fail not-revoked:CERT_REVOKED, got ${failed(v).join(', ') || 'valid'}`);
      let code = '';
      try {
        await parent.send(it, pharmacy.wallet.address, proxyDisclosure(3));
      } catch (e) {
        code = isLedgerError(e) ? e.code : String(e);
      }
      expect(code === 'CERT_REVOKED', `sending a revoked certificate should be refused CERT_REVOKED, got ${code || 'sent'}`);
      return 'NOT VALID (not-revoked: CERT_REVOKED); the log refuses to anchor a transfer of it (CERT_REVOKED)';
    });

    await step('the store refuses a stranger and a replay', async () => {
      const stranger = Wallet.create();
      let code = '';
      try {
        await client.signedRequest(stranger.identitySeed, 'GET', `/v1/wallets/${parent.wallet.address}/items`);
      } catch (e) {
        code = isLedgerError(e) ? e.code : String(e);
      }
      expect(code === 'FORBIDDEN', `a stranger reading the parent's store should be FORBIDDEN, got ${code || 'the list'}`);
      const path = `/v1/wallets/${parent.wallet.address}/items`;
      const headers = signRequest(parent.wallet.identitySeed, { origin: keys.origin, method: 'GET', target: path, body: new Uint8Array(0), time: client.now() });
      const first = await fetch(client.baseUrl + path, { headers });
      const again = await fetch(client.baseUrl + path, { headers });
      const againCode = ((await again.json()) as { code?: string }).code;
      expect(first.status === 200 && again.status === 409 && againCode === 'REPLAYED', `the same signed request twice should be 200 then 409 REPLAYED, got ${first.status} then ${again.status} ${againCode}`);
      return "a stranger's signed request for the parent's items: FORBIDDEN; the parent's own request sent twice: 200, then 409 REPLAYED";
    });
  } catch (e) {
    if (!(e instanceof StepFailed)) throw e;
    if (values.json) io.out(JSON.stringify({ ok: false, steps: results }));
    io.err(`dojang: demo: ${e.message}`);
    return 3;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (values.json) io.out(JSON.stringify({ ok: true, steps: results }));
  else io.out(`all ${n} steps behaved as expected`);
  return 0;
}
