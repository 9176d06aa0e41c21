// Carries out a nemesis plan against real nodes: link faults through PUT /admin/faults on each
// node, process faults through ProcessControl. It keeps the link faults each node should have,
// so a node that was down or paused when they changed gets them as soon as it is back (a paused
// node cannot take an admin call, and a restarted one starts with none).

import {
  describeFault,
  linkFaultsOf,
  type NemesisPlan,
  type PlannedFault,
} from './nemesis-plan.js';
import { NO_LINK_FAULTS, type NodeApi } from './node-api.js';
import { sleep } from './sleep.js';
import type { VerifyTarget } from './target.js';

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

type NodeState = 'up' | 'killed' | 'paused';

/** Pause before a failed fault change is tried again. */
const PUSH_RETRY_MS = 100;

const sleepUntil = (atMs: number, now: () => number, signal: AbortSignal): Promise<void> =>
  sleep(atMs - now(), signal);

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class NemesisRunner {
  readonly events: NemesisEvent[] = [];
  private readonly state = new Map<string, NodeState>();
  private readonly offsets = new Map<string, number>();
  private linkFault: PlannedFault | undefined;
  private processFault: PlannedFault | undefined;

  constructor(
    private readonly plan: NemesisPlan,
    private readonly target: VerifyTarget,
    /** Milliseconds since the workload started. */
    private readonly now: () => number,
    private readonly onEvent: (event: NemesisEvent) => void = () => {},
  ) {
    for (const node of target.nodes) {
      this.state.set(node.id, 'up');
      this.offsets.set(node.id, 0);
    }
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
      await this.finish(planned);
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
      problems.push(...(await this.pushLinks(this.target.nodes)));
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

  private async finish(planned: PlannedFault): Promise<void> {
    const problems: string[] = [];
    if (planned.lane === 'link') {
      this.linkFault = undefined;
      problems.push(...(await this.pushLinks(this.target.nodes)));
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
      default:
        throw new Error(`${describeFault(f)} is not a process fault`);
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
    return this.pushLinks(this.target.nodes.filter((x) => x.id === node));
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
            problems.push(
              ...(await this.pushLinks(this.target.nodes.filter((x) => x.id === node))),
            );
          } else if (state === 'killed' || this.offsets.get(node) !== 0) {
            problems.push(...(await this.restart(node, 0)));
          }
        } catch (err) {
          problems.push(`${node}: ${message(err)}`);
        }
      }),
    );
    return problems;
  }

  /** Sets each running node's link faults to what the current link fault says (or none). */
  private async pushLinks(nodes: readonly NodeApi[]): Promise<string[]> {
    const current = this.linkFault?.fault;
    const problems: string[] = [];
    await Promise.all(
      nodes.map(async (node) => {
        // A node that is down or paused gets its faults when it is back.
        if (this.state.get(node.id) !== 'up') return;
        const spec =
          (current === undefined ? undefined : linkFaultsOf(current, node.id)) ?? NO_LINK_FAULTS;
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
   * Ends every fault still in force: resumes, restarts and unskews nodes, clears every node's
   * link faults (and asks for a cluster-wide heal). Returns what could not be undone.
   */
  async recover(): Promise<string[]> {
    const problems: string[] = [];
    if (this.linkFault !== undefined) {
      const planned = this.linkFault;
      this.linkFault = undefined;
      this.record('end', planned, []);
    }
    if (this.processFault !== undefined) {
      const planned = this.processFault;
      this.processFault = undefined;
      const restored = await this.restore([this.nodeOf(planned)]);
      this.record('end', planned, restored);
    }
    // Anything else off its normal state (a failed restart) gets another try.
    problems.push(...(await this.restore(this.target.nodes.map((x) => x.id))));
    problems.push(...(await this.pushLinks(this.target.nodes)));
    const first = this.target.nodes.find((x) => this.state.get(x.id) === 'up');
    if (first !== undefined) {
      try {
        await first.heal();
      } catch (err) {
        problems.push(message(err));
      }
    }
    return problems;
  }
}
