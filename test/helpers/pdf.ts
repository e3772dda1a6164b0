import { createDecipheriv } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { fromHex } from '../../src/core/bytes.js';
import { hashR6, pdfPassword } from '../../src/wallet/pdf-security.js';

// Just enough of a PDF reader for the view-only copy's tests: pdfkit's layout (one
// object per "N 0 obj", dictionaries in the clear, strings and streams AES-256 under
// revision 6), read without any outside tool.

/** latin1 maps byte i to character i, so indexes into the text are byte offsets. */
const text = (pdf: Uint8Array): string => Buffer.from(pdf).toString('latin1');

/** The Encrypt dictionary's entries that matter, as written. */
export interface EncryptDict {
  raw: string;
  V: number;
  R: number;
  P: number;
  length: number;
  cfm: string;
  U: Uint8Array;
  UE: Uint8Array;
  O: Uint8Array;
  OE: Uint8Array;
  Perms: Uint8Array;
}

/** objectText returns the text of object n (from "n 0 obj" to "endobj"). */
export function objectText(pdf: Uint8Array, n: number): string {
  const s = text(pdf);
  const start = s.indexOf(`\n${n} 0 obj\n`);
  if (start < 0) throw new Error(`no object ${n}`);
  return s.slice(start + 1, s.indexOf('endobj', start) + 6);
}

/** encryptDict reads the dictionary the trailer's /Encrypt names; Error if there is none. */
export function encryptDict(pdf: Uint8Array): EncryptDict {
  const s = text(pdf);
  const trailer = s.slice(s.lastIndexOf('trailer'));
  const ref = /\/Encrypt (\d+) 0 R/.exec(trailer);
  if (ref === null) throw new Error('the trailer names no /Encrypt dictionary');
  const raw = objectText(pdf, Number(ref[1]));
  const num = (re: RegExp) => Number(re.exec(raw)?.[1] ?? NaN);
  const hex = (name: string) => fromHex(new RegExp(`/${name} <([0-9a-f]+)>`).exec(raw)?.[1] ?? '');
  return {
    raw,
    V: num(/\/V (\d+)/),
    R: num(/\/R (\d+)/),
    P: num(/\/P (-?\d+)/),
    length: num(/\/Filter \/Standard\n\/V \d+\n\/Length (\d+)/),
    cfm: /\/CFM \/(\w+)/.exec(raw)?.[1] ?? '',
    U: hex('U'),
    UE: hex('UE'),
    O: hex('O'),
    OE: hex('OE'),
    Perms: hex('Perms'),
  };
}

/** fileKey opens the PDF with a user password (revision 6): the file key, or Error for a wrong password. */
export function fileKey(pdf: Uint8Array, password: string): Uint8Array {
  const e = encryptDict(pdf);
  const pw = pdfPassword(password);
  if (Buffer.compare(hashR6(pw, e.U.subarray(32, 40)), e.U.subarray(0, 32)) !== 0) throw new Error('not the user password');
  const d = createDecipheriv('aes-256-cbc', hashR6(pw, e.U.subarray(40, 48)), new Uint8Array(16)).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([d.update(e.UE), d.final()]));
}

/** decryptPerms decrypts /Perms with the file key (AES-256-ECB). */
export function decryptPerms(pdf: Uint8Array, key: Uint8Array): Buffer {
  const d = createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  return Buffer.concat([d.update(encryptDict(pdf).Perms), d.final()]);
}

/** decrypt undoes AESV3 on a string or stream: a 16-byte IV, then AES-256-CBC with padding. */
export function decrypt(data: Uint8Array, key: Uint8Array): Buffer {
  const d = createDecipheriv('aes-256-cbc', key, data.subarray(0, 16));
  return Buffer.concat([d.update(data.subarray(16)), d.final()]);
}

/** embeddedFileStream returns the raw (encrypted) stream of the one /EmbeddedFile and its dictionary. */
export function embeddedFileStream(pdf: Uint8Array): { dict: string; data: Uint8Array } {
  const s = text(pdf);
  const at = s.indexOf('/Type /EmbeddedFile\n');
  if (at < 0) throw new Error('no embedded file');
  const begin = s.indexOf('>>\nstream\n', at);
  const dict = s.slice(at, begin);
  const length = Number(/\/Length (\d+)/.exec(dict)![1]);
  const from = begin + '>>\nstream\n'.length;
  return { dict, data: pdf.slice(from, from + length) };
}

/** embeddedFile decrypts and inflates the embedded file. */
export function embeddedFile(pdf: Uint8Array, key: Uint8Array): Uint8Array {
  return new Uint8Array(inflateSync(decrypt(embeddedFileStream(pdf).data, key)));
}

/** pageCount reads /Count of the page tree. */
export function pageCount(pdf: Uint8Array): number {
  return Number(/\/Type \/Pages\n\/Count (\d+)/.exec(text(pdf))![1]);
}

/** contains says whether the bytes hold the needle anywhere. */
export function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;
}

/** utf16be is text as UTF-16BE, as PDF text strings hold it. */
export function utf16be(s: string): Uint8Array {
  const b = Buffer.from(s, 'utf16le');
  for (let i = 0; i + 1 < b.length; i += 2) [b[i], b[i + 1]] = [b[i + 1], b[i]];
  return new Uint8Array(b);
}
