// Real replica processes on free loopback ports, for integration tests: each TestCluster owns
// its temp dir and its processes, and stop() removes both.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fetchWithCa, type FetchWithCaInit } from '../../src/client/fetch-with-ca.js';
import {
  clusterTlsPaths,
  ensureClusterCertificates,
  serveTlsArgs,
} from '../../src/cli/tls-certs.js';
import { REPLICA_PROCESS_ENV } from '../../src/config.js';
import { freePorts } from '../../src/verify/free-ports.js';

export { freePorts };

export const BIN = resolve(import.meta.dirname, '../../bin/kvorum.js');

export const keyPath = (key: string) => encodeURIComponent(key);

/** A failed `expect` (vitest throws chai's AssertionError): a verdict, never "not yet". */
export function isAssertionError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AssertionError';
}

/**
 * Polls `probe` until it returns something other than undefined or false, or the deadline
 * passes. A probe that throws (a refused connection, a node still starting) is "not yet"; a
 * failed assertion inside it is rethrown at once, so a poll can never swallow a test's verdict.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      if (isAssertionError(err)) throw err;
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface ClusterOptions {
  nodes?: number;
  profile?: 'cp' | 'quorum' | 'ap';
  n?: number;
  timeoutMs?: number;
  valueBytesMax?: number;
  fsync?: boolean;
  adminToken?: string;
  /** Given to the nodes through KVORUM_CLUSTER_SECRET; without it, cluster.json holds a random one. */
  clusterSecret?: string;
  /** No secret anywhere: the nodes run with --insecure-peers. */
  insecurePeers?: boolean;
  conflicts?: 'lww' | 'siblings';
  siblingsMax?: number;
  tombstoneGraceMs?: number;
  /** Default 0 here: tests run exchanges with POST /admin/repair, or set it to watch the schedule. */
  antiEntropyIntervalMs?: number;
  hintedHandoff?: boolean;
  /** HTTPS and mutual peer TLS, with certificates `kvorum cluster --tls` would make, in the temp dir. */
  tls?: boolean;
}

export interface LocalCopy {
  key: string;
  node: string;
  clock: Record<string, number>;
  siblings: Array<{
    dot: string | null;
    ts: string;
    tombstone: boolean;
    contentType: string;
    value: string;
  }>;
}

const START_ATTEMPTS_MAX = 3;

/** `tombstones` in /admin/status: the GC's counters (docs/consistency.md, "Tombstones"). */
export interface TombstoneStatus {
  pending: number;
  purged: number;
  sweeps: number;
  heldBack: {
    inGrace: number;
    nodeDown: number;
    notEverywhere: number;
    readFailed: number;
    purgeFailed: number;
  };
}

export class TestCluster {
  readonly procs = new Map<string, ChildProcess>();
  readonly logs = new Map<string, string[]>();
  ids: string[] = [];
  urls = new Map<string, string>();
  /** With `tls`: the cluster CA's PEM, which this cluster's fetch trusts. */
  ca: Buffer | undefined;
  /** Nodes started with `serve --join`: the arguments that replace `--config` for them. */
  private readonly joinArgs = new Map<string, string[]>();

  private constructor(
    readonly dir: string,
    readonly configPath: string,
    private readonly opts: ClusterOptions,
  ) {}

  /**
   * Starts a cluster on free ports. A port found free can still be taken before the node binds
   * it (another test file probing ports at the same moment): a start that fails with
   * EADDRINUSE is retried on new ports, a few times.
   */
  static async start(opts: ClusterOptions = {}): Promise<TestCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await TestCluster.startOnce(opts);
      } catch (err) {
        if (attempt >= START_ATTEMPTS_MAX || !/EADDRINUSE/.test(String(err))) throw err;
      }
    }
  }

  private static async startOnce(opts: ClusterOptions): Promise<TestCluster> {
    const k = opts.nodes ?? 3;
    const dir = await mkdtemp(join(tmpdir(), 'kvorum-it-'));
    const ports = await freePorts(2 * k);
    const nodes = Array.from({ length: k }, (_, i) => ({
      id: `n${i + 1}`,
      http: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${ports[i]}`,
      peer: `127.0.0.1:${ports[k + i]}`,
    }));
    const config = {
      cluster: 'kvorum-test',
      profile: opts.profile ?? 'quorum',
      conflicts: opts.conflicts ?? 'lww',
      n: opts.n ?? Math.min(3, k),
      data: dir,
      timeoutMs: opts.timeoutMs ?? 2000,
      valueBytesMax: opts.valueBytesMax ?? 1024 * 1024,
      fsync: opts.fsync ?? false,
      nodes,
      siblingsMax: opts.siblingsMax ?? 100,
      tombstoneGraceMs: opts.tombstoneGraceMs ?? 86_400_000,
      antiEntropyIntervalMs: opts.antiEntropyIntervalMs ?? 0,
      hintedHandoff: opts.hintedHandoff ?? true,
      ...(opts.insecurePeers ? {} : { clusterSecret: randomBytes(24).toString('base64url') }),
    };
    const configPath = join(dir, 'cluster.json');
    await writeFile(configPath, JSON.stringify(config, null, 2));
    const c = new TestCluster(dir, configPath, opts);
    c.ids = nodes.map((n) => n.id);
    for (const n of nodes) c.urls.set(n.id, n.http);
    try {
      if (opts.tls) {
        await ensureClusterCertificates(dir, config.cluster, nodes);
        c.ca = await readFile(c.caFile);
      }
      for (const id of c.ids) c.spawn(id);
      await Promise.all(c.ids.map((id) => c.waitHealthy(id)));
      await c.waitAllUp();
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /** Where the cluster CA is (with `tls`), for curl --cacert and kvorum --cacert. */
  get caFile(): string {
    return clusterTlsPaths(this.dir).ca;
  }

  /** fetch, trusting the cluster CA when the cluster runs TLS. */
  fetch(url: string, init: FetchWithCaInit = {}): Promise<Response> {
    return this.ca === undefined ? fetch(url, init) : fetchWithCa(url, init, this.ca);
  }

  url(id: string): string {
    return this.urls.get(id) as string;
  }

  /**
   * `envOverrides` is applied last, for this process only: a value replaces the variable, and
   * undefined removes it (e.g. `{ KVORUM_CLUSTER_SECRET: 'wrong' }` starts a node with another
   * secret than the cluster's).
   */
  spawn(
    id: string,
    extraArgs: readonly string[] = [],
    envOverrides: Readonly<Record<string, string | undefined>> = {},
  ): ChildProcess {
    const env: NodeJS.ProcessEnv = {
      ...REPLICA_PROCESS_ENV,
      ...process.env,
      KVORUM_LOG_LEVEL: 'info',
    };
    delete env.KVORUM_ADMIN_TOKEN;
    delete env.KVORUM_CLUSTER_SECRET;
    if (this.opts.adminToken) env.KVORUM_ADMIN_TOKEN = this.opts.adminToken;
    if (this.opts.clusterSecret) env.KVORUM_CLUSTER_SECRET = this.opts.clusterSecret;
    else if (this.joinArgs.has(id)) env.KVORUM_CLUSTER_SECRET = this.secret();
    for (const [name, value] of Object.entries(envOverrides)) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
    const start = this.joinArgs.get(id) ?? ['--config', this.configPath, '--id', id];
    const args = [BIN, 'serve', ...start, ...extraArgs];
    if (this.opts.tls) args.push(...serveTlsArgs(this.dir, id));
    if (this.opts.insecurePeers) args.push('--insecure-peers');
    const child = spawn(process.execPath, args, {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log: string[] = this.logs.get(id) ?? [];
    this.logs.set(id, log);
    const keep = (chunk: Buffer) => {
      log.push(chunk.toString());
      if (log.length > 400) log.splice(0, log.length - 400);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.procs.set(id, child);
    return child;
  }

  /** Generous: a node starting beside other test clusters on 2 cores can take seconds. */
  async waitHealthy(id: string, timeoutMs = 30_000): Promise<void> {
    const proc = this.procs.get(id);
    // A node that exited will not come up: say why at once instead of at the deadline.
    const state = await until(
      `${id} /health`,
      async () => {
        if (proc && proc.exitCode !== null) return 'exited';
        const res = await this.fetch(`${this.url(id)}/health`);
        return res.status === 200 ? 'healthy' : false;
      },
      timeoutMs,
    );
    if (state === 'exited') {
      // Its last words (EADDRINUSE, a bad flag) may still be in the pipe when 'exit' fires.
      if (proc && proc.stderr && !proc.stderr.closed) {
        await Promise.race([
          new Promise((r) => proc.once('close', r)),
          new Promise((r) => setTimeout(r, 1_000)),
        ]);
      }
      throw new Error(
        `${id} exited with ${proc?.exitCode}: ${this.logs.get(id)?.join('').slice(-2000)}`,
      );
    }
  }

  headers(): Record<string, string> {
    return this.opts.adminToken ? { authorization: `Bearer ${this.opts.adminToken}` } : {};
  }

  async status(id: string): Promise<{
    nodes: Array<{ id: string; state: string; peer: string }>;
    hints: { pending: number };
    [k: string]: unknown;
  }> {
    const res = await this.fetch(`${this.url(id)}/admin/status`, { headers: this.headers() });
    if (res.status !== 200) throw new Error(`status of ${id}: ${res.status}`);
    return (await res.json()) as never;
  }

  async tombstones(id: string): Promise<TombstoneStatus> {
    return (await this.status(id)).tombstones as TombstoneStatus;
  }

  /** Waits until `id` sees every listed node (default: all) in `state`. */
  async waitSees(
    id: string,
    state: 'up' | 'down',
    others: string[] = this.ids,
    timeoutMs = 10_000,
  ): Promise<void> {
    await until(
      `${id} to see ${others.join(',')} ${state}`,
      async () => {
        const s = await this.status(id);
        return others
          .filter((o) => o !== id)
          .every((o) => s.nodes.find((n) => n.id === o)?.state === state);
      },
      timeoutMs,
    );
  }

  async waitAllUp(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.waitSees(id, 'up')));
  }

  async put(
    id: string,
    key: string,
    value: string | Buffer,
    query = '',
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return this.fetch(`${this.url(id)}/kv/${keyPath(key)}${query}`, {
      method: 'PUT',
      body: value,
      headers,
    });
  }

  async get(id: string, key: string, query = ''): Promise<Response> {
    return this.fetch(`${this.url(id)}/kv/${keyPath(key)}${query}`);
  }

  async del(
    id: string,
    key: string,
    query = '',
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return this.fetch(`${this.url(id)}/kv/${keyPath(key)}${query}`, { method: 'DELETE', headers });
  }

  /** What node `id` itself stores for `key` (GET /admin/keys/<key>), or undefined. */
  async local(id: string, key: string): Promise<LocalCopy | undefined> {
    const res = await this.fetch(`${this.url(id)}/admin/keys/${keyPath(key)}`, {
      headers: this.headers(),
    });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`local copy on ${id}: ${res.status}`);
    return (await res.json()) as LocalCopy;
  }

  /** The live values node `id` stores for `key`, sorted; [] when absent or only tombstones. */
  async localValues(id: string, key: string): Promise<string[]> {
    const copy = await this.local(id, key);
    return (copy?.siblings ?? [])
      .filter((s) => !s.tombstone)
      .map((s) => Buffer.from(s.value, 'base64').toString())
      .sort();
  }

  /** Runs an anti-entropy exchange from `id` with every peer it sees up. */
  async repair(id: string): Promise<{ keysRepaired: number; peers: Record<string, unknown> }> {
    const res = await this.admin(id, 'POST', '/admin/repair', {});
    if (res.status !== 200) throw new Error(`repair on ${id}: ${res.status} ${await res.text()}`);
    return (await res.json()) as never;
  }

  async admin(id: string, method: string, path: string, body?: unknown): Promise<Response> {
    return this.fetch(`${this.url(id)}${path}`, {
      method,
      headers: { ...this.headers(), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  async partition(groups: string[][], via = this.ids[0] as string): Promise<void> {
    const res = await this.admin(via, 'POST', '/admin/partition', { groups });
    const body = (await res.json()) as { applied: string[]; failed: unknown[] };
    if (res.status !== 200 || body.failed.length > 0)
      throw new Error(`partition failed: ${res.status} ${JSON.stringify(body)}`);
  }

  async heal(via = this.ids[0] as string): Promise<void> {
    const res = await this.admin(via, 'POST', '/admin/heal', {});
    if (res.status !== 200) throw new Error(`heal failed: ${res.status}`);
  }

  /** The secret kvorum cluster would have written into cluster.json. */
  private secret(): string {
    return (JSON.parse(readFileSync(this.configPath, 'utf8')) as { clusterSecret: string })
      .clusterSecret;
  }

  /**
   * Starts node `id` on new ports with `serve --join <via's url>` (data under the cluster's
   * dir) and waits for its /health: it is then a member, in the layout as joining.
   */
  async join(id: string, via: string, extraArgs: readonly string[] = []): Promise<ChildProcess> {
    const [httpPort, peerPort] = await freePorts(2);
    const scheme = this.opts.tls ? 'https' : 'http';
    this.joinArgs.set(id, [
      '--join',
      this.url(via),
      '--id',
      id,
      '--http',
      `127.0.0.1:${httpPort}`,
      '--peer',
      `127.0.0.1:${peerPort}`,
      '--data',
      join(this.dir, id),
    ]);
    this.ids.push(id);
    this.urls.set(id, `${scheme}://127.0.0.1:${httpPort}`);
    const child = this.spawn(id, extraArgs);
    await this.waitHealthy(id, 60_000);
    return child;
  }

  /** GET /admin/layout from node `id`. */
  async layout(id: string): Promise<{
    version: number;
    settled: boolean;
    nodes: { id: string; state: string }[];
  }> {
    const res = await this.admin(id, 'GET', '/admin/layout');
    if (res.status !== 200) throw new Error(`layout of ${id}: ${res.status} ${await res.text()}`);
    return (await res.json()) as {
      version: number;
      settled: boolean;
      nodes: { id: string; state: string }[];
    };
  }

  /** kill -9: no chance to flush or say goodbye. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.procs.get(id);
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  }

  async restart(
    id: string,
    extraArgs: readonly string[] = [],
    envOverrides: Readonly<Record<string, string | undefined>> = {},
  ): Promise<void> {
    this.spawn(id, extraArgs, envOverrides);
    await this.waitHealthy(id);
  }

  async stop(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.kill(id, 'SIGKILL')));
    await rm(this.dir, { recursive: true, force: true });
  }

  /** The JSON lines (pino) node `id` printed, from its current log buffer; other lines are skipped. */
  logRecords<T extends object = Record<string, unknown>>(id: string): T[] {
    return (this.logs.get(id) ?? [])
      .join('')
      .split('\n')
      .flatMap((line) => {
        try {
          const record: unknown = JSON.parse(line);
          return typeof record === 'object' && record !== null ? [record as T] : [];
        } catch {
          return [];
        }
      });
  }

  dump(): string {
    return [...this.logs].map(([id, l]) => `--- ${id}\n${l.join('').slice(-3000)}`).join('\n');
  }
}

/** A base port p with p..p+k-1 and p+100..p+100+k-1 all free, as `kvorum cluster` needs. */
export async function freeBasePort(k: number): Promise<number> {
  const bindable = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 200; attempt++) {
    // Below the ephemeral range (32768+), as freePorts explains.
    const base = 20_000 + Math.floor(Math.random() * (32_768 - 20_000 - 100 - k));
    const ports = Array.from({ length: k }, (_, i) => [base + i, base + 100 + i]).flat();
    let ok = true;
    for (const p of ports) if (!(await bindable(p))) ok = false;
    if (ok) return base;
  }
  throw new Error('no free base port found');
}
