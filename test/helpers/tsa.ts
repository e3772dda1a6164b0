/**
 * A small RFC 3161 time-stamping authority in JavaScript, for tests that may not run the
 * openssl binary: it signs with the test-only TSA key of test/vectors/tsa/ (tsa.key and
 * tsa.pem, issued by ca.pem), building the token the way `openssl ts -reply` does
 * (SignedData v3, TSTInfo, signed contentType, signingTime, messageDigest and
 * signingCertificateV2, RSA PKCS #1 v1.5 over SHA-256). The real openssl TSA is in
 * test/system/tsa-openssl.test.ts.
 */
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Attribute,
  CertificateChoices,
  CertificateSet,
  ContentInfo,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
  DigestAlgorithmIdentifiers,
  id_signedData,
} from '@peculiar/asn1-cms';
import { MessageImprint, PKIStatusInfo, TimeStampReq, TimeStampResp, TSTInfo, id_ct_tstInfo } from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import { AsnArray, AsnParser, AsnSerializer, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { vectorText } from './vectors.js';

const SHA256 = '2.16.840.1.101.3.4.2.1';
const RSA = '1.2.840.113549.1.1.1';

class AttributeSet extends AsnArray<Attribute> {
  constructor(items?: Attribute[]) {
    super(items);
    Object.setPrototypeOf(this, AttributeSet.prototype);
  }
}
AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })(AttributeSet);

/** How the TSA answers: 'ok', an HTTP 500, a rejection (status 2), or a reply that is too large. */
export type TsaMode = 'ok' | 'http500' | 'rejection' | 'huge' | 'wrong-nonce';

export class JsTsa {
  mode: TsaMode = 'ok';
  /** How long each answer waits (a slow TSA). */
  delayMs = 0;
  requests = 0;
  /** The message imprints asked for, in order. */
  readonly asked: string[] = [];
  #serial = 1;
  readonly #key = createPrivateKey(vectorText('tsa/tsa.key'));
  readonly #certDer = pemDer(vectorText('tsa/tsa.pem'));
  readonly #cert = AsnParser.parse(this.#certDer, Certificate);
  #server: Server | undefined;

  /** token returns a TimeStampToken (DER) over `imprint`, as this TSA would sign it. */
  token(imprint: Uint8Array, nonce?: ArrayBuffer, genTime = new Date()): Uint8Array {
    const tst = new TSTInfo({
      version: 1,
      policy: '1.3.6.1.4.1.99999.1',
      messageImprint: new MessageImprint({ hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA256 }), hashedMessage: new OctetString(imprint) }),
      serialNumber: new Uint8Array([this.#serial++]).buffer,
      genTime: new Date(Math.floor(genTime.getTime() / 1000) * 1000),
      ordering: false,
      nonce,
    });
    const tstDer = new Uint8Array(AsnSerializer.serialize(tst));
    const certHash = createHash('sha256').update(this.#certDer).digest();
    // SigningCertificateV2 { certs [ ESSCertIDv2 { certHash } ] } with the default SHA-256, written by hand.
    const essV2 = der(0x30, der(0x30, der(0x30, der(0x04, certHash))));
    const attrs = [
      new Attribute({ attrType: '1.2.840.113549.1.9.3', attrValues: [oid(id_ct_tstInfo)] }),
      new Attribute({ attrType: '1.2.840.113549.1.9.4', attrValues: [der(0x04, createHash('sha256').update(tstDer).digest()).buffer as ArrayBuffer] }),
      new Attribute({ attrType: '1.2.840.113549.1.9.16.2.47', attrValues: [essV2.buffer as ArrayBuffer] }),
    ];
    // DER SET OF: sorted by encoding.
    attrs.sort((a, b) => Buffer.compare(Buffer.from(AsnSerializer.serialize(a)), Buffer.from(AsnSerializer.serialize(b))));
    const signedAttrs = new Uint8Array(AsnSerializer.serialize(new AttributeSet(attrs)));
    const signature = sign('sha256', signedAttrs, this.#key);
    const si = new SignerInfo({
      version: 1,
      sid: new SignerIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: this.#cert.tbsCertificate.issuer, serialNumber: this.#cert.tbsCertificate.serialNumber }) }),
      digestAlgorithm: new AlgorithmIdentifier({ algorithm: SHA256 }),
      signedAttrs: attrs,
      signatureAlgorithm: new AlgorithmIdentifier({ algorithm: RSA, parameters: null }),
      signature: new OctetString(signature),
    });
    const sd = new SignedData({
      version: 3,
      digestAlgorithms: new DigestAlgorithmIdentifiers([new AlgorithmIdentifier({ algorithm: SHA256 })]),
      encapContentInfo: new EncapsulatedContentInfo({ eContentType: id_ct_tstInfo, eContent: new EncapsulatedContent({ single: new OctetString(tstDer) }) }),
      certificates: new CertificateSet([new CertificateChoices({ certificate: this.#cert })]),
      signerInfos: new SignerInfos([si]),
    });
    const ci = new ContentInfo({ contentType: id_signedData, content: AsnSerializer.serialize(sd) });
    return new Uint8Array(AsnSerializer.serialize(ci));
  }

  /** reply answers a DER TimeStampReq with a DER TimeStampResp, as the mode says. */
  reply(reqDer: Uint8Array): Uint8Array {
    const req = AsnParser.parse(reqDer, TimeStampReq);
    this.asked.push(Buffer.from(req.messageImprint.hashedMessage.buffer).toString('hex'));
    if (this.mode === 'rejection') return new Uint8Array(AsnSerializer.serialize(new TimeStampResp({ status: new PKIStatusInfo({ status: 2 }) })));
    let nonce = req.nonce;
    if (this.mode === 'wrong-nonce') nonce = new Uint8Array([1, 2, 3]).buffer;
    const token = AsnParser.parse(this.token(new Uint8Array(req.messageImprint.hashedMessage.buffer), nonce), ContentInfo);
    return new Uint8Array(AsnSerializer.serialize(new TimeStampResp({ status: new PKIStatusInfo({ status: 0 }), timeStampToken: token })));
  }

  /** listen serves application/timestamp-query on 127.0.0.1 and returns the URL. */
  async listen(): Promise<string> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        this.requests++;
        if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
        if (this.mode === 'http500' || req.headers['content-type'] !== 'application/timestamp-query') {
          res.writeHead(this.mode === 'http500' ? 500 : 415).end();
          return;
        }
        if (this.mode === 'huge') {
          res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(Buffer.alloc(70_000));
          return;
        }
        let body: Buffer;
        try {
          body = Buffer.from(this.reply(new Uint8Array(Buffer.concat(chunks))));
        } catch {
          res.writeHead(400).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(body);
      });
    });
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/tsa`;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}

function pemDer(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

/** der writes one TLV (short or long length). */
function der(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const len = n < 128 ? [n] : n < 256 ? [0x81, n] : [0x82, n >> 8, n & 255];
  return new Uint8Array([tag, ...len, ...content]);
}

function oid(o: string): ArrayBuffer {
  const body = new Uint8Array(AsnSerializer.serialize(new AlgorithmIdentifier({ algorithm: o }))).subarray(2);
  return body.slice().buffer;
}
