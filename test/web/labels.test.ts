import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKS } from '../../src/client/verify.js';
import { CHECK_LABELS, formatAge, formatKst, labelOf, PROBLEM_LABELS, PROXY_REASON_LABELS, REASON_LABELS } from '../../src/web/labels.js';

// The verifier page's words (src/web/labels.ts) against the spec and the code that
// raises the codes.

const ROOT = join(__dirname, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

/** section returns the text of a spec section, from its heading to the next heading of any level ≤ 3. */
function section(spec: string, heading: string): string {
  const start = spec.indexOf(`\n${heading}`);
  if (start < 0) throw new Error(`docs/spec.md has no ${heading}`);
  const end = spec.slice(start + 1).search(/\n#{2,3} /);
  return spec.slice(start, end < 0 ? undefined : start + 1 + end);
}

describe('labels', () => {
  it('every reason code of spec §10.2, and nothing else, has a Korean and an English label', () => {
    const table = section(read('docs/spec.md'), '### 10.2 Verdict')
      .split('\n')
      .filter((l) => l.startsWith('| `'));
    const reasons = new Set(table.flatMap((row) => [...(row.split('|')[3] ?? '').matchAll(/`([A-Z_]+)`/g)].map((m) => m[1])));
    expect(reasons.size).toBeGreaterThanOrEqual(20);
    expect(new Set(Object.keys(REASON_LABELS))).toEqual(reasons);
    for (const l of Object.values(REASON_LABELS)) {
      expect(l.ko).toMatch(/[가-힣]/);
      expect(l.en).toMatch(/^[A-Z]/);
    }
  });

  it('every check and every refusal of the mask policy (spec §12.8) is labelled', () => {
    expect(Object.keys(CHECK_LABELS).sort()).toEqual([...CHECKS].sort());
    const refusals = [...section(read('docs/spec.md'), '### 12.8 The mask proxy purchase').matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]);
    expect(Object.keys(PROXY_REASON_LABELS).sort()).toEqual([...new Set(refusals)].sort());
  });

  it('every code the page can stop at is labelled: the decoder’s (spec §10.1) and the page’s own', () => {
    for (const code of ['MALFORMED', 'NON_CANONICAL', 'UNSUPPORTED', 'TOO_LARGE', 'UNAVAILABLE', 'INTERNAL']) expect(PROBLEM_LABELS, code).toHaveProperty(code);
    const raised = ['src/web/judge.ts', 'src/web/verify-page.ts'].flatMap((f) => [...read(f).matchAll(/new Unjudged\('([A-Z_]+)'/g)].map((m) => m[1]));
    expect(raised.length).toBeGreaterThan(5);
    for (const code of raised) expect(PROBLEM_LABELS, code).toHaveProperty(code);
    expect(labelOf(PROBLEM_LABELS, 'SOMETHING_NEW')).toEqual({ ko: 'SOMETHING_NEW', en: 'SOMETHING_NEW' });
    expect(labelOf(PROBLEM_LABELS, 'toString')).toEqual({ ko: 'toString', en: 'toString' }); // own keys only
  });

  it('writes times in Korea time and ages in whole units', () => {
    expect(formatKst(Date.UTC(2020, 2, 8, 15, 0, 0) / 1000)).toBe('2020-03-09 00:00:00 KST');
    expect(formatAge(42)).toEqual({ ko: '42초 전', en: '42 s ago' });
    expect(formatAge(3 * 60 + 5)).toEqual({ ko: '3분 전', en: '3 min ago' });
    expect(formatAge(2 * 86_400 + 5)).toEqual({ ko: '2일 전', en: '2 d ago' });
    expect(formatAge(-5)).toEqual({ ko: '0초 전', en: '0 s ago' });
  });
});
