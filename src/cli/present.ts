/**
 * dojang present and dojang verify: make a presentation of an issued certificate (spec
 * §10.1) and judge one (spec §10.2), offline with the log's keys or against a server's
 * fresh status (--url). `verify` exits 0 only when the presentation is valid, 3 when it
 * was judged and is not; errors (a file that is not a presentation, a log that cannot
 * be reached) exit 1 through main.ts.
 */
import { parseArgs } from 'node:util';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { LedgerError } from '../core/errors.js';
import { equalBytes, fromHex, toBase64, toHex } from '../core/bytes.js';
import { disclose } from '../core/commitment.js';
import { leafHash } from '../core/merkle.js';
import { parsePublicKey } from '../client/keys.js';
import { decodeDocument } from '../client/document.js';
import { DojangClient } from '../client/sdk.js';
import { decodePresentation, MAX_PRESENTATION_BYTES, type DecodedPresentation } from '../client/presentation.js';
import { cborJson, DEFAULT_MAX_STATUS_AGE_S, MAX_STATUS_AGE_LIMIT_S, PresentationVerifier, verdictJson, type Verdict, type VerifierKeys, type VerifyContext } from '../client/verify.js';
import { badRequest, clientFor, need, NET, prefixed, publicKeyOrFile, signerFile, type Values } from './events.js';
import type { Io } from './main.js';
import { maskLines } from './wallet.js';
import { decideProxyPurchase } from '../wallet/mask-policy.js';
import { readPolicy, witnessLine } from './policy-file.js';

export const PRESENT_USAGE = `  present --url URL --doc FILE [--show NAME,...] --out FILE
         (--key FILE --to PUBKEY | --key FILE --verifier NAME --nonce HEX | --view)
         [--json]
         make a presentation of the certificate in the document FILE (dojang
         issue --out), disclosing only the claims named by --show: --to sends it
         (a transfer from the holder key to PUBKEY, anchored now); --verifier and
         --nonce sign the nonce a verifier showed, face to face; --view makes a
         view-only copy, never valid as an original
  verify FILE (--url URL | --log-key V --timestamp-key V --status-key V
         --root-key V) [--me KEY] [--verifier NAME --nonce HEX] [--policy FILE]
         [--max-status-age SECONDS] [--mask] [--json]
         judge a presentation: offline from its own proofs with the log's keys,
         or with the fresh status of --url; --me is this verifier's key (a
         presentation sent to it), --verifier and --nonce what it showed (face to
         face). KEY may be a wallet address. --policy (a c2sp.org/tlog-policy
         file) also requires its checkpoints to be cosigned by a quorum of the
         policy's witnesses and reports who cosigned and when. A status older
         than --max-status-age seconds (0 to ${MAX_STATUS_AGE_LIMIT_S}; default
         ${DEFAULT_MAX_STATUS_AGE_S}, a day) is not valid (not-revoked: STATUS_TOO_OLD):
         a later revocation or compromise cannot be seen in it. --mask also
         judges the mask proxy purchase (spec §12.8). Exit 0 only when valid
         (and, with --mask, allowed), 3 when not`;

/** maxStatusAgeArg reads --max-status-age: whole seconds, 0 … MAX_STATUS_AGE_LIMIT_S (spec §10.2). */
function maxStatusAgeArg(s: string): number {
  const n = Number(s);
  if (!/^(0|[1-9][0-9]*)$/.test(s) || n > MAX_STATUS_AGE_LIMIT_S) throw badRequest(`--max-status-age ${s}: seconds, from 0 to ${MAX_STATUS_AGE_LIMIT_S}`);
  return n;
}

/** nonceArg reads --nonce: 16–64 bytes as hex. */
function nonceArg(v: Values): Uint8Array {
  const s = need(v, 'nonce');
  if (!/^([0-9a-fA-F]{2}){16,64}$/.test(s)) throw badRequest('--nonce must be 16-64 bytes as hex digits');
  return fromHex(s.toLowerCase());
}

/** dojang present ... */
export async function runPresent(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...NET, doc: { type: 'string' }, show: { type: 'string' }, out: { type: 'string' }, key: { type: 'string' }, to: { type: 'string' }, verifier: { type: 'string' }, nonce: { type: 'string' }, view: { type: 'boolean' } },
    strict: true,
  });
  const flows = [values.to !== undefined, values.verifier !== undefined || values.nonce !== undefined, values.view === true].filter(Boolean).length;
  if (flows !== 1) throw badRequest('choose one of --to (send), --verifier with --nonce (face to face) and --view');
  const client = clientFor(values);
  const docPath = need(values, 'doc');
  let raw: Uint8Array;
  try {
    raw = await readFile(docPath);
  } catch (e) {
    throw badRequest(`--doc: cannot read ${docPath}: ${(e as Error).message}`, e);
  }
  const doc = prefixed('doc', () => decodeDocument(raw));
  const names = values.show === undefined || values.show === '' ? [] : values.show.split(',');
  let disclosure;
  try {
    disclosure = disclose(doc.claims, names);
  } catch (e) {
    throw badRequest(`--show: ${(e as Error).message}`, e);
  }
  const out = need(values, 'out');
  let bytes: Uint8Array;
  let summary: string;
  if (values.view) {
    bytes = await client.present({ issue: doc.issue, disclosure, holding: { flow: 'view' } });
    summary = 'a view-only copy';
  } else {
    const key = await signerFile(need(values, 'key'), 'key');
    if (!equalBytes(key.publicKey, doc.event.holder)) throw badRequest('--key is not the holder key of the document');
    if (values.to !== undefined) {
      const to = prefixed('to', () => parsePublicKey(values.to as string));
      const sent = await client.transfer(key.seed, { id: doc.event.id, parent: leafHash(doc.issue), senderSalt: null, recipientKey: to });
      bytes = await client.present({ issue: doc.issue, transfers: [sent.entry], disclosure, holding: { flow: 'received', recipient: to, salt: sent.recipientSalt } });
      summary = `sent to ${toBase64(to)} (transfer at index ${sent.receipt.index})`;
    } else {
      const verifier = need(values, 'verifier');
      bytes = await client.present({ issue: doc.issue, disclosure, holding: { flow: 'face', holderSeed: key.seed, salt: null, verifier, nonce: nonceArg(values) } });
      summary = `signed for ${JSON.stringify(verifier)}`;
    }
  }
  await writeNew(out, bytes);
  if (values.json) io.out(JSON.stringify({ presentation: out, bytes: bytes.length, disclosed: names }));
  else io.out(`presentation of ${toHex(doc.event.id)} (${doc.event.docType}), ${summary}, disclosing ${names.length === 0 ? 'no claims' : names.join(', ')}: ${out}`);
  return 0;
}


/** writeNew writes a file that must not exist yet, 0600 (a presentation holds disclosed claims). */
export async function writeNew(path: string, bytes: Uint8Array): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new LedgerError('CONFLICT', `--out ${path} exists: refusing to overwrite it`, { cause: e });
    throw badRequest(`--out: cannot create ${path}: ${(e as Error).message}`, e);
  }
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** dojang verify FILE ... */
export async function runVerify(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...NET, 'root-key': { type: 'string' }, me: { type: 'string' }, verifier: { type: 'string' }, nonce: { type: 'string' }, mask: { type: 'boolean' }, policy: { type: 'string' }, 'max-status-age': { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw badRequest('verify takes one presentation FILE');
  const maxStatusAge = values['max-status-age'] === undefined ? undefined : maxStatusAgeArg(values['max-status-age']);
  const file = positionals[0];
  let raw: Uint8Array;
  try {
    raw = await readFile(file);
  } catch (e) {
    throw badRequest(`cannot read ${file}: ${(e as Error).message}`, e);
  }
  if (raw.length > MAX_PRESENTATION_BYTES) throw new LedgerError('TOO_LARGE', `${file} is over ${MAX_PRESENTATION_BYTES} bytes`);
  const p: DecodedPresentation = prefixed(file, () => decodePresentation(raw));
  const ctx: VerifyContext = { now: Math.floor(Date.now() / 1000), maxStatusAge };
  if (values.me !== undefined) ctx.audience = await publicKeyOrFile(values.me, 'me');
  if ((values.verifier === undefined) !== (values.nonce === undefined)) throw badRequest('--verifier and --nonce go together (face to face)');
  if (values.verifier !== undefined) {
    ctx.verifierName = values.verifier;
    ctx.nonce = nonceArg(values);
  }
  let keys: VerifierKeys;
  let source: string;
  if (values.url !== undefined) {
    const client = values['root-key'] !== undefined ? new DojangClient(need(values, 'url'), { rootKey: values['root-key'] }) : clientFor(values);
    const k = await client.keys();
    keys = { ...k, rootKey: values['root-key'] ?? (await client.log()).rootKey };
    p.status = await client.presentedStatus(p.parsed.issue.event.id); // fresh, and verified
    source = `status fetched from ${client.baseUrl}`;
  } else {
    keys = { logKey: need(values, 'log-key'), timestampKey: need(values, 'timestamp-key'), statusKey: need(values, 'status-key'), rootKey: need(values, 'root-key') };
    source = 'offline: the status the presentation carries';
  }
  const policy = values.policy === undefined ? undefined : (await readPolicy(values.policy)).policy;
  const verifier = prefixed('log-key', () => new PresentationVerifier(keys, undefined, { policy }));
  const verdict = verifier.verify(p, ctx);
  const mask = values.mask ? maskLines(verdict) : undefined;
  if (values.json) io.out(JSON.stringify({ ...(verdictJson(verdict) as object), ...(values.mask ? { maskProxyPurchase: decideProxyPurchase(verdict) } : {}) }));
  else for (const l of [...verdictLines(verdict, source), ...(mask?.lines ?? [])]) io.out(l);
  if (mask !== undefined && verdict.valid && !mask.allowed) {
    io.err('dojang: valid, but the proxy purchase is refused');
    return 3;
  }
  if (verdict.valid) return 0;
  const first = verdict.checks.find((c) => !c.ok)!;
  io.err(`dojang: not valid: ${first.name}: ${first.reason}: ${first.detail}`);
  return 3;
}

export function verdictLines(v: Verdict, source: string): string[] {
  const c = v.certificate;
  const iso = (t: number) => new Date(t * 1000).toISOString();
  const lines = [
    `${v.valid ? 'VALID' : 'NOT VALID'}: ${c.docType} ${c.id}, issued by ${JSON.stringify(c.issuerName)} (${c.issuer})`,
    `  issued ${iso(c.issuedAt)}, valid until ${iso(c.validUntil)}${c.anchoredAt === null ? '' : `, anchored ${iso(c.anchoredAt)}`}; ${c.transfers} transfer(s), flow ${v.flow}`,
  ];
  for (const k of v.checks) lines.push(`  ${k.ok ? 'ok  ' : 'FAIL'} ${k.name.padEnd(18)} ${k.ok ? '' : `${k.reason}: `}${k.detail}`);
  if (v.witnesses !== undefined) lines.push(`  ${witnessLine(v.witnesses)}`);
  if (v.status !== null) lines.push(`  status ${v.status.state} as of checkpoint ${v.status.size} at ${iso(v.status.time)} (${v.status.age} s old; ${source})`);
  if (v.claims !== null) lines.push(`  disclosed: ${JSON.stringify(cborJson(v.claims))}`);
  return lines;
}
