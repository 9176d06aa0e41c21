// A simulated cluster driving the real Coordinator: nodes with SimReplica state, a seeded
// SimNetwork between them, clients issuing random reads and writes at random coordinators
// while faults come and go, and then a heal phase (hint replay and anti-entropy until nothing
// changes). Everything that happened is recorded for the checks in checks.ts.

import type { ConflictMode } from '../../src/config.js';
import { LIMITS } from '../../src/config.js';
import { newestVersion, policyFor, type ConflictPolicy } from '../../src/core/conflicts.js';
import type { ParsedContext } from '../../src/core/context.js';
import { Coordinator } from '../../src/core/coordinator.js';
import { TimeoutError, TooManySiblingsError, UnavailableError } from '../../src/core/errors.js';
import { compareHlc, type Hlc } from '../../src/core/hlc.js';
import type { RequestOptions } from '../../src/core/quorum.js';
import type { NewContent, UpdateRequest } from '../../src/core/replica-links.js';
import { ringPlacement } from '../../src/core/placement.js';
import { Ring } from '../../src/core/ring.js';
import { clockGet, type Dot, type VClock, type VersionSet } from '../../src/core/version-set.js';
import { seededRng } from '../support/rng.js';
import { Scheduler, simClock } from './scheduler.js';
import { SimNetwork, type NetworkConfig } from './sim-network.js';
import { SimHints, SimLinks, SimReplica, type Recorder, type World } from './sim-replica.js';

export interface SimOptions {
  readonly seed: number;
  readonly mode: ConflictMode;
  readonly nodes: number;
  readonly n?: number;
  readonly vnodes?: number;
  /** Client operations issued during the fault phase. */
  readonly ops?: number;
  readonly keys?: number;
  readonly clients?: number;
  /** Length of the fault phase in virtual ms. */
  readonly chaosMs?: number;
  /** Crashes, partitions and drops during the fault phase. */
  readonly faults?: boolean;
  /** False: the HintSink keeps nothing, so only anti-entropy repairs. */
  readonly hintedHandoff?: boolean;
  readonly sloppyQuorum?: boolean;
  /** Hint replay and anti-entropy also run now and then during the fault phase. */
  readonly background?: boolean;
  readonly readRepair?: 'before' | 'after';
  readonly timeoutMs?: number;
  readonly network?: Partial<NetworkConfig>;
}

export type Outcome = 'pending' | 'ok' | 'failed' | 'indeterminate';

export interface WriteRecord {
  readonly id: number;
  readonly key: string;
  readonly value: string;
  readonly tombstone: boolean;
  /** Siblings mode: the clock the write carried (empty without a context). */
  readonly context: VClock;
  /** Lww mode: the stamp of the read whose context the write carried. */
  readonly seen: Hlc | undefined;
  readonly coordinator: string;
  readonly w: number;
  /** The content object handed to the coordinator: issuers see this very object. */
  readonly content: NewContent;
  outcome: Outcome;
  /** What the coordinator answered with: the stamped version or the issuer's new set. */
  result?: VersionSet;
  /** Virtual time of the acknowledgement. */
  ackedAt?: number;
  /** Nodes holding the write (in their store, or as a hint for a home) when it was acknowledged. */
  holdersAtAck?: number;
}

export interface ReadRecord {
  readonly key: string;
  readonly r: number;
  readonly startedAt: number;
  /** What the read answered (undefined: no replica holds the key). */
  readonly set: VersionSet | undefined;
}

export interface IssuedWrite {
  readonly key: string;
  readonly dot: Dot;
  readonly value: string;
  readonly tombstone: boolean;
  readonly context: VClock;
}

export interface ConvergeReport {
  readonly converged: boolean;
  readonly rounds: number;
  readonly hintsReplayed: number;
  readonly aeRepaired: number;
}

const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dotId = (key: string, dot: Dot): string => `${key}\u0000${dot.node}:${dot.counter}`;
export const hlcId = (ts: Hlc): string => `${ts.wallMs}.${ts.logical}.${ts.node}`;

/** Everything replicas did, as the checks need it. */
export class History implements Recorder {
  readonly writes: WriteRecord[] = [];
  /** Reads that answered. */
  readonly reads: ReadRecord[] = [];
  /** Siblings mode: every dot any replica issued, by dotId. */
  readonly issuedDots = new Map<string, IssuedWrite>();
  /** Siblings mode: the dot each write was issued with, by the content the client sent. */
  readonly dotOf = new Map<NewContent, Dot>();
  /** Every value any replica stored, with the stamp it was stored with (first seen). */
  readonly storedValues = new Map<string, string>();
  /** key -> the highest stamp any replica ever stored for it. */
  readonly maxStored = new Map<string, Hlc>();
  readonly anomalies: string[] = [];
  readonly unexpected: string[] = [];

  constructor(private readonly policy: ConflictPolicy) {}

  issued(node: string, key: string, req: UpdateRequest, set: VersionSet): void {
    const dot: Dot = { node, counter: clockGet(set.clock, node) };
    const own = set.siblings.find((s) => s.dot?.node === node && s.dot.counter === dot.counter);
    if (own === undefined) {
      this.anomalies.push(`${node} issued ${dotId(key, dot)} but does not hold it`);
      return;
    }
    if (this.dotOf.has(req.content)) this.anomalies.push(`one write was issued twice`);
    if (this.issuedDots.has(dotId(key, dot)))
      this.anomalies.push(`${dotId(key, dot)} was given to two writes`);
    this.dotOf.set(req.content, dot);
    this.issuedDots.set(dotId(key, dot), {
      key,
      dot,
      value: dec(own.value),
      tombstone: own.tombstone,
      context: req.context,
    });
  }

  stored(node: string, key: string, set: VersionSet): void {
    // Values are unique per write, so a value is stamped once; tombstones carry no value.
    for (const s of set.siblings) {
      if (s.tombstone) continue;
      const id = `${key}\u0000${dec(s.value)}`;
      const ts = hlcId(s.ts);
      const first = this.storedValues.get(id);
      if (first === undefined) this.storedValues.set(id, ts);
      else if (first !== ts)
        this.anomalies.push(`${node}: ${key}=${dec(s.value)} stored with stamps ${first}, ${ts}`);
    }
    if (this.policy.mode === 'lww') {
      const v = newestVersion(set)!;
      const max = this.maxStored.get(key);
      if (max === undefined || compareHlc(v.ts, max) > 0) this.maxStored.set(key, v.ts);
    }
  }
}

export class SimCluster {
  readonly sched: Scheduler;
  readonly rng: () => number;
  readonly net: SimNetwork;
  readonly ring: Ring;
  readonly n: number;
  readonly policy: ConflictPolicy;
  readonly replicas = new Map<string, SimReplica>();
  readonly history: History;
  readonly nodeIds: readonly string[];
  readonly keys: readonly string[];
  private readonly world: World;
  /** Keys repaired by the anti-entropy exchanges of the fault phase. */
  backgroundAeRepaired = 0;
  private readonly coordinators = new Map<string, { epoch: number; coordinator: Coordinator }>();
  readonly o: Required<Omit<SimOptions, 'network'>>;

  constructor(options: SimOptions) {
    this.o = {
      n: 3,
      vnodes: 16,
      ops: 120,
      keys: 8,
      clients: 4,
      chaosMs: 3_000,
      faults: true,
      hintedHandoff: true,
      sloppyQuorum: false,
      background: true,
      readRepair: 'after',
      timeoutMs: 300,
      ...options,
    };
    this.sched = new Scheduler(options.seed);
    this.rng = seededRng(options.seed);
    this.nodeIds = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
    this.keys = Array.from({ length: this.o.keys }, (_, i) => `key-${i}`);
    this.n = this.o.n;
    this.policy = policyFor(options.mode);
    this.history = new History(this.policy);
    this.ring = new Ring(this.nodeIds, this.o.vnodes);
    this.net = new SimNetwork(this.sched, this.rng, this.nodeIds, options.network);
    this.world = {
      ring: this.ring,
      n: this.n,
      policy: this.policy,
      net: this.net,
      replicas: this.replicas,
      recorder: this.history,
      siblingsMax: LIMITS.siblingsMaxDefault,
      peerTimeoutMs: 500,
    };
    for (const id of this.nodeIds) {
      // Wall clocks disagree by up to 40 ms either way, as real ones do.
      const skew = Math.floor(this.rng() * 81) - 40;
      this.replicas.set(id, new SimReplica(id, this.world, simClock(this.sched, skew)));
    }
  }

  preferenceList(key: string): string[] {
    return this.ring.preferenceList(key, this.n);
  }

  /** The coordinator of the node's current incarnation (a restart starts a new one). */
  coordinator(node: string): Coordinator {
    const epoch = this.net.epoch(node);
    const cached = this.coordinators.get(node);
    if (cached !== undefined && cached.epoch === epoch) return cached.coordinator;
    const replica = this.replicas.get(node)!;
    const links = new SimLinks(node, this.world);
    const coordinator = new Coordinator({
      placement: ringPlacement(this.ring, this.n),
      n: this.n,
      links,
      hints: new SimHints(replica, links, this.o.hintedHandoff),
      hlc: replica.hlc,
      clock: replica.clock,
      policy: this.policy,
      readRepair: this.o.readRepair,
      sloppyQuorum: this.o.sloppyQuorum,
      targetedReads: {
        timers: { after: (ms, fn) => this.sched.at(ms, fn, `${node} read speculation timer`) },
        speculateMs: 10,
      },
      onBackgroundError: () => undefined,
    });
    this.coordinators.set(node, { epoch, coordinator });
    return coordinator;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rng() * items.length)] as T;
  }

  private upNodes(): string[] {
    return this.nodeIds.filter((id) => !this.net.isDown(id));
  }

  /** Issues one write through `node`'s coordinator and records how it ended. */
  write(
    node: string,
    key: string,
    opts: RequestOptions,
    content: { value?: string; tombstone?: boolean; context?: ParsedContext },
  ): { record: WriteRecord; done: Promise<void> } {
    const id = this.history.writes.length;
    const tombstone = content.tombstone ?? false;
    const value = tombstone ? '' : (content.value ?? `v${id}`);
    const body: NewContent = { value: enc(value), contentType: 'text/plain', tombstone };
    const record: WriteRecord = {
      id,
      key,
      value,
      tombstone,
      content: body,
      context: content.context?.kind === 'clock' ? content.context.clock : [],
      seen: content.context?.kind === 'lww' ? content.context.ts : undefined,
      coordinator: node,
      w: opts.w,
      outcome: 'pending',
    };
    this.history.writes.push(record);
    const epoch = this.net.epoch(node);
    const done = this.coordinator(node)
      .write(key, body, opts, content.context)
      .then(
        (res) => {
          // A client whose coordinator crashed mid-request never hears the answer.
          record.outcome = this.net.epoch(node) === epoch ? 'ok' : 'indeterminate';
          record.result = res.set;
          record.ackedAt = this.sched.now;
          record.holdersAtAck = this.holders(key, res.set);
        },
        (err: unknown) => {
          if (err instanceof UnavailableError || err instanceof TooManySiblingsError)
            record.outcome = 'failed';
          else if (err instanceof TimeoutError) record.outcome = 'indeterminate';
          else {
            record.outcome = 'indeterminate';
            this.history.unexpected.push(`write ${id} of ${key}: ${String(err)}`);
          }
        },
      );
    return { record, done };
  }

  read(node: string, key: string, opts: RequestOptions): Promise<VersionSet | undefined | Error> {
    const startedAt = this.sched.now;
    const epoch = this.net.epoch(node);
    return this.coordinator(node)
      .read(key, opts)
      .then(
        (res) => {
          if (this.net.epoch(node) === epoch)
            this.history.reads.push({ key, r: opts.r, startedAt, set: res.set });
          return res.set;
        },
        (err: unknown) => {
          if (!(err instanceof UnavailableError || err instanceof TimeoutError))
            this.history.unexpected.push(`read of ${key}: ${String(err)}`);
          return err as Error;
        },
      );
  }

  /** Schedules the clients' operations, the faults and the background repair of the fault phase. */
  startWorkload(): void {
    const { ops, chaosMs, clients } = this.o;
    // client -> key -> contexts its reads returned, oldest first.
    const seen = Array.from({ length: clients }, () => new Map<string, ParsedContext[]>());
    for (let i = 0; i < ops; i++) {
      this.sched.at(Math.floor(this.rng() * chaosMs), () => this.clientOp(seen), 'client op');
    }
    if (this.o.faults) this.scheduleFaults(chaosMs);
    if (this.o.background) this.scheduleBackground(chaosMs);
  }

  private clientOp(seen: Map<string, ParsedContext[]>[]): void {
    const up = this.upNodes();
    if (up.length === 0) return;
    const node = this.pick(up);
    const key = this.pick(this.keys);
    const client = Math.floor(this.rng() * seen.length);
    const contexts = [...(seen[client]!.get(key) ?? [])];
    const level = (): number => 1 + Math.floor(this.rng() * this.n);
    const r = level();
    const w = level();
    const q = Math.floor(this.n / 2) + 1;
    const linearizable = this.policy.mode === 'lww' && r >= q && w >= q && this.rng() < 0.2;
    const opts: RequestOptions = { r, w, linearizable, timeoutMs: this.o.timeoutMs };
    if (this.rng() < 0.4) {
      this.sched.note(
        `client ${client} reads ${key} via ${node} (r=${r}${linearizable ? ', lin' : ''})`,
      );
      void this.read(node, key, opts).then((set) => {
        if (set instanceof Error) return;
        const context: ParsedContext =
          this.policy.mode === 'siblings'
            ? { kind: 'clock', clock: set?.clock ?? [] }
            : { kind: 'lww', ts: newestVersion(set)?.ts ?? { wallMs: 0, logical: 0, node: '' } };
        const list = seen[client]!.get(key) ?? [];
        list.push(context);
        seen[client]!.set(key, list);
      });
      return;
    }
    // Writes carry the latest context this client read, none, or a stale one.
    const x = this.rng();
    let context: ParsedContext | undefined;
    if (contexts.length > 0 && x < 0.55) context = contexts[contexts.length - 1];
    else if (contexts.length > 0 && x < 0.8) context = this.pick(contexts);
    const tombstone = this.rng() < 0.1;
    const what = tombstone ? 'deletes' : 'writes';
    this.sched.note(
      `client ${client} ${what} ${key} via ${node} (w=${w}${linearizable ? ', lin' : ''})`,
    );
    void this.write(node, key, opts, { tombstone, context }).done;
  }

  private scheduleFaults(chaosMs: number): void {
    const span = (lo: number, hi: number): number => lo + Math.floor(this.rng() * (hi - lo));
    for (let t = span(0, 200); t < chaosMs; t += span(100, 400)) {
      const fault = (): void => {
        const x = this.rng();
        if (x < 0.3) {
          const up = this.upNodes();
          if (up.length <= 1) return;
          const node = this.pick(up);
          this.sched.note(`crash ${node}`);
          this.net.crash(node);
          this.sched.at(span(100, 800), () => this.net.restart(node), `restart ${node}`);
        } else if (x < 0.6) {
          const side = this.nodeIds.filter(() => this.rng() < 0.5);
          const other = this.nodeIds.filter((id) => !side.includes(id));
          const pairs = side.flatMap((a) => other.map((b) => [a, b] as const));
          const cut = `{${side.join(',')}} | {${other.join(',')}}`;
          this.sched.note(`partition ${cut}`);
          for (const [a, b] of pairs) this.net.cut(a, b);
          const mend = (): void => {
            for (const [a, b] of pairs) this.net.mend(a, b);
          };
          this.sched.at(span(100, 600), mend, `mend partition ${cut}`);
        } else if (x < 0.8) {
          const a = this.pick(this.nodeIds);
          const b = this.pick(this.nodeIds.filter((id) => id !== a));
          this.sched.note(`cut ${a} | ${b}`);
          this.net.cut(a, b);
          this.sched.at(span(100, 500), () => this.net.mend(a, b), `mend ${a} | ${b}`);
        } else {
          this.net.config.dropRate = this.pick([0, 0.02, 0.05, 0.1]);
          this.sched.note(`drop rate ${this.net.config.dropRate}`);
        }
      };
      this.sched.at(t, fault, 'fault');
    }
  }

  private scheduleBackground(chaosMs: number): void {
    for (const replica of this.replicas.values()) {
      const replay = (): void => {
        if (this.sched.now >= chaosMs) return;
        void replica.replayHints();
        this.sched.at(200 + Math.floor(this.rng() * 100), replay, `${replica.id} replays hints`);
      };
      this.sched.at(Math.floor(this.rng() * 250), replay, `${replica.id} replays hints`);
    }
    const ae = (): void => {
      if (this.sched.now >= chaosMs) return;
      const a = this.pick(this.nodeIds);
      const b = this.pick(this.nodeIds.filter((id) => id !== a));
      this.sched.note(`anti-entropy ${a} with ${b}`);
      if (!this.net.isDown(a) && this.net.believesUp(a, b))
        this.replicas
          .get(a)!
          .exchangeWith(b)
          .then(
            (r) => (this.backgroundAeRepaired += r.keysRepaired),
            () => undefined,
          );
      this.sched.at(300 + Math.floor(this.rng() * 200), ae, 'anti-entropy');
    };
    this.sched.at(Math.floor(this.rng() * 300), ae, 'anti-entropy');
  }

  /** Runs the fault phase to its end and lets every request still out finish. */
  async runWorkload(): Promise<void> {
    this.startWorkload();
    await this.sched.runUntil(this.o.chaosMs);
  }

  /**
   * Ends every fault, then replays hints and runs anti-entropy between every pair of nodes
   * until a round changes nothing (at most maxRounds rounds).
   */
  async healAndConverge(maxRounds = 8): Promise<ConvergeReport> {
    this.net.heal();
    await this.sched.runUntilIdle();
    let hintsReplayed = 0;
    let aeRepaired = 0;
    for (let round = 1; round <= maxRounds; round++) {
      const replayed = (
        await this.sched.run(Promise.all([...this.replicas.values()].map((r) => r.replayHints())))
      ).reduce((a, b) => a + b, 0);
      let repaired = 0;
      let truncated = false;
      for (const [i, a] of this.nodeIds.entries()) {
        for (const b of this.nodeIds.slice(i + 1)) {
          const r = await this.sched.run(this.replicas.get(a)!.exchangeWith(b));
          repaired += r.keysRepaired;
          truncated ||= r.truncated;
        }
      }
      await this.sched.runUntilIdle();
      hintsReplayed += replayed;
      aeRepaired += repaired;
      const hintsLeft = [...this.replicas.values()].some((r) => r.hintCount() > 0);
      if (replayed === 0 && repaired === 0 && !truncated && !hintsLeft)
        return { converged: true, rounds: round, hintsReplayed, aeRepaired };
    }
    return { converged: false, rounds: maxRounds, hintsReplayed, aeRepaired };
  }

  /** Nodes whose store, or whose hints for one of the key's homes, hold everything in `set`. */
  holders(key: string, set: VersionSet): number {
    const pref = this.preferenceList(key);
    let n = 0;
    for (const r of this.replicas.values()) {
      const sets = [r.read(key), ...pref.map((home) => r.hints.get(home)?.get(key))];
      if (sets.some((x) => x !== undefined && this.policy.dominates(x, set))) n += 1;
    }
    return n;
  }

  /** Every key any write named. */
  writtenKeys(): string[] {
    return [...new Set(this.history.writes.map((w) => w.key))].sort();
  }
}
