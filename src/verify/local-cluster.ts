// A throwaway cluster of real `kvorum serve` processes for `kvorum verify`: a temp dir with a
// cluster.json on free loopback ports, one process per node that the nemesis may kill, pause,
// restart with a skewed clock, or add (`serve --join`, data in the same dir), and a close() that
// kills them all and removes the dir. If the verifying process dies first, each node notices
// its IPC channel close and shuts down.

import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { REPLICA_PROCESS_ENV } from '../config.js';
import { freePorts } from './free-ports.js';
import { NodeApi } from './node-api.js';
import { sleep } from './sleep.js';
import type { ProcessControl, ProcessExit, VerifyTarget } from './target.js';
import { VERIFY_LIMITS } from './verify-limits.js';

/** src/verify or dist/verify → bin/kvorum.js, which runs the compiled CLI. */
const BIN_PATH = fileURLToPath(new URL('../../bin/kvorum.js', import.meta.url));

export interface LocalClusterOptions {
  readonly nodes: number;
  readonly profile: 'cp' | 'quorum' | 'ap';
  readonly conflicts: 'lww' | 'siblings';
  /** Replicas per key; min(3, nodes) when absent. */
  readonly n?: number;
  /** Test-only breakages passed to every node, to show that the checkers catch them. */
  readonly unsafe?: { readonly noReadWriteBack?: boolean; readonly noWriteReadPhase?: boolean };
  readonly adminToken?: string;
  /** The cluster's default request timeout, and the one every client request asks for. */
  readonly opTimeoutMs?: number;
}

/** A starting node is asked for /health this often, each probe giving up after the second. */
const HEALTH_POLL_MS = 50;
const HEALTH_PROBE_TIMEOUT_MS = 500;

/** Every cluster still running, so an exiting process can kill them synchronously. */
const live = new Set<LocalCluster>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.destroyNow();
  });
}

export class LocalCluster implements VerifyTarget, ProcessControl {
  readonly nodes: NodeApi[];
  readonly where: string;
  readonly processes: ProcessControl = this;
  private readonly procs = new Map<string, ChildProcess>();
  private readonly logs = new Map<string, string[]>();
  /** Nodes added with `serve --join`: their API and the arguments that replace --config. */
  private readonly joined = new Map<string, { api: NodeApi; args: readonly string[] }>();
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly configPath: string,
    /** What a joining node presents to its peers; the first nodes read it from cluster.json. */
    private readonly clusterSecret: string,
    readonly profile: 'cp' | 'quorum' | 'ap',
    readonly conflicts: 'lww' | 'siblings',
    readonly n: number,
    nodes: readonly { id: string; http: string }[],
    private readonly opts: LocalClusterOptions,
  ) {
    this.nodes = nodes.map(
      (node) => new NodeApi(node.id, node.http, opts.adminToken, opts.opTimeoutMs),
    );
    this.where = `local cluster of ${nodes.length} nodes in ${dir}`;
  }

  /**
   * Starts a cluster on free ports. A port found free can still be taken before the node binds
   * it (another process probing ports at the same moment): a start that fails with EADDRINUSE
   * is retried on new ports, a few times.
   */
  static async start(opts: LocalClusterOptions): Promise<LocalCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await LocalCluster.startOnce(opts);
      } catch (err) {
        if (attempt >= VERIFY_LIMITS.clusterStartAttemptsMax || !/EADDRINUSE/.test(String(err))) {
          throw err;
        }
      }
    }
  }

  private static async startOnce(opts: LocalClusterOptions): Promise<LocalCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'kvorum-verify-'));
    const n = opts.n ?? Math.min(3, opts.nodes);
    const ports = await freePorts(2 * opts.nodes);
    const nodes = Array.from({ length: opts.nodes }, (_, i) => ({
      id: `n${i + 1}`,
      http: `http://127.0.0.1:${ports[i]}`,
      peer: `127.0.0.1:${ports[opts.nodes + i]}`,
    }));
    const config = {
      cluster: 'kvorum-verify',
      profile: opts.profile,
      conflicts: opts.conflicts,
      n,
      data: dir,
      timeoutMs: opts.opTimeoutMs ?? VERIFY_LIMITS.opTimeoutMs,
      nodes,
      antiEntropyIntervalMs: VERIFY_LIMITS.antiEntropyIntervalMs,
      hintedHandoff: true,
      clusterSecret: randomBytes(32).toString('base64url'),
    };
    const configPath = join(dir, 'cluster.json');
    await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
    const cluster = new LocalCluster(
      dir,
      configPath,
      config.clusterSecret,
      opts.profile,
      opts.conflicts,
      n,
      nodes,
      opts,
    );
    live.add(cluster);
    installExitHook();
    try {
      await Promise.all(nodes.map((node) => cluster.start(node.id, 0)));
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  private api(node: string): NodeApi {
    const api = this.nodes.find((x) => x.id === node) ?? this.joined.get(node)?.api;
    if (api === undefined) throw new Error(`no node ${node} in ${this.where}`);
    return api;
  }

  private spawn(node: string, clockOffsetMs: number): ChildProcess {
    const joined = this.joined.get(node);
    const from = joined?.args ?? ['--config', this.configPath, '--id', node];
    const args = [BIN_PATH, 'serve', ...from, '--log-level', 'warn'];
    if (clockOffsetMs !== 0) args.push('--clock-offset-ms', String(clockOffsetMs));
    if (this.opts.unsafe?.noReadWriteBack) args.push('--unsafe-no-read-write-back');
    if (this.opts.unsafe?.noWriteReadPhase) args.push('--unsafe-no-write-read-phase');
    // Our own KVORUM_* settings (a KVORUM_URL meant for verify) must not reach the nodes.
    const env: NodeJS.ProcessEnv = { ...REPLICA_PROCESS_ENV };
    for (const [name, value] of Object.entries(process.env)) {
      if (!name.startsWith('KVORUM_')) env[name] = value;
    }
    if (this.opts.adminToken !== undefined) env.KVORUM_ADMIN_TOKEN = this.opts.adminToken;
    // Not on the command line, where any local user could read it.
    if (joined !== undefined) env.KVORUM_CLUSTER_SECRET = this.clusterSecret;
    // The IPC channel carries nothing: its closing tells the node that verify is gone.
    const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const log = this.logs.get(node) ?? [];
    this.logs.set(node, log);
    log.push(`--- started${clockOffsetMs === 0 ? '' : ` with clock offset ${clockOffsetMs} ms`}`);
    for (const stream of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        log.push(line);
        if (log.length > VERIFY_LIMITS.nodeLogLinesMax) log.shift();
      });
    }
    proc.on('error', (err) => log.push(`--- could not start: ${err.message}`));
    this.procs.set(node, proc);
    return proc;
  }

  async start(node: string, clockOffsetMs: number): Promise<void> {
    if (this.closed) throw new Error(`${this.where} is closed`);
    const running = this.procs.get(node);
    if (running !== undefined && running.exitCode === null && running.signalCode === null) {
      throw new Error(`${node} is already running`);
    }
    const proc = this.spawn(node, clockOffsetMs);
    const api = this.api(node);
    const deadline = performance.now() + VERIFY_LIMITS.nodeStartDeadlineMs;
    while (performance.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        const how = proc.signalCode ?? `code ${proc.exitCode}`;
        throw new Error(`${node} exited (${how}) while starting:\n${this.logTail(node)}`);
      }
      if (await api.health(HEALTH_PROBE_TIMEOUT_MS)) return;
      await sleep(HEALTH_POLL_MS);
    }
    throw new Error(
      `${node} did not answer /health within ${VERIFY_LIMITS.nodeStartDeadlineMs} ms:\n${this.logTail(node)}`,
    );
  }

  async join(node: string, viaUrl: string): Promise<NodeApi> {
    if (this.closed) throw new Error(`${this.where} is closed`);
    if (this.nodes.some((x) => x.id === node) || this.joined.has(node)) {
      throw new Error(`${node} is a node of ${this.where} already`);
    }
    const [httpPort, peerPort] = await freePorts(2);
    const http = `127.0.0.1:${httpPort}`;
    const args = [
      '--join',
      viaUrl,
      '--id',
      node,
      '--http',
      http,
      '--peer',
      `127.0.0.1:${peerPort}`,
    ];
    args.push('--data', join(this.dir, node));
    const api = new NodeApi(node, `http://${http}`, this.opts.adminToken, this.opts.opTimeoutMs);
    this.joined.set(node, { api, args });
    try {
      await this.start(node, 0);
    } catch (err) {
      // Refused or stuck: it is no node of this cluster (its log stays for the report).
      await this.kill(node);
      this.joined.delete(node);
      throw err;
    }
    return api;
  }

  async exited(node: string, timeoutMs: number): Promise<ProcessExit | undefined> {
    const proc = this.procs.get(node);
    if (proc === undefined) throw new Error(`${node} was never started in ${this.where}`);
    const now = (): ProcessExit | undefined =>
      proc.exitCode !== null || proc.signalCode !== null
        ? { code: proc.exitCode, signal: proc.signalCode }
        : undefined;
    if (now() !== undefined) return now();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        proc.off('exit', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      proc.once('exit', done);
    });
    return now();
  }

  async kill(node: string): Promise<void> {
    const proc = this.procs.get(node);
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  }

  pause(node: string): void {
    this.procs.get(node)?.kill('SIGSTOP');
  }

  resume(node: string): void {
    this.procs.get(node)?.kill('SIGCONT');
  }

  /** The last lines a node printed, for a report of what went wrong. */
  logTail(node: string, lines = 20): string {
    return (this.logs.get(node) ?? []).slice(-lines).join('\n');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // SIGKILL works on stopped processes too; nothing here needs a clean shutdown.
    await Promise.all([...this.procs.keys()].map((node) => this.kill(node)));
    live.delete(this);
    await rm(this.dir, { recursive: true, force: true });
  }

  /** For a process that is exiting now: no awaiting, no second chances. */
  destroyNow(): void {
    this.closed = true;
    for (const proc of this.procs.values()) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    live.delete(this);
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // A node still holding a file open on some platforms; nothing more can be done on exit.
    }
  }
}
