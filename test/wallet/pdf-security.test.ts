import { describe, expect, it } from 'vitest';
import { createDecipheriv } from 'node:crypto';
import { hashR6, pdfPassword, r6Entries } from '../../src/wallet/pdf-security.js';
import { fromHex, toHex } from '../../src/core/bytes.js';
import { vectorText } from '../helpers/vectors.js';

// The PDF security handler revision 6 (ISO 32000-2) against qpdf's answers
// (test/vectors/pdf-r6.json), as the view-only PDF (spec §12.9) uses it.

interface Case {
  user: string;
  owner: string;
  key: string;
  U: string;
  UE: string;
  O: string;
  OE: string;
  P: number;
  Perms: string;
}
const cases = (JSON.parse(vectorText('pdf-r6.json')) as { cases: Case[] }).cases;

describe('revision 6 password entries', () => {
  it.each(cases.map((c) => [c.user, c] as const))('match qpdf for the user password %j', (_, c) => {
    const U = fromHex(c.U);
    const O = fromHex(c.O);
    const salts = { userValidation: U.slice(32, 40), userKey: U.slice(40, 48), ownerValidation: O.slice(32, 40), ownerKey: O.slice(40, 48) };
    const e = r6Entries({ user: pdfPassword(c.user), owner: pdfPassword(c.owner), fileKey: fromHex(c.key), salts });
    expect({ U: toHex(e.U), UE: toHex(e.UE), O: toHex(e.O), OE: toHex(e.OE) }).toEqual({ U: c.U, UE: c.UE, O: c.O, OE: c.OE });
  });

  it.each(cases.map((c) => [c.user, c] as const))('open only with their own password: %j', (_, c) => {
    const U = fromHex(c.U);
    expect(toHex(hashR6(pdfPassword(c.user), U.slice(32, 40)))).toBe(c.U.slice(0, 64));
    expect(toHex(hashR6(pdfPassword(c.user + ' '), U.slice(32, 40)))).not.toBe(c.U.slice(0, 64));
    const O = fromHex(c.O);
    expect(toHex(hashR6(pdfPassword(c.owner), O.slice(32, 40), U))).toBe(c.O.slice(0, 64));
    expect(toHex(hashR6(pdfPassword(c.user), O.slice(32, 40), U))).not.toBe(c.O.slice(0, 64));
  });

  it('fresh salts each time, and the same file key inside', () => {
    const fileKey = new Uint8Array(32).fill(7);
    const a = r6Entries({ user: pdfPassword('pw'), owner: pdfPassword('owner'), fileKey });
    const b = r6Entries({ user: pdfPassword('pw'), owner: pdfPassword('owner'), fileKey });
    expect(toHex(a.U)).not.toBe(toHex(b.U));
    expect(toHex(a.O)).not.toBe(toHex(b.O));
    for (const e of [a, b]) {
      const d = createDecipheriv('aes-256-cbc', hashR6(pdfPassword('pw'), e.U.slice(40, 48)), new Uint8Array(16)).setAutoPadding(false);
      expect(toHex(Buffer.concat([d.update(e.UE), d.final()]))).toBe(toHex(fileKey));
    }
  });

  it('Perms (the same in revisions 5 and 6) carries P under the file key', () => {
    for (const c of cases) {
      const d = createDecipheriv('aes-256-ecb', fromHex(c.key), null).setAutoPadding(false);
      const perms = Buffer.concat([d.update(fromHex(c.Perms)), d.final()]);
      expect(perms.readInt32LE(0)).toBe(c.P);
      expect(perms.subarray(4, 12).toString('latin1')).toBe('\xff\xff\xff\xffTadb');
    }
  });
});

describe('passwords', () => {
  it('are NFKC, UTF-8, at most 127 bytes', () => {
    expect(toHex(pdfPassword('ｐａｓｓ'))).toBe(toHex(new TextEncoder().encode('pass')));
    expect(toHex(pdfPassword('열람'.normalize('NFD')))).toBe(toHex(new TextEncoder().encode('열람')));
    expect(pdfPassword('x'.repeat(200)).length).toBe(127);
    expect(pdfPassword('가'.repeat(100)).length).toBe(127); // cut inside a character, as every reader cuts
  });

  it('refuse a caller bug', () => {
    expect(() => pdfPassword(1 as never)).toThrow(TypeError);
    expect(() => hashR6(new Uint8Array(128), new Uint8Array(8))).toThrow(RangeError);
    expect(() => hashR6(new Uint8Array(1), new Uint8Array(7))).toThrow(RangeError);
    expect(() => hashR6(new Uint8Array(1), new Uint8Array(8), new Uint8Array(32))).toThrow(RangeError);
    expect(() => r6Entries({ user: new Uint8Array(1), owner: new Uint8Array(1), fileKey: new Uint8Array(16) })).toThrow(RangeError);
  });
});
