import { describe, expect, it } from 'vitest';
import { createPrivateKey, createPublicKey, hkdfSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bech32 } from '@scure/base';
import vectors from '../vectors/wallet.json' with { type: 'json' };
import { holderKey, holderSeed, identitySeed, x25519PublicKey, x25519SecretKey } from '../../src/wallet/keys.js';
import { addressUri, challengeUri, encodeAddress, parseAddress, parseChallenge } from '../../src/wallet/address.js';
import { createWalletFile, decryptWallet, encryptWallet, loadWallet, saveWallet, updateWallet } from '../../src/wallet/wallet-file.js';
import { Wallet } from '../../src/wallet/wallet.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { fromHex, toHex, utf8 } from '../../src/core/bytes.js';
import { decodeCbor, encodeCbor } from '../../src/core/cbor.js';
import { isLedgerError } from '../../src/core/errors.js';

const h = fromHex;
const codeOf = async (f: () => unknown): Promise<string> => {
  try {
    await f();
  } catch (e) {
    return isLedgerError(e) ? e.code : `other: ${(e as Error).message}`;
  }
  return 'ok';
};

/** node:crypto's Ed25519 public key of a seed (PKCS #8 of RFC 8410). */
function nodeEd25519Public(seed: Uint8Array): string {
  const k = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  return Buffer.from(createPublicKey(k).export({ format: 'jwk' }).x!, 'base64url').toString('hex');
}

/** node:crypto's X25519 public key of a secret. */
function nodeX25519Public(secret: Uint8Array): string {
  const k = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), secret]), format: 'der', type: 'pkcs8' });
  return Buffer.from(createPublicKey(k).export({ format: 'jwk' }).x!, 'base64url').toString('hex');
}

// A slow bech32m checksum from BIP 350's definition, apart from @scure/base.
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
function polymod(values: number[]): number {
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ GEN[i]) >>> 0;
  }
  return chk;
}
function slowBech32mDecode(s: string): { hrp: string; data: Uint8Array } {
  const pos = s.lastIndexOf('1');
  const hrp = s.slice(0, pos);
  const words = [...s.slice(pos + 1)].map((c) => CHARSET.indexOf(c));
  const expanded = [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31), ...words];
  expect(polymod(expanded)).toBe(0x2bc830a3); // the bech32m constant
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  for (const w of words.slice(0, -6)) {
    acc = (acc << 5) | w;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return { hrp, data: Uint8Array.from(out) };
}

describe('wallet keys (spec §12.1, §12.3)', () => {
  it('derives the vectors, checked with node:crypto', () => {
    const seed = h(vectors.seed);
    const info = (s: string) => Buffer.from(s);
    expect(toHex(identitySeed(seed))).toBe(vectors.identitySeed);
    expect(Buffer.from(hkdfSync('sha256', seed, Buffer.alloc(0), info('dojang/v1/wallet/identity'), 32)).toString('hex')).toBe(vectors.identitySeed);
    expect(nodeEd25519Public(h(vectors.identitySeed))).toBe(vectors.identityKey);
    for (const v of vectors.holders) {
      expect(toHex(holderSeed(seed, v.n))).toBe(v.seed);
      const idx = Buffer.alloc(4);
      idx.writeUInt32BE(v.n);
      expect(Buffer.from(hkdfSync('sha256', seed, Buffer.alloc(0), Buffer.concat([info('dojang/v1/wallet/holder\n'), idx]), 32)).toString('hex')).toBe(v.seed);
      expect(toHex(holderKey(seed, v.n)!.publicKey)).toBe(v.publicKey);
      expect(nodeEd25519Public(h(v.seed))).toBe(v.publicKey);
    }
    // The X25519 key pair: node:crypto's public key of our secret is our map of the Ed25519 key.
    expect(toHex(x25519SecretKey(h(vectors.identitySeed)))).toBe(vectors.x25519Secret);
    expect(toHex(x25519PublicKey(h(vectors.identityKey)))).toBe(vectors.x25519Public);
    expect(nodeX25519Public(h(vectors.x25519Secret))).toBe(vectors.x25519Public);
  });

  it('maps Ed25519 to X25519 as libsodium does (crypto_sign_ed25519_*_to_curve25519)', () => {
    // libsodium test/default/ed25519_convert.{c,exp}
    const seed = h('421151a459faeade3d247115f94aedae42318124095afabe4d1451a559faedee');
    expect(toHex(ed25519PublicKey(seed))).toBe('b5076a8474a832daee4dd5b4040983b6623b5f344aca57d4d6ee4baf3f259e6e');
    expect(toHex(x25519PublicKey(ed25519PublicKey(seed)))).toBe('f1814f0e8ff1043d8a44d25babff3cedcae6c22c3edaa48f857ae70de2baae50');
    expect(toHex(x25519SecretKey(seed))).toBe('8052030376d47112be7f73ed7a019293dd12ad910b654455798b4667d73de166');
    // RFC 8032 §7.1 TEST 1's key
    expect(toHex(x25519PublicKey(ed25519PublicKey(h('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'))))).toBe('d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e');
    for (let i = 0; i < 20; i++) {
      const s = randomBytes(32);
      expect(toHex(x25519PublicKey(ed25519PublicKey(s)))).toBe(nodeX25519Public(x25519SecretKey(s)));
    }
    // Keys §2.2 refuses have no encryption key.
    expect(() => x25519PublicKey(new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
    expect(() => x25519PublicKey(h('0100000000000000000000000000000000000000000000000000000000000000'))).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
  });
});

describe('addresses and challenges (spec §12.2)', () => {
  it('writes the identity key in bech32m, checked by a slow decoder', () => {
    expect(encodeAddress(h(vectors.identityKey))).toBe(vectors.address);
    expect(addressUri(h(vectors.identityKey))).toBe(vectors.uri);
    expect(vectors.address).toHaveLength(61);
    const d = slowBech32mDecode(vectors.address);
    expect(d.hrp).toBe('dw');
    expect(toHex(d.data)).toBe(vectors.identityKey);
  });

  it('reads the URI, the bare address, either case, and refuses the rest', async () => {
    const key = h(vectors.identityKey);
    for (const s of [vectors.address, vectors.uri, vectors.uri.toUpperCase(), `DOJANG:${vectors.address}`, ` ${vectors.uri}\n`]) expect(parseAddress(s)).toEqual(key);
    const mixed = vectors.address.slice(0, 10) + vectors.address.slice(10).toUpperCase();
    const flipped = vectors.address.slice(0, 20) + (vectors.address[20] === 'q' ? 'p' : 'q') + vectors.address.slice(21);
    const bech32NotM = bech32.encode('dw', bech32.toWords(key));
    const otherHrp = vectors.address.replace(/^dw/, 'dx');
    for (const s of [mixed, flipped, bech32NotM, otherHrp, 'dojang:', 'bitcoin:' + vectors.address, vectors.address + 'q', '']) {
      expect(await codeOf(() => parseAddress(s)), s).toBe('MALFORMED');
    }
    // A small-order key in a well-formed address.
    const { bech32m } = await import('@scure/base');
    expect(await codeOf(() => parseAddress(bech32m.encode('dw', bech32m.toWords(new Uint8Array(32)))))).toBe('BAD_KEY');
    expect(await codeOf(() => encodeAddress(new Uint8Array(32)))).toBe('BAD_KEY');
  });

  it('writes and reads face-to-face challenges', async () => {
    const c = { verifier: '온누리약국 & Co', nonce: randomBytes(16) };
    const uri = challengeUri(c);
    expect(uri).toBe(`dojang:verify?name=${encodeURIComponent(c.verifier)}&nonce=${toHex(c.nonce)}`);
    expect(parseChallenge(uri)).toEqual(c);
    expect(await codeOf(() => parseChallenge(`dojang:verify?nonce=${toHex(c.nonce)}&name=x`))).toBe('MALFORMED');
    expect(await codeOf(() => parseChallenge('dojang:verify?name=x&nonce=abc'))).toBe('MALFORMED');
    expect(await codeOf(() => parseChallenge('dojang:verify?name=%E0%A4&nonce=' + toHex(c.nonce)))).toBe('MALFORMED');
    expect(await codeOf(() => parseChallenge('dojang:verify?name=x&nonce=' + toHex(randomBytes(8))))).toBe('BAD_REQUEST');
    expect(await codeOf(() => parseChallenge('dojang:verify?name=&nonce=' + toHex(c.nonce)))).toBe('BAD_REQUEST');
  });
});

describe('wallet files (spec §12.5)', () => {
  const kdf = { n: 1 << 10 }; // cheap in tests; the reader takes what the file says

  it('opens with the password only, NFC-normalized, and holds no seed in the clear', async () => {
    const w = new Wallet(randomBytes(32), 7);
    const bytes = await encryptWallet(w, 'cafe\u0301 비밀번호', kdf);
    expect(Buffer.from(bytes).includes(Buffer.from(w.seed))).toBe(false);
    const back = await decryptWallet(bytes, 'caf\u00e9 비밀번호');
    expect(back.seed).toEqual(w.seed);
    expect(back.next).toBe(7);
    expect(back.address).toBe(w.address);
    for (const pw of ['cafe 비밀번호', 'café 비밀번호 ', 'x']) expect(await codeOf(() => decryptWallet(bytes, pw))).toBe('WRONG_PASSWORD');
    expect(await codeOf(() => decryptWallet(bytes, ''))).toBe('BAD_REQUEST');
    // Any change to the ciphertext or the parameters opens nothing.
    const m = decodeCbor(bytes) as { v: number; scrypt: { salt: Uint8Array; n: number; r: number; p: number }; nonce: Uint8Array; ct: Uint8Array };
    const ct = m.ct.slice();
    ct[5] ^= 1;
    expect(await codeOf(() => decryptWallet(encodeCbor({ ...m, ct }), 'café 비밀번호'))).toBe('WRONG_PASSWORD');
    expect(await codeOf(() => decryptWallet(encodeCbor({ ...m, scrypt: { ...m.scrypt, n: 1 << 11 } }), 'café 비밀번호'))).toBe('WRONG_PASSWORD');
    expect(await codeOf(() => decryptWallet(encodeCbor({ ...m, scrypt: { ...m.scrypt, n: 1 << 21 } }), 'café 비밀번호'))).toBe('BAD_REQUEST');
    expect(await codeOf(() => decryptWallet(encodeCbor({ ...m, scrypt: { ...m.scrypt, n: 1000 } }), 'café 비밀번호'))).toBe('MALFORMED');
    // Each bound alone would allow 4 GiB: the products are bounded too.
    expect(await codeOf(() => decryptWallet(encodeCbor({ ...m, scrypt: { ...m.scrypt, n: 1 << 20, r: 32 } }), 'café 비밀번호'))).toBe('BAD_REQUEST');
    expect(await codeOf(() => decryptWallet(encodeCbor({ ...m, scrypt: { ...m.scrypt, n: 1 << 18, r: 8, p: 16 } }), 'café 비밀번호'))).toBe('BAD_REQUEST');
    expect(await codeOf(() => decryptWallet(encodeCbor({ ...m, v: 2 }), 'café 비밀번호'))).toBe('UNSUPPORTED');
    expect(await codeOf(() => decryptWallet(utf8('not a wallet'), 'café 비밀번호'))).toBe('MALFORMED');
  });

  it('is written 0600, atomically, over the old file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dojang-wallet-'));
    try {
      const path = join(dir, 'me.wallet');
      const w = Wallet.create();
      await saveWallet(path, w, 'pw', kdf);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      w.newHolderKey();
      await saveWallet(path, w, 'pw', kdf);
      expect((await loadWallet(path, 'pw')).next).toBe(1);
      expect(await codeOf(() => loadWallet(join(dir, 'none'), 'pw'))).toBe('NOT_FOUND');
      await writeFile(join(dir, 'junk'), 'x');
      expect(await codeOf(() => loadWallet(join(dir, 'junk'), 'pw'))).toBe('MALFORMED');
      expect((await readFile(path)).length).toBeLessThan(200);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is created only where none is, and changed under a lock', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dojang-wallet-'));
    try {
      const path = join(dir, 'me.wallet');
      await createWalletFile(path, Wallet.create(), 'pw', kdf);
      const first = await loadWallet(path, 'pw');
      expect(await codeOf(() => createWalletFile(path, Wallet.create(), 'pw', kdf))).toBe('CONFLICT');
      expect((await loadWallet(path, 'pw')).address).toBe(first.address);
      // Concurrent changes: each either gets the lock and a key of its own, or CONFLICT.
      const outs = await Promise.all([0, 1, 2, 3].map(() => updateWallet(path, 'pw', (w) => toHex(w.newHolderKey())).catch((e) => (isLedgerError(e) ? e.code : 'other'))));
      const keys = outs.filter((o) => o !== 'CONFLICT');
      expect(keys.length).toBeGreaterThanOrEqual(1);
      expect(new Set(keys).size).toBe(keys.length);
      expect(outs.every((o) => o === 'CONFLICT' || /^[0-9a-f]{64}$/.test(o))).toBe(true);
      expect((await loadWallet(path, 'pw')).next).toBe(keys.length);
      // The cost the file was written with is kept.
      expect((decodeCbor(await readFile(path)) as { scrypt: { n: number } }).scrypt.n).toBe(1 << 10);
      await writeFile(`${path}.lock`, '');
      expect(await codeOf(() => updateWallet(path, 'pw', (w) => w.newHolderKey()))).toBe('CONFLICT');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('hands out holder keys once each and finds their seeds', () => {
    const w = Wallet.create();
    const keys = [w.newHolderKey(), w.newHolderKey(), w.newHolderKey()];
    expect(new Set(keys.map(toHex)).size).toBe(3);
    expect(w.next).toBe(3);
    expect(ed25519PublicKey(w.holderSeedFor(keys[1])!)).toEqual(keys[1]);
    expect(w.holderSeedFor(w.identityKey)).toBeUndefined();
    expect(keys.map(toHex)).not.toContain(toHex(w.identityKey));
  });
});
