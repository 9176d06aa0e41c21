// The peer transport over TCP, or mutual TLS when given certificates: one persistent connection
// per peer pair (the lower id dials), reconnects with backoff, heartbeats and the failure
// detector, and the link faults of the admin API. Connections themselves live in
// peer-connection.ts.

import { createServer, connect, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { LIMITS } from '../config.js';
import type { Clock } from '../core/clock.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { PeerError } from '../core/errors.js';
import { FaultFilter, type FaultSpec } from '../core/faults.js';
import type { HandshakeIdentity } from './handshake.js';
import type { PeerReplyBody, PeerRequestBody } from './messages.js';
import type { PeerAddress, PeerRequestHandler, PeerState, Transport } from './transport.js';

export type { PeerAddress, PeerState } from './transport.js';
import {
  NODE_TIMERS,
  PeerConnection,
  type ConnectionHost,
  type NetTimers,
} from './peer-connection.js';
import { certificateNamesNode, peerIdentityError, type TlsMaterial } from './tls-identity.js';

/** A peer is down after this many of our own heartbeat periods pass without a word from it. */
const PEER_DOWN_AFTER_TICKS = Math.ceil(LIMITS.peerDownAfterMs / LIMITS.heartbeatIntervalMs);

export interface TcpTransportOptions {
  readonly self: string;
  readonly cluster: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly peers: readonly PeerAddress[];
  /** Both sides of every link must prove this secret in the handshake (`--cluster-secret`). */
  readonly secret?: string;
  /**
   * Mutual TLS on every link: both sides present a certificate signed by `ca` that names their
   * node id. The secret handshake still runs inside it (the certificate proves the machine, the
   * secret proves membership of this cluster).
   */
  readonly tls?: TlsMaterial;
  readonly logger: Logger;
  /** Serves reads and writes; a throw or rejection is answered with an ErrorReply. Pings never reach it. */
  readonly onRequest: PeerRequestHandler;
  readonly onPeerState?: (peer: string, up: boolean) => void;
  /** Randomness for drop, delay jitter and backoff jitter; tests pass a seeded one. */
  readonly rng?: () => number;
  /** Open peer connections (either direction) past which new inbound ones are closed at once. */
  readonly connectionsMax?: number;
  /** Warnings other hosts can trigger, per kind per second (default logLinesPerKindPerSecond). */
  readonly warningLinesPerSecond?: number;
  /** Every timer the transport and its connections arm; tests pass counting ones. */
  readonly timers?: NetTimers;
  /** Liveness (LIMITS.peerDownAfterMs) is measured on this; defaults to performance.now(). */
  readonly clock?: Pick<Clock, 'monotonicMs'>;
}

interface DialState {
  readonly peer: PeerAddress;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  conn: PeerConnection | undefined;
}

export class TcpTransport implements Transport {
  private readonly server: Server;
  private readonly host: ConnectionHost;
  private readonly filter = new FaultFilter();
  private readonly rng: () => number;
  private readonly timers: NetTimers;
  private readonly clock: Pick<Clock, 'monotonicMs'>;
  private readonly logger: Logger;
  /** The established link to each peer; a newer one replaces the older. */
  private readonly links = new Map<string, PeerConnection>();
  /** Every connection, including those still in their handshake, so stop() can close them all. */
  private readonly conns = new Set<PeerConnection>();
  /** The peers this node dials: those whose id sorts above its own. */
  private readonly dials = new Map<string, DialState>();
  private readonly reportedUp = new Map<string, boolean>();
  /** The peers of the current membership (setPeers replaces them). */
  private peers: PeerAddress[] = [];
  private readonly knownPeers = new Set<string>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private refusedConnections = 0;
  /** Heartbeat periods this transport has run: the clock of peer liveness (heardWithin). */
  private ticks = 0;

  readonly self: string;

  constructor(private readonly opts: TcpTransportOptions) {
    this.self = opts.self;
    this.logger = opts.logger;
    this.rng = opts.rng ?? Math.random;
    this.timers = opts.timers ?? NODE_TIMERS;
    this.clock = opts.clock ?? { monotonicMs: () => performance.now() };
    const identity: HandshakeIdentity = {
      self: opts.self,
      cluster: opts.cluster,
      secret: opts.secret,
    };
    this.host = {
      identity,
      knownPeers: this.knownPeers,
      logger: opts.logger,
      peerWarnings: new RateLimitedLog(opts.logger, opts.warningLinesPerSecond),
      faults: this.filter,
      rng: this.rng,
      timers: this.timers,
      clock: this.clock,
      ticks: () => this.ticks,
      onRequest: opts.onRequest,
      established: (conn) => this.onEstablished(conn),
      confirmed: (conn) => this.refreshState(conn.peer as string),
      closed: (conn, wasEstablished) => this.onClosed(conn, wasEstablished),
      ...(opts.tls === undefined ? {} : { claimRefusal: certificateClaimRefusal }),
    };
    this.server =
      opts.tls === undefined
        ? createServer((socket) => this.onAccept(socket))
        : this.createTlsListener(opts.tls);
    this.addPeers(opts.peers);
  }

  /**
   * Only peers with a certificate from the cluster CA get past the TLS handshake; the others
   * (no certificate, another CA, plain TCP) are cut there, with one rate-limited line.
   */
  private createTlsListener(tls: TlsMaterial): Server {
    const server = createTlsServer(
      {
        cert: tls.cert,
        key: tls.key,
        ca: tls.ca,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        handshakeTimeout: LIMITS.handshakeTimeoutMs,
      },
      (socket) => this.onAccept(socket),
    );
    server.on('tlsClientError', (err, socket) => {
      this.host.peerWarnings.warn(
        'tls-refused',
        { remote: socket.remoteAddress, reason: err.message },
        'peer connection refused in the TLS handshake: it needs a certificate signed by the cluster CA',
      );
    });
    return server;
  }

  /** Listens, then starts dialing; resolves once the port is bound, not when peers are connected. */
  async start(): Promise<void> {
    if (this.stopped) {
      throw new Error('a stopped transport cannot be started again; create a new one');
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (err) => this.logger.error({ err }, 'peer listener failed'));
    this.heartbeatTimer = this.timers.setInterval(
      () => this.heartbeat(),
      LIMITS.heartbeatIntervalMs,
    );
    for (const d of this.dials.values()) this.dial(d);
  }

  /** Closes every connection and timer; requests in flight reject with 'lost' (sent, unanswered). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.clearInterval(this.heartbeatTimer);
    for (const d of this.dials.values()) this.timers.clearTimeout(d.timer);
    for (const c of [...this.conns]) c.close();
    this.host.peerWarnings.close();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Bytes queued on the peer connections and not yet written to the network. */
  queuedBytes(): number {
    let total = 0;
    for (const c of this.conns) total += c.queuedBytes();
    return total;
  }

  /** The bound address: useful when listening on port 0. */
  address(): { host: string; port: number } | undefined {
    const a = this.server.address();
    return a !== null && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  request(to: string, body: PeerRequestBody, timeoutMs: number): Promise<PeerReplyBody> {
    const link = this.links.get(to);
    if (link === undefined) {
      return Promise.reject(new PeerError(to, 'unreachable', `no connection to peer ${to}`));
    }
    if (this.filter.isBlocked(to)) {
      return Promise.reject(
        new PeerError(to, 'unreachable', `the link to peer ${to} is blocked by a fault`),
      );
    }
    return link.request(body, timeoutMs);
  }

  /** Connected, heard from within LIMITS.peerDownAfterMs, and not blocked. */
  isUp(peer: string): boolean {
    const link = this.links.get(peer);
    if (link === undefined || this.filter.isBlocked(peer)) return false;
    return link.heardWithin(
      LIMITS.peerDownAfterMs,
      this.clock.monotonicMs(),
      PEER_DOWN_AFTER_TICKS,
    );
  }

  peerStates(): PeerState[] {
    return this.peers.map((p) => ({ id: p.id, up: this.isUp(p.id) }));
  }

  setFaults(spec: FaultSpec): void {
    this.filter.set(spec);
    this.logger.info({ faults: this.filter.get() }, 'link faults changed');
    for (const p of this.peers) this.refreshState(p.id);
  }

  /**
   * The membership changed: links to peers no longer in `peers` close (and are refused from
   * now on), new peers are dialed (by the lower id, as at start) and accepted. A peer whose
   * address changed is treated as removed and added again.
   */
  setPeers(peers: readonly PeerAddress[]): void {
    const next = new Map(peers.map((p) => [p.id, p]));
    const gone = this.peers.filter((p) => {
      const q = next.get(p.id);
      return q === undefined || q.host !== p.host || q.port !== p.port;
    });
    for (const p of gone) this.removePeer(p.id);
    const known = new Set(this.peers.map((p) => p.id));
    this.addPeers(peers.filter((p) => !known.has(p.id)));
  }

  private addPeers(peers: readonly PeerAddress[]): void {
    for (const p of peers) {
      if (p.id === this.opts.self) {
        throw new Error(`peer list of ${this.opts.self} must not include the node itself`);
      }
      this.peers.push(p);
      this.knownPeers.add(p.id);
      this.reportedUp.set(p.id, false);
      if (this.opts.self < p.id) {
        const d: DialState = { peer: p, attempt: 0, timer: undefined, conn: undefined };
        this.dials.set(p.id, d);
        if (this.server.listening && !this.stopped) this.dial(d);
      }
    }
  }

  private removePeer(id: string): void {
    this.peers = this.peers.filter((p) => p.id !== id);
    this.knownPeers.delete(id);
    const d = this.dials.get(id);
    if (d !== undefined) {
      this.timers.clearTimeout(d.timer);
      this.dials.delete(id);
    }
    for (const c of [...this.conns]) if (c.peer === id) c.close('the peer left the cluster');
    this.links.delete(id);
    this.reportedUp.delete(id);
  }

  faults(): FaultSpec {
    return this.filter.get();
  }

  private onAccept(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    // A peer needs one connection; a flood of them (or of half-open handshakes) must not exhaust
    // this node. Established links keep working; only the newcomer is turned away.
    if (this.conns.size >= (this.opts.connectionsMax ?? LIMITS.peerConnectionsMax)) {
      this.refusedConnections += 1;
      this.host.peerWarnings.warn(
        'too-many-connections',
        { remote: socket.remoteAddress, refused: this.refusedConnections },
        'peer connection refused: too many open',
      );
      socket.destroy();
      return;
    }
    this.conns.add(new PeerConnection(socket, this.host, { dialer: false }));
  }

  private dial(d: DialState): void {
    d.timer = undefined;
    if (this.stopped) return;
    const socket =
      this.opts.tls === undefined
        ? connect({ host: d.peer.host, port: d.peer.port })
        : this.dialTls(d.peer, this.opts.tls);
    d.conn = new PeerConnection(socket, this.host, { dialer: true, peer: d.peer.id });
    this.conns.add(d.conn);
  }

  private dialTls(peer: PeerAddress, tls: TlsMaterial): TLSSocket {
    const socket = tlsConnect({
      host: peer.host,
      port: peer.port,
      cert: tls.cert,
      key: tls.key,
      ca: tls.ca,
      minVersion: 'TLSv1.2',
      checkServerIdentity: (host, cert) => peerIdentityError(host, cert, peer.id),
    });
    let secured = false;
    socket.once('secureConnect', () => (secured = true));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      // A peer that is down refuses the TCP connect: that is the redial loop's business, not TLS's.
      if (secured || err.code === 'ECONNREFUSED') return;
      this.host.peerWarnings.warn(
        'tls-refused',
        { peer: peer.id, reason: err.message },
        'TLS handshake with peer failed; check that both nodes use certificates from the same CA',
      );
    });
    return socket;
  }

  /** Exponential backoff with jitter: the delay doubles per failed attempt, drawn from its upper half. */
  private scheduleDial(d: DialState): void {
    const ceilingMs = Math.min(
      LIMITS.reconnectBackoffMaxMs,
      LIMITS.reconnectBackoffMinMs * 2 ** d.attempt,
    );
    const delayMs = Math.max(
      LIMITS.reconnectBackoffMinMs,
      ceilingMs / 2 + (this.rng() * ceilingMs) / 2,
    );
    d.attempt = Math.min(d.attempt + 1, 30);
    d.timer = this.timers.setTimeout(() => this.dial(d), delayMs);
  }

  private onEstablished(conn: PeerConnection): void {
    const peer = conn.peer as string;
    const old = this.links.get(peer);
    this.links.set(peer, conn);
    if (old !== undefined && old !== conn) {
      old.close('replaced by a newer connection from the same peer');
    }
    const d = this.dials.get(peer);
    if (d !== undefined && d.conn === conn) d.attempt = 0;
    this.logger.debug({ peer, dialer: conn.dialer }, 'peer link established');
    this.refreshState(peer);
  }

  private onClosed(conn: PeerConnection, wasEstablished: boolean): void {
    this.conns.delete(conn);
    const peer = conn.peer;
    if (this.stopped) return;
    if (wasEstablished && peer !== undefined && this.links.get(peer) === conn) {
      this.links.delete(peer);
      this.refreshState(peer);
    }
    const d = peer === undefined ? undefined : this.dials.get(peer);
    if (d === undefined) return;
    if (d.conn === conn) d.conn = undefined;
    // Redial only when nothing links us: a link the peer dialed itself may have replaced ours.
    if (d.conn === undefined && d.timer === undefined && !this.links.has(d.peer.id)) {
      this.scheduleDial(d);
    }
  }

  /**
   * There is no idle teardown: a link to a host that vanished without a FIN or RST shows down
   * here within peerDownAfterMs, and the host's kernel resets it on the first heartbeat once it is
   * reachable again, which triggers the redial.
   */
  private heartbeat(): void {
    this.ticks += 1;
    for (const [peer, link] of this.links) {
      if (!this.filter.isBlocked(peer)) link.sendHeartbeat();
    }
    for (const p of this.peers) this.refreshState(p.id);
  }

  private refreshState(peer: string): void {
    const up = this.isUp(peer);
    if (this.reportedUp.get(peer) === up) return;
    this.reportedUp.set(peer, up);
    this.logger.info({ peer }, up ? 'peer up' : 'peer down');
    try {
      this.opts.onPeerState?.(peer, up);
    } catch (err) {
      this.logger.error({ err, peer }, 'onPeerState callback failed');
    }
  }
}

/** The acceptor's check of a Hello over TLS: the claimed node id must be on the certificate. */
function certificateClaimRefusal(socket: Socket, claimed: string): string | null {
  const cert = (socket as TLSSocket).getPeerCertificate();
  return certificateNamesNode(cert, claimed)
    ? null
    : `the peer claims to be ${claimed} but its certificate names ${cert.subjectaltname ?? 'nothing'}`;
}
