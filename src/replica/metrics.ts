// Prometheus metrics for one replica. prom-client is the standard Node exporter: it gives the
// text format, default process metrics and cheap counters, which hand-written code would not
// do better.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * CPU, memory, event loop and GC metrics describe the process, not a node, and each collection
 * starts monitors that are never stopped: so they are collected once per process, however many
 * nodes it builds (one in production; hundreds in a simulation that restarts nodes).
 */
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class ReplicaMetrics {
  /** This node's metrics and the process's, for /metrics. */
  readonly registry: Registry;
  private readonly own = new Registry();
  readonly requests: Counter<'op' | 'status'>;
  readonly latency: Histogram<'op'>;
  readonly readRepairs: Counter;
  readonly readSpeculations: Counter;
  readonly hintsReplayed: Counter;
  readonly keysRepaired: Counter;
  readonly tombstonesPurged: Counter;
  readonly siblingCapRefusals: Counter;
  readonly staleReplies: Counter<'level'>;
  readonly readStaleness: Histogram<'level'>;

  constructor(probe: { pendingHints: () => number; peersUp: () => number }) {
    this.requests = new Counter({
      name: 'kvorum_requests_total',
      help: 'Client requests by operation and HTTP status',
      labelNames: ['op', 'status'],
      registers: [this.own],
    });
    this.latency = new Histogram({
      name: 'kvorum_request_duration_seconds',
      help: 'Client request latency as seen by the coordinator',
      labelNames: ['op'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers: [this.own],
    });
    this.readRepairs = new Counter({
      name: 'kvorum_read_repairs_total',
      help: 'Stale replicas sent the newest version by a read',
      registers: [this.own],
    });
    this.readSpeculations = new Counter({
      name: 'kvorum_read_speculations_total',
      help: 'Extra replicas a read asked because one it asked was slow or failed',
      registers: [this.own],
    });
    this.hintsReplayed = new Counter({
      name: 'kvorum_hints_replayed_total',
      help: 'Hints delivered to replicas that had missed writes',
      registers: [this.own],
    });
    this.keysRepaired = new Counter({
      name: 'kvorum_anti_entropy_keys_repaired_total',
      help: 'Keys anti-entropy found different on a peer and merged on either side',
      registers: [this.own],
    });
    this.tombstonesPurged = new Counter({
      name: 'kvorum_tombstones_purged_total',
      help: 'Tombstones purged after their grace period, once every replica held them',
      registers: [this.own],
    });
    this.siblingCapRefusals = new Counter({
      name: 'kvorum_sibling_cap_refusals_total',
      help: 'Writes refused (409) because the key already held the maximum number of siblings',
      registers: [this.own],
    });
    this.staleReplies = new Counter({
      name: 'kvorum_stale_replies_total',
      help: 'Read replies that lacked a version another asked replica held, by read level',
      labelNames: ['level'],
      registers: [this.own],
    });
    this.readStaleness = new Histogram({
      name: 'kvorum_read_staleness_seconds',
      help: 'How far behind a stale read reply was: the HLC wall-time gap between its newest version and the newest any asked replica held (replies holding nothing are counted in kvorum_stale_replies_total only)',
      labelNames: ['level'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 600],
      registers: [this.own],
    });
    new Gauge({
      name: 'kvorum_hints_pending',
      help: 'Hints waiting for their replica',
      registers: [this.own],
      collect() {
        this.set(probe.pendingHints());
      },
    });
    new Gauge({
      name: 'kvorum_peers_up',
      help: 'Peers the failure detector considers up',
      registers: [this.own],
      collect() {
        this.set(probe.peersUp());
      },
    });
    this.registry = Registry.merge([processMetrics(), this.own]);
  }
}
