import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeLedger, type TestLedger } from '../helpers/ledger.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { encodeEvent, newCertId, newNonce, newSalt, recipientCommitment, type CertEvent } from '../../src/core/events.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { leafHash } from '../../src/core/merkle.js';
import { decodeEntry } from '../../src/core/entry.js';

// The certificate rules of spec §5.9, judged by the sequencer, through Ledger.append.
const DOC = 'kr.gov.resident-registration.copy';
const DAY = 86_400;

interface Key {
  seed: Uint8Array;
  pub: Uint8Array;
}
const key = (): Key => {
  const seed = randomBytes(32);
  return { seed, pub: ed25519PublicKey(seed) };
};

let t: TestLedger;
let now: number; // seconds
let root: Uint8Array;

beforeEach(async () => {
  now = 1_800_000_000;
  t = await makeLedger({ clock: () => now * 1000 }, 'example.com/certs');
  root = (await loadKeys(t.dir)).root!.seed;
});
afterEach(async () => {
  await t.cleanup();
});

const submit = (e: CertEvent, seed: Uint8Array) => t.ledger.append(encodeEvent(e, seed));
const refused = async (p: Promise<unknown>, code: string) => {
  await expect(p).rejects.toMatchObject({ code });
};

let tick = 0; // makes otherwise identical events distinct entries (identical bytes are one entry)
async function register(issuer: Key, docTypes = [DOC]) {
  return submit({ type: 'issuer.register', issuer: issuer.pub, name: 'Jongno-gu Office', docTypes, time: now + (tick++ % 100) }, root);
}

async function issue(issuer: Key, holder: Key, over: Partial<Extract<CertEvent, { type: 'cert.issue' }>> = {}) {
  const id = over.id ?? newCertId();
  const bytes = encodeEvent(
    { type: 'cert.issue', id, docType: DOC, issuer: issuer.pub, holder: holder.pub, commitment: randomBytes(32), issuedAt: now, validUntil: now + 90 * DAY, time: now, ...over },
    issuer.seed,
  );
  const r = await t.ledger.append(bytes);
  return { id, leaf: leafHash(bytes), receipt: r };
}

function transfer(id: Uint8Array, parent: Uint8Array, sender: Key, senderSalt: Uint8Array | null, to: Key) {
  const salt = newSalt();
  const bytes = encodeEvent({ type: 'cert.transfer', id, parent, sender: sender.pub, senderSalt, recipient: recipientCommitment(salt, to.pub), nonce: newNonce(), time: now }, sender.seed);
  return { bytes, salt, leaf: leafHash(bytes), done: t.ledger.append(bytes) };
}

describe('certificate rules at sequencing', () => {
  it('registers issuers only by the root key, once', async () => {
    const office = key();
    const r = await register(office);
    expect(r.index).toBe(1);
    await refused(register(office), 'CONFLICT');
    // the very same bytes again are the same entry, not a second registration
    const bytes = encodeEvent({ type: 'issuer.register', issuer: key().pub, name: 'Mapo-gu Office', docTypes: [DOC], time: now }, root);
    const first = await t.ledger.append(bytes);
    expect(await t.ledger.append(bytes)).toMatchObject({ index: first.index, duplicate: true });
    const other = key();
    await refused(submit({ type: 'issuer.register', issuer: other.pub, name: 'Fake', docTypes: [DOC], time: now }, key().seed), 'BAD_SIGNATURE');
  });

  it('lets a registered issuer issue its document types, with unique ids, inside the clock window', async () => {
    const office = key();
    const holder = key();
    await refused(issue(office, holder), 'UNKNOWN_ISSUER');
    await register(office);
    const a = await issue(office, holder);
    expect(a.receipt.duplicate).toBe(false);
    await refused(issue(office, holder, { id: a.id }), 'DUPLICATE_CERT');
    await refused(issue(office, holder, { docType: 'kr.gov.family-relation.cert' }), 'DOCTYPE_NOT_ALLOWED');
    await refused(issue(office, holder, { issuedAt: now - DAY, validUntil: now }), 'CERT_EXPIRED');
    await refused(issue(office, holder, { issuedAt: now + DAY, validUntil: now + DAY }), 'BAD_REQUEST');
    await refused(issue(office, holder, { time: now - 301 }), 'CLOCK_SKEW');
    await refused(issue(office, holder, { time: now + 301 }), 'CLOCK_SKEW');
    await issue(office, holder, { time: now + 300 }); // within the window
    // signed by someone else than the issuer it names
    const bytes = encodeEvent({ type: 'cert.issue', id: newCertId(), docType: DOC, issuer: office.pub, holder: holder.pub, commitment: randomBytes(32), issuedAt: now, validUntil: now + DAY, time: now }, office.seed);
    const forged = bytes.slice();
    forged[20] ^= 1; // inside the signature
    await refused(t.ledger.append(forged), 'BAD_SIGNATURE');
    // Straight to the sequencer with a made-up "parsed" beside it: still checked.
    const fake = { event: decodeEntry(forged), signer: office.pub, signingInput: new Uint8Array(0), sig: new Uint8Array(64) };
    await refused(t.ledger.sequencer!.add(forged, fake), 'BAD_SIGNATURE');
    await refused(t.ledger.sequencer!.add(forged, { parsed: fake }), 'BAD_SIGNATURE');
  });

  it('follows a chain of transfers: the holder, then each recipient that opens its commitment', async () => {
    const office = key();
    const parent = key();
    const pharmacy = key();
    const bank = key();
    await register(office);
    const c = await issue(office, parent);
    const t1 = transfer(c.id, c.leaf, parent, null, pharmacy);
    await t1.done;
    // the sender keeps its copy: it may send again (a fresh nonce makes it a new event)
    await transfer(c.id, c.leaf, parent, null, bank).done;
    // the pharmacy sends its copy on, revealing key and salt
    await transfer(c.id, t1.leaf, pharmacy, t1.salt, bank).done;
    // refusals
    await refused(transfer(c.id, c.leaf, pharmacy, null, bank).done, 'NOT_HOLDER'); // not the issued holder
    await refused(transfer(c.id, t1.leaf, pharmacy, newSalt(), bank).done, 'NOT_HOLDER'); // wrong salt
    await refused(transfer(c.id, t1.leaf, bank, t1.salt, pharmacy).done, 'NOT_HOLDER'); // not the recipient
    await refused(transfer(c.id, randomBytes(32), parent, null, bank).done, 'UNKNOWN_PARENT');
    const other = await issue(office, parent);
    await refused(transfer(other.id, c.leaf, parent, null, bank).done, 'UNKNOWN_PARENT'); // parent of another certificate
    await refused(transfer(newCertId(), c.leaf, parent, null, bank).done, 'UNKNOWN_CERT');
    // the same transfer bytes again: same index, no new entry
    const again = await t.ledger.append(t1.bytes);
    expect(again).toMatchObject({ index: (await t1.done).index, duplicate: true });
  });

  it('lets only the issuing issuer revoke, once; nothing moves after a revocation', async () => {
    const office = key();
    const rival = key();
    const holder = key();
    await register(office);
    await register(rival);
    const c = await issue(office, holder);
    const revoke = (by: Key) => submit({ type: 'cert.revoke', id: c.id, issuer: by.pub, reason: `reissued ${tick++}`, time: now }, by.seed);
    await refused(revoke(rival), 'NOT_ISSUER');
    await revoke(office);
    await refused(revoke(office), 'CERT_REVOKED');
    await refused(transfer(c.id, c.leaf, holder, null, key()).done, 'CERT_REVOKED');
    await refused(submit({ type: 'cert.revoke', id: newCertId(), issuer: office.pub, reason: '', time: now }, office.seed), 'UNKNOWN_CERT');
  });

  it('stops a retired issuer key at the point of its retirement', async () => {
    const office = key();
    const holder = key();
    await register(office);
    const c = await issue(office, holder);
    await submit({ type: 'issuer.retire', issuer: office.pub, time: now }, root);
    await refused(submit({ type: 'issuer.retire', issuer: office.pub, time: now + 1 }, root), 'ISSUER_RETIRED');
    await refused(issue(office, holder), 'ISSUER_RETIRED');
    await refused(submit({ type: 'cert.revoke', id: c.id, issuer: office.pub, reason: '', time: now }, office.seed), 'ISSUER_RETIRED');
    await refused(register(office), 'ISSUER_RETIRED');
    // certificates it issued before still move
    await transfer(c.id, c.leaf, holder, null, key()).done;
  });

  it('refuses transfers and revocations of an expired certificate', async () => {
    const office = key();
    const holder = key();
    await register(office);
    const c = await issue(office, holder, { validUntil: now + 90 * DAY });
    now += 90 * DAY;
    await refused(transfer(c.id, c.leaf, holder, null, key()).done, 'CERT_EXPIRED');
    await refused(submit({ type: 'cert.revoke', id: c.id, issuer: office.pub, reason: '', time: now }, office.seed), 'CERT_EXPIRED');
  });

  it('keeps its state across a restart, and appends nothing it refuses', async () => {
    const office = key();
    const holder = key();
    await register(office);
    const c = await issue(office, holder);
    const size = t.ledger.head.size;
    await refused(issue(office, holder, { id: c.id }), 'DUPLICATE_CERT');
    expect(t.ledger.head.size).toBe(size);
    await t.reopen({ clock: () => now * 1000 });
    await refused(issue(office, holder, { id: c.id }), 'DUPLICATE_CERT');
    await transfer(c.id, c.leaf, holder, null, key()).done;
    expect(t.ledger.head.size).toBe(size + 1);
  });
});
