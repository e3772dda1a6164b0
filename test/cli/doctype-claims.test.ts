import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { newClaim, type Claim } from '../../src/core/commitment.js';
import type { CborValue } from '../../src/core/cbor.js';
import { isLedgerError } from '../../src/core/errors.js';
import { checkIssuance, householdClaims, MAX_MEMBERS, RESIDENT_REGISTRATION_COPY, type HouseholdCopy } from '../../src/wallet/doctypes.js';
import { demoHousehold } from '../../src/cli/demo.js';

// checkIssuance (src/wallet/doctypes.ts), which `dojang issue` runs before
// it signs anything: the claims of a resident registration copy exactly as
// householdClaims makes them, and a validity of at most the type's 90 days (spec §12.7).

const DAY = 86_400;
const T = 1_800_000_000;
const claims = (pairs: [string, CborValue][]): Claim[] => pairs.map(([n, v]) => newClaim(n, v));
const copy = (): [string, CborValue][] => householdClaims(demoHousehold('2019-05-05'));

/** refusal returns the message of the BAD_REQUEST checkIssuance throws (fails if it does not). */
function refusal(pairs: [string, CborValue][], validity = 90 * DAY): string {
  try {
    checkIssuance(RESIDENT_REGISTRATION_COPY, claims(pairs), T, T + validity);
  } catch (e) {
    expect(isLedgerError(e) && e.code).toBe('BAD_REQUEST');
    return (e as Error).message;
  }
  throw new Error('checkIssuance accepted it');
}

const without = (pairs: [string, CborValue][], name: string) => pairs.filter(([n]) => n !== name);
const set = (pairs: [string, CborValue][], name: string, value: CborValue): [string, CborValue][] => pairs.map(([n, v]) => [n, n === name ? value : v]);

describe('checkIssuance', () => {
  it('accepts every copy householdClaims makes, for up to its 90 days', () => {
    const date = fc
      .tuple(fc.integer({ min: 1900, max: 2100 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }))
      .map(([y, m, d]) => new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10)); // a real date
    const text = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== '');
    const household = fc
      .array(fc.record({ name: text, relation: text, birthDate: date }), { minLength: 1, maxLength: MAX_MEMBERS })
      .chain((members) => fc.record({ address: text, head: text, applicant: fc.integer({ min: 1, max: members.length }), members: fc.constant(members) }));
    fc.assert(
      fc.property(household, fc.integer({ min: 1, max: 90 * DAY }), (h: HouseholdCopy, validity) => {
        checkIssuance(RESIDENT_REGISTRATION_COPY, claims(householdClaims(h)), T, T + validity);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses the issue's example, naming each bad claim and never a value", () => {
    const m = refusal([['applicant', 9], ['member.1.birthDate', '1990-02-31']], 900 * DAY);
    expect(m).toMatch(/^not a kr\.gov\.resident-registration\.copy \(spec §12\.7\): /);
    for (const part of ['claim address is missing', 'claim head is missing', 'claim member.1.name is missing', 'claim member.1.relation is missing', 'claim member.1.birthDate is not a real date written YYYY-MM-DD', 'claim applicant must be the number of a member (1)', 'valid for 900 days, more than the 90 days an original is valid']) {
      expect(m).toContain(part);
    }
    expect(m).not.toMatch(/1990|02-31|\b9\b/);
  });

  it('refuses names householdClaims does not make: extra, repeated, gaps, a member without all three', () => {
    expect(refusal([...copy(), ['rrn', '850402-1234567']])).toContain('claim "rrn" is not one of a resident registration copy');
    expect(refusal([...copy(), ['member.01.name', 'x']])).toContain('claim "member.01.name" is not one of');
    expect(refusal([...copy(), ['member.100.name', 'x']])).toContain('claim "member.100.name" is not one of');
    expect(refusal([...copy(), ['head', '김민준']])).toContain('claim head is given twice');
    const gap = without(without(without(copy(), 'member.2.name'), 'member.2.relation'), 'member.2.birthDate');
    expect(refusal(gap)).toContain('claim member.2.name is missing (members are numbered 1 to 3 without gaps)');
    expect(refusal(without(copy(), 'member.3.relation'))).toContain('claim member.3.relation is missing');
    expect(refusal(copy().filter(([n]) => !n.startsWith('member.')))).toContain('no member');
    expect(refusal(without(copy(), 'applicant'))).toContain('claim applicant is missing');
  });

  it('refuses values of the wrong type: empty text, an applicant that names no member, dates that are not real', () => {
    for (const name of ['address', 'head', 'member.1.name', 'member.2.relation']) {
      for (const v of ['', '  ', 7, null, ['x'], { ko: 'x' }] as CborValue[]) expect(refusal(set(copy(), name, v))).toContain(`claim ${name} must be non-empty text`);
    }
    for (const v of [0, 4, -1, '1', null, true, [1]] as CborValue[]) expect(refusal(set(copy(), 'applicant', v))).toContain('claim applicant must be the number of a member (1 to 3)');
    for (const v of ['2023-02-29', '1990-13-01', '1990-1-01', '19900101', '1990-04-31', 19900101, ''] as CborValue[]) {
      expect(refusal(set(copy(), 'member.2.birthDate', v))).toContain('claim member.2.birthDate is not a real date');
    }
    expect(() => checkIssuance(RESIDENT_REGISTRATION_COPY, claims(set(copy(), 'member.2.birthDate', '2024-02-29')), T, T + 90 * DAY)).not.toThrow();
  });

  it('refuses a validity beyond the type, and names at most 8 problems', () => {
    expect(refusal(copy(), 90 * DAY + 1)).toContain(`valid for ${90 * DAY + 1} s, more than the 90 days`);
    const m = refusal([['member.99.name', 'x']]);
    expect(m).toMatch(/; and \d+ more$/);
    expect(m.split('; ').length).toBe(9);
  });

  it('checks nothing of a document type the wallet side does not know (the log decides)', () => {
    expect(() => checkIssuance('dev.dojang.other', claims([['anything', 'x'], ['applicant', 9]]), T, T + 3660 * DAY)).not.toThrow();
    expect(() => checkIssuance('dev.dojang.other', [], 0, 0)).not.toThrow();
    expect(() => checkIssuance(RESIDENT_REGISTRATION_COPY, claims(copy()), 0, 0)).not.toThrow();
    expect(() => checkIssuance(RESIDENT_REGISTRATION_COPY, [], 0, 0)).toThrow(/claim address is missing/);
  });
});
