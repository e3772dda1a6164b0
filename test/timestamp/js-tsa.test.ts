import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointImprint, parseTsaTrust, verifyTimestampToken } from '../../src/timestamp/rfc3161.js';
import { TsaClient } from '../../src/timestamp/stamper.js';
import { code, vectorText } from '../helpers/vectors.js';
import { JsTsa } from '../helpers/tsa.js';

const trust = parseTsaTrust(vectorText('tsa/ca.pem'));
const text = 'dojang.example/log\n9\nRDsIpypUIIJ5E6+7V/7bS/0ur0MmVd8jnn6Dy8Gcwp4=\n';

describe('TsaClient against a TSA over HTTP (test/helpers/tsa.ts)', () => {
  const tsa = new JsTsa();
  let url = '';
  beforeAll(async () => {
    url = await tsa.listen();
  });
  afterAll(() => tsa.close());

  it('the helper TSA makes tokens the verifier accepts', () => {
    const imprint = checkpointImprint(text);
    expect(code(() => verifyTimestampToken(tsa.token(imprint), trust, { imprint }))).toBe('OK');
  });

  it('asks for a token over a checkpoint text and verifies it, nonce included', async () => {
    tsa.mode = 'ok';
    const { token, verified } = await new TsaClient(url, trust).stamp(text);
    expect(verified.imprint).toEqual(checkpointImprint(text));
    expect(code(() => verifyTimestampToken(token, trust, { imprint: checkpointImprint(text) }))).toBe('OK');
  });

  it('names what went wrong with coded errors', async () => {
    const client = new TsaClient(url, trust);
    const cases: [JsTsa['mode'], string][] = [
      ['http500', 'UNAVAILABLE'],
      ['rejection', 'UNAVAILABLE'],
      ['huge', 'TOO_LARGE'],
      ['wrong-nonce', 'BAD_SIGNATURE'],
    ];
    for (const [mode, want] of cases) {
      tsa.mode = mode;
      await expect(client.stamp(text)).rejects.toMatchObject({ code: want });
    }
    tsa.mode = 'ok';
    await expect(new TsaClient(url, parseTsaTrust(vectorText('tsa/other-ca.pem'))).stamp(text)).rejects.toMatchObject({ code: 'UNKNOWN_KEY' });
    await expect(new TsaClient('http://127.0.0.1:1/tsa', trust, 2000).stamp(text)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(() => new TsaClient('ftp://x/', trust)).toThrow(/http/);
  });
});
