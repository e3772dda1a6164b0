/**
 * The witness (c2sp.org/tlog-witness, spec §13) against checkpoints and consistency
 * proofs of a real dojang ledger, and of a forked copy of it; then `dojang witness` as a
 * process, killed with SIGKILL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeLedger, entry, copyLedger, type TestLedger } from '../helpers/ledger.js';
import { MAIN } from '../helpers/cli.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { FileGuard } from '../../src/ledger/guard.js';
import { Witness, MAX_PROOF_LINES, TLOG_SIZE_TYPE, parseRequest } from '../../src/witness/witness.js';
import { WitnessState, EVIDENCE_PER_CHECKPOINT } from '../../src/witness/state.js';
import { cosignatureVerifier, cosignedTime } from '../../src/core/cosignature.js';
import { ed25519Signer, openNote, parseVerifierKey, type NoteVerifier } from '../../src/core/note.js';
import { toBase64, utf8, fromUtf8 } from '../../src/core/bytes.js';

const SEED = new Uint8Array(32).fill(0x57);
const NAME = 'witness.test/w1';
let t: TestLedger;
let logKey: NoteVerifier;
/** Checkpoints of the ledger by size, as first signed. */
const cps = new Map<number, Uint8Array>();
let sizes: number[];
const dirs: string[] = [];

beforeAll(async () => {
  t = await makeLedger({}, 'localhost/dojang-bench-witness');
  for (let round = 0; round < 4; round++) await Promise.all(Array.from({ length: 20 + round }, (_, i) => t.ledger.append(entry(round * 100 + i))));
  for (const c of await t.ledger.checkpoints(0, 1000)) cps.set(c.size, c.checkpoint);
  sizes = [...cps.keys()].sort((a, b) => a - b);
  logKey = parseVerifierKey(t.ledger.publicKeys.logKey);
}, 60_000);

afterAll(async () => {
  await t.cleanup();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function witness(now = () => 1_800_000_000): Promise<{ w: Witness; state: WitnessState; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'dojang-witness-'));
  dirs.push(dir);
  const state = new WitnessState(join(dir, 'state'));
  await state.open();
  const w = new Witness({ name: NAME, seed: SEED, logs: new Map([[t.ledger.origin, [logKey]]]), state, now });
  return { w, state, dir };
}

function request(old: number, proof: Uint8Array[], note: Uint8Array): Uint8Array {
  return utf8(`old ${old}\n${proof.map((h) => toBase64(h) + '\n').join('')}\n${fromUtf8(note)}`);
}

async function proofFor(l: Ledger, from: number, to: number): Promise<Uint8Array[]> {
  return from === 0 || from === to ? [] : l.consistencyProof(from, to);
}

describe('witness (tlog-witness add-checkpoint)', () => {
  it('cosigns a first checkpoint and then only consistent ones, each after its state is stored', async () => {
    const { w, state } = await witness();
    const [s1, s2, s3] = [sizes[1], sizes[2], sizes[sizes.length - 1]];
    const first = await w.addCheckpoint(request(0, [], cps.get(s1)!));
    expect(first.status).toBe(200);
    // The answer is one cosignature line; appended to the checkpoint, it verifies.
    const v = cosignatureVerifier(NAME, w.publicKey);
    const opened = openNote(utf8(fromUtf8(cps.get(s1)!) + first.body), [logKey, v], { requireAll: true });
    expect(cosignedTime(opened.verified.find((s) => s.name === NAME)!)).toBe(1_800_000_000);
    expect(first.body).toMatch(/^\u2014 witness\.test\/w1 [A-Za-z0-9+/=]+\n$/);
    expect((await state.get(t.ledger.origin))?.size).toBe(s1);
    // The client that does not know the witness's state learns it from a 409.
    const stale = await w.addCheckpoint(request(0, [], cps.get(s2)!));
    expect(stale).toEqual({ status: 409, contentType: TLOG_SIZE_TYPE, body: `${s1}\n` });
    expect((await w.addCheckpoint(request(s1, await proofFor(t.ledger, s1, s2), cps.get(s2)!))).status).toBe(200);
    expect((await w.addCheckpoint(request(s2, await proofFor(t.ledger, s2, s3), cps.get(s3)!))).status).toBe(200);
    // The same checkpoint again (same size, same root): cosigned again.
    expect((await w.addCheckpoint(request(s3, [], cps.get(s3)!))).status).toBe(200);
    expect((await state.get(t.ledger.origin))?.size).toBe(s3);
    expect(fromUtf8((await w.latest(t.ledger.origin))!)).toContain(`\u2014 ${NAME} `);
    await state.close();
  });

  it('answers every refusal with the status code the spec gives, and changes nothing', async () => {
    const { w, state } = await witness();
    const [s1, s2] = [sizes[1], sizes[3]];
    expect((await w.addCheckpoint(request(0, [], cps.get(s1)!))).status).toBe(200);
    const good = await proofFor(t.ledger, s1, s2);
    const bad = good.map((h, i) => (i === 0 ? Uint8Array.from(h, (b, j) => (j === 0 ? b ^ 1 : b)) : h));
    const other = ed25519Signer(t.ledger.origin, new Uint8Array(32).fill(3));
    const note = fromUtf8(cps.get(s2)!);
    const text = note.slice(0, note.indexOf('\n\n') + 1);
    const foreign = utf8(`${text}\n\u2014 ${other.name} ${toBase64(new Uint8Array([...other.keyId, ...other.sign(utf8(text))]))}\n`);
    const tampered = utf8(note.replace(/\n(\d+)\n/, (_, n) => `\n${Number(n) + 1}\n`));
    const cases: [string, Uint8Array, number][] = [
      ['unknown origin', request(s1, good, utf8(note.replace(t.ledger.origin, 'example.com/other'))), 404],
      ['signed by another key', request(s1, good, foreign), 403],
      ['its signature does not verify', request(s1, good, tampered), 403],
      ['old size above the checkpoint', request(s2 + 1, [], cps.get(s2)!), 400],
      ['proof that does not verify', request(s1, bad, cps.get(s2)!), 422],
      ['old size 0 when the witness has cosigned', request(0, [], cps.get(s2)!), 409],
      ['no newline at the end of a line', utf8(`old ${s1}`), 400],
      ['old with a leading zero', utf8(`old 0${s1}\n\n${note}`), 400],
      ['a proof line that is not base64', utf8(`old ${s1}\n!!!\n\n${note}`), 400],
      ['a proof line that is not 32 bytes', utf8(`old ${s1}\n${toBase64(new Uint8Array(31))}\n\n${note}`), 400],
      [`${MAX_PROOF_LINES + 1} proof lines`, request(s1, Array.from({ length: MAX_PROOF_LINES + 1 }, () => new Uint8Array(32)), cps.get(s2)!), 400],
      ['no checkpoint', utf8(`old ${s1}\n\n`), 400],
    ];
    for (const [what, body, status] of cases) {
      const a = await w.addCheckpoint(body);
      expect(a.status, what).toBe(status);
      expect((await state.get(t.ledger.origin))?.size, what).toBe(s1);
    }
    // The refused request with a good log signature was kept as evidence.
    const ev = await state.evidences(t.ledger.origin, 1000);
    expect(ev.map((e) => e.reason)).toEqual([expect.stringMatching(/does not verify/)]);
    await state.close();
    // A fresh witness: a proof from size 0 must be empty.
    const fresh = await witness();
    expect((await fresh.w.addCheckpoint(request(0, good, cps.get(s2)!))).status).toBe(422);
    expect(await fresh.state.get(t.ledger.origin)).toBeUndefined();
    await fresh.state.close();
  });

  it('refuses a forked copy of the log: 409 at the same size, 422 beyond it, and keeps both as evidence', async () => {
    await t.ledger.close();
    const fork = await copyLedger(t, await mkdtemp(join(tmpdir(), 'dojang-witness-fork-')));
    dirs.push(fork.dir);
    const open = async (dir: string, store = fork.store()) => {
      await store.open();
      return Ledger.open({ store, keys: await loadKeys(dir), guard: FileGuard.inDir(dir) });
    };
    const a = await t.reopen();
    const b = await open(fork.dir);
    try {
      const base = a.head.size;
      await Promise.all(Array.from({ length: 10 }, (_, i) => a.append(entry(50_000 + i))));
      await Promise.all(Array.from({ length: 10 }, (_, i) => b.append(entry(60_000 + i))));
      await Promise.all(Array.from({ length: 10 }, (_, i) => b.append(entry(70_000 + i))));
      const { w, state } = await witness();
      expect((await w.addCheckpoint(request(0, [], cps.get(sizes[1])!))).status).toBe(200);
      expect((await w.addCheckpoint(request(sizes[1], await proofFor(a, sizes[1], a.head.size), a.head.checkpoint))).status).toBe(200);
      // B at A's size: another root.
      const [bAtSize] = await b.checkpoints(a.head.size, 1);
      expect(bAtSize.size).toBe(a.head.size);
      expect((await w.addCheckpoint(request(a.head.size, [], bAtSize.checkpoint))).status).toBe(409);
      // B beyond it, with B's own proof from A's size: does not verify against what the witness saw.
      expect((await w.addCheckpoint(request(a.head.size, await proofFor(b, a.head.size, b.head.size), b.head.checkpoint))).status).toBe(422);
      expect((await state.get(a.origin))?.size).toBe(a.head.size);
      expect((await state.evidences(a.origin, 1000)).length).toBe(2);
      expect(base).toBeGreaterThan(sizes[1]);
      await state.close();
    } finally {
      await b.close();
      await fork.drop();
    }
  });

  it('never rolls back: of two requests from one old size, one is cosigned and the other gets 409', async () => {
    const { w, state } = await witness();
    expect((await w.addCheckpoint(request(0, [], cps.get(sizes[0])!))).status).toBe(200);
    const [x, y] = [sizes[2], sizes[3]];
    // Both bodies ready before either is sent: the two checks really overlap.
    const [bodyY, bodyX] = [request(sizes[0], await proofFor(t.ledger, sizes[0], y), cps.get(y)!), request(sizes[0], await proofFor(t.ledger, sizes[0], x), cps.get(x)!)];
    const answers = await Promise.all([w.addCheckpoint(bodyY), w.addCheckpoint(bodyX)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect((await state.get(t.ledger.origin))?.size).toBe(y);
    await state.close();
  });
});

describe('witness edge cases (review findings)', () => {
  it('refuses another root at size 0 too (409), and stores the note without its own cosignature lines', async () => {
    const { w, state } = await witness();
    const seed = (await loadKeys(t.dir)).log.seed;
    const signer = ed25519Signer(t.ledger.origin, seed);
    const note = (size: number, fill: number) => {
      const text = `${t.ledger.origin}\n${size}\n${toBase64(new Uint8Array(32).fill(fill))}\n`;
      return utf8(`${text}\n\u2014 ${signer.name} ${toBase64(new Uint8Array([...signer.keyId, ...signer.sign(utf8(text))]))}\n`);
    };
    expect((await w.addCheckpoint(request(0, [], note(0, 0xaa)))).status).toBe(200);
    expect((await w.addCheckpoint(request(0, [], note(0, 0xbb)))).status).toBe(409);
    expect((await state.get(t.ledger.origin))?.root).toEqual(new Uint8Array(32).fill(0xaa));
    // A log resubmits a checkpoint that already carries this witness's cosignature.
    const s1 = sizes[1];
    expect((await w.addCheckpoint(request(0, [], cps.get(s1)!))).status).toBe(200); // from size 0 anything extends
    const fresh = await witness();
    const line = (await fresh.w.addCheckpoint(request(0, [], cps.get(s1)!))).body;
    const again = await fresh.w.addCheckpoint(request(s1, [], utf8(fromUtf8(cps.get(s1)!) + line)));
    expect(again.status).toBe(200);
    const latest = (await fresh.w.latest(t.ledger.origin))!;
    expect(fromUtf8(latest).split(`\u2014 ${NAME} `).length).toBe(2); // one line by this witness
    openNote(latest, [logKey, cosignatureVerifier(NAME, fresh.w.publicKey)], { requireAll: true });
    await state.close();
    await fresh.state.close();
  });

  it('keeps only the lines it verified: a checkpoint replayed with 100 KB of foreign lines cannot break it (found by review)', async () => {
    const { w, state } = await witness();
    const [s1, s2, s3] = [sizes[1], sizes[2], sizes[3]];
    expect((await w.addCheckpoint(request(0, [], cps.get(s1)!))).status).toBe(200);
    const pad = (note: Uint8Array) => utf8(fromUtf8(note) + Array.from({ length: 80 }, (_, i) => `\u2014 junk${i} ${toBase64(new Uint8Array(1300).fill(i & 0xff))}\n`).join(''));
    // Anyone may resend the latest checkpoint (same size, same root): cosigned again, stored as verified.
    expect((await w.addCheckpoint(request(s1, [], pad(cps.get(s1)!)))).status).toBe(200);
    // A checkpoint that does not extend it, padded too: refused, and kept as evidence without the padding.
    expect((await w.addCheckpoint(request(s1, [new Uint8Array(32).fill(1)], pad(cps.get(s2)!)))).status).toBe(422);
    // The log goes on as before, and the monitoring answers still work.
    expect((await w.addCheckpoint(request(s1, await proofFor(t.ledger, s1, s3), cps.get(s3)!))).status).toBe(200);
    expect(fromUtf8((await w.latest(t.ledger.origin))!)).not.toMatch(/junk/);
    const ev = await w.evidence(t.ledger.origin);
    expect(JSON.stringify(ev)).not.toMatch(/junk/);
    await state.close();
  });

  it('keeps each refused request once, at most EVIDENCE_PER_CHECKPOINT per checkpoint: a flood cannot fill the disk, and the first sender does not take the only slot (found by review)', async () => {
    const { w, state } = await witness();
    const [s1, s2] = [sizes[1], sizes[2]];
    expect((await w.addCheckpoint(request(0, [], cps.get(s1)!))).status).toBe(200);
    const junk = (i: number) => [new Uint8Array(32).fill(i)];
    for (let i = 0; i < 5; i++) expect((await w.addCheckpoint(request(s1, junk(1), cps.get(s2)!))).status).toBe(422);
    expect((await state.evidences(t.ledger.origin, 1000)).length).toBe(1);
    // Another sender's proof of the same signed checkpoint is kept beside the first …
    expect((await w.addCheckpoint(request(s1, junk(2), cps.get(s2)!))).status).toBe(422);
    expect((await state.evidences(t.ledger.origin, 1000)).map((e) => parseRequest(e.request).proof[0][0]).sort()).toEqual([1, 2]);
    // … up to the limit, then no more.
    for (let i = 3; i < 20; i++) expect((await w.addCheckpoint(request(s1, junk(i), cps.get(s2)!))).status).toBe(422);
    expect((await state.evidences(t.ledger.origin, 1000)).length).toBe(EVIDENCE_PER_CHECKPOINT);
    // Another checkpoint has slots of its own.
    expect((await w.addCheckpoint(request(s1, junk(1), cps.get(sizes[3])!))).status).toBe(422);
    const all = await state.evidences(t.ledger.origin, 1000);
    expect(all.length).toBe(EVIDENCE_PER_CHECKPOINT + 1);
    // Listed by size, in pages: each page resumes after the cursor of the last one.
    const paged: string[] = [];
    for (let after: string | undefined; ; ) {
      const page = await state.evidences(t.ledger.origin, 2, after);
      paged.push(...page.map((e) => e.cursor));
      if (page.length < 2) break;
      after = page[page.length - 1].cursor;
    }
    expect(paged).toEqual(all.map((e) => e.cursor));
    expect(all.map((e) => Number(e.cursor.slice(0, 16)))).toEqual([...Array(EVIDENCE_PER_CHECKPOINT).fill(s2), sizes[3]]);
    const report = await w.evidence(t.ledger.origin);
    expect(report.evidence.length).toBe(EVIDENCE_PER_CHECKPOINT + 1);
    expect(report.next).toBeNull();
    await expect(w.evidence(t.ledger.origin, 'x')).rejects.toMatchObject({ code: 'MALFORMED' });
    await state.close();
  });
});

describe('dojang witness (a process)', () => {
  let child: ChildProcess | undefined;
  afterAll(() => child?.kill('SIGKILL'));

  async function start(dir: string): Promise<{ base: string; key: string }> {
    child = spawn(process.execPath, [MAIN, 'witness', '--data', dir, '--name', NAME, '--log', t.ledger.publicKeys.logKey, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    return new Promise((resolve, reject) => {
      child!.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        const k = /witness key (\S+)/.exec(out);
        if (m && k) resolve({ base: m[1], key: k[1] });
      });
      child!.on('exit', (code) => reject(new Error(`witness exited ${code}: ${err}`)));
    });
  }

  it('serves the protocol over HTTP and keeps its state through SIGKILL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dojang-witness-cli-'));
    dirs.push(dir);
    const { base, key } = await start(dir);
    const post = (body: Uint8Array) => fetch(`${base}/add-checkpoint`, { method: 'POST', body });
    const head = t.ledger.head;
    const r = await post(request(0, [], head.checkpoint));
    expect(r.status).toBe(200);
    const line = await r.text();
    openNote(utf8(fromUtf8(head.checkpoint) + line), [parseVerifierKey(key)]);
    expect(await (await fetch(`${base}/witness`)).json()).toEqual({ name: NAME, key, origins: [t.ledger.origin] });
    const exited = new Promise((res) => child!.once('exit', res));
    child!.kill('SIGKILL');
    await exited;
    // Restarted on the same directory: it remembers what it cosigned.
    const again = await start(dir);
    expect(again.key).toBe(key);
    const stale = await fetch(`${again.base}/add-checkpoint`, { method: 'POST', body: request(0, [], head.checkpoint) });
    expect(stale.status).toBe(409);
    expect(stale.headers.get('content-type')).toBe(TLOG_SIZE_TYPE);
    expect(await stale.text()).toBe(`${head.size}\n`);
    const latest = await fetch(`${again.base}/latest?origin=${encodeURIComponent(t.ledger.origin)}`);
    expect(latest.status).toBe(200);
    openNote(new Uint8Array(await latest.arrayBuffer()), [logKey, parseVerifierKey(key)], { requireAll: true });
    expect((await fetch(`${again.base}/latest?origin=example.com%2Fnone`)).status).toBe(404);
    expect((await fetch(`${again.base}/add-checkpoint`, { method: 'POST', body: new Uint8Array(300_000) })).status).toBe(413);
  }, 60_000);
});
