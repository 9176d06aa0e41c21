// What each profile promises, and whether a run kept it. Pure: it only reads the checkers'
// results.
//   cp:                 linearizable, and no acknowledged write lost
//   siblings (any):     no acknowledged write lost, and the replicas converge
//   quorum / ap, lww:   the replicas converge; lost updates are reported, not a failure
// In every profile a write that definitely failed (503, 4xx) must never show up.

import type { ConvergenceResult } from './convergence.js';
import type { RegisterLoss } from './loss-check.js';
import type { RegisterCheck } from './register-check.js';
import type { SetCheck } from './set-check.js';

export interface Finding {
  /** Whether this profile promises it; a broken unpromised finding is only reported. */
  readonly promised: boolean;
  readonly held: boolean;
  readonly text: string;
}

export interface Verdict {
  readonly pass: boolean;
  /** One line: what the profile promises. */
  readonly promise: string;
  readonly findings: readonly Finding[];
}

export interface VerdictInput {
  readonly profile: 'cp' | 'quorum' | 'ap';
  readonly conflicts: 'lww' | 'siblings';
  /** Absent in siblings mode: a key with siblings is not a register. */
  readonly registers?: RegisterCheck;
  readonly set: SetCheck;
  readonly loss: RegisterLoss;
  readonly convergence: Pick<ConvergenceResult, 'converged' | 'elapsedMs' | 'divergent'>;
}

export function promiseOf(
  profile: VerdictInput['profile'],
  conflicts: VerdictInput['conflicts'],
): string {
  if (profile === 'cp') return 'linearizable reads and writes; no acknowledged write lost';
  if (conflicts === 'siblings')
    return 'no acknowledged write lost; replicas converge after the heal';
  return 'replicas converge after the heal (last-writer-wins may lose concurrent updates)';
}

export function judge(input: VerdictInput): Verdict {
  const cp = input.profile === 'cp';
  const siblings = input.conflicts === 'siblings';
  const findings: Finding[] = [];
  const lin = input.registers?.result.linearizable;
  if (lin !== undefined) {
    findings.push({
      promised: cp,
      held: lin === true,
      text:
        lin === true
          ? 'every key linearizable'
          : lin === false
            ? 'NOT linearizable'
            : 'linearizability undecided within the checker budget',
    });
  }
  const setLost = input.set.lost.length;
  findings.push({
    promised: cp || siblings,
    held: setLost === 0,
    text: `${setLost} acknowledged set element(s) lost`,
  });
  const regLost = input.loss.lost.length;
  findings.push({
    promised: cp || siblings,
    held: regLost === 0,
    text: siblings
      ? `${regLost} acknowledged register write(s) lost`
      : `${regLost} lost update(s) on the registers`,
  });
  const unexpected = input.set.unexpected.length + input.loss.unexpected.length;
  findings.push({
    promised: true,
    held: unexpected === 0,
    text: `${unexpected} value(s) present that were never written or whose write definitely failed`,
  });
  findings.push({
    promised: !cp,
    held: input.convergence.converged,
    text: input.convergence.converged
      ? `replicas converged ${(input.convergence.elapsedMs / 1000).toFixed(1)} s after the heal`
      : `replicas did NOT converge: ${input.convergence.divergent.length} key(s) still differ`,
  });
  return {
    pass: findings.every((f) => f.held || !f.promised),
    promise: promiseOf(input.profile, input.conflicts),
    findings,
  };
}
