// Measured round trips to each peer, for the console: a ping over the peer link (through the
// same fault filter as every frame, so an injected delay or drop shows in it), at most one per
// peer per linkProbeIntervalMs and only when asked (a console poll), so a cluster nobody
// watches sends no extra frames. The transport's heartbeats carry no id a reply could be
// matched to, so they measure nothing; a tracked ping request does.

import type { Clock } from '../core/clock.js';
import { PeerError } from '../core/errors.js';
import type { Transport } from '../net/transport.js';

/** How one ping ended: answered, sent but unanswered in time (or its link closed), or not sent. */
type Outcome = 'ok' | 'lost' | 'unsent';

export interface LinkRoundTrip {
  /** The last ping's round trip; null when it was not answered (lost, unsent) or none was sent. */
  readonly rttMs: number | null;
  /** Pings of the recent history that were sent. */
  readonly sent: number;
  /** Of those, unanswered within the timeout: the link's measured loss. */
  readonly lost: number;
  /** The last ping could not be sent: no link, or a fault blocks it. */
  readonly unreachable: boolean;
}

interface PeerProbe {
  inFlight: boolean;
  lastStartMs: number;
  rttMs: number | null;
  readonly outcomes: Outcome[];
}

export interface LinkProbeOptions {
  readonly transport: Transport;
  /** The peers to measure (the layout changes as nodes join and leave). */
  readonly peers: () => readonly string[];
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly historyMax: number;
}

export class LinkProbe {
  private readonly probes = new Map<string, PeerProbe>();

  constructor(private readonly o: LinkProbeOptions) {}

  /** Pings every peer whose last ping began intervalMs ago or more and has ended. */
  poke(): void {
    const now = this.o.clock.monotonicMs();
    const peers = new Set(this.o.peers());
    for (const id of this.probes.keys()) if (!peers.has(id)) this.probes.delete(id);
    for (const id of peers) {
      let p = this.probes.get(id);
      if (p === undefined) {
        p = { inFlight: false, lastStartMs: -Infinity, rttMs: null, outcomes: [] };
        this.probes.set(id, p);
      }
      if (p.inFlight || now - p.lastStartMs < this.o.intervalMs) continue;
      this.ping(id, p, now);
    }
  }

  /** What the pings so far say about each peer's link. */
  snapshot(): Record<string, LinkRoundTrip> {
    const out: Record<string, LinkRoundTrip> = {};
    for (const [id, p] of this.probes) {
      const sent = p.outcomes.filter((x) => x !== 'unsent').length;
      out[id] = {
        rttMs: p.rttMs,
        sent,
        lost: p.outcomes.filter((x) => x === 'lost').length,
        unreachable: p.outcomes[p.outcomes.length - 1] === 'unsent',
      };
    }
    return out;
  }

  private ping(id: string, p: PeerProbe, startMs: number): void {
    p.inFlight = true;
    p.lastStartMs = startMs;
    this.o.transport.request(id, { type: 'ping' }, this.o.timeoutMs).then(
      () => {
        p.rttMs = this.o.clock.monotonicMs() - startMs;
        this.settle(p, 'ok');
      },
      (err: unknown) => {
        // A round trip from before a block or a drop would pass for the link's current one.
        p.rttMs = null;
        const unsent = err instanceof PeerError && err.reason === 'unreachable';
        this.settle(p, unsent ? 'unsent' : 'lost');
      },
    );
  }

  private settle(p: PeerProbe, outcome: Outcome): void {
    p.inFlight = false;
    p.outcomes.push(outcome);
    if (p.outcomes.length > this.o.historyMax) p.outcomes.shift();
  }
}
