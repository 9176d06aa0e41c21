// The random part of a simulated run, all drawn from the cluster's seeded stream: clients that
// read and write random keys through random live nodes (carrying the contexts their reads
// returned, stale ones too), and faults that come and go: crashes and restarts (sometimes with
// the wall clock set anew), partitions, one node cut off, message drops and link delays.

import { newestVersion } from '../../src/core/conflicts.js';
import type { ParsedContext } from '../../src/core/context.js';
import { HLC_ZERO } from '../../src/core/hlc.js';
import { partitionBlocks } from '../../src/replica/cluster-faults.js';
import type { LinkFault } from './link-faults.js';
import type { NodeCluster } from './node-cluster.js';

export interface WorkloadOptions {
  /** Client operations issued during the fault phase. */
  readonly ops: number;
  readonly keys: number;
  readonly clients: number;
  /** Length of the fault phase in virtual ms. */
  readonly chaosMs: number;
  /** Crashes, partitions, drops and delays during the fault phase. */
  readonly faults: boolean;
  /** Of the writes, the share that are deletes. */
  readonly deleteRate: number;
}

export const WORKLOAD_DEFAULTS: WorkloadOptions = Object.freeze({
  ops: 150,
  keys: 8,
  clients: 4,
  chaosMs: 3_000,
  faults: true,
  deleteRate: 0.1,
});

export class Workload {
  readonly keys: readonly string[];
  /** client -> key -> contexts its reads returned, oldest first. */
  private readonly seen: Map<string, ParsedContext[]>[];
  private readonly pending: Promise<unknown>[] = [];

  constructor(
    private readonly c: NodeCluster,
    readonly o: WorkloadOptions,
  ) {
    this.keys = Array.from({ length: o.keys }, (_, i) => `key-${i}`);
    this.seen = Array.from({ length: o.clients }, () => new Map());
  }

  /** Schedules the clients' operations and the faults, and runs the fault phase to its end. */
  async run(): Promise<void> {
    const { sched, rng } = this.c;
    for (let i = 0; i < this.o.ops; i++)
      sched.at(Math.floor(rng() * this.o.chaosMs), () => this.clientOp(), 'client op');
    if (this.o.faults) this.scheduleFaults();
    await sched.runUntil(this.o.chaosMs);
  }

  /** Every key a write named. */
  writtenKeys(): string[] {
    return [...new Set(this.c.history.writes.map((w) => w.key))].sort();
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.c.rng() * items.length)] as T;
  }

  private clientOp(): void {
    const { c } = this;
    const up = c.ids.filter((id) => c.isUp(id));
    if (up.length === 0) return;
    const node = this.pick(up);
    const key = this.pick(this.keys);
    const client = Math.floor(c.rng() * this.seen.length);
    const seen = this.seen[client] as Map<string, ParsedContext[]>;
    const contexts = [...(seen.get(key) ?? [])];
    const n = c.config.n;
    const level = (): number => 1 + Math.floor(c.rng() * n);
    const r = level();
    const w = level();
    const q = Math.floor(n / 2) + 1;
    const linearizable = c.policy.mode === 'lww' && r >= q && w >= q && c.rng() < 0.2;
    const lin = linearizable ? ', lin' : '';
    if (c.rng() < 0.4) {
      c.sched.note(`client ${client} reads ${key} via ${node} (r=${r}${lin})`);
      void c.read(node, key, { r, w, linearizable }).then((set) => {
        if (set instanceof Error) return;
        const context: ParsedContext =
          c.policy.mode === 'siblings'
            ? { kind: 'clock', clock: set?.clock ?? [] }
            : { kind: 'lww', ts: newestVersion(set)?.ts ?? HLC_ZERO };
        seen.set(key, [...(seen.get(key) ?? []), context]);
      });
      return;
    }
    // Writes carry the latest context this client read, none, or a stale one.
    const x = c.rng();
    let context: ParsedContext | undefined;
    if (contexts.length > 0 && x < 0.55) context = contexts[contexts.length - 1];
    else if (contexts.length > 0 && x < 0.8) context = this.pick(contexts);
    const tombstone = c.rng() < this.o.deleteRate;
    const what = tombstone ? 'deletes' : 'writes';
    c.sched.note(`client ${client} ${what} ${key} via ${node} (w=${w}${lin})`);
    this.pending.push(c.write(node, key, { r, w, linearizable }, { tombstone, context }).done);
  }

  private span(lo: number, hi: number): number {
    return lo + Math.floor(this.c.rng() * (hi - lo));
  }

  private scheduleFaults(): void {
    const { sched } = this.c;
    for (let t = this.span(0, 200); t < this.o.chaosMs; t += this.span(100, 400))
      sched.at(t, () => this.fault(), 'fault');
  }

  private fault(): void {
    const { c } = this;
    const x = c.rng();
    if (x < 0.3) return this.crash();
    let fault: LinkFault;
    if (x < 0.5) {
      // Two sides that cannot talk, as POST /admin/partition makes them.
      const side = c.ids.filter(() => c.rng() < 0.5);
      const other = c.ids.filter((id) => !side.includes(id));
      const blocks = partitionBlocks({ groups: [side, other].filter((g) => g.length > 0) }, c.ids);
      fault = {
        label: `partition {${side.join(',')}} | {${other.join(',')}}`,
        specs: new Map([...blocks].map(([id, block]) => [id, { block }])),
      };
    } else if (x < 0.65) {
      // One node's firewall drops one peer: the peer notices only by its silence.
      const a = this.pick(c.ids);
      const b = this.pick(c.ids.filter((id) => id !== a));
      fault = { label: `${a} blocks ${b}`, specs: new Map([[a, { block: [b] }]]) };
    } else if (x < 0.85) {
      const a = this.pick(c.ids);
      const p = this.pick([0.05, 0.1, 0.3, 1]);
      const drop = Object.fromEntries(c.ids.filter((id) => id !== a).map((id) => [id, p]));
      fault = { label: `${a} drops ${p} of what it sends`, specs: new Map([[a, { drop }]]) };
    } else {
      const a = this.pick(c.ids);
      const b = this.pick(c.ids.filter((id) => id !== a));
      const d = { ms: this.span(20, 250), jitterMs: this.span(0, 50) };
      fault = {
        label: `${a} delays what it sends ${b} by ${d.ms}±${d.jitterMs} ms`,
        specs: new Map([[a, { delay: { [b]: d } }]]),
      };
    }
    c.impose(fault);
    c.sched.at(this.span(100, 700), () => c.lift(fault), `lift: ${fault.label}`);
  }

  private crash(): void {
    const { c } = this;
    const up = c.ids.filter((id) => c.isUp(id));
    if (up.length <= 1) return;
    const id = this.pick(up);
    c.crash(id);
    const newClock = c.rng() < 0.5;
    const restart = (): void =>
      void c.revive(id, newClock).catch((err: unknown) => {
        c.history.unexpected.push(`restart of ${id} failed: ${String(err)}`);
      });
    c.sched.at(
      this.span(100, 800),
      restart,
      `restart ${id}${newClock ? ' with its clock set anew' : ''}`,
    );
  }

  /** Client writes that have not ended yet (they settle once their timeouts pass). */
  outstanding(): Promise<unknown> {
    return Promise.all(this.pending);
  }
}
