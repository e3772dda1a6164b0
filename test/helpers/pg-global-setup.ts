import { startPostgres } from './postgres.js';

/**
 * The global setup of `npm run test:postgres`: one PostgreSQL server for the whole run
 * (from npm, or the one PG_URL names), its admin URL in PG_URL for every test worker.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const given = process.env.PG_URL;
  const server = await startPostgres();
  if (!given) process.env.PG_URL = server.adminUrl;
  process.env.DOJANG_TEST_STORE = 'postgres';
  return () => server.stop();
}
