import { describe, expect, it } from 'vitest';
import { checkCheckpoint, parsePolicy } from '../../src/core/policy.js';
import { cosignatureSigner } from '../../src/core/cosignature.js';
import { ed25519Signer, formatNote, formatVerifierKey, SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519 } from '../../src/core/note.js';
import { formatCheckpoint } from '../../src/core/checkpoint.js';
import { ed25519PublicKey } from '../../src/core/crypto.js';
import { utf8 } from '../../src/core/bytes.js';

const ORIGIN = 'example.com/policy-log';
const logSeed = new Uint8Array(32).fill(1);
const log = ed25519Signer(ORIGIN, logSeed);
const logVkey = formatVerifierKey({ name: ORIGIN, type: SIG_TYPE_ED25519, publicKey: ed25519PublicKey(logSeed) });
const names = ['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3'];
const witnesses = Object.fromEntries(names.map((n, i) => [n, cosignatureSigner(`witness.example/${n.toLowerCase()}`, new Uint8Array(32).fill(10 + i), () => 1_700_000_000 + i)]));
const wvkey = (n: string) => formatVerifierKey({ name: witnesses[n].name, type: SIG_TYPE_COSIGNATURE_V1, publicKey: witnesses[n].publicKey });

/** The spec's example policy, with real keys, tabs and comments. */
const EXAMPLE = `# the spec's example
log ${logVkey} https://log.example/

witness X1 ${wvkey('X1')}
witness\tX2 ${wvkey('X2')}  https://x2.example/
witness X3 ${wvkey('X3')}
group X-witnesses 2 X1 X2 X3
   # indented comment
witness Y1 ${wvkey('Y1')}
witness Y2 ${wvkey('Y2')}
witness Y3 ${wvkey('Y3')}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`;

function checkpoint(by: string[]): Uint8Array {
  const text = formatCheckpoint({ origin: ORIGIN, size: 42, root: new Uint8Array(32).fill(7), extensions: [] });
  const sigs = [{ name: log.name, keyId: log.keyId, sig: log.sign(utf8(text)) }, ...by.map((n) => witnesses[n].signAt(text, 1_700_000_000 + names.indexOf(n)))];
  return formatNote({ text, sigs });
}

describe('tlog-policy', () => {
  it('parses the spec example and judges quorums of cosignatures', () => {
    const p = parsePolicy(utf8(EXAMPLE));
    expect(p.logs.map((l) => [l.origin, l.url])).toEqual([[ORIGIN, 'https://log.example/']]);
    expect(p.witnesses.map((w) => w.name)).toEqual(names);
    expect(p.witnesses[1].url).toBe('https://x2.example/');
    const v = checkCheckpoint(checkpoint(['X1', 'X3', 'Y2']), p);
    expect(v.quorum).toBe(true);
    expect(v.checkpoint.size).toBe(42);
    expect(v.cosigned).toEqual([
      { name: 'X1', time: 1_700_000_000 },
      { name: 'X3', time: 1_700_000_002 },
      { name: 'Y2', time: 1_700_000_004 },
    ]);
    expect(checkCheckpoint(checkpoint(['X1', 'Y1', 'Y2', 'Y3']), p).quorum).toBe(false); // one X only
    expect(checkCheckpoint(checkpoint(['X1', 'X2']), p).quorum).toBe(false); // no Y
    expect(checkCheckpoint(checkpoint([]), p).quorum).toBe(false);
  });

  it('quorum none needs no witness; a single witness as quorum needs that one', () => {
    expect(checkCheckpoint(checkpoint([]), parsePolicy(utf8(`log ${logVkey}\nquorum none\n`))).quorum).toBe(true);
    const one = parsePolicy(utf8(`log ${logVkey}\nwitness W ${wvkey('Y3')}\nquorum W\n`));
    expect(checkCheckpoint(checkpoint(['Y3']), one).quorum).toBe(true);
    expect(checkCheckpoint(checkpoint(['X1', 'X2']), one).quorum).toBe(false);
  });

  it('ignores a witness line that does not verify (and two lines by one witness), and says which groups are short', () => {
    const p = parsePolicy(utf8(EXAMPLE));
    const note = checkpoint(['X1', 'X2', 'Y1']);
    const text = formatCheckpoint({ origin: ORIGIN, size: 42, root: new Uint8Array(32).fill(7), extensions: [] });
    const good = checkCheckpoint(note, p);
    expect(good).toMatchObject({ quorum: true, ignored: [], short: [] });
    // X2's line over another text: not counted, and the note is not refused for it.
    const other = formatCheckpoint({ origin: ORIGIN, size: 43, root: new Uint8Array(32).fill(7), extensions: [] });
    const forged = formatNote({ text, sigs: [{ name: log.name, keyId: log.keyId, sig: log.sign(utf8(text)) }, witnesses.X1.signAt(text, 1), witnesses.X2.signAt(other, 2), witnesses.Y1.signAt(text, 3)] });
    const v = checkCheckpoint(forged, p);
    expect(v.cosigned.map((c) => c.name)).toEqual(['X1', 'Y1']);
    expect(v.ignored).toEqual(['X2']);
    expect(v.quorum).toBe(false);
    expect(v.short).toEqual(['group X-and-Y needs 2 of X-witnesses, Y-witnesses and has 1', 'group X-witnesses needs 2 of X1, X2, X3 and has 1']);
    const twice = formatNote({ text, sigs: [{ name: log.name, keyId: log.keyId, sig: log.sign(utf8(text)) }, witnesses.Y3.signAt(text, 1), witnesses.Y3.signAt(text, 2)] });
    const one = parsePolicy(utf8(`log ${logVkey}\nwitness W ${wvkey('Y3')}\nquorum W\n`));
    expect(checkCheckpoint(twice, one)).toMatchObject({ cosigned: [], ignored: ['W'], quorum: false, short: ['witness W did not cosign'] });
    // A bad line by the log's own key is still a bad note.
    const badLog = formatNote({ text, sigs: [{ name: log.name, keyId: log.keyId, sig: log.sign(utf8(other)) }, witnesses.Y3.signAt(text, 1)] });
    expect(() => checkCheckpoint(badLog, one)).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE' }));
  });

  it('refuses a checkpoint of a log the policy does not list, or not signed by it', () => {
    const p = parsePolicy(utf8(EXAMPLE));
    const other = ed25519Signer('example.com/other', logSeed);
    const text = formatCheckpoint({ origin: 'example.com/other', size: 1, root: new Uint8Array(32), extensions: [] });
    expect(() => checkCheckpoint(formatNote({ text, sigs: [{ name: other.name, keyId: other.keyId, sig: other.sign(utf8(text)) }] }), p)).toThrow(expect.objectContaining({ code: 'UNKNOWN_KEY' }));
    const text2 = formatCheckpoint({ origin: ORIGIN, size: 1, root: new Uint8Array(32), extensions: [] });
    const onlyWitness = formatNote({ text: text2, sigs: [witnesses.X1.signAt(text2, 5)] });
    expect(() => checkCheckpoint(onlyWitness, p)).toThrow(expect.objectContaining({ code: 'UNKNOWN_KEY' }));
  });

  it('refuses every policy the spec does not allow, saying which line', () => {
    const w = (n: string) => `witness ${n} ${wvkey(n)}\n`;
    const bad: [string, string][] = [
      ['no quorum', `log ${logVkey}\n`],
      ['two quorums', `quorum none\nquorum none\n`],
      ['unknown keyword', `logs ${logVkey}\nquorum none\n`],
      ['forward reference', `group G any X1\n${w('X1')}quorum G\n`],
      ['undefined quorum', `quorum G\n`],
      ['member twice', `${w('X1')}group G any X1 X1\nquorum G\n`],
      ['none as member', `${w('X1')}group G any X1 none\nquorum G\n`],
      ['k of 0', `${w('X1')}group G 0 X1\nquorum G\n`],
      ['k above n', `${w('X1')}group G 2 X1\nquorum G\n`],
      ['a member of two groups', `${w('X1')}${w('X2')}group G1 any X1 X2\ngroup G2 any X1 X2\ngroup Q all G1 G2\nquorum Q\n`],
      ['k not a number', `${w('X1')}group G one X1\nquorum G\n`],
      ['no members', `group G any\nquorum none\n`],
      ['a name defined twice', `${w('X1')}witness X1 ${wvkey('X2')}\nquorum none\n`],
      ['none as a name', `witness none ${wvkey('X1')}\nquorum none\n`],
      ['same witness key twice', `${w('X1')}witness Z ${wvkey('X1')}\nquorum none\n`],
      ['same log key twice', `log ${logVkey}\nlog ${logVkey}\nquorum none\n`],
      ['log key of type 0x04', `log ${wvkey('X1')}\nquorum none\n`],
      ['witness key of type 0x01', `witness W ${logVkey}\nquorum none\n`],
      ['a broken vkey', `log ${logVkey.slice(0, -2)}xx\nquorum none\n`],
      ['a control character', `quorum none\r\n`],
      ['no newline at the end', `quorum none`],
      ['extra item on a log line', `log ${logVkey} https://a https://b\nquorum none\n`],
    ];
    for (const [what, text] of bad) expect(() => parsePolicy(utf8(text)), what).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    expect(() => parsePolicy(utf8(`# ok\n\n${w('X1')}group G 01 X1\nquorum G\n`))).not.toThrow(); // decimal, as Go's Atoi reads it
    expect(() => parsePolicy(utf8(`${w('X1')}group G 2 X1\nquorum G\n`))).toThrow(/^policy line 2: /);
  });
});
