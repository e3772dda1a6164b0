/**
 * The public-mask proxy purchase (공적 마스크 대리구매, spring 2020), as a verifier's
 * policy over a presentation's verdict (spec §12.8).
 *
 * A pharmacy may sell on behalf of a household member aged 10 or under or 80 or over
 * (full years, 만 나이, on the check date in Korea) to someone of the same household who
 * shows a resident registration copy. The presenter discloses only:
 *   - `applicant`: which member the copy was issued to (the presenter), and
 *   - `member.N.relation` and `member.N.birthDate` of the member bought for;
 * names, the address and the other members stay behind their digests.
 *
 * The presenter is shown to be the applicant when the holding proves possession of the
 * key the copy was issued to: face to face with no transfer, or received straight from
 * the issued holder (one transfer). A copy passed on further proves only that someone
 * held it, so the policy refuses it.
 *
 * Pure and portable (it runs in the browser).
 */
import type { Verdict } from '../client/verify.js';
import { isDate, RESIDENT_REGISTRATION_COPY } from './doctypes.js';

/** Why a proxy purchase is refused (the first of these is the one to show). */
export type ProxyReason =
  | 'NOT_VALID' // the presentation is not a valid original (the verdict's reasons say why)
  | 'WRONG_DOCTYPE' // not a resident registration copy
  | 'NOT_APPLICANT' // the presenter is not shown to be the member it was issued to
  | 'APPLICANT_HIDDEN' // `applicant` was not disclosed
  | 'NO_MEMBER' // no other member's relation and birth date were disclosed
  | 'NOT_ELIGIBLE'; // every disclosed member is aged 11 to 79

/** A disclosed member the purchase is for. */
export interface ProxyMember {
  number: number;
  relation: string;
  birthDate: string;
  /** Full years on the check date. */
  age: number;
  eligible: boolean;
}

export interface ProxyDecision {
  allowed: boolean;
  /** Empty when allowed. */
  reasons: ProxyReason[];
  /** The date judged at, YYYY-MM-DD in Korea (UTC+9). */
  checkDate: string;
  /** The applicant's member number, when disclosed. */
  applicant: number | null;
  /** The disclosed members other than the applicant, by number. */
  members: ProxyMember[];
}

/** Eligible ages: 10 or under, 80 or over. */
export const MAX_CHILD_AGE = 10;
export const MIN_ELDER_AGE = 80;

const KST_OFFSET = 9 * 3600;

/** koreanDate is the calendar date in Korea (UTC+9, no daylight saving) at Unix seconds t. */
export function koreanDate(t: number): string {
  return new Date((t + KST_OFFSET) * 1000).toISOString().slice(0, 10);
}

/** ageOn is the age in full years (만 나이) on date of someone born on birthDate (both YYYY-MM-DD). */
export function ageOn(birthDate: string, date: string): number {
  if (!isDate(birthDate) || !isDate(date)) throw new RangeError('ageOn: dates are YYYY-MM-DD');
  const [by, bm, bd] = birthDate.split('-').map(Number);
  const [y, m, d] = date.split('-').map(Number);
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

/** proxyDisclosure names the claims a presenter discloses to buy for member number n. */
export function proxyDisclosure(member: number): string[] {
  if (!Number.isSafeInteger(member) || member < 1) throw new RangeError('proxyDisclosure: a member number');
  return ['applicant', `member.${member}.birthDate`, `member.${member}.relation`];
}

/**
 * decideProxyPurchase judges a verdict (PresentationVerifier) under the policy of the
 * module comment, on the Korean date of the verdict's clock. Reasons are listed in the
 * order of ProxyReason; members shows only what the presenter disclosed.
 */
export function decideProxyPurchase(v: Verdict): ProxyDecision {
  const checkDate = koreanDate(v.now);
  const reasons: ProxyReason[] = [];
  if (!v.valid) reasons.push('NOT_VALID');
  if (v.certificate.docType !== RESIDENT_REGISTRATION_COPY) reasons.push('WRONG_DOCTYPE');
  const direct = (v.flow === 'face' && v.certificate.transfers === 0) || (v.flow === 'received' && v.certificate.transfers === 1);
  if (!direct) reasons.push('NOT_APPLICANT');
  const claims = v.claims ?? {};
  const a = claims['applicant'];
  const applicant = typeof a === 'number' && Number.isSafeInteger(a) && a >= 1 ? a : null;
  if (applicant === null) reasons.push('APPLICANT_HIDDEN');
  const members: ProxyMember[] = [];
  for (const [name, value] of Object.entries(claims)) {
    const m = /^member\.([1-9]\d?)\.birthDate$/.exec(name);
    if (m === null || !isDate(value)) continue;
    const n = Number(m[1]);
    if (n === applicant) continue; // buying for oneself is not a proxy purchase
    const relation = claims[`member.${n}.relation`];
    if (typeof relation !== 'string') continue;
    const age = ageOn(value, checkDate);
    members.push({ number: n, relation, birthDate: value, age, eligible: age >= 0 && (age <= MAX_CHILD_AGE || age >= MIN_ELDER_AGE) });
  }
  members.sort((x, y) => x.number - y.number);
  if (members.length === 0) reasons.push('NO_MEMBER');
  else if (!members.some((m) => m.eligible)) reasons.push('NOT_ELIGIBLE');
  return { allowed: reasons.length === 0, reasons, checkDate, applicant, members };
}
