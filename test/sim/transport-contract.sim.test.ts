// The Transport contract (test/support/transport-contract.ts) over SimTransport, on a seeded
// SimNetwork in virtual time, for a few seeds (SIM_SEED=<seed> runs one); then what only the
// simulator has: exact replay from a seed, partitions and crashes. A failure names its seed and
// the last events of the run.

import { describe, expect, it } from 'vitest';
import { PeerError } from '../../src/core/errors.js';
import { EMPTY_FAULTS } from '../../src/core/faults.js';
import type { PeerRequestHandler } from '../../src/net/transport.js';
import { seededRng } from '../support/rng.js';
import {
  transportContract,
  type TransportEnv,
  type TransportFactory,
} from '../support/transport-contract.js';
import { Scheduler } from './scheduler.js';
import { DEFAULT_NETWORK, SimNetwork } from './sim-network.js';
import { simSeeds } from './sim-seeds.js';
import { SimSwitchboard, SimTransport } from './sim-transport.js';

const BASE_SEED = 7100;
/** The contract is about guarantees, not schedules: a few seeds show they hold across draws. */
const CONTRACT_SEEDS = 3;

/** Lets every queued promise continuation run. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Started SimTransports for `ids`, on one network, scheduler and random stream from `seed`. */
async function simCluster(
  seed: number,
  ids: readonly string[],
  handler: (id: string) => PeerRequestHandler,
) {
  const sched = new Scheduler(seed);
  const rng = seededRng(seed);
  const net = new SimNetwork(sched, rng, ids);
  const board = new SimSwitchboard(net, sched, rng);
  const transports = new Map(
    ids.map((id) => [
      id,
      new SimTransport({
        switchboard: board,
        self: id,
        peers: ids.filter((p) => p !== id),
        onRequest: handler(id),
      }),
    ]),
  );
  await Promise.all([...transports.values()].map((t) => t.start()));
  return { sched, net, t: (id: string) => transports.get(id) as SimTransport, transports };
}

function sim(seed: number): TransportFactory {
  return {
    // Every detector, SimNetwork's and the transport's own, catches up within this lag.
    noticeMs: DEFAULT_NETWORK.detectMaxMs,

    async make(ids, handler) {
      const { sched, t, transports } = await simCluster(seed, ids, handler);
      const env: TransportEnv = {
        transport: t,
        nowMs: () => sched.now,
        settle: (p) => sched.run(p),
        advance: async (ms) => {
          await sched.runFor(ms);
          await flush();
        },
        // Steps virtual time a millisecond at a time, so the probe sees every state in between.
        until: async (what, probe, withinMs) => {
          const deadline = sched.now + withinMs;
          for (;;) {
            await flush();
            if (probe()) return;
            if (sched.now >= deadline) {
              throw sched.failure(`${what}: not so after ${withinMs} virtual ms`);
            }
            await sched.runFor(1);
          }
        },
        timersArmed: (id) => t(id).timersArmed(),
        // The simulator routes by id; the address is only what a peer list carries.
        address: (id) => ({ id, host: 'sim', port: 0 }),
        close: async () => {
          await Promise.all([...transports.values()].map((x) => x.stop()));
        },
      };
      return env;
    },
  };
}

for (const seed of simSeeds(BASE_SEED).slice(0, CONTRACT_SEEDS)) {
  transportContract(`SimTransport, seed ${seed}`, sim(seed));
}

const IDS = ['n1', 'n2', 'n3'];
const served: PeerRequestHandler = () => ({ type: 'readReply', set: null });

/** How a request ended, and when. */
async function ending(sched: Scheduler, p: Promise<unknown>): Promise<string> {
  const how = await p.then(
    () => 'ok',
    (err: unknown) => (err instanceof PeerError ? err.reason : String(err)),
  );
  return `${how}@${sched.now}`;
}

/** 40 requests from n1 through drops, jittered delays and network latency: how each ended. */
async function faultyRun(seed: number): Promise<string[]> {
  const { sched, t } = await simCluster(seed, IDS, () => served);
  t('n1').setFaults({
    ...EMPTY_FAULTS,
    delay: { n3: { ms: 20, jitterMs: 15 } },
    drop: { n2: 0.5 },
  });
  const runs = Array.from({ length: 40 }, (_, i) =>
    ending(sched, t('n1').request(i % 2 === 0 ? 'n2' : 'n3', { type: 'read', key: `k${i}` }, 100)),
  );
  return sched.run(Promise.all(runs));
}

describe('SimTransport on the seeded network', () => {
  it('replays a run exactly from its seed, the link faults included', async () => {
    const once = await faultyRun(7200);
    expect(await faultyRun(7200)).toEqual(once);
    // The faults drew from the seeded stream: some requests were dropped, and another seed differs.
    expect(once.some((e) => e.startsWith('timeout@100'))).toBe(true);
    expect(once.some((e) => e.startsWith('ok'))).toBe(true);
    expect(await faultyRun(7201)).not.toEqual(once);
  });

  it("loses requests across a partition until the detector notices, then refuses them as 'unreachable' at once", async () => {
    const { sched, net, t } = await simCluster(7300, IDS, () => served);
    net.cut('n1', 'n2');
    // The detector has not caught up yet: the request goes out and is lost on the way.
    expect(t('n1').isUp('n2')).toBe(true);
    expect(await ending(sched, sched.run(t('n1').request('n2', { type: 'ping' }, 100)))).toBe(
      'timeout@100',
    );
    await sched.runFor(net.config.detectMaxMs);
    expect(t('n1').isUp('n2') || t('n2').isUp('n1')).toBe(false);
    expect(t('n1').isUp('n3')).toBe(true);
    const refused = t('n1').request('n2', { type: 'ping' }, 100);
    expect(await ending(sched, refused)).toBe(`unreachable@${sched.now}`);
    net.mend('n1', 'n2');
    await sched.runFor(net.config.detectMaxMs);
    expect(await sched.run(t('n1').request('n2', { type: 'ping' }, 100))).toMatchObject({
      type: 'pong',
    });
  });

  it("a crashed node's peers get no answer (timeouts, not 'lost'), unlike a stopped one's", async () => {
    const { sched, net, t } = await simCluster(7400, IDS, () => served);
    net.crash('n2');
    expect(await ending(sched, sched.run(t('n1').request('n2', { type: 'ping' }, 100)))).toBe(
      'timeout@100',
    );
    // The crashed node's own transport sends nothing.
    expect(await ending(sched, t('n2').request('n3', { type: 'ping' }, 100))).toBe(
      `unreachable@${sched.now}`,
    );
  });
});
