// The TCP peer transport on real loopback sockets: every test owns its transports, ports and raw
// sockets, and afterEach closes them all.

import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { PeerError } from '../../src/core/errors.js';
import type { FaultSpec } from '../../src/core/faults.js';
import type { Version } from '../../src/core/version.js';
import { encodeFrame, FrameDecoder } from '../../src/net/frame-codec.js';
import {
  PROTOCOL_VERSION,
  type PeerMessage,
  type PeerReplyBody,
  type PeerRequest,
} from '../../src/net/messages.js';
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
  readonly store: Map<string, Version>;
  readonly logs: LogLine[];
  readonly states: Array<[string, boolean]>;
}

interface NodeOptions {
  secret?: string;
  cluster?: string;
  /** Node ids and ports this node believes are in the cluster (defaults to everyone). */
  peers?: Array<{ id: string; port: number }>;
}

const transports: TcpTransport[] = [];
const rawSockets: Socket[] = [];

afterEach(async () => {
  for (const s of rawSockets.splice(0)) s.destroy();
  await Promise.all(transports.splice(0).map((t) => t.stop()));
});

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, HOST, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Polls until `probe` holds; fails with `what` after the deadline. No fixed sleeps. */
async function until(what: string, probe: () => boolean, timeoutMs = 5_000): Promise<void> {
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

function storeHandler(store: Map<string, Version>) {
  return (_from: string, req: PeerRequest): PeerReplyBody | Promise<PeerReplyBody> => {
    switch (req.type) {
      case 'ping':
        return { type: 'pong' };
      case 'read':
        if (req.key === 'throw') throw new Error('handler threw');
        if (req.key === 'reject') return Promise.reject(new Error('handler rejected'));
        return { type: 'readReply', version: store.get(req.key) ?? null };
      case 'write':
        store.set(req.key, req.version);
        // Answer on a later tick, as a real store does.
        return new Promise((resolve) =>
          setImmediate(() => resolve({ type: 'writeReply', applied: true })),
        );
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

async function startNode(
  id: string,
  all: Array<{ id: string; port: number }>,
  o: NodeOptions = {},
): Promise<Node> {
  const self = all.find((n) => n.id === id) as { id: string; port: number };
  const store = new Map<string, Version>();
  const logs: LogLine[] = [];
  const states: Array<[string, boolean]> = [];
  const transport = new TcpTransport({
    self: id,
    cluster: o.cluster ?? CLUSTER,
    listen: { host: HOST, port: self.port },
    peers: (o.peers ?? all)
      .filter((n) => n.id !== id)
      .map((n) => ({ id: n.id, host: HOST, port: n.port })),
    ...(o.secret !== undefined ? { secret: o.secret } : {}),
    logger: recordingLogger(logs),
    onRequest: storeHandler(store),
    onPeerState: (peer, up) => states.push([peer, up]),
  });
  transports.push(transport);
  await transport.start();
  return { id, port: self.port, transport, store, logs, states };
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

function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) resolve();
    else s.once('close', () => resolve());
  });
}

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
      await n1.transport.request(
        'n3',
        { type: 'write', key: 'a', version: version('from n1') },
        1000,
      ),
    ).toEqual(expect.objectContaining({ type: 'writeReply', applied: true }));
    expect(n3.store.get('a')?.value).toEqual(Buffer.from('from n1'));
    await n3.transport.request(
      'n1',
      { type: 'write', key: 'b', version: version('from n3') },
      1000,
    );
    const read = await n2.transport.request('n1', { type: 'read', key: 'b' }, 1000);
    expect(read.type === 'readReply' && Buffer.from(read.version?.value ?? []).toString()).toBe(
      'from n3',
    );
    const missing = await n2.transport.request('n3', { type: 'read', key: 'nope' }, 1000);
    expect(missing).toEqual(expect.objectContaining({ type: 'readReply', version: null }));
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
    const t0 = performance.now();
    const err = await rejection(n1.transport.request('n2', { type: 'ping' }, 5000));
    expect(err.reason).toBe('unreachable');
    expect(performance.now() - t0).toBeLessThan(100);
    expect((await rejection(n1.transport.request('n9', { type: 'ping' }, 5000))).reason).toBe(
      'unreachable',
    );
    expect(n1.transport.isUp('n2')).toBe(false);
  });

  it('sees a stopped peer down at once and reconnects when it restarts on the same port', async () => {
    const nodes = await cluster(3);
    await until('all up', () => allUp(nodes));
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    // Either n2 answers before it stops, or the request fails as unreachable, never as a timeout.
    const pending = n1.transport
      .request('n2', { type: 'write', key: 'slow', version: version('x') }, 5000)
      .catch((err: PeerError) => expect(err.reason).toBe('unreachable'));
    await n2.transport.stop();
    await until(
      'n1 and n3 see n2 down',
      () => !n1.transport.isUp('n2') && !n3.transport.isUp('n2'),
      1000,
    );
    expect(n1.states).toContainEqual(['n2', false]);
    expect(n3.logs.some((l) => l.msg === 'peer down' && l.peer === 'n2')).toBe(true);
    await pending;

    const all = nodes.map((n) => ({ id: n.id, port: n.port }));
    const n2b = await startNode('n2', all);
    const again = [n1, n2b, n3];
    await until('the restarted n2 is up everywhere', () => allUp(again));
    await n1.transport.request(
      'n2',
      { type: 'write', key: 'k', version: version('after restart') },
      1000,
    );
    expect(n2b.store.get('k')?.value).toEqual(Buffer.from('after restart'));
    await n2b.transport.request('n3', { type: 'read', key: 'k' }, 1000);
  });

  it('rejects pending requests when the transport stops, and leaves no timers behind', async () => {
    const [n1, n2] = (await cluster(2)) as [Node, Node];
    await until('up', () => n1.transport.isUp('n2'));
    n2.transport.setFaults({ ...NO_FAULTS, drop: { n1: 1 } });
    const pending = n1.transport.request('n2', { type: 'read', key: 'a' }, 30_000);
    await n1.transport.stop();
    expect((await rejection(pending)).reason).toBe('unreachable');
    expect((await rejection(n1.transport.request('n2', { type: 'ping' }, 1000))).reason).toBe(
      'unreachable',
    );
  });

  it("block cuts both directions at once: 'unreachable', and the blocked side sees the link down", async () => {
    const nodes = await cluster(3);
    await until('all up', () => allUp(nodes));
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    n1.transport.setFaults({ ...NO_FAULTS, block: ['n2'] });
    expect(n1.transport.faults().block).toEqual(['n2']);
    expect(n1.transport.isUp('n2')).toBe(false);
    expect(n1.states).toContainEqual(['n2', false]);
    const t0 = performance.now();
    expect((await rejection(n1.transport.request('n2', { type: 'ping' }, 5000))).reason).toBe(
      'unreachable',
    );
    expect(performance.now() - t0).toBeLessThan(50);
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
    const t0 = performance.now();
    const err = await rejection(n1.transport.request('n2', { type: 'read', key: 'a' }, 200));
    expect(err.reason).toBe('timeout');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(195);
    // n2's pings still reach n1, so n1 keeps seeing n2; n2 hears nothing and sees n1 down.
    await until('n2 sees n1 down', () => !n2.transport.isUp('n1'), 3000);
    expect(n1.transport.isUp('n2')).toBe(true);
  });

  it('delay adds its latency to messages this node sends', async () => {
    const [n1, n2] = (await cluster(2)) as [Node, Node];
    await until('up', () => n1.transport.isUp('n2') && n2.transport.isUp('n1'));
    const rtt = async (from: Node, to: string) => {
      const t0 = performance.now();
      await from.transport.request(to, { type: 'read', key: 'a' }, 2000);
      return performance.now() - t0;
    };
    expect(await rtt(n1, 'n2')).toBeLessThan(100);
    n1.transport.setFaults({ ...NO_FAULTS, delay: { n2: { ms: 150, jitterMs: 20 } } });
    const delayed = await rtt(n1, 'n2');
    expect(delayed).toBeGreaterThanOrEqual(129);
    expect(delayed).toBeLessThan(1000);
    // The reply n1 sends to n2's request is delayed too.
    expect(await rtt(n2, 'n1')).toBeGreaterThanOrEqual(129);
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
    const nodes = await cluster(3);
    await until('all up', () => allUp(nodes));
    const n2 = nodes[1] as Node;
    const bad: Array<[string, Buffer]> = [
      ['random bytes', Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff))],
      ['a 4 GiB length prefix', Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])],
      ['a request before the hello', encodeFrame({ type: 'read', id: 1, key: 'k' })],
      [
        'a hello in another protocol version',
        encodeFrame({ ...hello('n1'), protocol: PROTOCOL_VERSION + 1 }),
      ],
      ['a hello frame larger than a hello can be', Buffer.from([0x00, 0x10, 0x00, 0x00, 0x92])],
    ];
    for (const [what, bytes] of bad) {
      const s = await rawConnect(n2.port);
      s.write(bytes);
      await closed(s);
      expect(refusals(n2).length, what).toBeGreaterThan(0);
    }
    expect(refusals(n2)).toHaveLength(bad.length);
    expect(allUp(nodes)).toBe(true);
    await Promise.all(
      nodes.flatMap((a) =>
        nodes.filter((b) => b !== a).map((b) => a.transport.request(b.id, { type: 'ping' }, 1000)),
      ),
    );
  });

  it('closes a connection that never finishes its handshake', async () => {
    const [, n2] = (await cluster(2)) as [Node, Node];
    const s = await rawConnect(n2.port);
    const t0 = performance.now();
    await closed(s);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(LIMITS.handshakeTimeoutMs - 100);
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
    fake.socket.write(encodeFrame({ type: 'readReply', id: read.id, version: version('old n1') }));
    const reply = await req;
    expect(reply.type === 'readReply' && Buffer.from(reply.version?.value ?? []).toString()).toBe(
      'old n1',
    );

    // The real n1 starts and dials: n2 drops the old connection for the new one.
    const n1 = await startNode('n1', all);
    n1.store.set('who', version('new n1'));
    await closed(fake.socket);
    await until('n2 sees the new n1', () => n2.transport.isUp('n1') && n1.transport.isUp('n2'));
    const fresh = await n2.transport.request('n1', { type: 'read', key: 'who' }, 2000);
    expect(fresh.type === 'readReply' && Buffer.from(fresh.version?.value ?? []).toString()).toBe(
      'new n1',
    );
  });

  it('serves a large request that shares a packet with the last hello', async () => {
    const ports = await freePorts(2);
    const all = ports.map((port, i) => ({ id: `n${i + 1}`, port }));
    const n2 = await startNode('n2', all);
    const fake = await handPlayedDialer(n2.port, 'n1');
    const big = version('v'.repeat(256 * 1024));
    fake.socket.write(
      Buffer.concat([
        encodeFrame(hello('n1')),
        encodeFrame({ type: 'write', id: 1, key: 'big', version: big }),
      ]),
    );
    await until('the write is answered', () =>
      fake.received.some((m) => m.type === 'writeReply' && m.id === 1),
    );
    expect(n2.store.get('big')?.value.length).toBe(256 * 1024);
  });

  it('resolves 1000 concurrent requests on one link', async () => {
    const [n1, n2] = (await cluster(2)) as [Node, Node];
    await until('up', () => n1.transport.isUp('n2'));
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        i % 2 === 0
          ? n1.transport.request(
              'n2',
              { type: 'write', key: `k${i}`, version: version(`v${i}`) },
              5000,
            )
          : n1.transport.request('n2', { type: 'read', key: `k${i - 1}` }, 5000),
      ),
    );
    expect(replies.filter((r) => r.type === 'writeReply')).toHaveLength(500);
    expect(replies.filter((r) => r.type === 'readReply')).toHaveLength(500);
    expect(n2.store.size).toBe(500);
  });
});
