// A fresh local kvorum cluster for one phase of the bench: one `kvorum serve` process per node
// on free loopback ports, a temp data dir, --log-level warn, and the admin calls the PACELC
// and partition runs need. stop() kills every process by PID and removes the dir.

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { callJson, freePorts, pollUntil } from './local-net.js';
import type { MemorySplit } from './memory.js';
import {
  describeExit,
  isRunning,
  makeTempDir,
  removeTempDir,
  spawnLogged,
  stopProcess,
  type Spawned,
} from './processes.js';

const HEALTHY_WITHIN_MS = 30_000;
const PEERS_UP_WITHIN_MS = 20_000;
/**
 * After SIGTERM, a profiled node writes its .cpuprofile as it exits, after closing its store:
 * it gets longer than the usual grace so SIGKILL does not lose the profile.
 */
const PROFILED_STOP_GRACE_MS = 15_000;

export interface KvorumClusterOptions {
  readonly nodes: number;
  /** Replicas per key (N). */
  readonly n: number;
  readonly fsync: boolean;
  readonly valueBytesMax: number;
  /** When set, every node runs under `node --cpu-prof` and writes its profile here on exit. */
  readonly cpuProfDir?: string;
}

export interface LinkDelay {
  readonly ms: number;
  readonly jitterMs: number;
}

export class KvorumCluster {
  private constructor(
    private readonly dir: string,
    readonly ids: readonly string[],
    private readonly httpUrls: ReadonlyMap<string, string>,
    private readonly procs: Map<string, Spawned>,
    private readonly stopGraceMs: number | undefined,
  ) {}

  static async start(repo: string, opts: KvorumClusterOptions): Promise<KvorumCluster> {
    const dir = makeTempDir('kvorum-bench-');
    const k = opts.nodes;
    const ports = await freePorts(2 * k);
    const nodes = Array.from({ length: k }, (_, i) => ({
      id: `n${i + 1}`,
      http: `http://127.0.0.1:${ports[i]}`,
      peer: `127.0.0.1:${ports[k + i]}`,
    }));
    const configPath = join(dir, 'cluster.json');
    const config = {
      cluster: 'kvorum-bench',
      profile: 'quorum',
      conflicts: 'lww',
      n: opts.n,
      data: dir,
      fsync: opts.fsync,
      valueBytesMax: opts.valueBytesMax,
      nodes,
      clusterSecret: randomBytes(32).toString('base64url'),
    };
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    // As src/config.ts REPLICA_PROCESS_ENV (the bench compiles apart from src): a fixed glibc
    // mmap threshold, so memory freed after large values goes back to the system.
    const env: NodeJS.ProcessEnv = { MALLOC_MMAP_THRESHOLD_: '131072', ...process.env };
    for (const name of Object.keys(env)) if (name.startsWith('KVORUM_')) delete env[name];
    const bin = join(repo, 'bin', 'kvorum.js');
    const procs = new Map<string, Spawned>();
    const cluster = new KvorumCluster(
      dir,
      nodes.map((n) => n.id),
      new Map(nodes.map((n) => [n.id, n.http])),
      procs,
      opts.cpuProfDir === undefined ? undefined : PROFILED_STOP_GRACE_MS,
    );
    // Node's own flags go before the script.
    const nodeFlags =
      opts.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`];
    try {
      for (const node of nodes) {
        const args = [
          ...nodeFlags,
          bin,
          'serve',
          '--config',
          configPath,
          '--id',
          node.id,
          '--log-level',
          'warn',
        ];
        procs.set(
          node.id,
          spawnLogged(
            `kvorum ${node.id}`,
            process.execPath,
            args,
            join(dir, `${node.id}.log`),
            env,
          ),
        );
      }
      await Promise.all(cluster.ids.map((id) => cluster.waitHealthy(id)));
      await cluster.waitAllSee(cluster.ids, 'up');
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  url(id: string): string {
    const url = this.httpUrls.get(id);
    if (url === undefined) throw new Error(`no node ${id}`);
    return url;
  }

  get urls(): string[] {
    return this.ids.map((id) => this.url(id));
  }

  /** Process name → PID, for memory sampling. */
  pids(): Map<string, number> {
    return new Map([...this.procs].map(([id, s]) => [id, s.pid]));
  }

  /** Nodes whose process has exited, with the end of their log. */
  deadNodes(): string[] {
    return [...this.procs.values()].filter((s) => !isRunning(s)).map(describeExit);
  }

  private async waitHealthy(id: string): Promise<void> {
    const proc = this.procs.get(id) as Spawned;
    await pollUntil(
      `kvorum ${id} /health`,
      async () => {
        if (!isRunning(proc)) throw new Error(describeExit(proc));
        return (await callJson('GET', `${this.url(id)}/health`)).status === 200;
      },
      HEALTHY_WITHIN_MS,
    );
  }

  private async states(id: string): Promise<Map<string, string>> {
    const reply = await callJson('GET', `${this.url(id)}/admin/status`);
    if (reply.status !== 200) throw new Error(`status of ${id}: ${reply.status}`);
    const nodes = (reply.body as { nodes: Array<{ id: string; state: string }> }).nodes;
    return new Map(nodes.map((n) => [n.id, n.state]));
  }

  /** Hints each node keeps for replicas that missed writes (`hints.pending` of /admin/status). */
  async hintsPending(): Promise<Record<string, number>> {
    const counts = await Promise.all(
      this.ids.map(async (id) => {
        const reply = await callJson('GET', `${this.url(id)}/admin/status`);
        const pending = (reply.body as { hints?: { pending?: unknown } } | undefined)?.hints
          ?.pending;
        if (reply.status !== 200 || typeof pending !== 'number')
          throw new Error(`status of ${id}: ${reply.status}, no hints.pending`);
        return [id, pending] as const;
      }),
    );
    return Object.fromEntries(counts);
  }

  /**
   * How each node's memory splits (`memory` of /admin/status, from process.memoryUsage()), with
   * the full collections its memory return has run: what RSS alone cannot tell apart.
   */
  async memorySplit(): Promise<Record<string, MemorySplit>> {
    const details = await Promise.all(
      this.ids.map(async (id) => {
        const reply = await callJson('GET', `${this.url(id)}/admin/status`);
        const body = reply.body as
          { memory?: Partial<MemorySplit>; memoryReturn?: unknown } | undefined;
        const m = body?.memory;
        if (reply.status !== 200 || m === undefined) return undefined;
        const split: MemorySplit = {
          rss: Number(m.rss),
          heapTotal: Number(m.heapTotal),
          heapUsed: Number(m.heapUsed),
          external: Number(m.external),
          arrayBuffers: Number(m.arrayBuffers),
          collections: Number(body?.memoryReturn ?? 0),
        };
        return [id, split] as const;
      }),
    );
    return Object.fromEntries(details.filter((d) => d !== undefined));
  }

  /** Waits until each of `observers` sees each of `others` (itself excepted) in `state`. */
  async waitAllSee(
    observers: readonly string[],
    state: 'up' | 'down',
    others: readonly string[] = this.ids,
  ): Promise<void> {
    await pollUntil(
      `${observers.join(',')} to see ${others.join(',')} ${state}`,
      async () => {
        for (const id of observers) {
          const states = await this.states(id);
          if (others.some((o) => o !== id && states.get(o) !== state)) return false;
        }
        return true;
      },
      PEERS_UP_WITHIN_MS,
    );
  }

  /**
   * Delays every link of `slow` in both directions: what `slow` sends to each peer, and what
   * each peer sends to it (faults act on what a node sends).
   */
  async delayNode(slow: string, delay: LinkDelay): Promise<void> {
    const others = this.ids.filter((id) => id !== slow);
    await this.setFaults(slow, { delay: Object.fromEntries(others.map((o) => [o, delay])) });
    for (const o of others) await this.setFaults(o, { delay: { [slow]: delay } });
  }

  private async setFaults(id: string, faults: unknown): Promise<void> {
    const reply = await callJson('PUT', `${this.url(id)}/admin/faults`, faults);
    if (reply.status !== 200)
      throw new Error(`PUT /admin/faults on ${id}: ${reply.status} ${JSON.stringify(reply.body)}`);
  }

  async partition(groups: readonly (readonly string[])[]): Promise<void> {
    const reply = await callJson('POST', `${this.url(this.ids[0] as string)}/admin/partition`, {
      groups,
    });
    const failed = (reply.body as { failed?: unknown[] } | undefined)?.failed ?? [];
    if (reply.status !== 200 || failed.length > 0)
      throw new Error(`partition: ${reply.status} ${JSON.stringify(reply.body)}`);
    // Measure the partition itself, not the moments before the failure detector notices it.
    for (const group of groups) {
      const outside = this.ids.filter((id) => !group.includes(id));
      if (outside.length > 0) await this.waitAllSee(group, 'down', outside);
    }
  }

  async heal(): Promise<void> {
    const reply = await callJson('POST', `${this.url(this.ids[0] as string)}/admin/heal`, {});
    if (reply.status !== 200)
      throw new Error(`heal: ${reply.status} ${JSON.stringify(reply.body)}`);
    await this.waitAllSee(this.ids, 'up');
  }

  async stop(): Promise<void> {
    await Promise.all([...this.procs.values()].map((s) => stopProcess(s, this.stopGraceMs)));
    removeTempDir(this.dir);
  }
}
