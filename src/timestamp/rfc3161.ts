/**
 * RFC 3161 timestamp tokens over checkpoints (docs/spec.md §14).
 *
 * The log asks a time-stamping authority (TSA) for a TimeStampToken whose messageImprint
 * is SHA-256 of a checkpoint's text (the signed body of the note, §5.5), keeps the token
 * as the 'timestamp' annex of that size, and auditors verify it. Every DER structure is
 * parsed and written with the @peculiar/asn1-* schemas; signatures and certificates are
 * checked with node:crypto. Everything here treats its input as attacker-controlled:
 * lengths are bounded before parsing, and every failure is a coded LedgerError.
 */
import { createHash, randomBytes, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { Attribute, ContentInfo, SignedData, SignerInfo, id_signedData } from '@peculiar/asn1-cms';
import { MessageImprint, PKIStatus, TSTInfo, TimeStampReq, TimeStampResp, id_ct_tstInfo } from '@peculiar/asn1-tsp';
import {
  AlgorithmIdentifier,
  Certificate,
  ExtendedKeyUsage,
  GeneralNames,
  SubjectKeyIdentifier,
  id_ce_extKeyUsage,
  id_ce_subjectKeyIdentifier,
  id_kp_timeStamping,
} from '@peculiar/asn1-x509';
import { AsnArray, AsnIntegerArrayBufferConverter, AsnParser, AsnProp, AsnPropTypes, AsnSerializer, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { LedgerError, type LedgerErrorCode } from '../core/errors.js';

/** TOKEN_MAX is the largest TimeStampResp or TimeStampToken accepted, in bytes (and the largest annex). */
export const TOKEN_MAX = 65_536;
/** MAX_CHAIN is the most certificates between a token's signer and a trusted certificate. */
const MAX_CHAIN = 4;
/** MAX_TOKEN_CERTS is the most certificates a token may carry. */
const MAX_TOKEN_CERTS = 16;

const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_SHA384 = '2.16.840.1.101.3.4.2.2';
const OID_SHA512 = '2.16.840.1.101.3.4.2.3';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_CERTIFICATE = '1.2.840.113549.1.9.16.2.12';
const OID_SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';

/** The digests a token may use (messageImprint, signer digest), by OID. */
const DIGESTS: Record<string, string> = { [OID_SHA256]: 'sha256', [OID_SHA384]: 'sha384', [OID_SHA512]: 'sha512' };

/** The signature algorithms accepted, by OID: the node:crypto key type and the digest they fix (if any). */
const SIGNATURES: Record<string, { key: string; digest?: string }> = {
  '1.2.840.113549.1.1.1': { key: 'rsa' }, // rsaEncryption: the digest is the signer's digestAlgorithm
  '1.2.840.113549.1.1.11': { key: 'rsa', digest: 'sha256' },
  '1.2.840.113549.1.1.12': { key: 'rsa', digest: 'sha384' },
  '1.2.840.113549.1.1.13': { key: 'rsa', digest: 'sha512' },
  '1.2.840.10045.4.3.2': { key: 'ec', digest: 'sha256' },
  '1.2.840.10045.4.3.3': { key: 'ec', digest: 'sha384' },
  '1.2.840.10045.4.3.4': { key: 'ec', digest: 'sha512' },
  '1.3.101.112': { key: 'ed25519' },
};

// --- ASN.1 schemas the @peculiar packages do not define (RFC 2634, RFC 5035, RFC 5652). ---

/** SignedAttributes re-encoded as the DER SET OF that the signature covers (RFC 5652 §5.4). */
class AttributeSet extends AsnArray<Attribute> {
  constructor(items?: Attribute[]) {
    super(items);
    Object.setPrototypeOf(this, AttributeSet.prototype);
  }
}
AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })(AttributeSet);

/** IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber } */
class IssuerSerial {
  issuer = new GeneralNames();
  serialNumber = new ArrayBuffer(0);
}
AsnType({ type: AsnTypeTypes.Sequence })(IssuerSerial);
AsnProp({ type: GeneralNames })(IssuerSerial.prototype, 'issuer');
AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerArrayBufferConverter })(IssuerSerial.prototype, 'serialNumber');

/** ESSCertID ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial IssuerSerial OPTIONAL } */
class EssCertId {
  certHash = new OctetString();
  issuerSerial?: IssuerSerial;
}
AsnType({ type: AsnTypeTypes.Sequence })(EssCertId);
AsnProp({ type: OctetString })(EssCertId.prototype, 'certHash');
AsnProp({ type: IssuerSerial, optional: true })(EssCertId.prototype, 'issuerSerial');

/** ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT sha256, certHash OCTET STRING, issuerSerial OPTIONAL } */
class EssCertIdV2 {
  hashAlgorithm?: AlgorithmIdentifier;
  certHash = new OctetString();
  issuerSerial?: IssuerSerial;
}
AsnType({ type: AsnTypeTypes.Sequence })(EssCertIdV2);
AsnProp({ type: AlgorithmIdentifier, optional: true })(EssCertIdV2.prototype, 'hashAlgorithm');
AsnProp({ type: OctetString })(EssCertIdV2.prototype, 'certHash');
AsnProp({ type: IssuerSerial, optional: true })(EssCertIdV2.prototype, 'issuerSerial');

/** SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, policies … OPTIONAL } (the policies are ignored). */
class SigningCertificate {
  certs: EssCertId[] = [];
  policies?: ArrayBuffer;
}
AsnType({ type: AsnTypeTypes.Sequence })(SigningCertificate);
AsnProp({ type: EssCertId, repeated: 'sequence' })(SigningCertificate.prototype, 'certs');
AsnProp({ type: AsnPropTypes.Any, optional: true })(SigningCertificate.prototype, 'policies');

/** SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies … OPTIONAL } */
class SigningCertificateV2 {
  certs: EssCertIdV2[] = [];
  policies?: ArrayBuffer;
}
AsnType({ type: AsnTypeTypes.Sequence })(SigningCertificateV2);
AsnProp({ type: EssCertIdV2, repeated: 'sequence' })(SigningCertificateV2.prototype, 'certs');
AsnProp({ type: AsnPropTypes.Any, optional: true })(SigningCertificateV2.prototype, 'policies');

// --- Requests ---

/** TimestampRequest is a DER TimeStampReq and what its answer must match. */
export interface TimestampRequest {
  /** The DER TimeStampReq, sent as application/timestamp-query. */
  readonly der: Uint8Array;
  /** The SHA-256 message imprint it asks to be stamped. */
  readonly imprint: Uint8Array;
  /** The nonce: the minimal unsigned big-endian bytes of a random 64-bit integer. */
  readonly nonce: Uint8Array;
}

/** checkpointImprint is the message imprint of a checkpoint (spec §14): SHA-256 of its text. */
export function checkpointImprint(text: string | Uint8Array): Uint8Array {
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/**
 * buildTimestampRequest makes a TimeStampReq (RFC 3161 §2.4.1): version 1, messageImprint
 * SHA-256 (parameters absent) over `imprint`, no policy, a random 64-bit nonce (or the
 * one given), certReq true, no extensions.
 */
export function buildTimestampRequest(imprint: Uint8Array, nonce?: Uint8Array): TimestampRequest {
  if (!(imprint instanceof Uint8Array) || imprint.length !== 32) throw new RangeError('buildTimestampRequest: imprint must be 32 bytes');
  const n = unsignedBytes(nonce ?? new Uint8Array(randomBytes(8)));
  if (n.length === 0 || n.length > 8) throw new RangeError('buildTimestampRequest: nonce must be a non-zero integer of at most 64 bits');
  const req = new TimeStampReq({
    version: 1,
    messageImprint: new MessageImprint({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: OID_SHA256 }),
      hashedMessage: new OctetString(imprint.slice()),
    }),
    nonce: integerContent(n),
    certReq: true,
  });
  return { der: new Uint8Array(AsnSerializer.serialize(req)), imprint: imprint.slice(), nonce: n };
}

// --- Responses ---

/**
 * parseTimestampResponse parses a TimeStampResp (RFC 3161 §2.4.2) and returns the DER
 * TimeStampToken it carries. A status other than granted (0) or grantedWithMods (1) is
 * UNAVAILABLE (the TSA refused), with its status text; bytes that are not a TimeStampResp
 * are MALFORMED, more than TOKEN_MAX bytes TOO_LARGE. The token is not verified here.
 */
export function parseTimestampResponse(der: Uint8Array): Uint8Array {
  bounded(der, 'timestamp response');
  const resp = parse(der, TimeStampResp, 'timestamp response');
  const status = resp.status.status;
  if (status !== PKIStatus.granted && status !== PKIStatus.grantedWithMods) {
    const text = resp.status.statusString ? [...resp.status.statusString].join('; ').slice(0, 200) : '';
    throw new LedgerError('UNAVAILABLE', `the time-stamping authority refused: status ${status}${text ? ` (${text})` : ''}`);
  }
  if (!resp.timeStampToken) throw new LedgerError('MALFORMED', 'timestamp response: granted without a token');
  return new Uint8Array(AsnSerializer.serialize(resp.timeStampToken));
}

// --- Trust ---

/** TsaTrust is the certificates a token's signer must be or chain to (a TSA certificate or its CA). */
export interface TsaTrust {
  readonly certs: readonly X509Certificate[];
}

/**
 * parseTsaTrust reads the PEM certificates of a --tsa-cert file: the TSA's own certificate,
 * or the CA certificate(s) that issue it. No certificate, or one that does not parse, is
 * BAD_REQUEST.
 */
export function parseTsaTrust(pem: string): TsaTrust {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new LedgerError('BAD_REQUEST', 'the TSA certificate file holds no PEM certificate');
  if (blocks.length > MAX_TOKEN_CERTS) throw new LedgerError('BAD_REQUEST', `the TSA certificate file holds more than ${MAX_TOKEN_CERTS} certificates`);
  const certs = blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new LedgerError('BAD_REQUEST', `TSA certificate ${i + 1} does not parse: ${(e as Error).message}`, { cause: e });
    }
  });
  return { certs };
}

// --- Verification ---

/** VerifiedToken is what a verified token attests. */
export interface VerifiedToken {
  /** The TSA's time (TSTInfo genTime). */
  readonly genTime: Date;
  /** TSTInfo serialNumber, hex. */
  readonly serial: string;
  /** TSTInfo policy OID. */
  readonly policy: string;
  /** The signer certificate's subject. */
  readonly signer: string;
  /** The message imprint (SHA-256). */
  readonly imprint: Uint8Array;
}

/** What a token must attest: the imprint always, the nonce when the caller sent one. */
export interface TokenExpectation {
  readonly imprint: Uint8Array;
  readonly nonce?: Uint8Array;
}

/**
 * verifyTimestampToken verifies a DER TimeStampToken (RFC 3161 §2.4.2, RFC 5652) fully:
 * ContentInfo of SignedData with eContentType id-ct-TSTInfo and one SignerInfo; signed
 * attributes present, contentType id-ct-TSTInfo, messageDigest the digest of the TSTInfo;
 * the signer certificate (from the token, or the trusted ones) found by the SignerInfo's
 * sid, named by the first ESSCertID (SHA-1) or ESSCertIDv2 of a signingCertificate(V2)
 * attribute, valid at genTime, holding the critical extended key usage id-kp-timeStamping
 * and only it, and being a trusted certificate or chaining to one (through at most 4 CA
 * certificates of the token); the signature over the DER of the signed attributes; the
 * whole token (SignedData and TSTInfo) strict DER; the
 * TSTInfo version 1, its messageImprint SHA-256 over exactly `expect.imprint`, and, when
 * expected, its nonce.
 *
 * Errors: TOO_LARGE (above TOKEN_MAX), MALFORMED (not the structure), UNSUPPORTED (an
 * algorithm not accepted), UNKNOWN_KEY (the signer is not trusted), BAD_SIGNATURE (the
 * signature, a digest, the imprint or the nonce do not match).
 */
export function verifyTimestampToken(token: Uint8Array, trust: TsaTrust, expect: TokenExpectation): VerifiedToken {
  bounded(token, 'timestamp token');
  const ci = parse(token, ContentInfo, 'timestamp token');
  if (ci.contentType !== id_signedData) throw fail('MALFORMED', 'the timestamp token is not CMS SignedData');
  const sdDer = new Uint8Array(ci.content);
  const sd = parse(sdDer, SignedData, 'timestamp token SignedData');
  // Strict DER: what was parsed must write back to the very bytes (so the certificate and
  // attributes checked below are the ones the token holds, not a normalised reading).
  if (!equal(der(ci), token) || !equal(der(sd), sdDer)) throw fail('MALFORMED', 'the timestamp token is not DER');
  if (sd.encapContentInfo.eContentType !== id_ct_tstInfo) throw fail('MALFORMED', 'the timestamp token does not hold a TSTInfo');
  const content = sd.encapContentInfo.eContent?.single?.buffer;
  if (!content) throw fail('MALFORMED', 'the timestamp token has no TSTInfo content');
  const tstDer = new Uint8Array(content);
  if (sd.version !== 3) throw fail('MALFORMED', `SignedData version ${sd.version}, not 3`);
  if (sd.signerInfos.length !== 1) throw fail('MALFORMED', `the timestamp token has ${sd.signerInfos.length} signers, not 1`);
  const si = sd.signerInfos[0];
  if (si.version !== (si.sid.subjectKeyIdentifier ? 3 : 1)) throw fail('MALFORMED', `SignerInfo version ${si.version}`);
  for (const a of [...sd.digestAlgorithms, si.digestAlgorithm, si.signatureAlgorithm]) {
    // Parameters of the accepted algorithms are absent or NULL (RFC 5754, RFC 8017, RFC 5758, RFC 8419).
    if (a.parameters !== undefined && a.parameters !== null) throw fail('MALFORMED', `algorithm ${a.algorithm} has parameters`);
  }

  // The signer certificate: among the token's certificates and the trusted ones, by sid.
  const tokenCerts = (sd.certificates ?? []).flatMap((c) => (c.certificate ? [c.certificate] : []));
  if (tokenCerts.length > MAX_TOKEN_CERTS) throw fail('TOO_LARGE', `the timestamp token carries more than ${MAX_TOKEN_CERTS} certificates`);
  const candidates = [...tokenCerts.map((c) => ({ asn: c, der: der(c) })), ...trust.certs.map((x) => ({ asn: parse(new Uint8Array(x.raw), Certificate, 'trusted certificate'), der: new Uint8Array(x.raw) }))];
  const signer = candidates.find((c) => matchesSid(si, c.asn));
  if (!signer) throw fail('UNKNOWN_KEY', 'the timestamp token names a signer certificate it does not carry');
  const signerX = x509(signer.der);

  // Signed attributes.
  const attrs = si.signedAttrs;
  if (!attrs || attrs.length === 0) throw fail('MALFORMED', 'the timestamp token has no signed attributes');
  const digestName = DIGESTS[si.digestAlgorithm.algorithm];
  if (!digestName) throw fail('UNSUPPORTED', `timestamp token digest ${si.digestAlgorithm.algorithm} is not accepted`);
  if (!sd.digestAlgorithms.some((a) => a.algorithm === si.digestAlgorithm.algorithm)) throw fail('MALFORMED', 'the signer\'s digest algorithm is not among the SignedData digestAlgorithms');
  const contentType = single(attrs, OID_CONTENT_TYPE);
  if (!contentType || !equal(contentType, oidDer(id_ct_tstInfo))) throw fail('BAD_SIGNATURE', 'the signed contentType is not id-ct-TSTInfo');
  const md = single(attrs, OID_MESSAGE_DIGEST);
  if (!md) throw fail('MALFORMED', 'the timestamp token has no messageDigest attribute');
  const mdValue = new Uint8Array(parse(md, OctetString, 'messageDigest').buffer);
  if (!equal(mdValue, digest(digestName, tstDer))) throw fail('BAD_SIGNATURE', 'the messageDigest attribute is not the digest of the TSTInfo');
  checkEssCertId(attrs, signer.der);

  // The signature over the DER SET OF the signed attributes.
  const sigAlg = SIGNATURES[si.signatureAlgorithm.algorithm];
  if (!sigAlg) throw fail('UNSUPPORTED', `timestamp token signature algorithm ${si.signatureAlgorithm.algorithm} is not accepted`);
  if (sigAlg.digest && sigAlg.digest !== digestName) throw fail('MALFORMED', 'the signature algorithm and the digest algorithm disagree');
  const key: KeyObject = signerX.publicKey;
  if (key.asymmetricKeyType !== sigAlg.key) throw fail('BAD_SIGNATURE', `the signer's ${key.asymmetricKeyType} key cannot make a ${sigAlg.key} signature`);
  const signed = der(new AttributeSet(attrs));
  let ok = false;
  try {
    ok = cryptoVerify(sigAlg.key === 'ed25519' ? null : digestName, signed, key, new Uint8Array(si.signature.buffer));
  } catch {
    ok = false;
  }
  if (!ok) throw fail('BAD_SIGNATURE', 'the timestamp token signature does not verify');

  // The TSTInfo.
  const tst = parse(tstDer, TSTInfo, 'TSTInfo');
  if (!equal(der(tst), tstDer)) throw fail('MALFORMED', 'the TSTInfo is not DER');
  if (tst.version !== 1) throw fail('UNSUPPORTED', `TSTInfo version ${tst.version}`);
  if (tst.messageImprint.hashAlgorithm.algorithm !== OID_SHA256) throw fail('BAD_SIGNATURE', 'the token stamps another digest than SHA-256');
  const imprint = new Uint8Array(tst.messageImprint.hashedMessage.buffer);
  if (!equal(imprint, expect.imprint)) throw fail('BAD_SIGNATURE', 'the token stamps another message imprint (another checkpoint)');
  if (expect.nonce !== undefined) {
    if (!tst.nonce || !equal(unsignedBytes(new Uint8Array(tst.nonce)), unsignedBytes(expect.nonce))) throw fail('BAD_SIGNATURE', 'the token does not carry the request nonce');
  }
  const genTime = tst.genTime;
  if (!(genTime instanceof Date) || Number.isNaN(genTime.getTime())) throw fail('MALFORMED', 'TSTInfo genTime');

  // The signer certificate: time-stamping only, valid at genTime, trusted.
  checkTimestampingEku(signer.asn);
  checkValidAt(signer.asn, genTime, 'the TSA certificate');
  checkTrusted(signer, signerX, tokenCerts, trust, genTime);

  return {
    genTime,
    serial: Buffer.from(tst.serialNumber).toString('hex'),
    policy: tst.policy,
    signer: signerX.subject,
    imprint,
  };
}

/** matchesSid tells whether certificate c is the one a SignerInfo's sid names. */
function matchesSid(si: SignerInfo, c: Certificate): boolean {
  const ias = si.sid.issuerAndSerialNumber;
  if (ias) {
    return equal(der(ias.issuer), der(c.tbsCertificate.issuer)) && equal(unsignedBytes(new Uint8Array(ias.serialNumber)), unsignedBytes(new Uint8Array(c.tbsCertificate.serialNumber)));
  }
  const ski = si.sid.subjectKeyIdentifier;
  if (ski) {
    const ext = c.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
    if (!ext) return false;
    const own = parse(new Uint8Array(ext.extnValue.buffer), SubjectKeyIdentifier, 'subjectKeyIdentifier');
    return equal(new Uint8Array(own.buffer), new Uint8Array(ski.buffer));
  }
  return false;
}

/** checkEssCertId requires a signingCertificate or signingCertificateV2 attribute whose first certificate hash is the signer's. */
function checkEssCertId(attrs: readonly Attribute[], signerDer: Uint8Array): void {
  const v2 = single(attrs, OID_SIGNING_CERTIFICATE_V2);
  const v1 = single(attrs, OID_SIGNING_CERTIFICATE);
  if (v2) {
    const sc = parse(v2, SigningCertificateV2, 'signingCertificateV2');
    const first = sc.certs[0];
    if (!first) throw fail('MALFORMED', 'signingCertificateV2 names no certificate');
    const alg = first.hashAlgorithm?.algorithm ?? OID_SHA256;
    const name = DIGESTS[alg];
    if (!name) throw fail('UNSUPPORTED', `ESSCertIDv2 hash ${alg} is not accepted`);
    if (!equal(new Uint8Array(first.certHash.buffer), digest(name, signerDer))) throw fail('BAD_SIGNATURE', 'ESSCertIDv2 does not name the signer certificate');
    return;
  }
  if (v1) {
    const sc = parse(v1, SigningCertificate, 'signingCertificate');
    const first = sc.certs[0];
    if (!first) throw fail('MALFORMED', 'signingCertificate names no certificate');
    if (!equal(new Uint8Array(first.certHash.buffer), digest('sha1', signerDer))) throw fail('BAD_SIGNATURE', 'ESSCertID does not name the signer certificate');
    return;
  }
  throw fail('MALFORMED', 'the timestamp token has no signingCertificate(V2) attribute');
}

/** checkTimestampingEku requires a critical extendedKeyUsage holding exactly id-kp-timeStamping (RFC 3161 §2.3). */
function checkTimestampingEku(c: Certificate): void {
  const exts = (c.tbsCertificate.extensions ?? []).filter((e) => e.extnID === id_ce_extKeyUsage);
  if (exts.length !== 1) throw fail('UNKNOWN_KEY', 'the TSA certificate has no extended key usage');
  if (!exts[0].critical) throw fail('UNKNOWN_KEY', 'the TSA certificate\'s extended key usage is not critical');
  const eku = parse(new Uint8Array(exts[0].extnValue.buffer), ExtendedKeyUsage, 'extendedKeyUsage');
  if (eku.length !== 1 || eku[0] !== id_kp_timeStamping) throw fail('UNKNOWN_KEY', 'the TSA certificate\'s extended key usage is not id-kp-timeStamping alone');
}

function checkValidAt(c: Certificate, t: Date, what: string): void {
  const from = c.tbsCertificate.validity.notBefore.getTime();
  const to = c.tbsCertificate.validity.notAfter.getTime();
  if (t < from || t > to) throw fail('UNKNOWN_KEY', `${what} is not valid at ${t.toISOString()}`);
}

/**
 * checkTrusted requires the signer to be a trusted certificate, or to be issued (and
 * signed) by one, possibly through CA certificates the token carries, each valid at t.
 */
function checkTrusted(signer: { der: Uint8Array }, signerX: X509Certificate, tokenCerts: readonly Certificate[], trust: TsaTrust, t: Date): void {
  if (trust.certs.some((c) => equal(new Uint8Array(c.raw), signer.der))) return;
  const intermediates = tokenCerts.map((c) => x509(der(c))).filter((x) => x.ca);
  let at = signerX;
  for (let depth = 0; depth <= MAX_CHAIN; depth++) {
    const root = trust.certs.find((ca) => ca.ca && at.checkIssued(ca) && at.verify(ca.publicKey));
    if (root) {
      checkValidAt(parse(new Uint8Array(root.raw), Certificate, 'trusted certificate'), t, 'the trusted CA certificate');
      return;
    }
    const next = intermediates.find((ca) => !equal(new Uint8Array(ca.raw), new Uint8Array(at.raw)) && at.checkIssued(ca) && at.verify(ca.publicKey));
    if (!next) break;
    checkValidAt(parse(new Uint8Array(next.raw), Certificate, 'intermediate certificate'), t, 'an intermediate CA certificate');
    at = next;
  }
  throw fail('UNKNOWN_KEY', `the TSA certificate (${signerX.subject}) is not the configured one and does not chain to a configured CA`);
}

// --- Helpers ---

function bounded(b: Uint8Array, what: string): void {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (b.length > TOKEN_MAX) throw fail('TOO_LARGE', `${what} is ${b.length} bytes, limit ${TOKEN_MAX}`);
  if (b.length === 0) throw fail('MALFORMED', `${what} is empty`);
}

/** parse parses DER bytes as T; anything that does not parse is MALFORMED. */
function parse<T>(b: Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnParser.parse(b, type);
  } catch (e) {
    throw fail('MALFORMED', `${what} does not parse: ${(e as Error).message}`, e);
  }
}

/** der re-encodes a parsed value; a value the parser took but the encoder cannot write (a malformed time, say) is MALFORMED. */
function der(v: unknown): Uint8Array {
  try {
    return new Uint8Array(AsnSerializer.serialize(v));
  } catch (e) {
    throw fail('MALFORMED', `the timestamp token does not re-encode: ${(e as Error).message}`, e);
  }
}

function x509(d: Uint8Array): X509Certificate {
  try {
    return new X509Certificate(d);
  } catch (e) {
    throw fail('MALFORMED', 'a certificate in the timestamp token does not parse', e);
  }
}

/** single returns the one value of the attribute of type oid, or undefined if absent; twice, or several values, is MALFORMED. */
function single(attrs: readonly Attribute[], oid: string): Uint8Array | undefined {
  const found = attrs.filter((a) => a.attrType === oid);
  if (found.length === 0) return undefined;
  if (found.length > 1 || found[0].attrValues.length !== 1) throw fail('MALFORMED', `signed attribute ${oid} is not one single value`);
  return new Uint8Array(found[0].attrValues[0]);
}

/** oidDer is the DER of an OBJECT IDENTIFIER. */
function oidDer(oid: string): Uint8Array {
  return der(new AlgorithmIdentifier({ algorithm: oid })).subarray(2);
}

function digest(name: string, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(name).update(data).digest());
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** unsignedBytes strips the leading zero bytes of a big-endian unsigned integer. */
function unsignedBytes(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.slice(i);
}

/** integerContent is the DER INTEGER content of an unsigned big-endian integer (a 0 byte before a high bit). */
function integerContent(u: Uint8Array): ArrayBuffer {
  const out = u[0] & 0x80 ? new Uint8Array([0, ...u]) : u.slice();
  return out.buffer as ArrayBuffer;
}

function fail(code: LedgerErrorCode, message: string, cause?: unknown): LedgerError {
  return new LedgerError(code, message, cause === undefined ? undefined : { cause });
}

