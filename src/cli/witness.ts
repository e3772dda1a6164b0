/**
 * dojang witness: run a witness (spec §13) for the logs given by --log.
 *
 *   DIR/witness.key   its private key (cosignature/v1, type 0x04), made on first start
 *   DIR/state/        what it cosigned, per origin, and the evidence it kept (LevelDB)
 */
import { createServer } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LedgerError } from '../core/errors.js';
import { toHex } from '../core/bytes.js';
import { randomBytes } from '../core/crypto.js';
import { formatVerifierKey, isValidKeyName, parseVerifierKey, SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, type NoteVerifier } from '../core/note.js';
import { exists, readKeyFile, writeKeyFile } from '../ledger/keyfiles.js';
import { Witness } from '../witness/witness.js';
import { WitnessState } from '../witness/state.js';
import { createWitnessApp } from '../witness/server.js';
import type { Io } from './main.js';

export const WITNESS_USAGE = `  witness --data DIR --log VKEY [--log VKEY …] [--name NAME] [--port N] [--host ADDR]
         run a witness (c2sp.org/tlog-witness) for the logs whose Ed25519 verifier
         keys are given (a log's origin is its key's name); its key is made in
         DIR/witness.key on first start (named NAME), its state kept in DIR/state`;

export async function runWitness(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { data: { type: 'string' }, log: { type: 'string', multiple: true }, name: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
    strict: true,
  });
  if (values.data === undefined) throw new LedgerError('BAD_REQUEST', 'witness needs --data DIR');
  const port = values.port === undefined ? 7380 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new LedgerError('BAD_REQUEST', `--port ${values.port}: a port number`);
  const logs = new Map<string, NoteVerifier[]>();
  for (const vkey of values.log ?? []) {
    let v: NoteVerifier;
    try {
      v = parseVerifierKey(vkey);
    } catch (e) {
      throw new LedgerError('BAD_REQUEST', `--log ${JSON.stringify(vkey)}: not a verifier key (${(e as Error).message})`);
    }
    if (v.type !== SIG_TYPE_ED25519) throw new LedgerError('BAD_REQUEST', `--log ${v.name}: a log's checkpoints are signed with an Ed25519 (type 0x01) key`);
    logs.set(v.name, [...(logs.get(v.name) ?? []), v]);
  }
  if (logs.size === 0) throw new LedgerError('BAD_REQUEST', 'witness needs at least one --log VKEY');
  await mkdir(values.data, { recursive: true, mode: 0o700 });
  const keyFile = join(values.data, 'witness.key');
  if (!(await exists(keyFile))) {
    const name = values.name ?? `localhost/dojang-witness-${toHex(randomBytes(4))}`;
    if (!isValidKeyName(name)) throw new LedgerError('BAD_REQUEST', `--name ${JSON.stringify(name)}: not a key name`);
    await writeKeyFile(keyFile, name, SIG_TYPE_COSIGNATURE_V1, randomBytes(32));
  }
  const key = await readKeyFile(keyFile);
  if (key.type !== SIG_TYPE_COSIGNATURE_V1) throw new LedgerError('UNSUPPORTED', `${keyFile} is not a cosignature/v1 (type 0x04) key`);
  if (values.name !== undefined && values.name !== key.name) throw new LedgerError('CONFLICT', `${keyFile} is the key of ${key.name}, not ${values.name}`);
  const state = new WitnessState(join(values.data, 'state'));
  await state.open();
  const witness = new Witness({ name: key.name, seed: key.seed, logs, state });
  const app = createWitnessApp(witness, [...logs.keys()], (m) => io.err(`dojang: ${m}`));
  const server = createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 30_000;
  const host = values.host ?? '127.0.0.1';
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(port, host, () => res());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr !== null ? addr.port : port;
  io.out(`dojang: witness ${key.name} for ${[...logs.keys()].join(', ')}`);
  io.out(`dojang: witness key ${formatVerifierKey({ name: key.name, type: SIG_TYPE_COSIGNATURE_V1, publicKey: key.publicKey })}`);
  io.out(`dojang: listening on http://${host.includes(':') ? `[${host}]` : host}:${bound}`);
  await new Promise<void>((res) => {
    process.once('SIGINT', res);
    process.once('SIGTERM', res);
  });
  await new Promise<void>((res) => server.close(() => res()));
  server.closeAllConnections?.();
  await state.close();
  return 0;
}
