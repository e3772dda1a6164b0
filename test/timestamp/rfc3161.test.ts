import { describe, expect, it } from 'vitest';
import { AsnParser, AsnSerializer } from '@peculiar/asn1-schema';
import { PKIStatusInfo, TimeStampReq, TimeStampResp } from '@peculiar/asn1-tsp';
import {
  buildTimestampRequest,
  checkpointImprint,
  parseTimestampResponse,
  parseTsaTrust,
  TOKEN_MAX,
  verifyTimestampToken,
} from '../../src/timestamp/rfc3161.js';
import { code, vector, vectorText } from '../helpers/vectors.js';

// The vectors of test/vectors/tsa/ were made once with `openssl ts` (see its README).
const checkpoint = vector('tsa/checkpoint.txt');
const imprint = checkpointImprint(checkpoint);
const query = AsnParser.parse(vector('tsa/query.tsq'), TimeStampReq);
const nonce = new Uint8Array(query.nonce!);
const caTrust = parseTsaTrust(vectorText('tsa/ca.pem'));
const tsaTrust = parseTsaTrust(vectorText('tsa/tsa.pem'));
const otherTrust = parseTsaTrust(vectorText('tsa/other-ca.pem'));
const token = parseTimestampResponse(vector('tsa/reply.tsr'));

describe('RFC 3161 requests', () => {
  it('stamps SHA-256 of the checkpoint text', () => {
    expect(Buffer.from(imprint).toString('hex')).toBe(Buffer.from(query.messageImprint.hashedMessage.buffer).toString('hex'));
    expect(checkpointImprint(new TextDecoder().decode(checkpoint))).toEqual(imprint);
  });

  it('builds a TimeStampReq: version 1, SHA-256 imprint, a fresh 64-bit nonce, certReq', () => {
    const a = buildTimestampRequest(imprint);
    const b = buildTimestampRequest(imprint);
    expect(a.nonce).not.toEqual(b.nonce);
    const req = AsnParser.parse(a.der, TimeStampReq);
    expect(req.version).toBe(1);
    expect(req.messageImprint.hashAlgorithm.algorithm).toBe('2.16.840.1.101.3.4.2.1');
    expect(new Uint8Array(req.messageImprint.hashedMessage.buffer)).toEqual(imprint);
    expect(req.certReq).toBe(true);
    expect(req.reqPolicy).toBeUndefined();
    // A nonce with its high bit set is a positive INTEGER (a leading 0 byte in DER).
    const high = buildTimestampRequest(imprint, new Uint8Array([0xff, 1, 2, 3, 4, 5, 6, 7]));
    const hreq = AsnParser.parse(high.der, TimeStampReq);
    expect(Buffer.from(hreq.nonce!).toString('hex')).toBe('00ff01020304050607');
    expect(high.nonce).toEqual(new Uint8Array([0xff, 1, 2, 3, 4, 5, 6, 7]));
    expect(() => buildTimestampRequest(new Uint8Array(31))).toThrow(RangeError);
    expect(() => buildTimestampRequest(imprint, new Uint8Array(9).fill(1))).toThrow(RangeError);
  });
});

describe('RFC 3161 responses and tokens (openssl ts vectors)', () => {
  it('verifies a token signed by a TSA the CA issued (ESSCertIDv2)', () => {
    const v = verifyTimestampToken(token, caTrust, { imprint, nonce });
    expect(v.genTime.toISOString()).toMatch(/^\d{4}-/);
    expect(v.policy).toBe('1.3.6.1.4.1.99999.1');
    expect(v.signer).toContain('dojang test TSA');
    expect(v.imprint).toEqual(imprint);
    // Trusting the TSA certificate itself works too; so does not checking the nonce.
    expect(code(() => verifyTimestampToken(token, tsaTrust, { imprint, nonce }))).toBe('OK');
    expect(code(() => verifyTimestampToken(token, caTrust, { imprint }))).toBe('OK');
  });

  it('verifies a token naming its signer with ESSCertID (SHA-1)', () => {
    const t = parseTimestampResponse(vector('tsa/reply-esscertid.tsr'));
    expect(code(() => verifyTimestampToken(t, caTrust, { imprint, nonce }))).toBe('OK');
  });

  it('refuses a token over another checkpoint, or without the request nonce', () => {
    const other = checkpointImprint('dojang.example/log\n8\nRDsIpypUIIJ5E6+7V/7bS/0ur0MmVd8jnn6Dy8Gcwp4=\n');
    expect(code(() => verifyTimestampToken(token, caTrust, { imprint: other }))).toBe('BAD_SIGNATURE');
    const wrongNonce = nonce.slice();
    wrongNonce[7] ^= 1;
    expect(code(() => verifyTimestampToken(token, caTrust, { imprint, nonce: wrongNonce }))).toBe('BAD_SIGNATURE');
  });

  it('refuses a signer that is not the configured certificate and does not chain to the configured CA', () => {
    expect(code(() => verifyTimestampToken(token, otherTrust, { imprint, nonce }))).toBe('UNKNOWN_KEY');
    expect(code(() => verifyTimestampToken(token, parseTsaTrust(vectorText('tsa/other-tsa.pem')), { imprint, nonce }))).toBe('UNKNOWN_KEY');
    const otherToken = parseTimestampResponse(vector('tsa/reply-other.tsr'));
    expect(code(() => verifyTimestampToken(otherToken, caTrust, { imprint, nonce }))).toBe('UNKNOWN_KEY');
    expect(code(() => verifyTimestampToken(otherToken, otherTrust, { imprint, nonce }))).toBe('OK');
  });

  it('answers a token whose DER does not re-encode (a malformed signed time) with a code, not a crash', () => {
    // Found by review: the signingTime UTCTime's last byte 'Z' made '[' parses, but does not serialize.
    const bad = vector('tsa/token.der').slice();
    bad[978] ^= 1;
    expect(code(() => verifyTimestampToken(bad, caTrust, { imprint }))).toBe('MALFORMED');
  });

  it('refuses a flipped bit anywhere that matters: signature, TSTInfo, signed attributes', () => {
    // The RSA signature is the token's last 256 bytes (no unsigned attributes).
    const sig = token.slice();
    sig[sig.length - 20] ^= 1;
    expect(code(() => verifyTimestampToken(sig, caTrust, { imprint, nonce }))).toBe('BAD_SIGNATURE');
    // The TSTInfo's genTime and serial: the messageDigest no longer matches.
    const at = indexOf(token, new TextEncoder().encode(String(new Date().getUTCFullYear()).slice(0, 2)));
    expect(at).toBeGreaterThan(0);
    const tst = token.slice();
    tst[at + 3] ^= 1;
    expect(code(() => verifyTimestampToken(tst, caTrust, { imprint, nonce }))).toBe('BAD_SIGNATURE');
    // Every byte of the token matters: each one changed is refused (with some code), never
    // accepted — also in unsigned fields (versions, algorithm parameters) and the certificates.
    // (Every byte was checked once; the test walks every 4th / 13th to stay quick.)
    for (const [reply, stride] of [['tsa/reply.tsr', 4], ['tsa/reply-esscertid.tsr', 13]] as const) {
      const good = parseTimestampResponse(vector(reply));
      const accepted: number[] = [];
      for (let i = 0; i < good.length; i += stride) {
        const t = good.slice();
        t[i] ^= 0x10;
        if (code(() => verifyTimestampToken(t, caTrust, { imprint, nonce })) === 'OK') accepted.push(i);
      }
      expect(accepted).toEqual([]);
    }
  });

  it('refuses a non-granted status, truncated DER and oversized or empty answers with codes', () => {
    expect(code(() => parseTimestampResponse(vector('tsa/reply-rejected.tsr')))).toBe('UNAVAILABLE');
    expect(() => parseTimestampResponse(vector('tsa/reply-rejected.tsr'))).toThrow(/policy/);
    const waiting = new Uint8Array(AsnSerializer.serialize(new TimeStampResp({ status: new PKIStatusInfo({ status: 3 }) })));
    expect(code(() => parseTimestampResponse(waiting))).toBe('UNAVAILABLE');
    const grantedEmpty = new Uint8Array(AsnSerializer.serialize(new TimeStampResp({ status: new PKIStatusInfo({ status: 0 }) })));
    expect(code(() => parseTimestampResponse(grantedEmpty))).toBe('MALFORMED');
    const reply = vector('tsa/reply.tsr');
    for (const n of [1, 2, 10, 100, reply.length - 1]) expect(code(() => parseTimestampResponse(reply.subarray(0, n)))).toBe('MALFORMED');
    for (const n of [1, 2, 10, 100, token.length - 1]) expect(code(() => verifyTimestampToken(token.subarray(0, n), caTrust, { imprint }))).toBe('MALFORMED');
    expect(code(() => parseTimestampResponse(new Uint8Array(0)))).toBe('MALFORMED');
    expect(code(() => parseTimestampResponse(new Uint8Array(TOKEN_MAX + 1)))).toBe('TOO_LARGE');
    expect(code(() => verifyTimestampToken(new Uint8Array(TOKEN_MAX + 1), caTrust, { imprint }))).toBe('TOO_LARGE');
    expect(code(() => verifyTimestampToken(vector('tsa/reply.tsr'), caTrust, { imprint }))).toBe('MALFORMED'); // a response is not a token
    expect(code(() => verifyTimestampToken(new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), caTrust, { imprint }))).toBe('MALFORMED');
  });

  it('reads trust from PEM and refuses a file without certificates', () => {
    expect(parseTsaTrust(vectorText('tsa/ca.pem') + vectorText('tsa/other-ca.pem')).certs).toHaveLength(2);
    expect(code(() => parseTsaTrust('nothing here'))).toBe('BAD_REQUEST');
    expect(code(() => parseTsaTrust('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'))).toBe('BAD_REQUEST');
  });
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(hay).indexOf(Buffer.from(needle));
}
