/**
 * nodeBackend implements the crypto facade on node:crypto (OpenSSL). KeyObjects are
 * cached per key so that a hot verifier pays the DER wrapping once per key.
 */
import * as nc from 'node:crypto';
import type { CryptoBackend } from './crypto.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

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
  return cached(pubCache, pub, () =>
    nc.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' }),
  );
}

function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export const nodeBackend: CryptoBackend = {
  name: 'node:crypto',
  sha256: (data) => u8(nc.createHash('sha256').update(data).digest()),
  ed25519PublicKey(seed) {
    const der = nc.createPublicKey(privateKey(seed)).export({ format: 'der', type: 'spki' });
    return u8(der.subarray(SPKI_PREFIX.length));
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
