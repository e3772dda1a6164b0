import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, serveCli } from '../helpers/cli.js';
import { freshDatabase, testStoreKind } from '../helpers/postgres.js';
import { policyText, startWitness, type RunningWitness } from '../helpers/witnesses.js';
import { formatVerifierKey, SIG_TYPE_COSIGNATURE_V1 } from '../../src/core/note.js';
import { ed25519PublicKey } from '../../src/core/crypto.js';

// dojang verify --policy and dojang audit --policy (spec §10.2, §11, §13.3) through the
// build, against `dojang serve --policy` with three real witnesses (in this process, over
// HTTP) and a 2-of-3 policy: who cosigned and when, in the human output and in --json;
// failing verdicts and audits under policies the log's checkpoints do not meet.

const ORIGIN = 'localhost/dojang-cli-witnessed';
const DOC = 'kr.gov.resident-registration.copy';
const children: ChildProcess[] = [];
const witnesses: RunningWitness[] = [];
let dir: string;
let work: string;
let url: string;
let presentation: string;
let twoOfThree: string;
/** A policy whose quorum needs, besides the three, a witness that never cosigned this log. */
let absent: string;
/** A policy of another log. */
let otherLog: string;
let storeArgs: string[];
const NONCE = 'ab'.repeat(16);

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  return args.includes('--json') ? JSON.parse(r.stdout) : r.stdout;
}

const file = (name: string) => join(work, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dojang-cli-witnessed-'));
  work = await mkdtemp(join(tmpdir(), 'dojang-cli-witnessed-work-'));
  const store = testStoreKind() === 'postgres' ? ['--store', await freshDatabase()] : [];
  storeArgs = store;
  const init = await ok(['init', '--data', dir, ...store, '--origin', ORIGIN, '--json']);
  for (let i = 0; i < 3; i++) witnesses.push(await startWitness(i, ORIGIN, init.logKey));
  twoOfThree = file('two-of-three.policy');
  await writeFile(twoOfThree, policyText(init.logKey, witnesses, '2'));
  const stranger = formatVerifierKey({ name: 'witness.test/stranger', type: SIG_TYPE_COSIGNATURE_V1, publicKey: ed25519PublicKey(new Uint8Array(32).fill(77)) });
  absent = file('absent.policy');
  await writeFile(absent, `log ${init.logKey}\n${witnesses.map((w, i) => `witness W${i} ${w.vkey}\n`).join('')}witness S ${stranger}\ngroup G all W0 W1 W2 S\nquorum G\n`);
  otherLog = file('other-log.policy');
  const otherKey = formatVerifierKey({ name: 'example.com/other', type: 1, publicKey: ed25519PublicKey(new Uint8Array(32).fill(78)) });
  await writeFile(otherLog, `log ${otherKey}\nquorum none\n`);
  url = (await serveCli(dir, children, { store, args: ['--policy', twoOfThree] })).base;

  const rootKey = join(dir, 'keys', 'root.key');
  await ok(['keygen', '--out', file('issuer.key'), '--json']);
  const holder = await ok(['keygen', '--out', file('holder.key'), '--json']);
  await ok(['issuer', 'register', '--url', url, '--root-key', rootKey, '--issuer-key', file('issuer.key'), '--name', 'Witnessed office', '--doc-type', DOC, '--json']);
  await writeFile(file('claims.json'), JSON.stringify({ address: '서울특별시 종로구 세종대로 209', head: '김민수', applicant: 1, 'member.1.name': '김민수', 'member.1.relation': '본인', 'member.1.birthDate': '1980-01-01' }));
  await ok(['issue', '--url', url, '--issuer-key', file('issuer.key'), '--holder', holder.publicKeyHex, '--doc-type', DOC, '--claims', file('claims.json'), '--valid-days', '90', '--out', file('doc.dojang'), '--json']);
  presentation = file('face.dojang-presentation');
  await ok(['present', '--url', url, '--doc', file('doc.dojang'), '--show', 'head', '--key', file('holder.key'), '--verifier', 'Onnuri Pharmacy', '--nonce', NONCE, '--out', presentation]);
}, 120_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const w of witnesses) await w.stop();
  for (const d of [dir, work]) if (d !== undefined) await rm(d, { recursive: true, force: true });
});

const faceArgs = () => ['--url', url, '--verifier', 'Onnuri Pharmacy', '--nonce', NONCE];

describe('dojang verify --policy', () => {
  it('reports who cosigned and when, in --json and in the human output', async () => {
    const v = await ok(['verify', presentation, ...faceArgs(), '--policy', twoOfThree, '--json']);
    expect(v.valid).toBe(true);
    expect(v.checks.find((c: { name: string }) => c.name === 'witnessed')).toMatchObject({ ok: true, reason: null });
    expect(v.witnesses.length).toBeGreaterThanOrEqual(2);
    for (const w of v.witnesses) {
      expect(w.name).toMatch(/^W[012]$/);
      expect(Math.abs(w.time - Date.now() / 1000)).toBeLessThan(300);
    }
    const human = await ok(['verify', presentation, ...faceArgs(), '--policy', twoOfThree]);
    expect(human).toMatch(/\n {2}ok {3}witnessed {10}the checkpoints of all 2 entries and of the status statement meet the witness policy/);
    expect(human).toMatch(/\n {2}witnessed by W\d at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z, W\d at /);
    // Without --policy: no witnessed check, no report.
    const plain = await ok(['verify', presentation, ...faceArgs(), '--json']);
    expect(plain.valid).toBe(true);
    expect(plain).not.toHaveProperty('witnesses');
    expect(plain.checks.map((c: { name: string }) => c.name)).not.toContain('witnessed');
  });

  it('fails (exit 3) under a policy the checkpoints do not meet, or of another log; refuses a bad policy file', async () => {
    const r = await run(['verify', presentation, ...faceArgs(), '--policy', absent]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^dojang: not valid: witnessed: NOT_WITNESSED: the checkpoint of the registration \(size \d+\) does not meet the witness policy: cosigned by W\d at \S+Z, W\d at .*; group G needs 4 of W0, W1, W2, S and has [23]\n$/);
    expect(r.stdout).toMatch(/^NOT VALID: /);
    expect(r.stdout).toMatch(/\n {2}witnessed by W\d at /);
    const o = await run(['verify', presentation, ...faceArgs(), '--policy', otherLog, '--json']);
    expect(o.status).toBe(3);
    expect(JSON.parse(o.stdout).witnesses).toEqual([]);
    expect(o.stderr).toMatch(/witnessed: UNKNOWN_LOG: .*the policy lists no log with origin/);
    await writeFile(file('bad.policy'), `log ${'x'}\nquorum none\n`);
    const bad = await run(['verify', presentation, ...faceArgs(), '--policy', file('bad.policy')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^dojang: MALFORMED: --policy \S+bad\.policy: policy line 1: not a verifier key/);
    const missing = await run(['verify', presentation, ...faceArgs(), '--policy', file('none.policy')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^dojang: BAD_REQUEST: --policy: cannot read /);
  });
});

describe('dojang audit --policy', () => {
  it('reports who cosigned the latest checkpoint and when, and fails when it does not meet the policy', async () => {
    const a = await ok(['audit', '--url', url, '--policy', twoOfThree, '--json']);
    expect(a.ok).toBe(true);
    expect(a.witnessed.latest.quorum).toBe(true);
    expect(a.witnessed.latest.size).toBe(a.size);
    expect(a.witnessed.latest.witnesses.length).toBeGreaterThanOrEqual(2);
    expect(a.witnessed.given).toEqual([]);
    const human = await ok(['audit', '--url', url, '--policy', twoOfThree]);
    expect(human).toMatch(/\n {2}latest checkpoint \d+ meets the witness policy: witnessed by W\d at \S+Z, W\d at /);
    // A checkpoint given from elsewhere (the served one, saved) is reported too.
    await writeFile(file('seen.checkpoint'), new Uint8Array(await (await fetch(`${url}/checkpoint`)).arrayBuffer()));
    const given = await ok(['audit', '--url', url, '--policy', twoOfThree, '--checkpoint', file('seen.checkpoint'), '--json']);
    expect(given.witnessed.given).toHaveLength(1);
    expect(given.witnessed.given[0].quorum).toBe(true);

    const r = await run(['audit', '--url', url, '--policy', absent]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^dojang: audit failed at the latest checkpoint: NOT_WITNESSED: size \d+ does not meet the witness policy: cosigned by W\d at \S+Z, W\d at .*; group G needs 4 of W0, W1, W2, S and has [23]\n$/);
    expect(r.stdout).toMatch(/^evidence:\nlocalhost\/dojang-cli-witnessed\n\d+\n/);
    const j = await run(['audit', '--url', url, '--policy', absent, '--json']);
    expect(j.status).toBe(3);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, where: 'the latest checkpoint', code: 'NOT_WITNESSED' });
    const o = await run(['audit', '--url', url, '--policy', otherLog]);
    expect(o.status).toBe(3);
    expect(o.stderr).toMatch(/^dojang: audit failed at the latest checkpoint: UNKNOWN_KEY: under the witness policy: the policy lists no log with origin/);
  });
});

describe('dojang audit --data --policy', () => {
  it('judges the witnessed checkpoint the ledger keeps (spec §13.5), checked against the log', async () => {
    const served = JSON.parse((await run(['audit', '--url', url, '--policy', twoOfThree, '--json'])).stdout);
    // The server must be gone before a LevelDB directory can be opened.
    for (const c of children.splice(0)) {
      const gone = new Promise((res) => c.once('exit', res));
      c.kill('SIGKILL');
      await gone;
    }
    const a = await ok(['audit', '--data', dir, ...storeArgs, '--policy', twoOfThree, '--json']);
    expect(a.ok).toBe(true);
    expect(a.witnessed.latest.quorum).toBe(true);
    expect(a.witnessed.latest.size).toBe(served.witnessed.latest.size);
    expect(a.witnessed.latest.witnesses.length).toBeGreaterThanOrEqual(2);
    const r = await run(['audit', '--data', dir, ...storeArgs, '--policy', absent]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/NOT_WITNESSED: size \d+ does not meet the witness policy/);
  }, 60_000);
});
