#!/usr/bin/env node
/**
 * The dojang command (README "The command", docs/api.md). Exit status 0 means success; anything else is a
 * failure with a one-line reason on stderr. --json prints machine-readable output.
 */
import { parseArgs } from 'node:util';
import { LedgerError, isLedgerError } from '../core/errors.js';
import { MAX_QUEUE_LIMIT, runInit, runServe } from './serve.js';
import { DEFAULT_MAX_QUEUE } from '../ledger/sequencer.js';
import { runBench } from './bench.js';
import { EVENT_COMMANDS, EVENTS_USAGE } from './events.js';
import { PRESENT_USAGE, runPresent, runVerify } from './present.js';
import { AUDIT_USAGE, runAudit } from './audit.js';
import { WALLET_USAGE, runWallet } from './wallet.js';
import { DEMO_USAGE, runDemo } from './demo.js';
import { MIRROR_USAGE, runMirror } from './mirror.js';
import { WITNESS_USAGE, runWitness } from './witness.js';

const USAGE = `usage: dojang <command> [options]

  init   [--data DIR] [--store postgres://...] [--origin NAME] [--root-key FILE] [--json]
         create the log, timestamp and status keys and the genesis entry, then
         register the document types the wallet side knows (doctype.register)
  serve  [--data DIR] [--store postgres://...] [--port N] [--host ADDR] [--policy FILE]
         [--witness-wait SECONDS] [--tsa URL --tsa-cert PEM] [--max-queue N]
         serve the API (creates a development ledger in DIR if there is none);
         --store keeps the log in PostgreSQL (DIR keeps the keys); --policy (a
         c2sp.org/tlog-policy file with witness URLs) publishes only checkpoints
         its witnesses cosigned enough of, serves it at GET /v1/policy and
         judges POST /v1/verify by it; a write waits at most --witness-wait
         seconds (default 25) for one to cover it; --tsa asks that RFC 3161
         time-stamping authority for a token over each new checkpoint, verified
         against the PEM certificate of the TSA or its CA; --max-queue bounds
         the entries waiting to be sequenced (default ${DEFAULT_MAX_QUEUE}, at
         most ${MAX_QUEUE_LIMIT}): a write beyond is answered 503 OVERLOADED
  bench  [--data DIR] [--entries N] [--json] [--quick] [--scale N,N,...]
         [--store postgres://...]
         measure the ledger beside this machine's own limits; --scale also
         measures proofs and memory on fresh logs of each size; --store also
         measures appends and proofs on PostgreSQL (a fresh database on that
         server, dropped after)
${EVENTS_USAGE}
${PRESENT_USAGE}
${AUDIT_USAGE}
${WALLET_USAGE}
${DEMO_USAGE}
${MIRROR_USAGE}
${WITNESS_USAGE}

The default DIR is ./ledger-data.`;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const io: Io = {
  out: (s) => process.stdout.write(s + '\n'),
  err: (s) => process.stderr.write(s + '\n'),
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    io.out(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  switch (cmd) {
    case 'init': {
      const { values } = parseArgs({ args: rest, options: { data: { type: 'string' }, store: { type: 'string' }, origin: { type: 'string' }, 'root-key': { type: 'string' }, json: { type: 'boolean' } }, strict: true });
      return runInit({ data: values.data ?? 'ledger-data', store: values.store, origin: values.origin, rootKeyFile: values['root-key'], json: values.json ?? false }, io);
    }
    case 'serve': {
      const { values } = parseArgs({
        args: rest,
        options: { data: { type: 'string' }, store: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, policy: { type: 'string' }, 'witness-wait': { type: 'string' }, tsa: { type: 'string' }, 'tsa-cert': { type: 'string' }, 'max-queue': { type: 'string' } },
        strict: true,
      });
      const port = values.port === undefined ? 8080 : Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new LedgerError('BAD_REQUEST', `--port ${values.port} is not a port number`);
      const wait = values['witness-wait'] === undefined ? undefined : Number(values['witness-wait']);
      if (wait !== undefined && !(Number.isFinite(wait) && wait >= 0.1 && wait <= 600)) throw new LedgerError('BAD_REQUEST', `--witness-wait ${values['witness-wait']}: seconds, from 0.1 to 600`);
      if (wait !== undefined && values.policy === undefined) throw new LedgerError('BAD_REQUEST', '--witness-wait needs --policy FILE');
      const q = values['max-queue'];
      const maxQueue = q === undefined ? undefined : Number(q);
      if (maxQueue !== undefined && !(/^[1-9][0-9]*$/.test(q!) && maxQueue <= MAX_QUEUE_LIMIT)) throw new LedgerError('BAD_REQUEST', `--max-queue ${q}: entries, from 1 to ${MAX_QUEUE_LIMIT}`);
      return runServe({ data: values.data ?? 'ledger-data', store: values.store, port, host: values.host ?? '127.0.0.1', policy: values.policy, witnessWaitMs: wait === undefined ? undefined : Math.round(wait * 1000), tsa: values.tsa, tsaCert: values['tsa-cert'], maxQueue }, io);
    }
    case 'bench': {
      const { values } = parseArgs({
        args: rest,
        options: { data: { type: 'string' }, store: { type: 'string' }, entries: { type: 'string' }, json: { type: 'boolean' }, quick: { type: 'boolean' }, 'print-acks': { type: 'boolean' }, scale: { type: 'string' }, 'proofs-only': { type: 'boolean' } },
        strict: true,
      });
      const count = (v: string, what: string): number => {
        const n = Number(v);
        if (!/^[1-9][0-9]*$/.test(v) || !Number.isSafeInteger(n)) throw new LedgerError('BAD_REQUEST', `${what} ${JSON.stringify(v)} is not a positive integer`);
        return n;
      };
      return runBench(
        {
          data: values.data,
          entries: values.entries === undefined ? undefined : count(values.entries, '--entries'),
          json: values.json ?? false,
          quick: values.quick ?? false,
          printAcks: values['print-acks'] ?? false,
          scale: values.scale?.split(',').map((v) => count(v, '--scale')),
          proofsOnly: values['proofs-only'] ?? false,
          store: values.store,
        },
        io,
      );
    }
    case 'keygen':
    case 'doctype':
    case 'issuer':
    case 'issue':
    case 'send':
    case 'revoke':
      return EVENT_COMMANDS[cmd](rest, io);
    case 'present':
      return runPresent(rest, io);
    case 'verify':
      return runVerify(rest, io);
    case 'mirror':
      return runMirror(rest, io);
    case 'demo':
      return runDemo(rest, io);
    case 'wallet':
      return runWallet(rest, io);
    case 'audit':
      return runAudit(rest, io);
    case 'witness':
      return runWitness(rest, io);
    default:
      io.err(`dojang: unknown command ${JSON.stringify(cmd)}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const msg = isLedgerError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    process.stderr.write(`dojang: ${msg}\n`);
    process.exitCode = 1;
  },
);
