// `kvorum serve --join <url>`: how a new node gets into a running cluster. It asks the node at
// <url> to add it (POST /admin/join, put to consensus there), and starts from the layout and
// cluster settings the answer carries; no cluster.json is needed. What it learned is kept in
// <data>/joined.json, so a restart with the same command starts the member it became instead
// of asking again.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KvorumClient, KvorumHttpError } from '../client/kvorum-client.js';
import {
  ConfigError,
  parseClusterConfig,
  type ClusterConfig,
  type NodeAddress,
} from '../config.js';
import { layoutFromWire, newestVersion, type LayoutHistory } from '../core/layout.js';
import { CommandError } from './command.js';
import { UsageError } from './flags.js';

const JOINED_FILE = 'joined.json';

export interface Joined {
  readonly config: ClusterConfig;
  readonly self: NodeAddress;
  /** The layout to start from when the data directory holds none yet. */
  readonly layout: LayoutHistory;
  /** Node ids the cluster had known when this node joined. */
  readonly known: readonly string[];
}

export interface JoinRequest {
  readonly url: string;
  readonly self: NodeAddress;
  readonly dataDir: string;
  readonly adminToken: string | undefined;
  readonly clusterSecret: string | undefined;
  /** PEM of the CA the cluster's HTTPS certificates chain to. */
  readonly ca: Buffer | undefined;
}

/** A restart: this data directory joined before. Undefined when it never did. */
async function rejoined(dataDir: string, self: NodeAddress): Promise<Joined | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dataDir, JOINED_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const saved = JSON.parse(text) as {
    config: unknown;
    self: NodeAddress;
    layout: unknown;
    known?: unknown;
  };
  if (saved.self.id !== self.id) {
    throw new UsageError(
      `${dataDir} holds node ${saved.self.id}, not ${self.id}: give each node its own --data`,
    );
  }
  // The layout the join answered: a node that died before storing it must not start from
  // its config's nodes, which would be a version 1 of its own.
  return {
    config: parseClusterConfig(saved.config),
    self: saved.self,
    layout: layoutFromWire(saved.layout),
    known: knownIds(saved.known),
  };
}

/** Joins (or, for a data directory that joined before, rejoins) the cluster at `req.url`. */
export async function joinCluster(req: JoinRequest): Promise<Joined> {
  const again = await rejoined(req.dataDir, req.self);
  if (again !== undefined) return again;
  const client = new KvorumClient(req.url, {
    ...(req.adminToken !== undefined ? { adminToken: req.adminToken } : {}),
    ...(req.ca !== undefined ? { ca: req.ca } : {}),
    // Agreeing a layout change can take a few consensus rounds.
    requestTimeoutMs: 60_000,
  });
  let answer;
  try {
    answer = await client.join(req.self);
  } catch (err) {
    if (err instanceof KvorumHttpError) {
      // 400: a bad id or address, or one already taken; 409: a change in progress, or the id
      // is a member already. Either way the operator must act: say what the cluster said.
      throw new UsageError(`${req.url} refused to add ${req.self.id}: ${err.message}`);
    }
    throw new CommandError(
      `cannot reach ${req.url} to join: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const layout = layoutFromWire(answer.layout);
  let config: ClusterConfig;
  try {
    config = parseClusterConfig({
      ...answer.config,
      data: path.dirname(req.dataDir),
      nodes: newestVersion(layout).nodes,
      ...(req.clusterSecret !== undefined ? { clusterSecret: req.clusterSecret } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new CommandError(`${req.url} answered settings this node cannot use: ${err.message}`);
    }
    throw err;
  }
  await mkdir(req.dataDir, { recursive: true });
  const { clusterSecret: _secret, ...toKeep } = config;
  await writeFile(
    path.join(req.dataDir, JOINED_FILE),
    `${JSON.stringify({ config: toKeep, self: req.self, layout: answer.layout, known: answer.known ?? [] }, null, 2)}\n`,
    { mode: 0o600 },
  );
  return { config, self: req.self, layout, known: knownIds(answer.known) };
}

/** The known ids a join answered (or joined.json kept): node ids only, bounded. */
function knownIds(x: unknown): string[] {
  if (!Array.isArray(x)) return [];
  return x
    .filter((id): id is string => typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id))
    .slice(0, 4096);
}
