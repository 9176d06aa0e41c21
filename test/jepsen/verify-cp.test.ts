// A bounded `kvorum verify` run of the cp profile over real processes, under every fault the
// nemesis knows (with the default seed a node joins, then its links are cut and made lossy): the
// history must be linearizable and no acknowledged write may be lost.

import { describe, expect, it } from 'vitest';
import { runVerify } from '../../src/verify/run-verify.js';
import { NEMESIS_KINDS } from '../../src/verify/nemesis-plan.js';
import { expectSafeRun } from '../support/verify-expect.js';

/** Another seed explores another schedule: KVORUM_VERIFY_SEED=123 npx vitest run test/jepsen. */
const SEED = Number(process.env.KVORUM_VERIFY_SEED ?? 20_240_404);

describe('kvorum verify, cp profile', () => {
  it('is linearizable and loses nothing under partitions, kills, pauses, delays, clock skew and membership changes', async () => {
    const result = await runVerify({
      target: { kind: 'local', nodes: 3, profile: 'cp', conflicts: 'lww' },
      durationMs: 20_000,
      nemesis: NEMESIS_KINDS,
      clients: 6,
      keys: 8,
      seed: SEED,
      checkBudgetMs: 30_000,
    });
    const report = expectSafeRun(result);
    expect(result.registers?.result.linearizable, report).toBe(true);
    // The run proves something only if faults happened.
    expect(result.summary.all.ok, report).toBeGreaterThan(1_000);
    expect(result.events.filter((e) => e.phase === 'start').length, report).toBeGreaterThan(4);
  }, 120_000);
});
