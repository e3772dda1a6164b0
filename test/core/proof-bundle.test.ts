import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  formatProofBundle,
  MAX_PROOF_HASHES,
  parseProofBundle,
  parseProofBundleBytes,
  verifyProofBundle,
  type ProofBundle,
} from '../../src/core/proof-bundle.js';
import { ed25519Signer, ed25519Verifier, parseSignerKey, parseVerifierKey, signNote } from '../../src/core/note.js';
import { cosignatureSigner } from '../../src/core/cosignature.js';
import { formatCheckpoint } from '../../src/core/checkpoint.js';
import { concatBytes, fromBase64, toBase64, utf8 } from '../../src/core/bytes.js';
import { code, vector, vectorText } from '../helpers/vectors.js';



// A slow, obvious RFC 6962 §2.1 reference on node:crypto, independent of src/core/merkle.ts.
const H = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(createHash('sha256').update(concatBytes(...parts)).digest());
const refLeaf = (d: Uint8Array) => H(new Uint8Array([0]), d);
const split = (n: number) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
const refRoot = (d: Uint8Array[]): Uint8Array =>
  d.length === 0 ? H() : d.length === 1 ? refLeaf(d[0]) : H(new Uint8Array([1]), refRoot(d.slice(0, split(d.length))), refRoot(d.slice(split(d.length))));
const refPath = (m: number, d: Uint8Array[]): Uint8Array[] => {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...refPath(m, d.slice(0, k)), refRoot(d.slice(k))] : [...refPath(m - k, d.slice(k)), refRoot(d.slice(0, k))];
};

const [LOG_SKEY, LOG_VKEY, TS_SKEY, TS_VKEY] = vectorText('note-dojang-keys.txt').trim().split('\n');
const logKey = parseSignerKey(LOG_SKEY);
const tsKey = parseSignerKey(TS_SKEY);
const logSigner = ed25519Signer(logKey.name, logKey.seed);
const tsSigner = cosignatureSigner(tsKey.name, tsKey.seed, () => 1700000000);
const verifiers = () => [parseVerifierKey(LOG_VKEY), parseVerifierKey(TS_VKEY)];
const ORIGIN = 'dojang.example/log';

function entries(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => utf8(`dojang test entry ${i}\n`));
}

function bundleFor(d: Uint8Array[], index: number, extra?: Uint8Array): ProofBundle {
  const text = formatCheckpoint({ origin: ORIGIN, size: d.length, root: refRoot(d), extensions: [] });
  const checkpoint = signNote(text, [logSigner], [tsSigner.signAt(text, 1700000000)]);
  return { ...(extra ? { extra } : {}), index, proof: refPath(index, d), checkpoint };
}

describe('dojang tlog-proof vector (cross-checked with Go x/mod note.Open and tlog.CheckRecord)', () => {
  const text = vectorText('proof-dojang-index5.txt');
  const entry = vector('proof-dojang-index5-entry.txt');

  it('is rebuilt byte for byte from the reference tree', () => {
    expect(formatProofBundle(bundleFor(entries(7), 5))).toBe(text);
    expect(entries(7)[5]).toEqual(entry);
    expect(new TextDecoder().decode(bundleFor(entries(7), 5).checkpoint)).toBe(vectorText('note-dojang-checkpoint.txt'));
  });

  it('parses, re-formats identically and verifies', () => {
    const b = parseProofBundle(text);
    expect(b.index).toBe(5);
    expect(b.extra).toBeUndefined();
    expect(b.proof).toHaveLength(3);
    expect(b.checkpoint).toEqual(vector('note-dojang-checkpoint.txt'));
    expect(formatProofBundle(b)).toBe(text);
    expect(parseProofBundleBytes(utf8(text))).toEqual(b);
    const { checkpoint, verified } = verifyProofBundle(b, entry, verifiers(), { requireAll: true, origin: ORIGIN });
    expect(checkpoint.size).toBe(7);
    expect(checkpoint.root).toEqual(refRoot(entries(7)));
    expect(verified.map((s) => s.name)).toEqual(['dojang.example/log/timestamp', 'dojang.example/log']);
  });

  it('rejects the wrong entry, a flipped bit, a missing or extra hash, another index', () => {
    const b = parseProofBundle(text);
    const v = verifiers();
    expect(code(() => verifyProofBundle(b, utf8('dojang test entry 4\n'), v))).toBe('INVALID_PROOF');
    for (let i = 0; i < b.proof.length; i++) {
      for (const bit of [0, 7, 255]) {
        const proof = b.proof.map((h) => h.slice());
        proof[i][bit >> 3] ^= 1 << (bit & 7);
        expect(code(() => verifyProofBundle({ ...b, proof }, entry, v))).toBe('INVALID_PROOF');
      }
    }
    expect(code(() => verifyProofBundle({ ...b, proof: b.proof.slice(0, -1) }, entry, v))).toBe('INVALID_PROOF');
    expect(code(() => verifyProofBundle({ ...b, proof: [...b.proof, b.proof[0]] }, entry, v))).toBe('INVALID_PROOF');
    expect(code(() => verifyProofBundle({ ...b, index: 4 }, entry, v))).toBe('INVALID_PROOF');
    expect(code(() => verifyProofBundle({ ...b, index: 7 }, entry, v))).toBe('INVALID_PROOF');
    expect(code(() => verifyProofBundle({ ...b, index: 2 ** 40 }, entry, v))).toBe('INVALID_PROOF');
    expect(code(() => verifyProofBundle(b, entry, v, { origin: 'other.example/log' }))).toBe('INVALID_PROOF');
  });

  it('rejects a checkpoint with a bad or unknown signature', () => {
    const b = parseProofBundle(text);
    expect(code(() => verifyProofBundle(b, entry, []))).toBe('UNKNOWN_KEY');
    const other = ed25519Signer(ORIGIN, new Uint8Array(32).fill(0x33));
    expect(code(() => verifyProofBundle(b, entry, [ed25519Verifier(ORIGIN, other.publicKey)]))).toBe('UNKNOWN_KEY');
    const [lv, tv] = verifiers();
    expect(code(() => verifyProofBundle(b, entry, [tv, ed25519Verifier('dojang.example/status', other.publicKey)], { requireAll: true }))).toBe('UNKNOWN_KEY');
    // The log signature over a different root: re-use its signature line on a forged body.
    const forged = new TextDecoder().decode(b.checkpoint).replace('RDsI', 'RDsJ');
    expect(code(() => verifyProofBundle({ ...b, checkpoint: utf8(forged) }, entry, [lv]))).toBe('BAD_SIGNATURE');
  });

  it('carries extra data without authenticating it', () => {
    const b = bundleFor(entries(7), 5, utf8('extra information'));
    const t = formatProofBundle(b);
    expect(t.split('\n').slice(0, 3)).toEqual(['c2sp.org/tlog-proof@v1', `extra ${toBase64(utf8('extra information'))}`, 'index 5']);
    const p = parseProofBundle(t);
    expect(p.extra).toEqual(utf8('extra information'));
    expect(formatProofBundle(p)).toBe(t);
    expect(verifyProofBundle(p, entries(7)[5], verifiers()).checkpoint.size).toBe(7);
    expect(verifyProofBundle({ ...p, extra: utf8('changed') }, entries(7)[5], verifiers()).checkpoint.size).toBe(7);
    // Empty extra data is an "extra " line with nothing after the space.
    const e = formatProofBundle({ ...p, extra: new Uint8Array(0) });
    expect(e.split('\n')[1]).toBe('extra ');
    expect(parseProofBundle(e).extra).toEqual(new Uint8Array(0));
  });
});

describe('c2sp.org/tlog-proof spec example', () => {
  const example = vectorText('proof-c2sp-example.txt');

  it('is refused verbatim: its signatures are elided ("[...]")', () => {
    expect(code(() => parseProofBundle(example))).toBe('MALFORMED');
  });

  it('parses its header, extra, index and hashes once the checkpoint carries real signatures', () => {
    const head = example.slice(0, example.indexOf('\n\n') + 2); // header, extra, index, hashes, blank line
    const cpText = 'example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n';
    const fancy = ed25519Signer('example.com/fancylog', new Uint8Array(32).fill(0x44));
    const note = new TextDecoder().decode(signNote(cpText, [fancy]));
    const text = head + note;
    const b = parseProofBundle(text);
    expect(b.index).toBe(73894);
    expect(b.proof).toHaveLength(5);
    expect(toBase64(b.proof[0])).toBe('gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=');
    expect(toBase64(b.proof[4])).toBe('AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=');
    expect(new TextDecoder().decode(b.extra!.subarray(0, 30))).toBe('age-v1.2.1-darwin-arm64.tar.gz');
    expect(formatProofBundle(b)).toBe(text);
    // Illustrative hashes: five are too few for index 73894 of 109482, so the proof fails.
    expect(code(() => verifyProofBundle(b, utf8('x'), [ed25519Verifier('example.com/fancylog', fancy.publicKey)]))).toBe('INVALID_PROOF');
  });
});

describe('parseProofBundle strictness (spec §7)', () => {
  const good = vectorText('proof-dojang-index5.txt');
  const note = vectorText('note-dojang-checkpoint.txt');
  const hashes = good.split('\n').slice(2, 5);
  const h = hashes.join('\n') + '\n';

  const bad: [string, string, string][] = [
    ['empty', '', 'MALFORMED'],
    ['no header', `index 5\n${h}\n${note}`, 'MALFORMED'],
    ['wrong header', `c2sp.org/tlog-proof@v2\nindex 5\n${h}\n${note}`, 'MALFORMED'],
    ['header only', 'c2sp.org/tlog-proof@v1\n', 'MALFORMED'],
    ['header without newline', 'c2sp.org/tlog-proof@v1', 'MALFORMED'],
    ['CRLF', good.replace(/\n/g, '\r\n'), 'MALFORMED'],
    ['missing index', `c2sp.org/tlog-proof@v1\n${h}\n${note}`, 'MALFORMED'],
    ['index not a number', `c2sp.org/tlog-proof@v1\nindex notanumber\n${h}\n${note}`, 'MALFORMED'],
    ['negative index', `c2sp.org/tlog-proof@v1\nindex -1\n${h}\n${note}`, 'MALFORMED'],
    ['plus index', `c2sp.org/tlog-proof@v1\nindex +5\n${h}\n${note}`, 'MALFORMED'],
    ['leading zero', `c2sp.org/tlog-proof@v1\nindex 05\n${h}\n${note}`, 'MALFORMED'],
    ['index 2^53', `c2sp.org/tlog-proof@v1\nindex 9007199254740992\n${h}\n${note}`, 'MALFORMED'],
    ['two spaces', `c2sp.org/tlog-proof@v1\nindex  5\n${h}\n${note}`, 'MALFORMED'],
    ['extra after index', `c2sp.org/tlog-proof@v1\nindex 5\nextra AAAA\n${h}\n${note}`, 'MALFORMED'],
    ['two extra lines', `c2sp.org/tlog-proof@v1\nextra AAAA\nextra AAAA\nindex 5\n${h}\n${note}`, 'MALFORMED'],
    ['invalid extra', `c2sp.org/tlog-proof@v1\nextra not-valid-base64!!!\nindex 5\n${h}\n${note}`, 'MALFORMED'],
    ['non-canonical extra', `c2sp.org/tlog-proof@v1\nextra AB==\nindex 5\n${h}\n${note}`, 'MALFORMED'],
    ['invalid hash', `c2sp.org/tlog-proof@v1\nindex 5\nnot-valid-base64!!!\n\n${note}`, 'MALFORMED'],
    ['16-byte hash', `c2sp.org/tlog-proof@v1\nindex 5\n${toBase64(new Uint8Array(16))}\n\n${note}`, 'MALFORMED'],
    ['33-byte hash', `c2sp.org/tlog-proof@v1\nindex 5\n${toBase64(new Uint8Array(33))}\n\n${note}`, 'MALFORMED'],
    ['no blank line', `c2sp.org/tlog-proof@v1\nindex 5\n${h}${note}`, 'MALFORMED'],
    ['ends after proof', `c2sp.org/tlog-proof@v1\nindex 5\n${h}`, 'MALFORMED'],
    ['no checkpoint', `c2sp.org/tlog-proof@v1\nindex 5\n${h}\n`, 'MALFORMED'],
    ['trailing garbage', good + 'garbage\n', 'MALFORMED'],
    ['trailing newline', good + '\n', 'MALFORMED'],
    ['note without final newline', good.slice(0, -1), 'MALFORMED'],
    ['note text not a checkpoint', `c2sp.org/tlog-proof@v1\nindex 5\n${h}\n${note.replace('\n7\n', '\n07\n')}`, 'MALFORMED'],
    ['lone surrogate', good.replace('dojang.example/log\n7', 'dojang.example/log\ud800\n7'), 'MALFORMED'],
    ['64 hashes', `c2sp.org/tlog-proof@v1\nindex 5\n${(hashes[0] + '\n').repeat(MAX_PROOF_HASHES + 1)}\n${note}`, 'MALFORMED'],
  ];
  for (const [name, text, want] of bad) {
    it(`rejects ${name} → ${want}`, () => {
      expect(code(() => parseProofBundle(text))).toBe(want);
    });
  }

  it('accepts 63 hashes (the parse limit) and an empty proof', () => {
    const many = `c2sp.org/tlog-proof@v1\nindex 5\n${(hashes[0] + '\n').repeat(MAX_PROOF_HASHES)}\n${note}`;
    expect(parseProofBundle(many).proof).toHaveLength(MAX_PROOF_HASHES);
    const one = bundleFor(entries(1), 0);
    expect(one.proof).toHaveLength(0);
    const t = formatProofBundle(one);
    expect(t.startsWith('c2sp.org/tlog-proof@v1\nindex 0\n\n')).toBe(true);
    expect(verifyProofBundle(parseProofBundle(t), entries(1)[0], verifiers()).checkpoint.size).toBe(1);
  });

  it('parseProofBundleBytes refuses invalid UTF-8', () => {
    expect(code(() => parseProofBundleBytes(concatBytes(utf8(good), new Uint8Array([0xff]))))).toBe('MALFORMED');
  });

  it('formatProofBundle refuses what it could not parse back (RangeError)', () => {
    const b = parseProofBundle(good);
    expect(code(() => formatProofBundle({ ...b, index: -1 }))).toBe('RangeError');
    expect(code(() => formatProofBundle({ ...b, index: 0.5 }))).toBe('RangeError');
    expect(code(() => formatProofBundle({ ...b, proof: [new Uint8Array(31)] }))).toBe('RangeError');
    expect(code(() => formatProofBundle({ ...b, checkpoint: utf8('not a note\n') }))).toBe('RangeError');
    expect(code(() => formatProofBundle({ ...b, proof: Array(MAX_PROOF_HASHES + 1).fill(b.proof[0]) }))).toBe('RangeError');
  });
});

describe('every leaf of small trees proves and verifies (reference tree × src/core/merkle.ts)', () => {
  it('round-trips and verifies', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.nat(), fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }), (n, i, extra) => {
        const d = entries(n);
        const index = i % n;
        const b = bundleFor(d, index, extra);
        const p = parseProofBundle(formatProofBundle(b));
        expect(p).toEqual(b);
        expect(verifyProofBundle(p, d[index], verifiers(), { requireAll: true }).checkpoint.size).toBe(n);
        if (n > 1) expect(code(() => verifyProofBundle(p, d[(index + 1) % n], verifiers()))).toBe('INVALID_PROOF');
      }),
      { numRuns: 150 },
    );
  });

  it('decodes hashes exactly as base64 lines', () => {
    const b = parseProofBundle(vectorText('proof-dojang-index5.txt'));
    const lines = vectorText('proof-dojang-index5.txt').split('\n').slice(2, 5);
    expect(b.proof).toEqual(lines.map(fromBase64));
    expect(b.proof).toEqual(refPath(5, entries(7)));
  });
});
