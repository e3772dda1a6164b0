/**
 * Reading a witness policy file (c2sp.org/tlog-policy, spec §13.3) for the commands that
 * take --policy FILE: serve, verify and audit.
 */
import { open } from 'node:fs/promises';
import { LedgerError, isLedgerError } from '../core/errors.js';
import { MAX_POLICY_BYTES, parsePolicy, type Policy } from '../core/policy.js';
import type { WitnessReport } from '../client/verify.js';

/**
 * readPolicy reads a c2sp.org/tlog-policy file (at most MAX_POLICY_BYTES) and parses it:
 * BAD_REQUEST when it cannot be read, MALFORMED (naming the line) when it is not a policy.
 */
export async function readPolicy(path: string, flag = '--policy'): Promise<{ file: Uint8Array; policy: Policy }> {
  let file: Uint8Array;
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(MAX_POLICY_BYTES + 1);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      file = new Uint8Array(buf.subarray(0, bytesRead));
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new LedgerError('BAD_REQUEST', `${flag}: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    return { file, policy: parsePolicy(file) };
  } catch (e) {
    if (isLedgerError(e)) throw new LedgerError(e.code, `${flag} ${path}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** witnessLine says which witnesses of the policy cosigned a checkpoint, and when (ISO 8601, UTC). */
export function witnessLine(w: readonly WitnessReport[]): string {
  if (w.length === 0) return 'witnessed by none of the policy\'s witnesses';
  return `witnessed by ${w.map((x) => `${x.name} at ${new Date(x.time * 1000).toISOString()}`).join(', ')}`;
}
