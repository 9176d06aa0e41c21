// A simulated cluster of real kvorum nodes: each is src/node.ts's createNode over its own
// memory-level store, a SimTransport on one seeded network, a virtual clock with its own skew,
// and timers on the scheduler. Clients call each node's coordinator; faults are the admin API's
// FaultSpec vocabulary (partitions, drops, delays; link-faults.ts) plus crashes, and everything
// that happened is recorded in a History for the checks in checks.ts.
//
// A crash is abrupt: SimNetwork.crash makes the node's messages vanish (its peers' requests
// time out), its timers stop firing and its view of the store is fenced (fenced-store.ts). The
// store itself is its disk and survives. A restart stops the dead node's transport (its peers
// see the link reset, as they would a rebooted host's), and createNode builds a new node over
// the same store, with its wall clock possibly set anew within the cluster's offset.

import { pino } from 'pino';
import {
  LIMITS,
  parseClusterConfig,
  type ClusterConfig,
  type ConflictMode,
  type NodeAddress,
  type ProfileName,
} from '../../src/config.js';
import type { Timers } from '../../src/core/clock.js';
import { policyFor, type ConflictPolicy } from '../../src/core/conflicts.js';
import type { ParsedContext } from '../../src/core/context.js';
import {
  isSettled,
  newestVersion,
  replicaSets,
  ringOf,
  type LayoutHistory,
} from '../../src/core/layout.js';
import { Ring } from '../../src/core/ring.js';
import type { VersionSet } from '../../src/core/version-set.js';
import { createNode, type KvorumNode } from '../../src/node.js';
import { NotAPeerError } from '../../src/replica/anti-entropy.js';
import { PurgeHeldError } from '../../src/replica/local-replica.js';
import { ConflictError, InvalidArgumentError } from '../../src/core/errors.js';
import { memoryStore, type LevelReplicaStore } from '../../src/storage/level-store.js';
import { seededRng } from '../support/rng.js';
import { ClientOps, type Coordinating, type Level } from './client-ops.js';
import { FencedStore } from './fenced-store.js';
import { History, type WriteRecord } from './history.js';
import { faultSpecOf, type LinkFault } from './link-faults.js';
import type { FaultSpec } from '../../src/core/faults.js';
import { SIM_EPOCH_MS, Scheduler, simClock } from './scheduler.js';
import { SimNetwork, type NetworkConfig } from './sim-network.js';
import { SimSwitchboard, SimTransport } from './sim-transport.js';

export interface NodeClusterOptions {
  readonly seed: number;
  readonly mode: ConflictMode;
  readonly nodes: number;
  readonly n?: number;
  /** False: no hints are kept, so sloppy quorum is off and only anti-entropy repairs. */
  readonly hintedHandoff?: boolean;
  /** Writes for a home replica that is down go to a stand-in as a hint (the `ap` profile). */
  readonly sloppyQuorum?: boolean;
  /** 'before': reads repair a quorum before answering (the `cp` profile; lww only). */
  readonly readRepair?: 'before' | 'after';
  /** Each node's own anti-entropy schedule; 0: none (repairs only when asked). */
  readonly antiEntropyIntervalMs?: number;
  readonly timeoutMs?: number;
  readonly tombstoneGraceMs?: number;
  /** Wall clocks differ by at most this (each node is off by up to half of it either way). */
  readonly maxClockOffsetMs?: number;
  readonly network?: Partial<NetworkConfig>;
}

export interface Defaults {
  readonly n: number;
  readonly hintedHandoff: boolean;
  readonly sloppyQuorum: boolean;
  readonly readRepair: 'before' | 'after';
  readonly antiEntropyIntervalMs: number;
  readonly timeoutMs: number;
  readonly tombstoneGraceMs: number;
  readonly maxClockOffsetMs: number;
}

export const CLUSTER_DEFAULTS: Defaults = Object.freeze({
  n: 3,
  hintedHandoff: true,
  sloppyQuorum: false,
  readRepair: 'after',
  antiEntropyIntervalMs: 800,
  timeoutMs: 300,
  // Far above the longest a message or a request can take, so a purge never races a write
  // still on its way; short enough that tombstones are purged within a run.
  tombstoneGraceMs: 1_500,
  maxClockOffsetMs: 100,
});

export interface ConvergeReport {
  readonly converged: boolean;
  readonly rounds: number;
  readonly aeRepaired: number;
}

/** One node id, its durable store, and the incarnation running on it (none while down). */
interface Slot {
  readonly id: string;
  readonly address: NodeAddress;
  readonly store: LevelReplicaStore;
  /** Removed from the layout: never restarted, and left out of the checks. */
  departed: boolean;
  /** A joiner's first layout, as serve --join keeps it in joined.json for every start. */
  initialLayout?: LayoutHistory;
  /** Settles when the running incarnation crashes: what waited on it waits no more. */
  died: Promise<never>;
  die: (err: Error) => void;
  skewMs: number;
  incarnation: number;
  up: boolean;
  node: KvorumNode | undefined;
  fence: FencedStore | undefined;
  /** A crashed incarnation whose transport is stopped when the node restarts. */
  dead: KvorumNode | undefined;
}

export class NodeCluster {
  readonly sched: Scheduler;
  readonly rng: () => number;
  readonly net: SimNetwork;
  readonly config: ClusterConfig;
  readonly policy: ConflictPolicy;
  readonly history: History;
  /** The members: the first nodes, then those that joined, less those that left. */
  readonly ids: string[];
  readonly ring: Ring;
  /** Whether any join or leave was agreed: preference lists then come from the layout. */
  private layoutChanged = false;
  readonly o: Defaults & NodeClusterOptions;
  private readonly board: SimSwitchboard;
  private readonly slots = new Map<string, Slot>();
  private readonly faults = new Set<LinkFault>();
  private readonly clients: ClientOps;
  private nextIndex: number;
  /**
   * Joins whose every attempt went unanswered: each may still be decided (a proposer told "no
   * majority" does not know). settle deals with those the layout comes to name, as an operator
   * would: by running serve --join again, or by removing the node that never started.
   */
  private readonly abandoned = new Map<string, { address: NodeAddress; retry: boolean }>();
  /** Nodes a leave removed (or excused) as dead: what only they held may be gone with them. */
  readonly removedDead = new Set<string>();
  /** Keys repaired by anti-entropy in incarnations that have ended. */
  private aeRepairedBefore = 0;

  private constructor(options: NodeClusterOptions) {
    this.o = { ...CLUSTER_DEFAULTS, ...options };
    this.sched = new Scheduler(options.seed);
    this.rng = seededRng(options.seed);
    this.ids = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
    this.nextIndex = options.nodes + 1;
    this.config = parseClusterConfig({
      cluster: 'sim',
      profile: this.profile(),
      conflicts: options.mode,
      n: this.o.n,
      timeoutMs: this.o.timeoutMs,
      tombstoneGraceMs: this.o.tombstoneGraceMs,
      antiEntropyIntervalMs: this.o.antiEntropyIntervalMs,
      hintedHandoff: this.o.hintedHandoff,
      maxClockOffsetMs: this.o.maxClockOffsetMs,
      nodes: this.ids.map((id, i) => addressOf(id, i + 1)),
    });
    this.policy = policyFor(this.config.conflicts);
    this.history = new History(
      this.policy,
      () => this.sched.now,
      (node, key) => {
        const h = this.slots.get(node)?.node?.membership.history();
        return h === undefined || replicaSets(h, key, this.config.n).read.includes(node);
      },
      (node, key) => {
        const h = this.slots.get(node)?.node?.membership.history();
        if (h === undefined) return '';
        return h.versions
          .map((v) => `v${v.version}:${ringOf(v).preferenceList(key, this.config.n).join(',')}`)
          .join(' ');
      },
    );
    this.ring = new Ring(this.ids, LIMITS.vnodesPerNode);
    this.net = new SimNetwork(this.sched, this.rng, this.ids, options.network);
    this.board = new SimSwitchboard(this.net, this.sched, this.rng);
    this.clients = new ClientOps(
      this.config,
      this.policy,
      this.history,
      () => this.sched.now,
      (key) => this.homes(key),
    );
  }

  /** Every node up and running, on fresh stores. */
  static async start(options: NodeClusterOptions): Promise<NodeCluster> {
    const c = new NodeCluster(options);
    for (const [i, id] of c.ids.entries()) await c.addSlot(id, addressOf(id, i + 1));
    for (const slot of c.slots.values()) await c.boot(slot);
    return c;
  }

  private async addSlot(id: string, address: NodeAddress): Promise<Slot> {
    const store = memoryStore(this.policy);
    await store.open();
    // Seeded, so a run's stores (whose digests name the actor) replay exactly.
    const epoch = Math.floor(this.rng() * 2 ** 40).toString(16);
    await store.putMeta('actor', `${id}~${epoch}`);
    this.history.observe(id, store);
    const slot: Slot = {
      id,
      address,
      store,
      departed: false,
      died: new Promise<never>(() => undefined),
      die: () => undefined,
      skewMs: this.drawSkew(),
      incarnation: 0,
      up: false,
      node: undefined,
      fence: undefined,
      dead: undefined,
    };
    this.slots.set(id, slot);
    return slot;
  }

  /**
   * A new node asks `via` to add it (as serve --join does) and, once the change is agreed,
   * starts from the layout it answered. Resolves with its id, or undefined when the change was
   * refused or did not get a majority (noted in the transcript). Call from an event of a run.
   */
  async join(via: string): Promise<string | undefined> {
    const id = `n${this.nextIndex}`;
    const address = addressOf(id, this.nextIndex);
    this.nextIndex += 1;
    // As an operator re-running serve --join would: a join whose answer was lost (the node
    // asked crashed) is asked again through another member, and answered as the first time
    // if it was agreed meanwhile; one that was refused is not.
    let layout: LayoutHistory | undefined;
    let through = via;
    // Even a join that seems to fail may have been agreed (its answer lost): from now on the
    // preference lists come from the nodes' layouts.
    this.layoutChanged = true;
    for (let attempt = 1; layout === undefined && attempt <= 3; attempt++) {
      const coordinator = this.node(through);
      if (coordinator !== undefined) {
        try {
          layout = await this.on(
            through,
            coordinator.membership.change({ kind: 'join', node: address }),
          );
        } catch (err) {
          this.sched.note(`join of ${id} via ${through} failed: ${String(err).slice(0, 120)}`);
          if (err instanceof ConflictError || err instanceof InvalidArgumentError) break;
        }
      }
      if (layout === undefined) {
        await new Promise<void>((resolve) => this.sched.at(500, resolve, `retry join of ${id}`));
        const up = this.ids.filter((x) => this.isUp(x));
        if (up.length === 0) return undefined;
        through = up[Math.floor(this.rng() * up.length)]!;
      }
    }
    if (layout === undefined) {
      // Even a refusal may follow an attempt that was agreed after all (the node asked first
      // crashed mid-proposal, and another finished it): settle watches for it.
      this.abandoned.set(id, { address, retry: this.rng() < 0.5 });
      return undefined;
    }
    this.sched.note(
      `join of ${id} via ${through} agreed (version ${newestVersion(layout).version})`,
    );
    await this.startJoined(id, address, layout);
    return id;
  }

  /** Starts a node whose join was agreed, from the layout the join answered with. */
  private async startJoined(id: string, address: NodeAddress, layout: LayoutHistory) {
    this.layoutChanged = true;
    const slot = await this.addSlot(id, address);
    slot.initialLayout = layout;
    this.net.addNode(id);
    this.ids.push(id);
    // Not awaited: a crash while it starts leaves its start waiting on timers that never fire,
    // as a killed process would; a restart builds it anew.
    void this.boot(slot).catch((err: unknown) => {
      this.history.unexpected.push(`start of ${id} failed: ${String(err)}`);
    });
  }

  /**
   * A join nobody answered that the layout names after all: its node never started, and holds
   * the transition up. Either the operator runs serve --join again (answered as the first time
   * while the node has not started), or removes the node: excused from the transition under
   * way, then removed once the layout has settled.
   */
  private async resolveAbandoned(): Promise<void> {
    const h = this.layout();
    if (h === undefined) return;
    for (const [id, a] of this.abandoned) {
      if (!h.versions.some((v) => v.nodes.some((m) => m.id === id))) continue;
      const up = this.ids.filter((x) => this.isUp(x));
      if (up.length === 0) return;
      const via = up[Math.floor(this.rng() * up.length)]!;
      // Run under settle's sched.run: the change's messages and timers need the scheduler.
      if (!a.retry) {
        await this.leave(id, via);
        continue;
      }
      try {
        const change = this.node(via)!.membership.change({ kind: 'join', node: a.address });
        const layout = await this.on(via, change);
        this.abandoned.delete(id);
        this.sched.note(`join of ${id} via ${via} answered on a retry`);
        await this.startJoined(id, a.address, layout);
      } catch (err) {
        this.sched.note(`join of ${id} via ${via} retried: ${String(err).slice(0, 120)}`);
      }
    }
  }

  /**
   * Asks `via` to remove `id` (as POST /admin/leave does), dead when `via` sees it down. A
   * live node leaves by itself once its ranges have moved; a dead one is written off once the
   * layout without it has settled (see settle). True when the change was agreed.
   */
  async leave(id: string, via: string): Promise<boolean> {
    const coordinator = this.node(via);
    if (coordinator === undefined) return false;
    const dead = id !== via && !coordinator.transport.isUp(id);
    this.layoutChanged = true;
    try {
      await this.on(via, coordinator.membership.change({ kind: 'leave', id, dead }));
    } catch (err) {
      this.sched.note(`leave of ${id} via ${via} refused: ${String(err).slice(0, 120)}`);
      return false;
    }
    this.layoutChanged = true;
    if (dead) this.removedDead.add(id);
    this.sched.note(`leave of ${id}${dead ? ' (dead)' : ''} via ${via} agreed`);
    return true;
  }

  /**
   * `work` running on node `id`, or a rejection once that node crashes: a crashed node's timers
   * never fire, so work that waits on them would otherwise wait for ever (as in a killed process).
   */
  private on<T>(id: string, work: Promise<T>): Promise<T> {
    return Promise.race([work, this.slot(id).died]);
  }

  /** The node is out of the layout: it stops for good and is no member any more. */
  private depart(id: string): void {
    const slot = this.slot(id);
    if (slot.departed) return;
    this.sched.note(`${id} departs`);
    slot.departed = true;
    const i = this.ids.indexOf(id);
    if (i >= 0) this.ids.splice(i, 1);
    if (slot.up) this.crash(id);
  }

  /** The layout history of the live member that knows the newest version (undefined: none up). */
  layout(): LayoutHistory | undefined {
    let best: LayoutHistory | undefined;
    for (const id of this.ids) {
      const h = this.node(id)?.membership.history();
      if (h === undefined) continue;
      if (best === undefined || newestVersion(h).version > newestVersion(best).version) best = h;
    }
    return best;
  }

  /**
   * Runs until every live member holds one settled layout, the same version everywhere, and
   * writes off the nodes it no longer names (a dead node that was removed). False if it did
   * not within `withinMs` of virtual time.
   */
  async settle(withinMs = 20_000): Promise<boolean> {
    const deadline = this.sched.now + withinMs;
    for (;;) {
      // Removing a node or retrying its join is consensus over the simulated network: it
      // finishes only while the scheduler runs events.
      await this.sched.run(this.resolveAbandoned());
      const histories = this.ids.flatMap((id) => {
        const h = this.node(id)?.membership.history();
        return h === undefined ? [] : [h];
      });
      const newest = histories.map((h) => newestVersion(h).version);
      // A change some node accepted but nobody saw decided may still be chosen (a proposer
      // told "no majority" does not know): not quiet until it is finished or overtaken.
      const unfinished = await this.sched.run(
        Promise.all(this.ids.map((id) => this.node(id)?.membership.unfinishedChange() ?? false)),
      );
      const agreed =
        histories.length === this.ids.length &&
        histories.every((h) => isSettled(h)) &&
        newest.every((v) => v === newest[0]) &&
        !unfinished.includes(true);
      if (agreed) {
        const names = new Set(newestVersion(histories[0]!).nodes.map((m) => m.id));
        for (const id of [...this.ids]) if (!names.has(id)) this.depart(id);
        if (this.ids.every((id) => names.has(id)) && names.size === this.ids.length) return true;
      }
      if (this.sched.now >= deadline) return false;
      await this.sched.runFor(50);
    }
  }

  private profile(): ProfileName {
    if (this.o.sloppyQuorum && this.o.readRepair === 'before')
      throw new Error('sloppy quorum (ap) and read repair before answering (cp) do not combine');
    if (this.o.sloppyQuorum) return 'ap';
    return this.o.readRepair === 'before' ? 'cp' : 'quorum';
  }

  /** A wall clock off by up to half the cluster's offset, so any two are within it. */
  private drawSkew(): number {
    const half = Math.floor(this.o.maxClockOffsetMs / 2);
    return Math.floor(this.rng() * (2 * half + 1)) - half;
  }

  /** The key's replicas: in the newest layout once one has changed, else on the first ring. */
  preferenceList(key: string): string[] {
    const h = this.layoutChanged ? this.layout() : undefined;
    return h === undefined
      ? this.ring.preferenceList(key, this.config.n)
      : replicaSets(h, key, this.config.n).read;
  }

  /** Every node a write may count toward: the key's replicas in every live layout version. */
  private homes(key: string): string[] {
    const h = this.layoutChanged ? this.layout() : undefined;
    if (h === undefined) return this.preferenceList(key);
    return [...new Set(replicaSets(h, key, this.config.n).write.flat())];
  }

  /** The running node, or undefined while it is down. */
  node(id: string): KvorumNode | undefined {
    return this.slots.get(id)?.node;
  }

  nodes(): KvorumNode[] {
    return [...this.slots.values()].flatMap((s) => (s.node === undefined ? [] : [s.node]));
  }

  store(id: string): LevelReplicaStore {
    return this.slot(id).store;
  }

  isUp(id: string): boolean {
    return this.slot(id).node !== undefined;
  }

  private slot(id: string): Slot {
    const slot = this.slots.get(id);
    if (slot === undefined) throw new Error(`no node ${id}`);
    return slot;
  }

  /** Builds and starts a new incarnation over the slot's store. */
  private async boot(slot: Slot): Promise<void> {
    const initialLayout = slot.initialLayout;
    const incarnation = ++slot.incarnation;
    const label = `${slot.id}#${incarnation}`;
    const fence = new FencedStore(slot.store, label, this.history.hintObserver(slot.id));
    slot.up = true;
    slot.fence = fence;
    slot.died = new Promise<never>((_, reject) => (slot.die = reject));
    slot.died.catch(() => undefined);
    const alive = (): boolean => slot.up && slot.incarnation === incarnation;
    // A dead process runs nothing: its timers fire into the void.
    const timers: Timers = {
      after: (ms, fn) => this.sched.at(ms, () => alive() && fn(), `${label} timer`),
    };
    // What a live node logs as a warning or an error, and every request it fails, is a fault
    // the run must report: nothing in a simulation should fail that way.
    const logger = pino(
      { level: 'warn', base: null },
      { write: (line: string) => alive() && this.history.logged(label, line) },
    );
    let node: KvorumNode;
    try {
      node = await createNode({
        id: slot.id,
        config: this.config,
        store: fence,
        ...(initialLayout !== undefined ? { initialLayout } : {}),
        onLeft: () => {
          if (alive()) this.depart(slot.id);
        },
        makeTransport: (onRequest, peers) =>
          new SimTransport({
            switchboard: this.board,
            self: slot.id,
            peers: peers.map((p) => p.id),
            onRequest: (from, req) => {
              const reply = onRequest(from, req);
              if (reply instanceof Promise)
                reply.catch((err: unknown) => {
                  // Usual while a layout change spreads: the asker knows a ring this node not yet.
                  if (err instanceof NotAPeerError) return;
                  // A purge racing a hand-over of the same key: refused on purpose.
                  if (err instanceof PurgeHeldError) return;
                  if (alive()) this.history.failedRequest(label, from, req.type, err);
                });
              if (!(reply instanceof Promise)) return reply;
              // A process killed while it worked on a request sends no answer (its store calls
              // fail once it is fenced off; those failures must not reach the asker).
              return reply.then((r) => (alive() ? r : new Promise<never>(() => undefined)));
            },
          }),
        clock: simClock(this.sched, slot.skewMs),
        timers,
        random: this.rng,
        logger,
      });
    } catch (err) {
      // Crashed while it started (a start waits for its clock to pass its HLC mark): as a
      // killed process, it just is not there; a later restart builds it anew.
      if (!alive()) return;
      throw err;
    }
    if (alive()) {
      node.transport.setFaults(this.faultSpecFor(slot.id, node));
      await node.start();
    }
    // It may have crashed again while it was being built.
    if (!alive()) return node.stop();
    slot.node = node;
    this.sched.note(`${label} is up (clock skew ${slot.skewMs} ms)`);
  }

  /** Kills the node where it stands: messages vanish, timers stop, its store is fenced off. */
  crash(id: string): void {
    const slot = this.slot(id);
    if (!slot.up) return;
    this.sched.note(`crash ${id}#${slot.incarnation}`);
    slot.up = false;
    slot.die(new Error(`${id} crashed`));
    this.net.crash(id);
    slot.fence?.kill();
    if (slot.node !== undefined) {
      this.aeRepairedBefore += keysRepaired(slot.node);
      slot.dead = slot.node;
    }
    slot.node = undefined;
    slot.fence = undefined;
  }

  /**
   * Brings a crashed node back over its store (`newClock`: its wall clock is set anew), running
   * the simulation while it starts: a start waits on virtual timers (until the wall clock passes
   * its saved HLC mark). From an event inside a run, use revive.
   */
  restart(id: string, newClock = false): Promise<void> {
    return this.sched.run(this.revive(id, newClock));
  }

  /** restart, for an event of a run already in progress. */
  async revive(id: string, newClock = false): Promise<void> {
    const slot = this.slot(id);
    if (slot.up || slot.departed) return;
    const dead = slot.dead;
    slot.dead = undefined;
    await dead?.stop();
    if (newClock) slot.skewMs = this.drawSkew();
    this.net.restart(id);
    await this.boot(slot);
  }

  /** Puts a link fault in force on the nodes it names, until `lift`. */
  impose(fault: LinkFault): void {
    this.sched.note(`fault: ${fault.label}`);
    this.faults.add(fault);
    for (const id of fault.specs.keys()) this.applyFaults(id);
  }

  lift(fault: LinkFault): void {
    if (!this.faults.delete(fault)) return;
    this.sched.note(`fault lifted: ${fault.label}`);
    for (const id of fault.specs.keys()) this.applyFaults(id);
  }

  private applyFaults(id: string): void {
    const node = this.slot(id).node;
    node?.transport.setFaults(this.faultSpecFor(id, node));
  }

  /** The faults in force on `id`'s side of its links, to the peers its transport has. */
  private faultSpecFor(id: string, node: KvorumNode): FaultSpec {
    const peers = new Set(node.transport.peerStates().map((p) => p.id));
    return faultSpecOf(
      this.faults,
      id,
      this.ids.filter((x) => x === id || peers.has(x)),
    );
  }

  /** Issues one write through `coordinator` (which must be up) and records how it ended. */
  write(
    coordinator: string,
    key: string,
    level: Level,
    content: { tombstone?: boolean; context?: ParsedContext } = {},
  ): { record: WriteRecord; done: Promise<void> } {
    return this.clients.write(this.coordinating(coordinator), key, level, content);
  }

  /** Reads through `coordinator` (which must be up): the set, or the error the read failed with. */
  read(coordinator: string, key: string, level: Level): Promise<VersionSet | undefined | Error> {
    return this.clients.read(this.coordinating(coordinator), key, level);
  }

  private coordinating(id: string): Coordinating {
    const slot = this.slot(id);
    const { node, incarnation } = slot;
    if (node === undefined) throw new Error(`${id} is down`);
    return { node, heard: () => slot.up && slot.incarnation === incarnation };
  }

  /**
   * Ends every fault and restarts every crashed node, then waits until every failure detector
   * has caught up (and requests still out have ended).
   */
  async heal(): Promise<void> {
    for (const f of [...this.faults]) this.lift(f);
    for (const slot of this.slots.values())
      if (!slot.up && !slot.departed) await this.restart(slot.id);
    this.net.heal();
    await this.sched.runFor(
      Math.max(this.net.config.detectMaxMs, this.config.timeoutMs, LIMITS.readSpeculateMs) * 2,
    );
  }

  /**
   * Replays hints and runs anti-entropy on every node until a round finds nothing to do: no
   * hint left, no key repaired, no exchange failed, and no store changed meanwhile (tombstone GC
   * purges one replica after another, so a round may otherwise end half way through a purge).
   * At most maxRounds rounds.
   */
  async converge(maxRounds = 10): Promise<ConvergeReport> {
    let aeRepaired = 0;
    for (let round = 1; round <= maxRounds; round++) {
      const changesBefore = this.history.changes;
      const nodes = this.nodes();
      await this.sched.run(Promise.all(nodes.map((n) => n.hints.round())));
      let repaired = 0;
      let unfinished = false;
      for (const node of nodes) {
        const results = await this.sched.run(node.antiEntropy.repairNow());
        if (results.size < this.ids.length - 1) unfinished = true;
        for (const r of results.values()) {
          repaired += r.keysRepaired;
          unfinished ||= r.truncated || r.error !== undefined;
        }
      }
      // Writes those rounds started in the background (repairs, hint deletions) land.
      await this.sched.runFor(this.config.timeoutMs);
      aeRepaired += repaired;
      const hintsLeft = nodes.some((n) => n.store.pendingHints().size > 0);
      const quiet = this.history.changes === changesBefore;
      if (repaired === 0 && !unfinished && !hintsLeft && quiet)
        return { converged: true, rounds: round, aeRepaired };
    }
    return { converged: false, rounds: maxRounds, aeRepaired };
  }

  /**
   * Runs until every tombstone stored so far is past its grace period on every node's clock,
   * and tombstone GC has had two sweeps more to purge it.
   */
  async ageTombstones(): Promise<void> {
    let newestMs = 0;
    for (const versions of this.history.firstStored.values())
      for (const v of versions.values())
        if (v.tombstone) newestMs = Math.max(newestMs, v.ts.wallMs);
    const slowestSkewMs = Math.min(...[...this.slots.values()].map((s) => s.skewMs));
    const graceMs = this.config.tombstoneGraceMs;
    const agedAt = newestMs + graceMs - SIM_EPOCH_MS - slowestSkewMs;
    const sweepMs = Math.max(50, Math.min(LIMITS.tombstoneSweepIntervalMs, graceMs / 2));
    await this.sched.runUntil(Math.max(this.sched.now, agedAt));
    await this.sched.runFor(2 * sweepMs + 2 * this.config.timeoutMs);
  }

  /** `err` with the seed that replays the run and the run's last events. */
  failed(err: unknown): Error {
    const failure = this.sched.failure(err instanceof Error ? err.message : String(err));
    if (err instanceof Error) failure.stack = `${failure.message}\n${err.stack ?? ''}`;
    return failure;
  }

  /** Keys anti-entropy repaired over the whole run, background exchanges included. */
  aeRepairedTotal(): number {
    return this.aeRepairedBefore + this.nodes().reduce((a, n) => a + keysRepaired(n), 0);
  }

  /** What each node's store holds now: node -> key -> set. */
  async finalState(): Promise<Map<string, Map<string, VersionSet>>> {
    const out = new Map<string, Map<string, VersionSet>>();
    for (const [id, slot] of this.slots) {
      if (slot.departed) continue;
      const m = new Map<string, VersionSet>();
      for await (const [key, set] of slot.store.entries()) m.set(key, set);
      out.set(id, m);
    }
    return out;
  }

  /** Stops every node (the stores stay open, as a node's owner closes them). */
  async stop(): Promise<void> {
    for (const slot of this.slots.values()) {
      slot.up = false;
      await slot.node?.stop();
      await slot.dead?.stop();
    }
  }
}

function keysRepaired(node: KvorumNode): number {
  return node.antiEntropy.status().keysRepaired as number;
}

/** The addresses node `id` would have as the i-th node of a real cluster (ids name it here). */
function addressOf(id: string, i: number): NodeAddress {
  return { id, http: `http://127.0.0.1:${7000 + i}`, peer: `127.0.0.1:${7100 + i}` };
}
