import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeLedger, type TestLedger, TEST_DOC_TYPES } from './ledger.js';
import { createApp } from '../../src/api/app.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { DojangClient } from '../../src/client/sdk.js';
import type { VerifierKeys } from '../../src/client/verify.js';
import { ed25519PublicKey, randomBytes } from '../../src/core/crypto.js';
import { disclose, newClaim, type Claim } from '../../src/core/commitment.js';
import { householdClaims, RESIDENT_REGISTRATION_COPY, type HouseholdCopy, type HouseholdMember } from '../../src/wallet/doctypes.js';

// A served log with a registered district office that issues resident registration copies
// (spec §12.7), for the view-only PDF tests (spec §12.9): real presentations, real proofs.

const DAY = 86_400;
export const OFFICE_NAME = '종로구청 (Jongno-gu Office)';

export interface ServedLog {
  client: DojangClient;
  /** The log's keys, as a verifier is configured with them. */
  keys: VerifierKeys;
  office: Uint8Array;
  close(): Promise<void>;
}

/** serveLog starts a ledger and its API on a free loopback port and registers the office. */
export async function serveLog(origin: string): Promise<ServedLog> {
  const t: TestLedger = await makeLedger({ docTypes: TEST_DOC_TYPES }, origin);
  const root = (await loadKeys(t.dir)).root!.seed;
  const server: Server = createServer(createApp({ ledger: t.ledger }).callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const client = new DojangClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const office = randomBytes(32);
  await client.registerIssuer(root, ed25519PublicKey(office), OFFICE_NAME, [RESIDENT_REGISTRATION_COPY]);
  return {
    client,
    keys: t.ledger.publicKeys,
    office,
    async close() {
      await new Promise((r) => server.close(r));
      await t.cleanup();
    },
  };
}

/** A household of three: the head, the spouse and a child. */
export const SMALL_HOUSEHOLD: HouseholdCopy = {
  address: '서울특별시 종로구 세종대로 209 (세종로)',
  head: '김민수',
  applicant: 1,
  members: [
    { name: '김민수', relation: '본인', birthDate: '1980-01-01' },
    { name: '이서연', relation: '배우자', birthDate: '1982-03-15' },
    { name: '김하늘', relation: '자녀', birthDate: '2019-05-05' },
  ],
};

const GIVEN = ['지우', '서준', '하은', '도윤', '민준', '서아', '예준', '지호', '수아', '건우', '유나', '시우', '하린', '주원', '은서', '선우'];

/** bigHousehold is a household of n members (an extended family), enough claims for several pages. */
export function bigHousehold(n: number): HouseholdCopy {
  const members: HouseholdMember[] = [{ name: '박정호', relation: '본인', birthDate: '1951-02-11' }];
  for (let i = 1; i < n; i++) {
    const relation = i === 1 ? '배우자' : i < 5 ? '자녀' : i < 9 ? '손자녀' : '기타';
    members.push({ name: `박${GIVEN[i % GIVEN.length]}${i}`, relation, birthDate: `${1950 + ((i * 7) % 70)}-0${1 + (i % 9)}-1${i % 10}` });
  }
  return { address: '부산광역시 해운대구 센텀중앙로 79, 101동 1203호', head: '박정호', applicant: 2, members };
}

export interface Issued {
  id: Uint8Array;
  issue: Uint8Array;
  claims: Claim[];
  holder: Uint8Array;
}

/** issueCopy issues a resident registration copy of the household to a fresh holder key. */
export async function issueCopy(log: ServedLog, household: HouseholdCopy): Promise<Issued> {
  const claims = householdClaims(household).map(([name, value]) => newClaim(name, value));
  const holder = randomBytes(32);
  const r = await log.client.issue(log.office, { docType: RESIDENT_REGISTRATION_COPY, holder: ed25519PublicKey(holder), claims, validUntil: log.client.now() + 90 * DAY });
  return { id: r.id, issue: r.entry, claims, holder };
}

/** viewPresentation presents an issued copy with flow "view", disclosing the named claims (all by default). */
export function viewPresentation(log: ServedLog, c: Issued, show = c.claims.map((x) => x[1])): Promise<Uint8Array> {
  return log.client.present({ issue: c.issue, disclosure: disclose(c.claims, show), holding: { flow: 'view' } });
}
