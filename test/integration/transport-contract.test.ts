// The Transport contract (test/support/transport-contract.ts) over TcpTransport: real sockets on
// 127.0.0.1, free ports, a cluster secret, real time. Every env owns its transports and ports;
// the suite's afterEach stops them.

import { pino } from 'pino';
import { LIMITS } from '../../src/config.js';
import type { NetTimers } from '../../src/net/peer-connection.js';
import { TcpTransport } from '../../src/net/tcp-transport.js';
import type { PeerRequestHandler } from '../../src/net/transport.js';
import { freePorts } from '../../src/verify/free-ports.js';
import { until } from '../support/cluster.js';
import {
  transportContract,
  type TransportEnv,
  type TransportFactory,
} from '../support/transport-contract.js';

const HOST = '127.0.0.1';
const CLUSTER = 'transport-contract';
const SECRET = 'transport-contract-secret';

/** Real timers that know which are still armed: what a stopped transport must leave at zero. */
class ArmedTimers implements NetTimers {
  readonly armed = new Set<NodeJS.Timeout>();

  setTimeout<A extends unknown[]>(
    fn: (...args: A) => void,
    ms: number,
    ...args: A
  ): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.armed.delete(timer);
      fn(...args);
    }, ms);
    this.armed.add(timer);
    return timer;
  }

  clearTimeout(timer: NodeJS.Timeout | undefined): void {
    if (timer === undefined) return;
    this.armed.delete(timer);
    clearTimeout(timer);
  }

  setInterval(fn: () => void, ms: number): NodeJS.Timeout {
    const timer = setInterval(fn, ms);
    this.armed.add(timer);
    return timer;
  }

  clearInterval(timer: NodeJS.Timeout | undefined): void {
    this.clearTimeout(timer);
  }
}

const tcp: TransportFactory = {
  // A silent peer is down after peerDownAfterMs, checked once per heartbeat; a peer that speaks
  // again is heard within a heartbeat. Same bound as transport.test.ts's block case.
  noticeMs: LIMITS.peerDownAfterMs + 2 * LIMITS.heartbeatIntervalMs + 300,

  async make(ids: readonly string[], handler: (id: string) => PeerRequestHandler) {
    const ports = await freePorts(ids.length);
    const addrs = ids.map((id, i) => ({ id, host: HOST, port: ports[i] as number }));
    const timers = new Map(ids.map((id) => [id, new ArmedTimers()]));
    const transports = new Map(
      addrs.map((a) => [
        a.id,
        new TcpTransport({
          self: a.id,
          cluster: CLUSTER,
          secret: SECRET,
          listen: { host: HOST, port: a.port },
          peers: addrs.filter((b) => b.id !== a.id),
          logger: pino({ level: 'silent' }),
          onRequest: handler(a.id),
          timers: timers.get(a.id) as ArmedTimers,
        }),
      ]),
    );
    const env: TransportEnv = {
      transport: (id) => transports.get(id) as TcpTransport,
      nowMs: () => performance.now(),
      settle: (p) => p,
      advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      until: async (what, probe, withinMs) => {
        await until(what, probe, withinMs, 10);
      },
      timersArmed: (id) => (timers.get(id) as ArmedTimers).armed.size,
      address: (id) => addrs.find((a) => a.id === id) as (typeof addrs)[number],
      close: async () => {
        await Promise.all([...transports.values()].map((t) => t.stop()));
      },
    };
    try {
      await Promise.all([...transports.values()].map((t) => t.start()));
      const allUp = () => ids.every((a) => ids.every((b) => a === b || env.transport(a).isUp(b)));
      await env.until('every link up', allUp, 10_000);
    } catch (err) {
      await env.close();
      throw err;
    }
    return env;
  },
};

transportContract('TcpTransport', tcp);
