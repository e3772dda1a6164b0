/**
 * Several ledgers on one PostgreSQL database (spec §8.4b), in one test process: each is
 * what one `dojang serve` process holds, with its own directory and the same keys. The
 * failover test with real processes, SIGKILL and SIGSTOP is scripts/failover-test.mjs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeys, loadKeys } from '../../src/ledger/keyfiles.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { FileGuard } from '../../src/ledger/guard.js';
import { PostgresStore } from '../../src/storage/postgres.js';
import { encodeEvent } from '../../src/core/events.js';
import { encodeCbor } from '../../src/core/cbor.js';
import { ed25519PublicKey, sha256 } from '../../src/core/crypto.js';
import { signEntry } from '../../src/core/entry.js';
import { storedHashCount, verifyConsistency } from '../../src/core/merkle.js';
import pg from 'pg';
import { isLedgerError } from '../../src/core/errors.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { entry } from '../helpers/ledger.js';

const ORIGIN = 'localhost/dojang-bench-cluster';
let server: TestPostgres;

beforeAll(async () => {
  server = await startPostgres();
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

interface Member {
  ledger: Ledger;
  dir: string;
  log: string[];
}

/** cluster makes a ledger in a fresh database and n processes' worth of ledgers on it (the first created it). */
async function cluster(n: number) {
  const url = await server.database();
  const base = await mkdtemp(join(tmpdir(), 'dojang-cluster-'));
  const keys = await createKeys(join(base, 'p0'), ORIGIN, true);
  const members: Member[] = [];
  const open = async (i: number): Promise<Member> => {
    const dir = join(base, `p${i}`);
    const log: string[] = [];
    const store = new PostgresStore(url);
    await store.open();
    const o = { store, keys, guard: FileGuard.inDir(dir), log: (m: string) => log.push(m) };
    const ledger = i === 0 && members.length === 0 ? await Ledger.create({ ...o, origin: ORIGIN }) : await Ledger.open(o);
    return { ledger, dir, log };
  };
  for (let i = 1; i < n; i++) await cp(join(base, 'p0', 'keys'), join(base, `p${i}`, 'keys'), { recursive: true });
  for (let i = 0; i < n; i++) members.push(await open(i));
  return {
    url,
    members,
    reopen: async (i: number) => (members[i] = await open(i)),
    root: (await loadKeys(join(base, 'p0'))).root!.seed,
    async cleanup() {
      for (const m of members) await m.ledger.close().catch(() => {});
      await rm(base, { recursive: true, force: true });
      await server.drop(url);
    },
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return isLedgerError(e) ? e.code : String(e);
  }
}

describe('a ledger shared by several processes (spec §8.4b)', () => {
  it('has one leader; a follower forwards writes and answers with the receipt the leader would give', async () => {
    const c = await cluster(2);
    try {
      const [a, b] = c.members.map((m) => m.ledger);
      expect(a.role.role).toBe('leader');
      expect(a.role.term).toBeGreaterThan(0);
      expect(b.role).toEqual({ role: 'follower', term: 0 });
      // A record that is not a certificate event: the leader admits it in full.
      const r = await b.append(entry(1));
      expect(r.duplicate).toBe(false);
      expect(b.head.size).toBeGreaterThan(r.index); // the follower already serves a head that covers it
      expect(await b.receipt(r.index, r)).toEqual(await a.receipt(r.index));
      // A follower whose served head has not caught up yet (just resumed from SIGSTOP, in
      // the failover test) still answers with the receipt the leader built, not NOT_FOUND.
      const built = await a.receipt(r.index);
      const ahead = b.head.size + 5;
      const leaders = { ...built, index: ahead };
      const answer = await b.receipt(ahead, { index: ahead, leafHash: built.leafHash, duplicate: false, encoded: encodeCbor({ ...leaders }) });
      expect(answer).toEqual(leaders);
      const again = await b.append(entry(1));
      expect(again).toMatchObject({ index: r.index, duplicate: true });
      // A certificate event the follower verified: the leader judges it by the rules.
      const issuerSeed = new Uint8Array(32).fill(7);
      const issuer = ed25519PublicKey(issuerSeed);
      const now = Math.floor(Date.now() / 1000);
      const reg = await b.append(encodeEvent({ type: 'issuer.register', issuer, name: 'cluster test', docTypes: ['dev.dojang.bench'], time: now }, c.root));
      expect(reg.duplicate).toBe(false);
      // Refusals come back with the leader's code, and change nothing.
      const stranger = new Uint8Array(32).fill(9);
      const id = new Uint8Array(16).fill(3);
      const bad = encodeEvent({ type: 'cert.issue', id, docType: 'dev.dojang.bench', issuer: ed25519PublicKey(stranger), holder: issuer, commitment: sha256(id), issuedAt: now, validUntil: now + 86_400, time: now }, stranger);
      const size = a.head.size;
      expect(await codeOf(b.append(bad))).toBe('UNKNOWN_ISSUER');
      expect(await codeOf(a.append(bad))).toBe('UNKNOWN_ISSUER');
      expect(await codeOf(b.append(signEntry('genesis', { x: 1 }, c.root)))).toBe('CONFLICT');
      expect(a.head.size).toBe(size);
      // Many at once, through both.
      const many = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).append(entry(100 + i))));
      expect(new Set(many.map((x) => x.index)).size).toBe(200);
      expect(Math.max(...many.map((x) => x.index))).toBeLessThan(a.head.size);
    } finally {
      await c.cleanup();
    }
  }, 60_000);

  it('when the leader leaves, another takes over within seconds, from where it left, with no fork', async () => {
    const c = await cluster(3);
    try {
      const [a] = c.members.map((m) => m.ledger);
      await a.append(entry(1));
      const before = a.head;
      await a.close();
      const others = c.members.slice(1);
      await expect.poll(() => others.filter((m) => m.ledger.role.role === 'leader').length, { timeout: 10_000, interval: 50 }).toBe(1);
      const next = others.find((m) => m.ledger.role.role === 'leader')!;
      const follower = others.find((m) => m !== next)!;
      expect(next.log.join('\n')).toMatch(new RegExp(`leading the log from size ${before.size} \\(term \\d+\\)`));
      const r = await follower.ledger.append(entry(2));
      expect(r.index).toBe(before.size);
      const head = next.ledger.head;
      verifyConsistency(before.size, head.size, await next.ledger.consistencyProof(before.size, head.size), before.root, head.root);
      // The old leader comes back as a follower.
      const back = await c.reopen(0);
      expect(back.ledger.role.role).toBe('follower');
      expect((await back.ledger.append(entry(3))).index).toBe(head.size);
    } finally {
      await c.cleanup();
    }
  }, 60_000);

  it('a leader whose log another writer claimed writes nothing more, steps down, and the log goes on', async () => {
    const c = await cluster(2);
    try {
      const [a, b] = c.members.map((m) => m.ledger);
      await a.append(entry(1));
      // Several idle rounds of the leader's chores first: once, a round that awaited
      // nothing left the chores stuck for good, and a deposed leader never stepped down.
      await new Promise((r) => setTimeout(r, 1600));
      const batches = a.appended.batches;
      const size = a.head.size;
      const rogue = new PostgresStore(c.url);
      await rogue.open();
      await rogue.claim(); // as a process that took over while this one was frozen
      await rogue.close();
      expect(await codeOf(a.append(entry(2)))).toBe('UNAVAILABLE');
      expect(a.appended.batches).toBe(batches);
      await expect.poll(() => c.members[0].log.join('\n'), { timeout: 5000 }).toMatch(/stepped down \(term \d+\): the sequencer stopped: .*claimed by another writer/);
      // Someone takes the lock again (with a new claim) and the write goes through either process.
      await expect.poll(() => codeOf(b.append(entry(2))), { timeout: 10_000, interval: 100 }).toBe('ok');
      const leader = [a, b].find((l) => l.role.role === 'leader')!;
      expect(leader.head.size).toBe(size + 1);
    } finally {
      await c.cleanup();
    }
  }, 60_000);

  it('a follower that finds the database rolled back behind what it served stops, and never takes over from it', async () => {
    const c = await cluster(2);
    try {
      const [a, b] = c.members.map((m) => m.ledger);
      await Promise.all(Array.from({ length: 10 }, (_, i) => a.append(entry(i))));
      const s1 = a.head.size;
      await Promise.all(Array.from({ length: 10 }, (_, i) => a.append(entry(100 + i))));
      await expect.poll(() => b.head.size, { timeout: 5000 }).toBe(a.head.size);
      const served = b.head;
      // Roll the database back to size s1 in place (as a restored backup, or a failover to a
      // replica that had not caught up), and take the leader away.
      const sql = new pg.Client({ connectionString: c.url });
      await sql.connect();
      await sql.query('begin');
      await sql.query('delete from dojang_entries where idx >= $1', [s1]);
      await sql.query('delete from dojang_hashes where idx >= $1', [storedHashCount(s1)]);
      await sql.query('delete from dojang_checkpoints where size > $1', [s1]);
      await sql.query('update dojang_head set size = $1, checkpoint = (select checkpoint from dojang_checkpoints where size = $1)', [s1]);
      await sql.query("select pg_notify('dojang_head', '')");
      await sql.query('commit');
      await sql.end();
      await a.close();
      await expect.poll(() => b.failure, { timeout: 5000 }).toMatch(/rolled back/);
      await new Promise((r) => setTimeout(r, 1500)); // several rounds in which it could have taken over
      expect(b.role.role).toBe('follower');
      expect(b.head).toEqual(served); // it keeps serving what it served
      expect(await codeOf(b.append(entry(999)))).toBe('STATE_MISMATCH');
      // The old leader, restarted, is refused too: its last-checkpoint file holds what it signed.
      await expect(c.reopen(0)).rejects.toMatchObject({ code: 'STATE_MISMATCH', message: expect.stringMatching(/rolled back/) });
    } finally {
      await c.cleanup();
    }
  }, 60_000);
});
