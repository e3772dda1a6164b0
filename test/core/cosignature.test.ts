import { describe, expect, it } from 'vitest';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import {
  COSIGNATURE_V1_SIZE,
  cosignatureMessage,
  cosignatureSigner,
  cosignatureVerifier,
  cosignedTime,
} from '../../src/core/cosignature.js';
import {
  ed25519Signer,
  ed25519Verifier,
  formatVerifierKey,
  keyId,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  type NoteSignature,
} from '../../src/core/note.js';
import { formatCheckpoint } from '../../src/core/checkpoint.js';
import { concatBytes, fromBase64, toHex, utf8 } from '../../src/core/bytes.js';
import { cryptoBackend, portableBackend } from '../../src/core/crypto.js';
import { code, vector, vectorText } from '../helpers/vectors.js';



const backends = [
  ['node:crypto', cryptoBackend()],
  ['noble', portableBackend],
] as const;

const C2SP_TEXT = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

describe('c2sp.org/tlog-cosignature published example', () => {
  it('reads the witness cosignature: key ID and time 1679315147', () => {
    const note = parseNote(vector('note-c2sp-cosigned-checkpoint.txt'));
    expect(note.text).toBe(C2SP_TEXT);
    const w = note.sigs[1];
    expect(w.name).toBe('witness.example.com/w1');
    expect(toHex(w.keyId)).toBe('8d66cf3f');
    expect(w.sig).toHaveLength(COSIGNATURE_V1_SIZE);
    expect(cosignedTime(w)).toBe(1679315147);
    // The log's own signature (type 0x01) is 64 bytes after the key ID: not a cosignature.
    expect(note.sigs[0].sig).toHaveLength(64);
    expect(code(() => cosignedTime(note.sigs[0]))).toBe('MALFORMED');
  });

  it('builds the signed message the spec shows for that time', () => {
    const msg = new TextDecoder().decode(cosignatureMessage(C2SP_TEXT, 1679315147));
    expect(msg).toBe('cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n');
  });

  it('reads the transparency-dev/formats CosignatureTimestamp vectors', () => {
    const raw = fromBase64('ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==');
    expect(cosignedTime({ name: 'w', keyId: raw.slice(0, 4), sig: raw.slice(4) })).toBe(1727964367);
    const wrongType = fromBase64('eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY=');
    expect(code(() => cosignedTime({ name: 'w', keyId: wrongType.slice(0, 4), sig: wrongType.slice(4) }))).toBe('MALFORMED');
  });
});

// Keys of test/vectors/note-dojang-keys.txt: log key (0x01) and timestamp key (0x04).
const [LOG_SKEY, LOG_VKEY, TS_SKEY, TS_VKEY] = vectorText('note-dojang-keys.txt').trim().split('\n');
const T = 1700000000;

describe('dojang cosigned checkpoint vector (cross-checked with Go x/mod note and stdlib ed25519)', () => {
  it('the key files are consistent', () => {
    const log = parseSignerKey(LOG_SKEY);
    const ts = parseSignerKey(TS_SKEY);
    expect(log.type).toBe(0x01);
    expect(ts.type).toBe(0x04);
    expect(formatVerifierKey(log)).toBe(LOG_VKEY);
    expect(formatVerifierKey(ts)).toBe(TS_VKEY);
    expect(toHex(keyId(ts.name, 0x04, ts.publicKey))).toBe('6f6ad10c');
  });

  for (const [bname, backend] of backends) {
    it(`signs the vector byte for byte (${bname})`, () => {
      const log = parseSignerKey(LOG_SKEY);
      const ts = parseSignerKey(TS_SKEY);
      const note = parseNote(vector('note-dojang-checkpoint.txt'));
      const logSigner = ed25519Signer(log.name, log.seed, backend);
      const tsSigner = cosignatureSigner(ts.name, ts.seed, () => T, backend);
      expect(signNote(note.text, [logSigner], [tsSigner.signAt(note.text, T)])).toEqual(vector('note-dojang-checkpoint.txt'));
      // sign() takes the time from the injected clock.
      expect(signNote(note.text, [tsSigner, logSigner])).toEqual(utf8(note.text + '\n' + new TextDecoder().decode(vector('note-dojang-checkpoint.txt')).split('\n\n')[1]));
    });

    it(`opens the vector with both keys and reads the time (${bname})`, () => {
      const lv = parseVerifierKey(LOG_VKEY, backend);
      const tv = parseVerifierKey(TS_VKEY, backend) as ReturnType<typeof cosignatureVerifier>;
      const { verified } = openNote(vector('note-dojang-checkpoint.txt'), [lv, tv], { requireAll: true });
      expect(verified.map((s) => s.name)).toEqual(['dojang.example/log/timestamp', 'dojang.example/log']);
      expect(tv.timeOf(verified[0])).toBe(T);
      expect(cosignedTime(verified[0])).toBe(T);
    });
  }

  it('verifies independently with node:crypto over the spec message', () => {
    const ts = parseVerifierKey(TS_VKEY);
    const note = parseNote(vector('note-dojang-checkpoint.txt'));
    const sig = note.sigs[0].sig;
    const msg = Buffer.from(`cosignature/v1\ntime ${T}\n${note.text}`);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), ts.publicKey]);
    expect(nodeVerify(null, msg, createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig.subarray(8))).toBe(true);
    expect(Buffer.from(sig.subarray(0, 8)).readBigUInt64BE()).toBe(BigInt(T));
  });
});

describe('cosignature/v1 sign and verify', () => {
  const seed = new Uint8Array(32).fill(0x42);
  const text = formatCheckpoint({ origin: 'example.com/log', size: 10, root: new Uint8Array(32).fill(3), extensions: [] });

  for (const [bname, backend] of backends) {
    it(`round-trips and rejects tampering (${bname})`, () => {
      const s = cosignatureSigner('witness.example/w1', seed, () => 1234, backend);
      const v = cosignatureVerifier('witness.example/w1', s.publicKey, backend);
      expect(v.keyId).toEqual(s.keyId);
      const sig = s.signAt(text, 99);
      expect(sig.sig).toHaveLength(72);
      expect(v.verify(utf8(text), sig.sig)).toBe(true);
      expect(cosignedTime(sig)).toBe(99);
      // Another time in the first 8 bytes: the signature no longer covers it.
      const moved = sig.sig.slice();
      moved[7] ^= 1;
      expect(v.verify(utf8(text), moved)).toBe(false);
      // Another checkpoint.
      expect(v.verify(utf8(text.replace('10', '11')), sig.sig)).toBe(false);
      // Wrong lengths.
      expect(v.verify(utf8(text), sig.sig.subarray(0, 71))).toBe(false);
      expect(v.verify(utf8(text), concatBytes(sig.sig, new Uint8Array(1)))).toBe(false);
      // Not a checkpoint at all.
      expect(v.verify(utf8('hello\n'), sig.sig)).toBe(false);
    });
  }

  it('covers extension lines', () => {
    const ext = formatCheckpoint({ origin: 'example.com/log', size: 10, root: new Uint8Array(32).fill(3), extensions: ['Extendo'] });
    const s = cosignatureSigner('w', seed, () => 5);
    const v = cosignatureVerifier('w', s.publicKey);
    const note = signNote(ext, [s]);
    expect(openNote(note, [v]).verified).toHaveLength(1);
    const tampered = note.slice();
    tampered[ext.length - 2] = '@'.charCodeAt(0);
    expect(code(() => openNote(tampered, [v]))).toBe('BAD_SIGNATURE');
  });

  it('a type 0x01 key with the same name and public key does not match a cosignature', () => {
    const s = cosignatureSigner('w', seed, () => 5);
    const note = signNote(text, [s]);
    expect(code(() => openNote(note, [ed25519Verifier('w', s.publicKey)]))).toBe('UNKNOWN_KEY');
    // And a plain Ed25519 signature by the same key is not a cosignature.
    const plain = signNote(text, [ed25519Signer('w', seed)]);
    expect(code(() => openNote(plain, [cosignatureVerifier('w', s.publicKey)]))).toBe('UNKNOWN_KEY');
  });

  it('a bad cosignature by a known key rejects the note', () => {
    const s = cosignatureSigner('w', seed, () => 5);
    const v = cosignatureVerifier('w', s.publicKey);
    const good = s.signAt(text, 5);
    const bad: NoteSignature = { ...good, sig: good.sig.slice() };
    bad.sig[20] ^= 0x80;
    const note = signNote(text, [], [bad]);
    expect(code(() => openNote(note, [v]))).toBe('BAD_SIGNATURE');
  });

  it('handles times at the edges', () => {
    const s = cosignatureSigner('w', seed, () => 0);
    const v = cosignatureVerifier('w', s.publicKey);
    for (const t of [0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      const sig = s.signAt(text, t);
      expect(v.verify(utf8(text), sig.sig)).toBe(true);
      expect(cosignedTime(sig)).toBe(t);
    }
    expect(code(() => s.signAt(text, -1))).toBe('RangeError');
    expect(code(() => s.signAt(text, 1.5))).toBe('RangeError');
    expect(code(() => s.signAt(text, 2 ** 53))).toBe('RangeError');
    expect(code(() => cosignatureSigner('w', seed, () => 1.5).sign(utf8(text)))).toBe('RangeError');
    // A time above 2^53 - 1 (legal up to 2^63 - 1 in the spec) is refused here.
    const big = s.signAt(text, 1).sig.slice();
    big.set([0x00, 0x20, 0, 0, 0, 0, 0, 0], 0);
    expect(v.verify(utf8(text), big)).toBe(false);
    expect(code(() => cosignedTime({ name: 'w', keyId: s.keyId, sig: big }))).toBe('MALFORMED');
  });

  it('signs checkpoints only', () => {
    const s = cosignatureSigner('w', seed, () => 5);
    expect(code(() => s.signAt('hello\n', 5))).toBe('RangeError');
    expect(code(() => signNote('a\nb\n', [s]))).toBe('RangeError');
  });
});
