// The etcd baseline: a 3-member etcd cluster on loopback (when an `etcd` binary is on the PATH),
// loaded through its v3 HTTP/JSON gateway at the leader. Every member must be healthy and agree
// on the leader before anything is measured: a dead member makes etcd look faster.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { callJson, freePorts, pollUntil } from './local-net.js';
import {
  describeExit,
  isRunning,
  makeTempDir,
  removeTempDir,
  spawnLogged,
  stopProcess,
  type Spawned,
} from './processes.js';

const run = promisify(execFile);
const MEMBERS = 3;
const VERSION_TIMEOUT_MS = 5_000;
const HEALTHY_WITHIN_MS = 30_000;

export interface EtcdBinary {
  readonly path: string;
  readonly version: string;
}

/** The `etcd` on the PATH and its version, or undefined when there is none. */
export async function findEtcd(): Promise<EtcdBinary | undefined> {
  try {
    const { stdout } = await run('etcd', ['--version'], { timeout: VERSION_TIMEOUT_MS });
    const version = /etcd Version:\s*(\S+)/.exec(stdout)?.[1] ?? stdout.split('\n')[0] ?? '';
    const { stdout: where } = await run('sh', ['-c', 'command -v etcd'], {
      timeout: VERSION_TIMEOUT_MS,
    });
    return { path: where.trim() || 'etcd', version };
  } catch {
    return undefined;
  }
}

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly proc: Spawned;
}

interface StatusBody {
  header?: { member_id?: string };
  leader?: string;
}

export class EtcdCluster {
  private constructor(
    private readonly dir: string,
    private readonly members: readonly Member[],
    /** Client URL of the leader when the cluster became healthy. */
    readonly leaderUrl: string,
    readonly leaderName: string,
  ) {}

  static async start(binary: EtcdBinary): Promise<EtcdCluster> {
    const dir = makeTempDir('kvorum-bench-etcd-');
    const ports = await freePorts(2 * MEMBERS);
    const names = Array.from({ length: MEMBERS }, (_, i) => `e${i + 1}`);
    const peerUrl = (i: number) => `http://127.0.0.1:${ports[MEMBERS + i]}`;
    const initialCluster = names.map((name, i) => `${name}=${peerUrl(i)}`).join(',');
    const token = `kvorum-bench-${process.pid}-${Date.now()}`;
    const members: Member[] = [];
    const stopAll = async () => {
      await Promise.all(members.map((m) => stopProcess(m.proc)));
      removeTempDir(dir);
    };
    try {
      names.forEach((name, i) => {
        const clientUrl = `http://127.0.0.1:${ports[i]}`;
        const flags = {
          name,
          'data-dir': join(dir, name),
          'listen-client-urls': clientUrl,
          'advertise-client-urls': clientUrl,
          'listen-peer-urls': peerUrl(i),
          'initial-advertise-peer-urls': peerUrl(i),
          'initial-cluster': initialCluster,
          'initial-cluster-state': 'new',
          'initial-cluster-token': token,
          logger: 'zap',
          'log-level': 'warn',
          'log-outputs': 'stderr',
        };
        const args = Object.entries(flags).flatMap(([flag, value]) => [`--${flag}`, value]);
        const proc = spawnLogged(`etcd ${name}`, binary.path, args, join(dir, `${name}.log`));
        members.push({ name, clientUrl, proc });
      });
      const leader = await waitHealthy(members);
      return new EtcdCluster(dir, members, leader.clientUrl, leader.name);
    } catch (err) {
      await stopAll();
      throw err;
    }
  }

  /** Process name → PID, for memory sampling. */
  pids(): Map<string, number> {
    return new Map(this.members.map((m) => [m.name, m.proc.pid]));
  }

  deadMembers(): string[] {
    return this.members.filter((m) => !isRunning(m.proc)).map((m) => describeExit(m.proc));
  }

  /** Every member healthy, three members listed, and all agree on one leader. */
  async checkHealthy(): Promise<void> {
    await waitHealthy(this.members);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => stopProcess(m.proc)));
    removeTempDir(this.dir);
  }
}

async function waitHealthy(members: readonly Member[]): Promise<Member> {
  let leader: Member | undefined;
  await pollUntil(
    `all ${members.length} etcd members healthy with one leader`,
    async () => {
      const leaders = new Set<string>();
      const ids = new Map<string, Member>();
      for (const m of members) {
        if (!isRunning(m.proc)) throw new Error(describeExit(m.proc));
        const health = await callJson('GET', `${m.clientUrl}/health`);
        if ((health.body as { health?: string } | undefined)?.health !== 'true') return false;
        const status = (await callJson('POST', `${m.clientUrl}/v3/maintenance/status`, {})).body as
          StatusBody | undefined;
        if (!status?.leader || status.leader === '0' || !status.header?.member_id) return false;
        leaders.add(status.leader);
        ids.set(status.header.member_id, m);
      }
      const list = await callJson('POST', `${members[0]?.clientUrl}/v3/cluster/member/list`, {});
      const listed = (list.body as { members?: unknown[] } | undefined)?.members?.length ?? 0;
      if (leaders.size !== 1 || listed !== members.length) return false;
      leader = ids.get([...leaders][0] as string);
      return leader !== undefined;
    },
    HEALTHY_WITHIN_MS,
  );
  return leader as Member;
}
