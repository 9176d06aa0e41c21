// `kvorum cluster` flags, and the pure decision of which cluster.json to run: a new one, the
// existing one reused (so a second `npm start` keeps its data), or the existing one with safe
// settings updated. Changing the node ids, n or the conflict mode over existing data is refused.

import {
  CONFLICT_MODES,
  ConfigError,
  LIMITS,
  parseClusterConfig,
  PROFILE_NAMES,
  type ClusterConfig,
  type NodeAddress,
} from '../config.js';
import { UsageError, type FlagSpecs, type FlagValues } from './flags.js';
import { LOG_LEVELS } from './serve.js';
import { SECRET_FLAGS } from './command.js';

/** Node i serves the peer protocol on its HTTP port plus this (DESIGN 1.1). */
export const PEER_PORT_OFFSET = 100;
/** Local clusters run one OS process per node; past this a laptop is the bottleneck, not kvorum. */
export const LOCAL_NODES_MAX = LIMITS.localNodesMax;
const PORT_MAX = 65_535;

function checkHost(value: string): string | undefined {
  try {
    if (value !== '' && !/[\s/@[\]]/.test(value)) {
      new URL(`http://${bracketed(value)}:1`);
      return undefined;
    }
  } catch {
    // falls through to the message below
  }
  return 'must be a host name or IP address, like 127.0.0.1';
}

/** IPv6 literals need brackets in a URL. */
function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export const CLUSTER_FLAGS = {
  nodes: {
    kind: 'integer',
    min: 1,
    max: LOCAL_NODES_MAX,
    default: 3,
    help: 'how many replicas (OS processes)',
  },
  'base-port': {
    kind: 'integer',
    min: 1,
    max: PORT_MAX,
    default: 7001,
    help: `node i serves HTTP on base-port + i - 1 and peers on base-port + ${PEER_PORT_OFFSET} + i - 1`,
  },
  data: {
    kind: 'string',
    default: './data',
    placeholder: 'dir',
    help: "cluster.json and each node's <id>/ data",
  },
  profile: {
    kind: 'choice',
    choices: PROFILE_NAMES,
    default: 'quorum',
    help: 'default consistency (cp, quorum, ap)',
  },
  n: { kind: 'integer', min: 1, max: LIMITS.nMax, help: 'replicas per key [min(3, nodes)]' },
  conflicts: {
    kind: 'choice',
    choices: CONFLICT_MODES,
    default: 'lww',
    help: 'concurrent writes: last-writer-wins or siblings',
  },
  fsync: { kind: 'boolean', help: 'acknowledge writes only once they are on disk' },
  'siblings-max': {
    kind: 'integer',
    min: 1,
    max: LIMITS.siblingsMaxCeiling,
    default: LIMITS.siblingsMaxDefault,
    help: 'siblings mode: concurrent values per key before writes get 409',
  },
  'tombstone-grace-ms': {
    kind: 'integer',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    default: LIMITS.tombstoneGraceMsDefault,
    help: 'tombstones are purged this long after a delete, once every replica holds them',
  },
  'anti-entropy-interval-ms': {
    kind: 'integer',
    min: 0,
    max: LIMITS.antiEntropyIntervalMsMax,
    default: LIMITS.antiEntropyIntervalMsDefault,
    help: 'Merkle-tree exchange with each peer this often, jittered (0: only on POST /admin/repair)',
  },
  'hinted-handoff': {
    kind: 'choice',
    choices: ['on', 'off'],
    default: 'on',
    help: 'off (for tests) keeps no hints, so only anti-entropy repairs missed writes',
  },
  'max-clock-offset-ms': {
    kind: 'integer',
    min: 1,
    max: LIMITS.clockAheadMsMax,
    default: LIMITS.maxClockOffsetMsDefault,
    help: 'largest clock offset between nodes; a context further ahead of a node is refused (400)',
  },
  'timeout-ms': {
    kind: 'integer',
    min: 1,
    max: LIMITS.requestTimeoutMsMax,
    default: LIMITS.requestTimeoutMsDefault,
    help: 'default time a request may wait for replicas',
  },
  'value-bytes-max': {
    kind: 'integer',
    min: 1,
    max: LIMITS.valueBytesCeiling,
    default: LIMITS.valueBytesMaxDefault,
    help: 'largest value accepted (413 past it)',
  },
  host: {
    kind: 'string',
    default: '127.0.0.1',
    placeholder: 'host',
    help: 'address every node listens on',
    check: checkHost,
  },
  ...SECRET_FLAGS,
  tls: {
    kind: 'boolean',
    help: 'HTTPS for clients and mutual TLS between peers, with a throwaway CA and certificates made by openssl under <data>/tls/',
  },
  'log-level': {
    kind: 'choice',
    choices: LOG_LEVELS,
    default: 'info',
    help: 'replica log verbosity',
  },
} as const satisfies FlagSpecs;

export type ClusterFlagValues = FlagValues<typeof CLUSTER_FLAGS>;
export type ClusterFlagName = keyof typeof CLUSTER_FLAGS & string;

/** Nodes n1…nK on consecutive ports; the peer ports sit PEER_PORT_OFFSET above the HTTP ones. */
export function nodeAddresses(
  count: number,
  host: string,
  basePort: number,
  tls = false,
): NodeAddress[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `n${i + 1}`,
    http: `${tls ? 'https' : 'http'}://${bracketed(host)}:${basePort + i}`,
    peer: `${host}:${basePort + PEER_PORT_OFFSET + i}`,
  }));
}

export interface ClusterPlan {
  readonly config: ClusterConfig;
  /** True when an existing cluster.json is kept as it is. */
  readonly reused: boolean;
  /** What an explicit flag changed in an existing cluster.json ("profile quorum → cp"). */
  readonly changes: readonly string[];
}

/** What must not change under existing data: it decides which node holds which key, and how. */
function identity(c: ClusterConfig): string {
  return `nodes ${c.nodes.map((x) => x.id).join(',')}, n=${c.n}, conflicts ${c.conflicts}`;
}

/**
 * Decides the config to run. Each setting comes from its flag when the user gave one (on the
 * command line or in KVORUM_*), else from the existing cluster.json, else from the default; so
 * a plain restart reuses what is on disk, and only an explicit flag changes it.
 * `dataDir` must be absolute: it is stored in the config so `kvorum serve` works from anywhere.
 */
export function planClusterConfig(
  values: ClusterFlagValues,
  explicit: ReadonlySet<string>,
  existing: ClusterConfig | undefined,
  dataDir: string,
  newSecret: () => string,
): ClusterPlan {
  const pick = <T>(flag: ClusterFlagName, fromFlag: T, fromExisting: T | undefined): T =>
    explicit.has(flag) || fromExisting === undefined ? fromFlag : fromExisting;

  const count = pick('nodes', values.nodes, existing?.nodes.length);
  // A cluster is a TLS cluster when its URLs are https, so a restart without --tls keeps TLS.
  const existingTls = existing === undefined ? undefined : usesTls(existing);
  const tls = pick('tls', values.tls, existingTls);
  // Addresses are regenerated only when asked for, so a hand-edited cluster.json survives restarts.
  const regenerate =
    existing === undefined ||
    explicit.has('host') ||
    explicit.has('base-port') ||
    count !== existing.nodes.length ||
    tls !== existingTls;
  const lastPeerPort = values['base-port'] + PEER_PORT_OFFSET + count - 1;
  if (regenerate && lastPeerPort > PORT_MAX) {
    throw new UsageError(
      `--base-port ${values['base-port']} leaves no room for ${count} nodes: their peer ports would end at ${lastPeerPort}, above ${PORT_MAX}`,
    );
  }
  const nodes = regenerate
    ? nodeAddresses(count, values.host, values['base-port'], tls)
    : existing.nodes;

  const nMax = Math.min(count, LIMITS.nMax);
  const n = pick('n', values.n ?? Math.min(3, count), existing?.n);
  if (n > nMax) throw new UsageError(`--n must be an integer from 1 to ${nMax} (the node count)`);

  const config = asUsage(() =>
    parseClusterConfig({
      cluster: existing?.cluster ?? 'kvorum',
      profile: pick('profile', values.profile, existing?.profile),
      conflicts: pick('conflicts', values.conflicts, existing?.conflicts),
      n,
      data: dataDir,
      timeoutMs: pick('timeout-ms', values['timeout-ms'], existing?.timeoutMs),
      valueBytesMax: pick('value-bytes-max', values['value-bytes-max'], existing?.valueBytesMax),
      fsync: pick('fsync', values.fsync, existing?.fsync),
      nodes,
      siblingsMax: pick('siblings-max', values['siblings-max'], existing?.siblingsMax),
      tombstoneGraceMs: pick(
        'tombstone-grace-ms',
        values['tombstone-grace-ms'],
        existing?.tombstoneGraceMs,
      ),
      antiEntropyIntervalMs: pick(
        'anti-entropy-interval-ms',
        values['anti-entropy-interval-ms'],
        existing?.antiEntropyIntervalMs,
      ),
      hintedHandoff:
        pick(
          'hinted-handoff',
          values['hinted-handoff'],
          existing === undefined ? undefined : existing.hintedHandoff ? 'on' : 'off',
        ) === 'on',
      maxClockOffsetMs: pick(
        'max-clock-offset-ms',
        values['max-clock-offset-ms'],
        existing?.maxClockOffsetMs,
      ),
      // Peers authenticate by default: a cluster without a secret gets one.
      clusterSecret: values['cluster-secret'] || existing?.clusterSecret || newSecret(),
    }),
  );
  if (existing === undefined) return { config, reused: false, changes: [] };

  if (identity(existing) !== identity(config)) {
    throw new UsageError(
      `${dataDir} holds a cluster with ${identity(existing)}, but the flags ask for ${identity(config)}; ` +
        `use another --data directory, or delete ${dataDir} to start over`,
    );
  }
  const changes = describeChanges(existing, config);
  return { config, reused: changes.length === 0, changes };
}

/** Every node of a TLS cluster is reached over https (serve refuses a mix). */
export function usesTls(config: ClusterConfig): boolean {
  return config.nodes.every((node) => node.http.startsWith('https:'));
}

/** A config the flags make invalid is the user's to fix: one line, exit 2. */
function asUsage<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

function describeChanges(before: ClusterConfig, after: ClusterConfig): string[] {
  const changes: string[] = [];
  const settings = [
    'profile',
    'timeoutMs',
    'valueBytesMax',
    'fsync',
    'data',
    'siblingsMax',
    'tombstoneGraceMs',
    'antiEntropyIntervalMs',
    'hintedHandoff',
    'maxClockOffsetMs',
  ] as const;
  for (const key of settings) {
    if (before[key] !== after[key])
      changes.push(`${key} ${String(before[key])} → ${String(after[key])}`);
  }
  // Never the secret itself: this line goes to the terminal.
  if (before.clusterSecret !== after.clusterSecret) {
    changes.push(
      before.clusterSecret === undefined ? 'cluster secret generated' : 'cluster secret replaced',
    );
  }
  const moved = after.nodes.filter((node, i) => {
    const old = before.nodes[i];
    return old === undefined || old.http !== node.http || old.peer !== node.peer;
  });
  if (moved.length > 0) {
    changes.push(`addresses of ${moved.map((x) => x.id).join(',')} (now ${moved[0]!.http} …)`);
  }
  return changes;
}
