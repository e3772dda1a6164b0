import { defineConfig } from 'vitest/config';

// npm run test:postgres: the suite with every ledger's log in PostgreSQL (one server,
// from npm or PG_URL, started by the global setup; a fresh database per ledger).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/system/**'],
    globalSetup: ['test/helpers/pg-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
