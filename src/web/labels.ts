/**
 * What the verifier page (src/web/verify-page.ts) says, in Korean and English: the ten
 * checks of a verdict and every reason code they can fail with (spec §10.2), the refusals
 * of the mask proxy purchase (spec §12.8), the codes a presentation that does not decode
 * is refused with (spec §10.1), and the page's own input problems. Also the page's times:
 * Korea time (UTC+9) and ages.
 *
 * Pure and portable (it runs in the browser); test/web/labels.test.ts checks that every
 * reason of spec §10.2 has a label here.
 */
import type { CheckName } from '../client/verify.js';
import type { CertState } from '../client/status.js';
import type { ProxyReason } from '../wallet/mask-policy.js';
import type { Label } from '../wallet/doctypes.js';

export type { Label };

/** The checks of a verdict (spec §10.2; `witnessed` only under a witness policy). */
export const CHECK_LABELS: Readonly<Record<CheckName, Label>> = {
  anchored: { ko: '로그 기록', en: 'Anchored in the log' },
  witnessed: { ko: '증인 서명', en: 'Witnessed' },
  'issuer-signature': { ko: '발급기관 서명', en: "Issuer's signature" },
  'issuer-registered': { ko: '등록된 발급기관', en: 'Registered issuer' },
  document: { ko: '문서 내용', en: 'Document content' },
  chain: { ko: '전달 경로', en: 'Chain of transfers' },
  holding: { ko: '소지 확인', en: 'Held by the presenter' },
  'not-revoked': { ko: '폐지 여부', en: 'Not revoked' },
  validity: { ko: '유효기간', en: 'Validity period' },
  original: { ko: '원본', en: 'Original' },
};

/** Every reason a check of spec §10.2 fails with. */
export const REASON_LABELS: Readonly<Record<string, Label>> = {
  WRONG_LOG: { ko: '다른 로그의 증명서입니다', en: 'Of another log' },
  UNKNOWN_KEY: { ko: '로그 서명이나 시각 확인 서명이 없습니다', en: 'No log signature or no timestamp cosignature' },
  BAD_SIGNATURE: { ko: '서명이 맞지 않습니다', en: 'A signature does not verify' },
  INCONSISTENT: { ko: '로그가 공개한 트리와 다릅니다 (분기 또는 키 도용)', en: 'Not the tree the log published (a fork or a stolen key)' },
  NOT_IN_LOG: { ko: '로그에 기록되었음이 증명되지 않습니다', en: 'Not proved to be in the log' },
  UNKNOWN_LOG: { ko: '증인 정책에 없는 로그의 체크포인트입니다', en: 'A checkpoint of a log the witness policy does not list' },
  NOT_WITNESSED: { ko: '정책이 요구하는 만큼 증인이 서명하지 않았습니다', en: 'Not cosigned by enough witnesses of the policy' },
  UNKNOWN_ISSUER: { ko: '등록되지 않은 발급기관입니다', en: 'The issuer is not registered' },
  DOCTYPE_NOT_ALLOWED: { ko: '이 문서 종류를 발급할 수 없는 기관입니다', en: 'The issuer may not issue this document type' },
  ISSUER_RETIRED: { ko: '발급 전에 등록이 폐지된 발급기관입니다', en: 'The issuer was retired before the issuance' },
  ISSUER_COMPROMISED: { ko: '발급기관 키가 유출된 뒤에 발급되어 무효입니다', en: "Issued after the issuer's key was compromised: not valid" },
  CLAIM_MISMATCH: { ko: '공개된 항목이 발급된 문서와 다릅니다 (변조)', en: 'A disclosed claim is not the issued one (tampered)' },
  COMMITMENT_MISMATCH: { ko: '항목 목록이 발급된 문서와 다릅니다', en: 'The list of claims is not the issued document’s' },
  CHAIN_BROKEN: { ko: '전달 경로가 끊어졌습니다', en: 'The chain of transfers is broken' },
  NOT_HOLDER: { ko: '제시자가 소지자가 아닙니다', en: 'The presenter is not a holder' },
  NOT_RECIPIENT: { ko: '이 검증자에게 보낸 문서가 아닙니다', en: 'Not sent to this verifier' },
  NONCE_MISMATCH: { ko: '이 확인 요청에 서명한 것이 아닙니다 (재사용)', en: 'Not signed for this challenge (replayed)' },
  VIEW_ONLY: { ko: '열람용 사본입니다', en: 'A view-only copy' },
  NO_STATUS: { ko: '폐지 여부를 판단할 상태 정보가 없습니다', en: 'No status statement: revocation cannot be judged' },
  STATUS_INVALID: { ko: '상태 정보가 검증되지 않습니다', en: 'The status statement does not verify' },
  STATUS_TOO_OLD: { ko: '상태 정보가 너무 오래되어 폐지 여부를 알 수 없습니다', en: 'The status is too old to tell whether it was revoked since' },
  CERT_REVOKED: { ko: '폐지된 증명서입니다', en: 'The certificate is revoked' },
  NOT_YET_VALID: { ko: '아직 유효기간이 시작되지 않았습니다', en: 'Not yet valid' },
  CERT_EXPIRED: { ko: '유효기간이 지났습니다', en: 'Expired' },
};

/** Why a mask proxy purchase is refused (spec §12.8). */
export const PROXY_REASON_LABELS: Readonly<Record<ProxyReason, Label>> = {
  NOT_VALID: { ko: '유효한 원본이 아닙니다', en: 'Not a valid original' },
  WRONG_DOCTYPE: { ko: '주민등록표 등본이 아닙니다', en: 'Not a resident registration copy' },
  NOT_APPLICANT: { ko: '제시자가 등본을 발급받은 본인임이 확인되지 않습니다', en: 'The presenter is not shown to be the applicant' },
  APPLICANT_HIDDEN: { ko: '신청인이 공개되지 않았습니다', en: 'The applicant is not disclosed' },
  NO_MEMBER: { ko: '대리구매 대상 세대원이 공개되지 않았습니다', en: 'No other household member is disclosed' },
  NOT_ELIGIBLE: { ko: '만 10세 이하 또는 만 80세 이상인 세대원이 없습니다', en: 'No member aged 10 or under, or 80 or over' },
};

/**
 * Codes of a presentation the page cannot judge: decodePresentation's (spec §10.1), the
 * log's when it cannot be reached, and the page's own input problems.
 */
export const PROBLEM_LABELS: Readonly<Record<string, Label>> = {
  MALFORMED: { ko: '제시 자료의 형식이 올바르지 않습니다', en: 'The presentation is malformed' },
  NON_CANONICAL: { ko: '제시 자료가 표준 인코딩이 아닙니다', en: 'The presentation is not canonically encoded' },
  UNSUPPORTED: { ko: '지원하지 않는 버전의 제시 자료입니다', en: 'An unsupported version of presentation' },
  TOO_LARGE: { ko: '제시 자료가 너무 큽니다 (1 MiB 초과)', en: 'The presentation is too large (over 1 MiB)' },
  UNAVAILABLE: { ko: '로그 서버에 연결할 수 없습니다', en: 'The log cannot be reached' },
  EMPTY: { ko: '제시 자료가 비어 있습니다', en: 'No presentation was given' },
  NOT_BASE64: { ko: 'base64 텍스트가 아닙니다', en: 'The text is not base64' },
  NO_QR: { ko: '사진에서 QR 코드를 찾지 못했습니다', en: 'No QR code was found in the image' },
  CHALLENGE_QR: { ko: '확인 요청 QR입니다: 제시 자료 QR을 올려 주세요', en: 'This is a challenge QR, not a presentation' },
  NOT_PRESENTATION_QR: { ko: '도장 제시 자료 QR이 아닙니다', en: 'Not the QR code of a dojang presentation' },
  NOT_AN_IMAGE: { ko: '이미지를 읽을 수 없습니다', en: 'The image cannot be read' },
  BAD_ADDRESS: { ko: '지갑 주소가 올바르지 않습니다', en: 'Not a wallet address' },
  BAD_KEY: { ko: '검증자 공개키가 올바르지 않습니다', en: 'The verifier key is not acceptable' },
  BAD_REQUEST: { ko: '검증자 이름이나 키가 올바르지 않습니다', en: 'The verifier name or key is not acceptable' },
  INTERNAL: { ko: '페이지 오류입니다', en: 'An error in the page' },
};

/** States of a status statement (spec §8.7). */
export const STATE_LABELS: Readonly<Record<CertState, Label>> = {
  active: { ko: '유효 (폐지되지 않음)', en: 'active (not revoked)' },
  revoked: { ko: '폐지됨', en: 'revoked' },
  compromised: { ko: '무효 (발급기관 키 유출 이후 발급)', en: "not valid (issued after the issuer's key was compromised)" },
  expired: { ko: '만료됨 (폐지되지 않음)', en: 'expired (not revoked)' },
};

/** The flows of a presentation (spec §10.1). */
export const FLOW_LABELS: Readonly<Record<'face' | 'received' | 'view', Label>> = {
  face: { ko: '대면 제시', en: 'shown face to face' },
  received: { ko: '이 검증자에게 보낸 문서', en: 'sent to this verifier' },
  view: { ko: '열람용 사본', en: 'view-only copy' },
};

/** labelOf looks a code up in a table; an unknown code labels itself. */
export function labelOf(table: Readonly<Record<string, Label>>, code: string): Label {
  return Object.hasOwn(table, code) ? table[code] : { ko: code, en: code };
}

const KST_OFFSET = 9 * 3600;

/** formatKst writes Unix seconds as the date and time in Korea: "2025-03-09 10:00:00 KST". */
export function formatKst(t: number): string {
  return new Date((t + KST_OFFSET) * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' KST';
}

/** formatAge says how long ago `seconds` was, in the largest whole unit (seconds to days). */
export function formatAge(seconds: number): Label {
  const s = Math.max(0, Math.floor(seconds));
  const units: [number, string, string][] = [
    [86_400, '일', 'd'],
    [3_600, '시간', 'h'],
    [60, '분', 'min'],
  ];
  for (const [n, ko, en] of units) {
    if (s >= n) return { ko: `${Math.floor(s / n)}${ko} 전`, en: `${Math.floor(s / n)} ${en} ago` };
  }
  return { ko: `${s}초 전`, en: `${s} s ago` };
}
