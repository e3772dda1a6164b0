/**
 * nodeBackend implements the crypto facade on node:crypto (OpenSSL). KeyObjects are
 * cached per key (up to 4,096 of each kind) so that a hot verifier pays the import once.
 *
 * Speed notes (2-core development machine, Node 20, OpenSSL 3.0; noisy, shared): a
 * verification with a cached KeyObject is the floor, ~140 µs (~7k/s; `openssl speed
 * ed25519` gives ~5.4k verify/s on the same CPU, so the 15.6k/s of DESIGN.md is another
 * machine's figure). The facade's rule checks add ~0.2 µs. Importing a public key as
 * DER costs ~120 µs, as JWK ~6–12 µs: keys are imported as JWK. One-shot `crypto.hash`
 * allocates less than createHash for the 65-byte inputs of Merkle hashing.
 */
import * as nc from 'node:crypto';
import type { CryptoBackend } from './crypto.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex'); // to strip from exports

const MAX_CACHED = 4096;
const pubCache = new Map<string, nc.KeyObject>();
const privCache = new Map<string, nc.KeyObject>();

function cached(cache: Map<string, nc.KeyObject>, key: Uint8Array, make: () => nc.KeyObject): nc.KeyObject {
  const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
  let k = cache.get(id);
  if (k === undefined) {
    k = make();
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    cache.set(id, k);
  }
  return k;
}

function privateKey(seed: Uint8Array): nc.KeyObject {
  return cached(privCache, seed, () =>
    nc.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }),
  );
}

function publicKey(pub: Uint8Array): nc.KeyObject {
  // Import as JWK, not DER: OpenSSL 3's DER decoder path costs ~120 µs a key, the JWK
  // path ~6–12 µs, and both hand OpenSSL the same 32 raw bytes. It matters for the
  // many one-use keys (a holder key per certificate) that miss the cache.
  const x = Buffer.from(pub.buffer, pub.byteOffset, pub.byteLength).toString('base64url');
  let k = pubCache.get(x);
  if (k === undefined) {
    k = nc.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    if (pubCache.size >= MAX_CACHED) pubCache.delete(pubCache.keys().next().value as string);
    pubCache.set(x, k);
  }
  return k;
}

function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

// crypto.hash exists from Node 20.12 (package.json requires >= 20.19); keep a fallback
// for embedders on older runtimes.
const sha256: (data: Uint8Array) => Uint8Array =
  typeof nc.hash === 'function'
    ? (data) => u8(nc.hash('sha256', data, 'buffer'))
    : (data) => u8(nc.createHash('sha256').update(data).digest());

const pubOfSeed = new Map<string, Uint8Array>();

export const nodeBackend: CryptoBackend = {
  name: 'node:crypto',
  sha256,
  ed25519PublicKey(seed) {
    // Deriving exports a KeyObject (~50 µs): signers derive the same key over and over.
    const id = Buffer.from(seed.buffer, seed.byteOffset, seed.byteLength).toString('latin1');
    let pub = pubOfSeed.get(id);
    if (pub === undefined) {
      const der = nc.createPublicKey(privateKey(seed)).export({ format: 'der', type: 'spki' });
      pub = u8(der.subarray(SPKI_PREFIX.length));
      if (pubOfSeed.size >= MAX_CACHED) pubOfSeed.delete(pubOfSeed.keys().next().value as string);
      pubOfSeed.set(id, pub);
    }
    return pub.slice();
  },
  ed25519Sign: (seed, msg) => u8(nc.sign(null, msg, privateKey(seed))),
  ed25519VerifyRaw(pub, msg, sig) {
    try {
      return nc.verify(null, msg, publicKey(pub), sig);
    } catch {
      return false; // OpenSSL refuses to load some invalid keys
    }
  },
};
