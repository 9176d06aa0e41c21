// What `kvorum verify` runs against: a cluster it started itself (it controls the processes) or
// an existing one reached by URL (links only). The workload, the nemesis and the final read
// see only this interface.

import type { NodeApi } from './node-api.js';

/** Control of the node processes, for kill -9, SIGSTOP/SIGCONT and restarts with clock skew. */
export interface ProcessControl {
  /** SIGKILL; resolves once the process has exited. */
  kill(node: string): Promise<void>;
  /** Starts a node that is not running, with its wall clock shifted, and waits until it serves. */
  start(node: string, clockOffsetMs: number): Promise<void>;
  /** SIGSTOP: the process keeps its sockets but does nothing, like a long GC pause. */
  pause(node: string): void;
  /** SIGCONT. */
  resume(node: string): void;
}

export interface VerifyTarget {
  /** One line: `local cluster of 3 nodes in /tmp/kvorum-verify-x1y2` or the URL. */
  readonly where: string;
  readonly nodes: readonly NodeApi[];
  readonly profile: 'cp' | 'quorum' | 'ap';
  readonly conflicts: 'lww' | 'siblings';
  /** Replicas per key. */
  readonly n: number;
  readonly processes?: ProcessControl;
  /** Local: stops every process and removes the data. Remote: nothing to do. */
  close(): Promise<void>;
}
