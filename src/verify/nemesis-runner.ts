// Carries out a nemesis plan against real nodes: link faults through PUT /admin/faults on each
// node, process faults through ProcessControl, membership changes through both (see
// membership-nemesis.ts). It keeps the link faults each node should have, so a node that was
// down or paused when they changed gets them as soon as it is back (a paused node cannot take an
// admin call, and a restarted one starts with none), and it keeps the members: the nodes the
// clients, the link faults and the final checks address.

import { awaitSettled } from './layout-waits.js';
import { Members } from './members.js';
import { MembershipNemesis } from './membership-nemesis.js';
import {
  describeFault,
  linkFaultsOf,
  type NemesisPlan,
  type PlannedFault,
} from './nemesis-plan.js';
import { NO_LINK_FAULTS, type LinkFaultSpec, type NodeApi } from './node-api.js';
import { sleep } from './sleep.js';
import type { VerifyTarget } from './target.js';
import { VERIFY_LIMITS } from './verify-limits.js';

export interface NemesisEvent {
  /** The fault's position in the plan. */
  readonly index: number;
  /** Milliseconds after the workload started. */
  readonly atMs: number;
  readonly phase: 'start' | 'end';
  readonly description: string;
  /** What did not work (a node that did not take its faults, a restart that failed). */
  readonly problems: readonly string[];
}

/** left: removed from the layout; its process has exited or been killed, for good. */
export type NodeState = 'up' | 'killed' | 'paused' | 'left';

/** Pause before a failed fault change is tried again. */
const PUSH_RETRY_MS = 100;

const sleepUntil = (atMs: number, now: () => number, signal: AbortSignal): Promise<void> =>
  sleep(atMs - now(), signal);

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class NemesisRunner {
  readonly events: NemesisEvent[] = [];
  /** The cluster's members as the membership faults leave them; clients talk to these. */
  readonly members: Members;
  private readonly state = new Map<string, NodeState>();
  private readonly offsets = new Map<string, number>();
  private readonly membership: MembershipNemesis;
  private linkFault: PlannedFault | undefined;
  private processFault: PlannedFault | undefined;

  constructor(
    private readonly plan: NemesisPlan,
    private readonly target: VerifyTarget,
    /** Milliseconds since the workload started. */
    private readonly now: () => number,
    private readonly onEvent: (event: NemesisEvent) => void = () => {},
  ) {
    this.members = new Members(target.nodes);
    for (const node of target.nodes) {
      this.state.set(node.id, 'up');
      this.offsets.set(node.id, 0);
    }
    this.membership = new MembershipNemesis({
      members: this.members,
      control: () => this.control(),
      stateOf: (node) => this.state.get(node),
      setState: (node, state) => {
        this.state.set(node, state);
        if (!this.offsets.has(node)) this.offsets.set(node, 0);
      },
      pushAllLinks: () => this.pushLinks(this.linkTargets()),
      restart: (node) => this.restart(node, 0),
    });
  }

  /** Faults in force right now, for the progress line. */
  active(): string[] {
    return [this.linkFault, this.processFault]
      .filter((f): f is PlannedFault => f !== undefined)
      .map((f) => describeFault(f.fault));
  }

  /** Runs the plan until it ends or `signal` aborts; faults still in force stay for recover(). */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(
      (['link', 'process'] as const).map((lane) =>
        this.runLane(
          this.plan.faults.filter((f) => f.lane === lane),
          signal,
        ),
      ),
    );
  }

  private async runLane(faults: readonly PlannedFault[], signal: AbortSignal): Promise<void> {
    for (const planned of faults) {
      await sleepUntil(planned.startMs, this.now, signal);
      if (signal.aborted) return;
      await this.begin(planned);
      await sleepUntil(planned.endMs, this.now, signal);
      if (signal.aborted) return;
      await this.finish(planned, signal);
    }
  }

  private record(phase: 'start' | 'end', planned: PlannedFault, problems: string[]): void {
    const event = {
      index: this.plan.faults.indexOf(planned),
      atMs: this.now(),
      phase,
      description: describeFault(planned.fault),
      problems,
    };
    this.events.push(event);
    this.onEvent(event);
  }

  private async begin(planned: PlannedFault): Promise<void> {
    const problems: string[] = [];
    if (planned.lane === 'link') {
      this.linkFault = planned;
      problems.push(...(await this.pushLinks(this.linkTargets())));
    } else {
      this.processFault = planned;
      try {
        problems.push(...(await this.startProcessFault(planned)));
      } catch (err) {
        problems.push(message(err));
      }
    }
    this.record('start', planned, problems);
  }

  private async finish(planned: PlannedFault, signal?: AbortSignal): Promise<void> {
    const problems: string[] = [];
    if (planned.lane === 'link') {
      this.linkFault = undefined;
      problems.push(...(await this.pushLinks(this.linkTargets())));
    } else if (planned.fault.kind === 'membership') {
      const done = await this.membership.finish(planned.fault, signal);
      // Interrupted by the end of the run: recover() finishes it.
      if (done === undefined) return;
      this.processFault = undefined;
      problems.push(...done);
    } else {
      this.processFault = undefined;
      problems.push(...(await this.restore([this.nodeOf(planned)])));
    }
    this.record('end', planned, problems);
  }

  private nodeOf(planned: PlannedFault): string {
    const f = planned.fault;
    if (f.kind === 'partition') throw new Error('a partition is not a process fault');
    return f.node;
  }

  private control() {
    const processes = this.target.processes;
    if (processes === undefined) {
      throw new Error('this fault needs control of the node processes (a local cluster)');
    }
    return processes;
  }

  private async startProcessFault(planned: PlannedFault): Promise<string[]> {
    const f = planned.fault;
    if (f.kind === 'membership') return this.membership.begin(f);
    if (f.kind === 'partition' || f.kind === 'delay') {
      throw new Error(`${describeFault(f)} is not a process fault`);
    }
    // The plan's members and the real ones part when a change did not happen.
    if (!this.members.has(f.node)) return [`skipped: ${f.node} is not a member`];
    const processes = this.control();
    switch (f.kind) {
      case 'kill':
        this.state.set(f.node, 'killed');
        await processes.kill(f.node);
        return [];
      case 'pause':
        this.state.set(f.node, 'paused');
        processes.pause(f.node);
        return [];
      case 'skew':
        return this.restart(f.node, f.offsetMs);
    }
  }

  /** kill -9 and start again with the given clock offset; then the node gets its link faults. */
  private async restart(node: string, offsetMs: number): Promise<string[]> {
    const processes = this.control();
    this.state.set(node, 'killed');
    await processes.kill(node);
    await processes.start(node, offsetMs);
    this.offsets.set(node, offsetMs);
    this.state.set(node, 'up');
    return this.pushLinks([this.members.get(node) ?? this.apiOf(node)]);
  }

  private apiOf(node: string): NodeApi {
    const api = this.target.nodes.find((x) => x.id === node);
    if (api === undefined) throw new Error(`${node} is not a member`);
    return api;
  }

  /** Brings nodes back to running, unpaused and unskewed, with the link faults now in force. */
  private async restore(nodes: readonly string[]): Promise<string[]> {
    const problems: string[] = [];
    await Promise.all(
      nodes.map(async (node) => {
        try {
          const state = this.state.get(node);
          if (state === 'paused') {
            this.control().resume(node);
            this.state.set(node, 'up');
            problems.push(...(await this.pushLinks([this.members.get(node) ?? this.apiOf(node)])));
          } else if (state === 'killed' || (state === 'up' && this.offsets.get(node) !== 0)) {
            problems.push(...(await this.restart(node, 0)));
          }
        } catch (err) {
          problems.push(`${node}: ${message(err)}`);
        }
      }),
    );
    return problems;
  }

  /** The members, and the nodes that are leaving alive (they must still hear of heals). */
  private linkTargets(): NodeApi[] {
    return [...this.members.list(), ...this.membership.leavingNodes()];
  }

  /**
   * Sets each running node's link faults to what the current link fault says (or none), naming
   * only members: a node that left is no peer to block, and a joiner the plan expected may not
   * have joined (yet).
   */
  private async pushLinks(nodes: readonly NodeApi[]): Promise<string[]> {
    const current = this.linkFault?.fault;
    const problems: string[] = [];
    await Promise.all(
      nodes.map(async (node) => {
        // A node that is down or paused gets its faults when it is back.
        if (this.state.get(node.id) !== 'up') return;
        const planned = current === undefined ? undefined : linkFaultsOf(current, node.id);
        const spec = narrow(planned ?? NO_LINK_FAULTS, this.members);
        try {
          await node.setFaults(spec);
        } catch {
          // Often a pooled connection to a process that was killed since: once more, anew.
          await new Promise((resolve) => setTimeout(resolve, PUSH_RETRY_MS));
          if (this.state.get(node.id) !== 'up') return;
          await node.setFaults(spec).catch((err: unknown) => problems.push(message(err)));
        }
      }),
    );
    return problems;
  }

  /**
   * Ends every fault still in force: finishes a membership change, resumes, restarts and
   * unskews nodes, clears every node's link faults (and asks for a cluster-wide heal). After
   * membership changes, the members must agree on one settled layout of exactly them. Returns
   * what could not be undone.
   */
  async recover(signal?: AbortSignal): Promise<string[]> {
    const problems: string[] = [];
    if (this.linkFault !== undefined) {
      const planned = this.linkFault;
      this.linkFault = undefined;
      this.record('end', planned, []);
    }
    if (this.processFault !== undefined) {
      const planned = this.processFault;
      const f = planned.fault;
      this.processFault = undefined;
      const restored =
        f.kind === 'membership'
          ? ((await this.membership.finish(f, signal)) ?? ['interrupted'])
          : await this.restore([this.nodeOf(planned)]);
      this.record('end', planned, restored);
    }
    // Anything else off its normal state (a failed restart) gets another try.
    problems.push(...(await this.restore(this.members.ids())));
    problems.push(...(await this.pushLinks(this.linkTargets())));
    const first = this.members.list().find((x) => this.state.get(x.id) === 'up');
    if (first !== undefined) {
      try {
        await first.heal();
      } catch (err) {
        problems.push(message(err));
      }
    }
    if (this.plan.faults.some((f) => f.fault.kind === 'membership')) {
      const settled = await awaitSettled(
        this.members.list(),
        VERIFY_LIMITS.membershipSettleDeadlineMs,
        signal,
      );
      if (settled.outcome === 'timeout') problems.push(`after the heal: ${settled.why}`);
    }
    return problems;
  }
}

/** A node's link faults with every peer that is not a member left out. */
function narrow(spec: LinkFaultSpec, members: Members): LinkFaultSpec {
  const keep = <T>(record: Readonly<Record<string, T>>) =>
    Object.fromEntries(Object.entries(record).filter(([id]) => members.has(id)));
  return {
    block: spec.block.filter((id) => members.has(id)),
    delay: keep(spec.delay),
    drop: keep(spec.drop),
  };
}
