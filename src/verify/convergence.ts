// After the heal: wait until every node sees every other, then read every key's copy on each of
// its replicas (GET /admin/keys), triggering anti-entropy (POST /admin/repair) until the replicas
// agree and no hints are left to replay, or a deadline passes. The last full read is the final
// state the loss and set checkers judge.

import { LIMITS } from '../config.js';
import { Ring } from '../core/ring.js';
import { divergentKeys, type LocalCopy, type Snapshot } from './final-state.js';
import type { NodeApi } from './node-api.js';
import { sleep } from './sleep.js';
import { VERIFY_LIMITS } from './verify-limits.js';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Resolves with the nodes that still do not see everyone up at the deadline (none: recovered). */
export async function awaitRecovery(
  nodes: readonly NodeApi[],
  signal?: AbortSignal,
  deadlineMs: number = VERIFY_LIMITS.recoveryDeadlineMs,
): Promise<string[]> {
  const until = performance.now() + deadlineMs;
  let lagging: string[];
  do {
    const views = await Promise.all(
      nodes.map(async (node) => {
        try {
          const status = await node.status();
          return status.nodes.every((peer) => peer.state === 'up');
        } catch {
          return false;
        }
      }),
    );
    lagging = nodes.filter((_, i) => !views[i]).map((node) => node.id);
    if (lagging.length === 0 || signal?.aborted) return lagging;
    await sleep(VERIFY_LIMITS.convergencePollMs, signal);
  } while (performance.now() < until);
  return lagging;
}

/** A key's replicas, from the same ring the nodes build. */
export function replicaPlacement(nodeIds: readonly string[], n: number): (key: string) => string[] {
  const ring = new Ring(nodeIds, LIMITS.vnodesPerNode);
  return (key) => ring.preferenceList(key, n);
}

export interface ConvergenceResult {
  readonly converged: boolean;
  /** From the call until the replicas agreed (or until it gave up). */
  readonly elapsedMs: number;
  readonly rounds: number;
  /** Keys whose replicas still disagree when it gave up. */
  readonly divergent: readonly string[];
  /** Hints still waiting for replay when it gave up. */
  readonly hintsPending: number;
  /** Every key's copy on each of its replicas, as last read. */
  readonly snapshot: Snapshot;
  /** Admin calls that failed along the way. */
  readonly problems: readonly string[];
}

export interface ConvergenceOptions {
  readonly nodes: readonly NodeApi[];
  readonly keys: readonly string[];
  readonly replicasOf: (key: string) => readonly string[];
  readonly deadlineMs?: number;
  /** Aborting gives up at once (not converged). */
  readonly signal?: AbortSignal;
}

export async function awaitConvergence(o: ConvergenceOptions): Promise<ConvergenceResult> {
  const started = performance.now();
  const deadlineMs = o.deadlineMs ?? VERIFY_LIMITS.convergenceDeadlineMs;
  const byId = new Map(o.nodes.map((node) => [node.id, node]));
  const snapshot = new Map<string, Map<string, LocalCopy | null>>();
  const problems: string[] = [];
  let pending: readonly string[] = o.keys;
  let rounds = 0;
  let hintsPending = 0;
  // Keys that agreed may still change while hints are replayed: a clean round re-reads them all.
  let confirming = false;
  for (;;) {
    rounds += 1;
    const failed = await readCopies(pending, o.replicasOf, byId, snapshot, problems);
    const sub = new Map(pending.map((key) => [key, snapshot.get(key)!]));
    const divergent = [...new Set([...divergentKeys(sub), ...failed])];
    hintsPending = await countHints(o.nodes, problems);
    if (divergent.length === 0 && hintsPending === 0) {
      if (confirming || pending.length === o.keys.length) {
        return result(true, divergent);
      }
      confirming = true;
      pending = o.keys;
      continue;
    }
    confirming = false;
    pending = divergent.length > 0 ? divergent : o.keys;
    if (performance.now() - started > deadlineMs || o.signal?.aborted) {
      return result(false, divergent);
    }
    await Promise.all(
      o.nodes.map((node) =>
        node.repair().catch((err: unknown) => void problems.push(message(err))),
      ),
    );
    await sleep(VERIFY_LIMITS.convergencePollMs, o.signal);
  }

  function result(converged: boolean, divergent: readonly string[]): ConvergenceResult {
    return {
      converged,
      elapsedMs: performance.now() - started,
      rounds,
      divergent,
      hintsPending,
      snapshot,
      problems: [...new Set(problems)],
    };
  }
}

/** Reads each key's copy on each of its replicas; returns the keys some replica did not answer. */
async function readCopies(
  keys: readonly string[],
  replicasOf: (key: string) => readonly string[],
  byId: ReadonlyMap<string, NodeApi>,
  snapshot: Map<string, Map<string, LocalCopy | null>>,
  problems: string[],
): Promise<string[]> {
  const failed = new Set<string>();
  const jobs = keys.flatMap((key) => replicasOf(key).map((node) => ({ key, node })));
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const { key, node } = jobs[next++]!;
      let copies = snapshot.get(key);
      if (copies === undefined) snapshot.set(key, (copies = new Map()));
      try {
        copies.set(node, await byId.get(node)!.localCopy(key));
      } catch (err) {
        failed.add(key);
        problems.push(message(err));
      }
    }
  };
  await Promise.all(Array.from({ length: VERIFY_LIMITS.copyReadsInFlightMax }, worker));
  return [...failed];
}

async function countHints(nodes: readonly NodeApi[], problems: string[]): Promise<number> {
  const counts = await Promise.all(
    nodes.map(async (node) => {
      try {
        const status = (await node.status()) as { hints?: { pending?: number } };
        return status.hints?.pending ?? 0;
      } catch (err) {
        problems.push(message(err));
        return 1; // unknown: not yet converged
      }
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}
