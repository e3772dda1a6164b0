/**
 * Tests of src/core/note.ts (spec §4). Vector files in test/vectors/:
 *  - note-go-peterneumann*.txt: golang.org/x/mod/sumdb/note documentation and note_test.go.
 *  - note-c2sp-quasimodo.txt, note-c2sp-cosigned-checkpoint.txt: the examples of
 *    c2sp.org/signed-note and c2sp.org/tlog-cosignature (keys unpublished: parse only).
 *  - note-dojang-*.txt, proof-dojang-*.txt: made by this implementation from fixed seeds and
 *    checked once with Go (x/mod 0.7.0 note.Open, note.Sign re-signs identically,
 *    tlog.CheckRecord; cosignature/v1 with crypto/ed25519 by hand); the tests rebuild
 *    them byte for byte.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ed25519Signer,
  ed25519Verifier,
  formatNote,
  formatSignerKey,
  formatVerifierKey,
  isValidKeyName,
  keyId,
  MAX_NOTE_BYTES,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  type Note,
  type NoteSignature,
} from '../../src/core/note.js';
import { concatBytes, toBase64, toHex, utf8 } from '../../src/core/bytes.js';
import { cryptoBackend, portableBackend } from '../../src/core/crypto.js';
import { LedgerError } from '../../src/core/errors.js';
import { code, vector } from '../helpers/vectors.js';


// golang.org/x/mod/sumdb/note: package documentation and note_test.go.
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG = '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

const backends = [
  ['node:crypto', cryptoBackend()],
  ['noble', portableBackend],
] as const;


const bytesOf = (s: string): Uint8Array => utf8(s);

describe('Go sumdb/note published example (PeterNeumann)', () => {
  it('parses the signer and verifier keys and re-encodes them identically', () => {
    const sk = parseSignerKey(PETER_SKEY);
    expect(sk.name).toBe('PeterNeumann');
    expect(sk.type).toBe(0x01);
    expect(formatSignerKey(sk.name, sk.type, sk.seed)).toBe(PETER_SKEY);
    expect(formatVerifierKey(sk)).toBe(PETER_VKEY);
    const v = parseVerifierKey(PETER_VKEY);
    expect(toHex(v.keyId)).toBe('c74f20a3');
    expect(v.publicKey).toEqual(sk.publicKey);
    expect(toHex(keyId('PeterNeumann', 0x01, sk.publicKey))).toBe('c74f20a3');
    expect(formatVerifierKey(v)).toBe(PETER_VKEY);
  });

  for (const [bname, backend] of backends) {
    it(`signs byte-identically to Go (${bname})`, () => {
      const sk = parseSignerKey(PETER_SKEY);
      const signed = signNote(TEXT, [ed25519Signer(sk.name, sk.seed, backend)]);
      expect(signed).toEqual(vector('note-go-peterneumann.txt'));
      expect(new TextDecoder().decode(signed)).toBe(TEXT + '\n' + PETER_SIG);
    });

    it(`verifies the published note (${bname})`, () => {
      const v = parseVerifierKey(PETER_VKEY, backend);
      const { note, verified } = openNote(vector('note-go-peterneumann.txt'), [v]);
      expect(note.text).toBe(TEXT);
      expect(verified).toHaveLength(1);
      expect(verified[0].name).toBe('PeterNeumann');
      expect(toHex(verified[0].keyId)).toBe('c74f20a3');
    });
  }

  it('ignores a signature by an unknown key and verifies both when both are known', () => {
    const peter = parseVerifierKey(PETER_VKEY);
    const enoch = parseVerifierKey(ENOCH_VKEY);
    const msg = vector('note-go-peterneumann-enochroot.txt');
    const one = openNote(msg, [peter]);
    expect(one.verified.map((s) => s.name)).toEqual(['PeterNeumann']);
    expect(one.note.sigs.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    const both = openNote(msg, [peter, enoch]);
    expect(both.verified.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    expect(code(() => openNote(msg, []))).toBe('UNKNOWN_KEY');
  });

  it('replaces an existing signature by the same key, like note.Sign', () => {
    const sk = parseSignerKey(PETER_SKEY);
    const signer = ed25519Signer(sk.name, sk.seed);
    const bad: NoteSignature = { name: 'PeterNeumann', keyId: signer.keyId, sig: new Uint8Array([1, 2, 3]) };
    expect(signNote(TEXT, [signer], [bad])).toEqual(vector('note-go-peterneumann.txt'));
    // Existing signatures by other keys come first, then the new ones (Go's order).
    const enochSig = parseNote(vector('note-go-peterneumann-enochroot.txt')).sigs[1];
    expect(new TextDecoder().decode(signNote(TEXT, [signer], [enochSig]))).toBe(TEXT + '\n' + ENOCH_SIG + PETER_SIG);
  });

  it('rejects a known key whose signature does not verify (BAD_SIGNATURE)', () => {
    const peter = parseVerifierKey(PETER_VKEY);
    const msg = TEXT + '\n' + PETER_SIG.slice(0, 60) + 'ABCD' + PETER_SIG.slice(60);
    expect(code(() => openNote(bytesOf(msg), [peter]))).toBe('BAD_SIGNATURE');
    // A second line by the same key is refused before anything is verified (spec §4.4),
    // good or bad, so a note costs one signature check per configured key.
    expect(code(() => openNote(bytesOf(TEXT + '\n' + PETER_SIG + PETER_SIG.slice(0, 60) + 'ABCD' + PETER_SIG.slice(60)), [peter]))).toBe('MALFORMED');
    expect(code(() => openNote(bytesOf(TEXT + '\n' + PETER_SIG + PETER_SIG), [peter]))).toBe('MALFORMED');
    // Lines by unknown keys may repeat: they are ignored.
    const other = PETER_SIG.replace('PeterNeumann', 'CarmenSandiego');
    expect(openNote(bytesOf(TEXT + '\n' + other + other + PETER_SIG), [peter]).verified).toHaveLength(1);
    // A signature line over another text.
    expect(code(() => openNote(bytesOf('other text\n\n' + PETER_SIG), [peter]))).toBe('BAD_SIGNATURE');
  });

  it('ignores lines that share only the name or only the key ID with a known key', () => {
    const peter = parseVerifierKey(PETER_VKEY);
    const wrongName = PETER_SIG.replace('PeterNeumann', 'CarmenSandiego');
    const wrongId = PETER_SIG.replace('x08g', 'xxxx');
    expect(code(() => openNote(bytesOf(TEXT + '\n' + wrongName), [peter]))).toBe('UNKNOWN_KEY');
    expect(code(() => openNote(bytesOf(TEXT + '\n' + wrongId), [peter]))).toBe('UNKNOWN_KEY');
    const ok = openNote(bytesOf(TEXT + '\n' + wrongName + wrongId + PETER_SIG), [peter]);
    expect(ok.verified).toHaveLength(1);
    expect(ok.note.sigs).toHaveLength(3);
  });

  it('rejects every mangling of the verifier key (Go TestNewVerifier)', () => {
    const b = PETER_VKEY;
    for (let i = 0; i <= b.length; i++) {
      for (let j = i + 1; j <= b.length; j++) {
        if (i === 0 && j === b.length) continue;
        expect(code(() => parseVerifierKey(b.slice(i, j)))).toMatch(/^(MALFORMED|UNSUPPORTED)$/);
      }
    }
    for (let i = 0; i < b.length; i++) {
      const m = b.slice(0, i) + String.fromCharCode(b.charCodeAt(i) + 1) + b.slice(i + 1);
      expect(code(() => parseVerifierKey(m))).toMatch(/^(MALFORMED|UNSUPPORTED)$/);
    }
    // Wrong length key, and unknown algorithm, each with an adjusted key hash.
    expect(code(() => parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='))).toBe('MALFORMED');
    expect(code(() => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'))).toBe('UNSUPPORTED');
  });

  it('rejects every mangling of the signer key (Go TestNewSigner)', () => {
    const b = PETER_SKEY;
    for (let i = 0; i <= b.length; i++) {
      for (let j = i + 1; j <= b.length; j++) {
        if (i === 0 && j === b.length) continue;
        expect(code(() => parseSignerKey(b.slice(i, j)))).toMatch(/^(MALFORMED|UNSUPPORTED)$/);
      }
    }
    for (let i = 0; i < b.length; i++) {
      const m = b.slice(0, i) + String.fromCharCode(b.charCodeAt(i) + 1) + b.slice(i + 1);
      expect(code(() => parseSignerKey(m))).toMatch(/^(MALFORMED|UNSUPPORTED)$/);
    }
  });
});

describe('verifier and signer keys', () => {
  it('parses outside vkeys of type 0x01 and 0x04 (transparency-dev/formats tests)', () => {
    const v1 = parseVerifierKey('TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6');
    expect(v1.type).toBe(0x01);
    const v4 = parseVerifierKey('remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2');
    expect(v4.type).toBe(0x04);
    expect(v4.name).toBe('remora.n621.de');
    expect(formatVerifierKey(v4)).toBe('remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2');
    // The same public key as type 0x01 has another key ID.
    expect(toHex(keyId('remora.n621.de', 0x01, v4.publicKey))).not.toBe('da77ade7');
  });

  it('rejects malformed vkeys with stable codes', () => {
    expect(code(() => parseVerifierKey('bananas.sigstore.dev+12344556'))).toBe('MALFORMED');
    expect(code(() => parseVerifierKey('rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!'))).toBe('MALFORMED');
    expect(code(() => parseVerifierKey('rekor.sigstore.dev+12345678+AwEB'))).toBe('UNSUPPORTED');
    expect(code(() => parseVerifierKey('PeterNeumann+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'))).toBe('MALFORMED');
    // Uppercase hex: Go accepts it; we accept only the canonical lowercase form.
    expect(code(() => parseVerifierKey('PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'))).toBe('MALFORMED');
    // A key of small order (the identity point) with a correct key ID.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const vkey = `weak+${toHex(keyId('weak', 1, identity))}+${toBase64(concatBytes(new Uint8Array([1]), identity))}`;
    expect(code(() => parseVerifierKey(vkey))).toBe('MALFORMED');
    expect(code(() => ed25519Verifier('weak', identity))).toBe('RangeError');
  });

  it('round-trips signer keys of both types and checks the key ID', () => {
    const seed = new Uint8Array(32).map((_, i) => i);
    for (const type of [0x01, 0x04]) {
      const skey = formatSignerKey('example.com/k', type, seed);
      const k = parseSignerKey(skey);
      expect(k.type).toBe(type);
      expect(k.seed).toEqual(seed);
      const vkey = formatVerifierKey(k);
      expect(parseVerifierKey(vkey).type).toBe(type);
      expect(toHex(parseVerifierKey(vkey).keyId)).toBe(skey.split('+')[3]);
    }
    const wrongId = formatSignerKey('example.com/k', 0x01, seed).replace(/\+[0-9a-f]{8}\+/, '+00000000+');
    expect(code(() => parseSignerKey(wrongId))).toBe('MALFORMED');
    expect(code(() => parseSignerKey(`PRIVATE+KEY+k+00000000+${toBase64(concatBytes(new Uint8Array([2]), seed))}`))).toBe('UNSUPPORTED');
    expect(code(() => formatSignerKey('bad name', 1, seed))).toBe('RangeError');
    expect(code(() => formatSignerKey('k', 2, seed))).toBe('RangeError');
  });

  it('judges key names like Go (no Unicode space, no plus)', () => {
    for (const ok of ['a', 'example.com/log', 'oid/1.3.6.1', 'é', 'a\u200bb', '\ufeffa']) expect(isValidKeyName(ok)).toBe(true);
    for (const bad of ['', 'a b', 'a+b', 'a\tb', 'a\u00a0b', 'a\u0085b', 'a\u3000b', 'a\u2028b', 'a\u0001b', '\ud800']) expect(isValidKeyName(bad)).toBe(false);
  });
});

describe('parseNote strictness (spec §4.2)', () => {
  const peter = () => parseVerifierKey(PETER_VKEY);

  it('splits at the last blank line (C2SP signed-note example)', () => {
    const n = parseNote(vector('note-c2sp-quasimodo.txt'));
    expect(n.text).toBe('Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n');
    expect(n.sigs).toHaveLength(1);
    expect(n.sigs[0].name).toBe('quasimodo.example/salvatore');
    expect(n.sigs[0].sig).toHaveLength(64);
    expect(formatNote(n)).toEqual(vector('note-c2sp-quasimodo.txt'));
  });

  const bad: [string, string | Uint8Array, string][] = [
    ['text only', TEXT, 'MALFORMED'],
    ['text and blank line only', TEXT + '\n', 'MALFORMED'],
    ['no final newline', TEXT + '\n' + PETER_SIG.slice(0, -1), 'MALFORMED'],
    ['control character', '\x01' + TEXT + '\n' + PETER_SIG, 'MALFORMED'],
    ['carriage return', TEXT.replace('\n', '\r\n') + '\n' + PETER_SIG, 'MALFORMED'],
    ['CRLF signature line', TEXT + '\n' + PETER_SIG.replace('\n', '\r\n'), 'MALFORMED'],
    ['tab', 'a\tb\n\n' + PETER_SIG, 'MALFORMED'],
    ['non-UTF-8', concatBytes(new Uint8Array([0xff]), utf8(TEXT + '\n' + PETER_SIG)), 'MALFORMED'],
    ['overlong UTF-8', concatBytes(new Uint8Array([0xc0, 0xaf]), utf8(TEXT + '\n' + PETER_SIG)), 'MALFORMED'],
    ['encoded surrogate', concatBytes(new Uint8Array([0xed, 0xa0, 0x80]), utf8(TEXT + '\n' + PETER_SIG)), 'MALFORMED'],
    ['space in name', TEXT + '\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n', 'MALFORMED'],
    ['plus in name', TEXT + '\n' + PETER_SIG.replace('PeterNeumann', 'Peter+Neumann'), 'MALFORMED'],
    ['unexpected line', TEXT + '\n' + PETER_SIG + 'Unexpected line.\n', 'MALFORMED'],
    ['blank line after signatures', TEXT + '\n' + PETER_SIG + '\n', 'MALFORMED'],
    ['hyphen instead of em dash', TEXT + '\n' + PETER_SIG.replace('—', '-'), 'MALFORMED'],
    ['no space after em dash', TEXT + '\n' + PETER_SIG.replace('— ', '—'), 'MALFORMED'],
    ['two spaces', TEXT + '\n' + PETER_SIG.replace('Neumann ', 'Neumann  '), 'MALFORMED'],
    ['empty signature', TEXT + '\n— PeterNeumann \n', 'MALFORMED'],
    ['no signature', TEXT + '\n— PeterNeumann\n', 'MALFORMED'],
    ['bad base64', TEXT + '\n— PeterNeumann x08go/ZJkuBS9UG!==\n', 'MALFORMED'],
    ['unpadded base64', TEXT + '\n' + PETER_SIG.replace('=\n', '\n'), 'MALFORMED'],
    ['non-canonical base64', TEXT + '\n— PeterNeumann AAAAAAB=\n', 'MALFORMED'],
    ['4-byte signature (key ID only)', TEXT + '\n— PeterNeumann x08gow==\n', 'MALFORMED'],
    ['3-byte signature', TEXT + '\n— PeterNeumann x08g\n', 'MALFORMED'],
    ['101 signatures', TEXT + '\n' + PETER_SIG.repeat(101), 'TOO_LARGE'],
    ['over 1 MiB', 'a'.repeat(MAX_NOTE_BYTES) + '\n\n' + PETER_SIG, 'TOO_LARGE'],
  ];
  for (const [name, msg, want] of bad) {
    it(`rejects: ${name} → ${want}`, () => {
      const b = typeof msg === 'string' ? utf8(msg) : msg;
      expect(code(() => parseNote(b))).toBe(want);
      expect(code(() => openNote(b, [peter()]))).toBe(want);
    });
  }

  it('accepts 16 and up to 100 signatures, verifying the known one', () => {
    const others = Array.from({ length: 99 }, (_, i) => `— witness${i}.example ${toBase64(new Uint8Array(72).fill(i + 1))}\n`);
    for (const n of [16, 100]) {
      const msg = utf8(TEXT + '\n' + others.slice(0, n - 1).join('') + PETER_SIG);
      const { note, verified } = openNote(msg, [peter()]);
      expect(note.sigs).toHaveLength(n);
      expect(verified).toHaveLength(1);
      expect(formatNote(note)).toEqual(msg);
    }
  });

  it('keeps a leading byte-order mark as part of the signed text', () => {
    const sk = parseSignerKey(PETER_SKEY);
    const text = '\ufeffhello\n';
    const msg = signNote(text, [ed25519Signer(sk.name, sk.seed)]);
    expect(Array.from(msg.slice(0, 3))).toEqual([0xef, 0xbb, 0xbf]);
    expect(openNote(msg, [peter()]).note.text).toBe(text);
  });

  it('accepts any bytes it parses only in their one encoding (re-format is identical)', () => {
    const base = utf8(TEXT + '\n' + PETER_SIG + ENOCH_SIG);
    fc.assert(
      fc.property(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), (pos, byte) => {
        const m = base.slice();
        m[pos] = byte;
        let n: Note;
        try {
          n = parseNote(m);
        } catch (e) {
          expect(e).toBeInstanceOf(LedgerError);
          return;
        }
        expect(formatNote(n)).toEqual(m);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips formatNote/parseNote for generated notes', () => {
    const line = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !/[\u0000-\u001f]/.test(s));
    const name = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }).filter(isValidKeyName);
    const sig = fc.record({
      name,
      keyId: fc.uint8Array({ minLength: 4, maxLength: 4 }),
      sig: fc.uint8Array({ minLength: 1, maxLength: 80 }),
    });
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 5 }), fc.array(sig, { minLength: 1, maxLength: 5 }), (lines, sigs) => {
        const note: Note = { text: lines.join('\n') + '\n', sigs };
        expect(parseNote(formatNote(note))).toEqual(note);
      }),
    );
  });
});

describe('formatNote and signNote refuse what they could not parse back', () => {
  const sk = parseSignerKey(PETER_SKEY);
  const signer = ed25519Signer(sk.name, sk.seed);
  it('throws RangeError for bad input', () => {
    expect(code(() => signNote('abc', [signer]))).toBe('RangeError');
    expect(code(() => signNote('', [signer]))).toBe('RangeError');
    expect(code(() => signNote('a\rb\n', [signer]))).toBe('RangeError');
    expect(code(() => signNote(TEXT, []))).toBe('RangeError');
    expect(code(() => formatNote({ text: TEXT, sigs: [{ name: 'a+b', keyId: new Uint8Array(4), sig: new Uint8Array(1) }] }))).toBe('RangeError');
    expect(code(() => formatNote({ text: TEXT, sigs: [{ name: 'a', keyId: new Uint8Array(3), sig: new Uint8Array(1) }] }))).toBe('RangeError');
    expect(code(() => formatNote({ text: TEXT, sigs: [{ name: 'a', keyId: new Uint8Array(4), sig: new Uint8Array(0) }] }))).toBe('RangeError');
    expect(code(() => ed25519Signer('bad name', sk.seed))).toBe('RangeError');
    expect(code(() => ed25519Signer('ok', new Uint8Array(31)))).toBe('RangeError');
  });

  it('requireAll demands a signature by every verifier', () => {
    const enochSeed = new Uint8Array(32).fill(7);
    const enoch = ed25519Signer('EnochRoot', enochSeed);
    const msg = signNote(TEXT, [signer]);
    const pv = parseVerifierKey(PETER_VKEY);
    const ev = ed25519Verifier('EnochRoot', enoch.publicKey);
    expect(openNote(msg, [pv, ev]).verified).toHaveLength(1);
    expect(code(() => openNote(msg, [pv, ev], { requireAll: true }))).toBe('UNKNOWN_KEY');
    expect(openNote(signNote(TEXT, [signer, enoch]), [pv, ev], { requireAll: true }).verified).toHaveLength(2);
  });

  it('refuses ambiguous verifiers (same name and key ID, different key)', () => {
    const pv = parseVerifierKey(PETER_VKEY);
    const fake = { ...pv, publicKey: new Uint8Array(32).fill(9) };
    expect(code(() => openNote(vector('note-go-peterneumann.txt'), [pv, fake]))).toBe('RangeError');
    expect(openNote(vector('note-go-peterneumann.txt'), [pv, pv]).verified).toHaveLength(1);
  });
});
