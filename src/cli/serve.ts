// `kvorum serve`: runs one replica from a cluster config file until SIGINT/SIGTERM, then closes
// it cleanly (LevelDB flushed, peers told) and exits 0.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ConfigError,
  LIMITS,
  httpHostPort,
  parseClusterConfig,
  peerHostPort,
  type ClusterConfig,
  type NodeAddress,
} from '../config.js';
import type { LayoutHistory } from '../core/layout.js';
import { joinCluster } from './join.js';
import type { RunningReplica } from '../replica/replica.js';
import { CommandError, SECRET_FLAGS, say, type Command } from './command.js';
import { expectPositionals, UsageError, type FlagSpecs } from './flags.js';
import { readTlsFiles, TLS_FLAGS } from './tls-flags.js';

export const LOG_LEVELS = Object.freeze([
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
] as const);

/** Clock skew a test may inject; a day is far beyond any skew worth simulating. */
const CLOCK_OFFSET_MS_MAX = LIMITS.clockOffsetMsMax;

const SERVE_FLAGS = {
  config: {
    kind: 'string',
    placeholder: 'file',
    help: 'the cluster config (the cluster.json that kvorum cluster writes)',
  },
  id: { kind: 'string', placeholder: 'id', help: "this node's id in the config" },
  join: {
    kind: 'string',
    placeholder: 'url',
    help: 'join the running cluster that answers at this URL (instead of --config); needs --id, --http, --peer and --data',
  },
  http: {
    kind: 'string',
    placeholder: 'host:port',
    help: "with --join: this node's client address",
  },
  peer: {
    kind: 'string',
    placeholder: 'host:port',
    help: "with --join: this node's peer address",
  },
  data: {
    kind: 'string',
    placeholder: 'dir',
    help: "this node's data directory [<config data>/<id>]",
  },
  'listen-host': {
    kind: 'string',
    placeholder: 'host',
    help: 'bind HTTP and peer listeners here instead of the config hosts (0.0.0.0 in containers)',
  },
  ...SECRET_FLAGS,
  'insecure-peers': {
    kind: 'boolean',
    help: 'run without a cluster secret (even one in the config): any process that reaches the peer port can act as a node',
  },
  ...TLS_FLAGS,
  'log-level': { kind: 'choice', choices: LOG_LEVELS, default: 'info', help: 'log verbosity' },
  'clock-offset-ms': {
    kind: 'integer',
    min: -CLOCK_OFFSET_MS_MAX,
    max: CLOCK_OFFSET_MS_MAX,
    default: 0,
    help: "test only: shift this node's wall clock, to exercise clock skew",
  },
  'unsafe-no-read-write-back': {
    kind: 'boolean',
    help: 'test only, breaks linearizability: reads skip the write-back before answering',
  },
  'unsafe-no-write-read-phase': {
    kind: 'boolean',
    help: 'test only, breaks linearizability: writes skip reading the highest version first',
  },
} as const satisfies FlagSpecs;

function errnoText(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return err instanceof Error ? err.message : String(err);
}

/** Reads and validates a cluster.json; every problem is a UsageError naming the file. */
export async function readClusterConfig(file: string): Promise<ClusterConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config ${file}: ${errnoText(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseClusterConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`config ${file}: ${err.message}`);
    throw err;
  }
}

/**
 * Closes the replica once (and exits 0), on the first of SIGINT, SIGTERM or the loss of the supervisor's IPC
 * channel (so a replica never outlives a `kvorum cluster` that was killed). Installed before
 * the replica starts, so a signal during startup closes it as soon as it is up. Later signals
 * are ignored while closing: Ctrl-C reaches both the supervisor and its children, and the
 * supervisor's own SIGTERM must not cut a clean close short.
 */
function installShutdown(): {
  started: (replica: RunningReplica) => void;
  /** The node left the layout: close it, and exit 0. */
  leave: () => void;
} {
  let requested = false;
  let running: RunningReplica | undefined;
  let closing = false;
  const close = (replica: RunningReplica): void => {
    if (closing) return;
    closing = true;
    replica.close().then(
      () => process.exit(0),
      (err: unknown) => {
        say(
          `${replica.id} did not close cleanly: ${err instanceof Error ? err.message : String(err)}`,
        );
        process.exit(1);
      },
    );
  };
  const onSignal = (): void => {
    // A second signal while startup hangs must still be able to stop the process.
    if (requested && running === undefined) process.exit(1);
    requested = true;
    if (running !== undefined) close(running);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (process.channel !== undefined) {
    process.on('disconnect', onSignal);
    // The channel exists only to notice the supervisor's death; it must not keep us alive.
    process.channel.unref();
  }
  return {
    started: (replica) => {
      running = replica;
      if (requested) close(replica);
    },
    leave: () => {
      say('this node has left the cluster; closing');
      onSignal();
    },
  };
}

export const serveCommand: Command<typeof SERVE_FLAGS> = {
  name: 'serve',
  synopsis:
    'kvorum serve --config <file> --id <id> [flags] | kvorum serve --join <url> --id <id> --http <host:port> --peer <host:port> --data <dir> [flags]',
  summary: 'run one replica from a cluster config file',
  details: [
    'Restarting a node with the same config and data directory brings it back with its data.',
    'A relative "data" in the config is taken from the current directory.',
    'With --join the node asks the cluster at <url> to add it and learns the layout and settings',
    'from the answer; its ranges move to it, and GET /admin/layout says settled once they have.',
    'Restarting it with the same command (and --data) starts the member it became. Joining an',
    'id that is already a member is refused (exit 2).',
  ].join('\n'),
  flags: SERVE_FLAGS,
  async run({ values, positionals }) {
    expectPositionals(positionals, 0, 0, this.synopsis);
    if (values.join !== undefined) return serveJoined(values);
    if (values.config === undefined) {
      throw new UsageError(
        'serve needs --config <file> (the cluster.json that kvorum cluster writes), or --join <url>',
      );
    }
    if (values.http !== undefined || values.peer !== undefined) {
      throw new UsageError('--http and --peer go with --join; with --config the config names them');
    }
    if (values.id === undefined)
      throw new UsageError('serve needs --id <id> (a node id from the config)');
    const config = await readClusterConfig(values.config);
    const id = values.id;
    if (!config.nodes.some((node) => node.id === id)) {
      const ids = config.nodes.map((node) => node.id).join(', ');
      throw new UsageError(`--id ${id} is not a node of ${values.config} (its nodes: ${ids})`);
    }
    // The store creates it, and names it in any error.
    const dataDir = path.resolve(values.data ?? path.join(config.data, id));
    return start(values, config, id, dataDir, values.config);
  },
};

type ServeValues = Parameters<Command<typeof SERVE_FLAGS>['run']>[0]['values'];

/** `serve --join`: asks the cluster to add this node, then starts it as for --config. */
async function serveJoined(values: ServeValues): Promise<void> {
  const url = values.join as string;
  const missing = (['id', 'http', 'peer', 'data'] as const).filter((f) => values[f] === undefined);
  if (missing.length > 0) {
    throw new UsageError(`--join needs ${missing.map((f) => `--${f}`).join(', ')} as well`);
  }
  if (values.config !== undefined) {
    throw new UsageError('give --config or --join, not both: a joining node learns the layout');
  }
  const tls = await readTlsFiles(values, values.id as string);
  const scheme = tls === undefined ? 'http' : 'https';
  const self = {
    id: values.id as string,
    http: `${scheme}://${values.http}`,
    peer: values.peer as string,
  };
  try {
    httpHostPort(self);
    peerHostPort(self);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const insecurePeers = values['insecure-peers'];
  const clusterSecret = insecurePeers ? undefined : values['cluster-secret'];
  if (clusterSecret === undefined && !insecurePeers) {
    throw new UsageError(
      `${self.id} has no cluster secret: give the cluster's secret with --cluster-secret or KVORUM_CLUSTER_SECRET ` +
        '(it is "clusterSecret" in the cluster.json of the first nodes), or --insecure-peers',
    );
  }
  const dataDir = path.resolve(values.data as string);
  const joined = await joinCluster({
    url,
    self,
    dataDir,
    adminToken: values['admin-token'],
    clusterSecret,
    ca: tls?.ca,
  });
  say(`${self.id} is a member of the cluster at ${url}; starting`);
  return start(
    values,
    joined.config,
    self.id,
    dataDir,
    url,
    joined.self,
    joined.layout,
    joined.known,
  );
}

/** Starts the replica and hands it to the shutdown handler; the process then runs until a signal. */
async function start(
  values: ServeValues,
  config: ClusterConfig,
  id: string,
  dataDir: string,
  source: string,
  self?: NodeAddress,
  initialLayout?: LayoutHistory,
  knownNodes?: readonly string[],
): Promise<void> {
  // Peers authenticate by default; running without a secret is a choice made out loud.
  // --insecure-peers means no secret at all, even one the config holds: said once, it wins.
  const insecurePeers = values['insecure-peers'];
  const clusterSecret = insecurePeers
    ? undefined
    : values['cluster-secret'] || config.clusterSecret;
  if (clusterSecret === undefined && !insecurePeers) {
    throw new UsageError(
      `${id} has no cluster secret: set "clusterSecret" in ${source} (kvorum cluster writes one), ` +
        'or --cluster-secret / KVORUM_CLUSTER_SECRET, the same on every node; ' +
        '--insecure-peers runs without one, letting any process that reaches the peer port act as a node',
    );
  }
  const tls = await readTlsFiles(values, id);
  // Peers and the supervisor reach each node at its config URL: the scheme must say the truth.
  const plain = config.nodes.filter(
    (node) => node.http.startsWith('https:') !== (tls !== undefined),
  );
  if (plain.length > 0) {
    throw new UsageError(
      tls === undefined
        ? `${source} gives https URLs (${plain[0]!.http}) but ${id} has no --tls-cert, --tls-key and --tls-ca`
        : `with --tls-cert every node's http URL in ${source} must be https:// (${plain[0]!.id} has ${plain[0]!.http})`,
    );
  }
  const shutdown = installShutdown();
  let replica: RunningReplica;
  try {
    // Loaded here, not at the top: client commands need none of fastify, LevelDB or the core.
    const { startReplica } = await import('../replica/replica.js');
    replica = await startReplica({
      config,
      id,
      dataDir,
      listenHost: values['listen-host'],
      adminToken: values['admin-token'],
      ...(clusterSecret === undefined ? {} : { clusterSecret }),
      ...(tls === undefined ? {} : { tls }),
      logLevel: values['log-level'],
      clockOffsetMs: values['clock-offset-ms'],
      unsafe: {
        noReadWriteBack: values['unsafe-no-read-write-back'],
        noWriteReadPhase: values['unsafe-no-write-read-phase'],
      },
      ...(self !== undefined ? { self } : {}),
      ...(initialLayout !== undefined ? { initialLayout } : {}),
      ...(knownNodes !== undefined ? { knownNodes } : {}),
      onLeft: shutdown.leave,
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`config ${source}: ${err.message}`);
    throw new CommandError(
      `${id} could not start: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  shutdown.started(replica);
}
