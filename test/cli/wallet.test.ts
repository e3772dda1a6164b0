import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, serveCli, type Served } from '../helpers/cli.js';

// The wallet commands and the demo through the build, against `dojang serve`.

const DOC = 'kr.gov.resident-registration.copy';
const children: ChildProcess[] = [];
let dir: string;
let served: Served;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function ok(args: string[], env: Record<string, string> = {}): Promise<any> {
  const r = await run(args, env);
  expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return args.includes('--json') ? JSON.parse(r.stdout) : r.stdout;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dojang-wallet-cli-'));
  served = await serveCli(join(dir, 'data'), children);
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('dojang demo', () => {
  it('tells the whole story against a fresh server, and again', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await run(['demo', '--url', served.base, '--data', join(dir, 'data')]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('all 10 steps behaved as expected');
      expect(r.stdout).toContain('mask proxy purchase ALLOWED');
      expect(r.stdout).toContain('original: VIEW_ONLY');
    }
    const bad = await run(['demo', '--url', served.base, '--data', join(dir, 'nowhere')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/BAD_REQUEST|root key/);
  }, 120_000);
});

describe('dojang wallet', () => {
  it('creates wallets, issues into one, sends by QR image, presents and verifies with the mask policy', async () => {
    const url = served.base;
    const pw = { DOJANG_WALLET_PASSWORD: '부모 비밀번호' };
    const pwPharmacy = { DOJANG_WALLET_PASSWORD: 'pharmacy secret' };
    const parentFile = join(dir, 'parent.wallet');
    const pharmacyFile = join(dir, 'pharmacy.wallet');
    const parent = await ok(['wallet', 'create', '--wallet', parentFile, '--json'], pw);
    expect(parent.address).toMatch(/^dw1[02-9ac-hj-np-z]{58}$/);
    expect((await stat(parentFile)).mode & 0o777).toBe(0o600);
    const pharmacy = await ok(['wallet', 'create', '--wallet', pharmacyFile, '--json'], pwPharmacy);
    // No password, or a wrong one, opens nothing.
    const none = await run(['wallet', 'address', '--wallet', parentFile], { DOJANG_WALLET_PASSWORD: '' });
    expect([none.status, none.stderr]).toEqual([1, expect.stringContaining('password')]);
    const wrong = await run(['wallet', 'address', '--wallet', parentFile], { DOJANG_WALLET_PASSWORD: 'nope' });
    expect([wrong.status, wrong.stderr]).toEqual([1, expect.stringContaining('WRONG_PASSWORD')]);
    expect((await ok(['wallet', 'address', '--wallet', parentFile], pw)).trim()).toBe(`dojang:${parent.address}`);
    expect(await run(['wallet', 'create', '--wallet', parentFile], pw)).toMatchObject({ status: 1, stderr: expect.stringContaining('CONFLICT') });

    // An office registered by the development root key, issuing into the parent's wallet.
    const officeKey = join(dir, 'office.key');
    const office = await ok(['keygen', '--out', officeKey, '--name', 'jongno-gu', '--json']);
    await ok(['issuer', 'register', '--url', url, '--root-key', join(dir, 'data', 'keys', 'root.key'), '--issuer-key', office.publicKey, '--name', '종로구청', '--doc-type', DOC]);
    const holder = (await ok(['wallet', 'holder-key', '--wallet', parentFile], pw)).trim();
    const claims = join(dir, 'claims.json');
    await writeFile(claims, JSON.stringify({ address: '서울특별시 종로구 세종대로 209', head: '김민준', applicant: 1, 'member.1.name': '김민준', 'member.1.relation': '본인', 'member.1.birthDate': '1985-04-02', 'member.2.name': '김하은', 'member.2.relation': '자녀', 'member.2.birthDate': `${new Date().getUTCFullYear() - 5}-01-01`, 'member.3.name': '이서윤', 'member.3.relation': '배우자', 'member.3.birthDate': '1987-09-30' }));
    const issued = await ok(['issue', '--url', url, '--issuer-key', officeKey, '--holder', holder, '--doc-type', DOC, '--claims', claims, '--valid-days', '90', '--to', parent.address, '--json']);
    expect(issued.wallet).toBe(parent.address);
    // Concurrent holder-key runs never hand out one key twice.
    const concurrent = await Promise.all([0, 1, 2].map(() => run(['wallet', 'holder-key', '--wallet', parentFile], pw)));
    const handed = concurrent.filter((r) => r.status === 0).map((r) => r.stdout.trim());
    expect(new Set(handed).size).toBe(handed.length);
    expect(handed).not.toContain(holder);
    for (const r of concurrent.filter((r) => r.status !== 0)) expect(r.stderr).toContain('CONFLICT');
    const list = await ok(['wallet', 'list', '--url', url, '--wallet', parentFile, '--json'], pw);
    expect(list.items).toEqual([expect.objectContaining({ item: issued.item, kind: 'issued', id: issued.id })]);
    const shown = await ok(['wallet', 'show', issued.item, '--url', url, '--wallet', parentFile], pw);
    expect(shown).toContain('주민등록표 등본');
    expect(shown).toContain('세대원 2 생년월일');

    // The pharmacy's address as a PNG QR code; the parent sends from the image.
    const qr = join(dir, 'pharmacy.png');
    await ok(['wallet', 'address', '--wallet', pharmacyFile, '--qr', 'png', '--out', qr], pwPharmacy);
    expect((await ok(['wallet', 'read-qr', qr])).trim()).toBe(`DOJANG:${pharmacy.address.toUpperCase()}`);
    const sent = await ok(['wallet', 'send', issued.item, '--url', url, '--wallet', parentFile, '--to-qr', qr, '--show', 'applicant,member.2.relation,member.2.birthDate', '--json'], pw);
    const got = await ok(['wallet', 'list', '--url', url, '--wallet', pharmacyFile, '--json'], pwPharmacy);
    expect(got.items).toEqual([expect.objectContaining({ item: sent.item, kind: 'received' })]);
    const p1 = join(dir, 'received.dojang-presentation');
    await ok(['wallet', 'present', sent.item, '--url', url, '--wallet', pharmacyFile, '--show', 'applicant,member.2.relation,member.2.birthDate', '--received', '--out', p1], pwPharmacy);
    const v1 = await run(['verify', p1, '--url', url, '--me', `dojang:${pharmacy.address}`, '--mask']);
    expect(v1.status, v1.stdout + v1.stderr).toBe(0);
    expect(v1.stdout).toContain('ALLOWED');
    // The pharmacy holds only the disclosed claims: it cannot show the child's name.
    const more = await run(['wallet', 'present', sent.item, '--url', url, '--wallet', pharmacyFile, '--show', 'member.2.name', '--received', '--out', join(dir, 'no')], pwPharmacy);
    expect([more.status, more.stderr]).toEqual([1, expect.stringContaining('BAD_REQUEST')]);

    // Face to face, with a challenge; the same presentation is refused for another nonce.
    const nonce = '11'.repeat(16);
    const p2 = join(dir, 'face.dojang-presentation');
    await ok(['wallet', 'present', issued.item, '--url', url, '--wallet', parentFile, '--show', 'applicant,member.2.relation,member.2.birthDate', '--challenge', `dojang:verify?name=${encodeURIComponent('약국')}&nonce=${nonce}`, '--out', p2], pw);
    expect((await run(['verify', p2, '--url', url, '--verifier', '약국', '--nonce', nonce, '--mask'])).status).toBe(0);
    expect((await run(['verify', p2, '--url', url, '--verifier', '약국', '--nonce', '22'.repeat(16), '--mask'])).status).toBe(3);
    // The spouse (aged 11–79): valid, but the purchase is refused (exit 3 with --mask).
    const p3 = join(dir, 'spouse.dojang-presentation');
    await ok(['wallet', 'present', issued.item, '--url', url, '--wallet', parentFile, '--show', 'applicant,member.3.relation,member.3.birthDate', '--challenge', `dojang:verify?name=x&nonce=${nonce}`, '--out', p3], pw);
    const v3 = await run(['verify', p3, '--url', url, '--verifier', 'x', '--nonce', nonce, '--mask']);
    expect([v3.status, v3.stdout]).toEqual([3, expect.stringContaining('REFUSED (NOT_ELIGIBLE)')]);
    expect(v3.stdout).toContain('VALID');

    // The view-only PDF is encrypted and written 0600.
    const pdfPw = join(dir, 'pdf-password');
    await writeFile(pdfPw, '인쇄 암호\n');
    const pdf = join(dir, 'copy.pdf');
    await ok(['wallet', 'view-pdf', issued.item, '--url', url, '--wallet', parentFile, '--pdf-password-file', pdfPw, '--out', pdf], pw);
    const bytes = await readFile(pdf);
    expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
    expect(bytes.includes(Buffer.from('/Encrypt'))).toBe(true); // qpdf and pdftotext read it in test/system/view-pdf.test.ts
    expect((await stat(pdf)).mode & 0o777).toBe(0o600);

    // Delete, then it is gone.
    await ok(['wallet', 'delete', sent.item, '--url', url, '--wallet', pharmacyFile], pwPharmacy);
    expect((await ok(['wallet', 'list', '--url', url, '--wallet', pharmacyFile, '--json'], pwPharmacy)).items).toEqual([]);
  }, 180_000);
});
