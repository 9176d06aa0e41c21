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
  /**
   * Starts a new node `serve --join <viaUrl>` on free ports, its data beside the others', and
   * waits until it serves (it is then in the layout). Later start() calls restart it.
   */
  join(node: string, viaUrl: string): Promise<NodeApi>;
  /** Resolves once the node's process has exited (how), or with undefined if still running at the deadline. */
  exited(node: string, timeoutMs: number): Promise<ProcessExit | undefined>;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: string | null;
}

export interface VerifyTarget {
  /** One line: `local cluster of 3 nodes in /tmp/kvorum-verify-x1y2` or the URL. */
  readonly where: string;
  /** The nodes it starts with; a membership nemesis changes the members from there. */
  readonly nodes: readonly NodeApi[];
  readonly profile: 'cp' | 'quorum' | 'ap';
  readonly conflicts: 'lww' | 'siblings';
  /** Replicas per key. */
  readonly n: number;
  readonly processes?: ProcessControl;
  /** Local: stops every process and removes the data. Remote: nothing to do. */
  close(): Promise<void>;
}
