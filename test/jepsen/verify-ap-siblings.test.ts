// A bounded `kvorum verify` run of the ap profile with siblings, through the real CLI: no
// acknowledged write may be lost, the replicas must converge after the heal, the command must
// exit 0, and the cluster it started must be gone afterwards.

import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { processesMentioning, runCli, stopRunningClis } from '../support/kvorum-cli.js';

const SEED = process.env.KVORUM_VERIFY_SEED ?? '424242';

afterEach(() => stopRunningClis(), 20_000);

describe('kvorum verify, ap profile with siblings', () => {
  it('loses no acknowledged write and converges after the heal', async () => {
    const run = runCli([
      'verify',
      '--profile',
      'ap',
      '--conflicts',
      'siblings',
      '--duration',
      '20s',
      '--seed',
      SEED,
    ]);
    const [, dir] = await run.waitForStderr(/verify: local cluster of 3 nodes in (\S+);/);
    const { code, stdout, stderr } = await run.done;
    const output = `${stdout}\n${stderr}`;
    expect(code, output).toBe(0);
    expect(stdout).toMatch(/^verdict: PASS: profile ap\/siblings/m);
    expect(stdout).toMatch(/^set \(.*acknowledged [1-9][0-9]*, lost 0,.*unexpected 0/m);
    expect(stdout).toMatch(
      /^registers: [1-9][0-9]* acknowledged writes: .* lost 0, unexpected 0$/m,
    );
    expect(stdout).toMatch(/^convergence: the replicas of all \d+ keys agree/m);
    expect(stdout).toMatch(/^stale reads: \d+ of \d+ reads/m);
    expect(stdout).toMatch(new RegExp(`^seed ${SEED};`, 'm'));
    expect(stdout).toMatch(new RegExp(`^replay: kvorum verify .*--seed ${SEED}$`, 'm'));
    expect(existsSync(dir!), `${dir} should be removed`).toBe(false);
    expect(processesMentioning(dir!)).toEqual([]);
  }, 90_000);
});
