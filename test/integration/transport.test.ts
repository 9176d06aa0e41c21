// The TCP peer transport on real loopback sockets: every test owns its transports, ports and raw
// sockets, and afterEach closes them all.

import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Packr } from 'msgpackr';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { freePorts } from '../../src/verify/free-ports.js';
import { single } from '../../src/core/conflicts.js';
import { PeerError } from '../../src/core/errors.js';
import type { FaultSpec } from '../../src/core/faults.js';
import type { Version } from '../../src/core/version.js';
import { updateDotted, type VersionSet } from '../../src/core/version-set.js';
import { encodeFrame, FrameDecoder } from '../../src/net/frame-codec.js';
import {
  MSG,
  PROTOCOL_VERSION,
  type PeerMessage,
  type PeerReplyBody,
  type PeerRequest,
  type PeerRequestBody,
} from '../../src/net/messages.js';
import type { NetTimers } from '../../src/net/peer-connection.js';
import { TcpTransport } from '../../src/net/tcp-transport.js';

const HOST = '127.0.0.1';
const CLUSTER = 'transport-test';
const NO_FAULTS: FaultSpec = { block: [], delay: {}, drop: {} };

interface LogLine {
  level: number;
  msg: string;
  peer?: string;
  reason?: string;
}

interface Node {
  readonly id: string;
  readonly port: number;
  readonly transport: TcpTransport;
  readonly store: Map<string, VersionSet>;
  /** Handoff hints held for other nodes, by `home/key`. */
  readonly hints: Map<string, VersionSet>;
  readonly logs: LogLine[];
  readonly states: Array<[string, boolean]>;
  /** Every timer this node's transport armed: tests assert on these, not on elapsed time. */
  readonly timers: TimerLog;
  /** The requests this node served, in order: type, and the entries of a writeBatch. */
  readonly served: Array<{ type: string; keys: string[] }>;
}

interface NodeOptions {
  secret?: string;
  cluster?: string;
  /** Node ids and ports this node believes are in the cluster (defaults to everyone). */
  peers?: Array<{ id: string; port: number }>;
  connectionsMax?: number;
  /** The clock liveness is measured on (default: the real one). */
  clock?: { monotonicMs(): number };
}

/**
 * A clock that never moves: the failure detector never calls a silent link down, so a link seen
 * down on it was closed. For tests whose claim is about connections, not about heartbeats.
 */
const STILL_CLOCK = { monotonicMs: () => 0 };

interface TimerRecord {
  readonly kind: 'timeout' | 'interval';
  readonly ms: number;
}

/** Real timers that remember which are still armed and which fired. */
class TimerLog implements NetTimers {
  readonly armed = new Map<NodeJS.Timeout, TimerRecord>();
  readonly fired: TimerRecord[] = [];

  setTimeout<A extends unknown[]>(
    fn: (...args: A) => void,
    ms: number,
    ...args: A
  ): NodeJS.Timeout {
    const record: TimerRecord = { kind: 'timeout', ms };
    const timer = setTimeout(() => {
      this.armed.delete(timer);
      this.fired.push(record);
      fn(...args);
    }, ms);
    this.armed.set(timer, record);
    return timer;
  }

  clearTimeout(timer: NodeJS.Timeout | undefined): void {
    if (timer === undefined) return;
    this.armed.delete(timer);
    clearTimeout(timer);
  }

  setInterval(fn: () => void, ms: number): NodeJS.Timeout {
    const timer = setInterval(fn, ms);
    this.armed.set(timer, { kind: 'interval', ms });
    return timer;
  }

  clearInterval(timer: NodeJS.Timeout | undefined): void {
    this.clearTimeout(timer);
  }
}

const transports: TcpTransport[] = [];
const rawSockets: Socket[] = [];

afterEach(async () => {
  for (const s of rawSockets.splice(0)) s.destroy();
  await Promise.all(transports.splice(0).map((t) => t.stop()));
});

/** Polls until `probe` holds; fails with `what` after the deadline. No fixed sleeps. */
async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function recordingLogger(lines: LogLine[]): Logger {
  return pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as LogLine) });
}

/** The fake store's sibling cap: an update past it is refused with a null set. */
const SIBLINGS_LIMIT = 3;
/** Top-level groups in the fake hash tree, and leaves under each. */
const AE_GROUPS = 32;
const AE_LEAVES_PER_GROUP = 2;

function hash8(text: string): Buffer {
  return createHash('sha256').update(text).digest().subarray(0, 8);
}

/** What the fake tree hashes for a set: enough to tell sets of different siblings apart. */
function digestOf(key: string, set: VersionSet): Buffer {
  return hash8(`${key}|${JSON.stringify(set.clock)}|${set.siblings.length}`);
}

/** The fake tree puts a key in the segment numbered by its length. */
const segmentOf = (key: string): number => key.length;

function groupHashes(node: string): Buffer {
  return Buffer.concat(Array.from({ length: AE_GROUPS }, (_, g) => hash8(`${node}/group/${g}`)));
}

function leafHashes(node: string, groups: readonly number[]): Buffer {
  return Buffer.concat(
    groups.flatMap((g) =>
      Array.from({ length: AE_LEAVES_PER_GROUP }, (_, l) => hash8(`${node}/leaf/${g}/${l}`)),
    ),
  );
}

/** Same clock and the same siblings (by dot and timestamp): what a purge must still find. */
function sameSet(a: VersionSet, b: VersionSet): boolean {
  const shape = (x: VersionSet) => JSON.stringify([x.clock, x.siblings.map((s) => [s.dot, s.ts])]);
  return shape(a) === shape(b);
}

function storeHandler(
  self: string,
  store: Map<string, VersionSet>,
  hints: Map<string, VersionSet>,
) {
  return (_from: string, req: PeerRequest): PeerReplyBody | Promise<PeerReplyBody> => {
    switch (req.type) {
      case 'ping':
        return { type: 'pong' };
      case 'read':
        if (req.key === 'throw') throw new Error('handler threw');
        if (req.key === 'reject') return Promise.reject(new Error('handler rejected'));
        return { type: 'readReply', set: store.get(req.key) ?? null };
      case 'write':
        store.set(req.key, req.set);
        // Answer on a later tick, as a real store does.
        return new Promise((resolve) =>
          setImmediate(() => resolve({ type: 'writeReply', applied: true })),
        );
      case 'writeBatch': {
        // A key named 'refuse' stands for an entry the replica cannot merge.
        const failed: number[] = [];
        req.entries.forEach(([key, set], i) => {
          if (key === 'refuse') failed.push(i);
          else store.set(key, set);
        });
        return { type: 'writeBatchReply', applied: req.entries.length - failed.length, failed };
      }
      case 'update': {
        const local = store.get(req.key);
        const before = local?.siblings.length ?? 0;
        const next = updateDotted(local, req.context, self, {
          ts: { wallMs: Date.now(), logical: 0, node: self },
          tombstone: req.tombstone,
          contentType: req.contentType,
          value: req.value,
        });
        if (next.siblings.length > SIBLINGS_LIMIT && next.siblings.length > before)
          return { type: 'updateReply', set: null, siblings: before, limit: SIBLINGS_LIMIT };
        store.set(req.key, next);
        return {
          type: 'updateReply',
          set: next,
          siblings: next.siblings.length,
          limit: SIBLINGS_LIMIT,
        };
      }
      case 'handoff':
        hints.set(`${req.home}/${req.key}`, req.set);
        return { type: 'writeReply', applied: true };
      case 'purge': {
        const held = store.get(req.key);
        const purged = held !== undefined && sameSet(held, req.set);
        if (purged) store.delete(req.key);
        return { type: 'purgeReply', purged };
      }
      case 'aeGroups':
        return { type: 'aeGroupsReply', hashes: groupHashes(self) };
      case 'aeLeaves':
        return { type: 'aeLeavesReply', hashes: leafHashes(self, req.groups) };
      case 'aeKeys': {
        const keys = [...store.keys()].filter((k) => req.segments.includes(segmentOf(k))).sort();
        const digests = Buffer.concat(keys.map((k) => digestOf(k, store.get(k) as VersionSet)));
        // Answer on a later tick, as a real tree walk does.
        return Promise.resolve({ type: 'aeKeysReply', keys, digests });
      }
      case 'aeFetch':
        return { type: 'aeFetchReply', sets: req.keys.map((k) => store.get(k) ?? null) };
      case 'layout':
      case 'paxos':
        throw new Error(`fake store does not serve ${req.type}`);
      default: {
        const never: never = req;
        throw new Error(`fake store has no handler for ${JSON.stringify(never)}`);
      }
    }
  };
}

function version(value: string, wallMs = 1): Version {
  return {
    ts: { wallMs, logical: 0, node: 'n1' },
    tombstone: false,
    contentType: 'text/plain',
    value: Buffer.from(value),
  };
}

/** An lww set holding one version of `value`. */
function lww(value: string, wallMs = 1): VersionSet {
  return single(version(value, wallMs));
}

/** The first sibling's value as text, or undefined when there is no set. */
function textOf(set: VersionSet | null | undefined): string | undefined {
  const v = set?.siblings[0]?.value;
  return v === undefined ? undefined : Buffer.from(v).toString();
}

/** Binary fields decode as Buffers; compare them as plain bytes. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return [...x];
  if (Array.isArray(x)) return x.map(plain);
  if (typeof x === 'object' && x !== null)
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}

async function startNode(
  id: string,
  all: Array<{ id: string; port: number }>,
  o: NodeOptions = {},
): Promise<Node> {
  const self = all.find((n) => n.id === id) as { id: string; port: number };
  const store = new Map<string, VersionSet>();
  const hints = new Map<string, VersionSet>();
  const logs: LogLine[] = [];
  const states: Array<[string, boolean]> = [];
  const timers = new TimerLog();
  const served: Node['served'] = [];
  const handler = storeHandler(id, store, hints);
  const transport = new TcpTransport({
    self: id,
    cluster: o.cluster ?? CLUSTER,
    listen: { host: HOST, port: self.port },
    peers: (o.peers ?? all)
      .filter((n) => n.id !== id)
      .map((n) => ({ id: n.id, host: HOST, port: n.port })),
    ...(o.secret !== undefined ? { secret: o.secret } : {}),
    ...(o.connectionsMax !== undefined ? { connectionsMax: o.connectionsMax } : {}),
    ...(o.clock !== undefined ? { clock: o.clock } : {}),
    timers,
    // Every refusal line, not a few per second: these tests count them.
    warningLinesPerSecond: Number.POSITIVE_INFINITY,
    logger: recordingLogger(logs),
    onRequest: (from, req) => {
      const keys =
        req.type === 'writeBatch'
          ? req.entries.map(([k]) => k)
          : 'key' in req && typeof req.key === 'string'
            ? [req.key]
            : [];
      served.push({ type: req.type, keys });
      return handler(from, req);
    },
    onPeerState: (peer, up) => states.push([peer, up]),
  });
  transports.push(transport);
  await transport.start();
  return { id, port: self.port, transport, store, hints, logs, states, timers, served };
}

async function cluster(
  count: number,
  o: (id: string) => NodeOptions = () => ({}),
): Promise<Node[]> {
  const ports = await freePorts(count);
  const all = ports.map((port, i) => ({ id: `n${i + 1}`, port }));
  return Promise.all(all.map((n) => startNode(n.id, all, o(n.id))));
}

function allUp(nodes: Node[]): boolean {
  return nodes.every((a) => nodes.every((b) => a === b || a.transport.isUp(b.id)));
}

async function rejection(p: Promise<unknown>): Promise<PeerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PeerError);
  return err as PeerError;
}

function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: HOST, port }, () => resolve(s));
    rawSockets.push(s);
    s.once('error', reject);
  });
}

/**
 * Resolves when the node has closed `s` (this side never closes it before afterEach); fails if it
 * has not by the deadline, which only bounds a failing run.
 */
function closed(s: Socket, deadlineMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (s.destroyed) return resolve();
    const deadline = setTimeout(
      () => reject(new Error(`the node had not closed the connection after ${deadlineMs} ms`)),
      deadlineMs,
    );
    s.once('close', () => {
      clearTimeout(deadline);
      resolve();
    });
  });
}

/**
 * The PeerError `p` rejects with, provided it rejects before the event loop turns: no timer and
 * no I/O can have run first, so the request failed at once, without waiting for anything.
 */
async function rejectionAtOnce(p: Promise<unknown>): Promise<PeerError> {
  const nextTurn = new Promise<string>((r) => setImmediate(() => r('still pending a turn later')));
  const first = await Promise.race([
    p.then(
      () => 'resolved',
      (e: unknown) => e,
    ),
    nextTurn,
  ]);
  expect(first).toBeInstanceOf(PeerError);
  return first as PeerError;
}

/** Sleeps on a real timer; only to order it against a timer the transport armed, never to wait for a result. */
const timerOf = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function hello(node: string) {
  const nonce = Buffer.alloc(16, 5);
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    cluster: CLUSTER,
    node,
    nonce,
    mac: null,
  } as const;
}

/** A raw socket that plays `node` dialing: first Hello sent, HelloAck received, proof not yet sent. */
async function handPlayedDialer(
  port: number,
  node: string,
): Promise<{ socket: Socket; received: PeerMessage[] }> {
  const socket = await rawConnect(port);
  const dec = new FrameDecoder();
  const received: PeerMessage[] = [];
  socket.on('data', (chunk: Buffer) => received.push(...dec.push(chunk)));
  socket.write(encodeFrame(hello(node)));
  await until('helloAck', () => received.some((m) => m.type === 'helloAck'));
  return { socket, received };
}

/** Any array as a frame, whatever toWire would make of it: how a broken or hostile peer sends. */
const rawPackr = new Packr({ useRecords: false });
function rawFrame(wire: unknown): Buffer {
  const body: Buffer = rawPackr.pack(wire);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

const WALL = 1_790_000_000_000;
/** A sibling in wire form: [dotNode, dotCounter, wallMs, logical, tsNode, tombstone, type, value]. */
function wireSib(node: string | null, counter: number, tombstone = false, value = [1]): unknown[] {
  return [node, counter, WALL, 0, node ?? 'n1', tombstone, 'text/plain', new Uint8Array(value)];
}
const goodWireSet = (): unknown[] => [['n1', 1], [wireSib('n1', 1)]];
/** A sorted clock of `n` entries, in wire form. */
const wireClock = (n: number): unknown[] =>
  Array.from({ length: n }, (_, i) => [`n${String(i).padStart(3, '0')}`, 1]).flat();

/** A raw socket that plays `node` through the whole handshake; resolves once `to` sees it up. */
async function handPlayedPeer(
  to: Node,
  node: string,
): Promise<{ socket: Socket; received: PeerMessage[] }> {
  const fake = await handPlayedDialer(to.port, node);
  fake.socket.write(encodeFrame(hello(node)));
  await until(`${to.id} sees the hand-played ${node}`, () => to.transport.isUp(node));
  return fake;
}

function refusals(n: Node): LogLine[] {
  return n.logs.filter((l) => l.msg === 'peer connection refused');
}

describe('TcpTransport', () => {
  it('connects three nodes that serve reads and writes in both directions of every link', async () => {
    const nodes = await cluster(3);
    await until('every node sees every other up', () => allUp(nodes));
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    expect(n1.transport.peerStates()).toEqual([
      { id: 'n2', up: true },
      { id: 'n3', up: true },
    ]);
    // n1 dialed n3, and n3 asks n1 over that same connection.
    expect(
      await n1.transport.request('n3', { type: 'write', key: 'a', set: lww('from n1') }, 1000),
    ).toEqual(expect.objectContaining({ type: 'writeReply', applied: true }));
    expect(textOf(n3.store.get('a'))).toBe('from n1');
    await n3.transport.request('n1', { type: 'write', key: 'b', set: lww('from n3') }, 1000);
    const read = await n2.transport.request('n1', { type: 'read', key: 'b' }, 1000);
    expect(read.type === 'readReply' && textOf(read.set)).toBe('from n3');
    expect(plain(read.type === 'readReply' ? read.set : undefined)).toEqual(plain(lww('from n3')));
    const missing = await n2.transport.request('n3', { type: 'read', key: 'nope' }, 1000);
    expect(missing).toEqual(expect.objectContaining({ type: 'readReply', set: null }));
    expect(await n3.transport.request('n2', { type: 'ping' }, 1000)).toEqual(
      expect.objectContaining({ type: 'pong' }),
    );
    for (const n of nodes) {
      expect(
        n.logs
          .filter((l) => l.msg === 'peer up')
          .map((l) => l.peer)
          .sort(),
      ).toEqual(nodes.filter((o) => o !== n).map((o) => o.id));
      expect(n.states.every(([, up]) => up)).toBe(true);
    }
  });

  it('serves every new request kind over a real link, and each reply arrives intact', async () => {
    const [n1, n2] = (await cluster(2)) as [Node, Node];
    await until('up', () => n1.transport.isUp('n2') && n2.transport.isUp('n1'));
    const ask = (from: Node, to: Node, body: PeerRequestBody) =>
      from.transport.request(to.id, body, 2000);
    const content = (value: string) => ({
      tombstone: false,
      contentType: 'text/plain',
      value: Buffer.from(value),
    });

    // Siblings-mode updates: n2 issues the dots, and its replies carry the whole set.
    const u1 = await ask(n1, n2, { type: 'update', key: 'cart', context: [], ...content('apple') });
    expect(u1).toMatchObject({ type: 'updateReply', siblings: 1, limit: SIBLINGS_LIMIT });
    const s1 = (u1 as PeerReplyBody & { type: 'updateReply' }).set;
    expect(s1?.clock).toEqual([['n2', 1]]);
    expect(s1?.siblings.map((s) => [s.dot, textOf({ clock: [], siblings: [s] })])).toEqual([
      [{ node: 'n2', counter: 1 }, 'apple'],
    ]);
    const u2 = await ask(n1, n2, { type: 'update', key: 'cart', context: [], ...content('pear') });
    const s2 = (u2 as PeerReplyBody & { type: 'updateReply' }).set as VersionSet;
    expect(s2.clock).toEqual([['n2', 2]]);
    expect(s2.siblings.map((s) => s.dot?.counter)).toEqual([1, 2]);
    // A context carrying the clock it read resolves both siblings into one.
    const u3 = await ask(n1, n2, {
      type: 'update',
      key: 'cart',
      context: s2.clock,
      ...content('both'),
    });
    const s3 = (u3 as PeerReplyBody & { type: 'updateReply' }).set as VersionSet;
    expect(s3.siblings.map((s) => s.dot)).toEqual([{ node: 'n2', counter: 3 }]);
    expect(textOf(s3)).toBe('both');
    const read = await ask(n1, n2, { type: 'read', key: 'cart' });
    expect(plain(read.type === 'readReply' && read.set)).toEqual(plain(s3));

    // Past the sibling cap the reply has no set, and says why.
    for (let i = 0; i < SIBLINGS_LIMIT; i++)
      await ask(n1, n2, { type: 'update', key: 'full', context: [], ...content(`v${i}`) });
    expect(
      await ask(n1, n2, { type: 'update', key: 'full', context: [], ...content('one more') }),
    ).toEqual({
      type: 'updateReply',
      id: expect.any(Number),
      set: null,
      siblings: SIBLINGS_LIMIT,
      limit: SIBLINGS_LIMIT,
    });

    // A delete is an update with a tombstone.
    const del = await ask(n1, n2, {
      type: 'update',
      key: 'cart',
      context: s3.clock,
      tombstone: true,
      contentType: '',
      value: new Uint8Array(0),
    });
    const gone = (del as PeerReplyBody & { type: 'updateReply' }).set as VersionSet;
    expect(gone.siblings).toHaveLength(1);
    expect(gone.siblings[0]).toMatchObject({ tombstone: true, dot: { node: 'n2', counter: 4 } });
    expect(gone.siblings[0]?.value).toHaveLength(0);

    // Handoff, the other way round: n1 keeps the set as a hint for n3.
    expect(await ask(n2, n1, { type: 'handoff', home: 'n3', key: 'cart', set: gone })).toEqual({
      type: 'writeReply',
      id: expect.any(Number),
      applied: true,
    });
    expect(plain(n1.hints.get('n3/cart'))).toEqual(plain(gone));

    // A write batch: every entry lands, and the reply names the one the replica refused.
    expect(
      await ask(n1, n2, {
        type: 'writeBatch',
        entries: [
          ['batch-1', lww('B1')],
          ['refuse', lww('R')],
          ['batch-2', gone],
        ],
      }),
    ).toEqual({ type: 'writeBatchReply', id: expect.any(Number), applied: 2, failed: [1] });
    expect(textOf(n2.store.get('batch-1'))).toBe('B1');
    expect(plain(n2.store.get('batch-2'))).toEqual(plain(gone));
    expect(n2.store.has('refuse')).toBe(false);

    // Anti-entropy: hashes, keys with digests, and sets come back byte for byte.
    const groups = await ask(n1, n2, { type: 'aeGroups' });
    expect(groups.type).toBe('aeGroupsReply');
    expect(groups.type === 'aeGroupsReply' && [...groups.hashes]).toEqual([...groupHashes('n2')]);
    const leaves = await ask(n1, n2, { type: 'aeLeaves', groups: [31, 0, 5] });
    expect(leaves.type === 'aeLeavesReply' && [...leaves.hashes]).toEqual([
      ...leafHashes('n2', [31, 0, 5]),
    ]);
    await ask(n1, n2, { type: 'write', key: 'a', set: lww('A') });
    await ask(n1, n2, { type: 'write', key: 'bb', set: lww('BB') });
    const keys = await ask(n1, n2, { type: 'aeKeys', segments: [1, 2] });
    expect(keys.type === 'aeKeysReply' && keys.keys).toEqual(['a', 'bb']);
    expect(keys.type === 'aeKeysReply' && [...keys.digests]).toEqual([
      ...digestOf('a', lww('A')),
      ...digestOf('bb', lww('BB')),
    ]);
    expect(plain(await ask(n1, n2, { type: 'aeKeys', segments: [] }))).toMatchObject({
      type: 'aeKeysReply',
      keys: [],
      digests: [],
    });
    const fetched = await ask(n1, n2, { type: 'aeFetch', keys: ['a', 'missing', 'cart'] });
    expect(plain(fetched.type === 'aeFetchReply' && fetched.sets)).toEqual(
      plain([lww('A'), null, gone]),
    );

    // Purge drops the key only while it still holds exactly the set named.
    expect(await ask(n1, n2, { type: 'purge', key: 'cart', set: s3 })).toMatchObject({
      type: 'purgeReply',
      purged: false,
    });
    expect(n2.store.has('cart')).toBe(true);
    expect(await ask(n1, n2, { type: 'purge', key: 'cart', set: gone })).toMatchObject({
      type: 'purgeReply',
      purged: true,
    });
    expect(n2.store.has('cart')).toBe(false);
    expect(await ask(n1, n2, { type: 'purge', key: 'cart', set: gone })).toMatchObject({
      purged: false,
    });
  });

  it("answers a handler's throw or rejection with an error reply, which rejects as 'remote'", async () => {
    const [n1] = (await cluster(2)) as [Node, Node];
    await until('n1 sees n2', () => n1.transport.isUp('n2'));
    const thrown = await rejection(
      n1.transport.request('n2', { type: 'read', key: 'throw' }, 1000),
    );
    expect(thrown.reason).toBe('remote');
    expect(thrown.message).toMatch(/handler threw/);
    const rejected = await rejection(
      n1.transport.request('n2', { type: 'read', key: 'reject' }, 1000),
    );
    expect(rejected.reason).toBe('remote');
    expect(rejected.message).toMatch(/handler rejected/);
    await n1.transport.request('n2', { type: 'read', key: 'ok' }, 1000);
  });

  it("fails a request to a peer with no connection as 'unreachable' at once", async () => {
    const ports = await freePorts(2);
    const all = [
      { id: 'n1', port: ports[0] as number },
      { id: 'n2', port: ports[1] as number },
    ];
    const n1 = await startNode('n1', all);
    // A timeout would say 'timeout' a minute later; this fails before the event loop turns.
    const err = await rejectionAtOnce(n1.transport.request('n2', { type: 'ping' }, 60_000));
    expect(err.reason).toBe('unreachable');
    expect(err.message).toMatch(/no connection to peer n2/);
    const unknown = await rejectionAtOnce(n1.transport.request('n9', { type: 'ping' }, 60_000));
    expect(unknown.reason).toBe('unreachable');
    expect(n1.transport.isUp('n2')).toBe(false);
  });

  it('sees a stopped peer down at once and reconnects when it restarts on the same port', async () => {
    // On a still clock a link is only ever seen down because it closed, never for silence.
    const nodes = await cluster(3, () => ({ clock: STILL_CLOCK }));
    await until('all up', () => allUp(nodes));
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    // Either n2 answers before it stops, or the request fails at once, never as a timeout:
    // 'lost' if it was on the wire when the link closed, 'unreachable' if it never left.
    const pending = n1.transport
      .request('n2', { type: 'write', key: 'slow', set: lww('x') }, 5000)
      .catch((err: PeerError) => expect(['lost', 'unreachable']).toContain(err.reason));
    await n2.transport.stop();
    await until(
      'n1 and n3 see n2 down',
      () => !n1.transport.isUp('n2') && !n3.transport.isUp('n2'),
    );
    expect(n1.states).toContainEqual(['n2', false]);
    expect(n3.logs.some((l) => l.msg === 'peer down' && l.peer === 'n2')).toBe(true);
    // The link is gone, not merely quiet: a request has no connection to go out on.
    const gone = await rejectionAtOnce(n1.transport.request('n2', { type: 'ping' }, 60_000));
    expect(gone.message).toMatch(/no connection to peer n2/);
    await pending;

    const all = nodes.map((n) => ({ id: n.id, port: n.port }));
    const n2b = await startNode('n2', all, { clock: STILL_CLOCK });
    const again = [n1, n2b, n3];
    await until('the restarted n2 is up everywhere', () => allUp(again));
    await n1.transport.request('n2', { type: 'write', key: 'k', set: lww('after restart') }, 1000);
    expect(textOf(n2b.store.get('k'))).toBe('after restart');
    await n2b.transport.request('n3', { type: 'read', key: 'k' }, 1000);
  });

  it('rejects pending requests when the transport stops, and leaves no timers behind', async () => {
    const [n1, n2] = (await cluster(2)) as [Node, Node];
    await until('up', () => n1.transport.isUp('n2'));
    n2.transport.setFaults({ ...NO_FAULTS, drop: { n1: 1 } });
    const pending = n1.transport.request('n2', { type: 'read', key: 'a' }, 30_000);
    // The log sees what a stop must clear: the read's deadline and the heartbeat.
    expect([...n1.timers.armed.values()]).toEqual(
      expect.arrayContaining([
        { kind: 'timeout', ms: 30_000 },
        { kind: 'interval', ms: LIMITS.heartbeatIntervalMs },
      ]),
    );
    await n1.transport.stop();
    // It was sent: its outcome is unknown, which 'lost' says (a write must not be re-issued).
    expect((await rejection(pending)).reason).toBe('lost');
    expect((await rejection(n1.transport.request('n2', { type: 'ping' }, 1000))).reason).toBe(
      'unreachable',
    );
    expect([...n1.timers.armed.values()]).toEqual([]);
  });

  it("block cuts both directions at once: 'unreachable', and the blocked side sees the link down", async () => {
    const nodes = await cluster(3);
    await until('all up', () => allUp(nodes));
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    n1.transport.setFaults({ ...NO_FAULTS, block: ['n2'] });
    expect(n1.transport.faults().block).toEqual(['n2']);
    expect(n1.transport.isUp('n2')).toBe(false);
    expect(n1.states).toContainEqual(['n2', false]);
    const blocked = await rejectionAtOnce(n1.transport.request('n2', { type: 'ping' }, 60_000));
    expect(blocked.reason).toBe('unreachable');
    expect(blocked.message).toMatch(/blocked by a fault/);
    // n2 blocked nothing itself, but hears nothing from n1 any more.
    const noticeMs = LIMITS.peerDownAfterMs + 2 * LIMITS.heartbeatIntervalMs + 300;
    await until('n2 sees n1 down', () => !n2.transport.isUp('n1'), noticeMs);
    expect(
      (await rejection(n2.transport.request('n1', { type: 'read', key: 'x' }, 300))).reason,
    ).toBe('timeout');
    expect(n1.transport.isUp('n3') && n3.transport.isUp('n2')).toBe(true);
    expect(n1.logs.some((l) => l.msg === 'link faults changed')).toBe(true);

    n1.transport.setFaults(NO_FAULTS);
    await until('healed', () => allUp(nodes));
    await n2.transport.request('n1', { type: 'read', key: 'x' }, 1000);
  });

  it('drop 1.0 makes requests time out, while the other direction still works', async () => {
    const [n1, n2] = (await cluster(2)) as [Node, Node];
    await until('up', () => n1.transport.isUp('n2'));
    n1.transport.setFaults({ ...NO_FAULTS, drop: { n2: 1 } });
    const err = await rejection(n1.transport.request('n2', { type: 'read', key: 'a' }, 200));
    // Only the request's own deadline says 'timeout'; a closed link says 'lost'.
    expect(err.reason).toBe('timeout');
    expect(err.message).toMatch(/did not answer within 200 ms/);
    // n2's pings still reach n1, so n1 keeps seeing n2; n2 hears nothing and sees n1 down.
    await until('n2 sees n1 down', () => !n2.transport.isUp('n1'), 3000);
    expect(n1.transport.isUp('n2')).toBe(true);
  });

  it('delay holds back the requests and the replies this node sends, then delivers them', async () => {
    const [n1, n2] = (await cluster(2)) as [Node, Node];
    await until('up', () => n1.transport.isUp('n2') && n2.transport.isUp('n1'));
    n1.transport.setFaults({ ...NO_FAULTS, delay: { n2: { ms: 150, jitterMs: 20 } } });
    // Each send waits 130-170 ms on a timer armed when it is sent. A 100 ms timer armed after it
    // in this same process fires first however loaded the machine is, so what the test sees
    // then is what the delay still holds, not how fast anything ran.
    const write = n1.transport.request('n2', { type: 'write', key: 'held', set: lww('x') }, 30_000);
    await timerOf(100);
    expect(n2.store.has('held')).toBe(false);
    expect(await write).toMatchObject({ type: 'writeReply', applied: true });
    expect(textOf(n2.store.get('held'))).toBe('x');
    // The reply n1 sends to n2's request is held too: n1 arms its delay only once the request
    // has arrived, after the 100 ms timer below was armed.
    let answered = false;
    const read = n2.transport.request('n1', { type: 'read', key: 'held' }, 30_000).then((r) => {
      answered = true;
      return r;
    });
    await timerOf(100);
    expect(answered).toBe(false);
    expect(await read).toMatchObject({ type: 'readReply', set: null });
  });

  it('admits peers that prove the cluster secret and refuses those with a wrong secret or none', async () => {
    const secrets: Record<string, string | undefined> = {
      n1: undefined,
      n2: 'right',
      n3: 'right',
      n4: 'wrong',
    };
    const nodes = await cluster(4, (id) => ({ secret: secrets[id] }));
    const [n1, n2, n3, n4] = nodes as [Node, Node, Node, Node];
    await until(
      'n2 and n3 see each other',
      () => n2.transport.isUp('n3') && n3.transport.isUp('n2'),
    );
    // Lower ids dial. n1 has no secret to check with, so n2, n3 and n4 refuse its proof; n2 and n3
    // refuse n4's answer. Each refusal is one warn line on the side that checked.
    await until('every refusal over the secret', () =>
      [n2, n3, n4].every((n) =>
        refusals(n).some((l) => l.reason === 'peer could not prove the cluster secret'),
      ),
    );
    expect(
      n1.logs.some(
        (l) => l.level === 40 && /closed the connection during the handshake/.test(l.msg),
      ),
    ).toBe(true);
    for (const [a, b] of [
      [n1, n2],
      [n1, n3],
      [n1, n4],
      [n2, n4],
      [n3, n4],
    ] as const) {
      expect(a.transport.isUp(b.id), `${a.id} sees ${b.id}`).toBe(false);
      expect(b.transport.isUp(a.id), `${b.id} sees ${a.id}`).toBe(false);
    }
    // The dialer without the secret never believed, even briefly, that a link was up.
    expect(n1.states).toEqual([]);
    expect(n4.states).toEqual([]);
  });

  it('refuses a peer from another cluster, and one whose id is not configured', async () => {
    const ports = await freePorts(3);
    const all = ports.map((port, i) => ({ id: `n${i + 1}`, port }));
    const n3 = await startNode('n3', all, { peers: all.slice(1) });
    const n1 = await startNode('n1', all);
    const n2 = await startNode('n2', all, { cluster: 'other-cluster' });
    const reasons = () => refusals(n3).map((l) => l.reason ?? '');
    await until(
      'n3 refused both',
      () =>
        reasons().some((r) => /cluster "other-cluster", not "transport-test"/.test(r)) &&
        reasons().some((r) => /peer id n1 is not in this node's cluster config/.test(r)),
    );
    expect(n1.transport.isUp('n3') || n2.transport.isUp('n3') || n3.transport.isUp('n2')).toBe(
      false,
    );
  });

  it('closes only the connection that sends garbage, a 4 GiB frame, a non-hello first frame or a wrong protocol', async () => {
    // On a still clock a link is only ever seen down because it closed, never for silence.
    const nodes = await cluster(3, () => ({ clock: STILL_CLOCK }));
    await until('all up', () => allUp(nodes));
    const n2 = nodes[1] as Node;
    // [what, the bytes, why n2 closes: never its handshake timeout, which closes anything].
    const bad: Array<[string, Buffer, RegExp]> = [
      [
        'random bytes',
        Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff)),
        /^malformed frame: peer declared a frame of \d+ bytes/,
      ],
      [
        'a 4 GiB length prefix',
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
        /^malformed frame: peer declared a frame of 4294967295 bytes/,
      ],
      [
        'a request before the hello',
        encodeFrame({ type: 'read', id: 1, key: 'k' }),
        /^expected hello, got read$/,
      ],
      [
        'a hello in another protocol version',
        encodeFrame({ ...hello('n1'), protocol: PROTOCOL_VERSION + 1 }),
        /^peer speaks protocol \d+, this node speaks \d+$/,
      ],
      [
        'a hello frame larger than a hello can be',
        Buffer.from([0x00, 0x10, 0x00, 0x00, 0x92]),
        /^malformed frame: peer declared a frame of 1048576 bytes/,
      ],
    ];
    for (const [what, bytes, reason] of bad) {
      const before = refusals(n2).length;
      const s = await rawConnect(n2.port);
      s.write(bytes);
      await closed(s);
      const lines = refusals(n2).slice(before);
      expect(lines, what).toHaveLength(1);
      expect(lines[0]?.reason, what).toMatch(reason);
    }
    expect(refusals(n2)).toHaveLength(bad.length);
    // No link was closed: a closed link reports its peer down at once, and nothing else can.
    for (const n of nodes) {
      expect(
        n.states.filter(([, up]) => !up),
        n.id,
      ).toEqual([]);
      if (n !== n2) expect(refusals(n), n.id).toEqual([]);
    }
    expect(allUp(nodes)).toBe(true);
    await Promise.all(
      nodes.flatMap((a) =>
        nodes.filter((b) => b !== a).map((b) => a.transport.request(b.id, { type: 'ping' }, 1000)),
      ),
    );
  });

  it('turns away connections past its cap on arrival, before any handshake, and keeps serving its peers', async () => {
    const ports = await freePorts(2);
    const all = ports.map((port, i) => ({ id: `n${i + 1}`, port }));
    const n1 = await startNode('n1', all);
    const n2 = await startNode('n2', all, { connectionsMax: 4 });
    await until('linked', () => n1.transport.isUp('n2') && n2.transport.isUp('n1'));
    // n2 holds one connection (to n1); three more fit, the rest are closed on arrival.
    const flood = await Promise.all(Array.from({ length: 8 }, () => rawConnect(n2.port)));
    // Each closes: at once if turned away, or at its handshake timeout if it was taken in.
    await Promise.all(flood.map((s) => closed(s)));
    // A connection taken in ends with one refusal line of its own; one turned away has none.
    expect(refusals(n2).map((l) => l.reason)).toEqual(
      Array(3).fill('handshake did not finish in time'),
    );
    // The other five were turned away, each with a line (rate-limited in production).
    expect(n2.logs.filter((l) => /too many open/.test(String(l.msg)))).toHaveLength(5);
    await n1.transport.request('n2', { type: 'ping' }, 1000);
  });

  it('closes only the established connection that sends a malformed set or ae list, failing its pending requests at once as lost', async () => {
    const ports = await freePorts(4);
    const all = ports.slice(0, 3).map((port, i) => ({ id: `n${i + 1}`, port }));
    // n2 also knows n0, which nothing runs: a raw socket plays it. n0 sorts first, so it dials.
    const n0 = { id: 'n0', port: ports[3] as number };
    // On a still clock a link is only ever seen down because it closed, never for silence.
    const clock = STILL_CLOCK;
    const nodes = await Promise.all([
      startNode('n1', all, { clock }),
      startNode('n2', all, { peers: [n0, ...all], clock }),
      startNode('n3', all, { clock }),
    ]);
    await until('all up', () => allUp(nodes));
    const n2 = nodes[1] as Node;
    const AE = LIMITS.aeItemsPerMessageMax;
    const SIBS = LIMITS.siblingsWireMax;
    // [what, the reason n2 logs, the frame; `rid` is the id of n2's read pending at the fake].
    const bad: Array<[string, RegExp, (rid: number) => Buffer]> = [
      [
        'a write with unsorted clock nodes',
        /malformed clock/,
        () => rawFrame([MSG.write, 90, 'k', [['n2', 1, 'n1', 1], [wireSib('n1', 1)]]]),
      ],
      [
        'a write with duplicate clock nodes',
        /malformed clock/,
        () => rawFrame([MSG.write, 90, 'k', [['n1', 1, 'n1', 2], [wireSib('n1', 1)]]]),
      ],
      [
        'a handoff with a zero clock counter',
        /malformed clock/,
        () => rawFrame([MSG.handoff, 90, 'n3', 'k', [['n1', 0], [wireSib('n1', 1)]]]),
      ],
      [
        'a purge with a clock counter past 2^48-1',
        /malformed clock/,
        () => rawFrame([MSG.purge, 90, 'k', [['n1', 2 ** 48], [wireSib('n1', 1)]]]),
      ],
      [
        'a write with an odd-length clock array',
        /malformed clock/,
        () => rawFrame([MSG.write, 90, 'k', [['n1', 1, 'n2'], [wireSib('n1', 1)]]]),
      ],
      [
        `a write with a clock of ${LIMITS.clockEntriesMax + 1} entries`,
        /malformed clock/,
        () =>
          rawFrame([
            MSG.write,
            90,
            'k',
            [wireClock(LIMITS.clockEntriesMax + 1), [wireSib('n000', 1)]],
          ]),
      ],
      [
        `an update whose context has ${LIMITS.clockEntriesMax + 1} entries`,
        /malformed clock/,
        () =>
          rawFrame([
            MSG.update,
            90,
            'k',
            wireClock(LIMITS.clockEntriesMax + 1),
            false,
            'text/plain',
            new Uint8Array([1]),
          ]),
      ],
      [
        'a write of a set with zero siblings',
        /malformed version set/,
        () => rawFrame([MSG.write, 90, 'k', [[], []]]),
      ],
      [
        `a write of a set with ${SIBS + 1} siblings`,
        /malformed version set/,
        () =>
          rawFrame([
            MSG.write,
            90,
            'k',
            [[], Array.from({ length: SIBS + 1 }, () => wireSib(null, 0))],
          ]),
      ],
      [
        'a write of a tombstone sibling with value bytes',
        /malformed sibling/,
        () => rawFrame([MSG.write, 90, 'k', [[], [wireSib(null, 0, true, [1])]]]),
      ],
      [
        `a writeBatch of ${LIMITS.writeBatchEntriesMax + 1} entries`,
        /malformed writeBatch/,
        () =>
          rawFrame([
            MSG.writeBatch,
            90,
            Array.from({ length: LIMITS.writeBatchEntriesMax + 1 }, (_, i) => [
              `k${i}`,
              [[], [wireSib(null, 0)]],
            ]),
          ]),
      ],
      [
        'a writeBatch whose second entry has a set with zero siblings',
        /malformed version set/,
        () =>
          rawFrame([
            MSG.writeBatch,
            90,
            [
              ['a', [[], [wireSib(null, 0)]]],
              ['b', [[], []]],
            ],
          ]),
      ],
      [
        'a handoff of a dotted sibling with counter 0',
        /malformed sibling/,
        () => rawFrame([MSG.handoff, 90, 'n3', 'k', [['n1', 1], [wireSib('n1', 0)]]]),
      ],
      [
        `aeLeaves naming ${AE + 1} groups`,
        /malformed aeLeaves/,
        () => rawFrame([MSG.aeLeaves, 90, Array.from({ length: AE + 1 }, (_, i) => i)]),
      ],
      [
        `aeKeys naming ${AE + 1} segments`,
        /malformed aeKeys/,
        () => rawFrame([MSG.aeKeys, 90, Array.from({ length: AE + 1 }, (_, i) => i)]),
      ],
      [
        `aeFetch naming ${AE + 1} keys`,
        /malformed aeFetch/,
        () => rawFrame([MSG.aeFetch, 90, Array.from({ length: AE + 1 }, (_, i) => `k${i}`)]),
      ],
      [
        'a readReply whose set has unsorted clock nodes',
        /malformed clock/,
        (rid) => rawFrame([MSG.readReply, rid, [['n2', 1, 'n1', 1], [wireSib('n1', 1)]]]),
      ],
      [
        'a readReply whose dotted sibling has counter 0',
        /malformed sibling/,
        (rid) => rawFrame([MSG.readReply, rid, [['n1', 1], [wireSib('n1', 0)]]]),
      ],
      [
        'an updateReply whose set has zero siblings',
        /malformed version set/,
        (rid) => rawFrame([MSG.updateReply, rid, [[], []], 0, 100]),
      ],
      [
        'an aeKeysReply with 15 digest bytes for 2 keys',
        /malformed aeKeysReply/,
        (rid) => rawFrame([MSG.aeKeysReply, rid, ['a', 'b'], new Uint8Array(15)]),
      ],
      [
        'an aeGroupsReply with 12 hash bytes',
        /malformed hashes/,
        (rid) => rawFrame([MSG.aeGroupsReply, rid, new Uint8Array(12)]),
      ],
      [
        'an aeLeavesReply with 7 hash bytes',
        /malformed hashes/,
        (rid) => rawFrame([MSG.aeLeavesReply, rid, new Uint8Array(7)]),
      ],
      [
        `an aeFetchReply with ${AE + 1} sets`,
        /malformed aeFetchReply/,
        (rid) => rawFrame([MSG.aeFetchReply, rid, Array(AE + 1).fill(null)]),
      ],
      [
        'an aeFetchReply with a set of 3 parts',
        /malformed version set/,
        (rid) => rawFrame([MSG.aeFetchReply, rid, [null, [...goodWireSet(), []]]]),
      ],
    ];
    for (const [i, [what, reason, frame]] of bad.entries()) {
      const fake = await handPlayedPeer(n2, 'n0');
      // The link works: a valid siblings-mode write on it is served.
      fake.socket.write(rawFrame([MSG.write, 1, `ok${i}`, goodWireSet()]));
      await until(`${what}: the valid write is answered`, () =>
        fake.received.some((m) => m.type === 'writeReply' && m.id === 1),
      );
      expect(n2.store.get(`ok${i}`)?.clock, what).toEqual([['n1', 1]]);
      // n2 waits on the fake for a read, and would for 30 s.
      const pending = rejection(
        n2.transport.request('n0', { type: 'read', key: 'pending' }, 30_000),
      );
      await until(`${what}: the read reaches the fake`, () =>
        fake.received.some((m) => m.type === 'read'),
      );
      const rid = (fake.received.find((m) => m.type === 'read') as PeerMessage & { id: number }).id;
      const before = refusals(n2).length;
      fake.socket.write(frame(rid));
      await closed(fake.socket);
      // 'lost' comes from the close; the read's own 30 s deadline would have said 'timeout'.
      const err = await pending;
      expect(err.reason, what).toBe('lost');
      const lines = refusals(n2).slice(before);
      expect(lines, what).toHaveLength(1);
      expect(lines[0]?.reason, what).toMatch(/^malformed frame: /);
      expect(lines[0]?.reason, what).toMatch(reason);
      expect(n2.transport.isUp('n0'), what).toBe(false);
      expect(allUp(nodes), what).toBe(true);
    }
    expect(refusals(n2)).toHaveLength(bad.length);
    // No real link was closed: a closed link reports its peer down at once.
    for (const n of nodes) expect(n.states.filter(([p, up]) => p !== 'n0' && !up)).toEqual([]);
    // Every real link still carries traffic both ways, including the sets that were refused.
    await Promise.all(
      nodes.flatMap((a) =>
        nodes
          .filter((b) => b !== a)
          .map((b) =>
            a.transport.request(
              b.id,
              { type: 'write', key: `${a.id}>${b.id}`, set: lww('x') },
              1000,
            ),
          ),
      ),
    );
    expect([...n2.store.keys()].filter((k) => k.endsWith('>n2')).sort()).toEqual([
      'n1>n2',
      'n3>n2',
    ]);
  });

  it('closes a connection that never finishes its handshake when its handshake timer fires', async () => {
    const [n1, n2] = (await cluster(2)) as [Node, Node];
    await until('up', () => n1.transport.isUp('n2') && n2.transport.isUp('n1'));
    expect(n2.timers.fired).toEqual([]);
    const s = await rawConnect(n2.port);
    await closed(s);
    // The one timer that fired on n2 is a full handshake timeout, and it gave the reason.
    expect(n2.timers.fired).toEqual([{ kind: 'timeout', ms: LIMITS.handshakeTimeoutMs }]);
    expect(refusals(n2).map((l) => l.reason)).toEqual(['handshake did not finish in time']);
  });

  it('lets a newer connection from a peer replace the older one', async () => {
    const ports = await freePorts(2);
    const all = ports.map((port, i) => ({ id: `n${i + 1}`, port }));
    const n2 = await startNode('n2', all);
    // Play n1 by hand first: the old connection of an n1 that is about to restart.
    const fake = await handPlayedDialer(n2.port, 'n1');
    fake.socket.write(encodeFrame(hello('n1')));
    await until('n2 sees the hand-played n1', () => n2.transport.isUp('n1'));
    const req = n2.transport.request('n1', { type: 'read', key: 'who' }, 2000);
    await until('the read reaches the hand-played n1', () =>
      fake.received.some((m) => m.type === 'read'),
    );
    const read = fake.received.find((m) => m.type === 'read') as PeerMessage & { type: 'read' };
    fake.socket.write(encodeFrame({ type: 'readReply', id: read.id, set: lww('old n1') }));
    const reply = await req;
    expect(reply.type === 'readReply' && textOf(reply.set)).toBe('old n1');

    // The real n1 starts and dials: n2 drops the old connection for the new one.
    const n1 = await startNode('n1', all);
    n1.store.set('who', lww('new n1'));
    await closed(fake.socket);
    await until('n2 sees the new n1', () => n2.transport.isUp('n1') && n1.transport.isUp('n2'));
    const fresh = await n2.transport.request('n1', { type: 'read', key: 'who' }, 2000);
    expect(fresh.type === 'readReply' && textOf(fresh.set)).toBe('new n1');
  });

  it('serves a large request that shares a packet with the last hello', async () => {
    const ports = await freePorts(2);
    const all = ports.map((port, i) => ({ id: `n${i + 1}`, port }));
    const n2 = await startNode('n2', all);
    const fake = await handPlayedDialer(n2.port, 'n1');
    const big = lww('v'.repeat(256 * 1024));
    fake.socket.write(
      Buffer.concat([
        encodeFrame(hello('n1')),
        encodeFrame({ type: 'write', id: 1, key: 'big', set: big }),
      ]),
    );
    await until('the write is answered', () =>
      fake.received.some((m) => m.type === 'writeReply' && m.id === 1),
    );
    expect(n2.store.get('big')?.siblings[0]?.value.length).toBe(256 * 1024);
  });

  it('sends the writes of one tick to a peer as one writeBatch, settling each as its own write', async () => {
    const [n1, n2] = (await cluster(2)) as [Node, Node];
    await until('up', () => n1.transport.isUp('n2'));
    n2.served.length = 0;
    const write = (key: string) =>
      n1.transport.request('n2', { type: 'write', key, set: lww(key) }, 5000);
    // 40 writes, one the replica refuses, then a read: all issued in one tick.
    const keys = Array.from({ length: 40 }, (_, i) => (i === 7 ? 'refuse' : `c${i}`));
    const writes = keys.map((k) =>
      write(k).then(
        (r) => r,
        (e: unknown) => e,
      ),
    );
    const read = n1.transport.request('n2', { type: 'read', key: 'c0' }, 5000);
    const results = await Promise.all(writes);
    results.forEach((r, i) => {
      if (i === 7) {
        expect(r).toBeInstanceOf(PeerError);
        expect((r as PeerError).reason).toBe('remote');
      } else expect(r).toEqual({ type: 'writeReply', applied: true });
    });
    // The read went after the writes it followed: it sees c0, and came second.
    const readReply = await read;
    expect(readReply.type === 'readReply' && textOf(readReply.set)).toBe('c0');
    expect(n2.served.map((r) => r.type)).toEqual(['writeBatch', 'read']);
    expect(n2.served[0]?.keys).toEqual(keys);
    expect(n2.store.size).toBe(39);
    // A write alone in its tick goes as a plain write.
    n2.served.length = 0;
    await write('alone');
    expect(n2.served).toEqual([{ type: 'write', keys: ['alone'] }]);
  });

  it('splits a tick of writes into frames of at most writeBatchEntriesMax entries and about peerWriteCoalesceBytesMax', async () => {
    const [n1, n2] = (await cluster(2)) as [Node, Node];
    await until('up', () => n1.transport.isUp('n2'));
    n2.served.length = 0;
    const count = LIMITS.writeBatchEntriesMax + 5;
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        n1.transport.request('n2', { type: 'write', key: `s${i}`, set: lww('v') }, 5000),
      ),
    );
    // The byte budget binds before the entry cap: every frame is a writeBatch under both.
    expect(n2.served.length).toBeGreaterThanOrEqual(2);
    for (const r of n2.served) {
      expect(r.type).toBe('writeBatch');
      expect(r.keys.length).toBeLessThanOrEqual(LIMITS.writeBatchEntriesMax);
    }
    expect(n2.served.flatMap((r) => r.keys)).toHaveLength(count);
    // And into frames of about peerWriteCoalesceBytesMax: 3 KiB values, 60 in one tick.
    n2.served.length = 0;
    const mid = lww('x'.repeat(3 * 1024));
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        n1.transport.request('n2', { type: 'write', key: `b${i}`, set: mid }, 5000),
      ),
    );
    const perFrame = Math.floor(LIMITS.peerWriteCoalesceBytesMax / (3 * 1024));
    expect(n2.served.every((r) => r.type === 'writeBatch')).toBe(true);
    expect(n2.served.every((r) => r.keys.length <= perFrame)).toBe(true);
    expect(n2.served.length).toBe(Math.ceil(60 / (perFrame - 1)));
    // A write larger than peerWriteCoalesceEntryBytesMax goes alone, even among small ones.
    n2.served.length = 0;
    const big = lww('x'.repeat(LIMITS.peerWriteCoalesceEntryBytesMax + 1));
    await Promise.all([
      n1.transport.request('n2', { type: 'write', key: 'small1', set: lww('s') }, 5000),
      n1.transport.request('n2', { type: 'write', key: 'large', set: big }, 5000),
      n1.transport.request('n2', { type: 'write', key: 'small2', set: lww('s') }, 5000),
    ]);
    expect(n2.served).toEqual([
      { type: 'write', keys: ['large'] },
      { type: 'writeBatch', keys: ['small1', 'small2'] },
    ]);
    expect(n2.store.size).toBe(count + 60 + 3);
  });

  it('resolves 1000 concurrent requests on one link', async () => {
    const [n1, n2] = (await cluster(2)) as [Node, Node];
    await until('up', () => n1.transport.isUp('n2'));
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        i % 2 === 0
          ? n1.transport.request('n2', { type: 'write', key: `k${i}`, set: lww(`v${i}`) }, 5000)
          : n1.transport.request('n2', { type: 'read', key: `k${i - 1}` }, 5000),
      ),
    );
    expect(replies.filter((r) => r.type === 'writeReply')).toHaveLength(500);
    expect(replies.filter((r) => r.type === 'readReply')).toHaveLength(500);
    expect(n2.store.size).toBe(500);
  });
});
