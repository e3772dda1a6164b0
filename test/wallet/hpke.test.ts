import { describe, expect, it } from 'vitest';
import { CipherSuite, HkdfSha256 } from '@hpke/core';
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { deriveKeyPair, open, seal } from '../../src/wallet/hpke.js';
import { fromHex, toHex, utf8 } from '../../src/core/bytes.js';
import { randomBytes } from '../../src/core/crypto.js';
import { isLedgerError } from '../../src/core/errors.js';

// RFC 9180 appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305,
// base mode, the encryption at sequence number 0 — from the RFC's text.
const A21 = {
  info: '4f6465206f6e2061204772656369616e2055726e',
  ikmE: '909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b',
  pkEm: '1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a',
  skEm: 'f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600',
  ikmR: '1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df',
  pkRm: '4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a',
  skRm: '8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb',
  pt: '4265617574792069732074727574682c20747275746820626561757479',
  aad: '436f756e742d30',
  ct: '1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28',
};
const h = fromHex;

describe('HPKE (RFC 9180) base mode, X25519 / HKDF-SHA256 / ChaCha20-Poly1305', () => {
  it('derives the appendix A.2.1 key pairs', () => {
    expect(toHex(deriveKeyPair(h(A21.ikmE)).secretKey)).toBe(A21.skEm);
    expect(toHex(deriveKeyPair(h(A21.ikmE)).publicKey)).toBe(A21.pkEm);
    expect(toHex(deriveKeyPair(h(A21.ikmR)).secretKey)).toBe(A21.skRm);
    expect(toHex(deriveKeyPair(h(A21.ikmR)).publicKey)).toBe(A21.pkRm);
  });

  it('seals and opens the appendix A.2.1 message byte for byte', () => {
    const { enc, ct } = seal(h(A21.pkRm), h(A21.pt), h(A21.info), h(A21.aad), { ikmE: h(A21.ikmE) });
    expect(toHex(enc)).toBe(A21.pkEm);
    expect(toHex(ct)).toBe(A21.ct);
    expect(toHex(open(h(A21.skRm), h(A21.pkEm), h(A21.ct), h(A21.info), h(A21.aad)))).toBe(A21.pt);
  });

  it('refuses changed bytes, another key, another info or aad (INVALID_PROOF)', () => {
    const { enc, ct } = seal(h(A21.pkRm), h(A21.pt), h(A21.info), h(A21.aad));
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isLedgerError(e) ? e.code : 'other';
      }
      return 'opened';
    };
    for (let i = 0; i < ct.length; i += 7) {
      const c = ct.slice();
      c[i] ^= 1;
      expect(bad(() => open(h(A21.skRm), enc, c, h(A21.info), h(A21.aad)))).toBe('INVALID_PROOF');
    }
    const e2 = enc.slice();
    e2[3] ^= 1;
    expect(bad(() => open(h(A21.skRm), e2, ct, h(A21.info), h(A21.aad)))).toBe('INVALID_PROOF');
    expect(bad(() => open(h(A21.skEm), enc, ct, h(A21.info), h(A21.aad)))).toBe('INVALID_PROOF');
    expect(bad(() => open(h(A21.skRm), enc, ct, utf8('other'), h(A21.aad)))).toBe('INVALID_PROOF');
    expect(bad(() => open(h(A21.skRm), enc, ct, h(A21.info), new Uint8Array(0)))).toBe('INVALID_PROOF');
    expect(bad(() => seal(new Uint8Array(32), h(A21.pt), h(A21.info), h(A21.aad)))).toBe('BAD_KEY'); // small order: DH is zero
    expect(bad(() => open(h(A21.skRm), new Uint8Array(32), ct, h(A21.info), h(A21.aad)))).toBe('BAD_KEY');
  });

  it('interoperates with @hpke/core both ways', async () => {
    const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
    for (let i = 0; i < 5; i++) {
      const r = deriveKeyPair(randomBytes(32));
      const info = utf8('dojang/v1/wallet-item');
      const pt = randomBytes(1 + i * 300);
      const ours = seal(r.publicKey, pt, info, new Uint8Array(0));
      const recipientKey = await suite.kem.deserializePrivateKey(r.secretKey.slice().buffer);
      const theirsOpened = await suite.open({ recipientKey, enc: ours.enc.slice().buffer, info: info.slice().buffer }, ours.ct.slice().buffer);
      expect(new Uint8Array(theirsOpened)).toEqual(pt);
      const recipientPublicKey = await suite.kem.deserializePublicKey(r.publicKey.slice().buffer);
      const theirs = await suite.seal({ recipientPublicKey, info: info.slice().buffer }, pt.slice().buffer);
      expect(open(r.secretKey, new Uint8Array(theirs.enc), new Uint8Array(theirs.ct), info, new Uint8Array(0))).toEqual(pt);
    }
  });
});
