/**
 * The view-only copy (spec §12.9) read by outside tools: qpdf (Debian) for the
 * encryption, the page count and the embedded presentation, poppler's pdftotext for the
 * text of every page. The PDFs come from real presentations against a served log, and
 * the embedded presentation is judged by PresentationVerifier with the log's keys.
 *
 * Needs the Debian packages qpdf and poppler-utils (scripts/install-system-deps.sh); a
 * missing tool fails every test with that instruction. Page 1 of each copy is rendered
 * to test-artifacts/ (pdftoppm) for a person to look at.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { viewOnlyPdf, PRESENTATION_FILE, VIEW_ONLY_MARK } from '../../src/wallet/view-pdf.js';
import { decodePresentation } from '../../src/client/presentation.js';
import { PresentationVerifier } from '../../src/client/verify.js';
import { toHex } from '../../src/core/bytes.js';
import { bigHousehold, issueCopy, OFFICE_NAME, serveLog, SMALL_HOUSEHOLD, viewPresentation, type ServedLog } from '../helpers/view-copy.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const PASSWORD = '열람 copy 2025!';
const INSTALL = 'run `bash scripts/install-system-deps.sh` (Debian packages qpdf and poppler-utils)';

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** run executes a tool to completion (60 s at most); a tool that is not installed is an Error saying how to install it. */
function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      rej(e.code === 'ENOENT' ? new Error(`${cmd} is not installed: ${INSTALL}`) : e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

/** ok runs a tool that must succeed and returns its stdout. */
async function ok(cmd: string, args: string[]): Promise<Buffer> {
  const r = await run(cmd, args);
  expect(r.code, `${cmd} ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

const pdftotext = async (file: string, page?: number): Promise<string> =>
  (await ok('pdftotext', ['-upw', PASSWORD, '-enc', 'UTF-8', ...(page === undefined ? [] : ['-f', String(page), '-l', String(page)]), file, '-'])).toString('utf8');

let log: ServedLog;
let dir: string;
/** The copies: a household of three, and one of sixteen that runs to several pages. */
const copies: Record<'small' | 'big', { file: string; presentation: Uint8Array; id: string; ms: number; bytes: number }> = {} as never;

beforeAll(async () => {
  // The tools first: missing ones fail here, with the instruction, before anything else.
  for (const [cmd, args] of [
    ['qpdf', ['--version']],
    ['pdftotext', ['-v']],
    ['pdftoppm', ['-v']],
  ] as const) {
    const r = await run(cmd, [...args]);
    if (r.code !== 0) throw new Error(`${cmd} does not run (${r.code}): ${r.stderr.trim()}; ${INSTALL}`);
  }
  dir = await mkdtemp(join(tmpdir(), 'dojang-view-pdf-'));
  await mkdir(ARTIFACTS, { recursive: true });
  log = await serveLog('example.com/view-pdf-system');
  for (const [name, household] of [
    ['small', SMALL_HOUSEHOLD],
    ['big', bigHousehold(16)],
  ] as const) {
    const c = await issueCopy(log, household);
    const presentation = await viewPresentation(log, c);
    const t0 = performance.now();
    const pdf = await viewOnlyPdf({ presentation, password: PASSWORD, now: log.client.now() });
    const ms = performance.now() - t0;
    const file = join(dir, `${name}.pdf`);
    await writeFile(file, pdf);
    copies[name] = { file, presentation, id: toHex(c.id), ms, bytes: pdf.length };
    await ok('pdftoppm', ['-upw', PASSWORD, '-r', '60', '-png', '-f', '1', '-l', '1', '-singlefile', file, join(ARTIFACTS, `view-pdf-${name}`)]);
  }
  console.log(`view-only PDFs: ${(['small', 'big'] as const).map((n) => `${n} ${copies[n].bytes} bytes in ${copies[n].ms.toFixed(0)} ms`).join(', ')}`);
});

afterAll(async () => {
  await log?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('qpdf: the encryption', () => {
  it('needs a password to open; a wrong one does not decrypt it', async () => {
    for (const { file } of Object.values(copies)) {
      expect((await run('qpdf', ['--requires-password', file])).code).toBe(0); // 0: a password is required
      const wrong = await run('qpdf', ['--password=WRONG', '--decrypt', file, join(dir, 'wrong.pdf')]);
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toMatch(/invalid password/);
      await ok('qpdf', [`--password=${PASSWORD}`, '--decrypt', file, join(dir, 'decrypted.pdf')]);
    }
  });

  it('is AES-256, revision 6, under the user password; printing allowed, changing not', async () => {
    const out = (await ok('qpdf', ['--show-encryption', `--password=${PASSWORD}`, copies.small.file])).toString('utf8');
    expect(out).toMatch(/^R = 6$/m);
    expect(out).toMatch(/^Supplied password is user password$/m);
    for (const line of [
      'stream encryption method: AESv3',
      'string encryption method: AESv3',
      'file encryption method: AESv3',
      'print high resolution: allowed',
      'print low resolution: allowed',
      'modify anything: not allowed',
      'modify annotations: not allowed',
      'modify forms: not allowed',
      'modify document assembly: not allowed',
    ]) {
      expect(out).toContain(line);
    }
  });

  it('passes qpdf --check', async () => {
    for (const { file } of Object.values(copies)) {
      expect((await ok('qpdf', ['--check', `--password=${PASSWORD}`, file])).toString('utf8')).toContain('No syntax or stream encoding errors found');
    }
  });

  it('holds no path of this machine, decrypted and with its streams uncompressed', async () => {
    const plain = join(dir, 'plain.pdf');
    await ok('qpdf', [`--password=${PASSWORD}`, '--decrypt', '--qdf', '--object-streams=disable', copies.big.file, plain]);
    const s = (await readFile(plain)).toString('latin1');
    expect(s).toContain('/Type /EmbeddedFile'); // it did decrypt
    for (const p of [ROOT, dir, tmpdir(), 'node_modules', 'fonts-kr', homedir()].filter((x) => x.length > 1)) expect(s, p).not.toContain(p);
  });
});

describe('poppler: the text', () => {
  it('shows the marking, the document and every claim in Korean and English', async () => {
    const text = await pdftotext(copies.small.file);
    for (const s of [
      '열람용',
      VIEW_ONLY_MARK.ko,
      VIEW_ONLY_MARK.en,
      'VIEW-ONLY COPY',
      '법적 효력이 없습니다',
      '주민등록표 등본',
      'Resident registration copy',
      copies.small.id,
      OFFICE_NAME,
      'example.com/view-pdf-system',
      '세대주',
      'Head of household',
      '주소',
      '신청인 (세대원 번호)',
      '세대원 1 성명',
      'Member 1 name',
      '세대원 2 세대주와의 관계',
      '생년월일',
      'Member 3 date of birth',
      SMALL_HOUSEHOLD.address,
      ...SMALL_HOUSEHOLD.members.flatMap((m) => [m.name, m.relation, m.birthDate]),
      PRESENTATION_FILE,
      `dojang verify ${PRESENTATION_FILE}`,
      '/verify',
      'KST',
    ]) {
      expect(text, s).toContain(s);
    }
  });

  it('prints only the disclosed claims: a hidden one is nowhere in the text', async () => {
    const c = await issueCopy(log, SMALL_HOUSEHOLD);
    const some = await viewPresentation(log, c, ['address', 'member.3.name']);
    const file = join(dir, 'some.pdf');
    await writeFile(file, await viewOnlyPdf({ presentation: some, password: PASSWORD, now: log.client.now() }));
    const text = await pdftotext(file);
    expect(text).toContain('김하늘');
    expect(text).toContain('세종대로');
    const full = await pdftotext(copies.small.file); // the same values, all disclosed, are printed as written here
    for (const hidden of ['김민수', '이서연', '1982-03-15', '2019-05-05', '배우자']) {
      expect(full, hidden).toContain(hidden);
      expect(text, hidden).not.toContain(hidden);
    }
  });

  it('marks every page, including the pages a large household runs onto', async () => {
    for (const { file } of Object.values(copies)) {
      const pages = Number((await ok('qpdf', ['--show-npages', `--password=${PASSWORD}`, file])).toString('utf8').trim());
      if (file === copies.big.file) expect(pages).toBeGreaterThanOrEqual(2);
      for (let i = 1; i <= pages; i++) {
        const text = await pdftotext(file, i);
        expect(text, `page ${i}`).toContain(VIEW_ONLY_MARK.ko);
        expect(text, `page ${i}`).toContain(VIEW_ONLY_MARK.en);
        // Header and footer both.
        expect(text.split(VIEW_ONLY_MARK.en).length - 1, `page ${i}`).toBeGreaterThanOrEqual(2);
        expect(text, `page ${i}`).toMatch(new RegExp(`${i}\\s*/\\s*${pages}`));
      }
    }
    const big = await pdftotext(copies.big.file);
    for (let m = 1; m <= 16; m++) expect(big).toContain(`세대원 ${m} 성명`);
  });
});

describe('the embedded presentation', () => {
  it('is certificate.dojang-presentation, application/cbor, byte for byte the presentation', async () => {
    for (const { file, presentation } of Object.values(copies)) {
      const list = (await ok('qpdf', [`--password=${PASSWORD}`, '--list-attachments', '--verbose', file])).toString('utf8');
      expect(list).toMatch(new RegExp(`^${PRESENTATION_FILE.replace('.', '\\.')} -> `, 'm'));
      expect(list).toContain('mime type: application/cbor');
      const bytes = await ok('qpdf', [`--password=${PASSWORD}`, `--show-attachment=${PRESENTATION_FILE}`, file]);
      expect(bytes.equals(Buffer.from(presentation))).toBe(true);
    }
  });

  it('is judged genuine and anchored, and never an original (original: VIEW_ONLY)', async () => {
    const bytes = await ok('qpdf', [`--password=${PASSWORD}`, `--show-attachment=${PRESENTATION_FILE}`, copies.small.file]);
    const v = new PresentationVerifier(log.keys).verify(decodePresentation(new Uint8Array(bytes)), { now: log.client.now() });
    expect(v.valid).toBe(false);
    expect(v.flow).toBe('view');
    const check = (name: string) => v.checks.find((c) => c.name === name);
    expect(check('original')).toMatchObject({ ok: false, reason: 'VIEW_ONLY' });
    for (const name of ['anchored', 'issuer-signature', 'issuer-registered', 'document', 'chain', 'not-revoked', 'validity']) expect(check(name), name).toMatchObject({ ok: true });
    expect(v.checks.filter((c) => !c.ok).map((c) => `${c.name}:${c.reason}`)).toEqual(['holding:VIEW_ONLY', 'original:VIEW_ONLY']);
    expect(v.certificate).toMatchObject({ id: copies.small.id, issuerName: OFFICE_NAME });
    expect(v.claims?.['member.1.name']).toBe(SMALL_HOUSEHOLD.members[0].name);
  });
});
