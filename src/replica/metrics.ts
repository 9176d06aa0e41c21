// Prometheus metrics for one replica. prom-client is the standard Node exporter: it gives the
// text format, default process metrics and cheap counters, which hand-written code would not
// do better.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ReplicaMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'op' | 'status'>;
  readonly latency: Histogram<'op'>;
  readonly readRepairs: Counter;
  readonly readSpeculations: Counter;
  readonly hintsReplayed: Counter;
  readonly keysRepaired: Counter;
  readonly tombstonesPurged: Counter;
  readonly siblingCapRefusals: Counter;

  constructor(probe: { pendingHints: () => number; peersUp: () => number }) {
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'kvorum_requests_total',
      help: 'Client requests by operation and HTTP status',
      labelNames: ['op', 'status'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'kvorum_request_duration_seconds',
      help: 'Client request latency as seen by the coordinator',
      labelNames: ['op'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers: [this.registry],
    });
    this.readRepairs = new Counter({
      name: 'kvorum_read_repairs_total',
      help: 'Stale replicas sent the newest version by a read',
      registers: [this.registry],
    });
    this.readSpeculations = new Counter({
      name: 'kvorum_read_speculations_total',
      help: 'Extra replicas a read asked because one it asked was slow or failed',
      registers: [this.registry],
    });
    this.hintsReplayed = new Counter({
      name: 'kvorum_hints_replayed_total',
      help: 'Hints delivered to replicas that had missed writes',
      registers: [this.registry],
    });
    this.keysRepaired = new Counter({
      name: 'kvorum_anti_entropy_keys_repaired_total',
      help: 'Keys anti-entropy found different on a peer and merged on either side',
      registers: [this.registry],
    });
    this.tombstonesPurged = new Counter({
      name: 'kvorum_tombstones_purged_total',
      help: 'Tombstones purged after their grace period, once every replica held them',
      registers: [this.registry],
    });
    this.siblingCapRefusals = new Counter({
      name: 'kvorum_sibling_cap_refusals_total',
      help: 'Writes refused (409) because the key already held the maximum number of siblings',
      registers: [this.registry],
    });
    new Gauge({
      name: 'kvorum_hints_pending',
      help: 'Hints waiting for their replica',
      registers: [this.registry],
      collect() {
        this.set(probe.pendingHints());
      },
    });
    new Gauge({
      name: 'kvorum_peers_up',
      help: 'Peers the failure detector considers up',
      registers: [this.registry],
      collect() {
        this.set(probe.peersUp());
      },
    });
  }
}
