/**
 * The event commands of dojang: keygen, doctype register, issuer
 * register|retire|succeed, issue, send, revoke. Each signs certificate events (spec
 * §5.7) with a key file, submits them to a log (--url) through the SDK
 * (src/client/sdk.ts) and prints their verified receipts (spec §8.6); --json prints one
 * JSON object instead. Exit status 0 on success; otherwise the
 * error propagates to main.ts, which prints one line on stderr and exits non-zero.
 *
 * Key files are Go note signer keys (spec §4.3), as `dojang keygen` and `dojang init`
 * write them. Public keys on the command line are 64 hex digits, base64 of 32 bytes, or
 * a vkey (src/client/keys.ts). The log's keys are fetched from --url on first use (trust
 * on first use) unless pinned with --log-key, --timestamp-key and --status-key.
 *
 * `issuer register` refuses a document type the log's registry (GET /v1/doctypes) does
 * not hold unless --force. `issue` checks the claims and the validity against the
 * document type (src/wallet/doctypes.ts checkIssuance) before anything is signed.
 *
 * `issue` writes the holder's document (src/client/document.ts: the claims with their
 * salts, the digests, the cert.issue entry and its proof bundle) to --out, 0600, never
 * overwriting. The file is created before the entry is sent; if the log refuses the
 * entry (a 4xx problem) the file is removed; if the outcome is unknown (network
 * failure, 5xx, a receipt that does not verify) it is kept with a null proof, since the
 * certificate may be in the log and its salts exist nowhere else.
 */
import { parseArgs } from 'node:util';
import { open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { LedgerError, isLedgerError } from '../core/errors.js';
import { fromBase64, fromHex, toBase64, toHex } from '../core/bytes.js';
import { randomBytes } from '../core/crypto.js';
import type { CborValue } from '../core/cbor.js';
import { newClaim, type Claim } from '../core/commitment.js';
import { isValidKeyName, parseSignerKey, SIG_TYPE_ED25519 } from '../core/note.js';
import { readKeyFile, writeKeyFile, type KeyFile } from '../ledger/keyfiles.js';
import { DojangClient, httpProblemOf, type Receipt } from '../client/sdk.js';
import { parsePublicKey, publicKeyForms } from '../client/keys.js';
import { encodeDocument } from '../client/document.js';
import type { Io } from './main.js';
import { encodeAddress, parseAddress } from '../wallet/address.js';
import { encodeItem } from '../wallet/item.js';
import { deposit } from '../wallet/wallet.js';
import { checkIssuance, DOC_TYPES } from '../wallet/doctypes.js';

/** Usage lines of these commands, for main.ts. */
export const EVENTS_USAGE = `  keygen --out FILE [--name NAME] [--json]
         write a new Ed25519 signer key file (0600) and print its public key
  doctype register --url URL --root-key FILE --doc-type T --max-days N [--json]
         put a document type in the log's registry: an original of it is valid
         at most N days (1 to 3660; signed by the root key; a later one replaces
         the maximum for later issuances)
  issuer register --url URL --root-key FILE --issuer-key KEY --name NAME
         --doc-type T [--doc-type T ...] [--force] [--json]
         register an issuing office's key for document types (signed by the
         root key); a type the log's registry does not hold is refused
         (UNKNOWN_DOCTYPE) unless --force
  issuer retire --url URL --root-key FILE --issuer-key KEY
         [--compromised-from INDEX] [--json]
         retire an issuer key (it signs nothing more); --compromised-from also
         says the key was in other hands from log index INDEX on: its
         certificates issued there or later are not valid anywhere (a key
         already retired gets only that; a later one may only lower INDEX)
  issuer succeed --url URL --root-key FILE --issuer-key KEY --successor KEY
         [--json]
         name the active issuer key (--successor) that may revoke the
         certificates of a retired one (--issuer-key)
  issue  --url URL --issuer-key FILE --holder PUBKEY --doc-type T
         --claims FILE.json [--valid-days N] (--out FILE | --to ADDRESS) [--json]
         issue a certificate; the holder's document (claims and salts) goes to
         FILE, or sealed into the wallet at ADDRESS (its store at URL), or both;
         PUBKEY is the holder key the wallet handed out; claims FILE.json is an
         object name -> value (integers, text, true/false/null, arrays,
         objects). The claims of a document type the wallet side knows are
         checked before anything is signed (kr.gov.resident-registration.copy:
         address, head, applicant, member.N.name, member.N.relation,
         member.N.birthDate for N = 1, 2, ...); --valid-days is at most its
         validity (the default: that validity; required for other types)
  send   --url URL --key FILE --id HEX --parent LEAFHASH [--sender-salt HEX]
         --to PUBKEY [--json]
         share a copy of a certificate held by the key in FILE; --parent is the
         leaf hash of the event that made it a holder, --sender-salt the salt it
         received with the copy (none for the issuance); prints the recipient's salt
  revoke --url URL --key FILE --id HEX [--reason TEXT] [--json]
         revoke a certificate, signed by the key in FILE (--issuer-key is the
         same option): its issuer while active; once that key is retired, its
         successor or the root key

  PUBKEY is 64 hex digits, base64 of 32 bytes, or a vkey; KEY is a PUBKEY or a
  key file. The event commands take --log-key, --timestamp-key and --status-key
  VKEY to pin the log's keys; otherwise they are fetched from URL (trust on
  first use).`;

export const NET = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  'log-key': { type: 'string' },
  'timestamp-key': { type: 'string' },
  'status-key': { type: 'string' },
} as const;

export type Values = Record<string, string | boolean | string[] | undefined>;

export function badRequest(msg: string, cause?: unknown): LedgerError {
  return new LedgerError('BAD_REQUEST', msg, cause === undefined ? undefined : { cause });
}

/** need returns a required string option, or BAD_REQUEST. */
export function need(v: Values, name: string): string {
  const x = v[name];
  if (typeof x !== 'string' || x === '') throw badRequest(`--${name} is required`);
  return x;
}

/** clientFor makes the SDK client of --url, with pinned keys when given. */
export function clientFor(v: Values): DojangClient {
  const url = need(v, 'url');
  try {
    return new DojangClient(url, {
      logKey: v['log-key'] as string | undefined,
      timestampKey: v['timestamp-key'] as string | undefined,
      statusKey: v['status-key'] as string | undefined,
    });
  } catch (e) {
    throw badRequest(`--url ${JSON.stringify(url)} is not an http(s) URL`, e);
  }
}

/** prefixed rethrows a LedgerError with the option it came from named first. */
export function prefixed<T>(flag: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isLedgerError(e)) throw new LedgerError(e.code, `--${flag}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** signerFile reads an Ed25519 (type 0x01) signer key file (spec §4.3). */
export async function signerFile(path: string, flag: string): Promise<KeyFile> {
  let k: KeyFile;
  try {
    k = await readKeyFile(path);
  } catch (e) {
    if (isLedgerError(e)) throw new LedgerError(e.code, `--${flag} ${path}: ${e.message}`, { cause: e });
    throw badRequest(`--${flag}: cannot read ${path}: ${(e as Error).message}`, e);
  }
  if (k.type !== SIG_TYPE_ED25519) throw badRequest(`--${flag} ${path} is not an Ed25519 (type 0x01) signer key`);
  return k;
}

/** publicKeyOrFile reads a public key given as text, or from a key file (signer key or public key). */
export async function publicKeyOrFile(value: string, flag: string): Promise<Uint8Array> {
  if (/^(dojang:)?dw1/i.test(value)) return prefixed(flag, () => parseAddress(value)); // a wallet address (spec §12.2)
  try {
    return parsePublicKey(value);
  } catch (e) {
    if (isLedgerError(e) && e.code !== 'MALFORMED') throw new LedgerError(e.code, `--${flag}: ${e.message}`, { cause: e });
  }
  let text: string;
  try {
    text = (await readFile(value, 'utf8')).trim();
  } catch (e) {
    throw badRequest(`--${flag} ${JSON.stringify(value)} is neither a public key nor a readable key file`, e);
  }
  return prefixed(flag, () => (text.startsWith('PRIVATE+KEY+') ? parseSignerKey(text).publicKey : parsePublicKey(text)));
}

function hexArg(v: Values, flag: string, bytes: number): Uint8Array {
  const s = need(v, flag);
  if (!new RegExp(`^[0-9a-fA-F]{${2 * bytes}}$`).test(s)) throw badRequest(`--${flag} must be ${2 * bytes} hex digits`);
  return fromHex(s);
}

/** leafHashArg reads a leaf hash as base64 (as receipts print it) or 64 hex digits. */
function leafHashArg(v: Values, flag: string): Uint8Array {
  const s = need(v, flag);
  if (/^[0-9a-fA-F]{64}$/.test(s)) return fromHex(s);
  try {
    const b = fromBase64(s);
    if (b.length === 32) return b;
  } catch {
    // fall through
  }
  throw badRequest(`--${flag} must be a leaf hash: base64 of 32 bytes or 64 hex digits`);
}

function positiveInt(v: Values, flag: string, max: number): number {
  const s = need(v, flag);
  const n = Number(s);
  if (!/^[1-9][0-9]*$/.test(s) || !Number.isSafeInteger(n) || n > max) throw badRequest(`--${flag} must be an integer from 1 to ${max}`);
  return n;
}

/** uintArg reads a non-negative integer of at most 2^53 - 1. */
function uintArg(v: Values, flag: string): number {
  const s = need(v, flag);
  const n = Number(s);
  if (!/^(0|[1-9][0-9]*)$/.test(s) || !Number.isSafeInteger(n)) throw badRequest(`--${flag} must be a log index: an integer from 0 to 2^53 - 1`);
  return n;
}

/** jsonClaimValue turns a JSON value into a CBOR value of spec §5.1 (integers only). */
function jsonClaimValue(v: unknown, where: string): CborValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw badRequest(`${where}: ${v} is not an integer of at most 2^53 - 1 (the data model has no fractions)`);
    return v === 0 ? 0 : v; // -0 is 0
  }
  if (Array.isArray(v)) return v.map((x, i) => jsonClaimValue(x, `${where}[${i}]`));
  if (typeof v === 'object') {
    const out: { [k: string]: CborValue } = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      Object.defineProperty(out, k, { value: jsonClaimValue(x, `${where}.${k}`), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  throw badRequest(`${where}: not a JSON value`);
}

/** readClaims reads --claims: a JSON object name → value, each made a salted claim (spec §5.8). */
async function readClaims(path: string): Promise<Claim[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw badRequest(`--claims ${path}: ${(e as Error).message}`, e);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest(`--claims ${path} must hold a JSON object: claim name -> value`);
  return Object.entries(parsed as Record<string, unknown>).map(([name, value]) => {
    const v = jsonClaimValue(value, `claim ${JSON.stringify(name)}`);
    try {
      return newClaim(name, v);
    } catch (e) {
      throw badRequest(`--claims ${path}: ${(e as Error).message}`, e);
    }
  });
}

/** receiptJson is the receipt as POST /v1/entries answers it (spec §8.6). */
function receiptJson(r: Receipt) {
  return { index: r.index, leafHash: toBase64(r.leafHash), size: r.size, time: r.time, checkpoint: new TextDecoder().decode(r.checkpoint), proof: r.proof };
}

function receiptLines(r: Receipt): string[] {
  return [
    `  index ${r.index}, leaf hash ${toBase64(r.leafHash)}`,
    `  proved in the checkpoint of size ${r.size}, cosigned at ${new Date(r.time * 1000).toISOString()} (${r.time})`,
  ];
}

// ---------------------------------------------------------------------------------------

/** dojang keygen --out FILE [--name NAME] [--json] */
export async function runKeygen(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const out = need(values, 'out');
  const name = values.name ?? 'dojang-key';
  if (!isValidKeyName(name)) throw badRequest(`--name ${JSON.stringify(name)} is not a key name (no spaces, '+' or control characters)`);
  const seed = randomBytes(32);
  try {
    await writeKeyFile(out, name, SIG_TYPE_ED25519, seed);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new LedgerError('CONFLICT', `${out} exists: refusing to overwrite a key file`, { cause: e });
    throw badRequest(`cannot write ${out}: ${(e as Error).message}`, e);
  }
  const k = await readKeyFile(out);
  const f = publicKeyForms(name, k.publicKey);
  if (values.json) io.out(JSON.stringify({ file: out, name, publicKey: f.base64, publicKeyHex: f.hex, vkey: f.vkey }));
  else {
    io.out(`wrote ${out} (keep it secret)`);
    io.out(`public key (base64): ${f.base64}`);
    io.out(`public key (hex):    ${f.hex}`);
    io.out(`vkey:                ${f.vkey}`);
  }
  return 0;
}

/** The longest maximum validity of a document type, in days (spec §5.7: 316,224,000 s). */
export const MAX_DOCTYPE_DAYS = 3_660;

/** dojang doctype register ... */
export async function runDocType(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'register') throw badRequest(`dojang doctype: expected register, not ${JSON.stringify(sub ?? '')}`);
  const { values } = parseArgs({ args: rest, options: { ...NET, 'root-key': { type: 'string' }, 'doc-type': { type: 'string' }, 'max-days': { type: 'string' } }, strict: true });
  const client = clientFor(values);
  const root = await signerFile(need(values, 'root-key'), 'root-key');
  const docType = need(values, 'doc-type');
  const maxValidity = positiveInt(values, 'max-days', MAX_DOCTYPE_DAYS) * 86_400;
  const receipt = await client.registerDocType(root.seed, docType, maxValidity).catch(rangeToBadRequest);
  if (values.json) io.out(JSON.stringify({ docType, maxValidity, receipt: receiptJson(receipt) }));
  else {
    io.out(`registered document type ${docType}: an original is valid at most ${maxValidity / 86_400} days (${maxValidity} s)`);
    for (const l of receiptLines(receipt)) io.out(l);
  }
  return 0;
}

/** unregisteredDocTypes returns the document types the log's registry does not hold (GET /v1/doctypes/<type>). */
async function unregisteredDocTypes(client: DojangClient, docTypes: string[]): Promise<string[]> {
  const found = await Promise.all(docTypes.map((d) => client.docType(d)));
  return docTypes.filter((_, i) => found[i] === undefined);
}

/** dojang issuer register|retire|succeed ... */
export async function runIssuer(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'register' && sub !== 'retire' && sub !== 'succeed') throw badRequest(`dojang issuer: expected register, retire or succeed, not ${JSON.stringify(sub ?? '')}`);
  const only = {
    register: { name: { type: 'string' }, 'doc-type': { type: 'string', multiple: true }, force: { type: 'boolean' } },
    retire: { 'compromised-from': { type: 'string' } },
    succeed: { successor: { type: 'string' } },
  } as const;
  const { values } = parseArgs({ args: rest, options: { ...NET, 'root-key': { type: 'string' }, 'issuer-key': { type: 'string' }, ...only[sub] }, strict: true });
  const v = values as Values;
  const client = clientFor(v);
  const root = await signerFile(need(v, 'root-key'), 'root-key');
  const issuer = await publicKeyOrFile(need(v, 'issuer-key'), 'issuer-key');
  const out = (j: object, lines: string[]) => {
    if (v.json) io.out(JSON.stringify({ issuer: toBase64(issuer), ...j }));
    else for (const l of lines) io.out(l);
    return 0;
  };
  if (sub === 'register') {
    const name = need(v, 'name');
    const docTypes = v['doc-type'] as string[] | undefined;
    if (docTypes === undefined || docTypes.length === 0) throw badRequest('--doc-type is required (once per document type)');
    const unknown = v.force === true ? [] : await unregisteredDocTypes(client, docTypes);
    if (unknown.length > 0) {
      throw new LedgerError('UNKNOWN_DOCTYPE', `the log's document type registry does not hold ${unknown.join(', ')}: register it first (dojang doctype register), or give --force`);
    }
    const receipt = await client.registerIssuer(root.seed, issuer, name, docTypes).catch(rangeToBadRequest);
    return out({ receipt: receiptJson(receipt) }, [`registered issuer ${toBase64(issuer)}`, ...receiptLines(receipt)]);
  }
  if (sub === 'succeed') {
    const successor = await publicKeyOrFile(need(v, 'successor'), 'successor');
    const receipt = await client.succeedIssuer(root.seed, issuer, successor).catch(rangeToBadRequest);
    return out({ successor: toBase64(successor), receipt: receiptJson(receipt) }, [`issuer ${toBase64(successor)} succeeds retired issuer ${toBase64(issuer)}: it may revoke its certificates`, ...receiptLines(receipt)]);
  }
  // retire, then (--compromised-from) the compromise. A key already retired gets only
  // the compromise, so that the command can be run again after a failure between the two.
  const from = v['compromised-from'] === undefined ? undefined : uintArg(v, 'compromised-from');
  let retired: Receipt | null = null;
  try {
    retired = await client.retireIssuer(root.seed, issuer).catch(rangeToBadRequest);
  } catch (e) {
    if (from === undefined || !isLedgerError(e) || e.code !== 'ISSUER_RETIRED') throw e;
  }
  const lines = retired === null ? [`issuer ${toBase64(issuer)} was retired already`] : [`retired issuer ${toBase64(issuer)}`, ...receiptLines(retired)];
  if (from === undefined) return out({ receipt: receiptJson(retired!) }, lines);
  let compromised: Receipt;
  try {
    compromised = await client.compromiseIssuer(root.seed, issuer, from).catch(rangeToBadRequest);
  } catch (e) {
    if (retired === null || !isLedgerError(e)) throw e;
    throw new LedgerError(e.code, `the issuer is retired (index ${retired.index}) but its compromise was refused: ${e.message}`, { cause: e });
  }
  lines.push(`compromised from log index ${from}: its certificates issued there or later are not valid`, ...receiptLines(compromised));
  return out({ receipt: retired === null ? null : receiptJson(retired), compromise: { from, receipt: receiptJson(compromised) } }, lines);
}

/** rangeToBadRequest turns the SDK's RangeError for a value the spec refuses into BAD_REQUEST. */
function rangeToBadRequest(e: unknown): never {
  if (e instanceof RangeError) throw badRequest(e.message, e);
  throw e;
}

/** dojang issue ... (--out FILE | --to ADDRESS) */
export async function runIssue(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...NET, 'issuer-key': { type: 'string' }, holder: { type: 'string' }, 'doc-type': { type: 'string' }, claims: { type: 'string' }, 'valid-days': { type: 'string' }, out: { type: 'string' }, to: { type: 'string' } },
    strict: true,
  });
  const client = clientFor(values);
  const issuer = await signerFile(need(values, 'issuer-key'), 'issuer-key');
  const holder = prefixed('holder', () => parsePublicKey(need(values, 'holder')));
  const docType = need(values, 'doc-type');
  const known = DOC_TYPES.get(docType);
  if (values['valid-days'] === undefined && known === undefined) throw badRequest(`--valid-days is required for ${docType} (a document type the wallet side does not know)`);
  const validDays = values['valid-days'] === undefined ? known!.validitySeconds / 86_400 : positiveInt(values, 'valid-days', 36_500);
  const claims = await readClaims(need(values, 'claims'));
  const out = values.out;
  const to = values.to === undefined ? undefined : prefixed('to', () => parseAddress(values.to!));
  if (out === undefined && to === undefined) throw badRequest('give --out FILE (the holder\'s document) or --to ADDRESS (into the holder\'s wallet), or both');
  // Before anything is signed or sent: the claims and the validity against the type.
  const checkedAt = client.now();
  checkIssuance(docType, claims, checkedAt, checkedAt + validDays * 86_400);
  const { origin } = await client.keys(); // reach the log before creating anything
  const now = client.now();
  let built;
  try {
    built = client.issueEntry(issuer.seed, { docType, holder, claims, issuedAt: now, validUntil: now + validDays * 86_400 });
  } catch (e) {
    rangeToBadRequest(e);
  }
  const { entry, id, digests } = built;
  let fh: FileHandle | undefined;
  if (out !== undefined) {
    try {
      fh = await open(out, 'wx', 0o600); // the document holds personal data
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new LedgerError('CONFLICT', `--out ${out} exists: refusing to overwrite a document`, { cause: e });
      throw badRequest(`--out: cannot create ${out}: ${(e as Error).message}`, e);
    }
  }
  let receipt: Receipt;
  try {
    try {
      receipt = await client.submit(entry);
    } catch (e) {
      const p = httpProblemOf(e);
      if (p !== undefined && p.status >= 400 && p.status < 500) {
        await fh?.close();
        fh = undefined;
        if (out !== undefined) await rm(out, { force: true }); // refused: nothing was appended
        throw e;
      }
      const code = isLedgerError(e) ? e.code : 'UNAVAILABLE';
      if (fh === undefined) throw new LedgerError(code, `${(e as Error).message}; the certificate ${toHex(id)} may be in the log: revoke it if so`, { cause: e });
      await fh.writeFile(encodeDocument({ origin, issue: entry, claims, digests, proof: null }));
      await fh.sync();
      throw new LedgerError(code, `${(e as Error).message}; the certificate may be in the log: its document is kept in ${out} without a proof`, { cause: e });
    }
    if (fh !== undefined) {
      await fh.writeFile(encodeDocument({ origin, issue: entry, claims, digests, proof: receipt.proof }));
      await fh.sync();
    }
  } finally {
    await fh?.close();
  }
  let item: string | undefined;
  if (to !== undefined) {
    const bytes = encodeItem({ origin, issue: { entry, proof: receipt.proof }, transfers: [], disclosure: { claims, digests }, salt: null });
    try {
      item = await deposit(client, issuer.seed, to, receipt.leafHash, bytes, null);
    } catch (e) {
      // The certificate is in the log; its salts exist only here. Keep the document.
      let kept = '';
      if (out === undefined) {
        const rescue = `dojang-issue-${toHex(id)}.dojang`;
        const f = await open(rescue, 'wx', 0o600);
        try {
          await f.writeFile(encodeDocument({ origin, issue: entry, claims, digests, proof: receipt.proof }));
          await f.sync();
        } finally {
          await f.close();
        }
        kept = `; its document is kept in ${rescue}`;
      } else kept = `; its document is in ${out}`;
      const code = isLedgerError(e) ? e.code : 'UNAVAILABLE';
      throw new LedgerError(code, `certificate ${toHex(id)} is in the log (leaf hash ${toBase64(receipt.leafHash)}) but its deposit into the wallet failed: ${(e as Error).message}${kept}`, { cause: e });
    }
  }
  const j = {
    id: toHex(id),
    docType,
    holder: toBase64(holder),
    issuedAt: now,
    validUntil: now + validDays * 86_400,
    document: out ?? null,
    wallet: to === undefined ? null : encodeAddress(to),
    item: item ?? null,
    leafHash: toBase64(receipt.leafHash),
    receipt: receiptJson(receipt),
  };
  if (values.json) io.out(JSON.stringify(j));
  else {
    io.out(`issued certificate ${j.id} (${docType}) to ${j.holder}, valid until ${new Date(j.validUntil * 1000).toISOString()}`);
    for (const l of receiptLines(receipt)) io.out(l);
    io.out(`  the holder's first send names --parent ${j.leafHash}`);
    if (out !== undefined) io.out(`document (claims, salts, proof) written to ${out}`);
    if (to !== undefined) io.out(`document sealed into wallet ${j.wallet} as item ${item}`);
  }
  return 0;
}

/** dojang send ... */
export async function runSend(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...NET, key: { type: 'string' }, id: { type: 'string' }, parent: { type: 'string' }, 'sender-salt': { type: 'string' }, to: { type: 'string' } },
    strict: true,
  });
  const client = clientFor(values);
  const key = await signerFile(need(values, 'key'), 'key');
  const id = hexArg(values, 'id', 16);
  const parent = leafHashArg(values, 'parent');
  const senderSalt = values['sender-salt'] === undefined ? null : hexArg(values, 'sender-salt', 16);
  const to = prefixed('to', () => parsePublicKey(need(values, 'to')));
  const r = await client.transfer(key.seed, { id, parent, senderSalt, recipientKey: to }).catch(rangeToBadRequest);
  if (values.json) io.out(JSON.stringify({ id: toHex(id), to: toBase64(to), recipientSalt: toHex(r.recipientSalt), leafHash: toBase64(r.leafHash), receipt: receiptJson(r.receipt) }));
  else {
    io.out(`sent certificate ${toHex(id)} to ${toBase64(to)}`);
    for (const l of receiptLines(r.receipt)) io.out(l);
    io.out(`recipient salt ${toHex(r.recipientSalt)}`);
    io.out(`  give it to the recipient with the document: it sends on with --parent ${toBase64(r.leafHash)} --sender-salt ${toHex(r.recipientSalt)}`);
  }
  return 0;
}

/** dojang revoke ... */
export async function runRevoke(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { ...NET, key: { type: 'string' }, 'issuer-key': { type: 'string' }, id: { type: 'string' }, reason: { type: 'string' } }, strict: true });
  if (values.key !== undefined && values['issuer-key'] !== undefined) throw badRequest('give the revoker once: --key FILE (--issuer-key is the same option)');
  const flag = values.key !== undefined ? 'key' : values['issuer-key'] !== undefined ? 'issuer-key' : undefined;
  if (flag === undefined) throw badRequest('--key is required: the key file of the revoker (the issuer; once retired, its successor or the root key)');
  const client = clientFor(values);
  const revoker = await signerFile(values[flag] as string, flag);
  const id = hexArg(values, 'id', 16);
  const receipt = await client.revoke(revoker.seed, id, values.reason ?? '').catch(rangeToBadRequest);
  if (values.json) io.out(JSON.stringify({ id: toHex(id), revoker: toBase64(revoker.publicKey), receipt: receiptJson(receipt) }));
  else {
    io.out(`revoked certificate ${toHex(id)} (signed by ${toBase64(revoker.publicKey)})`);
    for (const l of receiptLines(receipt)) io.out(l);
  }
  return 0;
}

/** EVENT_COMMANDS maps each command name to its runner, for main.ts. */
export const EVENT_COMMANDS: Readonly<Record<string, (args: string[], io: Io) => Promise<number>>> = {
  keygen: runKeygen,
  doctype: runDocType,
  issuer: runIssuer,
  issue: runIssue,
  send: runSend,
  revoke: runRevoke,
};
