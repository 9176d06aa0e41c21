// `kvorum verify` as a command: bad command lines exit 2 with one line, and Ctrl-C stops the
// workload, kills every node it started and removes their data before exiting.

import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { processesMentioning, runCli, stopRunningClis } from '../support/kvorum-cli.js';

afterEach(() => stopRunningClis(), 20_000);

describe('kvorum verify command line', () => {
  it.each([
    [['--profile', 'cp', '--conflicts', 'siblings'], /--profile cp needs --conflicts lww/],
    [['--nemesis', 'partition,flood'], /unknown fault "flood"/],
    [['--duration', 'forever'], /--duration must be a duration/],
    [['--url', 'http://127.0.0.1:9', '--nemesis', 'kill'], /needs control of the node processes/],
    [
      ['--url', 'http://127.0.0.1:9', '--nemesis', 'partition,membership'],
      /--nemesis membership needs control of the node processes/,
    ],
    [['--url', 'http://127.0.0.1:9', '--unsafe-no-read-write-back'], /do not work with --url/],
    [
      ['--steady-delay', '35,40'],
      /--steady-delay must be a delay in ms .*jitter at most the delay/,
    ],
    [
      ['--steady-delay', '35', '--nemesis', 'kill,delay'],
      /--steady-delay holds the links for the whole run: leave delay out of --nemesis/,
    ],
  ])('exits 2 on %j', async (args, message) => {
    const { code, stderr, stdout } = await runCli(['verify', ...args]).done;
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stdout).toBe('');
  });

  it('does not take the cluster to inject faults into from KVORUM_URL', async () => {
    const run = runCli(['verify'], { KVORUM_URL: 'http://127.0.0.1:9' });
    const { code, stderr, stdout } = await run.done;
    const message = /give --url on the command line/;
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stdout).toBe('');
  });

  it('on SIGINT stops, kills its nodes, removes its data and exits 1', async () => {
    const run = runCli(['verify', '--duration', '60s', '--seed', '7']);
    const [, dir] = await run.waitForStderr(/verify: local cluster of 3 nodes in (\S+);/);
    await run.waitForStderr(/verify 2s\/60s ops/);
    expect(processesMentioning(dir!).length).toBeGreaterThan(0);
    run.child.kill('SIGINT');
    const { code, stderr } = await run.done;
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/verify interrupted \(seed 7\)/);
    expect(existsSync(dir!), `${dir} should be removed`).toBe(false);
    expect(processesMentioning(dir!)).toEqual([]);
  }, 60_000);
});
