/**
 * Document types the wallet side knows by name (spec §12.7): how long an original stays
 * valid, which claims a document of the type carries, and how to label them in Korean
 * and English (the view-only PDF, the verifier page, the CLI).
 *
 * The ledger does not depend on this module: any document type of spec §5.7's syntax
 * can be registered and issued. This is the application layer of one service.
 *
 * Pure and portable (it runs in the browser).
 */
import type { CborValue } from '../core/cbor.js';
import type { Claim } from '../core/commitment.js';
import { LedgerError } from '../core/errors.js';

/** 주민등록표 등본: a resident registration copy (one household). */
export const RESIDENT_REGISTRATION_COPY = 'kr.gov.resident-registration.copy';

/** A label in both languages. */
export interface Label {
  ko: string;
  en: string;
}

/** One household member as a resident registration copy lists it. */
export interface HouseholdMember {
  name: string;
  /** The relation to the head of household, in Korean as printed: 본인, 배우자, 자녀, 부, 모, … */
  relation: string;
  /** YYYY-MM-DD. */
  birthDate: string;
}

/** The content of a resident registration copy (what the claims encode). */
export interface HouseholdCopy {
  address: string;
  /** The head of household (세대주), by name. */
  head: string;
  /** The member (1-based) who applied: the holder the certificate is issued to. */
  applicant: number;
  members: HouseholdMember[];
}

/** What is known about a document type. */
export interface DocTypeInfo {
  title: Label;
  /** How long an original is valid from its issuance, in seconds. */
  validitySeconds: number;
}

const DAY = 86_400;

/** The known document types. */
export const DOC_TYPES: ReadonlyMap<string, DocTypeInfo> = new Map([
  [RESIDENT_REGISTRATION_COPY, { title: { ko: '주민등록표 등본', en: 'Resident registration copy' }, validitySeconds: 90 * DAY }],
]);

/** At most this many members: claim names stay within 64 bytes and the document small. */
export const MAX_MEMBERS = 99;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** isDate says whether s is a real calendar date written YYYY-MM-DD. */
export function isDate(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const m = DATE.exec(s);
  if (m === null) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/**
 * householdClaims turns a household copy into the claims of a resident registration
 * copy (spec §12.7), as [name, value] pairs to salt and commit (newClaim). RangeError for
 * a copy that is not well formed: no member, more than MAX_MEMBERS, an applicant that is
 * not a member, an empty name, address or relation, a birth date that is not a date.
 */
export function householdClaims(c: HouseholdCopy): [string, CborValue][] {
  const text = (v: unknown, what: string) => {
    if (typeof v !== 'string' || v.trim() === '') throw new RangeError(`householdClaims: ${what} must be non-empty text`);
    return v;
  };
  if (!Array.isArray(c.members) || c.members.length === 0 || c.members.length > MAX_MEMBERS) {
    throw new RangeError(`householdClaims: 1 to ${MAX_MEMBERS} members`);
  }
  if (!Number.isSafeInteger(c.applicant) || c.applicant < 1 || c.applicant > c.members.length) {
    throw new RangeError('householdClaims: the applicant must be the number of a member');
  }
  const out: [string, CborValue][] = [
    ['address', text(c.address, 'address')],
    ['head', text(c.head, 'head')],
    ['applicant', c.applicant],
  ];
  c.members.forEach((m, i) => {
    if (!isDate(m.birthDate)) throw new RangeError(`householdClaims: member ${i + 1}: birthDate must be YYYY-MM-DD`);
    out.push([`member.${i + 1}.name`, text(m.name, `member ${i + 1} name`)]);
    out.push([`member.${i + 1}.relation`, text(m.relation, `member ${i + 1} relation`)]);
    out.push([`member.${i + 1}.birthDate`, m.birthDate]);
  });
  return out;
}

const MEMBER_CLAIM = /^member\.([1-9]\d?)\.(name|relation|birthDate)$/;
const MEMBER_FIELDS = ['name', 'relation', 'birthDate'] as const;

/** At most this many problems are named in one refusal; the rest are counted. */
const MAX_NAMED_PROBLEMS = 8;

const nonEmptyText = (v: CborValue | undefined): boolean => typeof v === 'string' && v.trim() !== '';

/**
 * householdProblems lists what keeps claims from being a resident registration copy as
 * householdClaims makes it (spec §12.7), naming claims but never their values (which are
 * personal data and may end up in a log).
 */
function householdProblems(claims: readonly Claim[]): string[] {
  const problems: string[] = [];
  const byName = new Map<string, CborValue>();
  let members = 0;
  for (const [, name, value] of claims) {
    if (byName.has(name)) problems.push(`claim ${name} is given twice`);
    byName.set(name, value);
    const m = MEMBER_CLAIM.exec(name);
    if (m !== null) members = Math.max(members, Number(m[1]));
    else if (name !== 'address' && name !== 'head' && name !== 'applicant') problems.push(`claim ${JSON.stringify(name)} is not one of a resident registration copy`);
  }
  for (const name of ['address', 'head']) {
    if (!byName.has(name)) problems.push(`claim ${name} is missing`);
    else if (!nonEmptyText(byName.get(name))) problems.push(`claim ${name} must be non-empty text`);
  }
  if (members === 0) problems.push('no member: claims member.1.name, member.1.relation and member.1.birthDate are missing');
  for (let n = 1; n <= members; n++) {
    for (const f of MEMBER_FIELDS) {
      const name = `member.${n}.${f}`;
      if (!byName.has(name)) problems.push(`claim ${name} is missing${members > 1 ? ` (members are numbered 1 to ${members} without gaps)` : ''}`);
      else if (f === 'birthDate' ? !isDate(byName.get(name)) : !nonEmptyText(byName.get(name))) {
        problems.push(f === 'birthDate' ? `claim ${name} is not a real date written YYYY-MM-DD` : `claim ${name} must be non-empty text`);
      }
    }
  }
  const applicant = byName.get('applicant');
  if (!byName.has('applicant')) problems.push('claim applicant is missing');
  else if (typeof applicant !== 'number' || !Number.isSafeInteger(applicant) || applicant < 1 || applicant > members) {
    problems.push(`claim applicant must be the number of a member (${members === 0 ? 'there is none' : members === 1 ? '1' : `1 to ${members}`})`);
  }
  return problems;
}

/** The claim checks of the document types this module knows. */
const CLAIM_CHECKS: ReadonlyMap<string, (claims: readonly Claim[]) => string[]> = new Map([[RESIDENT_REGISTRATION_COPY, householdProblems]]);

function formatDuration(seconds: number): string {
  return seconds % DAY === 0 ? `${seconds / DAY} days` : `${seconds} s`;
}

/**
 * checkIssuance checks a certificate against its document type before anything is
 * signed (spec §12.7): the claims (for a resident registration copy: exactly the claim
 * names householdClaims makes, members numbered without gaps, non-empty text, real dates,
 * an applicant that is a member) and the validity, validUntil − issuedAt
 * at most the type's validity. A document type this module does not know is not
 * checked here: the log's registry decides what may be issued (spec §5.7, §5.9).
 * Throws LedgerError BAD_REQUEST naming every bad claim (never a claim's value).
 */
export function checkIssuance(docType: string, claims: readonly Claim[], issuedAt: number, validUntil: number): void {
  const info = DOC_TYPES.get(docType);
  if (info === undefined) return;
  const problems = CLAIM_CHECKS.get(docType)?.(claims) ?? [];
  const validity = validUntil - issuedAt;
  if (validity > info.validitySeconds) problems.push(`valid for ${formatDuration(validity)}, more than the ${formatDuration(info.validitySeconds)} an original is valid`);
  if (problems.length === 0) return;
  const named = problems.slice(0, MAX_NAMED_PROBLEMS).join('; ');
  const more = problems.length > MAX_NAMED_PROBLEMS ? `; and ${problems.length - MAX_NAMED_PROBLEMS} more` : '';
  throw new LedgerError('BAD_REQUEST', `not a ${docType} (spec §12.7): ${named}${more}`);
}

const FIELD_LABELS: Record<string, Label> = {
  name: { ko: '성명', en: 'name' },
  relation: { ko: '세대주와의 관계', en: 'relation to the head' },
  birthDate: { ko: '생년월일', en: 'date of birth' },
};
const CLAIM_LABELS: Record<string, Label> = {
  address: { ko: '주소', en: 'Address' },
  head: { ko: '세대주', en: 'Head of household' },
  applicant: { ko: '신청인 (세대원 번호)', en: 'Applicant (member number)' },
};

/** claimLabel labels a claim name in both languages; an unknown name labels itself. */
export function claimLabel(name: string): Label {
  const known = CLAIM_LABELS[name];
  if (known !== undefined) return known;
  const m = MEMBER_CLAIM.exec(name);
  if (m !== null) {
    const f = FIELD_LABELS[m[2]];
    return { ko: `세대원 ${m[1]} ${f.ko}`, en: `Member ${m[1]} ${f.en}` };
  }
  return { ko: name, en: name };
}

/** docTypeTitle names a document type in both languages; an unknown type names itself. */
export function docTypeTitle(docType: string): Label {
  return DOC_TYPES.get(docType)?.title ?? { ko: docType, en: docType };
}
