import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { PostgresStore, SCHEMA_VERSION } from '../../src/storage/postgres.js';
import { LogBuilder, storeConformance } from './conformance.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { isLedgerError } from '../../src/core/errors.js';
import { storeOf } from '../../src/cli/serve.js';
import { WalletStore, postgresKv } from '../../src/storage/wallet-store.js';

let server: TestPostgres;

beforeAll(async () => {
  server = await startPostgres();
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

storeConformance('PostgresStore', async () => {
  const url = await server.database();
  const store = new PostgresStore(url);
  await store.open();
  return {
    store,
    reopen: async () => {
      const s = new PostgresStore(url);
      await s.open();
      return s;
    },
    cleanup: async () => {
      await store.close();
      await server.drop(url);
    },
  };
});

describe('PostgresStore (PostgreSQL only)', () => {
  it('is multi-process, and fences a second process by the head row', async () => {
    const url = await server.database();
    const a = new PostgresStore(url);
    const b = new PostgresStore(url);
    await Promise.all([a.open(), b.open()]); // migrations applied once, under the advisory lock
    expect(a.supports).toEqual({ multiProcess: true });
    const log = new LogBuilder(7);
    await log.append(a, 3);
    // b sees a's batch at once, and an append by b at a stale size is refused.
    expect((await b.readHead())?.size).toBe(3);
    const stale = log.batch(2); // a batch for the current size
    await log.append(a, 2);
    let code = '';
    try {
      await b.append(stale);
    } catch (e) {
      code = isLedgerError(e) ? e.code : String(e);
    }
    expect(code).toBe('CONFLICT');
    // Two appenders racing for the same size: exactly one wins.
    const next = log.batch(4);
    const results = await Promise.allSettled([a.append(next), b.append(next)]);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (isLedgerError((r as PromiseRejectedResult).reason) ? (r as PromiseRejectedResult).reason.code : 'other'))).toEqual(['CONFLICT']);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    expect((await c.query('select max(version) as v from dojang_schema')).rows[0].v).toBe(SCHEMA_VERSION);
    expect(Number((await c.query('select count(*) from dojang_schema')).rows[0].count)).toBe(SCHEMA_VERSION); // each migration once
    await c.end();
    await a.close();
    await b.close();
    await server.drop(url);
  });

  it('fences every writer but the last to claim, even at the current size (rule 12)', async () => {
    const url = await server.database();
    const [a, b, never] = [new PostgresStore(url), new PostgresStore(url), new PostgresStore(url)];
    await Promise.all([a.open(), b.open(), never.open()]);
    try {
      const log = new LogBuilder(11);
      await log.append(never, 2); // nobody claimed yet: term 0 is everyone's
      expect(await a.claim()).toBe(1);
      await expect(never.append(log.batch(1))).rejects.toMatchObject({ code: 'CONFLICT' });
      await log.append(a, 3);
      expect(await b.claim()).toBe(2);
      // a is deposed: its batch for the current size, and a re-cosignature, change nothing.
      const head = await b.readHead();
      await expect(a.append(log.batch(1))).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/claimed by another writer/) });
      await expect(a.putLatestCheckpoint(head!.size, head!.checkpoint)).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await b.readHead()).toEqual(head);
      await log.append(b, 1);
      expect((await a.readHead())?.size).toBe(6);
      // A claim survives the claimer: a new object in another "process" starts above it.
      const c = new PostgresStore(url);
      await c.open();
      expect(await c.claim()).toBe(3);
      await c.close();
    } finally {
      await Promise.all([a.close(), b.close(), never.close()]);
      await server.drop(url);
    }
  });

  it('lets one control session at a time hold the sequencer lock, and frees it when the session ends', async () => {
    const url = await server.database();
    const [a, b] = [new PostgresStore(url), new PostgresStore(url)];
    await Promise.all([a.open(), b.open()]);
    const lost: string[] = [];
    const quiet = { head() {}, queued() {}, settled() {} };
    const ca = a.coordinator();
    const cb = b.coordinator();
    await ca.start({ ...quiet, lost: (r) => lost.push(r) });
    await cb.start({ ...quiet, lost() {} });
    try {
      expect(await ca.tryLead()).toBe(true);
      expect(await cb.tryLead()).toBe(false);
      await ca.resign();
      expect(await cb.tryLead()).toBe(true);
      expect(await ca.tryLead()).toBe(false);
      // b's session is ended by the server (as when its process dies or its lease runs out): the lock is free.
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      const r = await admin.query("select pid from pg_locks where locktype = 'advisory' and granted and objid = $1", [Number(BigInt('0x646f6a616e67') + 1n) & 0xffffffff]);
      expect(r.rows.length).toBe(1);
      await admin.query('select pg_terminate_backend($1)', [r.rows[0].pid]);
      await admin.end();
      await expect.poll(() => ca.tryLead(), { timeout: 5000 }).toBe(true);
      expect(lost).toEqual([]);
    } finally {
      await ca.close();
      await cb.close();
      await Promise.all([a.close(), b.close()]);
      await server.drop(url);
    }
  });

  it('queues forwarded writes: taken once per term, answered by the term that took them, collected once', async () => {
    const url = await server.database();
    const [a, b, f] = [new PostgresStore(url), new PostgresStore(url), new PostgresStore(url)];
    await Promise.all([a.open(), b.open(), f.open()]);
    const [qa, qb, qf] = [a.coordinator(), b.coordinator(), f.coordinator()];
    let queued = 0;
    let settled = 0;
    const on = { head() {}, lost() {}, queued() {}, settled() {} };
    await qa.start({ ...on, queued: () => queued++ });
    await qf.start({ ...on, settled: () => settled++ });
    try {
      const e = (n: number) => new Uint8Array([n, n, n]);
      const ids = await qf.enqueue([{ entry: e(1), verified: true }, { entry: e(2), verified: false }, { entry: e(1), verified: true }]);
      expect(ids.length).toBe(3);
      expect(ids[0] < ids[1] && ids[1] < ids[2]).toBe(true);
      await expect.poll(() => queued).toBeGreaterThan(0);
      await expect(qa.take(10)).rejects.toMatchObject({ code: 'CONFLICT' }); // no claim, no take
      await a.claim();
      const first = await qa.take(2);
      expect(first.map((t) => t.id)).toEqual(ids.slice(0, 2));
      expect(first[1].write).toEqual({ entry: e(2), verified: false });
      expect((await qa.take(10)).map((t) => t.id)).toEqual([ids[2]]); // taken once per term
      expect(await qa.take(10)).toEqual([]);
      await qa.settle([{ id: ids[0], index: 7, duplicate: false, receipt: new Uint8Array([1, 2, 3]) }]);
      // b takes over: what a took and did not answer is b's now; a's late answers are ignored.
      await b.claim();
      expect((await qb.take(10)).map((t) => t.id)).toEqual([ids[1], ids[2]]);
      await qa.settle([{ id: ids[1], code: 'CONFLICT', message: 'stale' }]);
      await qb.settle([{ id: ids[1], code: 'UNSUPPORTED', message: 'no such type' }]);
      await qb.release([ids[2]]);
      expect((await qb.take(10)).map((t) => t.id)).toEqual([ids[2]]);
      await expect.poll(() => settled).toBeGreaterThan(0);
      const got = await qf.collect(ids);
      expect(got.sort((x, y) => x.id - y.id)).toEqual([
        { id: ids[0], index: 7, duplicate: false, receipt: new Uint8Array([1, 2, 3]) },
        { id: ids[1], code: 'UNSUPPORTED', message: 'no such type' },
      ]);
      expect(await qf.collect(ids)).toEqual([]); // collected once
      await qf.prune(0);
      expect(await qb.take(10)).toEqual([]); // pruned
    } finally {
      await Promise.all([qa.close(), qb.close(), qf.close()]);
      await Promise.all([a.close(), b.close(), f.close()]);
      await server.drop(url);
    }
  });

  it('keeps one personal data store for every process of the database: one event delivers once, a nonce is spent once', async () => {
    const url = await server.database();
    const [a, b] = [new WalletStore(postgresKv(url)), new WalletStore(postgresKv(url))];
    await Promise.all([a.open(), b.open()]);
    try {
      const now = 1_800_000_000;
      const w1 = new Uint8Array(32).fill(1);
      const w2 = new Uint8Array(32).fill(2);
      const item = (sealed: number) => ({ kind: 'issued' as const, id: new Uint8Array(16).fill(5), event: new Uint8Array(32).fill(6), validUntil: now + 100, sealed: new Uint8Array(64).fill(sealed) });
      const key = new Uint8Array(32).fill(9);
      // The same event deposited through both processes at once, to two wallets: exactly one wins.
      const results = await Promise.allSettled([
        a.accept(key, new Uint8Array(16).fill(1), now, () => a.depositOps(w1, item(7), now)),
        b.accept(key, new Uint8Array(16).fill(2), now, () => b.depositOps(w2, item(8), now)),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
      expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'CONFLICT' });
      const aWon = results[0].status === 'fulfilled';
      const [wallet, other, spent] = aWon ? [w1, b, 1] : [w2, a, 2];
      // What one process stored, the other lists.
      expect((await other.list(wallet, now)).length).toBe(1);
      // The winner's nonce is spent for both processes (the loser's, refused, is not).
      await expect(other.accept(key, new Uint8Array(16).fill(spent), now)).rejects.toMatchObject({ code: 'REPLAYED' });
      await other.accept(key, new Uint8Array(16).fill(3 - spent), now);
      // Sweeping through either removes the expired item for both.
      expect(await other.sweep(now + 100)).toBe(1);
      expect(await (aWon ? a : b).list(wallet, now)).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await server.drop(url);
    }
  });

  it('is what --store postgres://… selects; another URL is BAD_REQUEST', () => {
    expect(storeOf('/nowhere', 'postgres://u:p@127.0.0.1/db')).toBeInstanceOf(PostgresStore);
    expect(storeOf('/nowhere')).not.toBeInstanceOf(PostgresStore);
    expect(() => storeOf('/nowhere', 'mysql://u@h/db')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });

  it('refuses a database of a newer schema, and says UNAVAILABLE for one it cannot reach', async () => {
    const url = await server.database();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('create table dojang_schema (version integer not null); insert into dojang_schema values (99)');
    await c.end();
    const s = new PostgresStore(url);
    await expect(s.open()).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    const gone = new PostgresStore('postgres://nobody:x@127.0.0.1:1/none');
    await expect(gone.open()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(gone.readHead()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await server.drop(url);
  });
});
