// `kvorum cluster`: writes <data>/cluster.json, runs one `kvorum serve` OS process per node, and
// supervises them in the foreground. A replica that dies is reported, never restarted (a demo of
// failure must not heal itself); SIGINT/SIGTERM stop every replica and exit 0.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  LIMITS,
  REPLICA_PROCESS_ENV,
  httpHostPort,
  peerHostPort,
  type ClusterConfig,
  type NodeAddress,
} from '../config.js';
import { KvorumClient } from '../client/kvorum-client.js';
import { CLUSTER_FLAGS, planClusterConfig, usesTls, type ClusterPlan } from './cluster-config.js';
import { CommandError, say, type Command } from './command.js';
import { expectPositionals } from './flags.js';
import { readClusterConfig } from './serve.js';
import { clusterTlsPaths, ensureClusterCertificates, serveTlsArgs } from './tls-certs.js';

/** Supervisor timing; a replica that is not healthy in HEALTH_DEADLINE_MS is reported as stuck. */
export const SUPERVISOR_LIMITS = Object.freeze({
  healthDeadlineMs: LIMITS.supervisorHealthDeadlineMs,
  healthPollIntervalMs: 100,
  healthRequestTimeoutMs: 1_000,
  /** After SIGTERM, a replica gets this long to close its store before SIGKILL. */
  stopGraceMs: LIMITS.supervisorStopGraceMs,
});

/** dist/cli/cluster.js → bin/kvorum.js: the children run the same build as the supervisor. */
const BIN_PATH = fileURLToPath(new URL('../../bin/kvorum.js', import.meta.url));

/**
 * The command that restarts one replica, runnable from any directory: `npx kvorum` outside a
 * checkout would fetch whatever "kvorum" the npm registry has, so name this node and this file.
 */
export function restartCommand(
  configFile: string,
  id: string,
  extraArgs: readonly string[] = [],
): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
  const extra = extraArgs.map((a) => ` ${q(a)}`).join('');
  return `${q(process.execPath)} ${q(BIN_PATH)} serve --config ${q(path.resolve(configFile))} --id ${q(id)}${extra}`;
}

interface Replica {
  readonly node: NodeAddress;
  readonly proc: ChildProcess;
  /** Resolves with a one-line description of how the process ended. */
  readonly ended: Promise<string>;
  alive: boolean;
}

/** The cluster.json a previous run wrote, if any; one that is there but invalid is an error. */
async function readExistingConfig(file: string): Promise<ClusterConfig | undefined> {
  try {
    await access(file);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
  }
  return readClusterConfig(file);
}

/** Written to a temporary file and renamed, so a crash never leaves half a config behind. */
async function writeConfig(file: string, config: ClusterConfig): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  // It holds the cluster secret: only its owner may read it.
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** 256 random bits, URL-safe, for a cluster created without --cluster-secret. */
function newClusterSecret(): string {
  return randomBytes(32).toString('base64url');
}

function unbracket(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

/** Resolves with what is wrong with listening on host:port, or undefined when it is free. */
function probePort(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(`port ${port} on ${host} is in use`);
      else if (err.code === 'EADDRNOTAVAIL') resolve(`${host} is not an address of this machine`);
      else resolve(`cannot listen on ${host}:${port}: ${err.message}`);
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Fails before any process starts, naming the node and port, rather than after a child dies. */
async function checkPortsFree(config: ClusterConfig): Promise<void> {
  for (const node of config.nodes) {
    const http = httpHostPort(node);
    const peer = peerHostPort(node);
    for (const [what, { host, port }] of [
      ['HTTP', http],
      ['peer', peer],
    ] as const) {
      const problem = await probePort(unbracket(host), port);
      if (problem !== undefined) {
        throw new CommandError(
          `${problem} (${node.id} ${what}); stop what uses it, or pick another --base-port or --host`,
        );
      }
    }
  }
}

/**
 * The children get no KVORUM_* of ours (a KVORUM_DATA meant for `cluster` would mislead
 * `serve`), only the admin token; the cluster secret is in cluster.json.
 */
function childEnv(adminToken: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...REPLICA_PROCESS_ENV };
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith('KVORUM_')) env[name] = value;
  if (adminToken !== undefined) env.KVORUM_ADMIN_TOKEN = adminToken;
  return env;
}

/** Copies a child's output line by line, each line prefixed with the node id. */
function pipeLines(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, label: string): void {
  createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) =>
    to.write(`${label} | ${line}\n`),
  );
}

function describeEnd(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface SupervisorOptions {
  readonly config: ClusterConfig;
  readonly configFile: string;
  readonly logLevel: string;
  readonly adminToken: string | undefined;
  /** The cluster's CA (PEM) when it runs TLS: health checks trust it alone. */
  readonly ca: Buffer | undefined;
}

class Supervisor {
  private readonly replicas: Replica[] = [];
  private stopping = false;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly labelWidth: number;

  private readonly config: ClusterConfig;
  private readonly configFile: string;

  constructor(private readonly opts: SupervisorOptions) {
    this.config = opts.config;
    this.configFile = opts.configFile;
    this.labelWidth = Math.max(...opts.config.nodes.map((node) => node.id.length));
  }

  /** Runs until every replica has ended; true when that was because we were told to stop. */
  async run(): Promise<boolean> {
    const onSignal = (): void => this.stop();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      for (const node of this.config.nodes) this.replicas.push(this.start(node));
      void this.announceWhenHealthy();
      await Promise.all(this.replicas.map((r) => r.ended));
      return this.stopping;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      clearTimeout(this.killTimer);
    }
  }

  /** What `serve` needs beyond the config and id: the node's TLS files, for a TLS cluster. */
  private serveArgs(id: string): string[] {
    return this.opts.ca === undefined ? [] : serveTlsArgs(this.config.data, id);
  }

  private start(node: NodeAddress): Replica {
    const args = [
      BIN_PATH,
      'serve',
      '--config',
      this.configFile,
      '--id',
      node.id,
      '--log-level',
      this.opts.logLevel,
      ...this.serveArgs(node.id),
    ];
    const env = childEnv(this.opts.adminToken);
    // The IPC channel carries no messages: its closing tells the child that we are gone.
    const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const label = node.id.padEnd(this.labelWidth);
    pipeLines(proc.stdout!, process.stdout, label);
    pipeLines(proc.stderr!, process.stderr, label);
    const replica: Replica = {
      node,
      proc,
      alive: true,
      ended: new Promise((resolve) => {
        // 'close' waits for the child's last output, so its own error line comes before our report.
        proc.once('close', (code, signal) => resolve(describeEnd(code, signal)));
        proc.once('error', (err) => resolve(`could not be started: ${err.message}`));
      }),
    };
    void replica.ended.then((how) => this.onEnded(replica, how));
    return replica;
  }

  private onEnded(replica: Replica, how: string): void {
    replica.alive = false;
    const left = this.replicas.filter((r) => r.alive).length;
    if (this.stopping) {
      if (left === 0) say('every replica has stopped');
      return;
    }
    const env = this.opts.adminToken === undefined ? '' : ' (with the same KVORUM_ADMIN_TOKEN set)';
    // A replica exits 0 by itself once it has left the layout (kvorum leave), or on a signal.
    const why = how === 'exited with code 0' ? ' (it left the cluster, or was stopped)' : '';
    say(
      `${replica.node.id} ${how}${why}; it will not be restarted. ${left} replica(s) still running. ` +
        `To restart it: ${restartCommand(this.configFile, replica.node.id, this.serveArgs(replica.node.id))}${env}`,
    );
  }

  /** SIGTERM to every replica, SIGKILL to those still up after the grace period; a second signal kills at once. */
  private stop(): void {
    if (this.stopping) {
      say('killing the replicas that are still closing');
      this.killAlive();
      return;
    }
    this.stopping = true;
    say('stopping every replica (Ctrl-C again to kill them at once)');
    for (const r of this.replicas) if (r.alive) r.proc.kill('SIGTERM');
    this.killTimer = setTimeout(() => {
      const stuck = this.replicas.filter((r) => r.alive).map((r) => r.node.id);
      if (stuck.length === 0) return;
      say(`${stuck.join(', ')} did not stop within ${SUPERVISOR_LIMITS.stopGraceMs} ms; killing`);
      this.killAlive();
    }, SUPERVISOR_LIMITS.stopGraceMs);
  }

  private killAlive(): void {
    for (const r of this.replicas) if (r.alive) r.proc.kill('SIGKILL');
  }

  /** Polls each node's /health until it answers 200, its process ends, or the deadline passes. */
  private async waitHealthy(replica: Replica, deadline: number): Promise<boolean> {
    const client = new KvorumClient(replica.node.http, {
      requestTimeoutMs: SUPERVISOR_LIMITS.healthRequestTimeoutMs,
      ...(this.opts.ca === undefined ? {} : { ca: this.opts.ca }),
    });
    while (replica.alive && !this.stopping && Date.now() < deadline) {
      try {
        if ((await client.health()) === 200) return true;
      } catch {
        // Not listening yet: keep polling until the deadline.
      }
      await sleep(SUPERVISOR_LIMITS.healthPollIntervalMs);
    }
    return false;
  }

  private async announceWhenHealthy(): Promise<void> {
    const deadline = Date.now() + SUPERVISOR_LIMITS.healthDeadlineMs;
    const healthy = await Promise.all(this.replicas.map((r) => this.waitHealthy(r, deadline)));
    if (this.stopping) return;
    const late = this.replicas.filter((r, i) => !healthy[i] && r.alive).map((r) => r.node.id);
    if (late.length > 0) {
      say(
        `${late.join(', ')} did not answer GET /health within ${SUPERVISOR_LIMITS.healthDeadlineMs} ms; ` +
          'still running them (their log lines above may say why); Ctrl-C stops the cluster',
      );
    }
    if (healthy.some(Boolean)) process.stdout.write(this.banner(healthy));
  }

  private banner(healthy: readonly boolean[]): string {
    const c = this.config;
    const up = this.replicas.filter((_, i) => healthy[i]);
    const first = up[0]!.node.http;
    const second = (up[1] ?? up[0]!).node.http;
    // The token itself stays out of the output: logs of a terminal session get shared.
    const auth =
      this.opts.adminToken === undefined ? '' : '-H "Authorization: Bearer $KVORUM_ADMIN_TOKEN" ';
    const cacert = this.opts.ca === undefined ? '' : `--cacert ${clusterTlsPaths(c.data).ca} `;
    const rows = this.replicas.map((r, i) => {
      const state = healthy[i] ? `pid ${r.proc.pid ?? '?'}` : 'NOT READY';
      return `  ${r.node.id.padEnd(this.labelWidth)}  ${r.node.http}  peer ${r.node.peer}  ${state}`;
    });
    return [
      '',
      `kvorum cluster "${c.cluster}": ${up.length} of ${c.nodes.length} nodes up; profile ${c.profile}, n=${c.n}, conflicts ${c.conflicts}`,
      ...rows,
      `config ${this.configFile}; each node's data in ${c.data}/<id>/`,
      'try:',
      `  curl ${cacert}-X PUT --data-binary hello ${first}/kv/greeting`,
      `  curl ${cacert}${second}/kv/greeting`,
      `  curl ${cacert}${auth}${first}/admin/status`,
      'Ctrl-C stops every node.',
      '',
    ].join('\n');
  }
}

export const clusterCommand: Command<typeof CLUSTER_FLAGS> = {
  name: 'cluster',
  synopsis: 'kvorum cluster [flags]',
  summary: 'start a local cluster, one OS process per replica, in the foreground',
  details: [
    "Writes <data>/cluster.json and keeps each node's data in <data>/<id>/. Run again with the same",
    '--data to restart the cluster on its data: settings not given as flags come from cluster.json.',
    'A replica that dies is reported and not restarted. Ctrl-C stops them all.',
  ].join('\n'),
  flags: CLUSTER_FLAGS,
  async run({ values, explicit, positionals }) {
    expectPositionals(positionals, 0, 0, this.synopsis);
    const dataDir = path.resolve(values.data);
    const configFile = path.join(dataDir, 'cluster.json');
    const plan: ClusterPlan = planClusterConfig(
      values,
      explicit,
      await readExistingConfig(configFile),
      dataDir,
      newClusterSecret,
    );
    await checkPortsFree(plan.config);
    for (const node of plan.config.nodes)
      await mkdir(path.join(dataDir, node.id), { recursive: true });
    // Before the config is written: a config with https URLs but no certificates (openssl
    // missing) would keep the next run on TLS too.
    let ca: Buffer | undefined;
    if (usesTls(plan.config)) {
      const made = await ensureClusterCertificates(dataDir, plan.config.cluster, plan.config.nodes);
      const tlsDir = clusterTlsPaths(dataDir);
      if (made.caCreated)
        say(`made a throwaway CA with openssl: ${tlsDir.ca} (give it to clients: --cacert)`);
      if (made.certified.length > 0)
        say(`made certificates for ${made.certified.join(', ')} in ${tlsDir.dir}`);
      ca = await readFile(tlsDir.ca);
    }
    if (plan.reused) {
      say(`reusing ${configFile} and the data beside it`);
      // A file from before secrets were generated may be world-readable.
      await chmod(configFile, 0o600);
    } else await writeConfig(configFile, plan.config);
    if (plan.changes.length > 0) say(`updated ${configFile}: ${plan.changes.join('; ')}`);

    const supervisor = new Supervisor({
      config: plan.config,
      configFile,
      logLevel: values['log-level'],
      adminToken: values['admin-token'],
      ca,
    });
    if (!(await supervisor.run()))
      throw new CommandError('every replica has exited; the cluster is down');
  },
};
