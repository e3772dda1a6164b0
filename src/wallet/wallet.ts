/**
 * A holder's wallet (spec §12): its keys, and what it does with the personal data store
 * through a DojangClient — list, fetch and open its items, send a certificate to another
 * wallet, present one to a verifier — and what an issuer does to issue into a wallet.
 *
 * Portable (it runs in the browser): keeping the seed is the caller's business
 * (src/wallet/wallet-file.ts on a device).
 */
import { ed25519PublicKey, randomBytes } from '../core/crypto.js';
import { encodeCbor } from '../core/cbor.js';
import { equalBytes, toHex } from '../core/bytes.js';
import { leafHash } from '../core/merkle.js';
import { LedgerError, isLedgerError } from '../core/errors.js';
import { narrowDisclosure, newClaim, type Disclosure } from '../core/commitment.js';
import { recipientCommitment } from '../core/events.js';
import { parseProofBundle, verifyProofBundle } from '../core/proof-bundle.js';
import type { CborValue } from '../core/cbor.js';
import { isObject, malformed, readText, readUint } from '../client/http.js';
import { checkpointVerifiers } from '../client/receipt.js';
import type { DojangClient } from '../client/sdk.js';
import type { StoredItemInfo, ItemKind } from '../storage/wallet-store.js';
import { addressUri, encodeAddress, parseAddress, type Challenge } from './address.js';
import { holderKey, identitySeed, MAX_HOLDER_INDEX, WALLET_SEED_BYTES } from './keys.js';
import { decodeItem, encodeItem, openSealed, sealItem, type DecodedItem, type WalletItem } from './item.js';

export type { StoredItemInfo };

/** An item fetched from the store and opened. */
export interface OpenedItem extends DecodedItem {
  /** The store's name for the item (32 hex digits). */
  item: string;
  kind: ItemKind;
  /** The seed of the key that holds the certificate: a holder key (issued) or the identity key (received). */
  holderSeed: Uint8Array;
}

export class Wallet {
  readonly identitySeed: Uint8Array;
  /** The identity public key: the address's key. */
  readonly identityKey: Uint8Array;
  #next: number;

  /** A wallet from its seed and the next holder index it will hand out (spec §12.1). */
  constructor(
    readonly seed: Uint8Array,
    next = 0,
  ) {
    if (!(seed instanceof Uint8Array) || seed.length !== WALLET_SEED_BYTES) throw new TypeError(`Wallet: a seed is ${WALLET_SEED_BYTES} bytes`);
    if (!Number.isSafeInteger(next) || next < 0 || next > MAX_HOLDER_INDEX + 1) throw new RangeError('Wallet: next is a holder index');
    this.identitySeed = identitySeed(seed);
    this.identityKey = ed25519PublicKey(this.identitySeed);
    this.#next = next;
  }

  /** create makes a wallet with a fresh seed from the CSPRNG. */
  static create(): Wallet {
    return new Wallet(randomBytes(WALLET_SEED_BYTES));
  }

  /** The holder index the next newHolderKey hands out (keep it with the seed). */
  get next(): number {
    return this.#next;
  }

  get address(): string {
    return encodeAddress(this.identityKey);
  }

  /** uri is `dojang:dw1…`; upper for a QR code (spec §12.2). */
  uri(opts: { upper?: boolean } = {}): string {
    return addressUri(this.identityKey, opts);
  }

  /**
   * newHolderKey hands out the next holder key for one certificate (spec §12.1): give the
   * public key to the issuer. Save the wallet afterwards (next has moved on).
   */
  newHolderKey(): Uint8Array {
    for (;;) {
      if (this.#next > MAX_HOLDER_INDEX) throw new RangeError('newHolderKey: every holder index is used');
      const k = holderKey(this.seed, this.#next++);
      if (k !== undefined) return k.publicKey;
    }
  }

  /** holderSeedFor finds the seed of a holder key this wallet handed out, or undefined. */
  holderSeedFor(publicKey: Uint8Array): Uint8Array | undefined {
    for (let n = 0; n < this.#next; n++) {
      const k = holderKey(this.seed, n);
      if (k !== undefined && equalBytes(k.publicKey, publicKey)) return k.seed;
    }
    return undefined;
  }

  /**
   * openItem opens a sealed item and checks that this wallet holds it (spec §12.4):
   * issued to one of its holder keys, or sent to its identity key with the item's salt.
   * INVALID_PROOF when it does not open or commit; NOT_HOLDER when this wallet does not
   * hold it; the format's codes otherwise.
   */
  openItem(sealed: Uint8Array): DecodedItem & { holderSeed: Uint8Array } {
    const item = decodeItem(openSealed(sealed, this.identitySeed, this.identityKey));
    const transfers = item.parsed.transfers;
    if (transfers.length === 0) {
      const seed = this.holderSeedFor(item.parsed.issue.holder);
      if (seed === undefined) throw new LedgerError('NOT_HOLDER', 'the certificate was issued to a holder key this wallet did not hand out');
      return { ...item, holderSeed: seed };
    }
    const last = transfers[transfers.length - 1];
    if (item.salt === null || !equalBytes(recipientCommitment(item.salt, this.identityKey), last.recipient)) {
      throw new LedgerError('NOT_HOLDER', "the last transfer was not sent to this wallet's address");
    }
    return { ...item, holderSeed: this.identitySeed };
  }
}

/** A disclosure of every claim of a document, from [name, value] pairs (fresh salts). */
export function claimsOf(pairs: readonly [string, CborValue][]) {
  return pairs.map(([n, v]) => newClaim(n, v));
}

const walletPath = (address: string) => `/v1/wallets/${address}/items`;

/** readItemInfo reads one entry of the store's list strictly (MALFORMED otherwise). */
function readItemInfo(v: unknown): StoredItemInfo {
  if (!isObject(v)) throw malformed('an item in the list is an object');
  const kind = readText(v.kind, 'kind');
  if (kind !== 'issued' && kind !== 'received') throw malformed('kind is issued or received');
  return {
    item: readText(v.item, 'item'),
    kind,
    id: readText(v.id, 'id'),
    event: readText(v.event, 'event'),
    validUntil: readUint(v.validUntil, 'validUntil'),
    deposited: readUint(v.deposited, 'deposited'),
    bytes: readUint(v.bytes, 'bytes'),
  };
}

/** How many times deposit tries when the server cannot be reached or is overloaded. */
const DEPOSIT_TRIES = 4;

/**
 * deposit seals item bytes to a wallet once and deposits them, signed by the key that
 * signed the delivering event (spec §12.6), with the salt of a transfer's recipient
 * commitment (null for an issuance). A failure to reach the server is retried with the
 * same sealed bytes (a fresh nonce each time): if an earlier try landed, the store
 * answers with that item. Returns the store's item name.
 */
export async function deposit(client: DojangClient, signerSeed: Uint8Array, to: string | Uint8Array, event: Uint8Array, item: Uint8Array, salt: Uint8Array | null): Promise<string> {
  const key = typeof to === 'string' ? parseAddress(to) : to;
  const body = encodeCbor({ v: 1, event, salt, sealed: sealItem(item, key) });
  for (let attempt = 1; ; attempt++) {
    try {
      const j = await client.signedRequest(signerSeed, 'POST', walletPath(encodeAddress(key)), body);
      if (!isObject(j)) throw malformed('a deposit answer is an object');
      return readText(j.item, 'item');
    } catch (e) {
      const transient = isLedgerError(e, 'UNAVAILABLE') || isLedgerError(e, 'OVERLOADED');
      if (!transient || attempt >= DEPOSIT_TRIES) throw e;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}

/** Options of issueInto. */
export interface IssueIntoOptions {
  /** The wallet's address (or URI). */
  to: string;
  /** The holder key the wallet handed out for this certificate (Wallet.newHolderKey). */
  holder: Uint8Array;
  docType: string;
  claims: [string, CborValue][];
  validUntil: number;
  issuedAt?: number;
}

/**
 * issueInto issues a certificate to a wallet (spec §12.4): anchors the cert.issue to the
 * holder key, then deposits the document — every claim — sealed to the wallet, as the
 * issuer. Returns the certificate id, the issuance receipt's leaf hash and the item name.
 */
export async function issueInto(client: DojangClient, issuerSeed: Uint8Array, o: IssueIntoOptions): Promise<{ id: Uint8Array; leafHash: Uint8Array; item: string }> {
  const claims = claimsOf(o.claims);
  const r = await client.issue(issuerSeed, { docType: o.docType, holder: o.holder, claims, validUntil: o.validUntil, issuedAt: o.issuedAt });
  const { origin } = await client.keys();
  const item = encodeItem({ origin, issue: { entry: r.entry, proof: r.receipt.proof }, transfers: [], disclosure: { claims, digests: r.digests }, salt: null });
  return { id: r.id, leafHash: r.leafHash, item: await deposit(client, issuerSeed, o.to, r.leafHash, item, null) };
}

/** A wallet at a server: the holder's side of the store (spec §12.6). */
export class WalletService {
  constructor(
    readonly client: DojangClient,
    readonly wallet: Wallet,
  ) {}

  /** list returns the wallet's items, issued and received, that are not expired. */
  async list(): Promise<StoredItemInfo[]> {
    const j = await this.client.signedRequest(this.wallet.identitySeed, 'GET', walletPath(this.wallet.address));
    if (!isObject(j) || !Array.isArray(j.items)) throw malformed('the item list is { items: […] }');
    return j.items.map(readItemInfo);
  }

  /**
   * open fetches an item, opens it (Wallet.openItem) and verifies every entry's proof
   * bundle with the log's keys (INVALID_PROOF, BAD_SIGNATURE, UNKNOWN_KEY), so that what
   * the wallet shows is in the log.
   */
  async open(info: Pick<StoredItemInfo, 'item' | 'kind'> & Partial<Pick<StoredItemInfo, 'id' | 'event'>>): Promise<OpenedItem> {
    if (!/^[0-9a-f]{32}$/.test(info.item)) throw new RangeError('open: an item name is 32 hex digits');
    const sealed = (await this.client.signedRequest(this.wallet.identitySeed, 'GET', `${walletPath(this.wallet.address)}/${info.item}`, undefined, 'bytes')) as Uint8Array;
    const opened = this.wallet.openItem(sealed);
    // The store's word (listed kind, certificate, delivering event) must be the item's own.
    const last = opened.transfers.length === 0 ? opened.issue.entry : opened.transfers[opened.transfers.length - 1].entry;
    if ('event' in info && info.event !== undefined && info.event !== toHex(leafHash(last))) throw new LedgerError('INVALID_PROOF', 'the store lists this item under another event than the one that delivered it');
    if ('id' in info && info.id !== undefined && info.id !== toHex(opened.parsed.issue.id)) throw new LedgerError('INVALID_PROOF', 'the store lists this item under another certificate');
    if ((opened.transfers.length === 0) !== (info.kind === 'issued')) throw new LedgerError('INVALID_PROOF', `the store lists a${info.kind === 'issued' ? 'n issued' : ' received'} item that is not one`);
    const keys = await this.client.keys();
    if (opened.origin !== keys.origin) throw new LedgerError('INVALID_PROOF', `the item is of log ${opened.origin}, not ${keys.origin}`);
    const v = checkpointVerifiers(keys);
    for (const a of [opened.issue, ...opened.transfers]) verifyProofBundle(parseProofBundle(a.proof), a.entry, [v.log, v.timestamp], { requireAll: true, origin: keys.origin });
    return { ...opened, item: info.item, kind: info.kind };
  }

  /** remove deletes an item from the store. */
  async remove(item: string): Promise<void> {
    await this.client.signedRequest(this.wallet.identitySeed, 'DELETE', `${walletPath(this.wallet.address)}/${item}`);
  }

  /**
   * send shares a copy of a held certificate with another wallet (전자증명서 보내기):
   * anchors a cert.transfer to the recipient's address key, signed by the key that holds
   * it, and deposits the item — only the claims named in `show` — sealed to the
   * recipient. Returns the transfer's leaf hash and the recipient's item name.
   */
  async send(held: OpenedItem, to: string, show: readonly string[]): Promise<{ leafHash: Uint8Array; item: string }> {
    const recipientKey = parseAddress(to);
    const { origin } = await this.client.keys();
    const t = await this.client.transfer(held.holderSeed, { id: held.parsed.issue.id, parent: held.last, senderSalt: held.salt, recipientKey });
    const disclosure: Disclosure = narrowDisclosure(held.disclosure, show);
    const item: WalletItem = { origin, issue: held.issue, transfers: [...held.transfers, { entry: t.entry, proof: t.receipt.proof }], disclosure, salt: t.recipientSalt };
    return { leafHash: t.leafHash, item: await deposit(this.client, held.holderSeed, recipientKey, t.leafHash, encodeItem(item), t.recipientSalt) };
  }

  /**
   * present makes a presentation (spec §10.1) of a held certificate with the claims
   * named in `show`: face to face for a verifier's challenge (signed with the key that
   * holds it), received (this wallet is the verifier: the last transfer was to it), or
   * a view-only copy.
   */
  async present(held: OpenedItem, show: readonly string[], how: { flow: 'face'; challenge: Challenge } | { flow: 'received' } | { flow: 'view' }): Promise<Uint8Array> {
    const disclosure = narrowDisclosure(held.disclosure, show);
    const base = { issue: held.issue.entry, transfers: held.transfers.map((t) => t.entry), disclosure };
    if (how.flow === 'face') {
      return this.client.present({ ...base, holding: { flow: 'face', holderSeed: held.holderSeed, salt: held.salt, verifier: how.challenge.verifier, nonce: how.challenge.nonce } });
    }
    if (how.flow === 'received') {
      if (held.salt === null) throw new RangeError('present: an issued item was not received');
      return this.client.present({ ...base, holding: { flow: 'received', recipient: this.wallet.identityKey, salt: held.salt } });
    }
    return this.client.present({ ...base, holding: { flow: 'view' } });
  }
}
