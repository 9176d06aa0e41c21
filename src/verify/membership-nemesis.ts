// The membership nemesis: joins new nodes (`serve --join`), removes live members, and removes
// killed ones (kill -9, then POST /admin/leave: a dead node being replaced), one change at a
// time. A change starts at its planned time (begin) and ends (finish) once every member reports
// the layout settled on exactly the nodes it should hold, so the next change is not refused;
// a live node that was removed must then exit 0 by itself. The clients follow the members: a
// node leaves them before it is removed, and a joiner enters them once it serves.

import { awaitSeenDown, awaitSettled } from './layout-waits.js';
import type { Members } from './members.js';
import type { MembershipFault } from './nemesis-plan.js';
import type { NodeState } from './nemesis-runner.js';
import type { NodeApi } from './node-api.js';
import type { ProcessControl } from './target.js';
import { VERIFY_LIMITS } from './verify-limits.js';

/** What the membership nemesis needs of the runner that owns the nodes' states. */
export interface MembershipHost {
  readonly members: Members;
  control(): ProcessControl;
  stateOf(node: string): NodeState | undefined;
  setState(node: string, state: NodeState): void;
  /** Pushes the link faults in force to every member and leaving node (after a change). */
  pushAllLinks(): Promise<string[]>;
  /** Starts a killed node again, unskewed, with the link faults in force. */
  restart(node: string): Promise<string[]>;
}

/** How often the wait for a removed node's exit checks whether the run was stopped. */
const EXIT_POLL_MS = 250;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class MembershipNemesis {
  /** Live nodes removed from the layout that have not exited yet: they still need heals. */
  private readonly leaving = new Map<string, NodeApi>();

  constructor(private readonly host: MembershipHost) {}

  leavingNodes(): NodeApi[] {
    return [...this.leaving.values()];
  }

  /** Asks for the change; resolves once it is agreed (or with what went wrong). */
  async begin(f: MembershipFault): Promise<string[]> {
    const via = this.viaFor(f);
    if (via === undefined) return [`skipped: no member other than ${f.node} is up to ask`];
    return f.action === 'join' ? this.join(f, via) : this.remove(f, via);
  }

  private async join(f: MembershipFault, via: NodeApi): Promise<string[]> {
    if (this.host.stateOf(f.node) !== undefined) return [`skipped: ${f.node} was a node already`];
    const api = await this.host.control().join(f.node, via.url);
    this.host.setState(f.node, 'up');
    // It coordinates requests while it is still joining: clients use it at once.
    this.host.members.add(api);
    return this.host.pushAllLinks();
  }

  private async remove(f: MembershipFault, via: NodeApi): Promise<string[]> {
    const node = this.host.members.get(f.node);
    if (node === undefined) return [`skipped: ${f.node} is not a member`];
    const dead = f.action === 'remove-dead';
    const problems: string[] = [];
    // Clients go elsewhere before the node goes.
    this.host.members.remove(f.node);
    if (dead) {
      this.host.setState(f.node, 'killed');
      await this.host.control().kill(f.node);
      // A node the cluster still sees up is removed as a live one, whose part in the
      // transition it would wait for in vain.
      const deadlineMs = VERIFY_LIMITS.peerDownDeadlineMs;
      if (!(await awaitSeenDown(via, f.node, deadlineMs))) {
        problems.push(`${via.id} still saw ${f.node} up ${deadlineMs} ms after kill -9`);
      }
    } else {
      this.leaving.set(f.node, node);
    }
    let answer: { dead: boolean };
    try {
      answer = await via.leave(f.node);
    } catch (err) {
      // Not removed: it stays a member, and a killed one comes back.
      this.leaving.delete(f.node);
      this.host.members.add(node);
      problems.push(`${f.node} was not removed: ${message(err)}`);
      if (dead) problems.push(...(await this.host.restart(f.node)));
      return problems;
    }
    if (dead && !answer.dead) {
      problems.push(`${via.id} removed the killed ${f.node} as a live node`);
    }
    problems.push(...(await this.host.pushAllLinks()));
    return problems;
  }

  /**
   * Waits until the members agree on a settled layout of exactly them, and a live node that was
   * removed has exited 0. Undefined when `signal` stopped the wait: call again to finish.
   */
  async finish(f: MembershipFault, signal?: AbortSignal): Promise<string[] | undefined> {
    const deadlineMs = VERIFY_LIMITS.membershipSettleDeadlineMs;
    const settled = await awaitSettled(this.host.members.list(), deadlineMs, signal);
    if (settled.outcome === 'interrupted') return undefined;
    // Not settled: a removed node lingers until it is pruned, so its exit is not due yet.
    if (settled.outcome === 'timeout') return [settled.why];
    if (f.action === 'remove-dead' && !this.host.members.has(f.node)) {
      this.host.setState(f.node, 'left');
    }
    if (f.action !== 'leave' || !this.leaving.has(f.node)) return [];
    const until = performance.now() + VERIFY_LIMITS.leftExitDeadlineMs;
    for (;;) {
      const exit = await this.host.control().exited(f.node, EXIT_POLL_MS);
      if (exit !== undefined) {
        this.leaving.delete(f.node);
        this.host.setState(f.node, 'left');
        const how = exit.code ?? exit.signal;
        return how === 0 ? [] : [`${f.node} left the layout and exited with ${how}, not 0`];
      }
      if (signal?.aborted === true) return undefined;
      if (performance.now() > until) {
        return [
          `${f.node} left the layout but still runs ${VERIFY_LIMITS.leftExitDeadlineMs} ms later`,
        ];
      }
    }
  }

  /** The planned member if it can take the change, else the first other member that is up. */
  private viaFor(f: MembershipFault): NodeApi | undefined {
    const usable = (node: NodeApi) => node.id !== f.node && this.host.stateOf(node.id) === 'up';
    const planned = this.host.members.get(f.via);
    if (planned !== undefined && usable(planned)) return planned;
    return this.host.members.list().find(usable);
  }
}
