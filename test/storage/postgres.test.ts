import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { PostgresStore, SCHEMA_VERSION } from '../../src/storage/postgres.js';
import { LogBuilder, storeConformance } from './conformance.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { isLedgerError } from '../../src/core/errors.js';
import { storeOf } from '../../src/cli/serve.js';

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
    expect(Number((await c.query('select count(*) from dojang_schema')).rows[0].count)).toBe(1);
    await c.end();
    await a.close();
    await b.close();
    await server.drop(url);
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
