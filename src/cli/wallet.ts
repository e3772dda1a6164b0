/**
 * dojang wallet: a holder's wallet on this device (spec §12). The wallet file holds the
 * seed encrypted under a password (spec §12.5), read from --password-file or the
 * DOJANG_WALLET_PASSWORD environment variable; nothing works without it. The items
 * live, sealed, in the server's personal data store (--url).
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { LedgerError } from '../core/errors.js';
import { toBase64 } from '../core/bytes.js';
import { cborJson, type Verdict } from '../client/verify.js';
import { parseChallenge, parseAddress, type Challenge } from '../wallet/address.js';
import { qrPng, qrSvg, qrTerminal, readQr } from '../wallet/qr.js';
import { Wallet, WalletService, type OpenedItem } from '../wallet/wallet.js';
import { createWalletFile, loadWallet, updateWallet } from '../wallet/wallet-file.js';
import { claimLabel, docTypeTitle } from '../wallet/doctypes.js';
import { decideProxyPurchase, koreanDate } from '../wallet/mask-policy.js';
import { badRequest, clientFor, need, NET, type Values } from './events.js';
import { writeNew } from './present.js';
import { viewOnlyPdf } from '../wallet/view-pdf.js';
import type { Io } from './main.js';

export const WALLET_USAGE = `  wallet create --wallet FILE [--json]
         make a wallet (a fresh seed, encrypted under the password) and print its
         address
  wallet address --wallet FILE [--qr png|svg|text --out FILE]
         print the address (dojang:dw1...), or write it as a QR code
  wallet holder-key --wallet FILE
         hand out a fresh holder key for one certificate (give it to the issuer)
  wallet list --url URL --wallet FILE [--json]
         the certificates in the wallet's store: issued and received
  wallet show ITEM --url URL --wallet FILE [--json]
         open an item: the certificate, its claims (Korean and English), its chain
  wallet send ITEM --url URL --wallet FILE (--to ADDRESS | --to-qr IMAGE.png)
         --show NAME,... [--json]
         send a copy to another wallet with only the named claims
  wallet present ITEM --url URL --wallet FILE --show NAME,... --out FILE
         (--challenge URI | --challenge-qr IMAGE.png | --received | --view)
         a presentation: face to face for a verifier's challenge, of a copy this
         wallet received (to verify it), or a view-only copy
  wallet view-pdf ITEM --url URL --wallet FILE --pdf-password-file FILE
         --out FILE.pdf
         export a printable view-only copy (열람용), opened only with the PDF
         password (the first line of that file); never valid as an original
  wallet delete ITEM --url URL --wallet FILE
  wallet read-qr IMAGE.png
         print the text of the QR code in an image

  The password comes from --password-file FILE (its first line) or the
  environment variable DOJANG_WALLET_PASSWORD.`;

const WALLET_OPTS = { ...NET, wallet: { type: 'string' }, 'password-file': { type: 'string' } } as const;

/** password reads the wallet password (module comment); BAD_REQUEST when there is none. */
async function password(v: Values): Promise<string> {
  const file = v['password-file'];
  if (typeof file === 'string') {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw badRequest(`--password-file: cannot read ${file}: ${(e as Error).message}`, e);
    }
    const line = text.split(/\r?\n/)[0];
    if (line === '') throw badRequest(`--password-file ${file}: the first line is empty`);
    return line;
  }
  const env = process.env.DOJANG_WALLET_PASSWORD;
  if (env !== undefined && env !== '') return env;
  throw badRequest('a wallet password is needed: --password-file FILE or DOJANG_WALLET_PASSWORD');
}

async function openWallet(v: Values): Promise<Wallet> {
  return loadWallet(need(v, 'wallet'), await password(v));
}

async function readImage(path: string, flag: string): Promise<string> {
  let png: Uint8Array;
  try {
    png = await readFile(path);
  } catch (e) {
    throw badRequest(`--${flag}: cannot read ${path}: ${(e as Error).message}`, e);
  }
  return readQr(png);
}

function showList(v: Values): string[] {
  const names = need(v, 'show')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) throw badRequest('--show names at least one claim');
  return names;
}

async function item(svc: WalletService, name: string | undefined): Promise<OpenedItem> {
  if (name === undefined || !/^[0-9a-f]{32}$/.test(name)) throw badRequest('name the ITEM: 32 hex digits, as `dojang wallet list` prints it');
  const info = (await svc.list()).find((i) => i.item === name);
  if (info === undefined) throw new LedgerError('NOT_FOUND', `no item ${name} in this wallet`);
  return svc.open(info);
}

function itemLines(it: OpenedItem): string[] {
  const c = it.parsed.issue;
  const t = docTypeTitle(c.docType);
  const lines = [
    `${t.ko} (${t.en}) — ${it.kind === 'issued' ? '발급받은 증명서 (issued)' : '받은 증명서 (received)'}`,
    `  certificate ${Buffer.from(c.id).toString('hex')}, issued ${koreanDate(c.issuedAt)}, valid until ${koreanDate(c.validUntil)} (Korea)`,
    `  ${it.transfers.length} transfer(s) from the issued holder`,
  ];
  for (const [, name, value] of it.disclosure.claims) {
    const l = claimLabel(name);
    lines.push(`  ${l.ko} / ${l.en} (${name}): ${JSON.stringify(cborJson(value))}`);
  }
  lines.push(`  ${it.disclosure.digests.length - it.disclosure.claims.length} claim(s) not disclosed to this wallet`);
  return lines;
}

export async function runWallet(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create': {
      const { values } = parseArgs({ args: rest, options: { ...WALLET_OPTS }, strict: true });
      const path = need(values, 'wallet');
      const pw = await password(values);
      const w = Wallet.create();
      await createWalletFile(path, w, pw); // CONFLICT if it exists
      if (values.json) io.out(JSON.stringify({ wallet: path, address: w.address, uri: w.uri() }));
      else io.out(`created wallet ${path}\naddress ${w.uri()}`);
      return 0;
    }
    case 'address': {
      const { values } = parseArgs({ args: rest, options: { ...WALLET_OPTS, qr: { type: 'string' }, out: { type: 'string' } }, strict: true });
      const w = await openWallet(values);
      if (values.qr === undefined) {
        io.out(w.uri());
        return 0;
      }
      const upper = w.uri({ upper: true });
      if (values.qr === 'text') io.out(await qrTerminal(upper));
      else if (values.qr === 'png') await writeNew(need(values, 'out'), await qrPng(upper));
      else if (values.qr === 'svg') await writeNew(need(values, 'out'), new TextEncoder().encode(await qrSvg(upper)));
      else throw badRequest('--qr is png, svg or text');
      return 0;
    }
    case 'holder-key': {
      const { values } = parseArgs({ args: rest, options: { ...WALLET_OPTS }, strict: true });
      const pw = await password(values);
      const key = await updateWallet(need(values, 'wallet'), pw, (w) => w.newHolderKey()); // locked: never the same index twice
      io.out(toBase64(key));
      return 0;
    }
    case 'list': {
      const { values } = parseArgs({ args: rest, options: { ...WALLET_OPTS }, strict: true });
      const svc = new WalletService(clientFor(values), await openWallet(values));
      const items = await svc.list();
      if (values.json) io.out(JSON.stringify({ items }));
      else if (items.length === 0) io.out('no certificates');
      else for (const i of items) io.out(`${i.item}  ${i.kind.padEnd(8)}  certificate ${i.id}  valid until ${koreanDate(i.validUntil)}`);
      return 0;
    }
    case 'show': {
      const { values, positionals } = parseArgs({ args: rest, options: { ...WALLET_OPTS }, allowPositionals: true, strict: true });
      const it = await item(new WalletService(clientFor(values), await openWallet(values)), positionals[0]);
      if (values.json) io.out(JSON.stringify({ item: it.item, kind: it.kind, id: Buffer.from(it.parsed.issue.id).toString('hex'), docType: it.parsed.issue.docType, validUntil: it.parsed.issue.validUntil, transfers: it.transfers.length, claims: Object.fromEntries(it.disclosure.claims.map(([, n, v]) => [n, cborJson(v)])) }));
      else for (const l of itemLines(it)) io.out(l);
      return 0;
    }
    case 'send': {
      const { values, positionals } = parseArgs({ args: rest, options: { ...WALLET_OPTS, to: { type: 'string' }, 'to-qr': { type: 'string' }, show: { type: 'string' } }, allowPositionals: true, strict: true });
      if ((values.to === undefined) === (values['to-qr'] === undefined)) throw badRequest('give the recipient by --to ADDRESS or --to-qr IMAGE');
      const to = values.to ?? (await readImage(values['to-qr']!, 'to-qr'));
      parseAddress(to); // MALFORMED, BAD_KEY before anything is sent
      const svc = new WalletService(clientFor(values), await openWallet(values));
      const it = await item(svc, positionals[0]);
      const show = showList(values);
      const r = await svc.send(it, to, show).catch((e) => {
        if (e instanceof RangeError) throw badRequest(e.message, e);
        throw e;
      });
      if (values.json) io.out(JSON.stringify({ to, transfer: toBase64(r.leafHash), item: r.item }));
      else io.out(`sent certificate ${Buffer.from(it.parsed.issue.id).toString('hex')} to ${to} with ${show.join(', ')}\n  transfer ${toBase64(r.leafHash)}; the recipient's item ${r.item}`);
      return 0;
    }
    case 'present': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { ...WALLET_OPTS, show: { type: 'string' }, out: { type: 'string' }, challenge: { type: 'string' }, 'challenge-qr': { type: 'string' }, received: { type: 'boolean' }, view: { type: 'boolean' } },
        allowPositionals: true,
        strict: true,
      });
      const flows = [values.challenge !== undefined || values['challenge-qr'] !== undefined, values.received === true, values.view === true].filter(Boolean).length;
      if (flows !== 1 || (values.challenge !== undefined && values['challenge-qr'] !== undefined)) throw badRequest('choose one of --challenge/--challenge-qr (face to face), --received and --view');
      const out = need(values, 'out');
      let challenge: Challenge | undefined;
      if (values.challenge !== undefined) challenge = parseChallenge(values.challenge);
      else if (values['challenge-qr'] !== undefined) challenge = parseChallenge(await readImage(values['challenge-qr'], 'challenge-qr'));
      const svc = new WalletService(clientFor(values), await openWallet(values));
      const it = await item(svc, positionals[0]);
      const how = challenge !== undefined ? { flow: 'face' as const, challenge } : values.received ? { flow: 'received' as const } : { flow: 'view' as const };
      const p = await svc.present(it, showList(values), how).catch((e) => {
        if (e instanceof RangeError) throw badRequest(e.message, e);
        throw e;
      });
      await writeNew(out, p);
      io.out(`wrote ${out} (${how.flow}${challenge ? ` for ${challenge.verifier}` : ''}, ${p.length} bytes)`);
      return 0;
    }
    case 'view-pdf': {
      const { values, positionals } = parseArgs({ args: rest, options: { ...WALLET_OPTS, 'pdf-password-file': { type: 'string' }, out: { type: 'string' } }, allowPositionals: true, strict: true });
      const out = need(values, 'out');
      const pdfPassword = await password({ 'password-file': need(values, 'pdf-password-file') });
      const svc = new WalletService(clientFor(values), await openWallet(values));
      const it = await item(svc, positionals[0]);
      const p = await svc.present(it, it.disclosure.claims.map((c) => c[1]), { flow: 'view' });
      const pdf = await viewOnlyPdf({ presentation: p, password: pdfPassword, now: Math.floor(Date.now() / 1000) });
      await writeNew(out, pdf);
      io.out(`wrote ${out} (${pdf.length} bytes): a view-only copy, opened with its password, never valid as an original`);
      return 0;
    }
    case 'delete': {
      const { values, positionals } = parseArgs({ args: rest, options: { ...WALLET_OPTS }, allowPositionals: true, strict: true });
      const svc = new WalletService(clientFor(values), await openWallet(values));
      const name = positionals[0];
      if (name === undefined || !/^[0-9a-f]{32}$/.test(name)) throw badRequest('name the ITEM: 32 hex digits');
      await svc.remove(name);
      io.out(`deleted ${name}`);
      return 0;
    }
    case 'read-qr': {
      if (rest.length !== 1) throw badRequest('read-qr takes one IMAGE');
      io.out(await readImage(rest[0], 'image'));
      return 0;
    }
    default:
      throw badRequest(`dojang wallet: expected create, address, holder-key, list, show, send, present, view-pdf, delete or read-qr, not ${JSON.stringify(sub ?? '')}`);
  }
}

/** maskLines prints the proxy-purchase decision of a verdict (spec §12.8). */
export function maskLines(v: Verdict): { allowed: boolean; lines: string[] } {
  const d = decideProxyPurchase(v);
  const lines = [`마스크 대리구매 (mask proxy purchase) on ${d.checkDate}: ${d.allowed ? '가능 ALLOWED' : `불가 REFUSED (${d.reasons.join(', ')})`}`];
  if (d.applicant !== null) lines.push(`  presenter: household member ${d.applicant} (the applicant)`);
  for (const m of d.members) lines.push(`  member ${m.number}: ${m.relation}, born ${m.birthDate}, aged ${m.age}${m.eligible ? ' — eligible' : ''}`);
  return { allowed: d.allowed, lines };
}

