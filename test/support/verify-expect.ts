// What every bounded `kvorum verify` run in test/jepsen must show, whatever its nemesis: no
// acknowledged write lost, nothing present that nobody wrote, a passing verdict, and a run that
// did enough work for that to mean something. Each test adds what its profile promises.

import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import { formatVerifyReport } from '../../src/verify/report.js';
import type { VerifyResult } from '../../src/verify/run-verify.js';

/** Asserts the common outcome of a run; returns its report for the test's own assertions. */
export function expectSafeRun(result: VerifyResult): string {
  const report = formatVerifyReport(result);
  expect(result.set.lost, report).toEqual([]);
  expect(result.loss.lost, report).toEqual([]);
  expect([...result.set.unexpected, ...result.loss.unexpected], report).toEqual([]);
  expect(result.verdict.pass, report).toBe(true);
  // The run proves something only if it did work.
  expect(result.set.acknowledged, report).toBeGreaterThan(50);
  const dir = /in (\S+)$/.exec(result.settings.where)?.[1];
  expect(dir && existsSync(dir), `${dir} should be removed`).toBe(false);
  return report;
}
