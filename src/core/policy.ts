/**
 * Transparency log policies (c2sp.org/tlog-policy, spec §13.3): which logs a verifier
 * accepts, which witnesses it knows, and the quorum of witness cosignatures a
 * checkpoint needs to be valid.
 *
 *   log <vkey> [<url>]
 *   witness <name> <vkey> [<url>]
 *   group <name> all|any|<k> <name>...
 *   quorum <name>                      (exactly one; `none` needs no cosignature)
 *
 * Items are separated by spaces and tabs; blank lines and lines starting with `#` are
 * ignored. A group or the quorum names only witnesses and groups defined on lines
 * before it; a name is a member of at most one group, once (so every witness counts
 * once, and the groups form a tree); names are opaque octet strings (returned as latin1
 * strings: one character per octet); `none` is
 * predefined and cannot be a member. Two logs or two witnesses with the same public key
 * are refused. Log keys are Ed25519 (0x01) and their name is the log's origin; witness
 * keys are cosignature/v1 (0x04). Limits: 256 logs, witnesses and groups each.
 *
 * parsePolicy refuses anything else with LedgerError MALFORMED (saying which line);
 * checkCheckpoint judges a checkpoint note against a policy.
 */
import { LedgerError } from './errors.js';
import { equalBytes, toHex, utf8 } from './bytes.js';
import { parseCheckpoint, type Checkpoint } from './checkpoint.js';
import { cosignedTime } from './cosignature.js';
import { openNote, parseNote, parseVerifierKey, SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, type NoteVerifier } from './note.js';

/** The most logs, witnesses and groups a policy may define (each). */
export const MAX_POLICY_ITEMS = 256;
/** The largest policy file read. */
export const MAX_POLICY_BYTES = 256 * 1024;

export interface PolicyLog {
  readonly origin: string;
  readonly key: NoteVerifier;
  readonly url?: string;
}

export interface PolicyWitness {
  readonly name: string;
  readonly key: NoteVerifier;
  readonly url?: string;
}

/** A quorum rule: a witness, a group (k of its members), or none. */
export type Quorum = { readonly kind: 'none' } | { readonly kind: 'witness'; readonly name: string } | { readonly kind: 'group'; readonly name: string; readonly k: number; readonly members: readonly Quorum[] };

export interface Policy {
  readonly logs: readonly PolicyLog[];
  readonly witnesses: readonly PolicyWitness[];
  readonly quorum: Quorum;
}

/** parsePolicy reads a tlog-policy file. MALFORMED (with the line number) for anything the spec does not allow. */
export function parsePolicy(bytes: Uint8Array): Policy {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('parsePolicy: bytes must be a Uint8Array');
  if (bytes.length > MAX_POLICY_BYTES) throw new LedgerError('MALFORMED', `a policy is at most ${MAX_POLICY_BYTES} bytes`);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b < 0x20 ? b !== 0x09 && b !== 0x0a : b === 0x7f) throw new LedgerError('MALFORMED', `policy byte ${i} is a control character (0x${b.toString(16).padStart(2, '0')})`);
  }
  // Names and URLs are opaque octets: read the file as latin1 so that every byte is one
  // character and compares as itself; vkeys are ASCII.
  // (No Buffer: the verifier page parses policies in the browser.)
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  if (text.length > 0 && !text.endsWith('\n')) throw new LedgerError('MALFORMED', 'every policy line ends in a newline');
  const logs: PolicyLog[] = [];
  const witnesses: PolicyWitness[] = [];
  const names = new Map<string, Quorum>();
  /** Names already listed as a member of some group: each contributes in one way only. */
  const members = new Set<string>();
  let groups = 0;
  let quorum: Quorum | undefined;
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((raw, i) => {
    const at = `policy line ${i + 1}`;
    const items = raw.split(/[ \t]+/).filter((x) => x !== '');
    if (items.length === 0 || items[0].startsWith('#')) return;
    const bad = (why: string): never => {
      throw new LedgerError('MALFORMED', `${at}: ${why}`);
    };
    const key = (vkey: string, type: number): NoteVerifier => {
      let v: NoteVerifier;
      try {
        v = parseVerifierKey(new TextDecoder().decode(Uint8Array.from(vkey, (c) => c.charCodeAt(0))));
      } catch (e) {
        return bad(`not a verifier key (${(e as Error).message})`);
      }
      if (v.type !== type) bad(`a ${type === SIG_TYPE_ED25519 ? 'log key must be Ed25519 (type 0x01)' : 'witness key must be cosignature/v1 (type 0x04)'}`);
      return v;
    };
    const [kw, ...args] = items;
    switch (kw) {
      case 'log': {
        if (args.length < 1 || args.length > 2) bad('log <vkey> [<url>]');
        const v = key(args[0], SIG_TYPE_ED25519);
        if (logs.some((l) => equalBytes(l.key.publicKey, v.publicKey))) bad('a log with this public key is already defined');
        if (logs.length === MAX_POLICY_ITEMS) bad(`more than ${MAX_POLICY_ITEMS} logs`);
        logs.push({ origin: v.name, key: v, ...(args[1] === undefined ? {} : { url: args[1] }) });
        return;
      }
      case 'witness': {
        if (args.length < 2 || args.length > 3) bad('witness <name> <vkey> [<url>]');
        const [name, vkey, url] = args;
        if (name === 'none' || names.has(name)) bad(`the name ${JSON.stringify(name)} is already defined`);
        const v = key(vkey, SIG_TYPE_COSIGNATURE_V1);
        if (witnesses.some((w) => equalBytes(w.key.publicKey, v.publicKey))) bad('a witness with this public key is already defined');
        if (witnesses.length === MAX_POLICY_ITEMS) bad(`more than ${MAX_POLICY_ITEMS} witnesses`);
        witnesses.push({ name, key: v, ...(url === undefined ? {} : { url }) });
        names.set(name, { kind: 'witness', name });
        return;
      }
      case 'group': {
        if (args.length < 3) bad('group <name> all|any|<k> <name>...');
        const [name, threshold, ...listed] = args;
        if (name === 'none' || names.has(name)) bad(`the name ${JSON.stringify(name)} is already defined`);
        const rules = listed.map((m) => {
          if (m === 'none') return bad('none cannot be a group member');
          const rule = names.get(m) ?? bad(`${JSON.stringify(m)} is not defined on a line before`);
          // "Each defined name can be listed as a group member at most once", in the whole file.
          if (members.has(m)) bad(`${JSON.stringify(m)} is already a member of a group`);
          members.add(m);
          return rule;
        });
        const k = threshold === 'all' ? listed.length : threshold === 'any' ? 1 : /^[0-9]{1,9}$/.test(threshold) ? Number(threshold) : undefined;
        if (k === undefined || k < 1 || k > listed.length) bad(`the threshold must be all, any or a decimal k with 1 ≤ k ≤ ${listed.length}`);
        if (++groups > MAX_POLICY_ITEMS) bad(`more than ${MAX_POLICY_ITEMS} groups`);
        names.set(name, { kind: 'group', name, k: k!, members: rules });
        return;
      }
      case 'quorum': {
        if (args.length !== 1) bad('quorum <name>');
        if (quorum !== undefined) bad('a second quorum line');
        quorum = args[0] === 'none' ? { kind: 'none' } : (names.get(args[0]) ?? bad(`${JSON.stringify(args[0])} is not defined on a line before`));
        return;
      }
      default:
        bad(`unknown line ${JSON.stringify(kw.slice(0, 20))}`);
    }
  });
  if (quorum === undefined) throw new LedgerError('MALFORMED', 'the policy has no quorum line');
  return { logs, witnesses, quorum };
}

/** What a checkpoint is under a policy: its log, which witnesses cosigned it and when, and whether the quorum holds. */
export interface PolicyVerdict {
  readonly checkpoint: Checkpoint;
  readonly log: string;
  /** The policy's witnesses whose cosignature on the checkpoint verifies, with its time (POSIX seconds), in policy order. */
  readonly cosigned: readonly { readonly name: string; readonly time: number }[];
  /** The policy's witnesses with a line on the checkpoint that does not verify (or two lines): ignored, not counted. */
  readonly ignored: readonly string[];
  readonly quorum: boolean;
  /** Why the quorum is not met: one sentence per short group or missing witness (empty when it is met). */
  readonly short: readonly string[];
}

/**
 * checkCheckpoint opens a checkpoint note under a policy (spec §13.3): a signature by a
 * listed log whose key name is the checkpoint's origin must verify (else UNKNOWN_KEY, or
 * BAD_SIGNATURE for a line by a listed log's key that fails; MALFORMED for a note that
 * does not parse or two lines by one log key). Each listed witness's cosignature/v1
 * line is verified on its own: one that verifies counts, with its time; one that does
 * not (or a witness with two lines) is ignored and named in `ignored` — a line anyone
 * can append never makes a checkpoint invalid, nor counts. `quorum` says whether the
 * counted witnesses satisfy the quorum, and `short` why not.
 */
export function checkCheckpoint(note: Uint8Array, policy: Policy): PolicyVerdict {
  const parsed = parseNote(note);
  const cp = parseCheckpoint(parsed.text);
  const logs = policy.logs.filter((l) => l.origin === cp.origin);
  if (logs.length === 0) throw new LedgerError('UNKNOWN_KEY', `the policy lists no log with origin ${JSON.stringify(cp.origin)}`);
  const { verified } = openNote(note, logs.map((l) => l.key));
  const log = logs.find((l) => verified.some((s) => s.name === l.key.name && equalBytes(s.keyId, l.key.keyId)));
  if (log === undefined) throw new LedgerError('UNKNOWN_KEY', `no signature by a log the policy lists verifies (origin ${cp.origin})`);
  const msg = utf8(parsed.text);
  const cosigned: { name: string; time: number }[] = [];
  const ignored: string[] = [];
  for (const w of policy.witnesses) {
    const lines = parsed.sigs.filter((s) => s.name === w.key.name && equalBytes(s.keyId, w.key.keyId));
    if (lines.length === 0) continue;
    if (lines.length === 1 && w.key.verify(msg, lines[0].sig)) cosigned.push({ name: w.name, time: cosignedTime(lines[0]) });
    else ignored.push(w.name);
  }
  const by = new Set(cosigned.map((c) => c.name));
  return { checkpoint: cp, log: `${log.key.name}+${toHex(log.key.keyId)}`, cosigned, ignored, quorum: satisfied(policy.quorum, by), short: shortfall(policy.quorum, by) };
}

/**
 * shortfall says why cosignatures by the named witnesses do not satisfy a quorum rule:
 * the rule's own group (or witness), then the short groups among its members, depth
 * first. Empty when the rule is satisfied.
 */
function shortfall(q: Quorum, by: ReadonlySet<string>): string[] {
  if (satisfied(q, by)) return [];
  if (q.kind === 'witness') return [`witness ${q.name} did not cosign`];
  if (q.kind === 'none') return [];
  const names = q.members.map((m) => (m.kind === 'none' ? 'none' : m.name));
  const have = q.members.filter((m) => satisfied(m, by)).length;
  const own = `group ${q.name} needs ${q.k} of ${names.join(', ')} and has ${have}`;
  return [own, ...q.members.flatMap((m) => (m.kind === 'group' ? shortfall(m, by) : []))];
}

/** quorumMet says whether cosignatures by the named witnesses (policy names) satisfy the policy's quorum. */
export function quorumMet(policy: Policy, by: ReadonlySet<string>): boolean {
  return satisfied(policy.quorum, by);
}

function satisfied(q: Quorum, by: ReadonlySet<string>): boolean {
  if (q.kind === 'none') return true;
  if (q.kind === 'witness') return by.has(q.name);
  return q.members.filter((m) => satisfied(m, by)).length >= q.k;
}
