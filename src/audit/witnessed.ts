/**
 * The audit under a witness policy (spec §11, §13.3): the latest checkpoint the log shows
 * must be signed by a log the policy lists and cosigned by a quorum of its witnesses;
 * the auditor reports which witnesses cosigned it and when, and does the same for the
 * checkpoints it is given from elsewhere (reported, not required: they are evidence of
 * what the log showed, judged for consistency by the audit itself). The history holds
 * checkpoints as first signed, without witness lines, so it has none to judge; a ledger
 * directory or database keeps its latest witnessed checkpoint (spec §13.5), which the
 * audit judges in place of the head.
 */
import { isLedgerError } from '../core/errors.js';
import { fromUtf8 } from '../core/bytes.js';
import { checkCheckpoint, type Policy, type PolicyVerdict } from '../core/policy.js';
import { AuditFailure } from './audit.js';

/** Who cosigned one checkpoint under the policy: each witness's name and its cosignature's time (Unix seconds). */
export interface WitnessedCheckpoint {
  size: number;
  witnesses: { name: string; time: number }[];
  /** Whether those satisfy the policy's quorum. */
  quorum: boolean;
}

export interface WitnessedReport {
  /** The latest checkpoint (it meets the policy, or the audit fails). */
  latest: WitnessedCheckpoint;
  /** Each given checkpoint (--checkpoint), in order: null when the policy does not judge it (another log, a bad line by the log). */
  given: (WitnessedCheckpoint | null)[];
}

function report(v: PolicyVerdict): WitnessedCheckpoint {
  return { size: v.checkpoint.size, witnesses: v.cosigned.map((c) => ({ name: c.name, time: c.time })), quorum: v.quorum };
}

/**
 * checkWitnessed judges the latest checkpoint note (as the log served it) and the given
 * ones under the policy. AuditFailure at "the latest checkpoint" with NOT_WITNESSED when
 * its cosignatures do not meet the quorum (saying who cosigned and which groups are
 * short), or the code of checkCheckpoint (UNKNOWN_KEY: the policy lists no log of this
 * origin or key; BAD_SIGNATURE), with the note as evidence.
 */
export function checkWitnessed(policy: Policy, latest: Uint8Array, given: readonly Uint8Array[]): WitnessedReport {
  let v: PolicyVerdict;
  try {
    v = checkCheckpoint(latest, policy);
  } catch (e) {
    if (!isLedgerError(e)) throw e;
    throw new AuditFailure('the latest checkpoint', e.code, `under the witness policy: ${e.message}`, [fromUtf8(latest)]);
  }
  if (!v.quorum) {
    const by = v.cosigned.length === 0 ? 'no witness of the policy' : v.cosigned.map((c) => `${c.name} at ${new Date(c.time * 1000).toISOString()}`).join(', ');
    const ignored = v.ignored.length === 0 ? '' : `; lines by ${v.ignored.join(', ')} do not verify and are ignored`;
    throw new AuditFailure('the latest checkpoint', 'NOT_WITNESSED', `size ${v.checkpoint.size} does not meet the witness policy: cosigned by ${by}${ignored}; ${v.short.join('; ')}`, [fromUtf8(latest)]);
  }
  return {
    latest: report(v),
    given: given.map((note) => {
      try {
        return report(checkCheckpoint(note, policy));
      } catch (e) {
        if (!isLedgerError(e)) throw e;
        return null;
      }
    }),
  };
}
