// GET /admin/console: what the console page polls. `scope=node` is this node's own figures
// (the replica's facts and the HTTP layer's traffic window); `scope=cluster`, the default, adds
// what this node knows of the cluster and every other node's `scope=node`, asked over HTTP,
// so one poll shows the whole cluster. Read-only; bounded per call (one fan-out of at most
// consoleFanOutNodesMax nodes, each cut off at consoleFanOutTimeoutMs), and calls that come
// close together share one fan-out.

import { LIMITS } from '../config.js';
import type { ConsoleClusterView, ConsoleNodeView } from '../core/console-view.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { TrafficWindow } from '../core/traffic-window.js';
import type { HttpBackend } from './backend.js';

export const CONSOLE_SCOPES = Object.freeze({ cluster: 'cluster', node: 'node' } as const);
export type ConsoleScope = (typeof CONSOLE_SCOPES)[keyof typeof CONSOLE_SCOPES];

/** Only `scope` is accepted, once, as cluster or node: anything else is a 400 saying so. */
export function consoleScopeOf(query: Record<string, unknown>): ConsoleScope {
  const unknown = Object.keys(query).find((name) => name !== 'scope');
  if (unknown !== undefined) {
    throw new InvalidArgumentError(
      `unknown query parameter ${JSON.stringify(unknown).slice(0, 60)}; /admin/console takes only scope=cluster or scope=node`,
    );
  }
  const scope = query.scope;
  if (scope === undefined) return CONSOLE_SCOPES.cluster;
  if (Array.isArray(scope)) {
    throw new InvalidArgumentError('query parameter scope was given more than once');
  }
  if (scope !== CONSOLE_SCOPES.cluster && scope !== CONSOLE_SCOPES.node) {
    throw new InvalidArgumentError(
      `scope must be cluster or node; got ${JSON.stringify(scope).slice(0, 40)}`,
    );
  }
  return scope;
}

export class ConsoleViews {
  private recent: { readonly atMs: number; readonly view: Promise<ConsoleClusterView> } | undefined;

  constructor(
    private readonly backend: HttpBackend,
    private readonly traffic: TrafficWindow,
    /** Monotonic ms: the clock the traffic window counts in. */
    private readonly monotonicMs: () => number,
  ) {}

  node(): ConsoleNodeView {
    return {
      ...this.backend.console.nodeFacts(),
      traffic: {
        windowMs: LIMITS.trafficWindowMs,
        levels: this.traffic.snapshot(this.monotonicMs()),
      },
    };
  }

  /** The cluster view; one asked for within consoleViewReuseMs of another is that one. */
  cluster(): Promise<ConsoleClusterView> {
    const now = this.monotonicMs();
    if (this.recent !== undefined && now - this.recent.atMs < LIMITS.consoleViewReuseMs) {
      return this.recent.view;
    }
    const view = this.gather();
    this.recent = { atMs: now, view };
    // A failed gathering is not kept: the next call tries again.
    view.catch(() => {
      if (this.recent?.view === view) this.recent = undefined;
    });
    return view;
  }

  private async gather(): Promise<ConsoleClusterView> {
    const self = this.node();
    const facts = this.backend.console.clusterFacts();
    const peers = await this.backend.console.peerViews();
    const nodes = [{ id: self.id, view: self }, ...peers].sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
    return { ...facts, self: self.id, at: self.at, nodes };
  }
}
