// test-report.mjs: a vitest reporter that writes what a run planned and what it got as
// JSON to the file DOJANG_TEST_REPORT names (nothing without it), for
// scripts/check-test-report.mjs to judge. Unlike vitest's json reporter it keeps the
// run's unhandled errors (a worker that exited unexpectedly is one) and the files the run
// meant to run, so that a file that never reported can be told from one that passed.
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';

export default class TestReport {
  #planned = [];
  #root = process.cwd();

  onInit(vitest) {
    this.#root = vitest.config.root;
  }

  onTestRunStart(specifications) {
    this.#planned = specifications.map((s) => this.#name(s.project?.name, s.moduleId));
  }

  onTestRunEnd(testModules, unhandledErrors, reason) {
    const file = process.env.DOJANG_TEST_REPORT;
    if (!file) return;
    const modules = testModules.map((m) => {
      const tests = { passed: 0, failed: 0, skipped: 0, pending: 0 };
      for (const t of m.children.allTests()) tests[t.result().state] = (tests[t.result().state] ?? 0) + 1;
      return {
        file: this.#name(m.project?.name, m.moduleId),
        state: m.state(),
        errors: m.errors().map((e) => oneLine(e)),
        tests,
      };
    });
    const record = {
      reason,
      planned: [...new Set(this.#planned)].sort(),
      modules,
      unhandledErrors: unhandledErrors.map((e) => oneLine(e)),
    };
    writeFileSync(file, JSON.stringify(record, null, 1));
  }

  #name(project, moduleId) {
    const rel = relative(this.#root, moduleId);
    return project ? `${project}:${rel}` : rel;
  }
}

function oneLine(e) {
  const cause = e?.cause?.message ? ` (${e.cause.message})` : '';
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(e)}${cause}`.replace(/\s+/g, ' ').slice(0, 500);
}
