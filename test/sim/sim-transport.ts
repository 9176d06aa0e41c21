// The peer Transport over the simulator: every request and every reply is one SimNetwork message
// (seeded latency, drops, partitions, crashes), and a node's link faults go through the same
// FaultFilter the TCP transport uses, so a FaultSpec means the same thing over both. A
// SimSwitchboard stands in for the sockets: it finds the started transport a message is for.
//
// Where it departs from TcpTransport, on purpose:
// - Messages are objects passed by reference, not encoded frames: nothing checks that they
//   would fit on the wire, and a handler must not mutate what it was sent.
// - Failure detection: a crash or a partition is noticed as SimNetwork's detectors notice it
//   (after a random lag); a peer that blocks this node or drops everything to it is noticed the
//   same way, after a lag drawn from the network's detect range. A partial drop rate, or a delay
//   longer than LIMITS.peerDownAfterMs, never makes a peer look down here; over TCP either can
//   silence heartbeats long enough for a while.
// - stop() is a clean close (FIN): peers at once reject their requests to this node as 'lost'
//   and see it down. SimNetwork.crash is the other kind of death: messages vanish, requests
//   time out. To restart a crashed node, stop its transport (peers then see the link close, as
//   they would a rebooted host's reset) and start a new one.
// - queuedBytes() is always 0: there are no socket buffers.

import { LIMITS } from '../../src/config.js';
import { PeerError } from '../../src/core/errors.js';
import { FaultFilter, type FaultSpec } from '../../src/core/faults.js';
import type {
  PeerReply,
  PeerReplyBody,
  PeerRequest,
  PeerRequestBody,
} from '../../src/net/messages.js';
import type {
  PeerAddress,
  PeerRequestHandler,
  PeerState,
  Transport,
} from '../../src/net/transport.js';
import type { Scheduler, Timer } from './scheduler.js';
import type { SimNetwork } from './sim-network.js';

/** ErrorReply text is cut here, as src/net/peer-connection.ts cuts it. */
const ERROR_MESSAGE_CHARS_MAX = 1000;
const REQUEST_ID_MAX = 0xffff_ffff;

/** A started transport, as the switchboard and the other transports see it. */
interface Endpoint {
  /** A request from `from` arrived (the network has already checked the path). */
  onRequest(from: string, req: PeerRequest): void;
  onReply(from: string, reply: PeerReply): void;
  /** `peer` stopped: its links closed, so requests to it still unanswered are lost. */
  onPeerStopped(peer: string): void;
  /** `peer` changed its faults: this node's detector catches up after a lag. */
  onPeerFaultsChanged(peer: string): void;
  /** True when nothing this node sends reaches `to`: blocked, or everything dropped. */
  isSilentTo(to: string): boolean;
}

/** Which node's transport is started, shared by every SimTransport on one SimNetwork. */
export class SimSwitchboard {
  private readonly endpoints = new Map<string, Endpoint>();

  constructor(
    readonly net: SimNetwork,
    readonly sched: Scheduler,
    /** For drops, delay jitter and detector lags; a seeded one, so runs replay. */
    readonly rng: () => number,
  ) {}

  attach(id: string, endpoint: Endpoint): void {
    if (!this.net.nodes.includes(id)) {
      throw new Error(`${id} is not a node of this network (${this.net.nodes.join(', ')})`);
    }
    if (this.endpoints.has(id)) throw new Error(`a transport for ${id} is already started`);
    this.endpoints.set(id, endpoint);
  }

  detach(id: string): void {
    if (!this.endpoints.delete(id)) return;
    for (const ep of this.endpoints.values()) ep.onPeerStopped(id);
  }

  endpoint(id: string): Endpoint | undefined {
    return this.endpoints.get(id);
  }

  faultsChanged(id: string): void {
    for (const [other, ep] of this.endpoints) if (other !== id) ep.onPeerFaultsChanged(id);
  }
}

export interface SimTransportOptions {
  readonly switchboard: SimSwitchboard;
  readonly self: string;
  /** Peer ids, in the order peerStates() lists them; not this node. */
  readonly peers: readonly string[];
  /** Serves peers' requests; a throw or rejection is answered with an ErrorReply. Pings never reach it. */
  readonly onRequest: PeerRequestHandler;
}

interface Pending {
  readonly peer: string;
  readonly timeoutMs: number;
  readonly timer: Timer;
  readonly resolve: (reply: PeerReplyBody) => void;
  readonly reject: (err: Error) => void;
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, ERROR_MESSAGE_CHARS_MAX);
}

export class SimTransport implements Transport {
  readonly self: string;
  private readonly board: SimSwitchboard;
  private readonly net: SimNetwork;
  private readonly sched: Scheduler;
  private peers: readonly string[];
  private peerSet: ReadonlySet<string>;
  private readonly handler: PeerRequestHandler;
  private readonly filter = new FaultFilter();
  private readonly pending = new Map<number, Pending>();
  private readonly inFlight = new Map<string, number>();
  /** Peers this node's detector has noticed are silent towards it (they block or drop it all). */
  private readonly silent = new Set<string>();
  /** Every scheduler event this transport armed that has not fired: stop() cancels them. */
  private readonly timers = new Set<Timer>();
  private nextId = 1;
  private phase: 'new' | 'started' | 'stopped' = 'new';

  constructor(opts: SimTransportOptions) {
    if (opts.peers.includes(opts.self)) {
      throw new Error(`peer list of ${opts.self} must not include the node itself`);
    }
    this.self = opts.self;
    this.board = opts.switchboard;
    this.net = opts.switchboard.net;
    this.sched = opts.switchboard.sched;
    this.peers = [...opts.peers];
    this.peerSet = new Set(opts.peers);
    this.handler = opts.onRequest;
  }

  /** Joins the switchboard: from now on peers reach this node, and it them. */
  async start(): Promise<void> {
    if (this.phase === 'stopped') {
      throw new Error('a stopped transport cannot be started again; create a new one');
    }
    if (this.phase === 'started') return;
    this.board.attach(this.self, {
      onRequest: (from, req) => this.serve(from, req),
      onReply: (from, reply) => this.settle(from, reply),
      onPeerStopped: (peer) => this.onPeerStopped(peer),
      onPeerFaultsChanged: (peer) => this.onPeerFaultsChanged(peer),
      isSilentTo: (to) => this.isSilentTo(to),
    });
    this.phase = 'started';
    // Faults set before start take effect now; peers notice them as they would any change.
    this.board.faultsChanged(this.self);
  }

  /** Cancels every timer; requests in flight reject with 'lost', and peers see this node down. */
  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    const wasStarted = this.phase === 'started';
    this.phase = 'stopped';
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.inFlight.clear();
    if (wasStarted) this.board.detach(this.self);
    for (const p of pending) p.reject(lost(p.peer));
  }

  request(to: string, body: PeerRequestBody, timeoutMs: number): Promise<PeerReplyBody> {
    const refusal = this.refusal(to);
    if (refusal !== undefined) return Promise.reject(new PeerError(to, 'unreachable', refusal));
    const id = this.takeId();
    const label = `${this.self}->${to} ${body.type} #${id}`;
    return new Promise<PeerReplyBody>((resolve, reject) => {
      const timer = this.arm(timeoutMs, () => this.onTimeout(id), `timeout of ${label}`);
      this.pending.set(id, { peer: to, timeoutMs, timer, resolve, reject });
      this.inFlight.set(to, (this.inFlight.get(to) ?? 0) + 1);
      const req = { ...body, id } as PeerRequest;
      this.send(to, label, (ep) => ep.onRequest(this.self, req));
    });
  }

  /** Linked (started, the peer started, the network's detector sees it), not blocked, not silent. */
  isUp(peer: string): boolean {
    return this.linked(peer) && !this.filter.isBlocked(peer) && !this.silent.has(peer);
  }

  peerStates(): PeerState[] {
    return this.peers.map((id) => ({ id, up: this.isUp(id) }));
  }

  faults(): FaultSpec {
    return this.filter.get();
  }

  setFaults(spec: FaultSpec): void {
    this.filter.set(spec);
    this.sched.note(`${this.self} sets faults ${JSON.stringify(this.filter.get())}`);
    if (this.phase === 'started') this.board.faultsChanged(this.self);
  }

  /** The membership changed: requests in flight to a removed peer are lost. */
  setPeers(peers: readonly PeerAddress[]): void {
    const ids = peers.map((p) => p.id);
    if (ids.includes(this.self)) {
      throw new Error(`peer list of ${this.self} must not include the node itself`);
    }
    this.peers = ids;
    this.peerSet = new Set(ids);
    for (const peer of [...this.inFlight.keys()])
      if (!this.peerSet.has(peer)) this.inFlight.delete(peer);
    for (const [id, p] of [...this.pending]) {
      if (this.peerSet.has(p.peer)) continue;
      p.timer.cancel();
      this.pending.delete(id);
      p.reject(lost(p.peer));
    }
  }

  /** Always 0: simulated links have no socket buffers for admission to count. */
  queuedBytes(): number {
    return 0;
  }

  /** Scheduler events this transport armed that are still to come (0 after stop). */
  timersArmed(): number {
    return this.timers.size;
  }

  /** The link exists: what a TCP connection being open means. */
  private linked(peer: string): boolean {
    return (
      this.phase === 'started' &&
      this.peerSet.has(peer) &&
      !this.net.isDown(this.self) &&
      this.board.endpoint(peer) !== undefined &&
      this.net.believesUp(this.self, peer)
    );
  }

  /** Why a request to `to` cannot be sent, in TcpTransport's words; undefined when it can. */
  private refusal(to: string): string | undefined {
    if (!this.linked(to)) return `no connection to peer ${to}`;
    if (this.filter.isBlocked(to)) return `the link to peer ${to} is blocked by a fault`;
    if ((this.inFlight.get(to) ?? 0) >= LIMITS.peerInFlightMax) {
      return `peer ${to} already has ${LIMITS.peerInFlightMax} requests in flight`;
    }
    return undefined;
  }

  private takeId(): number {
    let id = this.nextId;
    while (this.pending.has(id)) id = id >= REQUEST_ID_MAX ? 1 : id + 1;
    this.nextId = id >= REQUEST_ID_MAX ? 1 : id + 1;
    return id;
  }

  /** One message to `to` through this node's link faults, then through the network. */
  private send(to: string, label: string, deliver: (ep: Endpoint) => void): void {
    const faults = this.filter;
    if (faults.isBlocked(to) || faults.shouldDrop(to, this.board.rng)) {
      this.sched.note(`fault drops: ${label}`);
      return;
    }
    const delayMs = faults.sendDelayMs(to, this.board.rng);
    if (delayMs === 0) return this.transmit(to, label, deliver);
    // As over TCP, a message held back by a delay is not sent if the link is blocked meanwhile.
    this.arm(
      delayMs,
      () => {
        if (!faults.isBlocked(to)) this.transmit(to, label, deliver);
      },
      `fault delay of ${delayMs} ms ends: ${label}`,
    );
  }

  private transmit(to: string, label: string, deliver: (ep: Endpoint) => void): void {
    this.net.send(this.self, to, label, () => {
      const ep = this.board.endpoint(to);
      if (ep === undefined) this.sched.note(`lost (${to} is stopped): ${label}`);
      else deliver(ep);
    });
  }

  private serve(from: string, req: PeerRequest): void {
    // A blocked peer's messages are discarded, as a firewall would drop its packets.
    if (this.filter.isBlocked(from)) return this.sched.note(`${this.self} discards ${req.type}`);
    if (req.type === 'ping') return this.answer(from, req.id, { type: 'pong' });
    const epoch = this.net.epoch(this.self);
    let result: PeerReplyBody | Promise<PeerReplyBody>;
    try {
      result = this.handler(from, req);
    } catch (err) {
      return this.answer(from, req.id, { type: 'error', message: errorText(err) });
    }
    Promise.resolve(result).then(
      (body) => this.answer(from, req.id, body, epoch),
      (err: unknown) =>
        this.answer(from, req.id, { type: 'error', message: errorText(err) }, epoch),
    );
  }

  /** Sends a reply, unless this node stopped or crashed since the request came in. */
  private answer(
    to: string,
    id: number,
    body: PeerReplyBody,
    epoch = this.net.epoch(this.self),
  ): void {
    if (this.phase !== 'started' || this.net.epoch(this.self) !== epoch) return;
    const reply = { ...body, id } as PeerReply;
    this.send(to, `${this.self}->${to} ${body.type} #${id}`, (ep) => ep.onReply(this.self, reply));
  }

  private settle(from: string, reply: PeerReply): void {
    if (this.filter.isBlocked(from)) return this.sched.note(`${this.self} discards ${reply.type}`);
    const p = this.pending.get(reply.id);
    if (p === undefined || p.peer !== from) return; // it came after its timeout
    this.finish(reply.id, p);
    this.disarm(p.timer);
    if (reply.type === 'error') {
      p.reject(new PeerError(from, 'remote', `peer ${from} failed the request: ${reply.message}`));
    } else {
      p.resolve(reply);
    }
  }

  private onTimeout(id: number): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.finish(id, p);
    p.reject(
      new PeerError(p.peer, 'timeout', `peer ${p.peer} did not answer within ${p.timeoutMs} ms`),
    );
  }

  private finish(id: number, p: Pending): void {
    this.pending.delete(id);
    const n = (this.inFlight.get(p.peer) ?? 1) - 1;
    if (n === 0) this.inFlight.delete(p.peer);
    else this.inFlight.set(p.peer, n);
  }

  private onPeerStopped(peer: string): void {
    this.silent.delete(peer);
    for (const [id, p] of this.pending) {
      if (p.peer !== peer) continue;
      this.finish(id, p);
      this.disarm(p.timer);
      p.reject(lost(peer));
    }
  }

  private onPeerFaultsChanged(peer: string): void {
    const { detectMinMs: lo, detectMaxMs: hi } = this.net.config;
    const lagMs = lo + Math.floor(this.board.rng() * (hi - lo + 1));
    this.arm(
      lagMs,
      () => {
        const ep = this.board.endpoint(peer);
        if (ep?.isSilentTo(this.self) === true) this.silent.add(peer);
        else this.silent.delete(peer);
      },
      `${this.self}'s detector catches up on ${peer}'s faults`,
    );
  }

  private isSilentTo(to: string): boolean {
    return this.filter.isBlocked(to) || (this.filter.get().drop[to] ?? 0) >= 1;
  }

  private arm(delayMs: number, fn: () => void, label: string): Timer {
    const timer = this.sched.at(
      delayMs,
      () => {
        this.timers.delete(timer);
        fn();
      },
      label,
    );
    this.timers.add(timer);
    return timer;
  }

  private disarm(timer: Timer): void {
    timer.cancel();
    this.timers.delete(timer);
  }
}

/** Sent (or held back by a delay) and unanswered when the link closed: the outcome is unknown. */
function lost(peer: string): PeerError {
  return new PeerError(peer, 'lost', `connection to peer ${peer} closed before it answered`);
}
