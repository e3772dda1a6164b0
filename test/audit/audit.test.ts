import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { makeLedger, entry, copyLedger, type TestLedger, TEST_DOC_TYPES } from '../helpers/ledger.js';
import { createApp } from '../../src/api/app.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { FileGuard } from '../../src/ledger/guard.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { audit, AuditFailure, type AuditSource } from '../../src/audit/audit.js';
import { dataSource, urlSource } from '../../src/audit/sources.js';
import pg from 'pg';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { encodeEvent, newCertId, newNonce, newSalt, recipientCommitment } from '../../src/core/events.js';
import { withBrokenSignature } from '../helpers/vectors.js';
import { RogueLog } from '../helpers/rogue-log.js';
import { leafHash } from '../../src/core/merkle.js';
import { toHex } from '../../src/core/bytes.js';

// The auditor (src/audit) on a real ledger: through the storage layer (--data) and the
// public read API (--url); tampered records, a tampered served bundle, and a fork.

const DOC = 'kr.gov.resident-registration.copy';
let t: TestLedger;
let size: number;
let certId: Uint8Array;
const dirs: string[] = [];

async function fill(l: Ledger, root: Uint8Array, n: number): Promise<Uint8Array> {
  const now = () => Math.floor(Date.now() / 1000);
  const office = randomBytes(32);
  const holder = randomBytes(32);
  await l.append(encodeEvent({ type: 'issuer.register', issuer: ed25519PublicKey(office), name: 'Audit Office', docTypes: [DOC], time: now() }, root));
  const id = newCertId();
  const issue = encodeEvent({ type: 'cert.issue', id, docType: DOC, issuer: ed25519PublicKey(office), holder: ed25519PublicKey(holder), commitment: randomBytes(32), issuedAt: now(), validUntil: now() + 86_400, time: now() }, office);
  await l.append(issue);
  const salt = newSalt();
  await l.append(encodeEvent({ type: 'cert.transfer', id, parent: leafHash(issue), sender: ed25519PublicKey(holder), senderSalt: null, recipient: recipientCommitment(salt, ed25519PublicKey(randomBytes(32))), nonce: newNonce(), time: now() }, holder));
  // Bench records in concurrent batches, and more certificates.
  await Promise.all(Array.from({ length: n }, (_, i) => l.append(entry(i))));
  for (let i = 0; i < 5; i++) {
    await l.append(encodeEvent({ type: 'cert.issue', id: newCertId(), docType: DOC, issuer: ed25519PublicKey(office), holder: ed25519PublicKey(randomBytes(32)), commitment: randomBytes(32), issuedAt: now(), validUntil: now() + 86_400, time: now() }, office));
  }
  await l.append(encodeEvent({ type: 'cert.revoke', id, revoker: ed25519PublicKey(office), reason: 'audit test', time: now() }, office));
  // An issuer whose key was stolen: retired, compromised from its second issuance, a
  // successor named, one of its certificates revoked by the root (spec §5.7, §5.9).
  const stolen = randomBytes(32);
  const successor = randomBytes(32);
  await l.append(encodeEvent({ type: 'issuer.register', issuer: ed25519PublicKey(stolen), name: 'Stolen Office', docTypes: [DOC], time: now() }, root));
  await l.append(encodeEvent({ type: 'issuer.register', issuer: ed25519PublicKey(successor), name: 'Successor Office', docTypes: [DOC], time: now() }, root));
  const ids: Uint8Array[] = [];
  const at: number[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push(newCertId());
    at.push((await l.append(encodeEvent({ type: 'cert.issue', id: ids[i], docType: DOC, issuer: ed25519PublicKey(stolen), holder: ed25519PublicKey(randomBytes(32)), commitment: randomBytes(32), issuedAt: now(), validUntil: now() + 86_400, time: now() }, stolen))).index);
  }
  await l.append(encodeEvent({ type: 'issuer.retire', issuer: ed25519PublicKey(stolen), time: now() }, root));
  await l.append(encodeEvent({ type: 'issuer.succeed', issuer: ed25519PublicKey(stolen), successor: ed25519PublicKey(successor), time: now() }, root));
  await l.append(encodeEvent({ type: 'issuer.compromise', issuer: ed25519PublicKey(stolen), from: at[2], time: now() }, root));
  await l.append(encodeEvent({ type: 'issuer.compromise', issuer: ed25519PublicKey(stolen), from: at[1], time: now() }, root));
  await l.append(encodeEvent({ type: 'cert.revoke', id: ids[2], revoker: ed25519PublicKey(root), reason: 'forged', time: now() }, root));
  compromised = ids;
  return id;
}
let compromised: Uint8Array[] = [];

beforeAll(async () => {
  t = await makeLedger({ docTypes: TEST_DOC_TYPES });
  const keys = await loadKeys(t.dir);
  certId = await fill(t.ledger, keys.root!.seed, 700);
  size = t.ledger.head.size;
  await t.ledger.close();
});

afterAll(async () => {
  await t.cleanup();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function finding(src: AuditSource, opts: Parameters<typeof audit>[1] = {}): Promise<AuditFailure> {
  try {
    await audit(src, { threads: 0, ...opts });
  } catch (e) {
    if (e instanceof AuditFailure) return e;
    throw e;
  } finally {
    await src.close();
  }
  throw new Error('the audit passed');
}

describe('audit --data', () => {
  it('replays a sound ledger: every entry, checkpoint and stored hash', async () => {
    const src = await dataSource(t.dir, t.storeUrl);
    try {
      const r = await audit(src, { threads: 2 });
      expect(r.size).toBe(size);
      expect(r.entries).toBe(size);
      expect(r.checkpoints).toBeGreaterThan(3);
      expect(r.hashes).toBe(2 * size - popcount(size));
      expect(r.state.size).toBe(size);
    } finally {
      await src.close();
    }
  });

  it('names the record for random single-byte changes to entries, stored hashes and checkpoints', async () => {
    const store = rawRecords(t);
    const records = await store.list();
    let caught = 0;
    for (let round = 0; round < 36; round++) {
      const kind = (['entry', 'hash', 'checkpoint'] as const)[round % 3];
      const pool = records.filter((r) => r.kind === kind);
      const r = pool[Math.floor(Math.random() * pool.length)];
      const at = Math.floor(Math.random() * r.value.length);
      const changed = Uint8Array.from(r.value);
      changed[at] ^= 1 + Math.floor(Math.random() * 255);
      await store.put(r, changed);
      try {
        const f = await finding(await dataSource(t.dir, t.storeUrl));
        const where = kind === 'entry' ? `entry ${r.n}` : kind === 'hash' ? `stored hash ${r.n} ` : `checkpoint ${r.n}`;
        expect(`${f.where} `, `${f.message} (changed ${kind} ${r.n} at byte ${at})`).toContain(where);
        caught++;
      } finally {
        await store.put(r, r.value);
      }
    }
    expect(caught).toBe(36);
    // Restored: sound again.
    const src = await dataSource(t.dir, t.storeUrl);
    await expect(audit(src, { threads: 0 }).finally(() => src.close())).resolves.toMatchObject({ size });
  });

});

describe('audit --url', () => {
  let server: Server;
  let base: string;
  let ledger: Ledger;

  beforeAll(async () => {
    ledger = await t.reopen();
    server = createServer(createApp({ ledger }).callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await ledger.close();
  });

  it('replays the served log, tiles included, and checks a served status answer', async () => {
    const status = await (await fetch(`${base}/v1/certificates/${toHex(certId)}`)).json();
    const r = await audit(urlSource(base), { threads: 0, statuses: [status] });
    expect(r.size).toBe(ledger.head.size);
    expect(r.hashes).toBeGreaterThan(size);
    expect(r.statuses).toBe(1);
    // A status answer that hides the revocation, signed by the status key: caught by the replay.
    const keys = await loadKeys(t.dir);
    const { signNote, ed25519Signer, parseNote } = await import('../../src/core/note.js');
    const text = parseNote(new TextEncoder().encode(status.statement)).text;
    const lines = text.split('\n');
    const ev = lines.findIndex((l: string) => l.startsWith('events '));
    lines[ev] = lines[ev].split(' ').slice(0, -1).join(' ');
    const st = lines.findIndex((l: string) => l.startsWith('state '));
    lines[st] = 'state active';
    const lie = { ...status, statement: new TextDecoder().decode(signNote(lines.join('\n'), [ed25519Signer(keys.status.name, keys.status.seed)])), events: status.events.slice(0, -1) };
    const f = await finding(urlSource(base), { statuses: [lie] });
    expect(f.where).toBe('status answer 1');
    expect(f.code).toBe('INCONSISTENT');
  });

  it('replays succession, compromise and a root revocation, and says what each status answer is', async () => {
    const answers = await Promise.all(compromised.map(async (id) => (await fetch(`${base}/v1/certificates/${toHex(id)}`)).json()));
    const r = await audit(urlSource(base), { threads: 0, statuses: answers });
    expect(r.certificates.map((c) => c.state)).toEqual(['active', 'compromised', 'revoked']);
    expect(r.certificates.map((c) => c.id)).toEqual(compromised.map(toHex));
    // The status key saying "active" of a compromised certificate, without the compromise: caught.
    const keys = await loadKeys(t.dir);
    const { signNote, ed25519Signer, parseNote } = await import('../../src/core/note.js');
    const lines = parseNote(new TextEncoder().encode(answers[1].statement)).text.split('\n');
    const st = lines.findIndex((l: string) => l.startsWith('state '));
    lines[st] = 'state active';
    const is = lines.findIndex((l: string) => l.startsWith('issuer '));
    lines[is] = lines[is].split(' ').slice(0, -1).join(' ');
    const lie = { ...answers[1], statement: new TextDecoder().decode(signNote(lines.join('\n'), [ed25519Signer(keys.status.name, keys.status.seed)])), issuer: answers[1].issuer.slice(0, -1) };
    const f = await finding(urlSource(base), { statuses: [lie] });
    expect([f.where, f.code]).toEqual(['status answer 1', 'INCONSISTENT']);
  });

  it('checks checkpoints seen elsewhere by a consistency proof, and reports one the log does not extend', async () => {
    // Checkpoints the log's own keys signed for sizes its history does not hold: the
    // true tree of that size, and another one (a fork shown to someone else).
    const keys = await loadKeys(t.dir);
    const { formatCheckpoint } = await import('../../src/core/checkpoint.js');
    const { cosignatureSigner } = await import('../../src/core/cosignature.js');
    const { signNote, ed25519Signer } = await import('../../src/core/note.js');
    const history = new Set((await ledger.checkpoints(0, 1000)).map((c) => c.size));
    let s = 2;
    while (history.has(s)) s++;
    const sign = (root: Uint8Array) =>
      signNote(formatCheckpoint({ origin: ledger.origin, size: s, root, extensions: [] }), [ed25519Signer(keys.log.name, keys.log.seed), cosignatureSigner(keys.timestamp.name, keys.timestamp.seed, () => Math.floor(Date.now() / 1000))]);
    const r = await audit(urlSource(base), { threads: 0, checkpoints: [sign(await ledger.rootAt(s))] });
    expect(r.given).toBe(1);
    const f = await finding(urlSource(base), { checkpoints: [sign(randomBytes(32))] });
    expect(f.where).toBe('given checkpoint 1');
    expect(f.code).toBe('INCONSISTENT');
    expect(f.evidence).toHaveLength(2);
  });

  it('resumes over HTTP, carrying the last tile\'s leaves and the upper tile hashes, and checks a tile that spans both runs', async () => {
    const first = await audit(urlSource(base), { threads: 0 });
    expect(first.size % 256).not.toBe(0);
    await Promise.all(Array.from({ length: 300 }, (_, i) => ledger.append(entry(50_000 + i))));
    const again = await audit(urlSource(base), { threads: 0, resume: first.state });
    expect(again.resumedFrom).toBe(first.size);
    expect(again.entries).toBe(again.size - first.size);
    // A proxy that alters one hash of the level-0 tile holding the first run's last leaves.
    const spanning = Math.floor(first.size / 256);
    const path = `/tile/0/${String(spanning).padStart(3, '0')}`;
    const proxy = createServer(async (req, res) => {
      const up = await fetch(base + req.url!);
      const body = new Uint8Array(await up.arrayBuffer());
      if (req.url === path) body[5] ^= 1;
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' });
      res.end(body);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    try {
      const f = await finding(urlSource(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`), { resume: first.state });
      expect([f.where, f.code]).toEqual([`tile 0/${spanning}`, 'STATE_MISMATCH']);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it('catches one entry altered in its served entry bundle', async () => {
    const victim = 300;
    const tileIndex = Math.floor(victim / 256);
    const proxy = createServer(async (req, res) => {
      const up = await fetch(base + req.url!);
      let body = new Uint8Array(await up.arrayBuffer());
      if (req.url!.startsWith(`/tile/entries/${String(tileIndex).padStart(3, '0')}`)) {
        const { decodeEntryBundle, encodeEntryBundle } = await import('../../src/core/tiles.js');
        const es = decodeEntryBundle(body);
        const e = es[victim % 256].slice();
        e[e.length - 1] ^= 1;
        es[victim % 256] = e;
        body = encodeEntryBundle(es);
      }
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' });
      res.end(body);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    try {
      const f = await finding(urlSource(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`));
      expect(f.where).toMatch(new RegExp(`^(entry ${victim}|checkpoint \\d+|tile 0/${tileIndex})$`));
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});

describe("what only a rogue operator's log holds", () => {
  // Signed, anchored and consistent, but against the rules: the replay must catch it.
  const T = 1_800_000_000;
  function rogue() {
    const log = new RogueLog('example.com/rogue-audit', T);
    log.add(encodeEvent({ type: 'doctype.register', docType: DOC, maxValidity: 90 * 86_400, time: T }, log.seeds.root));
    const issuer = randomBytes(32);
    log.add(encodeEvent({ type: 'issuer.register', issuer: ed25519PublicKey(issuer), name: 'Rogue Office', docTypes: [DOC], time: T }, log.seeds.root));
    const holder = randomBytes(32);
    const id = newCertId();
    const issue = encodeEvent({ type: 'cert.issue', id, docType: DOC, issuer: ed25519PublicKey(issuer), holder: ed25519PublicKey(holder), commitment: randomBytes(32), issuedAt: T, validUntil: T + 86_400, time: T }, issuer);
    log.add(issue);
    log.seal();
    return { log, issuer, holder, id, issue };
  }

  it('a sound rogue log (the baseline) passes', async () => {
    const { log } = rogue();
    const r = await audit(log.source(), { threads: 0 });
    expect(r.size).toBe(4);
  });

  it('names a transfer by a non-holder, signed and anchored', async () => {
    const { log, id, issue } = rogue();
    const thief = randomBytes(32);
    const at = log.add(encodeEvent({ type: 'cert.transfer', id, parent: leafHash(issue), sender: ed25519PublicKey(thief), senderSalt: null, recipient: randomBytes(32), nonce: newNonce(), time: T }, thief));
    log.seal();
    const f = await finding(log.source());
    expect([f.where, f.code]).toEqual([`entry ${at}`, 'NOT_HOLDER']);
  });

  it('reports the first problem in log order: a rule broken in one batch before a bad signature in a later one', async () => {
    const { log, id, issue, issuer } = rogue();
    const thief = randomBytes(32);
    const broken = log.add(encodeEvent({ type: 'cert.transfer', id, parent: leafHash(issue), sender: ed25519PublicKey(thief), senderSalt: null, recipient: randomBytes(32), nonce: newNonce(), time: T }, thief));
    log.seal();
    const forged = log.add(withBrokenSignature(encodeEvent({ type: 'cert.revoke', id, revoker: ed25519PublicKey(issuer), reason: '', time: T }, issuer), 7));
    log.seal(T + 1);
    const f = await finding(log.source());
    expect([f.where, f.code]).toEqual([`entry ${broken}`, 'NOT_HOLDER']);
    // Each alone is caught where it is.
    const { log: l2, id: id2, issuer: i2 } = rogue();
    const at = l2.add(withBrokenSignature(encodeEvent({ type: 'cert.revoke', id: id2, revoker: ed25519PublicKey(i2), reason: '', time: T }, i2), 7));
    l2.seal();
    const g = await finding(l2.source());
    expect([g.where, g.code]).toEqual([`entry ${at}`, 'BAD_SIGNATURE']);
    expect(forged).toBeGreaterThan(broken);
  });

  it('names a checkpoint whose time goes back', async () => {
    const { log, issuer } = rogue();
    log.add(encodeEvent({ type: 'cert.issue', id: newCertId(), docType: DOC, issuer: ed25519PublicKey(issuer), holder: ed25519PublicKey(randomBytes(32)), commitment: randomBytes(32), issuedAt: T, validUntil: T + 86_400, time: T }, issuer));
    log.seal(T - 10);
    const f = await finding(log.source());
    expect([f.where, f.code]).toEqual([`checkpoint ${log.entries.length}`, 'INCONSISTENT']);
  });
});

describe('split views', () => {
  it('two forked copies of one ledger: the second is caught against what the first showed', async () => {
    // Each copy: the directory, and DIR/db or a database made from the ledger's as a template.
    const fa = await copyLedger(t, await mkdtemp(join(tmpdir(), 'dojang-fork-a-')));
    const fb = await copyLedger(t, await mkdtemp(join(tmpdir(), 'dojang-fork-b-')));
    dirs.push(fa.dir, fb.dir);
    const copies = new Map([[fa.dir, fa], [fb.dir, fb]]);
    const a = fa.dir;
    const b = fb.dir;
    const source = (dir: string) => dataSource(dir, copies.get(dir)!.url);
    const open = async (dir: string) => {
      const s = copies.get(dir)!.store();
      await s.open();
      return Ledger.open({ store: s, keys: await loadKeys(dir), guard: FileGuard.inDir(dir) });
    };
    const la = await open(a);
    await Promise.all(Array.from({ length: 20 }, (_, i) => la.append(entry(10_000 + i))));
    await la.close();
    const lb = await open(b);
    await Promise.all(Array.from({ length: 40 }, (_, i) => lb.append(entry(20_000 + i))));
    await lb.close();
    const first = await source(a);
    const ra = await audit(first, { threads: 0 }).finally(() => first.close());
    // B alone is a sound log; against what A showed, it is a fork.
    const alone = await source(b);
    await audit(alone, { threads: 0 }).finally(() => alone.close());
    const f = await finding(await source(b), { resume: ra.state });
    expect(f.code).toBe('INCONSISTENT');
    expect(f.evidence.length).toBeGreaterThanOrEqual(1);
    expect(f.evidence.join('\n')).toContain(t.ledger.origin);
    // The other way round: B seen first, then A, which is shorter than what B showed.
    const second = await source(b);
    const rb = await audit(second, { threads: 0 }).finally(() => second.close());
    const g = await finding(await source(a), { resume: rb.state });
    expect(g.code).toBe('INCONSISTENT');
    expect(g.evidence.length).toBeGreaterThanOrEqual(1);
    // Given A's latest checkpoint (say, from a receipt a wallet holds), an audit of B
    // alone finds the split view; B's own older checkpoint is consistent.
    const headOf = async (dir: string) => {
      const st = copies.get(dir)!.store();
      await st.open();
      try {
        return { head: (await st.readHead())!.checkpoint, old: (await st.readCheckpoints(size - 5, 1))[0].checkpoint };
      } finally {
        await st.close();
      }
    };
    const ha = await headOf(a);
    const hb = await headOf(b);
    const split = await finding(await source(b), { checkpoints: [hb.old, ha.head] });
    expect(split.where).toBe('given checkpoint 2');
    expect(split.code).toBe('INCONSISTENT');
    expect(split.evidence[0]).toBe(new TextDecoder().decode(ha.head));
    const fine = await source(b);
    const rf = await audit(fine, { threads: 0, checkpoints: [hb.old, ha.old] }).finally(() => fine.close());
    expect(rf.given).toBe(2);
    // And a copy that only grew resumes from where the first audit stopped.
    const la2 = await open(a);
    await Promise.all(Array.from({ length: 10 }, (_, i) => la2.append(entry(30_000 + i))));
    await la2.close();
    const again = await source(a);
    const r2 = await audit(again, { threads: 0, resume: ra.state }).finally(() => again.close());
    expect(r2.resumedFrom).toBe(ra.size);
    expect(r2.entries).toBe(r2.size - ra.size);
    await fa.drop();
    await fb.drop();
  });
});

function popcount(n: number): number {
  let c = 0;
  for (; n > 0; n = Math.floor(n / 2)) c += n % 2;
  return c;
}

/** A stored record of a closed ledger, read and written past the store (to tamper with it). */
interface RawRecord {
  kind: 'entry' | 'hash' | 'checkpoint';
  n: number;
  value: Uint8Array;
}

/** rawRecords reads and writes a closed ledger's entries, stored hashes and history checkpoints in LevelDB or PostgreSQL. */
function rawRecords(t: TestLedger): { list(): Promise<RawRecord[]>; put(r: RawRecord, v: Uint8Array): Promise<void> } {
  const url = t.storeUrl;
  if (url !== undefined) {
    const tables = { entry: ['dojang_entries', 'idx', 'entry'], hash: ['dojang_hashes', 'idx', 'hash'], checkpoint: ['dojang_checkpoints', 'size', 'checkpoint'] } as const;
    const withClient = async <T>(f: (c: pg.Client) => Promise<T>): Promise<T> => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return await f(c);
      } finally {
        await c.end();
      }
    };
    return {
      list: () =>
        withClient(async (c) => {
          const out: RawRecord[] = [];
          for (const [kind, [table, key, col]] of Object.entries(tables) as [RawRecord['kind'], readonly [string, string, string]][]) {
            for (const row of (await c.query(`select ${key} as n, ${col} as v from ${table}`)).rows) out.push({ kind, n: Number(row.n), value: new Uint8Array(row.v) });
          }
          return out;
        }),
      put: (r, v) =>
        withClient(async (c) => {
          const [table, key, col] = tables[r.kind];
          await c.query(`update ${table} set ${col} = $2 where ${key} = $1`, [r.n, Buffer.from(v)]);
        }),
    };
  }
  const prefix = { entry: 0x02, hash: 0x03, checkpoint: 0x05 } as const;
  const open = async () => {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(t.dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    return db;
  };
  const key = (r: RawRecord) => {
    const k = new Uint8Array(9);
    k[0] = prefix[r.kind];
    new DataView(k.buffer).setBigUint64(1, BigInt(r.n));
    return k;
  };
  return {
    async list() {
      const db = await open();
      const out: RawRecord[] = [];
      try {
        for await (const [k, v] of db.iterator()) {
          const kind = (Object.keys(prefix) as RawRecord['kind'][]).find((x) => prefix[x] === k[0]);
          if (kind !== undefined) out.push({ kind, n: Number(new DataView(k.buffer, k.byteOffset + 1, 8).getBigUint64(0)), value: Uint8Array.from(v) });
        }
      } finally {
        await db.close();
      }
      return out;
    },
    async put(r, v) {
      const db = await open();
      try {
        await db.put(key(r), v);
      } finally {
        await db.close();
      }
    },
  };
}

