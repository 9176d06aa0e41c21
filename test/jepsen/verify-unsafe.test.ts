// The checkers catch real bugs: with ABD's read write-back or its write read phase switched off
// (test-only flags on every node), histories under the nemesis are rejected. Each case tries up
// to three seeds and needs one rejection; a run that exposes nothing fails the test.

import { describe, expect, it } from 'vitest';
import { formatReport } from '../../src/verify/linearizability.js';
import { planNemesis, type NemesisKind, type NemesisPlan } from '../../src/verify/nemesis-plan.js';
import { runVerify, type VerifyOptions, type VerifyResult } from '../../src/verify/run-verify.js';

const RUN_MS = 12_000;
const NODES = ['n1', 'n2', 'n3'];
const ATTEMPTS = 3;

interface Case {
  readonly unsafe: { noReadWriteBack?: boolean; noWriteReadPhase?: boolean };
  readonly nemesis: NemesisKind[];
  readonly seeds: readonly number[];
  readonly workload: Pick<VerifyOptions, 'clients' | 'keys' | 'mix'>;
}

/**
 * Seeds whose schedule puts a clock skew on an end of a bridge partition for 2.5 seconds or
 * more. A write stamped by its coordinator's clock alone (no read phase) then lands below one
 * already acknowledged at the far end of the bridge, which it has not heard of: a lost update
 * that any later read exposes. Schedules are pure functions of the seed, so this costs nothing.
 */
function skewAcrossBridgeSeeds(count: number): number[] {
  const hits = (plan: NemesisPlan) =>
    plan.faults.some((s) => {
      if (s.fault.kind !== 'skew') return false;
      const node = s.fault.node;
      return plan.faults.some((p) => {
        if (p.fault.kind !== 'partition' || p.fault.shape !== 'bridge') return false;
        const [left, right] = p.fault.groups;
        const bridge = left!.find((n) => right!.includes(n));
        const overlapMs = Math.min(s.endMs, p.endMs) - Math.max(s.startMs, p.startMs);
        return node !== bridge && overlapMs >= 2_500;
      });
    });
  const seeds: number[] = [];
  for (let seed = 1; seeds.length < count; seed++) {
    const plan = planNemesis({
      seed,
      durationMs: RUN_MS,
      kinds: ['skew', 'partition'],
      nodes: NODES,
    });
    if (hits(plan)) seeds.push(seed);
  }
  return seeds;
}

async function firstRejection(c: Case): Promise<{ rejected?: VerifyResult; tried: string[] }> {
  const tried: string[] = [];
  for (const seed of c.seeds.slice(0, ATTEMPTS)) {
    const result = await runVerify({
      target: {
        kind: 'local',
        nodes: NODES.length,
        profile: 'cp',
        conflicts: 'lww',
        unsafe: c.unsafe,
      },
      durationMs: RUN_MS,
      nemesis: c.nemesis,
      ...c.workload,
      seed,
      checkBudgetMs: 20_000,
    });
    const verdict = result.registers?.result.linearizable;
    tried.push(`seed ${seed}: ${result.summary.all.ok} ok ops, linearizable ${String(verdict)}`);
    if (verdict === false) return { rejected: result, tried };
  }
  return { tried };
}

describe('the checker catches broken ABD', () => {
  it('rejects histories when reads skip the write-back (--unsafe-no-read-write-back)', async () => {
    // Dense histories: two hot keys, sixteen clients, reads four times as common as writes, so
    // a value one read saw and the next read missed is caught between two writes. Slow links
    // with jitter let a read overtake the write it reports; lossy links strand writes.
    const { rejected, tried } = await firstRejection({
      unsafe: { noReadWriteBack: true },
      nemesis: ['delay'],
      seeds: [101, 202, 303],
      workload: { clients: 16, keys: 2, mix: { add: 0.05, write: 0.2 } },
    });
    expect(rejected, `no rejection in ${tried.join('; ')}`).toBeDefined();
    expect(rejected!.verdict.pass).toBe(false);
    console.log(`${tried.join('; ')}\n${formatReport(rejected!.registers!.result)}`);
  }, 150_000);

  it('rejects histories when writes skip the read phase (--unsafe-no-write-read-phase)', async () => {
    const { rejected, tried } = await firstRejection({
      unsafe: { noWriteReadPhase: true },
      nemesis: ['skew', 'partition'],
      seeds: skewAcrossBridgeSeeds(ATTEMPTS),
      workload: { clients: 6, keys: 8, mix: { add: 0.05, write: 0.5 } },
    });
    expect(rejected, `no rejection in ${tried.join('; ')}`).toBeDefined();
    expect(rejected!.verdict.pass).toBe(false);
    console.log(`${tried.join('; ')}\n${formatReport(rejected!.registers!.result)}`);
  }, 150_000);
});
