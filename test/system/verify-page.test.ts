/**
 * The verifier page (GET /verify) in a real browser against a real served log.
 *
 * `dojang serve` (the built CLI: dist/api/web.ts serves dist/web/) runs a fresh
 * development ledger; an office is registered and issues resident registration copies of
 * a household (the applicant and a child born 7 years ago). Chromium (headless, driven
 * by playwright-core) loads /verify, and the test gives it presentations the way a
 * pharmacy counter gets them, checking what the page shows:
 *  - face to face: the page's challenge (its nonce and name, read off the page; the QR
 *    code it draws decodes to the same URI) signed by the holder, pasted: ✅ VALID, the
 *    mask purchase allowed for the child of 7, the log's fresh status;
 *  - the same with one byte of a claim value flipped: ❌ NOT VALID, `document` failed
 *    with CLAIM_MISMATCH, the purchase refused (NOT_VALID);
 *  - received: a `.dojang-presentation` file sent to the pharmacy's wallet, uploaded,
 *    with the wallet's address given: VALID; for another key NOT_RECIPIENT;
 *  - a view-only copy: NOT VALID with VIEW_ONLY;
 *  - a QR image: real presentations do not fit a QR code (the sizes are printed); one
 *    without its status and with one claim disclosed, from a fresh log of four entries
 *    (the shortest proofs), just does, and is VALID with the log's status;
 *  - bytes that do not decode: their code, no verdict;
 *  - a log served with a witness policy (three witnesses in this process): the
 *    `witnessed` check and who cosigned when, in Korea time.
 * No page error, console error or CSP violation. Screenshots go to
 * test-artifacts/verify-page/.
 *
 * Needs Chromium and a Korean font (scripts/install-system-deps.sh) and a built dist/
 * (`npm run test:system` builds it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import jsQRModule from 'jsqr';
import { MAIN, serveCli } from '../helpers/cli.js';
import { policyText, startWitness, type RunningWitness } from '../helpers/witnesses.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { DojangClient } from '../../src/client/sdk.js';
import { decodePresentation, encodePresentation, type Presentation } from '../../src/client/presentation.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { disclose, newClaim, type Claim } from '../../src/core/commitment.js';
import { fromHex, toBase64 } from '../../src/core/bytes.js';
import { householdClaims, RESIDENT_REGISTRATION_COPY } from '../../src/wallet/doctypes.js';
import { koreanDate, proxyDisclosure } from '../../src/wallet/mask-policy.js';
import { QR_PREFIX } from '../../src/web/judge.js';
import { challengeUri, encodeAddress } from '../../src/wallet/address.js';
import { formatKst } from '../../src/web/labels.js';

type JsQR = typeof jsQRModule.default;
const jsQR: JsQR = (jsQRModule as unknown as { default?: JsQR }).default ?? (jsQRModule as unknown as JsQR);

const ROOT = join(__dirname, '..', '..');
const SHOTS = join(ROOT, 'test-artifacts', 'verify-page');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const DAY = 86_400;
/** The most bytes a QR code holds (version 40, error correction L, byte mode). */
const QR_MAX_BYTES = 2953;

/** A served log with an office registered for resident registration copies. */
interface Log {
  dir: string;
  base: string;
  client: DojangClient;
  office: Uint8Array;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
let log: Log;
let browser: Browser;
/** What a page reported that it should not have: page errors and console errors. */
const trouble: string[] = [];

/** yearsAgo is the Korean date `years` years before today (28 February for a 29th). */
function yearsAgo(years: number): string {
  const [y, m, d] = koreanDate(Math.floor(Date.now() / 1000)).split('-');
  return `${Number(y) - years}-${m}-${m === '02' && d === '29' ? '28' : d}`;
}

interface Cert {
  id: Uint8Array;
  issue: Uint8Array;
  claims: Claim[];
  holder: Uint8Array;
  validUntil: number;
}

/** serveLog serves a fresh development ledger (`dojang serve`) and registers an office with its root key. */
async function serveLog(): Promise<Log> {
  const dir = await mkdtemp(join(tmpdir(), 'dojang-verify-page-'));
  dirs.push(dir);
  const base = (await serveCli(dir, children)).base; // the development root key is in keys/
  const root = (await loadKeys(dir)).root!.seed;
  const client = new DojangClient(base);
  const office = randomBytes(32);
  await client.registerIssuer(root, ed25519PublicKey(office), '종로구청 (Jongno-gu Office)', [RESIDENT_REGISTRATION_COPY]);
  return { dir, base, client, office };
}

async function issue({ client, office }: Log = log): Promise<Cert> {
  const holder = randomBytes(32);
  const claims = householdClaims({
    address: '서울특별시 종로구 세종대로 209',
    head: '김민준',
    applicant: 1,
    members: [
      { name: '김민준', relation: '본인', birthDate: '1985-04-02' },
      { name: '김하늘', relation: '자녀', birthDate: yearsAgo(7) },
    ],
  }).map(([n, v]) => newClaim(n, v));
  const validUntil = client.now() + 90 * DAY;
  const r = await client.issue(office, { docType: RESIDENT_REGISTRATION_COPY, holder: ed25519PublicKey(holder), claims, validUntil });
  return { id: r.id, issue: r.entry, claims, holder, validUntil };
}

/** face signs the page's current challenge (read off the page) with the holder key. */
async function face(page: Page, c: Cert, { client }: Log = log): Promise<Uint8Array> {
  const name = (await page.inputValue('[data-testid=verifier-name]')).trim();
  const nonce = fromHex((await page.textContent('[data-testid=challenge-nonce]'))!.trim());
  return client.present({ issue: c.issue, disclosure: disclose(c.claims, proxyDisclosure(2)), holding: { flow: 'face', holderSeed: c.holder, salt: null, verifier: name, nonce } });
}

function edit(bytes: Uint8Array, f: (p: Presentation) => void): Uint8Array {
  const p: Presentation = decodePresentation(bytes);
  f(p);
  return encodePresentation({ origin: p.origin, register: p.register, issue: p.issue, transfers: p.transfers, disclosure: p.disclosure, status: p.status, holding: p.holding });
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');

async function openPage({ base }: Log = log): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'ko-KR' });
  page.on('pageerror', (e) => trouble.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && trouble.push(`console: ${m.text()}`));
  // CSP violations (an eval, an inline style) are events, not always console errors.
  await page.exposeFunction('reportViolation', (v: string) => trouble.push(`CSP: ${v}`));
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) => (window as unknown as { reportViolation: (v: string) => void }).reportViolation(`${e.violatedDirective} ${e.blockedURI}`)),
  );
  await page.goto(`${base}/verify`);
  await page.waitForSelector('body[data-ready=true]');
  await page.waitForFunction(() => document.querySelector('[data-testid=log-info]')?.textContent?.includes('localhost/'));
  return page;
}

/** settled waits for the result of the check just started and returns the verdict box's text. */
async function settled(page: Page): Promise<string> {
  const box = page.locator('[data-testid=verdict]');
  await page.waitForSelector('[data-testid=verdict]:is(.valid, .invalid, .problem)');
  return (await box.innerText()).replace(/\s+/g, ' ');
}

async function paste(page: Page, text: string): Promise<string> {
  await page.fill('[data-testid=presentation-text]', text);
  await page.click('[data-testid=verify-button]');
  return settled(page);
}

async function checkRows(page: Page): Promise<Record<string, { ok: string; reason: string; text: string }>> {
  const rows = page.locator('[data-testid=checks] tbody tr');
  const out: Record<string, { ok: string; reason: string; text: string }> = {};
  for (let i = 0; i < (await rows.count()); i++) {
    const r = rows.nth(i);
    const name = (await r.getAttribute('data-testid'))!.slice('check-'.length);
    out[name] = { ok: (await r.getAttribute('data-ok'))!, reason: (await r.getAttribute('data-reason'))!, text: (await r.innerText()).replace(/\s+/g, ' ') };
  }
  return out;
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not at ${CHROMIUM}: run \`bash scripts/install-system-deps.sh\` (or set CHROMIUM)`);
  if (!existsSync(join(ROOT, 'dist', 'web', 'verify.js'))) throw new Error('dist/web/verify.js is missing: run npm run build (npm run test:system does)');
  await mkdir(SHOTS, { recursive: true });
  log = await serveLog();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

afterAll(async () => {
  await browser?.close();
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the verifier page at /verify', () => {
  it('face to face: the challenge as text and QR, a valid copy, the mask purchase allowed for a child of 7', async () => {
    const page = await openPage();
    const name = await page.inputValue('[data-testid=verifier-name]');
    expect(name).toBe('약국 / Pharmacy');
    const nonce = (await page.textContent('[data-testid=challenge-nonce]'))!;
    expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    const uri = (await page.textContent('[data-testid=challenge-uri]'))!;
    expect(uri).toBe(challengeUri({ verifier: name, nonce: fromHex(nonce) }));
    expect(uri).toBe(`dojang:verify?name=%EC%95%BD%EA%B5%AD%20%2F%20Pharmacy&nonce=${nonce}`);
    // The QR code the page draws is that URI.
    const png = PNG.sync.read(await page.locator('[data-testid=challenge-qr]').screenshot());
    expect(jsQR(Uint8ClampedArray.from(png.data), png.width, png.height)?.data).toBe(uri);

    const c = await issue();
    const bytes = await face(page, c);
    const verdict = await paste(page, toBase64(bytes));
    expect(verdict).toContain('✅ 유효 / VALID');
    expect(verdict).not.toContain('NOT VALID');
    const checks = await checkRows(page);
    expect(Object.keys(checks)).toEqual(['anchored', 'issuer-signature', 'issuer-registered', 'document', 'chain', 'holding', 'not-revoked', 'validity', 'original']);
    for (const [n, r] of Object.entries(checks)) expect(r.ok, n).toBe('true');
    expect(checks.document.text).toContain('문서 내용');
    expect(checks.document.text).toContain('✅ 통과 ok');

    const proxy = page.locator('[data-testid=proxy]');
    expect(await proxy.getAttribute('data-allowed')).toBe('true');
    expect(await page.innerText('[data-testid=proxy-decision]')).toBe('가능 / ALLOWED');
    const member = (await page.innerText('[data-testid=proxy-member-2]')).replace(/\s+/g, ' ');
    expect(member).toContain('자녀');
    expect(member).toContain(yearsAgo(7));
    expect(await page.innerText('[data-testid=proxy-age-2]')).toBe('만 7세 / 7');

    expect(await page.innerText('[data-testid=cert-doctype]')).toBe('주민등록표 등본 / Resident registration copy');
    expect(await page.innerText('[data-testid=cert-issuer]')).toBe('종로구청 (Jongno-gu Office)');
    expect(await page.innerText('[data-testid=cert-valid-until]')).toBe(formatKst(c.validUntil));
    expect(await page.innerText('[data-testid=cert-anchored]')).toMatch(/ KST$/);
    expect(await page.locator('[data-testid=status]').getAttribute('data-source')).toBe('log');
    expect(await page.innerText('[data-testid=status-state]')).toContain('유효 (폐지되지 않음)');
    // Only the three disclosed claims; the names and the address stay hidden.
    expect(await page.locator('[data-testid=claims-table] tbody tr').count()).toBe(3);
    const text = await page.innerText('body');
    expect(text).toContain('세대원 2 생년월일');
    expect(text).not.toContain('김하늘');
    expect(text).not.toContain('세종대로');
    // The challenge was spent: a new one is shown.
    expect(await page.textContent('[data-testid=challenge-nonce]')).not.toBe(nonce);
    await shot(page, 'face-valid');
    // The same presentation again is a replay.
    expect(await paste(page, toBase64(bytes))).toContain('NONCE_MISMATCH');
    await page.close();
  });

  it('a log served with a witness policy: the witnessed check, and who cosigned when, in Korea time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dojang-verify-page-witnessed-'));
    dirs.push(dir);
    const origin = 'localhost/dojang-verify-page-witnessed';
    const init = spawnSync(process.execPath, [MAIN, 'init', '--data', dir, '--origin', origin, '--json'], { encoding: 'utf8' });
    expect(init.status, init.stderr).toBe(0);
    const { logKey } = JSON.parse(init.stdout) as { logKey: string };
    const ws: RunningWitness[] = [];
    try {
      for (let i = 0; i < 3; i++) ws.push(await startWitness(i, origin, logKey));
      await writeFile(join(dir, 'witnesses.policy'), policyText(logKey, ws, '2'));
      const base = (await serveCli(dir, children, { store: [], args: ['--policy', join(dir, 'witnesses.policy')] })).base;
      const client = new DojangClient(base);
      const office = randomBytes(32);
      await client.registerIssuer((await loadKeys(dir)).root!.seed, ed25519PublicKey(office), '종로구청 (Jongno-gu Office)', [RESIDENT_REGISTRATION_COPY]);
      const witnessed: Log = { dir, base, client, office };
      const page = await openPage(witnessed);
      const verdict = await paste(page, toBase64(await face(page, await issue(witnessed), witnessed)));
      expect(verdict).toContain('✅ 유효 / VALID');
      const checks = await checkRows(page);
      expect(Object.keys(checks).slice(0, 2)).toEqual(['anchored', 'witnessed']);
      expect(checks.witnessed.ok).toBe('true');
      expect(checks.witnessed.text).toContain('증인 서명');
      expect(await page.locator('[data-testid=witnesses]').getAttribute('data-policy')).toBe('log');
      const rows = page.locator('[data-testid=witnesses-table] tbody tr');
      expect(await rows.count()).toBeGreaterThanOrEqual(2);
      expect((await rows.first().innerText()).replace(/\s+/g, ' ')).toMatch(/^W[012] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST$/);
      await shot(page, 'face-witnessed');
      await page.close();
    } finally {
      for (const w of ws) await w.stop();
    }
  });

  it('a flipped byte in a claim value: NOT VALID, the document check failed with CLAIM_MISMATCH, the purchase refused', async () => {
    const page = await openPage();
    const c = await issue();
    const tampered = edit(await face(page, c), (p) => {
      p.disclosure = {
        ...p.disclosure,
        claims: p.disclosure.claims.map(([salt, name, value]) => {
          if (name !== 'member.2.birthDate' || typeof value !== 'string') return [salt, name, value];
          const b = Buffer.from(value, 'utf8');
          b[b.length - 1] ^= 1; // one digit of the birth date
          return [salt, name, b.toString('utf8')];
        }),
      };
    });
    const verdict = await paste(page, b64url(tampered));
    expect(verdict).toContain('❌ 유효하지 않음 / NOT VALID');
    expect(verdict).toContain('CLAIM_MISMATCH');
    const checks = await checkRows(page);
    expect(Object.entries(checks).filter(([, r]) => r.ok !== 'true').map(([n, r]) => `${n}:${r.reason}`)).toEqual(['document:CLAIM_MISMATCH']);
    expect(checks.document.text).toContain('❌ 실패 failed');
    expect(checks.document.text).toContain('공개된 항목이 발급된 문서와 다릅니다 (변조)');
    expect(checks.document.text).toContain('A disclosed claim is not the issued one (tampered)');
    expect(await page.locator('[data-testid=proxy]').getAttribute('data-allowed')).toBe('false');
    expect(await page.innerText('[data-testid=proxy-decision]')).toBe('불가 / REFUSED');
    const reason = await page.innerText('[data-testid=proxy-reason]');
    expect(reason).toContain('유효한 원본이 아닙니다');
    expect(reason).toContain('NOT_VALID');
    await shot(page, 'tampered');
    await page.close();
  });

  it('received: a .dojang-presentation file sent to the pharmacy’s wallet is valid for its address only', async () => {
    const page = await openPage();
    const c = await issue();
    const pharmacy = randomBytes(32);
    const issued = (await log.client.status(c.id)).events[0].leafHash;
    const r = await log.client.transfer(c.holder, { id: c.id, parent: issued, senderSalt: null, recipientKey: ed25519PublicKey(pharmacy) });
    const bytes = await log.client.present({ issue: c.issue, transfers: [r.entry], disclosure: disclose(c.claims, proxyDisclosure(2)), holding: { flow: 'received', recipient: ed25519PublicKey(pharmacy), salt: r.recipientSalt } });
    await page.check('[data-testid=mode-received]');
    expect(await page.isVisible('[data-testid=received-panel]')).toBe(true);
    expect(await page.isVisible('[data-testid=face-panel]')).toBe(false);
    await page.fill('[data-testid=verifier-key]', encodeAddress(ed25519PublicKey(pharmacy))); // the pharmacy wallet's address
    const file = { name: 'copy.dojang-presentation', mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) };
    await page.setInputFiles('[data-testid=presentation-file]', file);
    expect(await settled(page)).toContain('✅ 유효 / VALID');
    expect(await page.innerText('[data-testid=cert-transfers]')).toBe('1');
    expect(await page.innerText('[data-testid=cert-flow]')).toContain('이 검증자에게 보낸 문서');
    expect(await page.locator('[data-testid=proxy]').getAttribute('data-allowed')).toBe('true');
    await shot(page, 'received-valid');
    // Another verifier's key (in base64): not sent to it.
    await page.fill('[data-testid=verifier-key]', toBase64(ed25519PublicKey(randomBytes(32))));
    await page.setInputFiles('[data-testid=presentation-file]', file);
    expect(await settled(page)).toContain('NOT_RECIPIENT');
    // Not a key at all: named, and no verdict.
    await page.fill('[data-testid=verifier-key]', 'AAAA');
    await page.setInputFiles('[data-testid=presentation-file]', file);
    expect(await settled(page)).toContain('BAD_KEY');
    expect(await page.isVisible('[data-testid=key-problem]')).toBe(true);
    await page.close();
  });

  it('a view-only copy: NOT VALID with VIEW_ONLY', async () => {
    const page = await openPage();
    const c = await issue();
    const bytes = await log.client.present({ issue: c.issue, disclosure: disclose(c.claims, c.claims.map((x) => x[1])), holding: { flow: 'view' } });
    await page.check('[data-testid=mode-view]');
    const verdict = await paste(page, toBase64(bytes));
    expect(verdict).toContain('❌ 유효하지 않음 / NOT VALID');
    expect(verdict).toContain('VIEW_ONLY');
    const checks = await checkRows(page);
    expect(Object.entries(checks).filter(([, r]) => r.ok !== 'true').map(([n, r]) => `${n}:${r.reason}`)).toEqual(['holding:VIEW_ONLY', 'original:VIEW_ONLY']);
    expect(checks.original.text).toContain('열람용 사본입니다');
    const claimRows = page.locator('[data-testid=claims-table] tbody tr');
    expect(await claimRows.count()).toBe(c.claims.length);
    expect(await claimRows.first().getAttribute('data-testid')).toBe('claim-address'); // in the copy's order, not by name
    await shot(page, 'view-only');
    await page.close();
  });

  it('a QR image: real presentations do not fit; a status-less one from a log of four entries does, judged with the log’s status', async () => {
    // In the shared log (a few dozen entries by now): with its status, and without.
    let page = await openPage();
    const full = await face(page, await issue());
    await page.close();
    const bare = edit(full, (p) => (p.status = null));
    const qrLength = (b: Uint8Array) => QR_PREFIX.length + b64url(b).length;
    console.log(`verify-page: a face presentation of the household copy is ${full.length} bytes (QR text ${qrLength(full)}), ${bare.length} without its status (QR text ${qrLength(bare)}); a QR code holds ${QR_MAX_BYTES}`);
    expect(qrLength(full)).toBeGreaterThan(QR_MAX_BYTES);
    expect(() => QRCode.create(QR_PREFIX + b64url(full), { errorCorrectionLevel: 'L' })).toThrow(/too big/);

    // A fresh log of four entries (genesis, the document type, registration, issuance):
    // the shortest proofs; one claim disclosed (the others stay behind their digests).
    const small = await serveLog();
    page = await openPage(small);
    await page.fill('[data-testid=verifier-name]', '약국'); // a shorter name: every byte counts here
    const tiny = edit(await face(page, await issue(small), small), (p) => {
      p.status = null;
      p.disclosure = { claims: p.disclosure.claims.slice(0, 1), digests: p.disclosure.digests };
    });
    const qrText = QR_PREFIX + b64url(tiny);
    const version = QRCode.create(qrText, { errorCorrectionLevel: 'L' }).version;
    console.log(`verify-page: in a log of four entries, without its status, one claim disclosed: ${tiny.length} bytes, QR text ${qrText.length}, a QR code of version ${version} (L)`);
    const png = await QRCode.toBuffer(qrText, { errorCorrectionLevel: 'L', scale: 4, margin: 4 });
    await page.setInputFiles('[data-testid=qr-image]', { name: 'qr.png', mimeType: 'image/png', buffer: png });
    expect(await settled(page)).toContain('✅ 유효 / VALID');
    expect(await page.locator('[data-testid=status]').getAttribute('data-source')).toBe('log');
    await shot(page, 'qr-valid');
    // A QR code of something else: named, no verdict.
    const challenge = await QRCode.toBuffer(challengeUri({ verifier: '약국', nonce: randomBytes(16) }), { scale: 6 });
    await page.setInputFiles('[data-testid=qr-image]', { name: 'challenge.png', mimeType: 'image/png', buffer: challenge });
    expect(await settled(page)).toContain('CHALLENGE_QR');
    await page.close();
  });

  it('bytes that do not decode show their code and message, not a verdict', async () => {
    const page = await openPage();
    const verdict = await paste(page, toBase64(new Uint8Array([0xa1, 0x61, 0x76, 0x01])));
    expect(verdict).toContain('판정할 수 없습니다 / Cannot be judged');
    expect(await page.innerText('[data-testid=problem-code]')).toBe('MALFORMED');
    expect(await page.innerText('[data-testid=problem-message]')).toContain('presentation');
    expect(await page.locator('[data-testid=checks]').count()).toBe(0);
    await shot(page, 'malformed');
    expect(await paste(page, 'not a presentation!')).toContain('NOT_BASE64');
    await page.close();
  });

  it('no page reported an error or a CSP violation', () => {
    expect(trouble).toEqual([]);
  });
});
