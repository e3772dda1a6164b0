#!/usr/bin/env node
// crash-test: SIGKILL a durable writer at random moments and check that nothing it
// acknowledged is lost (docs/operations.md "Crash safety").
//
//   node scripts/crash-test.mjs [--rounds N] [--min-ms A] [--max-ms B] [--keep]
//
// Each round runs `dojang bench --data DIR --print-acks` (it appends without end and
// prints "ack <index> <leaf hash>" after each entry is durable and checkpointed), kills
// it with SIGKILL after a random delay, then opens DIR like a restarting server would
// (which re-checks the stored right edge against the last checkpoint) and checks, like
// an fsck: every acknowledged entry is at its acknowledged index with its leaf hash;
// every stored hash and the root are recomputed from the entries and match; the new
// head and every new history checkpoint are consistent with what was seen before.
// Requires `npm run build` first. Exit status 0 only if every round passes.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { openLedger } = await import(join(root, 'dist/cli/serve.js'));
const { leafHash, TreeEdge, storedHashCount, verifyConsistency } = await import(join(root, 'dist/core/merkle.js'));
const { toHex, equalBytes, fromUtf8 } = await import(join(root, 'dist/core/bytes.js'));
const { parseNote } = await import(join(root, 'dist/core/note.js'));
const { parseCheckpoint } = await import(join(root, 'dist/core/checkpoint.js'));

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    'min-ms': { type: 'string', default: '300' },
    'max-ms': { type: 'string', default: '2500' },
    keep: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const minMs = Number(values['min-ms']);
const maxMs = Number(values['max-ms']);

const dir = await mkdtemp(join(tmpdir(), 'dojang-crash-'));
const acked = new Map(); // index -> leaf hash hex
let seen = undefined; // { size, root } last verified head
let checkedHistory = 0;

function fail(msg) {
  console.error(`crash-test: FAIL: ${msg} (data kept in ${dir})`);
  process.exit(1);
}

function checkpointOf(noteBytes) {
  return parseCheckpoint(parseNote(noteBytes).text);
}

async function runWriter(killAfterMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'dist/cli/main.js'), 'bench', '--data', dir, '--print-acks'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let started = false;
    let count = 0;
    let timer;
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('ack ')) {
          const [, idx, lh] = line.split(' ');
          const prev = acked.get(Number(idx));
          if (prev !== undefined && prev !== lh) fail(`index ${idx} acknowledged twice with different leaves`);
          acked.set(Number(idx), lh);
          count++;
        } else if (line.startsWith('start ') && !started) {
          started = true;
          timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited early (code ${code}, signal ${signal}): ${stderr.trim()}`));
      else resolve(count);
    });
  });
}

async function fsck() {
  const ledger = await openLedger(dir); // re-checks the right edge against the last checkpoint
  try {
    const head = ledger.head;
    const size = head.size;
    // 1. every acknowledged entry is present at its index
    let maxAck = -1;
    for (const [idx, lh] of acked) {
      if (idx >= size) fail(`acknowledged index ${idx} is beyond the recovered size ${size}`);
      maxAck = Math.max(maxAck, idx);
    }
    // 2. recompute the tree from the entries: leaf hashes, every stored hash, the root
    const edge = new TreeEdge(0, []);
    const hashes = [];
    const PAGE = 4096;
    for (let start = 0; start < size; start += PAGE) {
      const entries = await ledger.store.readEntries(start, Math.min(size, start + PAGE));
      if (entries.length !== Math.min(PAGE, size - start)) fail(`entries ${start}.. missing`);
      entries.forEach((e, k) => {
        const lh = leafHash(e);
        const want = acked.get(start + k);
        if (want !== undefined && toHex(lh) !== want) fail(`entry ${start + k} has leaf ${toHex(lh)}, acknowledged ${want}`);
        for (const h of edge.append(lh)) hashes.push(h);
      });
    }
    if (!equalBytes(edge.root(), head.root)) fail(`recomputed root differs from the checkpoint at size ${size}`);
    if (hashes.length !== storedHashCount(size)) fail('stored hash count mismatch');
    for (let s = 0; s < hashes.length; s += PAGE) {
      const ix = Array.from({ length: Math.min(PAGE, hashes.length - s) }, (_, k) => s + k);
      const got = await ledger.store.readHashes(ix);
      got.forEach((h, k) => {
        if (!equalBytes(h, hashes[s + k])) fail(`stored hash ${s + k} differs from the recomputed one`);
      });
    }
    // 3. consistency: the new head with the last one seen, and every new history checkpoint
    if (seen !== undefined) {
      if (size < seen.size) fail(`tree shrank from ${seen.size} to ${size}`);
      if (size > seen.size) verifyConsistency(seen.size, size, await ledger.consistencyProof(seen.size, size), seen.root, head.root);
      else if (!equalBytes(seen.root, head.root)) fail('same size, different root');
    }
    let from = seen?.size ?? 1;
    for (;;) {
      const page = await ledger.checkpoints(from, 1000);
      for (const c of page) {
        const cp = checkpointOf(c.checkpoint);
        if (cp.size !== c.size) fail(`history checkpoint at ${c.size} says size ${cp.size}`);
        if (!equalBytes(await ledger.rootAt(cp.size), cp.root)) fail(`history checkpoint ${cp.size} root differs from the tree`);
        if (cp.size < size) verifyConsistency(cp.size, size, await ledger.consistencyProof(cp.size, size), cp.root, head.root);
        checkedHistory++;
      }
      if (page.length < 1000) break;
      from = page[page.length - 1].size + 1;
    }
    seen = { size, root: head.root };
    return { size, maxAck };
  } finally {
    await ledger.close();
  }
}

const t0 = Date.now();
let totalAcks = 0;
for (let r = 1; r <= rounds; r++) {
  const killAfter = minMs + Math.floor(Math.random() * (maxMs - minMs));
  const n = await runWriter(killAfter).catch((e) => fail(e.message));
  totalAcks += n;
  const { size, maxAck } = await fsck().catch((e) => fail(`round ${r}: ${e.code ?? ''} ${e.message}`));
  console.log(`round ${r}/${rounds}: killed after ${killAfter} ms, ${n} acks, recovered size ${size} (${size - 1 - maxAck} durable but unacknowledged at the kill)`);
}
console.log(`crash-test: ${rounds} passed, 0 failed — ${acked.size} acknowledged entries all present, ${checkedHistory} history checkpoints consistent, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
if (!values.keep) await rm(dir, { recursive: true, force: true });
