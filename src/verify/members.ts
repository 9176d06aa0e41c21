// The nodes `kvorum verify` talks to: the cluster's members as the membership nemesis changes
// them. Clients route every operation to one of them, the link faults are narrowed to them, and
// the final reads and the convergence check ask them, not nodes that have left.

import type { NodeApi } from './node-api.js';

export class Members {
  private readonly byId = new Map<string, NodeApi>();
  /** Rebuilt on each change only, so a client can tell by identity that the members changed. */
  private current: readonly NodeApi[] = [];

  constructor(nodes: readonly NodeApi[]) {
    for (const node of nodes) this.byId.set(node.id, node);
    this.current = Object.freeze([...this.byId.values()]);
  }

  /** In the order they became members; the same array until the members change. */
  list(): readonly NodeApi[] {
    return this.current;
  }

  ids(): string[] {
    return this.current.map((node) => node.id);
  }

  get(id: string): NodeApi | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  add(node: NodeApi): void {
    this.byId.set(node.id, node);
    this.current = Object.freeze([...this.byId.values()]);
  }

  /** Clients stop choosing it at once; operations already sent to it finish as they do. */
  remove(id: string): void {
    if (!this.byId.has(id)) return;
    if (this.byId.size === 1) throw new Error(`removing ${id} would leave no member to talk to`);
    this.byId.delete(id);
    this.current = Object.freeze([...this.byId.values()]);
  }
}
