// One TCP connection to one peer: the handshake, then symmetric request/reply traffic with
// per-side request ids, deadlines, the link's faults, and per-tick corked writes. Nothing a peer
// sends may throw out of a socket event handler: bad input closes this connection only.

import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { LIMITS } from '../config.js';
import type { Clock } from '../core/clock.js';
import type { RateLimitedLog } from './rate-limited-log.js';
import { PeerError } from '../core/errors.js';
import type { FaultFilter } from '../core/faults.js';
import { encodeFrame, FrameDecoder } from './frame-codec.js';
import {
  firstHello,
  HANDSHAKE_FRAME_BYTES_MAX,
  helloAck,
  newNonce,
  proofHello,
  refuseAck,
  refuseHello,
  refuseProof,
  type HandshakeIdentity,
} from './handshake.js';
import type { VersionSet } from '../core/version-set.js';
import type {
  Hello,
  PeerMessage,
  PeerReply,
  PeerReplyBody,
  PeerRequest,
  PeerRequestBody,
  WriteEntry,
} from './messages.js';

/** Heartbeat pings use this id and are never tracked: any frame from the peer proves liveness. */
const HEARTBEAT_ID = 0;
const REQUEST_ID_MAX = 0xffff_ffff;
/** ErrorReply text stays well under the 4096 characters messages.ts accepts. */
const ERROR_MESSAGE_CHARS_MAX = 1000;
/** Only idle links send keepalive probes; heartbeats keep live links busy, so this rarely fires. */
const KEEPALIVE_INITIAL_DELAY_MS = 5_000;
/**
 * Writes do not wait for the socket to drain (in-flight requests are already capped), so a peer
 * that stops reading would grow this buffer without end; past this size the link is closed.
 */
const WRITE_BUFFER_BYTES_MAX = LIMITS.peerWriteBufferBytesMax;
/** Writes of one tick to a peer go out as writeBatch frames of at most this many (see queueWrite). */
const COALESCE_ENTRIES_MAX = LIMITS.writeBatchEntriesMax;
const COALESCE_BYTES_MAX = LIMITS.peerWriteCoalesceBytesMax;
const COALESCE_ENTRY_BYTES_MAX = LIMITS.peerWriteCoalesceEntryBytesMax;
/** msgpack's bytes for a sibling's numbers, flags and headers, and a clock entry's, beyond their strings. */
const SIBLING_FIXED_WIRE_BYTES = 48;
const CLOCK_ENTRY_FIXED_WIRE_BYTES = 12;

/**
 * Node's timer functions, taken as a parameter so a test can see which timers the transport
 * leaves armed. The signatures are Node's own, so the default adds no allocation per request.
 */
export interface NetTimers {
  setTimeout<A extends unknown[]>(fn: (...args: A) => void, ms: number, ...args: A): NodeJS.Timeout;
  clearTimeout(timer: NodeJS.Timeout | undefined): void;
  setInterval(fn: () => void, ms: number): NodeJS.Timeout;
  clearInterval(timer: NodeJS.Timeout | undefined): void;
}

export const NODE_TIMERS: NetTimers = { setTimeout, clearTimeout, setInterval, clearInterval };

/** What a connection needs from the transport that owns it. */
export interface ConnectionHost {
  readonly identity: HandshakeIdentity;
  readonly knownPeers: ReadonlySet<string>;
  readonly logger: Logger;
  /** Warnings other hosts can trigger at will go through this, a few lines per second. */
  readonly peerWarnings: RateLimitedLog;
  readonly faults: FaultFilter;
  readonly rng: () => number;
  readonly timers: NetTimers;
  /** Liveness is measured on this clock's monotonic reading. */
  readonly clock: Pick<Clock, 'monotonicMs'>;
  /** Over TLS: why the certificate on `socket` does not back the node id a Hello claims, or null. */
  readonly claimRefusal?: (socket: Socket, claimed: string) => string | null;
  /** Heartbeat ticks the owner has run so far. */
  ticks(): number;
  onRequest(from: string, req: PeerRequest): PeerReplyBody | Promise<PeerReplyBody>;
  established(conn: PeerConnection): void;
  /** The dialer's link carried its first frame from the acceptor: it now counts as live. */
  confirmed(conn: PeerConnection): void;
  closed(conn: PeerConnection, wasEstablished: boolean): void;
}

export type ConnectionRole =
  { readonly dialer: true; readonly peer: string } | { readonly dialer: false };

interface Pending {
  readonly resolve: (reply: PeerReplyBody) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly timeoutMs: number;
}

type Phase = 'handshake' | 'open' | 'closed';

/** A write waiting for the end of the tick, to leave with the others in one frame. */
interface QueuedWrite {
  readonly id: number;
  readonly key: string;
  readonly set: VersionSet;
}

/** A coalesced frame out: the request id of each entry, in order, until its reply comes. */
interface SentBatch {
  readonly ids: readonly number[];
  /** Forgets the batch once every entry has timed out, so a lost reply leaks nothing. */
  readonly timer: NodeJS.Timeout;
}

/** An upper bound on the bytes `key` and `set` take in a frame. */
function wireBytesOf(key: string, set: VersionSet): number {
  // A UTF-16 code unit is at most 3 bytes of UTF-8.
  let bytes = 3 * key.length;
  for (const [node] of set.clock) bytes += CLOCK_ENTRY_FIXED_WIRE_BYTES + 3 * node.length;
  for (const s of set.siblings) {
    const ids = s.ts.node.length + (s.dot === null ? 0 : s.dot.node.length);
    bytes += SIBLING_FIXED_WIRE_BYTES + 3 * (ids + s.contentType.length) + s.value.length;
  }
  return bytes;
}

function isPromiseLike<T>(x: T | PromiseLike<T>): x is PromiseLike<T> {
  return typeof (x as { then?: unknown }).then === 'function';
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, ERROR_MESSAGE_CHARS_MAX);
}

export class PeerConnection {
  readonly dialer: boolean;
  /** Known from the start when dialing; set from the Hello when accepting. */
  peer: string | undefined;
  private phase: Phase = 'handshake';
  private readonly decoder: FrameDecoder;
  private readonly nonce = newNonce();
  private firstHello: Hello | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private readonly pending = new Map<number, Pending>();
  private writeQueue: QueuedWrite[] = [];
  private writeQueueBytes = 0;
  private readonly batches = new Map<number, SentBatch>();
  private nextId = 1;
  private lastHeardMs = 0;
  /** The owner's heartbeat tick when this peer was last heard (see heardWithin). */
  private lastHeardTick = 0;
  private corked = false;
  private readonly delayTimers = new Set<NodeJS.Timeout>();
  private readonly remote: string;
  private connected = false;
  /** The dialer sends its proof and cannot know it was accepted until the acceptor speaks. */
  private confirmed = false;

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
    role: ConnectionRole,
  ) {
    this.dialer = role.dialer;
    // The dialer receives one handshake frame (HelloAck), the acceptor two (Hello, proof Hello).
    this.decoder = new FrameDecoder(LIMITS.frameBytesMax, {
      frames: role.dialer ? 1 : 2,
      frameBytesMax: HANDSHAKE_FRAME_BYTES_MAX,
    });
    this.peer = role.dialer ? role.peer : undefined;
    this.remote = role.dialer ? role.peer : `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) =>
      this.host.logger.debug({ peer: this.remote, err: err.message }, 'peer socket error'),
    );
    socket.on('close', () => this.onSocketClose());
    if (role.dialer) {
      // Over TLS the Hello waits for the TLS handshake, so it never goes to an unverified peer.
      const encrypted = (socket as { encrypted?: boolean }).encrypted === true;
      socket.once(encrypted ? 'secureConnect' : 'connect', () => {
        this.connected = true;
        this.writeHandshake(firstHello(host.identity, this.nonce));
      });
    }
    // Covers the TCP connect too, so a peer address that swallows SYNs cannot stall a dial.
    this.handshakeTimer = host.timers.setTimeout(
      () => this.refuse('handshake did not finish in time'),
      LIMITS.handshakeTimeoutMs,
    );
  }

  /** Liveness. A dialer counts only from the acceptor's first frame, proof that it took our Hello. */
  /** Bytes written to this connection that the socket has not handed to the network yet. */
  queuedBytes(): number {
    return this.socket.writableLength;
  }

  private heard(): void {
    this.lastHeardMs = this.host.clock.monotonicMs();
    this.lastHeardTick = this.host.ticks();
  }

  /**
   * Heard within `ms`, or within `ticks` of the owner's heartbeat ticks. Silence counts only
   * while this process runs: when its own event loop stalls (a burst of large writes, GC), no
   * tick passes and no socket is read, so a peer is never blamed for time this node was away.
   */
  heardWithin(ms: number, nowMs: number, ticks: number): boolean {
    if (this.phase !== 'open' || !this.confirmed) return false;
    return nowMs - this.lastHeardMs <= ms || this.host.ticks() - this.lastHeardTick <= ticks;
  }

  /** Rejects with PeerError: 'unreachable' when the link cannot take it, 'timeout', 'lost' if the link closes first, or 'remote'. */
  request(body: PeerRequestBody, timeoutMs: number): Promise<PeerReplyBody> {
    const peer = this.peer as string;
    if (this.phase !== 'open') {
      return Promise.reject(new PeerError(peer, 'unreachable', `no link to peer ${peer}`));
    }
    if (this.pending.size >= LIMITS.peerInFlightMax) {
      return Promise.reject(
        new PeerError(
          peer,
          'unreachable',
          `peer ${peer} already has ${LIMITS.peerInFlightMax} requests in flight`,
        ),
      );
    }
    const id = this.takeId();
    return new Promise<PeerReplyBody>((resolve, reject) => {
      const timer = this.host.timers.setTimeout(this.onTimeout, timeoutMs, id);
      this.pending.set(id, { resolve, reject, timer, timeoutMs });
      try {
        if (body.type === 'write') this.queueWrite({ id, key: body.key, set: body.set });
        else {
          // Requests keep their order on the link: the writes queued before this one go first.
          this.flushWrites();
          this.send({ ...body, id });
        }
      } catch (err) {
        this.host.timers.clearTimeout(timer);
        this.pending.delete(id);
        reject(
          new PeerError(peer, 'unreachable', `could not send to peer ${peer}: ${errorText(err)}`),
        );
      }
    });
  }

  sendHeartbeat(): void {
    this.send({ type: 'ping', id: HEARTBEAT_ID });
  }

  /** Idempotent; rejects everything pending so no caller waits for its timeout. */
  close(reason?: string): void {
    if (this.phase === 'closed') return;
    const wasOpen = this.phase === 'open';
    this.phase = 'closed';
    if (reason !== undefined) {
      this.host.logger.debug({ peer: this.remote, reason }, 'closing peer connection');
    }
    this.host.timers.clearTimeout(this.handshakeTimer);
    for (const t of this.delayTimers) this.host.timers.clearTimeout(t);
    this.delayTimers.clear();
    for (const b of this.batches.values()) this.host.timers.clearTimeout(b.timer);
    this.batches.clear();
    this.writeQueue = [];
    this.writeQueueBytes = 0;
    this.socket.destroy();
    const peer = this.peer ?? this.remote;
    for (const p of this.pending.values()) {
      this.host.timers.clearTimeout(p.timer);
      // Sent but unanswered: the peer may have applied it.
      p.reject(new PeerError(peer, 'lost', `connection to peer ${peer} closed before it answered`));
    }
    this.pending.clear();
    this.host.closed(this, wasOpen);
  }

  private onSocketClose(): void {
    if (
      (this.phase === 'handshake' && (this.connected || this.firstHello !== undefined)) ||
      (this.phase === 'open' && !this.confirmed)
    ) {
      // The other side closes without a word when it refuses us; its log line says why. An
      // acceptor lands here when the dialer refused its HelloAck (e.g. a different secret).
      this.host.peerWarnings.warn(
        'handshake-closed',
        { peer: this.peer ?? this.remote },
        'peer closed the connection during the handshake; check the cluster name, secret and node ids on both sides',
      );
    }
    this.close();
  }

  private takeId(): number {
    let id = this.nextId;
    while (id === HEARTBEAT_ID || this.pending.has(id) || this.batches.has(id))
      id = id >= REQUEST_ID_MAX ? 1 : id + 1;
    this.nextId = id >= REQUEST_ID_MAX ? 1 : id + 1;
    return id;
  }

  private readonly onTimeout = (id: number): void => {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    const peer = this.peer as string;
    p.reject(
      new PeerError(peer, 'timeout', `peer ${peer} did not answer within ${p.timeoutMs} ms`),
    );
  };

  private onData(chunk: Buffer): void {
    // Any bytes prove the peer alive, not only whole frames: while a large value is in transit
    // its link must not look silent. The one place an open link hears its peer.
    if (this.phase === 'open' && !this.host.faults.isBlocked(this.peer as string)) this.heard();
    let msgs: PeerMessage[];
    try {
      msgs = this.decoder.push(chunk);
    } catch (err) {
      this.refuse(`malformed frame: ${errorText(err)}`);
      return;
    }
    try {
      for (const m of msgs) {
        if (this.phase === 'handshake') this.onHandshakeMessage(m);
        else if (this.phase === 'open') this.onOpenMessage(m);
        else return;
      }
    } catch (err) {
      // A bug in a handler must cost this connection, never the process.
      this.host.logger.error({ peer: this.remote, err }, 'peer message handler failed');
      this.close();
    }
  }

  private onHandshakeMessage(m: PeerMessage): void {
    const id = this.host.identity;
    if (this.dialer) {
      if (m.type !== 'helloAck') return this.refuse(`expected helloAck, got ${m.type}`);
      const why = refuseAck(id, this.peer as string, this.nonce, m);
      if (why !== null) return this.refuse(why);
      this.writeHandshake(proofHello(id, this.nonce, m.nonce));
      return this.establish();
    }
    if (m.type !== 'hello') return this.refuse(`expected hello, got ${m.type}`);
    if (this.firstHello === undefined) {
      const why =
        refuseHello(id, m, this.host.knownPeers) ??
        this.host.claimRefusal?.(this.socket, m.node) ??
        null;
      if (why !== null) return this.refuse(why);
      this.firstHello = m;
      this.peer = m.node;
      this.writeHandshake(helloAck(id, this.nonce, m.nonce));
      return;
    }
    const why = refuseProof(id, this.firstHello, m, this.nonce);
    if (why !== null) return this.refuse(why);
    this.establish();
  }

  private establish(): void {
    this.host.timers.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.firstHello = undefined;
    this.phase = 'open';
    this.heard();
    this.confirmed = !this.dialer;
    this.host.established(this);
    // Tells the dialer at once that its proof was accepted, instead of a heartbeat period later.
    this.sendHeartbeat();
  }

  private onOpenMessage(m: PeerMessage): void {
    const peer = this.peer as string;
    // A blocked peer's frames are read and discarded, as a firewall would drop its packets.
    if (this.host.faults.isBlocked(peer)) return;
    if (!this.confirmed) {
      this.confirmed = true;
      this.host.confirmed(this);
    }
    switch (m.type) {
      case 'hello':
      case 'helloAck':
        return this.refuse(`${m.type} on an established link`);
      case 'ping':
        return this.send({ type: 'pong', id: m.id });
      case 'read':
      case 'write':
      case 'writeBatch':
      case 'update':
      case 'handoff':
      case 'purge':
      case 'aeGroups':
      case 'aeLeaves':
      case 'aeKeys':
      case 'aeFetch':
      case 'layout':
      case 'paxos':
        return this.serve(m);
      case 'pong':
      case 'readReply':
      case 'writeReply':
      case 'writeBatchReply':
      case 'updateReply':
      case 'purgeReply':
      case 'aeGroupsReply':
      case 'aeLeavesReply':
      case 'aeKeysReply':
      case 'aeFetchReply':
      case 'layoutReply':
      case 'paxosReply':
      case 'error':
        return this.settle(m);
      default: {
        const never: never = m;
        return this.refuse(`unexpected message ${String((never as PeerMessage).type)}`);
      }
    }
  }

  private serve(req: Exclude<PeerRequest, { type: 'ping' }>): void {
    let result: PeerReplyBody | Promise<PeerReplyBody>;
    try {
      result = this.host.onRequest(this.peer as string, req);
    } catch (err) {
      return this.replyError(req.id, err);
    }
    if (isPromiseLike(result)) {
      result.then(
        (body) => this.reply(req.id, body),
        (err: unknown) => this.replyError(req.id, err),
      );
    } else {
      this.reply(req.id, result);
    }
  }

  private reply(id: number, body: PeerReplyBody): void {
    if (this.phase !== 'open') return;
    try {
      this.send({ ...body, id } as PeerReply);
    } catch (err) {
      this.replyError(id, err);
    }
  }

  private replyError(id: number, err: unknown): void {
    if (this.phase !== 'open') return;
    try {
      this.send({ type: 'error', id, message: errorText(err) });
    } catch (sendErr) {
      this.host.logger.error({ peer: this.remote, err: sendErr }, 'could not send an error reply');
    }
  }

  private settle(reply: PeerReply): void {
    const batch = this.batches.get(reply.id);
    if (batch !== undefined) return this.settleBatch(reply, batch);
    const p = this.pending.get(reply.id);
    if (p === undefined) return; // a heartbeat's pong, or an answer that came after its timeout
    this.pending.delete(reply.id);
    this.host.timers.clearTimeout(p.timer);
    if (reply.type === 'error') {
      const peer = this.peer as string;
      p.reject(new PeerError(peer, 'remote', `peer ${peer} failed the request: ${reply.message}`));
    } else {
      p.resolve(reply);
    }
  }

  /**
   * The answer to a coalesced frame settles each write in it, as its own writeReply would have.
   * An entry the replica could not merge fails alone, as a failed write does.
   */
  private settleBatch(reply: PeerReply, batch: SentBatch): void {
    this.batches.delete(reply.id);
    this.host.timers.clearTimeout(batch.timer);
    const peer = this.peer as string;
    const failed = new Set(reply.type === 'writeBatchReply' ? reply.failed : []);
    batch.ids.forEach((id, i) => {
      const p = this.pending.get(id);
      if (p === undefined) return; // timed out already
      this.pending.delete(id);
      this.host.timers.clearTimeout(p.timer);
      if (reply.type === 'writeBatchReply' && !failed.has(i)) {
        p.resolve({ type: 'writeReply', applied: true });
        return;
      }
      const why =
        reply.type === 'error'
          ? reply.message
          : reply.type === 'writeBatchReply'
            ? 'it could not merge the write'
            : `it answered a write batch with ${reply.type}`;
      p.reject(new PeerError(peer, 'remote', `peer ${peer} failed the request: ${why}`));
    });
  }

  /**
   * Writes to a peer that leave in one event-loop turn go in one writeBatch frame, which the
   * replica merges as one store batch and answers with one frame: per write, that spares both
   * sides a frame's encoding and decoding, a request handler and a reply. A write alone in its
   * turn, or larger than peerWriteCoalesceEntryBytesMax, goes as a plain write.
   */
  private queueWrite(w: QueuedWrite): void {
    const bytes = wireBytesOf(w.key, w.set);
    if (bytes > COALESCE_ENTRY_BYTES_MAX) {
      // Writes of one key merge in any order, so a large one need not wait for the queue.
      this.sendQueued(w.id, [w.id], () =>
        this.send({ type: 'write', id: w.id, key: w.key, set: w.set }),
      );
      return;
    }
    if (
      this.writeQueue.length >= COALESCE_ENTRIES_MAX ||
      this.writeQueueBytes + bytes > COALESCE_BYTES_MAX
    )
      this.flushWrites();
    this.writeQueue.push(w);
    this.writeQueueBytes += bytes;
    // The queue goes out with the frames corked this turn: uncork flushes it first.
    this.cork();
  }

  /** Sends the queued writes: one alone as a write, more as one writeBatch. */
  private flushWrites(): void {
    const queue = this.writeQueue;
    if (queue.length === 0) return;
    this.writeQueue = [];
    this.writeQueueBytes = 0;
    if (queue.length === 1) {
      const { id, key, set } = queue[0] as QueuedWrite;
      return this.sendQueued(id, [id], () => this.send({ type: 'write', id, key, set }));
    }
    const id = this.takeId();
    let timeoutMs = 0;
    for (const w of queue) timeoutMs = Math.max(timeoutMs, this.pending.get(w.id)?.timeoutMs ?? 0);
    const ids = queue.map((w) => w.id);
    const timer = this.host.timers.setTimeout(() => this.batches.delete(id), timeoutMs);
    this.batches.set(id, { ids, timer });
    const entries: WriteEntry[] = queue.map((w) => [w.key, w.set]);
    this.sendQueued(id, ids, () => this.send({ type: 'writeBatch', id, entries }));
  }

  /** Queued writes that cannot be sent fail now, as request() fails one it cannot send. */
  private sendQueued(id: number, ids: readonly number[], send: () => void): void {
    try {
      send();
    } catch (err) {
      const batch = this.batches.get(id);
      if (batch !== undefined) {
        this.batches.delete(id);
        this.host.timers.clearTimeout(batch.timer);
      }
      const peer = this.peer as string;
      for (const each of ids) {
        const p = this.pending.get(each);
        if (p === undefined) continue;
        this.pending.delete(each);
        this.host.timers.clearTimeout(p.timer);
        p.reject(
          new PeerError(peer, 'unreachable', `could not send to peer ${peer}: ${errorText(err)}`),
        );
      }
    }
  }

  /** Sends through this link's faults. Throws FrameError when the message cannot be framed. */
  private send(msg: PeerMessage): void {
    if (this.phase !== 'open') return;
    const faults = this.host.faults;
    if (faults.isEmpty()) return this.write(encodeFrame(msg));
    const peer = this.peer as string;
    if (faults.isBlocked(peer) || faults.shouldDrop(peer, this.host.rng)) return;
    const delayMs = faults.sendDelayMs(peer, this.host.rng);
    const frame = encodeFrame(msg);
    if (delayMs === 0) return this.write(frame);
    const timer = this.host.timers.setTimeout(() => {
      this.delayTimers.delete(timer);
      if (!faults.isBlocked(peer)) this.write(frame);
    }, delayMs);
    this.delayTimers.add(timer);
  }

  /**
   * Frames written in one event-loop turn leave in one corked write. setImmediate runs after
   * every I/O callback of the turn, so the frames of all the client requests that arrived
   * together share one write (a nextTick uncork gave each request its own).
   */
  private write(frame: Buffer): void {
    if (this.phase !== 'open') return;
    const s = this.socket;
    this.cork();
    s.write(frame);
    if (s.writableLength > WRITE_BUFFER_BYTES_MAX) {
      this.refuse('peer stopped reading; write buffer is full');
    }
  }

  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    setImmediate(this.uncork);
  }

  private readonly uncork = (): void => {
    this.flushWrites();
    this.corked = false;
    this.socket.uncork();
  };

  private writeHandshake(msg: PeerMessage): void {
    if (this.phase === 'handshake') this.socket.write(encodeFrame(msg));
  }

  /** Closes this connection for something the peer did; one warn line, nothing else is touched. */
  private refuse(reason: string): void {
    if (this.phase === 'closed') return;
    this.host.peerWarnings.warn(
      'connection-refused',
      { peer: this.peer ?? this.remote, remote: this.remote, reason },
      'peer connection refused',
    );
    this.close();
  }
}
