/**
 * dojang audit (--url URL | --data DIR): replay and re-check a whole log (src/audit).
 * Exit 0 when every check holds; 3 with the first finding (where, code, why) on stderr
 * and its evidence on stdout; 1 when the log cannot be read at all.
 */
import { parseArgs } from 'node:util';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { LedgerError } from '../core/errors.js';
import { decodeCbor, encodeCbor, type CborValue } from '../core/cbor.js';
import { audit, AuditFailure, type AuditSource, type AuditState } from '../audit/audit.js';
import { dataSource, urlSource } from '../audit/sources.js';
import { parseTsaTrust, type TsaTrust } from '../timestamp/rfc3161.js';
import type { Io } from './main.js';
import { readPolicy, witnessLine } from './policy-file.js';
import type { WitnessedReport } from '../audit/witnessed.js';

export const AUDIT_USAGE = `  audit  (--url URL | --data DIR [--store postgres://...]) [--root-key VKEY] [--state FILE]
         [--status FILE ...] [--checkpoint FILE ...] [--policy FILE] [--tsa-cert PEM]
         [--json]
         replay the whole log from its genesis and re-check every signature,
         rule, checkpoint and hash; --state FILE resumes from and saves what was
         audited, and catches a log that shows another view than before (a
         fork); --status checks saved status answers against the replay;
         --checkpoint checks checkpoints of this log seen elsewhere (a split
         view is a finding); --policy (a c2sp.org/tlog-policy file) requires
         the latest checkpoint to be cosigned by a quorum of its witnesses and
         reports who cosigned and when (a directory or database: the witnessed
         checkpoint the ledger keeps); --tsa-cert verifies every RFC 3161 timestamp
         token of the history against the TSA certificate or its CA (PEM).
         Exit 0 when all holds, 3 at the first problem (named on stderr)`;

/** The largest state file read (the replayed state index and the checkpoints seen). */
const MAX_STATE_BYTES = 1 << 30;

function stateValue(s: AuditState): CborValue {
  return {
    v: 1,
    origin: s.origin,
    rootKey: s.rootKey,
    size: s.size,
    edge: s.edge,
    time: s.time,
    state: s.state.map(([k, v]) => [k, v]),
    tail: s.tail,
    upper: s.upper.map(([ix, h]) => [ix, h]),
    seen: s.seen.map(([n, note]) => [n, note]),
  };
}

function stateOf(v: CborValue, path: string): AuditState {
  const bad = () => new LedgerError('MALFORMED', `--state ${path}: not an audit state file`);
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array || v.v !== 1) throw bad();
  const o = v as Record<string, CborValue>;
  const arr = (x: CborValue) => (Array.isArray(x) ? x : (() => { throw bad(); })());
  if (typeof o.origin !== 'string' || typeof o.rootKey !== 'string' || typeof o.size !== 'number' || typeof o.time !== 'number') throw bad();
  const bytes = (x: CborValue) => (x instanceof Uint8Array ? x : (() => { throw bad(); })());
  return {
    origin: o.origin,
    rootKey: o.rootKey,
    size: o.size,
    time: o.time,
    edge: arr(o.edge).map(bytes),
    state: arr(o.state).map((p) => {
      const [k, val] = arr(p);
      return [bytes(k), bytes(val)] as [Uint8Array, Uint8Array];
    }),
    tail: arr(o.tail).map(bytes),
    upper: arr(o.upper).map((p) => {
      const [ix, h] = arr(p);
      if (typeof ix !== 'number') throw bad();
      return [ix, bytes(h)] as [number, Uint8Array];
    }),
    seen: arr(o.seen).map((p) => {
      const [n, note] = arr(p);
      if (typeof n !== 'number' || typeof note !== 'string') throw bad();
      return [n, note] as [number, string];
    }),
  };
}

async function loadState(path: string): Promise<AuditState | undefined> {
  let raw: Uint8Array;
  try {
    raw = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LedgerError('BAD_REQUEST', `--state: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return stateOf(decodeCbor(raw, { maxBytes: MAX_STATE_BYTES, maxDepth: 8 }), path);
}

/** dojang audit ... */
export async function runAudit(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      data: { type: 'string' },
      store: { type: 'string' },
      'root-key': { type: 'string' },
      state: { type: 'string' },
      status: { type: 'string', multiple: true },
      checkpoint: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      threads: { type: 'string' },
      policy: { type: 'string' },
      'tsa-cert': { type: 'string' },
    },
    strict: true,
  });
  if ((values.url === undefined) === (values.data === undefined)) throw new LedgerError('BAD_REQUEST', 'audit takes one of --url URL and --data DIR');
  const statuses: unknown[] = [];
  for (const f of values.status ?? []) {
    try {
      statuses.push(JSON.parse(await readFile(f, 'utf8')));
    } catch (e) {
      throw new LedgerError('BAD_REQUEST', `--status ${f}: ${(e as Error).message}`, { cause: e });
    }
  }
  const checkpoints: Uint8Array[] = [];
  for (const f of values.checkpoint ?? []) {
    try {
      checkpoints.push(new Uint8Array(await readFile(f)));
    } catch (e) {
      throw new LedgerError('BAD_REQUEST', `--checkpoint ${f}: ${(e as Error).message}`, { cause: e });
    }
  }
  const policy = values.policy === undefined ? undefined : (await readPolicy(values.policy)).policy;
  let tsaTrust: TsaTrust | undefined;
  if (values['tsa-cert'] !== undefined) {
    let pem: string;
    try {
      pem = await readFile(values['tsa-cert'], 'utf8');
    } catch (e) {
      throw new LedgerError('BAD_REQUEST', `--tsa-cert ${values['tsa-cert']}: ${(e as Error).message}`, { cause: e });
    }
    tsaTrust = parseTsaTrust(pem);
  }
  const resume = values.state === undefined ? undefined : await loadState(values.state);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && (!Number.isSafeInteger(threads) || threads < 0)) throw new LedgerError('BAD_REQUEST', '--threads must be an integer >= 0');
  const src: AuditSource = values.url !== undefined ? urlSource(values.url) : await dataSource(values.data!, values.store);
  const tty = process.stderr.isTTY === true && !values.json;
  try {
    const r = await audit(src, {
      rootKey: values['root-key'],
      resume: resume !== undefined && resume.origin !== undefined ? resume : undefined,
      statuses,
      checkpoints,
      threads,
      policy,
      tsaTrust,
      progress: tty ? (done, total) => process.stderr.write(`\r  ${done} / ${total} entries`) : undefined,
    });
    if (tty) process.stderr.write('\n');
    if (values.state !== undefined) {
      const tmp = `${values.state}.tmp`;
      await writeFile(tmp, encodeCbor(stateValue(r.state)), { mode: 0o600 });
      await rename(tmp, values.state);
    }
    const rate = r.seconds > 0 ? Math.round(r.entries / r.seconds) : 0;
    const { state: _state, ...rest } = r;
    if (values.json) io.out(JSON.stringify({ ok: true, ...rest, entriesPerSecond: rate }));
    else {
      io.out(`audited ${src.name}: log ${r.origin}, ${r.size} entries, all checks hold`);
      io.out(`  root key ${r.rootKey}`);
      const ts = r.timestamps;
      if (ts.verified > 0) io.out(`  ${ts.verified} timestamp tokens verified, genTime ${ts.first} … ${ts.last}`);
      else if (tsaTrust !== undefined) io.out('  no timestamp tokens to verify');
      if (ts.unchecked > 0) io.out(`  ${ts.unchecked} timestamp tokens not checked (no --tsa-cert)`);
      io.out(`  ${r.entries} entries replayed${r.resumedFrom > 0 ? ` (resumed at ${r.resumedFrom})` : ''} in ${r.seconds.toFixed(2)} s (${rate}/s), ${r.checkpoints} checkpoints, ${r.hashes} hashes compared, ${r.statuses} status answers, ${r.given} given checkpoints`);
      for (const c of r.certificates) io.out(`  certificate ${c.id}: ${c.state} at size ${c.size}${c.state === 'active' || c.state === 'expired' ? '' : ' (not valid)'}`);
      if (r.witnessed !== undefined) for (const l of witnessedLines(r.witnessed)) io.out(l);
    }
    return 0;
  } catch (e) {
    if (tty) process.stderr.write('\n');
    if (!(e instanceof AuditFailure)) throw e;
    if (values.json) io.out(JSON.stringify({ ok: false, where: e.where, code: e.code, message: e.message, evidence: e.evidence }));
    else for (const n of e.evidence) io.out(`evidence:\n${n}`);
    io.err(`dojang: audit failed at ${e.message}`);
    return 3;
  } finally {
    await src.close();
  }
}

/** witnessedLines: who cosigned the latest checkpoint and each given one, and when. */
function witnessedLines(w: WitnessedReport): string[] {
  return [
    `  latest checkpoint ${w.latest.size} meets the witness policy: ${witnessLine(w.latest.witnesses)}`,
    ...w.given.map((g, i) => `  given checkpoint ${i + 1}: ${g === null ? 'not of a log the policy lists' : `size ${g.size}, ${witnessLine(g.witnesses)}${g.quorum ? '' : ' (short of the quorum)'}`}`),
  ];
}
