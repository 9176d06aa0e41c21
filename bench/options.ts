// Command-line flags of `npm run bench -- …` and the settings they give.

import { parseArgs } from 'node:util';

export interface BenchSettings {
  readonly quick: boolean;
  readonly scaling: boolean;
  /** Measured seconds per scenario, after a warm-up of warmupS. */
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  /** Prefilled 100-byte keys every read scenario draws from. */
  readonly keys: number;
  /** Prefilled 10 KiB keys (fewer: 100k of them would be 1 GiB per replica). */
  readonly largeKeys: number;
  /** Keys of the scaling run's big key space. */
  readonly scalingKeys: number;
  readonly fsync: boolean;
  readonly etcd: boolean;
  /** Run the profiled phase: PUT w=quorum on 3 replicas under `node --cpu-prof`. */
  readonly profile: boolean;
  /** Run only the soak: PUT w=quorum for soakMinutes over soakKeys, RSS sampled over time. */
  readonly soak: boolean;
  readonly soakMinutes: number;
  readonly soakKeys: number;
  /** Only scenarios whose id matches run (phases with none are skipped). */
  readonly only: RegExp | undefined;
  readonly outDir: string;
}

export const USAGE = `npm run bench -- [flags]

  The default run takes about 11 minutes on a 2-core machine; --quick about 2; --soak its
  --soak-minutes plus a prefill of --soak-keys (1M keys: several minutes).

  --quick            a ~2-minute run: every scenario, shorter (1.5 s after 0.5 s warm-up),
                     20,000 prefilled keys
  --scaling          add the scaling runs: 1M keys, values 100 B-1 MiB, 5 and 7 replicas (long)
  --duration <s>     measured seconds per scenario [10; quick 1.5]
  --warmup <s>       warm-up seconds before each scenario [2; quick 0.5]
  --connections <n>  concurrent connections [64]
  --keys <n>         prefilled 100-byte keys (10 KiB ones: a tenth) [100000; quick 20000]
  --scaling-keys <n> keys of the large key space in --scaling [1000000]
  --fsync            start kvorum with --fsync (writes acknowledged once on disk, as etcd's)
  --no-etcd          skip the etcd baseline even when etcd is on the PATH
  --no-profile       skip the CPU-profiled PUT w=quorum run (one more 3-replica cluster)
  --soak             run only the soak instead: PUT w=quorum on 3 replicas for --soak-minutes
                     over --soak-keys keys, every node's RSS sampled every 10 s
  --soak-minutes <m> length of the soak's load [10]
  --soak-keys <n>    prefilled 100-byte keys the soak writes over [1000000]
  --only <regex>     run only scenarios whose id matches, e.g. 'core\\.put|etcd'
  --out <dir>        where reports go [bench/results]
  --help             this text
`;

/** Prefilling 100k keys takes ~20 s per system here; --quick cannot afford that. */
const QUICK_KEYS = 20_000;

function positiveNumber(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

function positiveInteger(name: string, raw: string | undefined, dflt: number): number {
  const v = positiveNumber(name, raw, dflt);
  if (!Number.isInteger(v)) throw new Error(`--${name} must be a whole number`);
  return v;
}

/** Parses argv; undefined means --help was asked for. Throws on a bad flag. */
export function parseSettings(
  argv: readonly string[],
  defaultOutDir: string,
): BenchSettings | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      scaling: { type: 'boolean' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      keys: { type: 'string' },
      'scaling-keys': { type: 'string' },
      fsync: { type: 'boolean' },
      'no-etcd': { type: 'boolean' },
      'no-profile': { type: 'boolean' },
      soak: { type: 'boolean' },
      'soak-minutes': { type: 'string' },
      'soak-keys': { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  const quick = values.quick ?? false;
  const soak = values.soak ?? false;
  // The soak is its own run: mixing it with other phases would only make both longer.
  if (soak && (values.scaling || values.only !== undefined))
    throw new Error('--soak runs alone: drop --scaling and --only');
  const keys = positiveInteger('keys', values.keys, quick ? QUICK_KEYS : 100_000);
  return {
    quick,
    scaling: values.scaling ?? false,
    durationS: positiveNumber('duration', values.duration, quick ? 1.5 : 10),
    warmupS: positiveNumber('warmup', values.warmup, quick ? 0.5 : 2),
    connections: positiveInteger('connections', values.connections, 64),
    keys,
    largeKeys: Math.max(1, Math.floor(keys / 10)),
    scalingKeys: positiveInteger('scaling-keys', values['scaling-keys'], 1_000_000),
    fsync: values.fsync ?? false,
    etcd: !(values['no-etcd'] ?? false),
    profile: !(values['no-profile'] ?? false),
    soak,
    soakMinutes: positiveNumber('soak-minutes', values['soak-minutes'], 10),
    soakKeys: positiveInteger('soak-keys', values['soak-keys'], 1_000_000),
    only: values.only === undefined ? undefined : new RegExp(values.only),
    outDir: values.out ?? defaultOutDir,
  };
}
