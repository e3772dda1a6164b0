#!/usr/bin/env node
// check-test-report.mjs: runs `vitest run ARG …` with the default reporter (unless ARGs
// name one) and scripts/test-report.mjs, then checks what the run reported: every test
// file the run planned (those its config and filters match) reported and passed or was
// skipped, no test failed or was left unfinished, no unhandled error (a worker that
// crashed or exited is one), the run was not interrupted, at least one test ran (not
// skipped), and vitest exited 0. Prints one line saying so, then `N passed, N failed,
// N skipped` (failed counts failed and unfinished tests, and each file that failed or
// never reported outside any test). Exits 0 only if all of it holds.
//
//   node scripts/check-test-report.mjs --config vitest.postgres.config.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const reporter = fileURLToPath(new URL('./test-report.mjs', import.meta.url));
const ownReporter = args.some((a) => a === '--reporter' || a.startsWith('--reporter='));
const dir = mkdtempSync(join(tmpdir(), 'dojang-test-report-'));
const file = join(dir, 'report.json');

const exit = await new Promise((resolve) => {
  const child = spawn(process.execPath, [vitest, 'run', ...(ownReporter ? [] : ['--reporter=default']), `--reporter=${reporter}`, ...args], {
    stdio: 'inherit',
    env: { ...process.env, DOJANG_TEST_REPORT: file },
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => resolve(code ?? signal));
  child.on('error', (e) => resolve(`not started (${e.message})`));
});

let record;
try {
  record = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  record = undefined;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const problems = [];
let passed = 0;
let failed = 0;
let skipped = 0;
let finished = 0;
if (record === undefined) {
  problems.push(`vitest wrote no report: the run did not end (vitest exit ${exit})`);
  failed += 1;
} else {
  if (record.reason !== 'passed') problems.push(`the run ended as ${record.reason}`);
  for (const e of record.unhandledErrors) problems.push(`unhandled error: ${e}`);
  const byFile = new Map(record.modules.map((m) => [m.file, m]));
  for (const f of record.planned) {
    if (!byFile.has(f)) {
      problems.push(`${f} never reported`);
      failed += 1;
    }
  }
  for (const m of record.modules) {
    const { tests } = m;
    passed += tests.passed;
    skipped += tests.skipped;
    failed += tests.failed + tests.pending;
    if (m.state === 'passed' || m.state === 'skipped') {
      finished += 1;
      continue;
    }
    const why = m.errors.length > 0 ? `: ${m.errors[0]}` : '';
    if (m.state === 'failed') problems.push(`${m.file} failed${why}`);
    else problems.push(`${m.file} never finished (${m.state}${tests.pending > 0 ? `, ${tests.pending} test(s) unfinished` : ''})${why}`);
    if (m.state === 'failed') finished += 1;
    if (tests.failed + tests.pending === 0) failed += 1;
  }
  if (passed + failed === 0) problems.push(`no test ran${skipped > 0 ? ` (${skipped} skipped)` : ''}`);
}
if (failed > 0 && problems.length === 0) problems.push(`${failed} test(s) failed or never finished`);
if (exit !== 0) problems.push(`vitest exited ${exit}`);

for (const p of problems.slice(0, 30)) console.log(`test report: ${p}`);
if (problems.length > 30) console.log(`test report: … and ${problems.length - 30} more`);
const files = record ? `${finished} of ${record.planned.length} test files reported` : 'no report';
console.log(problems.length === 0 ? `test report: OK: ${files}, no unhandled errors, vitest exit 0` : `test report: FAIL (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${files}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(problems.length === 0 ? 0 : typeof exit === 'number' && exit !== 0 ? exit : 1);
