import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeItem, encodeItem, openSealed, sealItem, checkSealed, type WalletItem } from '../../src/wallet/item.js';
import { Wallet } from '../../src/wallet/wallet.js';
import { commitDocument, newClaim } from '../../src/core/commitment.js';
import { encodeEvent, newCertId, newNonce, newSalt, recipientCommitment } from '../../src/core/events.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { leafHash } from '../../src/core/merkle.js';
import { decodeCbor, encodeCbor, type CborValue } from '../../src/core/cbor.js';
import { isLedgerError } from '../../src/core/errors.js';

// Items (spec §12.4) decoded strictly; what they prove is checked when presented, but a
// wallet refuses at once an item that does not commit, chain or belong to it.

const PROOF = readFileSync(new URL('../vectors/proof-dojang-index5.txt', import.meta.url), 'utf8'); // any well-formed bundle
const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return isLedgerError(e) ? e.code : `other: ${(e as Error).message}`;
  }
  return 'ok';
};

function chain(w: Wallet) {
  const issuer = randomBytes(32);
  const holderPub = w.newHolderKey();
  const holderSeed = w.holderSeedFor(holderPub)!;
  const claims = [newClaim('head', '김민준'), newClaim('applicant', 1)];
  const { commitment, digests } = commitDocument(claims);
  const id = newCertId();
  const issue = encodeEvent({ type: 'cert.issue', id, docType: 'kr.gov.resident-registration.copy', issuer: ed25519PublicKey(issuer), holder: holderPub, commitment, issuedAt: 1, validUntil: 2 ** 40, time: 1 }, issuer);
  const salt = newSalt();
  const transfer = (to: Uint8Array, parent: Uint8Array, s: Uint8Array) =>
    encodeEvent({ type: 'cert.transfer', id, parent: leafHash(parent), sender: ed25519PublicKey(holderSeed), senderSalt: null, recipient: recipientCommitment(s, to), nonce: newNonce(), time: 2 }, holderSeed);
  return { issue, claims, digests, salt, transfer };
}

describe('items', () => {
  const w = Wallet.create();
  const c = chain(w);
  const issued: WalletItem = { origin: 'example.com/log', issue: { entry: c.issue, proof: PROOF }, transfers: [], disclosure: { claims: c.claims, digests: c.digests }, salt: null };

  it('round-trip sealed to the wallet, opened only by it', () => {
    const bytes = encodeItem(issued);
    const sealed = sealItem(bytes, w.identityKey);
    checkSealed(sealed);
    expect(openSealed(sealed, w.identitySeed)).toEqual(bytes);
    expect(w.openItem(sealed).holderSeed).toEqual(w.holderSeedFor(decodeItem(bytes).parsed.issue.holder));
    expect(codeOf(() => Wallet.create().openItem(sealed))).toBe('INVALID_PROOF');
    expect(Buffer.from(sealed).includes(Buffer.from('김민준'))).toBe(false);
  });

  it('belongs to the wallet that was sent it, with the salt', () => {
    const recipient = Wallet.create();
    const t = c.transfer(recipient.identityKey, c.issue, c.salt);
    const item = encodeItem({ ...issued, transfers: [{ entry: t, proof: PROOF }], salt: c.salt });
    expect(recipient.openItem(sealItem(item, recipient.identityKey)).holderSeed).toEqual(recipient.identitySeed);
    // Sealed to a stranger, it opens but is not the stranger's.
    const stranger = Wallet.create();
    expect(codeOf(() => stranger.openItem(sealItem(item, stranger.identityKey)))).toBe('NOT_HOLDER');
    // Issued to a holder key the wallet never handed out.
    expect(codeOf(() => stranger.openItem(sealItem(encodeItem(issued), stranger.identityKey)))).toBe('NOT_HOLDER');
    // Another salt does not commit to the recipient.
    const wrongSalt = encodeItem({ ...issued, transfers: [{ entry: t, proof: PROOF }], salt: newSalt() });
    expect(codeOf(() => recipient.openItem(sealItem(wrongSalt, recipient.identityKey)))).toBe('NOT_HOLDER');
  });

  it('refuses what is not one, does not commit or does not chain', () => {
    const m = decodeCbor(encodeItem(issued)) as Record<string, CborValue>;
    const re = (over: Record<string, CborValue>) => encodeCbor({ ...m, ...over });
    expect(codeOf(() => decodeItem(re({ v: 2 })))).toBe('UNSUPPORTED');
    expect(codeOf(() => decodeItem(re({ extra: 1 })))).toBe('MALFORMED');
    expect(codeOf(() => decodeItem(re({ salt: newSalt() })))).toBe('MALFORMED'); // a salt without a transfer
    expect(codeOf(() => decodeItem(re({ issue: { entry: c.issue, proof: 'not a bundle' } })))).toBe('MALFORMED');
    const other = commitDocument([newClaim('head', '이서윤'), newClaim('applicant', 1)]);
    expect(codeOf(() => decodeItem(re({ disclosure: { claims: [], digests: [...other.digests].sort(Buffer.compare) } })))).toBe('INVALID_PROOF');
    const stray = c.transfer(randomBytes(32), randomBytes(64), c.salt); // its parent is not the issuance
    expect(codeOf(() => decodeItem(re({ transfers: [{ entry: stray, proof: PROOF }], salt: c.salt })))).toBe('UNKNOWN_PARENT');
    expect(codeOf(() => decodeItem(re({ transfers: [{ entry: c.issue, proof: PROOF }], salt: c.salt })))).toBe('MALFORMED'); // not a transfer
    expect(codeOf(() => checkSealed(encodeCbor({ v: 1, enc: new Uint8Array(31), ct: new Uint8Array(20) })))).toBe('MALFORMED');
    expect(codeOf(() => checkSealed(encodeCbor({ v: 1, enc: new Uint8Array(32), ct: new Uint8Array(20), x: 1 })))).toBe('MALFORMED');
    expect(() => encodeItem({ ...issued, salt: newSalt() })).toThrow(RangeError);
  });
});
