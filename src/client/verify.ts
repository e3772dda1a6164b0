/**
 * The verdict on a presentation (spec §10.2): genuine, anchored, sent or shown by its
 * holder, unrevoked and unexpired — as a list of named checks, each ok or failed with
 * one reason code. Offline: it needs the log's keys and nothing else. Checkpoints and
 * issuer registrations that verified once are remembered, so a presentation costs its
 * own signatures. Pure and portable (runs in a browser with the portable backend).
 */
import { LedgerError, isLedgerError } from '../core/errors.js';
import { equalBytes, toBase64, toHex, utf8 } from '../core/bytes.js';
import { sha256, verifyEd25519, type CryptoBackend } from '../core/crypto.js';
import { claimDigest, commitmentOf, type Claim } from '../core/commitment.js';
import { recipientCommitment, type CertIssue, type CertTransfer, type ParsedEvent } from '../core/events.js';
import { leafHash, verifyInclusion } from '../core/merkle.js';
import type { ProofBundle } from '../core/proof-bundle.js';
import type { CborValue } from '../core/cbor.js';
import { parseVerifierKey, SIG_TYPE_ED25519 } from '../core/note.js';
import { checkCheckpoint, type Policy, type PolicyVerdict } from '../core/policy.js';
import { openCheckpoint } from './receipt.js';
import { statusVerifiers, verifyStatusParts, type StatusStatement, type StatusVerifiers } from './status.js';
import { faceSigningInput, type DecodedPresentation } from './presentation.js';

export const CHECKS = ['anchored', 'witnessed', 'issuer-signature', 'issuer-registered', 'document', 'chain', 'holding', 'not-revoked', 'validity', 'original'] as const;
export type CheckName = (typeof CHECKS)[number];
const EVAL_ORDER: readonly CheckName[] = ['anchored', 'witnessed', 'issuer-signature', 'chain', 'issuer-registered', 'document', 'holding', 'not-revoked', 'validity', 'original'];

/** One check of a verdict: ok, or failed with a reason code (spec §10.2) and a sentence. */
export interface Check {
  name: CheckName;
  ok: boolean;
  reason: string | null;
  detail: string;
}

/** A verdict (spec §10.2). */
export interface Verdict {
  valid: boolean;
  checks: Check[];
  flow: 'received' | 'face' | 'view';
  /** The verifier's clock (Unix seconds) the verdict was judged at. */
  now: number;
  certificate: {
    id: string;
    docType: string;
    /** The issuer key, base64. */
    issuer: string;
    issuerName: string;
    issuedAt: number;
    validUntil: number;
    /** The trusted time of the checkpoint that anchors the issuance (null if not anchored). */
    anchoredAt: number | null;
    transfers: number;
  };
  /** The disclosed claims, when they match the commitment. */
  claims: Record<string, CborValue> | null;
  /** What the status statement said, as of its checkpoint, and how old that is. */
  status: { state: string; size: number; time: number; age: number } | null;
  /**
   * Only when judged under a witness policy (spec §13.3): the policy's witnesses whose
   * cosignatures on the issuance's checkpoint verify, with their times (Unix seconds),
   * in policy order. Absent without a policy.
   */
  witnesses?: WitnessReport[];
}

/** A witness that cosigned a checkpoint: its name in the policy and the cosignature's time. */
export interface WitnessReport {
  name: string;
  time: number;
}

/** What the verifier brings: its clock and, per flow, its key or its nonce and name. */
export interface VerifyContext {
  /** Unix seconds. */
  now: number;
  /** The verifier's own public key (received flow). */
  audience?: Uint8Array;
  /** The nonce and name the verifier showed (face-to-face flow). */
  nonce?: Uint8Array;
  verifierName?: string;
  /**
   * The oldest status (now − its checkpoint's time, seconds) the verdict rests on
   * (spec §10.2, STATUS_TOO_OLD); default DEFAULT_MAX_STATUS_AGE_S.
   */
  maxStatusAge?: number;
  /**
   * The roots of the trees this log published, by size, when the verifier is the log
   * itself: a presented checkpoint of a published size with another root was signed with
   * the log's key but never published (a fork, or a stolen key).
   */
  published?: ReadonlyMap<number, Uint8Array>;
}

/** The log's keys, as note vkeys (spec §4.3). */
export interface VerifierKeys {
  logKey: string;
  timestampKey: string;
  statusKey: string;
  rootKey: string;
}

/**
 * What a verifier knows of a certificate's status when it needs no statement: the log
 * itself (POST /v1/verify) judges with its own state. A verified StatusStatement is one.
 */
export type KnownStatus = Pick<StatusStatement, 'state' | 'size' | 'time' | 'retired' | 'compromised'> & {
  /** The issuance (then a revocation), by leaf hash. */
  events: readonly { leafHash: Uint8Array }[];
  /**
   * Entries whose signatures the knower checked itself (the log, when it admitted them):
   * the verdict does not check them again. Everything else is checked.
   */
  admitted?: (leafHash: Uint8Array) => boolean;
};

/** The default maximum status age (spec §10.2): one day. */
export const DEFAULT_MAX_STATUS_AGE_S = 86_400;
/** The largest maximum status age a verifier may set (spec §10.2): a year. */
export const MAX_STATUS_AGE_LIMIT_S = 31_536_000;

/** A signature to check: the key, the message and the signature (spec §2.3). */
export interface SignatureCheck {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

/** How many issuer registrations a verifier remembers. */
const REGISTERED_CACHE = 4096;
/** How many checkpoints judged under the policy a verifier remembers. */
const WITNESSED_CACHE = 4096;

/** What a verifier brings besides the log's keys. */
export interface VerifierOptions {
  /**
   * A witness policy (c2sp.org/tlog-policy, spec §13.3): every checkpoint the
   * presentation is anchored on must be signed by a log it lists and cosigned by a quorum
   * of its witnesses (the `witnessed` check), and the verdict reports the witnesses.
   */
  policy?: Policy;
}

class Failed extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function fail(reason: string, message: string): never {
  throw new Failed(reason, message);
}

/** run evaluates one check: ok unless it throws Failed (other errors are bugs and propagate). */
function run(name: CheckName, body: () => string): Check {
  try {
    return { name, ok: true, reason: null, detail: body() };
  } catch (e) {
    if (e instanceof Failed) return { name, ok: false, reason: e.reason, detail: e.message };
    throw e;
  }
}

export class PresentationVerifier {
  readonly origin: string;
  private readonly v: StatusVerifiers & { root: Uint8Array };
  private readonly registered = new Set<string>();
  /** Checkpoints judged under the policy, by the SHA-256 of the note (underPolicy). */
  private readonly witnessed = new Map<string, PolicyVerdict>();
  readonly policy: Policy | undefined;

  /**
   * keys: the log's vkeys; backend: the crypto backend (default: the facade's);
   * o.policy: judge witnessed checkpoints by it. MALFORMED for bad keys.
   */
  constructor(
    keys: VerifierKeys,
    private readonly backend?: CryptoBackend,
    o: VerifierOptions = {},
  ) {
    this.policy = o.policy;
    const root = parseVerifierKey(keys.rootKey, backend);
    if (root.type !== SIG_TYPE_ED25519) throw new LedgerError('MALFORMED', 'the root key must be an Ed25519 (0x01) key');
    this.v = statusVerifiers(keys, backend) as StatusVerifiers & { root: Uint8Array };
    this.origin = this.v.origin;
  }

  /** Results of signature checks made ahead (verifyWith), by sigKey. */
  private checked: Map<string, boolean> | undefined;

  /**
   * verifyWith is verify with the presentation's signatures checked ahead, all at once,
   * by `check` (for example on a pool of worker threads), then looked up.
   */
  async verifyWith(p: DecodedPresentation, ctx: VerifyContext, check: (items: SignatureCheck[]) => Promise<boolean[]>, known?: KnownStatus): Promise<Verdict> {
    const items = this.signatures(p, known);
    const results = await check(items);
    this.checked = new Map(items.map((it, i) => [sigKey(it.publicKey, it.message, it.signature), results[i]]));
    try {
      return this.verify(p, ctx, known);
    } finally {
      this.checked = undefined;
    }
  }

  /** signatures lists the signature checks verify would make on its own (module comment). */
  private signatures(p: DecodedPresentation, known?: KnownStatus): SignatureCheck[] {
    const items: SignatureCheck[] = [];
    const ev = (e: ParsedEvent, key: Uint8Array, entry: Uint8Array) => {
      if (known?.admitted?.(leafHash(entry)) !== true) items.push({ publicKey: key, message: e.signingInput, signature: e.sig });
    };
    ev(p.parsed.issue, p.parsed.issue.event.issuer, p.issue.entry);
    if (!this.registered.has(toHex(leafHash(p.register.entry)))) ev(p.parsed.register, this.v.root, p.register.entry);
    p.parsed.transfers.forEach((t, i) => ev(t, t.event.sender, p.transfers[i].entry));
    const h = p.holding;
    if (h.flow === 'face') {
      const issue = p.parsed.issue.event;
      const last = p.transfers.length === 0 ? p.issue.entry : p.transfers[p.transfers.length - 1].entry;
      items.push({ publicKey: h.holder, message: faceSigningInput({ origin: p.origin, id: issue.id, last: leafHash(last), verifier: h.verifier, nonce: h.nonce }), signature: h.sig });
    }
    return items;
  }

  /** sig checks one signature: looked up when checked ahead, else on the backend. */
  private sig(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const ahead = this.checked?.get(sigKey(publicKey, message, signature));
    return ahead ?? verifyEd25519(publicKey, message, signature, this.backend);
  }

  /**
   * verify judges a decoded presentation (spec §10.2). It never throws for a bad
   * presentation. `known`: the certificate's status as the verifier knows it (the log
   * itself); otherwise the presentation's own status statement is verified and used.
   */
  verify(p: DecodedPresentation, ctx: VerifyContext, known?: KnownStatus): Verdict {
    const issue = p.parsed.issue.event;
    const register = p.parsed.register.event;
    const transfers = p.parsed.transfers.map((t) => t.event);
    const leaves = { register: leafHash(p.register.entry), issue: leafHash(p.issue.entry), transfers: p.transfers.map((t) => leafHash(t.entry)) };
    let anchoredAt: number | null = null;
    let claims: Record<string, CborValue> | null = null;
    let witnesses: WitnessReport[] = [];
    let status: KnownStatus | undefined = known;
    let statusProblem: Failed | undefined;
    const vouched: [Uint8Array, ParsedEvent][] = []; // entries whose signatures this verdict checked
    const statusCheck = () => {
      if (status !== undefined || p.status === null || statusProblem !== undefined) return;
      try {
        status = verifyStatusParts(issue.id, p.status, this.v, (leaf) => vouched.find(([x]) => equalBytes(x, leaf))?.[1]);
      } catch (e) {
        if (!isLedgerError(e)) throw e;
        statusProblem = new Failed('STATUS_INVALID', `the status answer does not verify: ${e.code}: ${e.message}`);
      }
    };

    const bodies: [CheckName, () => string][] = [
      ['anchored', () => {
        if (p.origin !== this.origin) fail('WRONG_LOG', `the presentation is of log ${JSON.stringify(p.origin)}, not ${JSON.stringify(this.origin)}`);
        const items: [string, Uint8Array, ProofBundle][] = [
          ['the registration', leaves.register, p.bundles.register],
          ['the issuance', leaves.issue, p.bundles.issue],
          ...p.bundles.transfers.map((b, i): [string, Uint8Array, ProofBundle] => [`transfer ${i + 1}`, leaves.transfers[i], b]),
        ];
        for (const [what, leaf, b] of items) {
          const time = this.anchor(what, leaf, b, ctx.published);
          if (what === 'the issuance') anchoredAt = time;
        }
        return `${items.length} entries proved in checkpoints signed by the log key and cosigned by the timestamp key`;
      }],
      ['witnessed', () => {
        const policy = this.policy!;
        const items: [string, ProofBundle][] = [['the registration', p.bundles.register], ['the issuance', p.bundles.issue], ...p.bundles.transfers.map((b, i): [string, ProofBundle] => [`transfer ${i + 1}`, b])];
        const issuance = this.underPolicy(p.bundles.issue.checkpoint);
        if (!(issuance instanceof LedgerError)) witnesses = issuance.cosigned.map((c) => ({ name: c.name, time: c.time }));
        for (const [what, b] of items) {
          const v = this.underPolicy(b.checkpoint);
          if (v instanceof LedgerError) fail(v.code === 'BAD_SIGNATURE' ? 'BAD_SIGNATURE' : 'UNKNOWN_LOG', `the checkpoint of ${what}: ${v.message}`);
          const ignored = v.ignored.length === 0 ? '' : `; lines by ${v.ignored.join(', ')} do not verify and are ignored`;
          if (!v.quorum) fail('NOT_WITNESSED', `the checkpoint of ${what} (size ${v.checkpoint.size}) does not meet the witness policy: cosigned by ${cosigners(v)}${ignored}; ${v.short.join('; ')}`);
        }
        // The status statement's checkpoint too, when the verdict rests on it: a log could
        // otherwise show this verifier a view of its own, one without a revocation.
        let ofStatus = '';
        if (known === undefined && p.status !== null) {
          const v = this.underPolicy(utf8(p.status.checkpoint));
          if (v instanceof LedgerError) fail(v.code === 'BAD_SIGNATURE' ? 'BAD_SIGNATURE' : 'UNKNOWN_LOG', `the checkpoint of the status statement: ${v.message}`);
          if (!v.quorum) fail('NOT_WITNESSED', `the checkpoint of the status statement (size ${v.checkpoint.size}) does not meet the witness policy: cosigned by ${cosigners(v)}; ${v.short.join('; ')}`);
          ofStatus = ' and of the status statement';
        }
        const v = issuance as PolicyVerdict;
        return `the checkpoints of all ${items.length} entries${ofStatus} meet the witness policy (${policy.witnesses.length} witnesses); the issuance's (size ${v.checkpoint.size}) is cosigned by ${cosigners(v)}`;
      }],
      ['issuer-signature', () => {
        this.eventSignature(p.parsed.issue, issue.issuer, 'the issuance', leaves.issue, known);
        vouched.push([leaves.issue, p.parsed.issue]);
        return 'the issuance is signed by its issuer';
      }],
      ['issuer-registered', () => {
        const key = toHex(leaves.register);
        if (!this.registered.has(key)) {
          this.eventSignature(p.parsed.register, this.v.root, 'the registration (root key)', leaves.register, known);
          if (this.registered.size >= REGISTERED_CACHE) this.registered.delete(this.registered.values().next().value as string);
          this.registered.add(key);
        }
        vouched.push([leaves.register, p.parsed.register]);
        statusCheck();
        if (!equalBytes(register.issuer, issue.issuer)) fail('UNKNOWN_ISSUER', 'the registration is of another key than the issuer of the certificate');
        if (!register.docTypes.includes(issue.docType)) fail('DOCTYPE_NOT_ALLOWED', `the issuer is registered for ${register.docTypes.join(', ')}, not ${issue.docType}`);
        if (p.bundles.register.index >= p.bundles.issue.index) fail('UNKNOWN_ISSUER', `the registration (entry ${p.bundles.register.index}) does not precede the issuance (entry ${p.bundles.issue.index})`);
        const retired = status?.retired ?? null;
        if (retired !== null && retired < p.bundles.issue.index) fail('ISSUER_RETIRED', `the issuer was retired at entry ${retired}, before the issuance (entry ${p.bundles.issue.index})`);
        const compromised = status?.compromised ?? null;
        if (compromised !== null && compromised.from <= p.bundles.issue.index) {
          fail('ISSUER_COMPROMISED', `the issuer's key was compromised from entry ${compromised.from} (said at entry ${compromised.index}): the issuance (entry ${p.bundles.issue.index}) is not valid`);
        }
        return `registered by the root key at entry ${p.bundles.register.index} as ${JSON.stringify(register.name)}`;
      }],
      ['document', () => {
        claims = disclosed(p.disclosure.claims, p.disclosure.digests, issue.commitment);
        return `${p.disclosure.claims.length} of ${p.disclosure.digests.length} digests disclosed`;
      }],
      ['chain', () => {
        let prev: CertIssue | CertTransfer = issue;
        let prevLeaf = leaves.issue;
        p.parsed.transfers.forEach((t, i) => {
          const ev = t.event;
          const what = `transfer ${i + 1}`;
          this.eventSignature(t, ev.sender, what, leaves.transfers[i], known);
          vouched.push([leaves.transfers[i], t]);
          if (!equalBytes(ev.id, issue.id)) fail('CHAIN_BROKEN', `${what} is of another certificate`);
          if (!equalBytes(ev.parent, prevLeaf)) fail('CHAIN_BROKEN', `${what} does not name the previous event as its parent`);
          if (!holdsBy(prev, ev.sender, ev.senderSalt)) fail('NOT_HOLDER', `the sender of ${what} is not a holder by its parent`);
          prev = ev;
          prevLeaf = leaves.transfers[i];
        });
        return transfers.length === 0 ? 'no transfers: presented by the issued holder' : `${transfers.length} transfers from the issued holder`;
      }],
      ['holding', () => {
        const h = p.holding;
        const last: CertIssue | CertTransfer = transfers.length === 0 ? issue : transfers[transfers.length - 1];
        if (h.flow === 'view') return fail('VIEW_ONLY', 'a view-only copy proves no holding');
        if (h.flow === 'received') {
          if (last.type !== 'cert.transfer') fail('NOT_RECIPIENT', 'nothing was sent: the presentation has no transfer');
          if (ctx.audience === undefined || !equalBytes(ctx.audience, h.recipient)) fail('NOT_RECIPIENT', 'the presentation was sent to another key than this verifier');
          if (!equalBytes(recipientCommitment(h.salt, h.recipient), (last as CertTransfer).recipient)) fail('NOT_RECIPIENT', 'the last transfer does not name this verifier (key and salt do not match its commitment)');
          return 'the holder signed the transfer to this verifier';
        }
        if (ctx.nonce === undefined || ctx.verifierName === undefined || !equalBytes(ctx.nonce, h.nonce) || ctx.verifierName !== h.verifier) {
          fail('NONCE_MISMATCH', "the holder signed another verifier's nonce or name: a replayed presentation");
        }
        if (!holdsBy(last, h.holder, h.salt)) fail('NOT_HOLDER', 'the signing key is not the holder by the last event');
        const msg = faceSigningInput({ origin: p.origin, id: issue.id, last: transfers.length === 0 ? leaves.issue : leaves.transfers[transfers.length - 1], verifier: h.verifier, nonce: h.nonce });
        if (!this.sig(h.holder, msg, h.sig)) fail('BAD_SIGNATURE', "the holder's signature over the nonce does not verify");
        return "the holder key signed this verifier's nonce";
      }],
      ['not-revoked', () => {
        if (known === undefined && p.status === null) fail('NO_STATUS', 'the presentation carries no status statement: revocation cannot be judged');
        statusCheck();
        if (statusProblem !== undefined) throw statusProblem;
        const st = status!;
        if (st.events.length === 0 || !equalBytes(st.events[0].leafHash, leaves.issue)) fail('STATUS_INVALID', 'the status statement is not about this issuance');
        if (st.state === 'revoked') fail('CERT_REVOKED', `revoked as of checkpoint ${st.size} (time ${st.time})`);
        const age = Math.max(0, ctx.now - st.time);
        const max = ctx.maxStatusAge ?? DEFAULT_MAX_STATUS_AGE_S;
        if (age > max) fail('STATUS_TOO_OLD', `the status is ${age} s old (checkpoint ${st.size}), more than the ${max} s this verifier accepts: a later revocation or compromise cannot be seen`);
        return `not revoked as of checkpoint ${st.size} (time ${st.time}, ${age} s ago)`;
      }],
      ['validity', () => {
        if (ctx.now < issue.issuedAt) fail('NOT_YET_VALID', `valid from ${issue.issuedAt}, now is ${ctx.now}`);
        if (ctx.now >= issue.validUntil) fail('CERT_EXPIRED', `valid until ${issue.validUntil}, now is ${ctx.now}`);
        return `valid from ${issue.issuedAt} until ${issue.validUntil}`;
      }],
      ['original', () => {
        if (p.holding.flow === 'view') fail('VIEW_ONLY', 'a view-only copy (열람용) is never valid as an original');
        return 'not a view-only copy';
      }],
    ];
    const byName = new Map(bodies);
    // Without a policy there is no `witnessed` check (and no witness report).
    const judged = (n: CheckName) => n !== 'witnessed' || this.policy !== undefined;
    // Evaluated so that the status is verified after the signatures it shares with the chain.
    const results = new Map(EVAL_ORDER.filter(judged).map((n) => [n, run(n, byName.get(n)!)] as const));
    const checks = CHECKS.filter(judged).map((n) => results.get(n)!);
    return {
      valid: checks.every((c) => c.ok),
      checks,
      flow: p.holding.flow,
      now: ctx.now,
      certificate: {
        id: toHex(issue.id),
        docType: issue.docType,
        issuer: toBase64(issue.issuer),
        issuerName: register.name,
        issuedAt: issue.issuedAt,
        validUntil: issue.validUntil,
        anchoredAt,
        transfers: transfers.length,
      },
      claims,
      status: status === undefined ? null : { state: status.state, size: status.size, time: status.time, age: Math.max(0, ctx.now - status.time) },
      ...(this.policy === undefined ? {} : { witnesses }),
    };
  }

  /**
   * underPolicy judges a checkpoint note under the policy (checkCheckpoint). A note that
   * the policy judged (its log's signature verified) is remembered by the SHA-256 of its
   * whole bytes, so the cache holds small verdicts whatever lines a note carries; a
   * refusal is not remembered.
   */
  private underPolicy(note: Uint8Array): PolicyVerdict | LedgerError {
    const key = toHex(sha256(note));
    const hit = this.witnessed.get(key);
    if (hit !== undefined) return hit;
    let v: PolicyVerdict;
    try {
      v = checkCheckpoint(note, this.policy!);
    } catch (e) {
      if (!isLedgerError(e)) throw e;
      return e;
    }
    if (this.witnessed.size >= WITNESSED_CACHE) this.witnessed.delete(this.witnessed.keys().next().value as string);
    this.witnessed.set(key, v);
    return v;
  }

  /** anchor checks a proof bundle for a leaf (spec §7.3) and returns its checkpoint's trusted time. */
  private anchor(what: string, leaf: Uint8Array, b: ProofBundle, published?: ReadonlyMap<number, Uint8Array>): number {
    let opened;
    try {
      opened = openCheckpoint(b.checkpoint, this.v);
    } catch (e) {
      if (!isLedgerError(e)) throw e;
      const reason = e.code === 'BAD_SIGNATURE' || e.code === 'UNKNOWN_KEY' ? e.code : 'WRONG_LOG';
      return fail(reason, `the checkpoint of ${what}: ${e.message}`);
    }
    const { checkpoint, time } = opened;
    const mine = published?.get(checkpoint.size);
    if (mine !== undefined && !equalBytes(mine, checkpoint.root)) {
      return fail('INCONSISTENT', `the checkpoint of ${what} is signed with the log's key, but the log published another tree of size ${checkpoint.size} (a fork, or a stolen key)`);
    }
    try {
      if (b.index >= checkpoint.size) throw new LedgerError('INVALID_PROOF', `index ${b.index} is not below the tree size ${checkpoint.size}`);
      verifyInclusion(leaf, b.index, checkpoint.size, b.proof, checkpoint.root);
    } catch (e) {
      if (!isLedgerError(e)) throw e;
      return fail('NOT_IN_LOG', `${what} is not proved in its checkpoint: ${e.message}`);
    }
    return time;
  }

  private eventSignature(p: ParsedEvent, key: Uint8Array, what: string, leaf: Uint8Array, known?: KnownStatus): void {
    if (known?.admitted?.(leaf) === true) return; // the log checked it when it admitted the entry
    if (!this.sig(key, p.signingInput, p.sig)) fail('BAD_SIGNATURE', `the signature on ${what} does not verify`);
  }
}

/** cosigners lists who cosigned a checkpoint under the policy, with the times (ISO 8601, UTC). */
function cosigners(v: PolicyVerdict): string {
  return v.cosigned.length === 0 ? 'no witness of the policy' : v.cosigned.map((c) => `${c.name} at ${new Date(c.time * 1000).toISOString()}`).join(', ');
}

/** holdsBy: is `key` (with `salt`) a holder by the event `by` (spec §5.7)? */
function holdsBy(by: CertIssue | CertTransfer, key: Uint8Array, salt: Uint8Array | null): boolean {
  if (by.type === 'cert.issue') return salt === null && equalBytes(by.holder, key);
  return salt !== null && equalBytes(by.recipient, recipientCommitment(salt, key));
}

/** disclosed checks a disclosure against the commitment (spec §5.8) and returns the claims. */
function disclosed(claims: Claim[], digests: Uint8Array[], commitment: Uint8Array): Record<string, CborValue> {
  const listed = new Set(digests.map(toHex));
  const out: Record<string, CborValue> = {};
  for (const c of claims) {
    if (!listed.has(toHex(claimDigest(c)))) fail('CLAIM_MISMATCH', `claim ${JSON.stringify(c[1])} does not match the document's commitment (a changed value or a wrong salt)`);
    Object.defineProperty(out, c[1], { value: c[2], enumerable: true, writable: true, configurable: true });
  }
  if (!equalBytes(commitmentOf(digests), commitment)) fail('COMMITMENT_MISMATCH', 'the digest list does not commit to the commitment of the issuance');
  return out;
}

/** sigKey identifies a signature check by its key, message and signature. */
function sigKey(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): string {
  return `${toHex(publicKey)}:${toHex(signature)}:${toHex(message)}`;
}

/** cborJson makes a claim value JSON: byte strings as base64 text. */
export function cborJson(v: CborValue): unknown {
  if (v instanceof Uint8Array) return toBase64(v);
  if (Array.isArray(v)) return v.map(cborJson);
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(o, k, { value: cborJson(x), enumerable: true, writable: true, configurable: true });
    return o;
  }
  return v;
}

/** verdictJson is a verdict as JSON (claims with byte strings as base64). */
export function verdictJson(v: Verdict): unknown {
  return { ...v, claims: v.claims === null ? null : cborJson(v.claims) };
}
