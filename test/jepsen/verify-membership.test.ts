// Bounded `kvorum verify --nemesis membership` runs over real processes: nodes join (serve
// --join) and are removed (alive, or killed first) while the clients work, and the profile's
// promises must still hold when checked against the members at the end. cp: linearizable and
// nothing acknowledged lost; ap with siblings: nothing lost, and the replicas converge.

import { describe, expect, it } from 'vitest';
import { membersAt, type MembershipFault } from '../../src/verify/nemesis-plan.js';
import { runVerify, type VerifyResult } from '../../src/verify/run-verify.js';
import { VERIFY_LIMITS } from '../../src/verify/verify-limits.js';
import { expectSafeRun } from '../support/verify-expect.js';

/**
 * Seeds whose 20 s plans hold a join and a live leave (cp) and a join, a dead node's removal and
 * a second join that ends with the run (ap). Any seed joins and removes a node in 20 s
 * (test/unit/nemesis-plan.test.ts); another is KVORUM_VERIFY_SEED=123 npx vitest run test/jepsen.
 */
const CP_SEED = Number(process.env.KVORUM_VERIFY_SEED ?? 3);
const AP_SEED = Number(process.env.KVORUM_VERIFY_SEED ?? 9);

/** A client that chose a node just before it left the members may still send it one more. */
const ROUTE_GRACE_MS = VERIFY_LIMITS.opTimeoutMs + VERIFY_LIMITS.clientMarginMs + 500;

/** The membership changes that ran, with when they started and whether they went cleanly. */
function changesRun(result: VerifyResult) {
  return result.plan.faults.flatMap((planned, index) => {
    if (planned.fault.kind !== 'membership') return [];
    const events = result.events.filter((e) => e.index === index);
    const start = events.find((e) => e.phase === 'start');
    const end = events.find((e) => e.phase === 'end');
    if (start === undefined) return [];
    const problems = [...start.problems, ...(end?.problems ?? [])];
    return [{ change: planned.fault, startedAt: start.atMs, ended: end !== undefined, problems }];
  });
}

/** What every membership run must show, whatever the profile. */
function expectMembershipFollowed(result: VerifyResult, report: string): MembershipFault[] {
  const runs = changesRun(result);
  for (const run of runs) {
    expect(run.ended, `${run.change.action} ${run.change.node}\n${report}`).toBe(true);
    expect(run.problems, report).toEqual([]);
  }
  const joins = runs.filter((r) => r.change.action === 'join');
  const removals = runs.filter((r) => r.change.action !== 'join');
  expect(joins.length, report).toBeGreaterThanOrEqual(1);
  expect(removals.length, report).toBeGreaterThanOrEqual(1);
  // The run ends with the members the plan says, and the checks asked them.
  const planned = membersAt(result.settings.nodes, result.plan.faults, Infinity);
  expect([...result.members].sort(), report).toEqual([...planned].sort());
  for (const key of result.convergence.snapshot.keys()) {
    const asked = [...result.convergence.snapshot.get(key)!.keys()];
    expect(
      asked.every((node) => result.members.includes(node)),
      key,
    ).toBe(true);
  }
  // Clients worked through the joiners, and stopped sending to removed nodes.
  for (const { change } of joins) {
    const served = result.records.filter((r) => r.node === change.node && r.outcome === 'ok');
    expect(served.length, `operations through ${change.node}\n${report}`).toBeGreaterThan(0);
  }
  for (const { change, startedAt } of removals) {
    const late = result.records.filter(
      (r) => r.node === change.node && r.invokeAt > startedAt + ROUTE_GRACE_MS,
    );
    expect(late, `operations sent to ${change.node} after it was removed`).toEqual([]);
  }
  return runs.map((r) => r.change);
}

describe('kvorum verify --nemesis membership', () => {
  it('cp: stays linearizable and loses no acknowledged write while nodes join and leave', async () => {
    const result = await runVerify({
      target: { kind: 'local', nodes: 3, profile: 'cp', conflicts: 'lww' },
      durationMs: 20_000,
      nemesis: ['membership'],
      clients: 6,
      keys: 8,
      seed: CP_SEED,
      checkBudgetMs: 30_000,
    });
    const report = expectSafeRun(result);
    expect(result.registers?.result.linearizable, report).toBe(true);
    expect(result.recoveryProblems, report).toEqual([]);
    expect(result.summary.all.ok, report).toBeGreaterThan(1_000);
    expectMembershipFollowed(result, report);
    expect(report).toMatch(/^ {2}members at the end: /m);
  }, 240_000);

  it('ap with siblings: loses nothing and converges on the members at the end', async () => {
    const result = await runVerify({
      target: { kind: 'local', nodes: 3, profile: 'ap', conflicts: 'siblings' },
      durationMs: 20_000,
      nemesis: ['membership'],
      clients: 6,
      keys: 8,
      seed: AP_SEED,
    });
    const report = expectSafeRun(result);
    expect(result.convergence.converged, report).toBe(true);
    expect(result.convergence.hintsPending, report).toBe(0);
    expect(result.recoveryProblems, report).toEqual([]);
    expect(result.loss.acknowledged, report).toBeGreaterThan(200);
    expectMembershipFollowed(result, report);
  }, 240_000);
});
