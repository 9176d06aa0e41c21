// The kvorum command line: flag parsing, KVORUM_* fallbacks, validation messages, and the
// cluster.json decision that `kvorum cluster` makes from them.

import { describe, expect, it } from 'vitest';
import { parseGroups } from '../../src/cli/admin-commands.js';
import {
  CLUSTER_FLAGS,
  nodeAddresses,
  planClusterConfig,
  type ClusterFlagValues,
} from '../../src/cli/cluster-config.js';
import {
  envName,
  expectPositionals,
  parseArgs,
  type Env,
  type FlagSpecs,
} from '../../src/cli/flags.js';
import type { ClusterConfig } from '../../src/config.js';

const SPECS = {
  nodes: { kind: 'integer', min: 1, max: 16, default: 3, help: 'nodes' },
  profile: { kind: 'choice', choices: ['quorum', 'cp', 'ap'], default: 'quorum', help: 'profile' },
  fsync: { kind: 'boolean', help: 'fsync' },
  'admin-token': { kind: 'string', placeholder: 'token', help: 'token' },
  'clock-offset-ms': { kind: 'integer', min: -1000, max: 1000, default: 0, help: 'offset' },
  url: {
    kind: 'string',
    default: 'http://127.0.0.1:7001',
    help: 'url',
    check: (v: string) => (v.startsWith('http') ? undefined : 'must be a node URL'),
  },
} as const satisfies FlagSpecs;

const parse = (argv: string[], env: Env = {}) => parseArgs(argv, SPECS, env, 'kvorum test');

describe('parseArgs accepts', () => {
  const cases: {
    name: string;
    argv: string[];
    env?: Env;
    want: Record<string, unknown>;
    positionals?: string[];
  }[] = [
    {
      name: 'nothing: defaults, booleans false',
      argv: [],
      want: { nodes: 3, profile: 'quorum', fsync: false, 'admin-token': undefined },
    },
    { name: '--flag value', argv: ['--nodes', '5'], want: { nodes: 5 } },
    { name: '--flag=value', argv: ['--profile=cp'], want: { profile: 'cp' } },
    { name: 'a bare boolean', argv: ['--fsync'], want: { fsync: true } },
    { name: 'a boolean with =false', argv: ['--fsync=false'], want: { fsync: false } },
    {
      name: 'a negative integer as a separate value',
      argv: ['--clock-offset-ms', '-250'],
      want: { 'clock-offset-ms': -250 },
    },
    {
      name: 'a string that contains =',
      argv: ['--admin-token=a=b'],
      want: { 'admin-token': 'a=b' },
    },
    {
      name: 'the last of a repeated flag',
      argv: ['--nodes', '2', '--nodes', '4'],
      want: { nodes: 4 },
    },
    {
      name: 'env when the flag is absent',
      argv: [],
      env: { KVORUM_NODES: '7', KVORUM_ADMIN_TOKEN: 't' },
      want: { nodes: 7, 'admin-token': 't' },
    },
    {
      name: 'the flag over env',
      argv: ['--nodes', '2'],
      env: { KVORUM_NODES: '7' },
      want: { nodes: 2 },
    },
    {
      name: 'an empty env variable as unset',
      argv: [],
      env: { KVORUM_NODES: '' },
      want: { nodes: 3 },
    },
    { name: 'a boolean from env', argv: [], env: { KVORUM_FSYNC: 'yes' }, want: { fsync: true } },
    {
      name: 'a false boolean from env',
      argv: [],
      env: { KVORUM_FSYNC: '0' },
      want: { fsync: false },
    },
    {
      name: 'positionals around flags',
      argv: ['a', '--nodes', '2', 'b'],
      want: { nodes: 2 },
      positionals: ['a', 'b'],
    },
    {
      name: '-- ending the flags',
      argv: ['--', '--nodes', '-x'],
      want: { nodes: 3 },
      positionals: ['--nodes', '-x'],
    },
    {
      name: '- and negative numbers as positionals',
      argv: ['-', '-5'],
      want: {},
      positionals: ['-', '-5'],
    },
  ];
  it.each(cases)('$name', ({ argv, env, want, positionals }) => {
    const parsed = parse(argv, env);
    expect(parsed.values).toMatchObject(want);
    expect(parsed.positionals).toEqual(positionals ?? []);
    expect(parsed.help).toBe(false);
  });

  it('records which flags the user set, on the command line or in env, but not defaults', () => {
    const parsed = parse(['--nodes', '2'], { KVORUM_PROFILE: 'ap' });
    expect([...parsed.explicit].sort()).toEqual(['nodes', 'profile']);
  });

  it('reports --help and -h instead of failing on them', () => {
    expect(parse(['--help']).help).toBe(true);
    expect(parse(['x', '-h']).help).toBe(true);
  });
});

describe('parseArgs rejects, with one line that says what to fix', () => {
  const cases: { name: string; argv: string[]; env?: Env; message: string }[] = [
    {
      name: 'an unknown flag',
      argv: ['--bogus', '1'],
      message: 'unknown flag --bogus for kvorum test (kvorum test --help lists them)',
    },
    {
      name: 'a typo, with a suggestion',
      argv: ['--nodse', '3'],
      message:
        'unknown flag --nodse for kvorum test; did you mean --nodes? (kvorum test --help lists them)',
    },
    {
      name: 'an unknown flag given with =',
      argv: ['--bogus=1'],
      message: 'unknown flag --bogus for kvorum test (kvorum test --help lists them)',
    },
    {
      name: 'a single-dash flag',
      argv: ['-n', '3'],
      message: 'unknown flag -n for kvorum test (kvorum test --help lists them)',
    },
    {
      name: 'a missing value at the end',
      argv: ['--nodes'],
      message: '--nodes needs a value (e.g. --nodes 3)',
    },
    {
      name: 'a missing value before another flag',
      argv: ['--admin-token', '--fsync'],
      message: '--admin-token needs a value (--admin-token <token>)',
    },
    {
      name: 'a missing choice',
      argv: ['--profile'],
      message: '--profile needs a value (one of quorum, cp, ap)',
    },
    {
      name: 'a word for an integer',
      argv: ['--nodes', 'abc'],
      message: '--nodes must be an integer from 1 to 16 (got "abc")',
    },
    {
      name: 'a fraction for an integer',
      argv: ['--nodes=1.5'],
      message: '--nodes must be an integer from 1 to 16 (got "1.5")',
    },
    {
      name: 'an integer below the range',
      argv: ['--nodes', '0'],
      message: '--nodes must be an integer from 1 to 16 (got "0")',
    },
    {
      name: 'an integer above the range',
      argv: ['--nodes', '17'],
      message: '--nodes must be an integer from 1 to 16 (got "17")',
    },
    {
      name: 'an empty integer',
      argv: ['--nodes='],
      message: '--nodes must be an integer from 1 to 16 (got "")',
    },
    {
      name: 'a bad integer from env, naming the variable',
      argv: [],
      env: { KVORUM_NODES: 'x' },
      message: 'KVORUM_NODES must be an integer from 1 to 16 (got "x")',
    },
    {
      name: 'an unknown choice',
      argv: ['--profile', 'strong'],
      message: '--profile must be one of quorum, cp, ap (got "strong")',
    },
    {
      name: 'a non-boolean for a boolean',
      argv: ['--fsync=maybe'],
      message: '--fsync must be true or false (got "maybe")',
    },
    {
      name: 'a non-boolean from env',
      argv: [],
      env: { KVORUM_FSYNC: 'maybe' },
      message: 'KVORUM_FSYNC must be true or false (got "maybe")',
    },
    {
      name: 'a string that fails its check',
      argv: ['--url', 'ftp://x'],
      message: '--url must be a node URL (got "ftp://x")',
    },
  ];
  it.each(cases)('$name', ({ argv, env, message }) => {
    expect(() => parse(argv, env)).toThrowError(
      expect.objectContaining({ name: 'UsageError', message }),
    );
  });

  it('keeps a long bad value from stretching the line', () => {
    expect(() => parse(['--nodes', 'x'.repeat(500)])).toThrowError(/\(got "x{40}…"\)$/);
  });
});

describe('envName', () => {
  it.each([
    ['url', 'KVORUM_URL'],
    ['admin-token', 'KVORUM_ADMIN_TOKEN'],
    ['value-bytes-max', 'KVORUM_VALUE_BYTES_MAX'],
  ])('%s → %s', (flag, variable) => expect(envName(flag)).toBe(variable));
});

describe('expectPositionals', () => {
  it('accepts a count in range and names the usage otherwise', () => {
    expect(() => expectPositionals(['k'], 1, 2, 'kvorum put <key> [value]')).not.toThrow();
    expect(() => expectPositionals([], 1, 2, 'kvorum put <key> [value]')).toThrowError(
      'missing arguments; usage: kvorum put <key> [value]',
    );
    expect(() => expectPositionals(['k', 'v', 'w'], 1, 2, 'kvorum put <key> [value]')).toThrowError(
      'unexpected argument "w"; usage: kvorum put <key> [value]',
    );
  });
});

describe('parseGroups (kvorum partition)', () => {
  it('turns "n1,n2 n3" into groups', () => {
    expect(parseGroups(['n1,n2', 'n3'])).toEqual([['n1', 'n2'], ['n3']]);
  });
  it.each([
    [['n1,,n2'], 'partition groups are node ids separated by commas, like n1,n2 n3 (got "n1,,n2")'],
    [['n1 n2'], 'partition groups are node ids separated by commas, like n1,n2 n3 (got "n1 n2")'],
    [['n1,n2', 'n2'], 'node n2 is in two partition groups'],
  ])('rejects %j', (args, message) => {
    expect(() => parseGroups(args)).toThrowError(message);
  });
});

describe('planClusterConfig (kvorum cluster)', () => {
  const DATA = '/tmp/kvorum-data';
  const flags = (argv: string[]) => {
    const parsed = parseArgs(argv, CLUSTER_FLAGS, {}, 'kvorum cluster');
    return [parsed.values, parsed.explicit] as [ClusterFlagValues, ReadonlySet<string>];
  };
  let secrets = 0;
  const newSecret = () => `generated-secret-${++secrets}`;
  const fresh = (argv: string[]) => planClusterConfig(...flags(argv), undefined, DATA, newSecret);

  it('derives ids, HTTP and peer addresses from --nodes, --base-port and --host', () => {
    const { config } = fresh(['--nodes', '2', '--base-port', '8001']);
    expect(config.nodes).toEqual([
      { id: 'n1', http: 'http://127.0.0.1:8001', peer: '127.0.0.1:8101' },
      { id: 'n2', http: 'http://127.0.0.1:8002', peer: '127.0.0.1:8102' },
    ]);
    expect(config).toMatchObject({
      n: 2,
      profile: 'quorum',
      conflicts: 'lww',
      data: DATA,
      fsync: false,
    });
  });

  it('--tls makes https URLs; a restart without the flag keeps TLS, --tls=false drops it', () => {
    const { config } = fresh(['--nodes', '2', '--tls']);
    expect(config.nodes.map((n) => n.http)).toEqual([
      'https://127.0.0.1:7001',
      'https://127.0.0.1:7002',
    ]);
    const again = planClusterConfig(...flags([]), config, DATA, newSecret);
    expect(again.reused).toBe(true);
    const off = planClusterConfig(...flags(['--tls=false']), config, DATA, newSecret);
    expect(off.config.nodes[0]!.http).toBe('http://127.0.0.1:7001');
    expect(off.changes.join(';')).toContain('addresses of n1,n2');
  });

  it('brackets an IPv6 host in URLs but not in peer addresses', () => {
    expect(nodeAddresses(1, '::1', 7001)).toEqual([
      { id: 'n1', http: 'http://[::1]:7001', peer: '::1:7101' },
    ]);
  });

  it('takes --conflicts siblings with its settings, but not with the cp profile', () => {
    const { config } = fresh([
      '--conflicts',
      'siblings',
      '--siblings-max',
      '7',
      '--tombstone-grace-ms',
      '500',
      '--anti-entropy-interval-ms',
      '0',
      '--hinted-handoff',
      'off',
    ]);
    expect(config).toMatchObject({
      conflicts: 'siblings',
      siblingsMax: 7,
      tombstoneGraceMs: 500,
      antiEntropyIntervalMs: 0,
      hintedHandoff: false,
    });
    expect(() => fresh(['--conflicts', 'siblings', '--profile', 'cp'])).toThrowError(
      /profile "cp" needs conflicts "lww"/,
    );
  });

  it('defaults: 100 siblings, a day of tombstone grace, anti-entropy every 30 s, hints on', () => {
    expect(fresh([]).config).toMatchObject({
      siblingsMax: 100,
      tombstoneGraceMs: 86_400_000,
      antiEntropyIntervalMs: 30_000,
      hintedHandoff: true,
    });
  });

  it('carries every setting flag into the config', () => {
    const { config } = fresh([
      '--profile',
      'ap',
      '--fsync',
      '--timeout-ms',
      '500',
      '--value-bytes-max',
      '1000',
      '--n',
      '2',
    ]);
    expect(config).toMatchObject({
      profile: 'ap',
      fsync: true,
      timeoutMs: 500,
      valueBytesMax: 1000,
      n: 2,
    });
  });

  it.each([
    [['--nodes', '2', '--n', '3'], '--n must be an integer from 1 to 2 (the node count)'],
    [
      ['--base-port', '65500'],
      '--base-port 65500 leaves no room for 3 nodes: their peer ports would end at 65602, above 65535',
    ],
    [['--host', 'a b'], '--host must be a host name or IP address, like 127.0.0.1 (got "a b")'],
  ])('rejects %j', (argv, message) => {
    expect(() => fresh(argv)).toThrowError(message);
  });

  const existing = (overrides: Partial<ClusterConfig> = {}): ClusterConfig => ({
    ...fresh(['--base-port', '9001', '--profile', 'cp']).config,
    clusterSecret: 'stored-secret',
    ...overrides,
  });

  it('reuses an existing cluster.json when no flag asks for a change, keeping its ports', () => {
    const plan = planClusterConfig(...flags([]), existing(), DATA, newSecret);
    expect(plan).toMatchObject({ reused: true, changes: [] });
    expect(plan.config).toEqual(existing());
  });

  it('updates safe settings that a flag names explicitly, and says what changed', () => {
    const plan = planClusterConfig(
      ...flags(['--profile', 'ap', '--base-port', '7001']),
      existing(),
      DATA,
      newSecret,
    );
    expect(plan.reused).toBe(false);
    expect(plan.config.profile).toBe('ap');
    expect(plan.config.nodes[0]!.http).toBe('http://127.0.0.1:7001');
    expect(plan.changes).toEqual([
      'profile cp → ap',
      'addresses of n1,n2,n3 (now http://127.0.0.1:7001 …)',
    ]);
  });

  it('records a moved data directory as a change', () => {
    const plan = planClusterConfig(...flags([]), existing({ data: '/old/place' }), DATA, newSecret);
    expect(plan.changes).toEqual([`data /old/place → ${DATA}`]);
  });

  it('generates a cluster secret for a new cluster and keeps it on every later start', () => {
    const first = fresh([]).config.clusterSecret;
    expect(first).toMatch(/^generated-secret-\d+$/);
    expect(fresh([]).config.clusterSecret).not.toBe(first);
    const kept = planClusterConfig(
      ...flags([]),
      existing({ clusterSecret: 'kept' }),
      DATA,
      newSecret,
    );
    expect(kept).toMatchObject({ reused: true, changes: [] });
    expect(kept.config.clusterSecret).toBe('kept');
  });

  it('takes --cluster-secret over the stored one, and never prints a secret as a change', () => {
    const plan = planClusterConfig(
      ...flags(['--cluster-secret', 'from-the-flag']),
      existing({ clusterSecret: 'old-one' }),
      DATA,
      newSecret,
    );
    expect(plan.config.clusterSecret).toBe('from-the-flag');
    expect(plan.changes).toEqual(['cluster secret replaced']);
    const { clusterSecret: _, ...withoutSecret } = existing();
    const upgraded = planClusterConfig(...flags([]), withoutSecret, DATA, newSecret);
    expect(upgraded.changes).toEqual(['cluster secret generated']);
    expect(upgraded.changes.join()).not.toContain('generated-secret');
  });

  it.each([
    [['--nodes', '4'], 'nodes n1,n2,n3,n4, n=3'],
    [['--n', '2'], 'nodes n1,n2,n3, n=2'],
  ])('refuses %j over existing data, since it would move or reinterpret keys', (argv, asked) => {
    expect(() => planClusterConfig(...flags(argv), existing(), DATA, newSecret)).toThrowError(
      new RegExp(
        `^${DATA} holds a cluster with nodes n1,n2,n3, n=3, conflicts lww, but the flags ask for .*${asked}.*; use another --data directory, or delete ${DATA} to start over$`,
      ),
    );
  });
});
