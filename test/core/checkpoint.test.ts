import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatCheckpoint, parseCheckpoint, parseDecimal, type Checkpoint } from '../../src/core/checkpoint.js';
import { fromBase64, toBase64 } from '../../src/core/bytes.js';
import { parseNote } from '../../src/core/note.js';
import { readFileSync } from 'node:fs';
import { code } from '../helpers/vectors.js';


// c2sp.org/tlog-checkpoint example.
const C2SP_TEXT = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
const ROOT_B64 = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=';

describe('checkpoint (c2sp.org/tlog-checkpoint)', () => {
  it('parses and re-formats the spec example', () => {
    const c = parseCheckpoint(C2SP_TEXT);
    expect(c.origin).toBe('example.com/behind-the-sofa');
    expect(c.size).toBe(20852163);
    expect(toBase64(c.root)).toBe(ROOT_B64);
    expect(c.extensions).toEqual([]);
    expect(formatCheckpoint(c)).toBe(C2SP_TEXT);
  });

  it('is the text of the spec example note', () => {
    const note = parseNote(new Uint8Array(readFileSync(new URL('../vectors/note-c2sp-cosigned-checkpoint.txt', import.meta.url))));
    expect(note.text).toBe(C2SP_TEXT);
    expect(parseCheckpoint(note.text).size).toBe(20852163);
  });

  it('keeps extension lines (transparency-dev/formats TestSigCoversExtensionLines body)', () => {
    const text = 'test\n123\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\nExtendo\nmore ext\n';
    const c = parseCheckpoint(text);
    expect(c.extensions).toEqual(['Extendo', 'more ext']);
    expect(formatCheckpoint(c)).toBe(text);
  });

  it('accepts size 0 and the largest safe integer, origins that are not key names', () => {
    const root = fromBase64(ROOT_B64);
    for (const size of [0, 1, 9007199254740991]) {
      const text = formatCheckpoint({ origin: 'o', size, root, extensions: [] });
      expect(parseCheckpoint(text).size).toBe(size);
    }
    // The spec allows any non-empty origin (spaces, plus): clients must not assume a format.
    expect(parseCheckpoint('Moon Log+1\n5\n' + ROOT_B64 + '\n').origin).toBe('Moon Log+1');
  });

  const bad: [string, string][] = [
    ['leading zero', `o\n007\n${ROOT_B64}\n`],
    ['zero with leading zero', `o\n00\n${ROOT_B64}\n`],
    ['plus sign', `o\n+1\n${ROOT_B64}\n`],
    ['negative', `o\n-1\n${ROOT_B64}\n`],
    ['minus zero', `o\n-0\n${ROOT_B64}\n`],
    ['2^53', `o\n9007199254740992\n${ROOT_B64}\n`],
    ['above 2^64', `o\n3438945738945739845734895735\n${ROOT_B64}\n`],
    ['decimal point', `o\n1.0\n${ROOT_B64}\n`],
    ['exponent', `o\n1e3\n${ROOT_B64}\n`],
    ['hex', `o\n0x10\n${ROOT_B64}\n`],
    ['space before size', `o\n 1\n${ROOT_B64}\n`],
    ['space after size', `o\n1 \n${ROOT_B64}\n`],
    ['not a number', `o\nbananas\n${ROOT_B64}\n`],
    ['empty size', `o\n\n${ROOT_B64}\n`],
    ['non-ASCII digit', `o\n١\n${ROOT_B64}\n`],
    ['31-byte root', `o\n1\n${toBase64(new Uint8Array(31))}\n`],
    ['33-byte root', `o\n1\n${toBase64(new Uint8Array(33))}\n`],
    ['7-byte root (formats test)', 'Log\n123\nYmFuYW5hcw==\n'],
    ['unpadded root', `o\n1\n${ROOT_B64.slice(0, -1)}\n`],
    ['non-canonical root', `o\n1\n${ROOT_B64.slice(0, -2)}3=\n`],
    ['not base64', "Log\n123\nThisIsn'tBase64\n"],
    ['URL-safe base64', 'o\n1\n' + '_'.repeat(43) + '=\n'],
    ['missing final newline', `o\n1\n${ROOT_B64}`],
    ['two lines', 'Head\n9944\n'],
    ['empty', ''],
    ['empty origin', `\n1\n${ROOT_B64}\n`],
    ['CR in origin', `o\r\n1\n${ROOT_B64}\n`],
    ['control in origin', `o\u0000\n1\n${ROOT_B64}\n`],
    ['lone surrogate in origin', `o\ud800\n1\n${ROOT_B64}\n`],
    ['empty extension line', `o\n1\n${ROOT_B64}\n\n`],
    ['empty line between extensions', `o\n1\n${ROOT_B64}\na\n\nb\n`],
    ['trailing blank lines', `o\n1\n${ROOT_B64}\n\n\n\n`],
  ];
  for (const [name, text] of bad) {
    it(`rejects ${name} with MALFORMED`, () => {
      expect(code(() => parseCheckpoint(text))).toBe('MALFORMED');
    });
  }

  it('parseDecimal is canonical and safe', () => {
    expect(parseDecimal('0')).toBe(0);
    expect(parseDecimal('10')).toBe(10);
    expect(parseDecimal('9007199254740991')).toBe(9007199254740991);
    for (const s of ['', '01', '+1', '-1', '9007199254740992', '99999999999999999', '1_0', ' 1']) expect(parseDecimal(s)).toBeUndefined();
  });

  it('formatCheckpoint refuses values that do not fit the format (RangeError)', () => {
    const root = new Uint8Array(32);
    const ok: Checkpoint = { origin: 'o', size: 1, root, extensions: [] };
    expect(code(() => formatCheckpoint({ ...ok, origin: '' }))).toBe('RangeError');
    expect(code(() => formatCheckpoint({ ...ok, origin: 'a\nb' }))).toBe('RangeError');
    expect(code(() => formatCheckpoint({ ...ok, size: -1 }))).toBe('RangeError');
    expect(code(() => formatCheckpoint({ ...ok, size: 1.5 }))).toBe('RangeError');
    expect(code(() => formatCheckpoint({ ...ok, size: 2 ** 53 }))).toBe('RangeError');
    expect(code(() => formatCheckpoint({ ...ok, root: new Uint8Array(31) }))).toBe('RangeError');
    expect(code(() => formatCheckpoint({ ...ok, extensions: [''] }))).toBe('RangeError');
    expect(code(() => formatCheckpoint({ ...ok, extensions: ['a\nb'] }))).toBe('RangeError');
  });

  it('round-trips generated checkpoints', () => {
    const line = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).filter((s) => !/[\u0000-\u001f]/.test(s));
    fc.assert(
      fc.property(
        line,
        fc.maxSafeNat(),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(line, { maxLength: 3 }),
        (origin, size, root, extensions) => {
          const c = { origin, size, root, extensions };
          const text = formatCheckpoint(c);
          expect(parseCheckpoint(text)).toEqual(c);
          expect(formatCheckpoint(parseCheckpoint(text))).toBe(text);
        },
      ),
    );
  });
});
