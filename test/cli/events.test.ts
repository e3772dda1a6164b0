import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSignerKey, parseVerifierKey } from '../../src/core/note.js';
import { parseProofBundle, verifyProofBundle } from '../../src/core/proof-bundle.js';
import { verifyDisclosure } from '../../src/core/commitment.js';
import { fromBase64, toBase64, toHex } from '../../src/core/bytes.js';
import { leafHash } from '../../src/core/merkle.js';
import { decodeDocument } from '../../src/client/document.js';
import { DojangClient } from '../../src/client/sdk.js';
import { serveCli } from '../helpers/cli.js';

// The event commands through the build (npm test builds first; else run `npx tsc -p .`),
// against `dojang serve` on a free port.
const MAIN = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
const DOC = 'kr.gov.resident-registration.copy';
/** A document type the wallet side does not know: its claims are not checked (registered in beforeAll). */
const TEST_DOC = 'dev.dojang.cli-test';
/** A resident registration copy (spec §12.7) as JSON claims. */
const HOUSEHOLD = { address: '서울특별시 종로구 세종대로 209', head: '김민준', applicant: 1, 'member.1.name': '김민준', 'member.1.relation': '본인', 'member.1.birthDate': '1985-04-02', 'member.2.name': '김하은', 'member.2.relation': '자녀', 'member.2.birthDate': '2019-05-05' };
const dirs: string[] = [];
const children: ChildProcess[] = [];
const servers: Server[] = [];

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'dojang-events-'));
  dirs.push(d);
  return d;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** run runs the CLI without blocking this process (a test server may live here). */
function run(args: string[], cwd?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function ok(args: string[]): Promise<any> {
  const r = await run(args);
  expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  expect(r.stderr).toBe('');
  return args.includes('--json') ? JSON.parse(r.stdout) : r.stdout;
}

/** fails expects a non-zero exit with one line on stderr naming the code (any line when undefined). */
async function fails(args: string[], code?: string): Promise<string> {
  const r = await run(args);
  expect(r.status, `${args.join(' ')} should fail; stdout ${r.stdout}`).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(code === undefined ? /^dojang: \S/ : new RegExp(`^dojang: ${code}: `));
  expect(r.stdout).toBe('');
  return lines[0];
}

const serve = async (dir: string): Promise<string> => (await serveCli(dir, children)).base;

let dir: string;
let work: string;
let url: string;
let rootKey: string;
let log: { logKey: string; timestampKey: string; statusKey: string; origin: string };

beforeAll(async () => {
  dir = await tmp();
  work = await tmp();
  url = await serve(dir);
  rootKey = join(dir, 'keys', 'root.key');
  log = await (await fetch(`${url}/v1/log`)).json();
  await ok(['doctype', 'register', '--url', url, '--root-key', rootKey, '--doc-type', TEST_DOC, '--max-days', '365', '--json']);
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const s of servers) await new Promise((r) => s.close(r));
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const file = (name: string) => join(work, name);

async function keygen(name: string): Promise<{ file: string; publicKey: string; publicKeyHex: string; vkey: string; name: string }> {
  return ok(['keygen', '--out', file(name), '--json']);
}

async function claimsFile(name: string, claims: unknown): Promise<string> {
  await writeFile(file(name), JSON.stringify(claims));
  return file(name);
}

async function registeredIssuer(name: string, docTypes = [DOC, TEST_DOC]) {
  const k = await keygen(name);
  await ok(['issuer', 'register', '--url', url, '--root-key', rootKey, '--issuer-key', k.file, '--name', `${name} office`, ...docTypes.flatMap((d) => ['--doc-type', d]), '--json']);
  return k;
}

describe('dojang keygen', () => {
  it('writes a 0600 signer key file, prints its public key three ways, and never overwrites', async () => {
    const j = await ok(['keygen', '--out', file('k1.key'), '--name', 'jongno-office', '--json']);
    expect(j.file).toBe(file('k1.key'));
    expect((await stat(file('k1.key'))).mode & 0o777).toBe(0o600);
    const text = await readFile(file('k1.key'), 'utf8');
    expect(text).toMatch(/^PRIVATE\+KEY\+jongno-office\+[0-9a-f]{8}\+\S+\n$/);
    const k = parseSignerKey(text.trim());
    expect(toBase64(k.publicKey)).toBe(j.publicKey);
    expect(toHex(k.publicKey)).toBe(j.publicKeyHex);
    expect(parseVerifierKey(j.vkey)).toMatchObject({ name: 'jongno-office', type: 1, publicKey: k.publicKey });
    await fails(['keygen', '--out', file('k1.key')], 'CONFLICT');
    expect(await readFile(file('k1.key'), 'utf8')).toBe(text);
    const human = await ok(['keygen', '--out', file('k2.key')]);
    expect(human).toMatch(/public key \(base64\): \S+=\n/);
    expect(human).toMatch(/vkey: +dojang-key\+[0-9a-f]{8}\+/);
    await fails(['keygen', '--out', file('k3.key'), '--name', 'two words'], 'BAD_REQUEST');
    await fails(['keygen'], 'BAD_REQUEST');
    await fails(['keygen', '--out', join(work, 'no', 'such', 'dir.key')], 'BAD_REQUEST');
  });
});

describe('dojang issuer, issue, send, revoke', () => {
  it('tells the whole story with verified receipts and a document the holder can prove', async () => {
    const issuer = await keygen('story-issuer.key');
    // --issuer-key as a public key (the root operator need not hold the issuer's file)
    const reg = await ok(['issuer', 'register', '--url', url, '--root-key', rootKey, '--issuer-key', issuer.vkey, '--name', 'Jongno-gu Office', '--doc-type', DOC, '--doc-type', TEST_DOC, '--json']);
    expect(reg.issuer).toBe(issuer.publicKey);
    expect(reg.receipt.index).toBeGreaterThan(0);
    expect(parseProofBundle(reg.receipt.proof).index).toBe(reg.receipt.index);
    const verifiers = [parseVerifierKey(log.logKey), parseVerifierKey(log.timestampKey)];

    const holder = await keygen('story-holder.key');
    const claims = await claimsFile('story-claims.json', { name: '홍길동', birthYear: 1980, household: [{ relation: 'self', birthYear: 1980 }, { relation: 'child', birthYear: 2010 }], verified: true, note: null });
    const out = file('story.dojang');
    const issued = await ok(['issue', '--url', url, '--issuer-key', issuer.file, '--holder', holder.publicKeyHex, '--doc-type', TEST_DOC, '--claims', claims, '--valid-days', '90', '--out', out, '--json']);
    expect(issued.id).toMatch(/^[0-9a-f]{32}$/);
    expect(issued.validUntil - issued.issuedAt).toBe(90 * 86_400);
    expect(issued.holder).toBe(holder.publicKey);
    expect(issued.document).toBe(out);
    expect(issued.leafHash).toBe(issued.receipt.leafHash);
    expect(issued.receipt.index).toBeGreaterThan(reg.receipt.index);

    // The document: 0600, the exact entry, proved by its bundle, claims that commit.
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const doc = decodeDocument(new Uint8Array(await readFile(out)));
    expect(doc.origin).toBe(log.origin);
    expect(toHex(doc.event.id)).toBe(issued.id);
    expect(toBase64(doc.event.holder)).toBe(holder.publicKey);
    expect(doc.event.docType).toBe(TEST_DOC);
    expect(toBase64(leafHash(doc.issue))).toBe(issued.leafHash);
    const proved = verifyProofBundle(parseProofBundle(doc.proof!), doc.issue, verifiers, { requireAll: true, origin: log.origin });
    expect(proved.checkpoint.size).toBe(issued.receipt.size);
    expect(verifyDisclosure({ claims: doc.claims, digests: doc.digests }, doc.event.commitment)).toEqual({
      name: '홍길동',
      birthYear: 1980,
      household: [
        { relation: 'self', birthYear: 1980 },
        { relation: 'child', birthYear: 2010 },
      ],
      verified: true,
      note: null,
    });

    // The holder sends a copy; the recipient sends it on with the salt it received.
    const alice = await keygen('story-alice.key');
    const sent = await ok(['send', '--url', url, '--key', holder.file, '--id', issued.id, '--parent', issued.leafHash, '--to', alice.vkey, '--json']);
    expect(sent.recipientSalt).toMatch(/^[0-9a-f]{32}$/);
    expect(sent.to).toBe(alice.publicKey);
    expect(sent.receipt.index).toBeGreaterThan(issued.receipt.index);
    const bob = await keygen('story-bob.key');
    const human = await ok(['send', '--url', url, '--key', alice.file, '--id', issued.id, '--parent', toHex(fromBase64(sent.leafHash)), '--sender-salt', sent.recipientSalt, '--to', bob.publicKey]);
    expect(human).toMatch(/^sent certificate [0-9a-f]{32} to /);
    expect(human).toMatch(/recipient salt [0-9a-f]{32}\n/);
    expect(human).toMatch(/index \d+, leaf hash \S+\n/);
    // Alice without her salt is not a holder.
    await fails(['send', '--url', url, '--key', alice.file, '--id', issued.id, '--parent', sent.leafHash, '--to', bob.publicKey], 'NOT_HOLDER');

    const revoked = await ok(['revoke', '--url', url, '--key', issuer.file, '--id', issued.id, '--reason', 'lost wallet', '--json']);
    expect(revoked.id).toBe(issued.id);
    expect(revoked.revoker).toBe(issuer.publicKey);
    await fails(['revoke', '--url', url, '--issuer-key', issuer.file, '--id', issued.id, '--reason', 'again'], 'CERT_REVOKED'); // the older name of --key
    await fails(['send', '--url', url, '--key', holder.file, '--id', issued.id, '--parent', issued.leafHash, '--to', bob.publicKey], 'CERT_REVOKED');

    const st = await new DojangClient(url, log).status(fromHexId(issued.id));
    expect(st.state).toBe('revoked');
    // The status proves the issuance and the revocation, never the transfers (spec §8.7).
    expect(st.events.map((e) => e.index)).toEqual([issued.receipt.index, revoked.receipt.index]);
  });

  it('retires an issuer, which then issues nothing', async () => {
    const issuer = await registeredIssuer('retiring.key');
    const human = await ok(['issuer', 'retire', '--url', url, '--root-key', rootKey, '--issuer-key', issuer.file]);
    expect(human).toMatch(/^retired issuer \S+=\n/);
    const holder = await keygen('retiring-holder.key');
    const claims = await claimsFile('retiring.json', { a: 1 });
    await fails(['issue', '--url', url, '--issuer-key', issuer.file, '--holder', holder.publicKey, '--doc-type', TEST_DOC, '--claims', claims, '--valid-days', '1', '--out', file('retired.dojang')], 'ISSUER_RETIRED');
    await expect(stat(file('retired.dojang'))).rejects.toThrow(); // refused: no document left behind
    await new Promise((r) => setTimeout(r, 1100)); // within the same second the same retirement is the same entry (its first receipt)
    await fails(['issuer', 'retire', '--url', url, '--root-key', rootKey, '--issuer-key', issuer.publicKey], 'ISSUER_RETIRED');
  });

  it('pins the log keys with --log-key, --timestamp-key and --status-key', async () => {
    const pins = ['--log-key', log.logKey, '--timestamp-key', log.timestampKey, '--status-key', log.statusKey];
    const k = await keygen('pinned.key');
    await ok(['issuer', 'register', '--url', url, '--root-key', rootKey, '--issuer-key', k.publicKey, '--name', 'Pinned', '--doc-type', DOC, ...pins, '--json']);
    const other = await tmp();
    const otherLog = await (await fetch(`${await serve(other)}/v1/log`)).json();
    const wrong = ['--log-key', log.logKey, '--timestamp-key', otherLog.timestampKey];
    const k2 = await keygen('pinned2.key');
    await fails(['issuer', 'register', '--url', url, '--root-key', rootKey, '--issuer-key', k2.publicKey, '--name', 'Pinned', '--doc-type', DOC, ...wrong], 'UNKNOWN_KEY');
    await fails(['revoke', '--url', url, '--key', k.file, '--id', '0'.repeat(32), '--log-key', 'not a vkey'], 'MALFORMED');
  });
});

function fromHexId(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16)));
}

describe('dojang present and dojang verify', () => {
  it('sends, shows face to face and copies a certificate; verify judges each offline and against the log', async () => {
    const issuer = await registeredIssuer('present-issuer.key');
    const holder = await keygen('present-holder.key');
    const claims = await claimsFile('present-claims.json', { name: '김민수', rrn: '800101-1234567', household: [{ relation: 'child', birthDate: '2019-05-05' }] });
    const doc = file('present.dojang');
    const issued = await ok(['issue', '--url', url, '--issuer-key', issuer.file, '--holder', holder.publicKeyHex, '--doc-type', TEST_DOC, '--claims', claims, '--valid-days', '90', '--out', doc, '--json']);
    const offline = ['--log-key', log.logKey, '--timestamp-key', log.timestampKey, '--status-key', log.statusKey, '--root-key', (await (await fetch(`${url}/v1/log`)).json()).rootKey];

    // Sent to a pharmacy's key: valid for the pharmacy, and only for it.
    const pharmacy = await keygen('present-pharmacy.key');
    const sent = file('sent.dojang-presentation');
    await ok(['present', '--url', url, '--doc', doc, '--show', 'household', '--key', holder.file, '--to', pharmacy.publicKey, '--out', sent]);
    expect((await stat(sent)).mode & 0o777).toBe(0o600);
    const v = await ok(['verify', sent, ...offline, '--me', pharmacy.file, '--json']);
    expect(v.valid).toBe(true);
    expect(v.certificate.id).toBe(issued.id);
    expect(v.claims).toEqual({ household: [{ relation: 'child', birthDate: '2019-05-05' }] });
    expect(JSON.stringify(v)).not.toContain('800101');
    const human = await ok(['verify', sent, '--url', url, '--me', pharmacy.publicKey]);
    expect(human).toMatch(/^VALID: dev\.dojang\.cli-test [0-9a-f]{32}, issued by "present-issuer\.key office"/);
    expect(human).toMatch(/status active as of checkpoint \d+/);
    const other = await run(['verify', sent, ...offline, '--me', holder.publicKey]);
    expect(other.status).toBe(3);
    expect(other.stderr).toMatch(/^dojang: not valid: holding: NOT_RECIPIENT: /);
    expect(other.stdout).toMatch(/^NOT VALID: /);

    // Face to face: the nonce the verifier showed, signed by the holder key.
    const nonce = 'ab'.repeat(16);
    const shown = file('face.dojang-presentation');
    await ok(['present', '--url', url, '--doc', doc, '--show', 'household', '--key', holder.file, '--verifier', 'Onnuri Pharmacy', '--nonce', nonce, '--out', shown]);
    expect((await ok(['verify', shown, ...offline, '--verifier', 'Onnuri Pharmacy', '--nonce', nonce, '--json'])).valid).toBe(true);
    expect((await run(['verify', shown, ...offline, '--verifier', 'Onnuri Pharmacy', '--nonce', 'cd'.repeat(16)])).status).toBe(3);

    // A view-only copy is never valid; after a revocation, --url knows what the file does not.
    const view = file('view.dojang-presentation');
    await ok(['present', '--url', url, '--doc', doc, '--view', '--out', view]);
    expect((await run(['verify', view, ...offline])).status).toBe(3);
    await ok(['revoke', '--url', url, '--key', issuer.file, '--id', issued.id, '--json']);
    expect((await ok(['verify', shown, ...offline, '--verifier', 'Onnuri Pharmacy', '--nonce', nonce, '--json'])).status.state).toBe('active');
    const online = await run(['verify', shown, '--url', url, '--verifier', 'Onnuri Pharmacy', '--nonce', nonce]);
    expect(online.status).toBe(3);
    expect(online.stderr).toMatch(/not-revoked: CERT_REVOKED/);

    // A status older than --max-status-age is not valid: offline, a later revocation cannot be seen.
    await new Promise((r) => setTimeout(r, 1100));
    const stale = await run(['verify', shown, ...offline, '--verifier', 'Onnuri Pharmacy', '--nonce', nonce, '--max-status-age', '0']);
    expect(stale.status).toBe(3);
    expect(stale.stderr).toMatch(/^dojang: not valid: not-revoked: STATUS_TOO_OLD: the status is \d+ s old/);
    expect(stale.stdout).toMatch(/\n {2}status active as of checkpoint \d+ at \S+ \([1-9]\d* s old; offline/);
    expect((await ok(['verify', shown, ...offline, '--verifier', 'Onnuri Pharmacy', '--nonce', nonce, '--max-status-age', '31536000', '--json'])).valid).toBe(true);
    for (const bad of ['-1', '31536001', '1.5', 'x', '']) await fails(['verify', shown, ...offline, `--max-status-age=${bad}`], 'BAD_REQUEST');

    // Refused before judging: not a presentation, no keys, an existing --out, the wrong key.
    await fails(['verify', doc, ...offline], 'MALFORMED');
    await fails(['verify', sent], 'BAD_REQUEST');
    await fails(['present', '--url', url, '--doc', doc, '--view', '--out', view], 'CONFLICT');
    await fails(['present', '--url', url, '--doc', doc, '--key', pharmacy.file, '--to', holder.publicKey, '--out', file('x.p')], 'BAD_REQUEST');
    await fails(['present', '--url', url, '--doc', doc, '--view', '--to', holder.publicKey, '--out', file('y.p')], 'BAD_REQUEST');
  });
});

describe('claims checked against the document type', () => {
  it('refuses a resident registration copy that is not one, before anything is signed or sent (issue 15)', async () => {
    const issuer = await registeredIssuer('claims-issuer.key');
    const holder = await keygen('claims-holder.key');
    const before = (await (await fetch(`${url}/v1/log`)).json()).size;
    // The issue's example: it went into the log as a 등본.
    const bad = await claimsFile('bad-copy.json', { applicant: 9, 'member.1.birthDate': '1990-02-31' });
    const out = file('bad-copy.dojang');
    const args = (u: string) => ['issue', '--url', u, '--issuer-key', issuer.file, '--holder', holder.publicKey, '--doc-type', DOC, '--claims', bad, '--valid-days', '900', '--out', out];
    const line = await fails(args(url), 'BAD_REQUEST');
    expect(line).toContain('not a kr.gov.resident-registration.copy');
    expect(line).toContain('claim member.1.birthDate is not a real date');
    expect(line).toContain('claim applicant must be the number of a member');
    expect(line).toContain('claim address is missing');
    expect(line).toContain('valid for 900 days, more than the 90 days');
    expect(line).not.toContain('1990'); // it names claims, never their values (personal data)
    await expect(stat(out)).rejects.toThrow();
    // Refused without reaching the log at all: nothing was signed or sent.
    await fails(args('http://127.0.0.1:1'), 'BAD_REQUEST');
    expect((await (await fetch(`${url}/v1/log`)).json()).size).toBe(before);

    const one = async (claims: unknown, days = '90') =>
      fails(['issue', '--url', url, '--issuer-key', issuer.file, '--holder', holder.publicKey, '--doc-type', DOC, '--claims', await claimsFile(`one-${Math.random()}.json`, claims), '--valid-days', days, '--out', file(`one-${Math.random()}.dojang`)], 'BAD_REQUEST');
    const { 'member.2.name': _, ...gap } = HOUSEHOLD;
    expect(await one(gap)).toContain('claim member.2.name is missing (members are numbered 1 to 2 without gaps)');
    expect(await one({ ...HOUSEHOLD, rrn: '850402-1234567' })).toContain('claim "rrn" is not one of a resident registration copy');
    expect(await one({ ...HOUSEHOLD, applicant: 3 })).toContain('claim applicant must be the number of a member (1 to 2)');
    expect(await one({ ...HOUSEHOLD, applicant: '1' })).toContain('claim applicant must be the number of a member');
    expect(await one({ ...HOUSEHOLD, head: ' ' })).toContain('claim head must be non-empty text');
    expect(await one({ ...HOUSEHOLD, 'member.2.birthDate': '2023-02-29' })).toContain('claim member.2.birthDate is not a real date');
    expect(await one(HOUSEHOLD, '91')).toContain('valid for 91 days, more than the 90 days');
    expect((await (await fetch(`${url}/v1/log`)).json()).size).toBe(before);

    // A copy as householdClaims makes it is issued, valid for the type's 90 days by default.
    const good = await ok(['issue', '--url', url, '--issuer-key', issuer.file, '--holder', holder.publicKey, '--doc-type', DOC, '--claims', await claimsFile('good-copy.json', { ...HOUSEHOLD, 'member.2.birthDate': '2024-02-29' }), '--out', file('good-copy.dojang'), '--json']);
    expect(good.validUntil - good.issuedAt).toBe(90 * 86_400);
  });
});

describe('dojang doctype', () => {
  it('registers a document type with its longest validity, signed by the root key', async () => {
    const human = await ok(['doctype', 'register', '--url', url, '--root-key', rootKey, '--doc-type', 'dev.dojang.cli-short', '--max-days', '2']);
    expect(human).toMatch(/^registered document type dev\.dojang\.cli-short: an original is valid at most 2 days \(172800 s\)\n {2}index \d+, leaf hash \S+\n/);
    const issuer = await registeredIssuer('short-issuer.key', ['dev.dojang.cli-short']);
    const holder = await keygen('short-holder.key');
    const claims = await claimsFile('short.json', { a: 1 });
    const issue = (days: string) => ['issue', '--url', url, '--issuer-key', issuer.file, '--holder', holder.publicKey, '--doc-type', 'dev.dojang.cli-short', '--claims', claims, '--valid-days', days, '--out', file(`short-${days}.dojang`), '--json'];
    await fails(issue('3'), 'VALIDITY_TOO_LONG'); // the log's registry decides for a type the wallet side does not know
    await ok(issue('2'));
  });

  it("issuer register refuses a document type the log's registry does not hold unless --force", async () => {
    const reg = await (await fetch(`${url}/v1/doctypes/${DOC}`)).json();
    expect(reg).toEqual({ docType: DOC, maxValidity: 90 * 86_400, registered: expect.any(Number) });
    expect((await fetch(`${url}/v1/doctypes/kr.gov.not-yet.registered`)).status).toBe(404);
    expect((await fetch(`${url}/v1/doctypes/NOT-A-TYPE`)).status).toBe(400);
    const k = await keygen('unknown-type-issuer.key');
    const before = (await (await fetch(`${url}/v1/log`)).json()).size;
    const line = await fails(['issuer', 'register', '--url', url, '--root-key', rootKey, '--issuer-key', k.publicKey, '--name', 'Typo office', '--doc-type', DOC, '--doc-type', 'kr.gov.resident-registraton.copy'], 'UNKNOWN_DOCTYPE');
    expect(line).toContain('kr.gov.resident-registraton.copy');
    expect((await (await fetch(`${url}/v1/log`)).json()).size).toBe(before);
    await ok(['issuer', 'register', '--url', url, '--root-key', rootKey, '--issuer-key', k.publicKey, '--name', 'Forced office', '--doc-type', 'kr.gov.not-yet.registered', '--force', '--json']);
  });
});

describe('dojang issuer retire --compromised-from, issuer succeed, revoke by the entitled keys', () => {
  it('makes the certificates issued from the index on not valid, and lets the successor and the root revoke', async () => {
    const old = await registeredIssuer('old-office.key');
    const holder = await keygen('old-holder.key');
    const stranger = await keygen('old-stranger.key');
    const claims = await claimsFile('old.json', HOUSEHOLD);
    const issue = (n: string) => ok(['issue', '--url', url, '--issuer-key', old.file, '--holder', holder.publicKey, '--doc-type', DOC, '--claims', claims, '--out', file(`old-${n}.dojang`), '--json']);
    const a = await issue('a');
    const b = await issue('b');
    const c = await issue('c');
    const next = await registeredIssuer('new-office.key');
    const root = ['--url', url, '--root-key', rootKey];
    await fails(['issuer', 'succeed', ...root, '--issuer-key', old.publicKey, '--successor', next.publicKey], 'ISSUER_NOT_RETIRED');

    const r = await ok(['issuer', 'retire', ...root, '--issuer-key', old.file, '--compromised-from', String(c.receipt.index), '--json']);
    expect(r.issuer).toBe(old.publicKey);
    expect(r.receipt.index).toBeGreaterThan(c.receipt.index);
    expect(r.compromise.from).toBe(c.receipt.index);
    expect(r.compromise.receipt.index).toBeGreaterThan(r.receipt.index);
    const state = async (id: string) => (await new DojangClient(url, log).status(fromHexId(id))).state;
    expect([await state(a.id), await state(b.id), await state(c.id)]).toEqual(['active', 'active', 'compromised']);
    // Run again with a lower index: the key is retired already, so only the compromise.
    const again = await ok(['issuer', 'retire', ...root, '--issuer-key', old.publicKey, '--compromised-from', String(b.receipt.index)]);
    // (Within the same second the retirement's bytes are the same entry: its first receipt again.)
    expect(again).toMatch(/^(issuer \S+ was retired already|retired issuer \S+)\n/);
    expect(again).toMatch(/\ncompromised from log index \d+: its certificates issued there or later are not valid\n {2}index \d+/);
    expect(await state(b.id)).toBe('compromised');
    // Only lower (an index not used before: the same bytes within a second would be the same entry).
    await fails(['issuer', 'retire', ...root, '--issuer-key', old.publicKey, '--compromised-from', String(c.receipt.index + 1)], 'BAD_COMPROMISE');
    await fails(['issuer', 'retire', ...root, '--issuer-key', old.publicKey], 'ISSUER_RETIRED');

    // A presentation of b is not valid anywhere; a's is.
    const nonce = 'cd'.repeat(16);
    const face = async (n: string) => {
      const p = file(`old-${n}.dojang-presentation`);
      await ok(['present', '--url', url, '--doc', file(`old-${n}.dojang`), '--show', 'applicant', '--key', holder.file, '--verifier', 'Pharmacy', '--nonce', nonce, '--out', p]);
      return run(['verify', p, '--url', url, '--verifier', 'Pharmacy', '--nonce', nonce]);
    };
    const vb = await face('b');
    expect(vb.status).toBe(3);
    expect(vb.stderr).toMatch(/^dojang: not valid: issuer-registered: ISSUER_COMPROMISED: /);
    expect((await face('a')).status).toBe(0);

    // Revocations after the retirement: not by the retired key, nor by a stranger; by its successor and by the root key.
    await fails(['revoke', '--url', url, '--key', old.file, '--id', a.id], 'ISSUER_RETIRED');
    const s = await ok(['issuer', 'succeed', ...root, '--issuer-key', old.publicKey, '--successor', next.file, '--json']);
    expect([s.issuer, s.successor]).toEqual([old.publicKey, next.publicKey]);
    // A second successor (another key: the same bytes within the same second would be the same entry).
    const third = await registeredIssuer('third-office.key');
    await fails(['issuer', 'succeed', ...root, '--issuer-key', old.publicKey, '--successor', third.publicKey], 'CONFLICT');
    await fails(['revoke', '--url', url, '--key', stranger.file, '--id', a.id], 'NOT_ISSUER');
    const byNext = await ok(['revoke', '--url', url, '--key', next.file, '--id', a.id, '--reason', 'the office has a new key', '--json']);
    expect(byNext.revoker).toBe(next.publicKey);
    expect(await ok(['revoke', '--url', url, '--key', rootKey, '--id', b.id])).toMatch(/^revoked certificate [0-9a-f]{32} \(signed by \S+\)\n/);
    expect([await state(a.id), await state(b.id)]).toEqual(['revoked', 'revoked']);
  });
});

describe('dojang audit', () => {
  it('replays the served log, resumes from a saved state, and refuses a directory in use', async () => {
    const state = file('audit.state');
    await registeredIssuer('audit-first.key');
    const first = await ok(['audit', '--url', url, '--state', state, '--json']);
    expect(first.ok).toBe(true);
    expect(first.size).toBeGreaterThan(1);
    expect(first.entries).toBe(first.size);
    expect(first.resumedFrom).toBe(0);
    expect((await stat(state)).mode & 0o777).toBe(0o600);
    await registeredIssuer('audit-issuer.key'); // the log grows
    const second = await ok(['audit', '--url', url, '--state', state, '--json']);
    expect(second.resumedFrom).toBe(first.size);
    expect(second.size).toBeGreaterThan(first.size);
    const human = await ok(['audit', '--url', url]);
    expect(human).toMatch(/^audited http:\/\/127\.0\.0\.1:\d+: log \S+, \d+ entries, all checks hold\n/);
    await fails(['audit', '--data', dir], 'UNAVAILABLE'); // the server holds its LevelDB
    await fails(['audit'], 'BAD_REQUEST');
    // A state of another view than the log shows (here: claiming a longer log) is a finding.
    const { decodeCbor, encodeCbor } = await import('../../src/core/cbor.js');
    const st = decodeCbor(new Uint8Array(await readFile(state)), { maxBytes: 1 << 30 }) as Record<string, unknown>;
    await writeFile(state, encodeCbor({ ...st, size: (st.size as number) + 1000 } as never));
    const r = await run(['audit', '--url', url, '--state', state]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^dojang: audit failed at checkpoint \d+: INCONSISTENT: .*rollback or a split view\)\n$/);
    expect(r.stdout).toMatch(/^evidence:\n/);
  });
});

describe('failure exits', () => {
  let issuer: Awaited<ReturnType<typeof keygen>>;
  let holder: Awaited<ReturnType<typeof keygen>>;
  let claims: string;

  beforeAll(async () => {
    issuer = await registeredIssuer('fail-issuer.key');
    holder = await keygen('fail-holder.key');
    claims = await claimsFile('fail.json', { name: 'x' });
  });

  const issueArgs = (over: Record<string, string | undefined>) => {
    const a: Record<string, string | undefined> = { url, 'issuer-key': issuer.file, holder: holder.publicKey, 'doc-type': TEST_DOC, claims, 'valid-days': '30', out: file(`fail-${Math.random()}.dojang`), ...over };
    return ['issue', ...Object.entries(a).flatMap(([k, v]) => (v === undefined ? [] : [`--${k}`, v]))];
  };

  it('refuses bad arguments before sending anything', async () => {
    const before = (await (await fetch(`${url}/v1/log`)).json()).size;
    await fails(issueArgs({ url: undefined }), 'BAD_REQUEST');
    await fails(issueArgs({ url: 'ftp://example.com' }), 'BAD_REQUEST');
    await fails(issueArgs({ holder: 'nope' }), 'MALFORMED');
    await fails(issueArgs({ holder: toHex(new Uint8Array(32)) }), 'BAD_KEY');
    await fails(issueArgs({ 'valid-days': '0' }), 'BAD_REQUEST');
    await fails(issueArgs({ 'valid-days': '1.5' }), 'BAD_REQUEST');
    await fails(issueArgs({ 'doc-type': 'Not A Doc Type' }), 'BAD_REQUEST');
    await fails(issueArgs({ claims: await claimsFile('float.json', { height: 172.5 }) }), 'BAD_REQUEST');
    await fails(issueArgs({ claims: await claimsFile('array.json', [1, 2]) }), 'BAD_REQUEST');
    await fails(issueArgs({ claims: await claimsFile('longname.json', { ['n'.repeat(65)]: 1 }) }), 'BAD_REQUEST');
    await fails(issueArgs({ claims: file('missing.json') }), 'BAD_REQUEST');
    await fails(issueArgs({ 'issuer-key': file('missing.key') }), 'BAD_REQUEST');
    await fails(issueArgs({ 'issuer-key': join(dir, 'keys', 'timestamp.key') }), 'BAD_REQUEST'); // a 0x04 key signs no events
    await writeFile(file('taken.dojang'), 'mine');
    await fails(issueArgs({ out: file('taken.dojang') }), 'CONFLICT');
    expect(await readFile(file('taken.dojang'), 'utf8')).toBe('mine');
    await fails(['issue', '--url', url, '--bogus']);
    await fails(['send', '--url', url, '--key', holder.file, '--id', 'xyz', '--parent', toBase64(new Uint8Array(32)), '--to', holder.publicKey], 'BAD_REQUEST');
    await fails(['send', '--url', url, '--key', holder.file, '--id', '0'.repeat(32), '--parent', 'short', '--to', holder.publicKey], 'BAD_REQUEST');
    await fails(['send', '--url', url, '--key', holder.file, '--id', '0'.repeat(32), '--parent', toBase64(new Uint8Array(32)), '--sender-salt', 'ab', '--to', holder.publicKey], 'BAD_REQUEST');
    await fails(['revoke', '--url', url, '--key', issuer.file, '--id', '0'.repeat(32), '--reason', 'x'.repeat(129)], 'BAD_REQUEST');
    await fails(['revoke', '--url', url, '--id', '0'.repeat(32)], 'BAD_REQUEST'); // no revoker
    await fails(['revoke', '--url', url, '--key', issuer.file, '--issuer-key', issuer.file, '--id', '0'.repeat(32)], 'BAD_REQUEST'); // two
    await fails(issueArgs({ 'valid-days': undefined }), 'BAD_REQUEST'); // required for a type the wallet side does not know
    await fails(issueArgs({ 'doc-type': DOC, claims: await claimsFile('long.json', HOUSEHOLD), 'valid-days': '91' }), 'BAD_REQUEST'); // a 등본 is valid 90 days
    await fails(['doctype', 'register', '--url', url, '--root-key', rootKey, '--doc-type', 'Not A Doc Type', '--max-days', '1'], 'BAD_REQUEST');
    for (const days of ['0', '3661', '1.5', 'x']) await fails(['doctype', 'register', '--url', url, '--root-key', rootKey, '--doc-type', TEST_DOC, '--max-days', days], 'BAD_REQUEST');
    await fails(['doctype', 'frobnicate'], 'BAD_REQUEST');
    await fails(['issuer', 'retire', '--url', url, '--root-key', rootKey, '--issuer-key', issuer.publicKey, '--compromised-from=-1'], 'BAD_REQUEST');
    await fails(['issuer', 'frobnicate'], 'BAD_REQUEST');
    await fails(['issuer', 'register', '--url', url, '--root-key', rootKey, '--issuer-key', holder.publicKey, '--name', 'No types'], 'BAD_REQUEST');
    expect((await (await fetch(`${url}/v1/log`)).json()).size).toBe(before);
  });

  it("passes on the log's refusals and removes the refused document", async () => {
    const out = file('refused.dojang');
    await fails(issueArgs({ 'doc-type': 'kr.gov.not-registered.doc', out }), 'DOCTYPE_NOT_ALLOWED');
    await expect(stat(out)).rejects.toThrow();
    await fails(['issuer', 'register', '--url', url, '--root-key', holder.file, '--issuer-key', holder.publicKey, '--name', 'Not by the root', '--doc-type', DOC], 'BAD_SIGNATURE');
    await fails(['revoke', '--url', url, '--key', issuer.file, '--id', '0'.repeat(32)], 'UNKNOWN_CERT');
    await fails(['doctype', 'register', '--url', url, '--root-key', holder.file, '--doc-type', TEST_DOC, '--max-days', '1'], 'BAD_SIGNATURE');
  });

  it('says UNAVAILABLE when the log cannot be reached', async () => {
    await fails(issueArgs({ url: 'http://127.0.0.1:1' }), 'UNAVAILABLE');
  });

  it('keeps the document, without a proof, when the outcome is unknown (a receipt that does not verify)', async () => {
    // A server in front of the log that corrupts the receipt's leaf hash.
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const up = await fetch(url + req.url, { method: req.method, headers: req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
      let text = await up.text();
      if (req.method === 'POST' && up.ok) {
        const r = JSON.parse(text);
        r.leafHash = toBase64(new Uint8Array(32));
        text = JSON.stringify(r);
      }
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    });
    servers.push(proxy);
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const bad = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const out = file('unknown.dojang');
    const line = await fails(issueArgs({ url: bad, out }), 'INVALID_PROOF');
    expect(line).toContain(out);
    const doc = decodeDocument(new Uint8Array(await readFile(out)));
    expect(doc.proof).toBeNull();
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    // The entry did reach the log: resubmitted, it gets its (verified) receipt.
    const receipt = await new DojangClient(url, log).submit(doc.issue);
    expect(receipt.leafHash).toEqual(leafHash(doc.issue));
  });
});
