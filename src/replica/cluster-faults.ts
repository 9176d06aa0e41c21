// Cluster-wide partition and heal (DESIGN 1.3): the node that receives the call computes every
// node's block list and sets it through each node's own /admin/faults, keeping that node's
// delays and drops.

import { fetchWithCa, type FetchWithCaInit } from '../client/fetch-with-ca.js';
import { LIMITS, type NodeAddress } from '../config.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { FaultSpec } from '../core/faults.js';
import type { PartitionResult } from '../http/backend.js';

const ADMIN_CALL_TIMEOUT_MS = LIMITS.adminCallTimeoutMs;

/** Validates {"groups": [["n1","n2"],["n3"]]} and returns each node's block list. */
export function partitionBlocks(raw: unknown, nodeIds: readonly string[]): Map<string, string[]> {
  const groups = (raw as { groups?: unknown } | null | undefined)?.groups;
  if (typeof raw !== 'object' || raw === null || !Array.isArray(groups) || groups.length === 0) {
    throw new InvalidArgumentError('the body must be {"groups": [["n1","n2"],["n3"]]}');
  }
  const extra = Object.keys(raw).filter((k) => k !== 'groups');
  if (extra.length > 0)
    throw new InvalidArgumentError(
      `unknown field ${JSON.stringify(extra[0])}; only "groups" is accepted`,
    );
  const groupOf = new Map<string, number>();
  groups.forEach((g, i) => {
    if (!Array.isArray(g))
      throw new InvalidArgumentError(`groups[${i}] must be an array of node ids`);
    for (const id of g) {
      if (typeof id !== 'string' || !nodeIds.includes(id)) {
        throw new InvalidArgumentError(
          `unknown node id ${JSON.stringify(id)} in groups[${i}]; known ids: ${nodeIds.join(', ')}`,
        );
      }
      if (groupOf.has(id)) throw new InvalidArgumentError(`node ${id} is in more than one group`);
      groupOf.set(id, i);
    }
  });
  const blocks = new Map<string, string[]>();
  for (const id of nodeIds) {
    const g = groupOf.get(id);
    // A node in no group is isolated from everyone.
    blocks.set(
      id,
      nodeIds.filter((other) => other !== id && (g === undefined || groupOf.get(other) !== g)),
    );
  }
  return blocks;
}

export interface ClusterFaultsOptions {
  readonly self: string;
  /** The nodes of the current layout (they change as nodes join and leave). */
  readonly nodes: () => readonly NodeAddress[];
  readonly adminToken: string | undefined;
  /** With TLS, the other nodes answer https and are trusted through the cluster CA alone. */
  readonly ca?: Buffer;
  readonly getLocal: () => FaultSpec;
  readonly setLocal: (spec: FaultSpec) => void;
}

export class ClusterFaults {
  constructor(private readonly o: ClusterFaultsOptions) {}

  async partition(raw: unknown): Promise<PartitionResult> {
    const blocks = partitionBlocks(
      raw,
      this.o.nodes().map((n) => n.id),
    );
    return this.applyAll((current, id) => ({ ...current, block: blocks.get(id) ?? [] }));
  }

  async heal(): Promise<PartitionResult> {
    return this.applyAll(() => ({ block: [], delay: {}, drop: {} }));
  }

  private async applyAll(
    next: (current: FaultSpec, id: string) => FaultSpec,
  ): Promise<PartitionResult> {
    const nodes = this.o.nodes();
    const results = await Promise.allSettled(
      nodes.map(async (node) => {
        if (node.id === this.o.self) this.o.setLocal(next(this.o.getLocal(), node.id));
        else await this.applyRemote(node, next);
        return node.id;
      }),
    );
    const out: PartitionResult = { applied: [], failed: [] };
    results.forEach((r, i) => {
      const id = (nodes[i] as NodeAddress).id;
      if (r.status === 'fulfilled') out.applied.push(id);
      else
        out.failed.push({
          id,
          error: r.reason instanceof Error ? r.reason.message : String(r.reason),
        });
    });
    return out;
  }

  private async applyRemote(
    node: NodeAddress,
    next: (current: FaultSpec, id: string) => FaultSpec,
  ): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.o.adminToken !== undefined) headers.authorization = `Bearer ${this.o.adminToken}`;
    const url = `${node.http}/admin/faults`;
    const ca = this.o.ca;
    const call = (init: FetchWithCaInit) =>
      ca === undefined ? fetch(url, init) : fetchWithCa(url, init, ca);
    const got = await call({ headers, signal: AbortSignal.timeout(ADMIN_CALL_TIMEOUT_MS) });
    if (!got.ok) throw new Error(`GET ${url} answered ${got.status}`);
    const current = (await got.json()) as FaultSpec;
    const put = await call({
      method: 'PUT',
      headers,
      body: JSON.stringify(next(current, node.id)),
      signal: AbortSignal.timeout(ADMIN_CALL_TIMEOUT_MS),
    });
    if (!put.ok)
      throw new Error(`PUT ${url} answered ${put.status}: ${(await put.text()).slice(0, 200)}`);
  }
}
