// `kvorum verify --steady-delay`: the flag's value, and the plan it makes, one delay on one
// link from the start of the run to its end, beside the process faults and never beside other
// link faults. Pure.

import { describe, expect, it } from 'vitest';
import { parseSteadyDelay } from '../../src/cli/verify-command.js';
import { planNemesis, withSteadyDelay } from '../../src/verify/nemesis-plan.js';

describe('the steady delay', () => {
  it('parses a delay and an optional jitter no larger than it', () => {
    expect(parseSteadyDelay('35')).toEqual({ ms: 35, jitterMs: 0 });
    expect(parseSteadyDelay(' 35,15 ')).toEqual({ ms: 35, jitterMs: 15 });
    for (const bad of ['', '0', '35,36', '-5', '35ms', '35,', '999999']) {
      expect(parseSteadyDelay(bad), bad).toBeUndefined();
    }
  });

  it('delays what the first node sends to the second from start to end, beside process faults', () => {
    const drawn = planNemesis({
      seed: 3,
      durationMs: 20_000,
      kinds: ['kill'],
      nodes: ['n1', 'n2', 'n3'],
    });
    const plan = withSteadyDelay(drawn, ['n1', 'n2', 'n3'], { ms: 35, jitterMs: 15 });
    expect(plan.faults[0]).toEqual({
      lane: 'link',
      startMs: 0,
      endMs: 20_000,
      fault: { kind: 'delay', node: 'n1', delay: { n2: { ms: 35, jitterMs: 15 } }, drop: {} },
    });
    expect(plan.faults.slice(1)).toEqual(drawn.faults);
  });

  it('refuses a plan that already uses the links, and a single node', () => {
    const links = planNemesis({
      seed: 3,
      durationMs: 20_000,
      kinds: ['partition'],
      nodes: ['n1', 'n2', 'n3'],
    });
    expect(() => withSteadyDelay(links, ['n1', 'n2', 'n3'], { ms: 35, jitterMs: 0 })).toThrow(
      /holds the link lane/,
    );
    const none = planNemesis({ seed: 3, durationMs: 20_000, kinds: [], nodes: ['n1'] });
    expect(() => withSteadyDelay(none, ['n1'], { ms: 35, jitterMs: 0 })).toThrow(/two nodes/);
  });
});
