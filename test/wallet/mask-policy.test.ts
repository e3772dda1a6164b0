import { describe, expect, it } from 'vitest';
import { ageOn, decideProxyPurchase, koreanDate, proxyDisclosure } from '../../src/wallet/mask-policy.js';
import { claimLabel, householdClaims, isDate, RESIDENT_REGISTRATION_COPY } from '../../src/wallet/doctypes.js';
import type { Verdict } from '../../src/client/verify.js';

// 2020-03-09 10:00 in Korea (the first day of the proxy purchase rule) is 01:00 UTC.
const NOW = Date.UTC(2020, 2, 9, 1, 0, 0) / 1000;

function verdict(over: Partial<Verdict> & { claims?: Verdict['claims'] }, cert: Partial<Verdict['certificate']> = {}): Verdict {
  return {
    valid: true,
    checks: [],
    flow: 'face',
    now: NOW,
    certificate: { id: '00', docType: RESIDENT_REGISTRATION_COPY, issuer: '', issuerName: '', issuedAt: 0, validUntil: 0, anchoredAt: 0, transfers: 0, ...cert },
    claims: null,
    status: null,
    ...over,
  };
}

describe('dates and ages', () => {
  it('takes the date in Korea, not UTC', () => {
    expect(koreanDate(Date.UTC(2020, 2, 8, 15, 0, 0) / 1000)).toBe('2020-03-09'); // 00:00 KST
    expect(koreanDate(Date.UTC(2020, 2, 8, 14, 59, 59) / 1000)).toBe('2020-03-08');
  });
  it('counts full years (만 나이), the birthday itself included', () => {
    expect(ageOn('2010-03-09', '2020-03-09')).toBe(10);
    expect(ageOn('2009-03-10', '2020-03-09')).toBe(10);
    expect(ageOn('2009-03-09', '2020-03-09')).toBe(11);
    expect(ageOn('1940-03-10', '2020-03-09')).toBe(79);
    expect(ageOn('1940-03-09', '2020-03-09')).toBe(80);
    expect(ageOn('2000-02-29', '2001-02-28')).toBe(0);
    expect(() => ageOn('2020-02-30', '2020-03-09')).toThrow(RangeError);
  });
  it('knows calendar dates', () => {
    expect(isDate('2020-02-29')).toBe(true);
    expect(isDate('2019-02-29')).toBe(false);
    expect(isDate('2020-1-01')).toBe(false);
    expect(isDate(20200101)).toBe(false);
  });
});

describe('the resident registration copy claims', () => {
  const copy = {
    address: '서울특별시 종로구 세종대로 209',
    head: '김민준',
    applicant: 1,
    members: [
      { name: '김민준', relation: '본인', birthDate: '1985-04-02' },
      { name: '김서연', relation: '자녀', birthDate: '2012-07-15' },
    ],
  };
  it('writes one claim per field, labelled in Korean and English', () => {
    const names = householdClaims(copy).map(([n]) => n);
    expect(names).toEqual(['address', 'head', 'applicant', 'member.1.name', 'member.1.relation', 'member.1.birthDate', 'member.2.name', 'member.2.relation', 'member.2.birthDate']);
    expect(claimLabel('member.2.birthDate')).toEqual({ ko: '세대원 2 생년월일', en: 'Member 2 date of birth' });
    expect(claimLabel('head').ko).toBe('세대주');
    expect(claimLabel('other')).toEqual({ ko: 'other', en: 'other' });
    for (const n of names) expect(new TextEncoder().encode(n).length).toBeLessThanOrEqual(64);
  });
  it('refuses a copy that is not well formed', () => {
    expect(() => householdClaims({ ...copy, applicant: 3 })).toThrow(RangeError);
    expect(() => householdClaims({ ...copy, members: [] })).toThrow(RangeError);
    expect(() => householdClaims({ ...copy, members: [{ name: 'x', relation: '본인', birthDate: '1985-13-01' }] })).toThrow(RangeError);
    expect(() => householdClaims({ ...copy, address: ' ' })).toThrow(RangeError);
  });
});

describe('decideProxyPurchase', () => {
  const child = { applicant: 1, 'member.2.relation': '자녀', 'member.2.birthDate': '2012-07-15' };
  it('allows a parent buying for a child of 10 or under, showing only that member', () => {
    const d = decideProxyPurchase(verdict({ claims: child }));
    expect(d).toEqual({ allowed: true, reasons: [], checkDate: '2020-03-09', applicant: 1, members: [{ number: 2, relation: '자녀', birthDate: '2012-07-15', age: 7, eligible: true }] });
    expect(proxyDisclosure(2).sort()).toEqual(Object.keys(child).sort());
  });
  it('allows an elder of 80 or over, received straight from the applicant', () => {
    const d = decideProxyPurchase(verdict({ flow: 'received', claims: { applicant: 2, 'member.1.relation': '부', 'member.1.birthDate': '1939-12-31' } }, { transfers: 1 }));
    expect(d.allowed).toBe(true);
    expect(d.members[0].age).toBe(80);
  });
  it('refuses a member aged 11 to 79', () => {
    const d = decideProxyPurchase(verdict({ claims: { applicant: 1, 'member.2.relation': '배우자', 'member.2.birthDate': '1986-01-01' } }));
    expect(d.reasons).toEqual(['NOT_ELIGIBLE']);
  });
  it('refuses the applicant buying for itself, and a hidden applicant', () => {
    expect(decideProxyPurchase(verdict({ claims: { applicant: 2, 'member.2.relation': '자녀', 'member.2.birthDate': '2012-07-15' } })).reasons).toEqual(['NO_MEMBER']);
    expect(decideProxyPurchase(verdict({ claims: { 'member.2.relation': '자녀', 'member.2.birthDate': '2012-07-15' } })).reasons).toEqual(['APPLICANT_HIDDEN']);
  });
  it('refuses a copy passed on, a view-only or invalid copy, and another document type', () => {
    expect(decideProxyPurchase(verdict({ flow: 'received', claims: child }, { transfers: 2 })).reasons).toEqual(['NOT_APPLICANT']);
    expect(decideProxyPurchase(verdict({ flow: 'face', claims: child }, { transfers: 1 })).reasons).toEqual(['NOT_APPLICANT']);
    expect(decideProxyPurchase(verdict({ flow: 'view', valid: false, claims: child })).reasons).toEqual(['NOT_VALID', 'NOT_APPLICANT']);
    expect(decideProxyPurchase(verdict({ claims: child }, { docType: 'kr.gov.family-relation.basic' })).reasons).toEqual(['WRONG_DOCTYPE']);
  });
  it('needs the relation with the birth date', () => {
    expect(decideProxyPurchase(verdict({ claims: { applicant: 1, 'member.2.birthDate': '2012-07-15' } })).reasons).toEqual(['NO_MEMBER']);
  });
});
