/**
 * DojangClient: the SDK for issuers and wallet backends. It builds and signs the
 * certificate events of spec §5.7, submits them (POST /v1/entries, spec §8.6), and
 * verifies what the log answers before returning it: every receipt against the entry
 * bytes sent, every status statement (GET /v1/certificates/<id>, spec §8.7) against the
 * checkpoint it is bound to. A caller never sees an unverified answer.
 *
 * Isomorphic: it uses only `fetch`, AbortSignal, setTimeout and src/core, so it runs
 * in Node.js and, unchanged, in a browser.
 *
 * Trust. The client needs the log key and the timestamp key (receipts) and the status
 * key (status statements), as note vkeys (spec §4.3). Either
 *  - they are pinned: options logKey, timestampKey, statusKey; or
 *  - options.rootKey is given: the keys are read from the genesis entry (spec §5.3),
 *    which must name that root key and be signed by it, and proved at index 0 of the
 *    log with those keys; or
 *  - otherwise they are fetched from GET /v1/log on first use and believed: trust on
 *    first use. A server that lies at that moment can make the client accept anything
 *    it signs; pin the keys (or the root key) wherever that matters.
 * Pinned keys win over fetched ones; with rootKey, a pinned key that differs from the
 * genesis entry's is UNKNOWN_KEY.
 *
 * Errors are LedgerErrors (spec §9):
 *  - a refusal by the server carries the code of its problem answer, and the problem as
 *    its cause (httpProblemOf); a 503 with Retry-After is retried up to `retries` times
 *    (default 5), then thrown as OVERLOADED (or UNAVAILABLE if the server said so); a
 *    network failure or a timeout (`timeoutMs`, default 30 s) is UNAVAILABLE; an answer
 *    of another shape is MALFORMED. The exact rules are in ./http.ts. Resubmitting an
 *    entry is always safe: the log answers the same bytes with the same receipt (§8.6);
 *  - an answer that does not verify: BAD_SIGNATURE, UNKNOWN_KEY (a required signature
 *    is missing) or INVALID_PROOF (the proof, leaf hash, index, size, time, events or
 *    state do not match what was proved); see ./receipt.ts and ./status.ts.
 * A caller's bug (a seed that is not 32 bytes, an event field the spec does not allow)
 * is a RangeError/TypeError (a rejection, for the async methods), before anything is
 * sent.
 */
import { LedgerError, isLedgerError } from '../core/errors.js';
import { toHex } from '../core/bytes.js';
import { checkEd25519PublicKey, ed25519PublicKey } from '../core/crypto.js';
import { parseCheckpoint } from '../core/checkpoint.js';
import { parseNote, parseVerifierKey, SIG_TYPE_ED25519 } from '../core/note.js';
import { parseProofBundle, verifyProofBundle } from '../core/proof-bundle.js';
import { parseGenesis } from '../core/entry.js';
import { decodeEntryBundle, formatTilePath, TILE_WIDTH } from '../core/tiles.js';
import { commitDocument, type Claim, type Disclosure } from '../core/commitment.js';
import { CERT_ID_BYTES, encodeEvent, newCertId, newNonce, newSalt, parseEvent, recipientCommitment } from '../core/events.js';
import { encodePresentation, signFace, type Holding, type PresentedStatus } from './presentation.js';
import { createTransport, isObject, malformed, readText, readUint, type Method, type Transport } from './http.js';
import { signRequest } from '../wallet/request.js';
import { checkIssuance } from '../wallet/doctypes.js';
import { checkpointVerifiers, verifyReceipt, type Receipt } from './receipt.js';
import { statusParts, statusVerifiers, verifyStatus, verifyStatusParts, type StatusStatement, type StatusVerifiers } from './status.js';

export { httpProblemOf, type HttpProblem } from './http.js';
export { verifyReceipt, type Receipt } from './receipt.js';
export { verifyStatus, type CertState, type StatusEvent, type StatusStatement } from './status.js';
export { decodePresentation, encodePresentation, signFace, type Presentation } from './presentation.js';
export { PresentationVerifier, type Verdict, type VerifyContext, type VerifierKeys } from './verify.js';

/** What GET /v1/log says: the origin, the four vkeys, and the latest size and time. */
export interface LogInfo {
  origin: string;
  logKey: string;
  timestampKey: string;
  statusKey: string;
  rootKey: string;
  size: number;
  time: number;
  /** Whether the log is served with a witness policy, at GET /v1/policy (false when an older log does not say). */
  policy: boolean;
}


/** The keys a client verifies with, as note vkeys (spec §4.3). */
export interface LogKeys {
  logKey: string;
  timestampKey: string;
  statusKey: string;
}

export interface DojangClientOptions {
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Pinned log key vkey (type 0x01, named by the origin). */
  logKey?: string;
  /** Pinned timestamp key vkey (type 0x04). */
  timestampKey?: string;
  /** Pinned status key vkey (type 0x01). */
  statusKey?: string;
  /** Root key vkey: take the other keys from the genesis entry it signed (module comment). */
  rootKey?: string;
  /** Milliseconds since the epoch, like Date.now (the default); event times are its seconds. */
  clock?: () => number;
  /** How many times a 503 with Retry-After is retried (default 5). */
  retries?: number;
  /** A Retry-After longer than this many seconds is not waited for (default 60). */
  maxRetryAfter?: number;
  /** Per-request timeout in milliseconds (default 30,000). */
  timeoutMs?: number;
  /** How to wait (default setTimeout); for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** Options of DojangClient.issue. */
export interface IssueOptions {
  docType: string;
  /** The holder key the wallet derived for this certificate alone (spec §5.7). */
  holder: Uint8Array;
  claims: Claim[];
  /** Unix seconds. */
  validUntil: number;
  /** Unix seconds; default: now. */
  issuedAt?: number;
  /** The certificate id (16 bytes); default: fresh from the CSPRNG. */
  id?: Uint8Array;
}

/** Options of DojangClient.transfer. */
export interface TransferOptions {
  id: Uint8Array;
  /** The leaf hash of the event that made the sender a holder. */
  parent: Uint8Array;
  /** null when the parent is the issuance; else the salt the sender received. */
  senderSalt: Uint8Array | null;
  recipientKey: Uint8Array;
}

/** Options of DojangClient.present. */
export interface PresentOptions {
  /** The cert.issue entry, byte for byte as logged. */
  issue: Uint8Array;
  /** The transfer entries from the issued holder on, in order. */
  transfers?: Uint8Array[];
  /** The claims to show, with every digest (disclose() in core/commitment). */
  disclosure: Disclosure;
  /**
   * received: the recipient's key and the salt of its commitment in the last transfer;
   * face: the holder seed signs the verifier's nonce and name (salt: null without
   * transfers, else the last transfer's recipient salt); view: a view-only copy.
   */
  holding:
    | { flow: 'received'; recipient: Uint8Array; salt: Uint8Array }
    | { flow: 'face'; holderSeed: Uint8Array; salt: Uint8Array | null; verifier: string; nonce: Uint8Array }
    | { flow: 'view' };
}

/** A document type in the log's registry, as GET /v1/doctypes/<type> says (spec §5.7). */
export interface RegisteredDocType {
  docType: string;
  /** The longest validity an original may have, in seconds. */
  maxValidity: number;
  /** The log index of the doctype.register that set it. */
  registered: number;
}

export class DojangClient {
  readonly baseUrl: string;
  private readonly clock: () => number;
  private readonly request: Transport;
  private trusted: Promise<{ keys: LogKeys; verifiers: StatusVerifiers }> | undefined;

  /**
   * The base URL is the API's root (e.g. http://127.0.0.1:8080); keys per the module
   * comment. TypeError for a URL that is not http(s), RangeError for bad numbers.
   */
  constructor(
    baseUrl: string,
    private readonly opts: DojangClientOptions = {},
  ) {
    const u = new URL(baseUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`DojangClient: ${baseUrl} is not an http(s) URL`);
    if (u.search !== '' || u.hash !== '') throw new TypeError(`DojangClient: ${baseUrl} must not have a query or fragment`);
    this.baseUrl = u.href.replace(/\/+$/, '');
    this.clock = opts.clock ?? Date.now;
    const numbers = { retries: opts.retries ?? 5, maxRetryAfter: opts.maxRetryAfter ?? 60, timeoutMs: opts.timeoutMs ?? 30_000 };
    for (const [k, v] of Object.entries(numbers)) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`DojangClient: ${k} must be a non-negative integer`);
    }
    this.request = createTransport(this.baseUrl, {
      ...numbers,
      fetch: opts.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      clock: this.clock,
      sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    });
  }

  /** now is the clock in Unix seconds: the `time` of every event this client signs. */
  now(): number {
    return Math.floor(this.clock() / 1000);
  }

  /** log returns GET /v1/log (the server's word: nothing in it is signed). MALFORMED for another shape. */
  async log(): Promise<LogInfo> {
    const j = await this.request('GET', '/v1/log');
    if (!isObject(j)) throw malformed('GET /v1/log: not a JSON object');
    const out: LogInfo = {
      origin: readText(j.origin, 'origin'),
      logKey: readText(j.logKey, 'logKey'),
      timestampKey: readText(j.timestampKey, 'timestampKey'),
      statusKey: readText(j.statusKey, 'statusKey'),
      rootKey: readText(j.rootKey, 'rootKey'),
      size: readUint(j.size, 'size'),
      time: readUint(j.time, 'time'),
      policy: j.policy === true,
    };
    return out;
  }

  /** keys returns the vkeys this client verifies with (fetching them once, module comment). */
  async keys(): Promise<LogKeys & { origin: string }> {
    const t = await this.trust();
    return { origin: t.verifiers.origin, ...t.keys };
  }

  private trust(): Promise<{ keys: LogKeys; verifiers: StatusVerifiers }> {
    this.trusted ??= this.loadTrust().catch((e) => {
      this.trusted = undefined; // try again on the next call
      throw e;
    });
    return this.trusted;
  }

  private async loadTrust(): Promise<{ keys: LogKeys; verifiers: StatusVerifiers }> {
    const o = this.opts;
    let fetched: LogKeys & { rootKey?: string };
    if (o.rootKey !== undefined) fetched = { ...(await this.genesisKeys(o.rootKey)), rootKey: o.rootKey };
    else if (o.logKey !== undefined && o.timestampKey !== undefined && o.statusKey !== undefined) fetched = { logKey: o.logKey, timestampKey: o.timestampKey, statusKey: o.statusKey };
    else fetched = await this.log(); // trust on first use
    const keys: LogKeys = { logKey: o.logKey ?? fetched.logKey, timestampKey: o.timestampKey ?? fetched.timestampKey, statusKey: o.statusKey ?? fetched.statusKey };
    if (o.rootKey !== undefined) {
      for (const k of ['logKey', 'timestampKey', 'statusKey'] as const) {
        if (keys[k] !== fetched[k]) throw new LedgerError('UNKNOWN_KEY', `the pinned ${k} is not the one the genesis entry names`);
      }
    }
    return { keys, verifiers: statusVerifiers({ ...keys, rootKey: fetched.rootKey }) };
  }

  /**
   * genesisKeys reads entry 0 from the entry bundle, checks that it is a genesis entry
   * naming rootKey and signed by it (spec §5.3), and proves it at index 0 with the keys
   * it names (GET /v1/entries/0/proof). UNKNOWN_KEY if it names another root key.
   */
  private async genesisKeys(rootKey: string): Promise<LogKeys> {
    const root = parseVerifierKey(rootKey);
    if (root.type !== SIG_TYPE_ED25519) throw malformed('the root key must be an Ed25519 (0x01) key');
    const bundle = parseProofBundle(await this.request('GET', '/v1/entries/0/proof', undefined, 'text'));
    const size = parseCheckpoint(parseNote(bundle.checkpoint).text).size; // verified below
    const w = Math.min(size, TILE_WIDTH);
    const tiles = await this.request('GET', '/' + formatTilePath({ kind: 'entries', index: 0, width: w }), undefined, 'bytes');
    const [entry0] = decodeEntryBundle(tiles, w);
    const g = parseGenesis(entry0); // MALFORMED, BAD_SIGNATURE (not signed by the key it names)
    if (g.rootKey !== rootKey) throw new LedgerError('UNKNOWN_KEY', `the genesis entry names root key ${g.rootKey}, not ${rootKey}`);
    const t = checkpointVerifiers(g); // parseGenesis checked the roles and that the log key is named by the origin
    verifyProofBundle(bundle, entry0, [t.log, t.timestamp], { requireAll: true, origin: g.origin });
    return g;
  }

  /**
   * submit POSTs an entry (spec §8.6) and returns its verified receipt (verifyReceipt).
   * The server's refusal is thrown as a LedgerError with the problem's code.
   */
  async submit(entry: Uint8Array): Promise<Receipt> {
    if (!(entry instanceof Uint8Array)) throw new TypeError('submit: entry must be a Uint8Array');
    const t = await this.trust();
    const json = await this.request('POST', '/v1/entries', entry);
    return verifyReceipt(entry, json, t.verifiers);
  }

  /** registerIssuer registers an issuer key for document types, signed by the root key (spec §5.7). */
  async registerIssuer(rootSeed: Uint8Array, issuerKey: Uint8Array, name: string, docTypes: string[]): Promise<Receipt> {
    // Document types are ASCII: the default sort is byte order, as the body requires.
    const entry = encodeEvent({ type: 'issuer.register', issuer: issuerKey, name, docTypes: [...docTypes].sort(), time: this.now() }, rootSeed);
    return this.submit(entry);
  }

  /** retireIssuer retires an issuer key, signed by the root key (spec §5.7). */
  async retireIssuer(rootSeed: Uint8Array, issuerKey: Uint8Array): Promise<Receipt> {
    return this.submit(encodeEvent({ type: 'issuer.retire', issuer: issuerKey, time: this.now() }, rootSeed));
  }

  /**
   * registerDocType puts a document type in the log's registry with the longest validity
   * an original of it may have, in seconds (doctype.register, signed by the root key,
   * spec §5.7); a later registration replaces the maximum for later issuances.
   */
  async registerDocType(rootSeed: Uint8Array, docType: string, maxValiditySeconds: number): Promise<Receipt> {
    return this.submit(encodeEvent({ type: 'doctype.register', docType, maxValidity: maxValiditySeconds, time: this.now() }, rootSeed));
  }

  /** succeedIssuer names the active issuer key that may revoke a retired issuer's certificates (issuer.succeed, root key, spec §5.7). */
  async succeedIssuer(rootSeed: Uint8Array, retiredKey: Uint8Array, successorKey: Uint8Array): Promise<Receipt> {
    return this.submit(encodeEvent({ type: 'issuer.succeed', issuer: retiredKey, successor: successorKey, time: this.now() }, rootSeed));
  }

  /**
   * compromiseIssuer says a retired issuer's key was in other hands from log index
   * `from` on (issuer.compromise, root key, spec §5.7): its certificates issued at an
   * index ≥ from are not valid anywhere. A later one may only lower `from`.
   */
  async compromiseIssuer(rootSeed: Uint8Array, retiredKey: Uint8Array, from: number): Promise<Receipt> {
    return this.submit(encodeEvent({ type: 'issuer.compromise', issuer: retiredKey, from, time: this.now() }, rootSeed));
  }

  /**
   * issueEntry builds and signs a cert.issue (spec §5.7) without sending it: it commits
   * to the claims (spec §5.8) and returns the entry, the id, the commitment and the
   * claims' digests in the claims' order. Keep the entry to resubmit it after a failure
   * (the same bytes get the same receipt). The claims and validity of a document type
   * the wallet side knows are checked first (checkIssuance, spec §12.7: BAD_REQUEST
   * naming the bad claims); RangeError for fields the spec does not allow.
   */
  issueEntry(issuerSeed: Uint8Array, o: IssueOptions): { entry: Uint8Array; id: Uint8Array; commitment: Uint8Array; digests: Uint8Array[] } {
    const now = this.now();
    checkIssuance(o.docType, o.claims, o.issuedAt ?? now, o.validUntil);
    const { commitment, digests } = commitDocument(o.claims);
    const id = o.id ?? newCertId();
    if (!(id instanceof Uint8Array) || id.length !== CERT_ID_BYTES) throw new RangeError(`issue: id must be ${CERT_ID_BYTES} bytes`);
    const entry = encodeEvent(
      { type: 'cert.issue', id, docType: o.docType, issuer: ed25519PublicKey(issuerSeed), holder: o.holder, commitment, issuedAt: o.issuedAt ?? now, validUntil: o.validUntil, time: now },
      issuerSeed,
    );
    return { entry, id, commitment, digests };
  }

  /**
   * issue issues a certificate to the holder key (issueEntry, then submit). Returns the
   * receipt, the id, the event's leaf hash (the parent of the holder's first transfer),
   * the entry and the claims' digests in the claims' order.
   */
  async issue(issuerSeed: Uint8Array, o: IssueOptions): Promise<{ receipt: Receipt; id: Uint8Array; leafHash: Uint8Array; entry: Uint8Array; digests: Uint8Array[] }> {
    const { entry, id, digests } = this.issueEntry(issuerSeed, o);
    const receipt = await this.submit(entry);
    return { receipt, id, leafHash: receipt.leafHash, entry, digests };
  }

  /**
   * transfer shares a copy of a certificate with a recipient key (cert.transfer, signed
   * by the sender seed), named by a salted commitment with a fresh salt (spec §5.7).
   * Returns the receipt, the recipient salt (which travels with the document: the
   * recipient's senderSalt when it sends on), the leaf hash and the entry.
   */
  async transfer(senderSeed: Uint8Array, o: TransferOptions): Promise<{ receipt: Receipt; recipientSalt: Uint8Array; leafHash: Uint8Array; entry: Uint8Array }> {
    const why = o.recipientKey instanceof Uint8Array ? checkEd25519PublicKey(o.recipientKey) : 'not a Uint8Array';
    if (why !== undefined) throw new RangeError(`transfer: recipient key: ${why}`); // the copy could never be sent on
    const recipientSalt = newSalt();
    const entry = encodeEvent(
      {
        type: 'cert.transfer',
        id: o.id,
        parent: o.parent,
        sender: ed25519PublicKey(senderSeed),
        senderSalt: o.senderSalt,
        recipient: recipientCommitment(recipientSalt, o.recipientKey),
        nonce: newNonce(),
        time: this.now(),
      },
      senderSeed,
    );
    const receipt = await this.submit(entry);
    return { receipt, recipientSalt, leafHash: receipt.leafHash, entry };
  }

  /**
   * revoke revokes a certificate (cert.revoke; reason 0–128 bytes), signed by the seed
   * of a key entitled at this point of the log (spec §5.9): its issuer while active;
   * once retired, the successor the root named or the root key.
   */
  async revoke(revokerSeed: Uint8Array, id: Uint8Array, reason = ''): Promise<Receipt> {
    return this.submit(encodeEvent({ type: 'cert.revoke', id, revoker: ed25519PublicKey(revokerSeed), reason, time: this.now() }, revokerSeed));
  }

  /**
   * present assembles a presentation (spec §10.1) of a certificate, ready to send or
   * show: the issuer's registration, the issuance and the transfers, each with its
   * receipt's proof bundle (asked again with the same bytes: a resubmitted entry gets
   * its first receipt, spec §8.6), the disclosure, the current status answer (verified)
   * and the holding — for `face`, signed now with the holder seed. Returns the encoded
   * presentation.
   */
  async present(o: PresentOptions): Promise<Uint8Array> {
    const issue = parseEvent(o.issue).event;
    if (issue.type !== 'cert.issue') throw new RangeError('present: issue must be a cert.issue entry');
    const status = await this.presentedStatus(issue.id);
    const anchored = async (entry: Uint8Array) => ({ entry, proof: (await this.submit(entry)).proof });
    const chain = { origin: (await this.keys()).origin, register: await anchored(status.issuer[0].entry), issue: await anchored(o.issue), transfers: [] as { entry: Uint8Array; proof: string }[] };
    for (const tr of o.transfers ?? []) chain.transfers.push(await anchored(tr));
    const h = o.holding;
    const holding: Holding = h.flow === 'face' ? signFace(chain, h.holderSeed, h) : h;
    return encodePresentation({ ...chain, disclosure: o.disclosure, status, holding });
  }

  /**
   * presentedStatus fetches the status answer of a certificate (GET
   * /v1/certificates/<hex id>), verifies it (verifyStatus) and returns it as a
   * presentation carries it (spec §10.1). An unknown id is NOT_FOUND.
   */
  async presentedStatus(id: Uint8Array): Promise<PresentedStatus> {
    if (!(id instanceof Uint8Array) || id.length !== CERT_ID_BYTES) throw new RangeError(`status: id must be ${CERT_ID_BYTES} bytes`);
    const t = await this.trust();
    const parts = statusParts(await this.request('GET', `/v1/certificates/${toHex(id)}`));
    verifyStatusParts(id, parts, t.verifiers);
    return parts;
  }

  /**
   * signedRequest makes a request to the personal data store signed with `seed` (spec
   * §12.6: the log's origin, method, path, body hash, this client's time and a fresh
   * nonce). JSON answers are parsed; `as: 'bytes'` returns the body. 204 returns null.
   */
  async signedRequest(seed: Uint8Array, method: Method, path: string, body?: Uint8Array, as: 'json' | 'bytes' = 'json'): Promise<unknown> {
    const { origin } = await this.keys();
    const headers = signRequest(seed, { origin, method, target: path, body: body ?? new Uint8Array(0), time: this.now() });
    return (this.request as (m: Method, p: string, b?: Uint8Array, a?: string, h?: Record<string, string>) => Promise<unknown>)(method, path, body, as, headers);
  }

  /**
   * status fetches GET /v1/certificates/<hex id> and verifies it (verifyStatus). An
   * unknown id is NOT_FOUND.
   */
  async status(id: Uint8Array): Promise<StatusStatement> {
    if (!(id instanceof Uint8Array) || id.length !== CERT_ID_BYTES) throw new RangeError(`status: id must be ${CERT_ID_BYTES} bytes`);
    const t = await this.trust();
    return verifyStatus(id, await this.request('GET', `/v1/certificates/${toHex(id)}`), t.verifiers);
  }

  /**
   * docType asks the log's document type registry (spec §5.7, GET /v1/doctypes/<type>):
   * the type's maximum validity in seconds and the index of its doctype.register, or
   * undefined when the registry does not hold it. The answer is the operator's word
   * (not signed); the log's rules enforce the registry whatever it says.
   */
  async docType(name: string): Promise<RegisteredDocType | undefined> {
    try {
      const j = await this.request('GET', `/v1/doctypes/${encodeURIComponent(name)}`);
      if (!isObject(j)) throw malformed('a document type answer is { docType, maxValidity, registered }');
      return { docType: readText(j.docType, 'docType'), maxValidity: readUint(j.maxValidity, 'maxValidity'), registered: readUint(j.registered, 'registered') };
    } catch (e) {
      if (isLedgerError(e, 'NOT_FOUND')) return undefined;
      throw e;
    }
  }
}

