/**
 * The verifier page (GET /verify, src/web/verify.html): a pharmacy counter checks a
 * presentation (spec §10) in the browser, with no framework. Bundled by
 * scripts/build-web.mjs into dist/web/verify.js.
 *
 * The verifier picks how the holder shows the document — face to face (the page shows a
 * fresh challenge, spec §12.2, as text and as a QR code for the holder's wallet; a
 * challenge is used once), received (the verifier's wallet address or key), or a view-only copy —
 * and gives the presentation: pasted base64 or base64url, a `.dojang-presentation`
 * file, or a photo or screenshot of its QR code (`dojang-presentation:` and base64url,
 * read with jsqr on a canvas). The judgement is src/web/judge.ts: the log's keys and
 * fresh status from the serving origin, the portable crypto backend, the browser's
 * clock. Shown: the verdict, each check with its reason, the certificate, the witnesses
 * that cosigned and when (when the log serves a witness policy), the status and its age,
 * the disclosed claims, and the mask proxy-purchase decision for a resident registration
 * copy — every label in Korean and English.
 *
 * Everything shown from a presentation is set as text (textContent), never as markup.
 * Elements the tests use carry data-testid.
 */
import QRCode from 'qrcode';
import jsQRModule from 'jsqr';
import { randomBytes } from '../core/crypto.js';
import { toHex } from '../core/bytes.js';
import { isLedgerError } from '../core/errors.js';
import type { CborValue } from '../core/cbor.js';
import { cborJson, type Check, type Verdict, type VerifyContext } from '../client/verify.js';
import { claimLabel, docTypeTitle, type Label } from '../wallet/doctypes.js';
import type { ProxyDecision, ProxyMember } from '../wallet/mask-policy.js';
import { challengeUri } from '../wallet/address.js';
import { CHECK_LABELS, FLOW_LABELS, formatAge, formatKst, labelOf, PROBLEM_LABELS, PROXY_REASON_LABELS, REASON_LABELS, STATE_LABELS } from './labels.js';
import {
  judge,
  MAX_FILE_BYTES,
  openSession,
  presentationFromFile,
  presentationFromQrText,
  presentationFromText,
  readVerifierKey,
  Unjudged,
  type Judgement,
  type PolicySource,
  type StatusSource,
  type VerifierSession,
} from './judge.js';

// jsqr is CommonJS typed with an ES default export: bundled, the module is the function.
type JsQR = typeof jsQRModule.default;
const jsQR: JsQR = (jsQRModule as unknown as { default?: JsQR }).default ?? (jsQRModule as unknown as JsQR);

const NONCE_BYTES = 16;
const DEFAULT_NAME = '약국 / Pharmacy';
const STORE_NAME = 'dojang.verify.name';
const STORE_KEY = 'dojang.verify.key';
/** QR images are scanned at these largest sides (pixels) until one decodes. */
const QR_SCAN_SIDES = [2000, 1200, 700];

type Mode = 'face' | 'received' | 'view';
type Child = Node | string | null | undefined | false;

// ---------------------------------------------------------------- DOM helpers

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`verify.html has no #${id}`);
  return e as T;
}

/** el makes an element with attributes (data-* and aria-* included) and children. */
function el(tag: string, attrs: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

/** bi writes a label in both languages: the Korean, then the English in a muted span. */
function bi(l: Label, sep = ' '): DocumentFragment {
  const f = document.createDocumentFragment();
  f.append(l.ko + sep, el('span', { class: 'en', lang: 'en' }, l.en));
  return f;
}

/** facts makes a definition list of [label, value, testid] rows. */
function facts(rows: [Label, Child, string?][]): HTMLElement {
  const dl = el('dl', { class: 'facts' });
  for (const [l, v, id] of rows) dl.append(el('dt', {}, bi(l)), el('dd', { 'data-testid': id }, v));
  return dl;
}

/**
 * mark is a verdict mark: the emoji stays in the text (copying, reading the page as
 * text), while verify.css draws the badge, since a counter's machine may have no emoji font.
 */
function mark(kind: 'ok' | 'bad' | 'warn'): HTMLElement {
  return el('span', { class: `mark ${kind}`, 'aria-hidden': 'true' }, kind === 'ok' ? '✅' : kind === 'bad' ? '❌' : '⚠️');
}

function table(head: Label[], rows: HTMLElement[], testid: string): HTMLElement {
  return el('table', { 'data-testid': testid }, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, bi(h))))), el('tbody', {}, ...rows));
}

// ---------------------------------------------------------------- state

/** The challenge shown now (face to face), and the log's keys once loaded. */
const state: { nonce: Uint8Array; session?: Promise<VerifierSession> } = { nonce: randomBytes(NONCE_BYTES) };

function remember(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage may be off: nothing to remember then
  }
}

function recall(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** session loads the log's keys once; a failure is forgotten so that the next presentation tries again. */
function session(): Promise<VerifierSession> {
  state.session ??= openSession(location.origin).catch((e: unknown) => {
    state.session = undefined;
    throw e;
  });
  return state.session;
}

async function showLog(): Promise<void> {
  const info = byId('log-info');
  try {
    const s = await session();
    info.replaceChildren(
      bi({ ko: '로그', en: 'Log' }),
      ` ${s.log.origin} · `,
      bi({ ko: `항목 ${s.log.size}개`, en: `${s.log.size} entries` }),
      ' · ',
      bi({ ko: '최근 기록', en: 'latest' }),
      ` ${formatKst(s.log.time)}`,
    );
  } catch (e) {
    const u = e instanceof Unjudged ? e : new Unjudged('UNAVAILABLE', String(e));
    info.replaceChildren(bi(labelOf(PROBLEM_LABELS, u.code)), ` (${u.code}: ${u.message})`);
  }
}

// ---------------------------------------------------------------- the challenge (face to face)

function verifierName(): string {
  return byId<HTMLInputElement>('verifier-name').value.trim();
}

/** showChallenge draws the challenge URI for the current name and nonce, as text and as a QR code. */
async function showChallenge(): Promise<void> {
  const problem = byId('name-problem');
  let uri = '';
  try {
    uri = challengeUri({ verifier: verifierName(), nonce: state.nonce });
    problem.hidden = true;
  } catch (e) {
    if (!isLedgerError(e)) throw e;
    problem.hidden = false;
    problem.replaceChildren(bi({ ko: '이름은 UTF-8로 1–128바이트여야 합니다.', en: e.message }));
  }
  byId('challenge-uri').textContent = uri;
  byId('challenge-nonce').textContent = toHex(state.nonce);
  const canvas = byId<HTMLCanvasElement>('challenge-qr');
  canvas.hidden = uri === '';
  canvas.setAttribute('aria-label', uri === '' ? '' : `확인 요청 QR / challenge QR code: ${uri}`);
  if (uri !== '') await QRCode.toCanvas(canvas, uri, { errorCorrectionLevel: 'M', margin: 2, scale: 5 });
}

function newChallenge(): void {
  state.nonce = randomBytes(NONCE_BYTES);
  void showChallenge();
}

// ---------------------------------------------------------------- modes

/** setMode shows the inputs of one way of showing a document (the verdict follows the presentation's own flow). */
function setMode(mode: Mode): void {
  byId('panel-face').hidden = mode !== 'face';
  byId('panel-received').hidden = mode !== 'received';
  byId('panel-view').hidden = mode !== 'view';
}

/** audience reads the verifier key field: undefined when empty, Unjudged BAD_KEY when it is not a key. */
function audience(): Uint8Array | undefined {
  const text = byId<HTMLInputElement>('verifier-key').value.trim();
  const problem = byId('key-problem');
  problem.hidden = true;
  if (text === '') return undefined;
  try {
    return readVerifierKey(text);
  } catch (e) {
    if (e instanceof Unjudged) {
      problem.hidden = false;
      problem.replaceChildren(bi(labelOf(PROBLEM_LABELS, e.code)), ` (${e.message})`);
    }
    throw e;
  }
}

// ---------------------------------------------------------------- reading a presentation

async function fileBytes(file: File): Promise<Uint8Array> {
  if (file.size > MAX_FILE_BYTES) throw new Unjudged('TOO_LARGE', `the file is ${file.size} bytes`);
  return new Uint8Array(await file.arrayBuffer());
}

/** qrText finds a QR code in an image (a photo or a screenshot) and returns its text. */
async function qrText(file: File): Promise<string> {
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(file);
  } catch (e) {
    throw new Unjudged('NOT_AN_IMAGE', `${file.name} cannot be read as an image`, { cause: e });
  }
  const tried = new Set<number>();
  for (const side of QR_SCAN_SIDES) {
    const scale = Math.min(1, side / Math.max(bmp.width, bmp.height));
    const w = Math.max(1, Math.round(bmp.width * scale));
    const h = Math.max(1, Math.round(bmp.height * scale));
    if (tried.has(w)) continue;
    tried.add(w);
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const g = canvas.getContext('2d', { willReadFrequently: true });
    if (g === null) throw new Unjudged('NOT_AN_IMAGE', 'the browser gives no 2D canvas');
    g.drawImage(bmp, 0, 0, w, h);
    const code = jsQR(g.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: 'attemptBoth' });
    if (code !== null) return code.data;
  }
  bmp.close();
  throw new Unjudged('NO_QR', `no QR code was found in ${file.name}`);
}

// ---------------------------------------------------------------- judging

/** run judges the presentation `read` returns and shows the result (or why there is none). */
async function run(read: () => Promise<Uint8Array> | Uint8Array): Promise<void> {
  const verdict = byId('verdict');
  verdict.className = 'verdict busy';
  verdict.replaceChildren(bi({ ko: '확인 중…', en: 'Checking…' }));
  byId('details').replaceChildren();
  try {
    const bytes = await read();
    const s = await session();
    const ctx: VerifyContext = { now: Math.floor(Date.now() / 1000), nonce: state.nonce, verifierName: verifierName(), audience: audience() };
    const j = await judge(s, bytes, ctx);
    showJudgement(j);
    if (j.verdict.flow === 'face') newChallenge(); // this nonce is spent: one challenge, one presentation
  } catch (e) {
    if (e instanceof Unjudged) showProblem(e);
    else {
      console.error(e);
      showProblem(new Unjudged('INTERNAL', e instanceof Error ? e.message : String(e)));
    }
  }
}

function showProblem(u: Unjudged): void {
  const verdict = byId('verdict');
  verdict.className = 'verdict problem';
  verdict.dataset.valid = '';
  verdict.replaceChildren(
    mark('warn'),
    ' 판정할 수 없습니다 ',
    el('span', { class: 'en', lang: 'en' }, '/ Cannot be judged'),
    el('span', { class: 'sub' }, bi(labelOf(PROBLEM_LABELS, u.code)), ' ', el('code', { 'data-testid': 'problem-code' }, u.code)),
  );
  byId('details').replaceChildren(el('p', {}, bi({ ko: '내용', en: 'Message' }), ': ', el('code', { 'data-testid': 'problem-message' }, u.message)));
}

function failedSummary(checks: Check[]): HTMLElement {
  const span = el('span', { class: 'sub', 'data-testid': 'failed-summary' });
  checks
    .filter((c) => !c.ok)
    .forEach((c, i) => {
      if (i > 0) span.append(' · ');
      const reason = labelOf(REASON_LABELS, c.reason ?? '');
      span.append(`${CHECK_LABELS[c.name].ko}: ${reason.ko} `, el('span', { class: 'en', lang: 'en' }, `${CHECK_LABELS[c.name].en}: ${reason.en}`), ' ', el('code', {}, c.reason ?? ''));
    });
  return span;
}

function showJudgement(j: Judgement): void {
  const v = j.verdict;
  const box = byId('verdict');
  box.className = `verdict ${v.valid ? 'valid' : 'invalid'}`;
  box.dataset.valid = String(v.valid);
  box.replaceChildren(
    mark(v.valid ? 'ok' : 'bad'),
    v.valid ? ' 유효 ' : ' 유효하지 않음 ',
    el('span', { class: 'en', lang: 'en' }, v.valid ? '/ VALID' : '/ NOT VALID'),
    v.valid ? el('span', { class: 'sub' }, bi(FLOW_LABELS[v.flow], ' · ')) : failedSummary(v.checks),
  );
  byId('details').replaceChildren(
    j.proxy === null ? '' : proxySection(j.proxy),
    checksSection(v.checks),
    certificateSection(v),
    witnessSection(v, j.policy),
    statusSection(v, j.status),
    claimsSection(v),
  );
}

function proxySection(d: ProxyDecision): HTMLElement {
  const reason = d.reasons[0];
  const shown = d.allowed ? d.members.filter((m) => m.eligible) : d.members;
  const rows = shown.map((m: ProxyMember) =>
    el(
      'tr',
      { 'data-testid': `proxy-member-${m.number}` },
      el('td', {}, String(m.number)),
      el('td', {}, m.relation),
      el('td', {}, m.birthDate),
      el('td', { 'data-testid': `proxy-age-${m.number}` }, `만 ${m.age}세 / ${m.age}`),
      el('td', {}, m.eligible ? bi({ ko: '대상', en: 'eligible' }) : bi({ ko: '대상 아님', en: 'not eligible' })),
    ),
  );
  return el(
    'section',
    { class: `proxy ${d.allowed ? 'allowed' : 'refused'}`, 'data-testid': 'proxy', 'data-allowed': String(d.allowed) },
    el('h3', {}, bi({ ko: '공적 마스크 대리구매', en: 'Public mask proxy purchase' })),
    el('p', { class: 'decision', 'data-testid': 'proxy-decision' }, d.allowed ? '가능 ' : '불가 ', el('span', { class: 'en', lang: 'en' }, d.allowed ? '/ ALLOWED' : '/ REFUSED')),
    reason === undefined ? '' : el('p', { 'data-testid': 'proxy-reason' }, bi(PROXY_REASON_LABELS[reason], ' — '), ' ', el('code', {}, reason)),
    el('p', { class: 'hint' }, bi({ ko: `판단 기준일 ${d.checkDate} (한국 시간)`, en: `as of ${d.checkDate}, Korea time` })),
    rows.length === 0
      ? ''
      : table(
          [
            { ko: '세대원', en: 'Member' },
            { ko: '관계', en: 'Relation' },
            { ko: '생년월일', en: 'Date of birth' },
            { ko: '나이', en: 'Age' },
            { ko: '대상', en: 'Eligible' },
          ],
          rows,
          'proxy-members',
        ),
  );
}

function checksSection(checks: Check[]): HTMLElement {
  const rows = checks.map((c) =>
    el(
      'tr',
      { class: c.ok ? 'ok' : 'failed', 'data-testid': `check-${c.name}`, 'data-ok': String(c.ok), 'data-reason': c.reason ?? '' },
      el('th', { scope: 'row' }, bi(CHECK_LABELS[c.name])),
      el('td', { class: c.ok ? 'ok' : 'failed' }, mark(c.ok ? 'ok' : 'bad'), c.ok ? ' 통과 ' : ' 실패 ', el('span', { class: 'en', lang: 'en' }, c.ok ? 'ok' : 'failed')),
      el(
        'td',
        { 'data-testid': `reason-${c.name}` },
        c.reason === null ? '' : el('span', {}, bi(labelOf(REASON_LABELS, c.reason), ' — '), ' ', el('code', {}, c.reason)),
        el('span', { class: 'detail', lang: 'en' }, c.detail),
      ),
    ),
  );
  return el(
    'section',
    { 'aria-labelledby': 'checks-title' },
    el('h3', { id: 'checks-title' }, bi({ ko: '검사 항목', en: 'Checks' })),
    table(
      [
        { ko: '검사', en: 'Check' },
        { ko: '결과', en: 'Result' },
        { ko: '이유', en: 'Reason' },
      ],
      rows,
      'checks',
    ),
  );
}

function certificateSection(v: Verdict): HTMLElement {
  const c = v.certificate;
  const title = docTypeTitle(c.docType);
  return el(
    'section',
    { 'data-testid': 'certificate' },
    el('h3', {}, bi({ ko: '증명서', en: 'Certificate' })),
    facts([
      [{ ko: '문서 종류', en: 'Document type' }, bi(title, ' / '), 'cert-doctype'],
      [{ ko: '발급기관', en: 'Issuer' }, c.issuerName, 'cert-issuer'],
      [{ ko: '증명서 번호', en: 'Certificate id' }, el('code', {}, c.id), 'cert-id'],
      [{ ko: '발급일시', en: 'Issued at' }, formatKst(c.issuedAt), 'cert-issued'],
      [{ ko: '유효기한', en: 'Valid until' }, formatKst(c.validUntil), 'cert-valid-until'],
      [{ ko: '로그 기록 시각', en: 'Anchored at' }, c.anchoredAt === null ? bi({ ko: '확인되지 않음', en: 'not anchored' }) : formatKst(c.anchoredAt), 'cert-anchored'],
      [{ ko: '제시 방식', en: 'Shown as' }, bi(FLOW_LABELS[v.flow], ' / '), 'cert-flow'],
      [{ ko: '전달 횟수', en: 'Transfers' }, String(c.transfers), 'cert-transfers'],
      [{ ko: '발급기관 키', en: 'Issuer key' }, el('code', {}, c.issuer), 'cert-issuer-key'],
    ]),
  );
}

/**
 * witnessSection shows who cosigned the issuance's checkpoint, and when (Korea time),
 * when the verdict was judged by the log's witness policy; or why there is no policy.
 */
function witnessSection(v: Verdict, policy: PolicySource): HTMLElement | string {
  const head = el('h3', {}, bi({ ko: '증인 서명', en: 'Witness cosignatures' }));
  if (policy.source === 'none') return '';
  if (policy.source === 'unusable' || v.witnesses === undefined) {
    const why = policy.source === 'unusable' ? policy.why : '';
    return el('section', { 'data-testid': 'witnesses', 'data-policy': policy.source }, head, el('p', { class: 'notice', 'data-testid': 'witnesses-notice' }, bi({ ko: '로그의 증인 정책을 쓰지 못해 증인 서명 없이 판단했습니다.', en: "The log's witness policy could not be used: judged without it." }), el('span', { class: 'detail', lang: 'en' }, ` ${why}`)));
  }
  const rows = v.witnesses.map((w) => el('tr', { 'data-testid': `witness-${w.name}` }, el('th', { scope: 'row' }, w.name), el('td', {}, formatKst(w.time))));
  return el(
    'section',
    { 'data-testid': 'witnesses', 'data-policy': policy.source },
    head,
    el('p', { class: 'hint' }, bi({ ko: `로그의 증인 정책(증인 ${policy.witnesses}명)에 따라 발급 기록의 체크포인트에 서명한 증인`, en: `Witnesses of the log's policy (${policy.witnesses}) that cosigned the issuance's checkpoint` })),
    rows.length === 0
      ? el('p', { 'data-testid': 'witnesses-none' }, bi({ ko: '정책의 증인 서명 없음', en: 'no cosignature by a witness of the policy' }))
      : table(
          [
            { ko: '증인', en: 'Witness' },
            { ko: '서명 시각', en: 'Cosigned at' },
          ],
          rows,
          'witnesses-table',
        ),
  );
}

function statusSection(v: Verdict, source: StatusSource): HTMLElement {
  const st = v.status;
  const fromLog = source.source === 'log';
  const where: Label = fromLog ? { ko: '방금 로그에서 받은 상태', en: 'fetched from the log now' } : { ko: '제시 자료에 담긴 상태', en: 'the status the presentation carries' };
  return el(
    'section',
    { 'data-testid': 'status', 'data-source': source.source },
    el('h3', {}, bi({ ko: '폐지 여부 상태', en: 'Status' })),
    fromLog || st === null
      ? ''
      : el('p', { class: 'notice', 'data-testid': 'status-notice' }, bi({ ko: `로그의 최신 상태를 쓰지 못해 제시된 상태(${formatAge(st.age).ko})로 판단했습니다.`, en: `Judged with the presented status, ${formatAge(st.age).en}.` }), el('span', { class: 'detail', lang: 'en' }, ` ${source.source === 'presentation' ? source.why : ''}`)),
    st === null
      ? el('p', { 'data-testid': 'status-none' }, bi({ ko: '상태 정보 없음', en: 'no status statement' }), source.source === 'presentation' ? ` (${source.why})` : '')
      : facts([
          [{ ko: '상태', en: 'State' }, bi(STATE_LABELS[st.state as keyof typeof STATE_LABELS] ?? { ko: st.state, en: st.state }, ' / '), 'status-state'],
          [{ ko: '기준 시각', en: 'As of' }, `${formatKst(st.time)} (checkpoint ${st.size})`, 'status-time'],
          [{ ko: '경과', en: 'Age' }, bi(formatAge(st.age), ' / '), 'status-age'],
          [{ ko: '출처', en: 'Source' }, bi(where, ' / '), 'status-source'],
        ]),
  );
}

/** The order a resident registration copy prints its claims in: address, head, applicant, then member by member. */
const TOP_CLAIMS = ['address', 'head', 'applicant'];
const MEMBER_FIELDS = ['name', 'relation', 'birthDate'];

function claimRank(name: string): [number, number, number] {
  const top = TOP_CLAIMS.indexOf(name);
  if (top >= 0) return [0, top, 0];
  const m = /^member\.([1-9]\d?)\.(name|relation|birthDate)$/.exec(name);
  if (m !== null) return [1, Number(m[1]), MEMBER_FIELDS.indexOf(m[2])];
  return [2, 0, 0];
}

function byClaimRank(a: string, b: string): number {
  const [x, y] = [claimRank(a), claimRank(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || (a < b ? -1 : a > b ? 1 : 0);
}

function claimValue(v: CborValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(cborJson(v));
}

function claimsSection(v: Verdict): HTMLElement {
  const head = el('h3', {}, bi({ ko: '공개된 항목', en: 'Disclosed claims' }));
  if (v.claims === null) {
    return el('section', { 'data-testid': 'claims' }, head, el('p', {}, bi({ ko: '문서 내용이 확인되지 않아 항목을 보이지 않습니다.', en: 'Not shown: the document check failed.' })));
  }
  const rows = Object.entries(v.claims)
    .sort(([a], [b]) => byClaimRank(a, b))
    .map(([name, value]) =>
    el('tr', { 'data-testid': `claim-${name}` }, el('th', { scope: 'row' }, bi(claimLabel(name))), el('td', {}, claimValue(value))),
  );
  return el(
    'section',
    { 'data-testid': 'claims' },
    head,
    table(
      [
        { ko: '항목', en: 'Claim' },
        { ko: '값', en: 'Value' },
      ],
      rows,
      'claims-table',
    ),
  );
}

// ---------------------------------------------------------------- wiring

function start(): void {
  const name = byId<HTMLInputElement>('verifier-name');
  name.value = recall(STORE_NAME) ?? DEFAULT_NAME;
  name.addEventListener('input', () => {
    remember(STORE_NAME, name.value);
    void showChallenge();
  });
  const key = byId<HTMLInputElement>('verifier-key');
  key.value = recall(STORE_KEY) ?? '';
  key.addEventListener('change', () => {
    remember(STORE_KEY, key.value.trim());
    try {
      audience();
    } catch {
      // shown next to the field
    }
  });
  document.querySelectorAll<HTMLInputElement>('input[name="mode"]').forEach((r) => {
    r.addEventListener('change', () => r.checked && setMode(r.value as Mode));
    if (r.checked) setMode(r.value as Mode);
  });
  byId('new-challenge').addEventListener('click', newChallenge);
  byId<HTMLFormElement>('paste-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void run(() => presentationFromText(byId<HTMLTextAreaElement>('presentation-text').value));
  });
  const file = byId<HTMLInputElement>('presentation-file');
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    file.value = ''; // the same file again is a new check
    if (f !== undefined) void run(async () => presentationFromFile(await fileBytes(f)));
  });
  const image = byId<HTMLInputElement>('qr-image');
  image.addEventListener('change', () => {
    const f = image.files?.[0];
    image.value = '';
    if (f !== undefined) void run(async () => presentationFromQrText(await qrText(f)));
  });
  void showChallenge();
  void showLog();
  document.body.dataset.ready = 'true';
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
