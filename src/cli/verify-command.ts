// `kvorum verify`: runs a workload and a nemesis against a fresh local cluster (or an existing
// one at --url), checks the history, prints the report, and exits 0 when the profile's
// promises held, 1 when they did not, 2 on a bad command line.

import { writeFile } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { CONFLICT_MODES, LIMITS, PROFILE_NAMES } from '../config.js';
import {
  LINK_KINDS,
  NEMESIS_KINDS,
  PROCESS_KINDS,
  type NemesisKind,
  type SteadyDelay,
} from '../verify/nemesis-plan.js';
import { SEED_MAX } from '../verify/rng.js';
import type { Progress, TargetOptions, VerifyResult } from '../verify/run-verify.js';
import { VERIFY_LIMITS } from '../verify/verify-limits.js';
import { CommandError, say, type Command } from './command.js';
import { expectPositionals, UsageError, type FlagSpecs, type FlagValues } from './flags.js';

const DURATION_UNITS_MS: Readonly<Record<string, number>> = Object.freeze({
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
});
const DURATION_MS_MIN = 1_000;
const LOCAL_NEMESIS_DEFAULT = NEMESIS_KINDS.join(',');
const REMOTE_NEMESIS_DEFAULT = NEMESIS_KINDS.filter((k) => !PROCESS_KINDS.includes(k)).join(',');

/** `30s`, `2m`, `1500ms`, `1.5m`; a bare number is seconds. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) return undefined;
  const ms = Math.round(Number(m[1]) * DURATION_UNITS_MS[m[2] ?? 's']!);
  return ms >= DURATION_MS_MIN && ms <= VERIFY_LIMITS.durationMsMax ? ms : undefined;
}

/** `partition,kill` → the kinds; `none` or empty → no faults. Throws on an unknown kind. */
export function parseNemesis(text: string): NemesisKind[] {
  if (text.trim() === '' || text.trim() === 'none') return [];
  const kinds = text.split(',').map((k) => k.trim());
  for (const k of kinds) {
    if (!(NEMESIS_KINDS as readonly string[]).includes(k)) {
      throw new UsageError(
        `--nemesis: unknown fault ${JSON.stringify(k)}; use a comma list of ${NEMESIS_KINDS.join(', ')}, or none`,
      );
    }
  }
  return [...new Set(kinds as NemesisKind[])];
}

/** `35` or `35,15`: 35 ms, give or take up to 15 (jitter at most the delay, so never clipped at 0). */
export function parseSteadyDelay(text: string): SteadyDelay | undefined {
  const m = /^([0-9]{1,6})(?:,([0-9]{1,6}))?$/.exec(text.trim());
  if (m === null) return undefined;
  const ms = Number(m[1]);
  const jitterMs = Number(m[2] ?? 0);
  return ms >= 1 && ms <= LIMITS.faultDelayMsMax && jitterMs <= ms ? { ms, jitterMs } : undefined;
}

const VERIFY_FLAGS = {
  profile: {
    kind: 'choice',
    choices: PROFILE_NAMES,
    default: 'cp',
    help: 'the profile of the local cluster (checked against an existing one)',
  },
  conflicts: {
    kind: 'choice',
    choices: CONFLICT_MODES,
    default: 'lww',
    help: 'conflict mode (cp needs lww)',
  },
  duration: {
    kind: 'string',
    default: '30s',
    placeholder: 'time',
    help: 'how long the workload and the nemesis run, e.g. 30s, 2m',
    check: (v) =>
      parseDurationMs(v) === undefined
        ? `must be a duration from 1s to ${VERIFY_LIMITS.durationMsMax / 3_600_000}h, like 30s, 2m or 1500ms`
        : undefined,
  },
  nemesis: {
    kind: 'string',
    placeholder: 'faults',
    help: `faults to inject, comma separated: ${NEMESIS_KINDS.join(',')} or none [all locally; partition,delay with --url]`,
  },
  clients: {
    kind: 'integer',
    min: 1,
    max: VERIFY_LIMITS.clientsMax,
    default: 6,
    help: 'concurrent clients',
  },
  keys: {
    kind: 'integer',
    min: 1,
    max: VERIFY_LIMITS.keysMax,
    default: 8,
    help: 'register keys the clients read and write',
  },
  rate: {
    kind: 'integer',
    min: 1,
    max: VERIFY_LIMITS.rateMax,
    default: VERIFY_LIMITS.rateDefault,
    help: 'operations per second over all clients',
  },
  'timeout-ms': {
    kind: 'integer',
    min: 1,
    max: LIMITS.requestTimeoutMsMax,
    default: VERIFY_LIMITS.opTimeoutMs,
    help: 'how long each request may wait for replicas (?timeout=; a local cluster default too)',
  },
  seed: {
    kind: 'integer',
    min: 0,
    max: SEED_MAX,
    help: 'seed of the nemesis schedule and the workload choices [random, printed]',
  },
  nodes: {
    kind: 'integer',
    min: 1,
    max: LIMITS.localNodesMax,
    default: 3,
    help: 'nodes of the local cluster',
  },
  url: {
    kind: 'string',
    placeholder: 'url',
    help: 'verify an existing cluster through this node instead of starting one',
    check: (v) =>
      /^https?:\/\/[^\s/]+/.test(v) ? undefined : 'must be a URL like http://127.0.0.1:7001',
  },
  'admin-token': {
    kind: 'string',
    placeholder: 'token',
    help: "the cluster's admin token (with --url)",
  },
  'steady-delay': {
    kind: 'string',
    placeholder: 'ms[,jitter]',
    help: 'delay what the first node sends to the second for the whole run, e.g. 35,15 (20-50 ms); the nemesis then defaults to none',
    check: (v) =>
      parseSteadyDelay(v) === undefined
        ? `must be a delay in ms with an optional jitter, like 35 or 35,15 (1 to ${LIMITS.faultDelayMsMax} ms, jitter at most the delay)`
        : undefined,
  },
  'compare-pbs': {
    kind: 'boolean',
    help: "after the workload, ask every node's PBS prediction (GET /admin/pbs) and print it against the stale reads measured, by ms since the write; the nemesis then defaults to none",
  },
  history: {
    kind: 'string',
    placeholder: 'file',
    help: 'also write every operation as one JSON line to this file',
  },
  'unsafe-no-read-write-back': {
    kind: 'boolean',
    help: 'test only: start the nodes with reads that skip the write-back (the checker should object)',
  },
  'unsafe-no-write-read-phase': {
    kind: 'boolean',
    help: 'test only: start the nodes with writes that skip the read phase (the checker should object)',
  },
} as const satisfies FlagSpecs;

type VerifyValues = FlagValues<typeof VERIFY_FLAGS>;

/** Whether `--name` itself (not a KVORUM_* variable) is on this process's command line. */
function onCommandLine(name: string): boolean {
  return process.argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
}

function targetOf(values: VerifyValues, explicit: ReadonlySet<string>): TargetOptions {
  const unsafe = {
    noReadWriteBack: values['unsafe-no-read-write-back'],
    noWriteReadPhase: values['unsafe-no-write-read-phase'],
  };
  if (values.url !== undefined) {
    // A KVORUM_URL set for get/put must not turn a local self-test into faults on that cluster.
    if (process.env.KVORUM_URL === values.url && !onCommandLine('url')) {
      throw new UsageError(
        'verify injects faults into the cluster it runs against: give --url on the command line (KVORUM_URL is not enough)',
      );
    }
    if (unsafe.noReadWriteBack || unsafe.noWriteReadPhase) {
      throw new UsageError(
        'the --unsafe-* flags start a local cluster; they do not work with --url',
      );
    }
    return {
      kind: 'remote',
      url: values.url,
      adminToken: values['admin-token'],
      profile: explicit.has('profile') ? values.profile : undefined,
      conflicts: explicit.has('conflicts') ? values.conflicts : undefined,
    };
  }
  if (values.profile === 'cp' && values.conflicts === 'siblings') {
    throw new UsageError(
      '--profile cp needs --conflicts lww: a linearizable register holds one value, not siblings',
    );
  }
  return {
    kind: 'local',
    nodes: values.nodes,
    profile: values.profile,
    conflicts: values.conflicts,
    unsafe,
  };
}

/** The command line that replays this run. */
function replayLine(values: VerifyValues, nemesis: readonly NemesisKind[], seed: number): string {
  const parts = ['kvorum verify'];
  if (values.url === undefined) {
    parts.push(
      `--profile ${values.profile} --conflicts ${values.conflicts} --nodes ${values.nodes}`,
    );
  } else {
    parts.push(`--url ${values.url}`);
  }
  parts.push(
    `--duration ${values.duration} --nemesis ${nemesis.join(',') || 'none'}`,
    `--clients ${values.clients} --keys ${values.keys} --rate ${values.rate}`,
    `--timeout-ms ${values['timeout-ms']} --seed ${seed}`,
  );
  if (values['steady-delay'] !== undefined) parts.push(`--steady-delay ${values['steady-delay']}`);
  if (values['compare-pbs']) parts.push('--compare-pbs');
  if (values['unsafe-no-read-write-back']) parts.push('--unsafe-no-read-write-back');
  if (values['unsafe-no-write-read-phase']) parts.push('--unsafe-no-write-read-phase');
  return parts.join(' ');
}

function progressLine(p: Progress): string {
  const elapsed = `${(p.elapsedMs / 1000).toFixed(0)}s/${(p.durationMs / 1000).toFixed(0)}s`;
  const ops = `ops ${p.ok + p.fail + p.info} (ok ${p.ok}, fail ${p.fail}, info ${p.info})`;
  if (p.phase !== 'running') return `verify ${p.phase}; ${ops}`;
  const faults = p.faults.length === 0 ? 'no faults' : p.faults.join('; ');
  return `verify ${elapsed} ${ops}; ${faults}`;
}

export const verifyCommand: Command<typeof VERIFY_FLAGS> = {
  name: 'verify',
  synopsis: 'kvorum verify [flags]',
  summary: 'run a workload under injected faults and check the history (Jepsen-style)',
  details: [
    'Starts a fresh local cluster of real processes in a temp dir (removed at the end, also on',
    'Ctrl-C), or uses the cluster at --url. Clients read and write unique values while the',
    'nemesis partitions, kills, pauses, delays and skews nodes, and (membership) changes the',
    'layout: new nodes join (serve --join, ids j1, j2, ...), members leave alive or are killed',
    'and removed, one change at a time, never below N nodes; clients talk to the members only.',
    'Then everything is healed, the layout must settle, and the history is checked against the',
    'members at the end: linearizability per key, lost writes, convergence, stale reads. The',
    'same --seed replays the same fault schedule and client choices. Against an existing cluster',
    'the nemesis partitions and slows it for real, so --url must be on the command line.',
    '',
    '--compare-pbs asks every node for its PBS prediction once the workload stops, and prints it',
    'against the stale reads measured, by ms since the write; --steady-delay holds a delay on one',
    'link for the whole run. With either, the nemesis defaults to none. Example:',
    '  kvorum verify --profile ap --duration 60s --steady-delay 35,15 --compare-pbs',
    '',
    'Exit status: 0 the profile kept its promises (cp: linearizable, nothing lost; siblings:',
    'nothing lost, converged; quorum/ap with lww: converged, losses reported), 1 it did not,',
    '2 bad command line.',
  ].join('\n'),
  flags: VERIFY_FLAGS,
  async run({ values, positionals, explicit }) {
    expectPositionals(positionals, 0, 0, this.synopsis);
    const durationMs = parseDurationMs(values.duration)!;
    const steadyDelay =
      values['steady-delay'] === undefined ? undefined : parseSteadyDelay(values['steady-delay']);
    // A comparison of a model with the run needs conditions that hold still: no faults unless asked.
    const quiet = values['compare-pbs'] || steadyDelay !== undefined;
    const nemesis = parseNemesis(
      values.nemesis ??
        (quiet
          ? 'none'
          : values.url === undefined
            ? LOCAL_NEMESIS_DEFAULT
            : REMOTE_NEMESIS_DEFAULT),
    );
    const onLinks = nemesis.filter((k) => LINK_KINDS.includes(k));
    if (steadyDelay !== undefined && onLinks.length > 0) {
      throw new UsageError(
        `--steady-delay holds the links for the whole run: leave ${onLinks.join(',')} out of --nemesis`,
      );
    }
    const target = targetOf(values, explicit);
    if (target.kind === 'remote') {
      const needs = nemesis.filter((k) => PROCESS_KINDS.includes(k));
      if (needs.length > 0) {
        throw new UsageError(
          `--nemesis ${needs.join(',')} needs control of the node processes; with --url use partition,delay`,
        );
      }
    }
    const seed = values.seed ?? randomInt(0, SEED_MAX);
    const replay = replayLine(values, nemesis, seed);
    say(
      `verify: seed ${seed}; ${target.kind === 'local' ? 'starting a local cluster' : `against ${values.url}`}`,
    );

    const interrupt = new AbortController();
    const onSignal = () => {
      if (interrupt.signal.aborted) {
        say('interrupted again: killing the nodes now');
        process.exit(130); // the local cluster's exit hook kills its nodes and removes its dir
      }
      say('interrupted: stopping the workload and the cluster (Ctrl-C again to kill at once)');
      interrupt.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Loaded here, not at the top: other commands (serve above all) need none of it.
    const { runVerify, VerifyInterruptedError, VerifySetupError } =
      await import('../verify/run-verify.js');
    const { formatVerifyReport } = await import('../verify/report.js');
    let result: VerifyResult;
    try {
      result = await runVerify({
        target,
        durationMs,
        nemesis,
        clients: values.clients,
        keys: values.keys,
        rate: values.rate,
        timeoutMs: values['timeout-ms'],
        steadyDelay,
        comparePbs: values['compare-pbs'],
        seed,
        signal: interrupt.signal,
        onStart: (settings, plan) =>
          say(`verify: ${settings.where}; ${plan.faults.length} fault(s) planned; seed ${seed}`),
        onProgress: (p) => say(progressLine(p)),
      });
    } catch (err) {
      if (err instanceof VerifyInterruptedError) {
        throw new CommandError(
          `verify interrupted (seed ${seed}); the cluster it started is stopped and removed`,
        );
      }
      if (err instanceof VerifySetupError) throw new UsageError(err.message);
      throw new CommandError(
        `verify failed to run (seed ${seed}): ${err instanceof Error ? err.message : String(err)}`,
      );
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (values.history !== undefined) {
      await writeFile(
        values.history,
        result.records.map((r) => JSON.stringify(r)).join('\n') + '\n',
      );
    }
    process.stdout.write(formatVerifyReport(result, replay));
    if (!result.verdict.pass) {
      const broken = result.verdict.findings
        .filter((f) => f.promised && !f.held)
        .map((f) => f.text);
      throw new CommandError(
        `verify: profile ${result.settings.profile} broke its promise: ${broken.join('; ')} (seed ${seed})`,
      );
    }
  },
};
