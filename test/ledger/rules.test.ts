import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeLedger, type TestLedger } from '../helpers/ledger.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { encodeEvent, newCertId, newNonce, newSalt, recipientCommitment, type CertEvent } from '../../src/core/events.js';
import { ed25519PublicKey, randomBytes, signEd25519 } from '../../src/core/crypto.js';
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
  t = await makeLedger({ clock: () => now * 1000, docTypes: [{ docType: DOC, maxValidity: 90 * DAY }, { docType: 'kr.gov.family-relation.cert', maxValidity: 90 * DAY }] }, 'example.com/certs');
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
    expect(r.index).toBe(3); // after the genesis and the two document types
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
    await refused(issue(office, holder, { issuedAt: now - 300, validUntil: now }), 'CERT_EXPIRED');
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
    const revoke = (by: Key) => submit({ type: 'cert.revoke', id: c.id, revoker: by.pub, reason: `reissued ${tick++}`, time: now }, by.seed);
    await refused(revoke(rival), 'NOT_ISSUER');
    await revoke(office);
    await refused(revoke(office), 'CERT_REVOKED');
    await refused(transfer(c.id, c.leaf, holder, null, key()).done, 'CERT_REVOKED');
    await refused(submit({ type: 'cert.revoke', id: newCertId(), revoker: office.pub, reason: '', time: now }, office.seed), 'UNKNOWN_CERT');
  });

  it('stops a retired issuer key at the point of its retirement', async () => {
    const office = key();
    const holder = key();
    await register(office);
    const c = await issue(office, holder);
    await submit({ type: 'issuer.retire', issuer: office.pub, time: now }, root);
    await refused(submit({ type: 'issuer.retire', issuer: office.pub, time: now + 1 }, root), 'ISSUER_RETIRED');
    await refused(issue(office, holder), 'ISSUER_RETIRED');
    await refused(submit({ type: 'cert.revoke', id: c.id, revoker: office.pub, reason: '', time: now }, office.seed), 'ISSUER_RETIRED');
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
    await refused(submit({ type: 'cert.revoke', id: c.id, revoker: office.pub, reason: '', time: now }, office.seed), 'CERT_EXPIRED');
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

  it('issues only registered document types, within their maximum validity and with issuedAt near the batch time', async () => {
    const office = key();
    const holder = key();
    await register(office, [DOC, 'kr.gov.unregistered.type']);
    await refused(issue(office, holder, { docType: 'kr.gov.unregistered.type' }), 'UNKNOWN_DOCTYPE');
    // The 2^53 − 1 validity and the issuedAt of 0 the adversarial test got into the log.
    await refused(issue(office, holder, { validUntil: Number.MAX_SAFE_INTEGER }), 'VALIDITY_TOO_LONG');
    await refused(issue(office, holder, { issuedAt: 0 }), 'ISSUED_AT_SKEW');
    await refused(issue(office, holder, { issuedAt: now - 301 }), 'ISSUED_AT_SKEW');
    await refused(issue(office, holder, { issuedAt: now + 301, validUntil: now + 2 * DAY }), 'ISSUED_AT_SKEW');
    await refused(issue(office, holder, { validUntil: now + 90 * DAY + 1 }), 'VALIDITY_TOO_LONG');
    await issue(office, holder, { issuedAt: now - 300, validUntil: now - 300 + 90 * DAY });
    // The root may change a type's maximum for later issuances.
    await submit({ type: 'doctype.register', docType: DOC, maxValidity: DAY, time: now }, root);
    await refused(issue(office, holder, { validUntil: now + 2 * DAY }), 'VALIDITY_TOO_LONG');
    await issue(office, holder, { validUntil: now + DAY });
    await submit({ type: 'doctype.register', docType: 'kr.gov.unregistered.type', maxValidity: DAY, time: now }, root);
    await issue(office, holder, { docType: 'kr.gov.unregistered.type', validUntil: now + DAY });
    await refused(submit({ type: 'doctype.register', docType: 'kr.gov.other', maxValidity: DAY, time: now }, office.seed), 'BAD_SIGNATURE');
  });

  it('lets the root or a named successor revoke a retired issuer’s certificates, and nobody else', async () => {
    const office = key();
    const successor = key();
    const rival = key();
    const holder = key();
    await register(office);
    await register(rival);
    const a = await issue(office, holder);
    const b = await issue(office, holder);
    const c = await issue(office, holder);
    const revoke = (id: Uint8Array, by: Key) => submit({ type: 'cert.revoke', id, revoker: by.pub, reason: `r${tick++}`, time: now }, by.seed);
    const rootKey: Key = { seed: root, pub: ed25519PublicKey(root) };
    await refused(revoke(a.id, rootKey), 'NOT_ISSUER'); // the issuer is active: only it
    const succeed = (by = root) => submit({ type: 'issuer.succeed', issuer: office.pub, successor: successor.pub, time: now + (tick++ % 100) }, by);
    await refused(succeed(), 'ISSUER_NOT_RETIRED');
    await submit({ type: 'issuer.retire', issuer: office.pub, time: now }, root);
    await refused(succeed(), 'UNKNOWN_ISSUER'); // the successor is not registered
    await register(successor);
    await refused(succeed(office.seed), 'BAD_SIGNATURE');
    await refused(revoke(a.id, successor), 'NOT_ISSUER'); // not named yet
    await succeed();
    await refused(succeed(), 'CONFLICT');
    await refused(revoke(a.id, office), 'ISSUER_RETIRED');
    await refused(revoke(a.id, rival), 'NOT_ISSUER');
    await revoke(a.id, successor);
    await revoke(b.id, rootKey);
    await refused(revoke(b.id, successor), 'CERT_REVOKED');
    // A successor retired in turn revokes no more; the root still does.
    await submit({ type: 'issuer.retire', issuer: successor.pub, time: now + 1 }, root);
    await refused(revoke(c.id, successor), 'ISSUER_RETIRED');
    await revoke(c.id, rootKey);
  });

  it('marks a retired issuer compromised from an index: its later issuances stop, c only goes down', async () => {
    const office = key();
    const holder = key();
    await register(office);
    const before = await issue(office, holder);
    const at = await issue(office, holder);
    const after = await issue(office, holder);
    const compromise = (from: number) => submit({ type: 'issuer.compromise', issuer: office.pub, from, time: now + (tick++ % 100) }, root);
    await refused(compromise(at.receipt.index), 'ISSUER_NOT_RETIRED');
    const retired = await submit({ type: 'issuer.retire', issuer: office.pub, time: now }, root);
    await refused(compromise(retired.index + 1), 'BAD_COMPROMISE'); // after the retirement
    await compromise(after.receipt.index);
    await refused(compromise(after.receipt.index), 'BAD_COMPROMISE'); // not lower
    await refused(compromise(after.receipt.index + 1), 'BAD_COMPROMISE'); // raising it
    await compromise(at.receipt.index);
    await refused(transfer(at.id, at.leaf, holder, null, key()).done, 'ISSUER_COMPROMISED');
    await refused(transfer(after.id, after.leaf, holder, null, key()).done, 'ISSUER_COMPROMISED');
    await transfer(before.id, before.leaf, holder, null, key()).done; // issued before c: still valid
    expect((await t.ledger.certificateState(at.id))?.state).toBe('compromised');
    expect((await t.ledger.certificateState(after.id))?.state).toBe('compromised');
    expect((await t.ledger.certificateState(before.id))?.state).toBe('active');
    // A revocation is still admitted (by the root: the issuer is retired).
    await submit({ type: 'cert.revoke', id: at.id, revoker: ed25519PublicKey(root), reason: '', time: now }, root);
    expect((await t.ledger.certificateState(at.id))?.state).toBe('revoked');
  });

  it('keeps a certificate’s record and status the same size however many copies are made; the issuer still revokes', async () => {
    const office = key();
    const holder = key();
    await register(office);
    const c = await issue(office, holder);
    const { certKey } = await import('../../src/ledger/rules.js');
    const recordSize = async () => (await t.ledger.store.readState([certKey(c.id)]))[0]!.length;
    const size0 = await recordSize();
    const bytes = (st: Awaited<ReturnType<typeof t.ledger.certificateStatus>>) =>
      st!.statement.length + st!.checkpoint.length + [...st!.events, ...st!.issuer].reduce((n, e) => n + e.entry.length + 32 * e.proof.length, 0);
    await Promise.all(Array.from({ length: 300 }, () => transfer(c.id, c.leaf, holder, null, holder).done));
    expect(await recordSize()).toBe(size0);
    const status1 = await t.ledger.certificateStatus(c.id);
    expect(status1!.events).toHaveLength(1);
    expect(bytes(status1)).toBeLessThan(4096); // spec §8.7: at most 16 KiB as JSON, whatever the history
    await submit({ type: 'cert.revoke', id: c.id, revoker: office.pub, reason: 'reissued', time: now }, office.seed);
    const status2 = await t.ledger.certificateStatus(c.id);
    expect(status2!.state).toBe('revoked');
    expect(status2!.events).toHaveLength(2);
  });

  it('refuses the 65th transfer of a chain (a presentation carries at most 64)', async () => {
    const office = key();
    await register(office);
    let holder = key();
    const c = await issue(office, holder);
    let parent = c.leaf;
    let salt: Uint8Array | null = null;
    for (let i = 0; i < 64; i++) {
      const next = key();
      const tr = transfer(c.id, parent, holder, salt, next);
      await tr.done;
      [holder, parent, salt] = [next, tr.leaf, tr.salt];
    }
    await refused(transfer(c.id, parent, holder, salt, key()).done, 'CHAIN_TOO_LONG');
  });
});

describe('the revocation reserve (spec §8.2)', () => {
  it('takes an entitled revocation beyond a full write queue, up to its share, and no other write', async () => {
    const at = 1_800_000_000;
    let hold: Promise<void> | undefined;
    let release = () => {};
    const l = await makeLedger(
      {
        clock: () => at * 1000,
        docTypes: [{ docType: DOC, maxValidity: 90 * DAY }],
        sequencer: { maxQueue: 8, maxBatch: 4 },
        // Holds every batch while `hold` is set: the queue behind it fills and stays full.
        admit: async (entries) => {
          await hold;
          return entries.map(() => undefined);
        },
      },
      'example.com/reserve',
    );
    try {
      const rootSeed = (await loadKeys(l.dir)).root!.seed;
      const office = key();
      const rival = key();
      const holder = key();
      const put = (e: CertEvent, seed: Uint8Array) => l.ledger.append(encodeEvent(e, seed));
      await put({ type: 'issuer.register', issuer: office.pub, name: 'Office', docTypes: [DOC], time: at }, rootSeed);
      await put({ type: 'issuer.register', issuer: rival.pub, name: 'Rival', docTypes: [DOC], time: at }, rootSeed);
      const certs: { id: Uint8Array; leaf: Uint8Array }[] = [];
      for (let i = 0; i < 18; i++) {
        const id = newCertId();
        const bytes = encodeEvent({ type: 'cert.issue', id, docType: DOC, issuer: office.pub, holder: holder.pub, commitment: randomBytes(32), issuedAt: at, validUntil: at + DAY, time: at }, office.seed);
        await l.ledger.append(bytes);
        certs.push({ id, leaf: leafHash(bytes) });
      }
      hold = new Promise((r) => (release = r));
      const settle = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));
      const copy = () => settle(put({ type: 'cert.transfer', id: certs[0].id, parent: certs[0].leaf, sender: holder.pub, senderSalt: null, recipient: randomBytes(32), nonce: newNonce(), time: at }, holder.seed));
      // Fill the queue with a holder's copies until the log says it is full.
      const flood: Promise<string>[] = [];
      for (let i = 0; i < 40; i++) flood.push(copy());
      await new Promise((r) => setTimeout(r, 300));
      expect(await copy()).toBe('OVERLOADED');
      const revoke = (id: Uint8Array, by: Key) => settle(put({ type: 'cert.revoke', id, revoker: by.pub, reason: 'lost', time: at }, by.seed));
      expect(await revoke(certs[1].id, rival)).toBe('OVERLOADED'); // signed, but not entitled: no reserved place
      // The issuer's revocations wait beyond the full queue, at most 16 at once.
      const mine = certs.slice(1, 17).map((c) => revoke(c.id, office));
      await new Promise((r) => setTimeout(r, 300));
      expect(await revoke(certs[17].id, office)).toBe('OVERLOADED');
      // The same bytes again take no second place (a replay cannot fill the reserve).
      expect(await revoke(certs[1].id, office)).toBe('OVERLOADED');
      release();
      hold = undefined;
      expect(await Promise.all(mine)).toEqual(mine.map(() => 'ok'));
      expect(await revoke(certs[17].id, office)).toBe('ok');
      for (const c of certs.slice(1)) expect((await l.ledger.certificateState(c.id))?.state).toBe('revoked');
      expect((await Promise.all(flood)).filter((x) => x === 'OVERLOADED').length).toBeGreaterThan(0);
    } finally {
      release();
      await l.cleanup();
    }
  });

  it('takes no reserved place for a revocation replayed from the log, and checks an entitled one itself when the signature workers are full', async () => {
    const at = 1_800_000_000;
    let hold: Promise<void> | undefined;
    let release = () => {};
    const l = await makeLedger(
      {
        clock: () => at * 1000,
        docTypes: [{ docType: DOC, maxValidity: 90 * DAY }],
        sequencer: { maxQueue: 4, maxBatch: 2 },
        verifyThreads: 1,
        admit: async (entries) => {
          await hold;
          return entries.map(() => undefined);
        },
      },
      'example.com/reserve-replay',
    );
    try {
      const rootSeed = (await loadKeys(l.dir)).root!.seed;
      const office = key();
      const holder = key();
      const put = (bytes: Uint8Array) => l.ledger.append(bytes).then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));
      await put(encodeEvent({ type: 'issuer.register', issuer: office.pub, name: 'Office', docTypes: [DOC], time: at }, rootSeed));
      const ids: Uint8Array[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push(newCertId());
        await put(encodeEvent({ type: 'cert.issue', id: ids[i], docType: DOC, issuer: office.pub, holder: holder.pub, commitment: randomBytes(32), issuedAt: at, validUntil: at + DAY, time: at }, office.seed));
      }
      const revocation = (id: Uint8Array) => encodeEvent({ type: 'cert.revoke', id, revoker: office.pub, reason: 'lost', time: at }, office.seed);
      const old = revocation(ids[0]);
      expect(await put(old)).toBe('ok');
      hold = new Promise((r) => (release = r));
      const flood = Array.from({ length: 12 }, () => put(encodeEvent({ type: 'cert.issue', id: newCertId(), docType: DOC, issuer: office.pub, holder: holder.pub, commitment: randomBytes(32), issuedAt: at, validUntil: at + DAY, time: at }, office.seed)));
      await new Promise((r) => setTimeout(r, 300));
      expect(await put(old)).toBe('OVERLOADED'); // already revoked: no reserved place
      // The signature workers full too (65,536 checks waiting): an entitled revocation is still taken.
      const message = new Uint8Array(32);
      const sig = { publicKey: office.pub, message, signature: signEd25519(office.seed, message) }; // a real check each
      const busy = l.ledger.verifySignatures(Array.from({ length: 65_536 }, () => sig)).catch((e: { code?: string }) => e.code);
      expect(await put(encodeEvent({ type: 'cert.transfer', id: ids[1], parent: randomBytes(32), sender: holder.pub, senderSalt: null, recipient: randomBytes(32), nonce: newNonce(), time: at }, holder.seed))).toBe('OVERLOADED');
      const fresh = put(revocation(ids[1]));
      const forged = revocation(ids[2]);
      forged[20] ^= 1;
      expect(await put(forged)).toBe('BAD_SIGNATURE'); // checked in the process, and refused
      release();
      hold = undefined;
      expect(await fresh).toBe('ok');
      const checked = await busy;
      expect(Array.isArray(checked) && checked.length).toBe(65_536); // the pool took them all: it was full
      await Promise.all(flood);
      expect((await l.ledger.certificateState(ids[1]))?.state).toBe('revoked');
      expect((await l.ledger.certificateState(ids[2]))?.state).toBe('active');
    } finally {
      release();
      await l.cleanup();
    }
  });
});
