// One running replica: store + peer transport + coordinator + HTTP API. (Being built.)

import type { ClusterConfig } from '../config.js';

export interface ReplicaOptions {
  readonly config: ClusterConfig;
  readonly id: string;
  /** Where this node keeps its LevelDB files. */
  readonly dataDir: string;
  readonly adminToken?: string;
  readonly clusterSecret?: string;
  readonly logLevel?: string;
  /** Test-only: shifts this node's wall clock, to exercise clock skew. */
  readonly clockOffsetMs?: number;
}

export interface RunningReplica {
  readonly id: string;
  readonly httpUrl: string;
  close(): Promise<void>;
}

export async function startReplica(_opts: ReplicaOptions): Promise<RunningReplica> {
  throw new Error('not built yet');
}
