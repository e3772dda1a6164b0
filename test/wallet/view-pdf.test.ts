import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareClaimNames, kstTime, valueText, viewOnlyPdf, WATERMARK } from '../../src/wallet/view-pdf.js';
import { hashR6, pdfPassword } from '../../src/wallet/pdf-security.js';
import { decodePresentation, encodePresentation } from '../../src/client/presentation.js';
import { disclose } from '../../src/core/commitment.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { leafHash } from '../../src/core/merkle.js';
import { utf8 } from '../../src/core/bytes.js';
import { isLedgerError } from '../../src/core/errors.js';
import { bigHousehold, issueCopy, serveLog, SMALL_HOUSEHOLD, viewPresentation, type Issued, type ServedLog } from '../helpers/view-copy.js';
import { contains, decryptPerms, embeddedFile, embeddedFileStream, encryptDict, fileKey, objectText, pageCount, utf16be } from '../helpers/pdf.js';

// The view-only copy (spec §12.9) of real presentations made against a served log, read
// with nothing but node: the Encrypt dictionary, the password, the permissions, the
// embedded presentation, and no claim in the clear. test/system/view-pdf.test.ts reads
// the same PDFs with qpdf and poppler.

const PASSWORD = '열람 copy 2025!';

let log: ServedLog;
let small: Issued;
let view: Uint8Array;
let pdf: Uint8Array;

beforeAll(async () => {
  log = await serveLog('example.com/view-pdf-test');
  small = await issueCopy(log, SMALL_HOUSEHOLD);
  view = await viewPresentation(log, small);
  pdf = await viewOnlyPdf({ presentation: view, password: PASSWORD, now: log.client.now() });
});

afterAll(async () => {
  await log.close();
});

/** codeOf awaits p and names how it ended: 'OK', a LedgerError code, or the error's name. */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return isLedgerError(e) ? e.code : (e as Error).name;
  }
}

describe('the view-only PDF', () => {
  it('is a PDF with an Encrypt dictionary: AES-256 (V 5, AESV3), security handler revision 6', () => {
    expect(Buffer.from(pdf.subarray(0, 8)).toString('latin1')).toBe('%PDF-1.7');
    const e = encryptDict(pdf);
    expect(e.raw).toContain('/Filter /Standard');
    expect({ V: e.V, R: e.R, length: e.length, cfm: e.cfm }).toEqual({ V: 5, R: 6, length: 256, cfm: 'AESV3' });
    expect([e.U.length, e.UE.length, e.O.length, e.OE.length, e.Perms.length]).toEqual([48, 32, 48, 32, 16]);
    expect(objectText(pdf, Number(/\/Root (\d+) 0 R/.exec(Buffer.from(pdf).toString('latin1'))![1]))).toMatch(/\/Extensions <<\n\/ADBE <<\n\/BaseVersion \/1\.7\n\/ExtensionLevel 8/);
  });

  it('opens with the password and nothing else; the owner password is another, random one', () => {
    const key = fileKey(pdf, PASSWORD);
    expect(key.length).toBe(32);
    expect(() => fileKey(pdf, 'WRONG')).toThrow('not the user password');
    expect(() => fileKey(pdf, '')).toThrow('not the user password');
    const e = encryptDict(pdf);
    expect(Buffer.compare(hashR6(pdfPassword(PASSWORD), e.O.subarray(32, 40), e.U), e.O.subarray(0, 32))).not.toBe(0);
    // Perms holds P under the file key the password opens: the key is the document's.
    const perms = decryptPerms(pdf, key);
    expect(perms.readInt32LE(0)).toBe(e.P);
    expect(perms.subarray(4, 12).toString('latin1')).toBe('\xff\xff\xff\xffTadb');
  });

  it('may be printed (in high resolution) and copied from, not changed, annotated, filled in or reassembled', () => {
    const P = encryptDict(pdf).P;
    const bit = (n: number) => (P & (1 << (n - 1))) !== 0;
    expect({ print: bit(3), modify: bit(4), copy: bit(5), annotate: bit(6), forms: bit(9), accessibility: bit(10), assemble: bit(11), printHigh: bit(12) }).toEqual({
      print: true,
      modify: false,
      copy: true,
      annotate: false,
      forms: false,
      accessibility: true,
      assemble: false,
      printHigh: true,
    });
  });

  it('shows no claim value, claim name or label in the clear (UTF-8 or UTF-16BE)', () => {
    const secrets = [
      SMALL_HOUSEHOLD.address,
      '서울특별시',
      ...SMALL_HOUSEHOLD.members.flatMap((m) => [m.name, m.birthDate]),
      '배우자',
      'member.1.name',
      '세대주',
      WATERMARK,
      '열람용',
    ];
    for (const s of secrets) {
      expect(contains(pdf, utf8(s)), `${s} in UTF-8`).toBe(false);
      expect(contains(pdf, utf16be(s)), `${s} in UTF-16BE`).toBe(false);
    }
  });

  it('embeds the presentation, encrypted, as application/cbor; it decrypts to the very bytes', () => {
    const { dict } = embeddedFileStream(pdf);
    expect(dict).toContain('/Subtype /application#2Fcbor');
    expect(dict).toContain(`/Size ${view.length}`);
    expect(Buffer.from(embeddedFile(pdf, fileKey(pdf, PASSWORD))).equals(Buffer.from(view))).toBe(true);
    expect(decodePresentation(embeddedFile(pdf, fileKey(pdf, PASSWORD))).holding).toEqual({ flow: 'view' });
  });

  it('draws a fresh IV for every string (pdfkit alone reuses one per object)', () => {
    // The embedded file's CreationDate and ModDate are the same date: equal plaintexts.
    const { dict } = embeddedFileStream(pdf);
    const m = /\/CreationDate \((.*?)\)\n\/ModDate \((.*?)\)\n/s.exec(dict)!;
    expect(m[1].slice(0, 16)).not.toBe(m[2].slice(0, 16));
  });

  it('embeds subsets of Noto Sans KR, regular and bold, and no other font', () => {
    const s = Buffer.from(pdf).toString('latin1');
    const fonts = new Set([...s.matchAll(/\/BaseFont \/(\S+)/g)].map((m) => m[1].replace(/^[A-Z]{6}\+/, '')));
    expect([...fonts].sort()).toEqual(['NotoSansKR-Bold', 'NotoSansKR-Regular']);
    expect(s).toContain('/FontFile3');
    expect(s).not.toContain('node_modules');
  });

  it('runs a household of many members onto several pages', async () => {
    const big = await issueCopy(log, bigHousehold(16));
    const bytes = await viewOnlyPdf({ presentation: await viewPresentation(log, big), password: PASSWORD, now: log.client.now() });
    expect(pageCount(bytes)).toBeGreaterThanOrEqual(3);
    expect(pageCount(pdf)).toBeGreaterThanOrEqual(1);
  });

  it('prints only the disclosed claims when some are hidden', async () => {
    const some = await viewPresentation(log, small, ['address', 'member.3.name']);
    const bytes = await viewOnlyPdf({ presentation: some, password: PASSWORD, now: log.client.now() });
    expect(Buffer.from(embeddedFile(bytes, fileKey(bytes, PASSWORD))).equals(Buffer.from(some))).toBe(true);
  });
});

describe('what it refuses', () => {
  it('a presentation that is not a view: face to face or received is BAD_REQUEST', async () => {
    const face = await log.client.present({
      issue: small.issue,
      disclosure: disclose(small.claims, ['address']),
      holding: { flow: 'face', holderSeed: small.holder, salt: null, verifier: '온누리약국', nonce: randomBytes(16) },
    });
    expect(await codeOf(viewOnlyPdf({ presentation: face, password: PASSWORD, now: 0 }))).toBe('BAD_REQUEST');
    const to = randomBytes(32);
    const sent = await log.client.transfer(small.holder, { id: small.id, parent: leafHash(small.issue), senderSalt: null, recipientKey: ed25519PublicKey(to) });
    const received = await log.client.present({
      issue: small.issue,
      transfers: [sent.entry],
      disclosure: disclose(small.claims, ['address']),
      holding: { flow: 'received', recipient: ed25519PublicKey(to), salt: sent.recipientSalt },
    });
    expect(await codeOf(viewOnlyPdf({ presentation: received, password: PASSWORD, now: 0 }))).toBe('BAD_REQUEST');
  });

  it("bytes that are not a presentation (the decoder's code), and claims the issuance does not commit to", async () => {
    expect(await codeOf(viewOnlyPdf({ presentation: new Uint8Array([1, 2, 3]), password: PASSWORD, now: 0 }))).toBe('MALFORMED');
    expect(await codeOf(viewOnlyPdf({ presentation: new Uint8Array([...view, 0]), password: PASSWORD, now: 0 }))).toBe('MALFORMED');
    const p = decodePresentation(view);
    const claims = p.disclosure.claims.map((c) => (c[1] === 'address' ? ([c[0], c[1], '서울특별시 중구 세종대로 110'] as typeof c) : c));
    const forged = encodePresentation({ ...p, disclosure: { claims, digests: p.disclosure.digests } });
    expect(await codeOf(viewOnlyPdf({ presentation: forged, password: PASSWORD, now: 0 }))).toBe('INVALID_PROOF');
  });

  it('a password outside 1–128 characters of text, a time that is not Unix seconds, bytes that are not bytes (caller bugs)', async () => {
    const make = (password: unknown, now: unknown = 0, presentation: unknown = view) => codeOf(viewOnlyPdf({ presentation, password, now } as never));
    expect(await make('')).toBe('RangeError');
    expect(await make('a'.repeat(129))).toBe('RangeError');
    expect(await make('pass\u0000word')).toBe('RangeError');
    expect(await make('pass\nword')).toBe('RangeError');
    expect(await make('\uD800x')).toBe('RangeError');
    expect(await make(12345678)).toBe('TypeError');
    expect(await make(undefined)).toBe('TypeError');
    expect(await make(PASSWORD, -1)).toBe('RangeError');
    expect(await make(PASSWORD, 1.5)).toBe('RangeError');
    expect(await make(PASSWORD, '0')).toBe('RangeError');
    expect(await make(PASSWORD, 0, Array.from(view))).toBe('TypeError');
    // 128 characters (of three UTF-8 bytes each) is still a password; only its first 127 bytes count, as in every reader.
    const long = '가나다라'.repeat(32);
    const bytes = await viewOnlyPdf({ presentation: view, password: long, now: 0 });
    expect(fileKey(bytes, long).length).toBe(32);
    expect(fileKey(bytes, long.slice(0, 43)).length).toBe(32); // 129 bytes: the same first 127
  });
});

describe('what it prints', () => {
  it('times in Korea (UTC+9), and times past the calendar as numbers', () => {
    expect(kstTime(Date.UTC(2020, 2, 8, 15, 0, 0) / 1000)).toBe('2020-03-09 00:00 KST');
    expect(kstTime(0)).toBe('1970-01-01 09:00 KST');
    expect(kstTime(253_402_300_799 - 9 * 3600)).toBe('9999-12-31 23:59 KST');
    expect(kstTime(2 ** 53 - 1)).toBe(`Unix time ${2 ** 53 - 1}`);
    expect(() => kstTime(-1)).toThrow(RangeError);
  });

  it('values as text: text as it is, numbers, byte strings as hex, the rest as JSON', () => {
    expect(valueText('김민수')).toBe('김민수');
    expect(valueText(3)).toBe('3');
    expect(valueText(true)).toBe('true');
    expect(valueText(null)).toBe('null');
    expect(valueText(new Uint8Array([0, 255]))).toBe('00ff');
    expect(valueText([{ name: '김하늘', photo: new Uint8Array([1]) }])).toBe('[{"name":"김하늘","photo":"01"}]');
  });

  it('claims in the order of the paper copy: head, address, applicant, then member by member', () => {
    const names = ['member.10.name', 'zeta', 'member.2.birthDate', 'applicant', 'member.2.name', 'address', 'member.1.relation', 'head', 'member.1.name'];
    expect([...names].sort(compareClaimNames)).toEqual(['head', 'address', 'applicant', 'member.1.name', 'member.1.relation', 'member.2.name', 'member.2.birthDate', 'member.10.name', 'zeta']);
  });
});
