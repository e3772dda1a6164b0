/**
 * The view-only copy (열람용, spec §12.9): a PDF a holder prints from a presentation with
 * flow "view" (spec §10.1). It shows the document — its type, id, issuer, dates, log and
 * every disclosed claim, labelled in Korean and English — marks every page as having no
 * legal effect, and carries the presentation as the embedded file
 * `certificate.dojang-presentation`, so that anyone can check the content against the
 * log: a verifier finds it genuine and never an original (`original`: `VIEW_ONLY`).
 *
 * The PDF is encrypted with AES-256 under the holder's password: pdfkit encrypts (AESV3)
 * and its revision 5 password entries are replaced by revision 6 ones
 * (src/wallet/pdf-security.ts). The owner password is random and thrown away. The
 * permissions (print: yes; change, annotate, fill in, reassemble: no) are honoured by
 * readers, not enforced by the cipher: whoever has the password has the file key. Text
 * is set in Noto Sans KR from the npm package @embedpdf/fonts-kr, embedded as a subset.
 *
 * Node only (fonts from disk, node:crypto). No clock: the caller gives the time printed
 * as the time the copy was made. The output is not deterministic (salts, IVs, the owner
 * password), and holds no path or user name of the machine that made it.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import { LedgerError } from '../core/errors.js';
import { toHex } from '../core/bytes.js';
import { randomBytes } from '../core/crypto.js';
import type { CborValue } from '../core/cbor.js';
import { verifyDisclosure } from '../core/commitment.js';
import { decodePresentation } from '../client/presentation.js';
import { claimLabel, docTypeTitle, type Label } from './doctypes.js';
import { pdfPassword, r6Entries } from './pdf-security.js';

export interface ViewPdfOptions {
  /** An encoded presentation with flow "view" (spec §10.1), as DojangClient.present({ holding: { flow: 'view' } }) makes it. */
  presentation: Uint8Array;
  /** The password the holder chose (1..128 chars); the PDF opens only with it. */
  password: string;
  /** Unix seconds: printed as the time the copy was made. */
  now: number;
}

/** The name of the embedded presentation. */
export const PRESENTATION_FILE = 'certificate.dojang-presentation';
/** The marking on every page, in both languages. */
export const VIEW_ONLY_MARK: Label = { ko: '열람용 — 법적 효력이 없습니다', en: 'VIEW-ONLY COPY — NO LEGAL EFFECT' };
/** The diagonal watermark of every page. */
export const WATERMARK = '열람용 VIEW ONLY';
export const MAX_PASSWORD_CHARS = 128;

const KST_OFFSET = 9 * 3600;
/** 9999-12-31T23:59:59Z: later times are printed as numbers. */
const MAX_DATE_SECONDS = 253_402_300_799;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u; // with the u flag, matches unpaired surrogates only
const CONTROL = /\p{Cc}/u;

// A4 in points, and the page's margins: the marking lives in the top and bottom margins.
const PAGE = { width: 595.28, height: 841.89 };
const MARGINS = { top: 70, bottom: 66, left: 56, right: 56 };
const CONTENT_WIDTH = PAGE.width - MARGINS.left - MARGINS.right;
const LABEL_WIDTH = 190;
const GAP = 14;
const VALUE_X = MARGINS.left + LABEL_WIDTH + GAP;
const VALUE_WIDTH = CONTENT_WIDTH - LABEL_WIDTH - GAP;
const RED = '#a4001d';
const GREY = '#5f6368';
const RULE = '#d0d4d9';

/**
 * kstTime prints Unix seconds as a date and time in Korea (UTC+9): "2025-03-04 09:30 KST".
 * Times the calendar cannot show (past year 9999) are printed as the number.
 */
export function kstTime(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds < 0) throw new RangeError('kstTime: seconds must be a non-negative safe integer');
  if (seconds > MAX_DATE_SECONDS - KST_OFFSET) return `Unix time ${seconds}`;
  const iso = new Date((seconds + KST_OFFSET) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} KST`;
}

/** plain turns a claim value into JSON-able data: byte strings as lowercase hex. */
function plain(v: CborValue): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** valueText prints a claim value: text as it is, a number or byte string (hex) bare, anything else as JSON. */
export function valueText(v: CborValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (v instanceof Uint8Array) return toHex(v);
  return JSON.stringify(plain(v));
}

const TOP_CLAIMS = ['head', 'address', 'applicant'];
const MEMBER_FIELDS = ['name', 'relation', 'birthDate'];
const MEMBER_CLAIM = /^member\.([1-9]\d*)\.(name|relation|birthDate)$/;

/** claimRank orders claims as a resident registration copy reads: head, address, applicant, members 1, 2, … by field, then the rest. */
function claimRank(name: string): [number, number, number] {
  const top = TOP_CLAIMS.indexOf(name);
  if (top >= 0) return [0, top, 0];
  const m = MEMBER_CLAIM.exec(name);
  if (m !== null) return [1, Number(m[1]), MEMBER_FIELDS.indexOf(m[2])];
  return [2, 0, 0];
}

/** compareClaimNames orders claim names for printing (claimRank, then by code unit). */
export function compareClaimNames(a: string, b: string): number {
  const ra = claimRank(a);
  const rb = claimRank(b);
  for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return ra[i] - rb[i];
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * checkPassword refuses a password that is not 1–128 characters (code points) of
 * well-formed text without control characters: RangeError (TypeError for a non-string).
 * Only its first 127 bytes of UTF-8 count (ISO 32000-2), as every reader does.
 */
function checkPassword(password: unknown): string {
  if (typeof password !== 'string') throw new TypeError('viewOnlyPdf: the password must be a string');
  const n = [...password].length;
  if (n < 1 || n > MAX_PASSWORD_CHARS) throw new RangeError(`viewOnlyPdf: the password must be 1–${MAX_PASSWORD_CHARS} characters, is ${n}`);
  if (LONE_SURROGATE.test(password) || CONTROL.test(password)) throw new RangeError('viewOnlyPdf: the password must be well-formed text without control characters');
  return password;
}

const requireHere = createRequire(import.meta.url);

/** fontFile finds a Noto Sans KR face in the npm package (which exports only its index, in dist/). */
function fontFile(face: 'Regular' | 'Bold'): string {
  return join(dirname(requireHere.resolve('@embedpdf/fonts-kr')), '..', 'fonts', `NotoSansKR-${face}.otf`);
}

/** What pdfkit 0.20.2 keeps of its security handler and catalog (not in its types). */
interface PdfkitInternals {
  _security?: {
    encryptionKey?: unknown;
    dictionary?: { data?: Record<string, unknown> };
    getEncryptFn?: (obj: number, gen: number) => (b: Uint8Array) => Uint8Array;
  };
  _root?: { data?: Record<string, unknown> };
}

/**
 * useRevision6 mends pdfkit's AES-256 before anything is encrypted: it replaces the
 * revision 5 password entries with revision 6 ones for the same file key, declares Adobe
 * Extension Level 8 (revision 6 in a PDF 1.7 file), and draws a fresh IV for every
 * string and stream (pdfkit draws one per object and reuses it for each string of the
 * object). It must run right after the document is made: objects are encrypted as they
 * are written, and doc.end() writes the Encrypt dictionary. Error if pdfkit does not hold
 * what 0.20.2 holds, so that an upgrade cannot silently write something else.
 */
function useRevision6(doc: PDFKit.PDFDocument, user: Uint8Array, owner: Uint8Array): void {
  const { _security: security, _root: root } = doc as unknown as PdfkitInternals;
  const key = security?.encryptionKey;
  const dict = security?.dictionary?.data;
  const encryptFn = security?.getEncryptFn;
  const catalog = root?.data;
  if (security === undefined || !(key instanceof Uint8Array) || key.length !== 32 || dict?.V !== 5 || dict.R !== 5 || dict.Filter !== 'Standard' || typeof encryptFn !== 'function' || catalog === undefined) {
    throw new Error('viewOnlyPdf: pdfkit did not set up AES-256 as 0.20.2 does (revision 5, a 32-byte file key); the revision 6 upgrade needs a review');
  }
  Object.assign(dict, r6Entries({ user, owner, fileKey: key }), { R: 6 });
  catalog.Extensions = { ADBE: { BaseVersion: '1.7', ExtensionLevel: 8 } };
  security.getEncryptFn = (obj, gen) => (b) => encryptFn.call(security, obj, gen)(b);
}

/** Fonts by role: the keys pdfkit caches them under. */
interface Fonts {
  regular: string;
  bold: string;
}

/** ensureRoom starts a new page unless h points fit above the bottom margin (a block taller than a page flows on). */
function ensureRoom(doc: PDFKit.PDFDocument, h: number): void {
  const bottom = PAGE.height - MARGINS.bottom;
  if (doc.y + h > bottom && h <= bottom - MARGINS.top) doc.addPage();
}

/** heading writes a section heading in both languages. */
function heading(doc: PDFKit.PDFDocument, f: Fonts, label: Label): void {
  ensureRoom(doc, 60);
  doc.moveDown(0.8);
  doc.font(f.bold).fontSize(13).fillColor('black').text(`${label.ko}  `, MARGINS.left, doc.y, { continued: true });
  doc.font(f.regular).fontSize(10).fillColor(GREY).text(label.en);
  doc.moveTo(MARGINS.left, doc.y + 2).lineTo(PAGE.width - MARGINS.right, doc.y + 2).lineWidth(0.8).strokeColor('black').stroke();
  doc.y += 8;
}

/**
 * row writes one labelled value: the Korean label over the English one on the left, the
 * value on the right, a thin rule below. A row goes to the next page whole unless it is
 * taller than a page.
 */
function row(doc: PDFKit.PDFDocument, f: Fonts, label: Label, value: string): void {
  doc.font(f.bold).fontSize(10);
  const hKo = doc.heightOfString(label.ko, { width: LABEL_WIDTH });
  doc.font(f.regular).fontSize(8);
  const hEn = doc.heightOfString(label.en, { width: LABEL_WIDTH });
  doc.fontSize(11);
  const hValue = doc.heightOfString(value, { width: VALUE_WIDTH });
  const h = Math.max(hKo + hEn, hValue) + 9;
  ensureRoom(doc, h);
  const page = doc.page;
  const y = doc.y;
  doc.font(f.bold).fontSize(10).fillColor('black').text(label.ko, MARGINS.left, y, { width: LABEL_WIDTH });
  doc.font(f.regular).fontSize(8).fillColor(GREY).text(label.en, MARGINS.left, y + hKo, { width: LABEL_WIDTH });
  doc.font(f.regular).fontSize(11).fillColor('black').text(value, VALUE_X, y, { width: VALUE_WIDTH });
  const end = doc.page === page ? Math.max(doc.y, y + hKo + hEn) : doc.y;
  doc.moveTo(MARGINS.left, end + 4).lineTo(PAGE.width - MARGINS.right, end + 4).lineWidth(0.4).strokeColor(RULE).stroke();
  doc.x = MARGINS.left;
  doc.y = end + 9;
}

/** paragraph writes text across the content width. */
function paragraph(doc: PDFKit.PDFDocument, font: string, size: number, text: string, width = CONTENT_WIDTH): void {
  doc.font(font).fontSize(size).fillColor('black');
  ensureRoom(doc, doc.heightOfString(text, { width }));
  doc.text(text, MARGINS.left, doc.y, { width });
}

/** markPage draws the marking of one page: the diagonal watermark, the header and the footer with the page number. */
function markPage(doc: PDFKit.PDFDocument, f: Fonts, n: number, of: number): void {
  const { width, height } = PAGE;
  doc.markContent('Artifact', { type: 'Pagination' });
  doc.save();
  doc.font(f.bold).fontSize(60).fillColor('#7a7a7a').fillOpacity(0.13);
  const w = doc.widthOfString(WATERMARK);
  doc.rotate(-50, { origin: [width / 2, height / 2] });
  doc.text(WATERMARK, (width - w) / 2, height / 2 - doc.currentLineHeight() / 2, { lineBreak: false });
  doc.restore();
  doc.endMarkedContent();

  const line = `${VIEW_ONLY_MARK.ko} / ${VIEW_ONLY_MARK.en}`;
  doc.font(f.bold).fontSize(9).fillColor(RED).fillOpacity(1);
  doc.text(line, (width - doc.widthOfString(line)) / 2, 30, { lineBreak: false });
  doc.moveTo(MARGINS.left, 46).lineTo(width - MARGINS.right, 46).lineWidth(0.8).strokeColor(RED).stroke();
  doc.moveTo(MARGINS.left, height - 50).lineTo(width - MARGINS.right, height - 50).lineWidth(0.8).strokeColor(RED).stroke();
  doc.text(line, MARGINS.left, height - 42, { lineBreak: false });
  const pageNo = `${n} / ${of}`;
  doc.font(f.regular).fillColor(GREY);
  doc.text(pageNo, width - MARGINS.right - doc.widthOfString(pageNo), height - 42, { lineBreak: false });
}

/** collect gathers the bytes a pdfkit document writes, until it ends. */
function collect(doc: PDFKit.PDFDocument): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    doc.on('error', reject);
  });
}

/**
 * viewOnlyPdf makes the view-only copy of a presentation (spec §12.9): an AES-256 PDF
 * (security handler revision 6) that opens with the password alone, may be printed but
 * not changed, shows the document with every disclosed claim, marks every page
 * `열람용 — 법적 효력이 없습니다` / `VIEW-ONLY COPY — NO LEGAL EFFECT` with a diagonal
 * `열람용 VIEW ONLY`, and embeds the presentation as `certificate.dojang-presentation`.
 *
 * The presentation is decoded (spec §10.1: its LedgerErrors propagate) and must have
 * flow "view" (else BAD_REQUEST); its disclosure must commit to the issuance (§5.8: else
 * INVALID_PROOF or MALFORMED), so the copy prints nothing the issuer did not sign. Its
 * proofs and signatures are not checked here: that is the verifier's part, with the
 * log's keys. TypeError/RangeError for a password outside 1–128 characters of text, a
 * time that is not Unix seconds, or bytes that are not a Uint8Array.
 */
export async function viewOnlyPdf(o: ViewPdfOptions): Promise<Uint8Array> {
  if (!(o.presentation instanceof Uint8Array)) throw new TypeError('viewOnlyPdf: presentation must be a Uint8Array');
  const password = checkPassword(o.password);
  if (!Number.isSafeInteger(o.now) || o.now < 0) throw new RangeError('viewOnlyPdf: now must be Unix seconds (a non-negative safe integer)');
  const p = decodePresentation(o.presentation);
  if (p.holding.flow !== 'view') {
    throw new LedgerError('BAD_REQUEST', `viewOnlyPdf: a view-only copy is made of a presentation with flow "view", not "${p.holding.flow}"`);
  }
  const issue = p.parsed.issue.event;
  const claims = verifyDisclosure(p.disclosure, issue.commitment);
  const title = docTypeTitle(issue.docType);
  const id = toHex(issue.id);
  const qr = await QRCode.toBuffer(id, { type: 'png', errorCorrectionLevel: 'M', margin: 1, scale: 4 });

  const fonts: Fonts = { regular: fontFile('Regular'), bold: fontFile('Bold') };
  const owner = toHex(randomBytes(32));
  const made = new Date(o.now * 1000);
  const doc = new PDFDocument({
    size: [PAGE.width, PAGE.height],
    margins: MARGINS,
    font: fonts.regular,
    bufferPages: true,
    lang: 'ko-KR',
    pdfVersion: '1.7ext3',
    // pdfkit sets up AES-256 (revision 5) with the owner password for both; useRevision6
    // then writes the entries of both passwords for revision 6.
    userPassword: owner,
    ownerPassword: owner,
    permissions: { printing: 'highResolution', copying: true, contentAccessibility: true, modifying: false, annotating: false, fillingForms: false, documentAssembly: false },
    info: { Title: `${title.ko} (열람용) / ${title.en} (view-only copy)`, Creator: 'dojang', Producer: 'dojang', CreationDate: made, ModDate: made },
  });
  useRevision6(doc, pdfPassword(password), pdfPassword(owner));
  const out = collect(doc);

  // Title on the left, the QR code of the certificate id on the right.
  const qrSize = 78;
  const qrX = PAGE.width - MARGINS.right - qrSize;
  doc.image(qr, qrX, MARGINS.top, { width: qrSize });
  doc.font(fonts.regular).fontSize(6.5).fillColor(GREY).text('증명서 번호 / Certificate ID', qrX - 10, MARGINS.top + qrSize + 2, { width: qrSize + 20, align: 'center' });
  const titleWidth = CONTENT_WIDTH - qrSize - GAP;
  doc.font(fonts.bold).fontSize(20).fillColor('black').text(title.ko, MARGINS.left, MARGINS.top, { width: titleWidth });
  doc.font(fonts.regular).fontSize(12).fillColor(GREY).text(title.en, { width: titleWidth });
  doc.font(fonts.bold).fontSize(11).fillColor(RED).text('열람용 사본 · View-only copy', { width: titleWidth });
  doc.y = Math.max(doc.y, MARGINS.top + qrSize + 12);

  heading(doc, fonts, { ko: '증명서', en: 'Certificate' });
  row(doc, fonts, { ko: '증명서 번호', en: 'Certificate ID' }, id);
  row(doc, fonts, { ko: '문서 종류', en: 'Document type' }, issue.docType);
  row(doc, fonts, { ko: '발급 기관', en: 'Issuer' }, p.parsed.register.event.name);
  row(doc, fonts, { ko: '발급 일시', en: 'Issued at' }, kstTime(issue.issuedAt));
  row(doc, fonts, { ko: '원본 유효 기한', en: 'Original valid until' }, kstTime(issue.validUntil));
  row(doc, fonts, { ko: '원장', en: 'Log (origin)' }, p.origin);
  row(doc, fonts, { ko: '열람용 생성 일시', en: 'Copy made at' }, kstTime(o.now));

  heading(doc, fonts, { ko: '기재 사항', en: 'Contents' });
  const names = Object.keys(claims).sort(compareClaimNames);
  if (names.length === 0) paragraph(doc, fonts.regular, 10, '공개된 항목이 없습니다. / No claim is disclosed.');
  for (const name of names) row(doc, fonts, claimLabel(name), valueText(claims[name]));

  heading(doc, fonts, { ko: '진위 확인', en: 'How to verify' });
  paragraph(
    doc,
    fonts.regular,
    9.5,
    `이 사본은 열람용으로 법적 효력이 없습니다. 첨부 파일에 담긴 제시본(presentation)으로 증명서 ${id}의 내용이 원장에 기록된 진본인지 확인할 수 있습니다. ` +
      '내용이 진본이어도 원본으로는 판정되지 않습니다(original: VIEW_ONLY).',
  );
  doc.moveDown(0.3);
  paragraph(
    doc,
    fonts.regular,
    9,
    `This copy is for viewing only and has no legal effect. The presentation attached to it shows whether the content of certificate ${id} is genuine and recorded in the log. ` +
      'Genuine content is still never judged an original (original: VIEW_ONLY).',
  );
  doc.moveDown(0.6);
  row(doc, fonts, { ko: '첨부 파일', en: 'Attached file' }, PRESENTATION_FILE);
  row(doc, fonts, { ko: '첨부 파일 저장', en: 'Saving it' }, 'PDF 보기 프로그램의 첨부 파일 목록에서 저장합니다.\nSave it from the attachments of the PDF viewer.');
  row(doc, fonts, { ko: '명령으로 확인', en: 'With the command' }, `dojang verify ${PRESENTATION_FILE}\n--url <원장 서버 주소 / log server URL>`);
  row(doc, fonts, { ko: '웹에서 확인', en: 'On the web' }, '원장 서버의 /verify 페이지에 첨부 파일을 올립니다.\nUpload the attached file at the /verify page of the log server.');

  doc.file(Buffer.from(o.presentation), {
    name: PRESENTATION_FILE,
    type: 'application/cbor',
    description: 'dojang presentation, flow "view" (spec §10.1)',
    creationDate: made,
    modifiedDate: made,
  });

  const { start, count } = doc.bufferedPageRange();
  for (let i = 0; i < count; i++) {
    doc.switchToPage(start + i);
    markPage(doc, fonts, i + 1, count);
  }
  doc.end();
  return out;
}
