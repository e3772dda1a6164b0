/**
 * The personal data store's HTTP routes (spec §12.6, docs/api.md "Wallets"):
 *
 *   POST   /v1/wallets/<address>/items          deposit a sealed item (by the event's signer)
 *   GET    /v1/wallets/<address>/items          list the wallet's items (by the wallet)
 *   GET    /v1/wallets/<address>/items/<item>   the sealed bytes (by the wallet)
 *   DELETE /v1/wallets/<address>/items/<item>   delete one (by the wallet)
 *
 * Every request is signed (src/wallet/request.ts); a refused request changes nothing,
 * and an accepted one records its nonce in the same durable batch as its change.
 */
import type Koa from 'koa';
import type Router from '@koa/router';
import { decodeCbor } from '../core/cbor.js';
import { toHex } from '../core/bytes.js';
import { verifyEd25519 } from '../core/crypto.js';
import { LedgerError, isLedgerError } from '../core/errors.js';
import { parseEvent, recipientCommitment, SALT_BYTES } from '../core/events.js';
import { isMap } from '../core/entry.js';
import { equalBytes } from '../core/bytes.js';
import type { Ledger } from '../ledger/ledger.js';
import type { WalletStore, ItemKind } from '../storage/wallet-store.js';
import { parseAddress } from '../wallet/address.js';
import { checkSealed, MAX_SEALED_BYTES } from '../wallet/item.js';
import { readRequestHeaders, requestSigningInput, type SignedRequest } from '../wallet/request.js';
import { readBody } from './body.js';
import { sendCodedProblem } from './problem.js';

/** The paths, for the method and CORS rules of app.ts. */
export const WALLET_ITEMS = /^\/v1\/wallets\/[^/]+\/items$/;
export const WALLET_ITEM = /^\/v1\/wallets\/[^/]+\/items\/[^/]+$/;
/** The headers a browser may send to the store (CORS preflight). */
export const WALLET_HEADERS = 'Content-Type, Dojang-Key, Dojang-Time, Dojang-Nonce, Dojang-Signature';

/** A deposit body is a sealed item and a little more. */
const MAX_DEPOSIT_BYTES = MAX_SEALED_BYTES + 1024;
/** An address as a path names it: the bare address, lowercase (spec §12.2). */
const ADDRESS_IN_PATH = /^dw1[02-9ac-hj-np-z]{58}$/;

export interface WalletRouteDeps {
  ledger: Ledger;
  wallets: WalletStore;
  /** Milliseconds, like Date.now. */
  clock: () => number;
}

export function mountWalletRoutes(router: Router, d: WalletRouteDeps): void {
  const { ledger, wallets } = d;
  const now = () => Math.floor(d.clock() / 1000);

  /** signed reads and verifies a request's signature over its body; BAD_SIGNATURE if it does not verify. */
  function signed(ctx: Koa.Context, body: Uint8Array): SignedRequest {
    const r = readRequestHeaders((n) => ctx.get(n), now());
    const msg = requestSigningInput({ origin: ledger.origin, method: ctx.method, target: ctx.originalUrl, body, time: r.time, nonce: r.nonce });
    if (!verifyEd25519(r.key, msg, r.signature)) throw new LedgerError('BAD_SIGNATURE', 'the request signature does not verify (spec §12.6)');
    return r;
  }

  /** wallet reads the path's address: exactly a lowercase dw1… address (paths are exact), MALFORMED otherwise. */
  function wallet(ctx: Koa.Context): Uint8Array {
    const a = ctx.params.address; // the router decoded it
    if (!ADDRESS_IN_PATH.test(a)) throw new LedgerError('MALFORMED', 'the path names a wallet by its address, dw1… in lowercase');
    return parseAddress(a); // MALFORMED (checksum), BAD_KEY
  }

  /** byWallet: the request must be signed by the wallet's own key. */
  function byWallet(ctx: Koa.Context, body = new Uint8Array(0)): { w: Uint8Array; r: SignedRequest } {
    const w = wallet(ctx);
    const r = signed(ctx, body);
    if (!equalBytes(r.key, w)) throw new LedgerError('FORBIDDEN', "only the wallet's own key reads or deletes its items");
    return { w, r };
  }

  router.post('/v1/wallets/:address/items', async (ctx) => {
    ctx.state.route = 'wallet-deposit';
    if (ctx.querystring !== '') throw new LedgerError('BAD_REQUEST', 'a deposit takes no query string');
    if (ctx.is('application/cbor') !== 'application/cbor') {
      sendCodedProblem(ctx, 'UNSUPPORTED_MEDIA_TYPE', 'a deposit is sent as application/cbor');
      return;
    }
    const body = await readBody(ctx, MAX_DEPOSIT_BYTES);
    const w = wallet(ctx);
    const r = signed(ctx, body);
    const m = decodeCbor(body, { maxBytes: MAX_DEPOSIT_BYTES });
    if (!isMap(m) || Object.keys(m).sort().join(',') !== 'event,salt,sealed,v') throw new LedgerError('MALFORMED', 'a deposit is { "v": 1, "event": bytes(32), "salt": bytes(16) | null, "sealed": bytes }');
    if (m.v !== 1) throw new LedgerError(typeof m.v === 'number' ? 'UNSUPPORTED' : 'MALFORMED', 'a deposit is version 1');
    if (!(m.event instanceof Uint8Array) || m.event.length !== 32) throw new LedgerError('MALFORMED', 'event must be a 32-byte leaf hash');
    if (!(m.sealed instanceof Uint8Array)) throw new LedgerError('MALFORMED', 'sealed must be a byte string');
    if (m.salt !== null && !(m.salt instanceof Uint8Array && m.salt.length === SALT_BYTES)) throw new LedgerError('MALFORMED', `salt must be ${SALT_BYTES} bytes or null`);
    checkSealed(m.sealed);
    const event = m.event;
    const index = await ledger.store.findLeaf(event);
    if (index === undefined || index >= ledger.head.size) throw new LedgerError('NOT_FOUND', `no event with leaf hash ${toHex(event)} in the log`);
    const [entry] = await ledger.store.readEntries(index, index + 1);
    let kind: ItemKind;
    let ev;
    try {
      ev = parseEvent(entry).event;
    } catch (e) {
      if (isLedgerError(e)) throw new LedgerError('UNSUPPORTED', `entry ${index} is not a certificate event`);
      throw e;
    }
    let signer: Uint8Array;
    if (ev.type === 'cert.issue') [kind, signer] = ['issued', ev.issuer];
    else if (ev.type === 'cert.transfer') [kind, signer] = ['received', ev.sender];
    else throw new LedgerError('UNSUPPORTED', `entry ${index} is a ${ev.type}: only a cert.issue or cert.transfer delivers an item`);
    if (!equalBytes(signer, r.key)) throw new LedgerError('FORBIDDEN', `only the signer of entry ${index} deposits the item it delivers`);
    // A transfer names its recipient by a salted commitment: the deposit shows it is this wallet.
    if (ev.type === 'cert.issue' && m.salt !== null) throw new LedgerError('MALFORMED', 'an issuance is deposited with salt null');
    if (ev.type === 'cert.transfer' && (m.salt === null || !equalBytes(recipientCommitment(m.salt as Uint8Array, w), ev.recipient))) {
      throw new LedgerError('FORBIDDEN', `entry ${index} was not sent to this wallet (salt and address do not make its recipient)`);
    }
    const st = await ledger.certificateState(ev.id);
    if (st === undefined) throw new LedgerError('NOT_FOUND', `no certificate ${toHex(ev.id)}`);
    const [issueEntry] = await ledger.store.readEntries(st.events[0], st.events[0] + 1);
    const issue = parseEvent(issueEntry).event;
    if (issue.type !== 'cert.issue') throw new LedgerError('STATE_MISMATCH', `certificate ${toHex(ev.id)}: its first event is not its issuance`);
    const t = now();
    if (st.state === 'revoked') throw new LedgerError('CERT_REVOKED', `certificate ${toHex(ev.id)} is revoked`);
    if (st.state === 'compromised') throw new LedgerError('ISSUER_COMPROMISED', `certificate ${toHex(ev.id)} was issued after its issuer's key was compromised`);
    if (st.state === 'expired' || issue.validUntil <= t) throw new LedgerError('CERT_EXPIRED', `certificate ${toHex(ev.id)} is expired`);
    const out = await wallets.accept(r.key, r.nonce, r.time, () => wallets.depositOps(w, { kind, id: ev.id, event, validUntil: issue.validUntil, sealed: m.sealed as Uint8Array }, t));
    ctx.status = out.created ? 201 : 200;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { item: out.item, kind, id: toHex(ev.id), validUntil: issue.validUntil };
  });

  router.get('/v1/wallets/:address/items', async (ctx) => {
    ctx.state.route = 'wallet-list';
    if (ctx.querystring !== '') throw new LedgerError('BAD_REQUEST', 'the item list takes no query string');
    const { w, r } = byWallet(ctx);
    const items = await wallets.list(w, now()); // a read: outside the store's queue, answered only if the nonce is new
    await wallets.accept(r.key, r.nonce, r.time);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { items };
  });

  router.get('/v1/wallets/:address/items/:item', async (ctx) => {
    ctx.state.route = 'wallet-item';
    if (ctx.querystring !== '') throw new LedgerError('BAD_REQUEST', 'an item takes no query string');
    const { w, r } = byWallet(ctx);
    const sealed = await wallets.sealed(w, ctx.params.item, now()); // NOT_FOUND before the nonce is spent
    await wallets.accept(r.key, r.nonce, r.time);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'application/cbor';
    ctx.body = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  });

  router.delete('/v1/wallets/:address/items/:item', async (ctx) => {
    ctx.state.route = 'wallet-delete';
    if (ctx.querystring !== '') throw new LedgerError('BAD_REQUEST', 'a deletion takes no query string');
    const { w, r } = byWallet(ctx);
    await wallets.accept(r.key, r.nonce, r.time, () => wallets.deleteOps(w, ctx.params.item));
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 204;
  });
}

/** allowedMethods says which methods a wallet path takes, or undefined for another path. */
export function walletMethods(path: string): string[] | undefined {
  if (WALLET_ITEMS.test(path)) return ['GET', 'POST'];
  if (WALLET_ITEM.test(path)) return ['GET', 'DELETE'];
  return undefined;
}
