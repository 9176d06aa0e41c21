// What every peer Transport owes the node code above it, as one suite run against the TCP
// transport (real sockets, real time) and the simulated one (virtual time), as automerge-repo
// runs one suite against every storage adapter. Each case asserts what both must do. Where
// they genuinely differ, the factory says by how much (how soon a peer that went silent is
// noticed) and the case states the guarantee both give.

import { afterEach, describe, expect, it } from 'vitest';
import { single } from '../../src/core/conflicts.js';
import { PeerError } from '../../src/core/errors.js';
import { EMPTY_FAULTS, type FaultSpec } from '../../src/core/faults.js';
import type { VersionSet } from '../../src/core/version-set.js';
import type { PeerReplyBody, PeerRequest, PeerRequestBody } from '../../src/net/messages.js';
import type { PeerAddress, PeerRequestHandler, Transport } from '../../src/net/transport.js';

/** Started transports for nodes n1..nN, every link up, and the env's notion of time. */
export interface TransportEnv {
  transport(id: string): Transport;
  /** The env's clock: performance.now(), or the scheduler's virtual time. */
  nowMs(): number;
  /** Waits for `p`, letting (real or virtual) time pass as it needs. */
  settle<T>(p: Promise<T>): Promise<T>;
  /**
   * Lets `ms` pass. Only to order a check against a timer a transport armed before it (a
   * delay fault's), never to wait for a result: results are waited for with settle or until.
   */
  advance(ms: number): Promise<void>;
  /** Waits until `probe` holds, failing once `withinMs` of the env's time has passed. */
  until(what: string, probe: () => boolean, withinMs: number): Promise<void>;
  /** Timers `id`'s transport has armed and not yet cleared or seen fire. */
  timersArmed(id: string): number;
  /** The address `id` listens on, as its peers list it. */
  address(id: string): PeerAddress;
  /** Stops every transport. */
  close(): Promise<void>;
}

export interface TransportFactory {
  /** Starts a transport per id, each serving with `handler(id)`; resolves once every link is up. */
  make(ids: readonly string[], handler: (id: string) => PeerRequestHandler): Promise<TransportEnv>;
  /**
   * How long a node may take to see a peer that went silent to it (blocks it, or drops all it
   * sends) as down, or to see it up again once it speaks. The one number where the two
   * transports differ: over TCP it is the heartbeat failure detector's bound
   * (LIMITS.peerDownAfterMs and a couple of heartbeats), in the simulator the network's
   * detector lag (NetworkConfig.detectMaxMs).
   */
  readonly noticeMs: number;
}

/** The handler every node runs in the contract: a tiny store that records what it was sent. */
class ContractPeer {
  readonly seen: Array<{ readonly from: string; readonly req: PeerRequest }> = [];
  readonly store = new Map<string, VersionSet>();
  private readonly held: Array<() => void> = [];

  constructor(readonly id: string) {}

  readonly handler: PeerRequestHandler = (from, req) => {
    this.seen.push({ from, req });
    switch (req.type) {
      case 'read':
        if (req.key === 'throw') throw new Error(`handler threw at ${this.id}`);
        if (req.key === 'reject')
          return Promise.reject(new Error(`handler rejected at ${this.id}`));
        if (req.key === 'hold') {
          return new Promise<PeerReplyBody>((resolve) =>
            this.held.push(() => resolve({ type: 'readReply', set: null })),
          );
        }
        return { type: 'readReply', set: this.store.get(req.key) ?? null };
      case 'write':
        this.store.set(req.key, req.set);
        return Promise.resolve({ type: 'writeReply', applied: true });
      case 'writeBatch':
        for (const [key, set] of req.entries) this.store.set(key, set);
        return Promise.resolve({
          type: 'writeBatchReply',
          applied: req.entries.length,
          failed: [],
        });
      default:
        throw new Error(`the contract's handler does not serve ${req.type}`);
    }
  };

  /** Requests from `peer` that reached this handler. */
  from(peer: string): number {
    return this.seen.filter((s) => s.from === peer).length;
  }

  get holding(): number {
    return this.held.length;
  }

  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }
}

const lww = (text: string): VersionSet =>
  single({
    ts: { wallMs: 1_700_000_000_000, logical: 0, node: 'n1' },
    tombstone: false,
    contentType: 'text/plain',
    value: Buffer.from(text),
  });

const textOf = (set: VersionSet | null | undefined): string | undefined => {
  const v = set?.siblings[0]?.value;
  return v === undefined ? undefined : Buffer.from(v).toString();
};

const write = (key: string, text: string): PeerRequestBody => ({
  type: 'write',
  key,
  set: lww(text),
});
const read = (key: string): PeerRequestBody => ({ type: 'read', key });

/** What `p` settles with; attach at once, so a rejection before it is awaited is not unhandled. */
function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => v,
    (err: unknown) => err,
  );
}

function asPeerError(x: unknown): PeerError {
  expect(x).toBeInstanceOf(PeerError);
  return x as PeerError;
}

/**
 * The PeerError `p` rejects with, provided it rejects before the event loop turns: no timer,
 * no I/O and no simulated event can have run first, so the request failed without being sent.
 */
async function rejectionAtOnce(p: Promise<unknown>): Promise<PeerError> {
  const nextTurn = new Promise<string>((r) => setImmediate(() => r('still pending a turn later')));
  return asPeerError(await Promise.race([outcome(p), nextTurn]));
}

const ALL = ['n1', 'n2', 'n3'] as const;
const DELAY: FaultSpec = { ...EMPTY_FAULTS, delay: { n2: { ms: 150, jitterMs: 20 } } };
/** Below the shortest delay DELAY draws (150 - 20 ms), and far above a loopback round trip. */
const BEFORE_DELAY_MS = 100;

export function transportContract(name: string, factory: TransportFactory): void {
  describe(`Transport contract: ${name}`, () => {
    /** The env of the running case; afterEach stops its transports. */
    let current: TransportEnv | undefined;
    afterEach(async () => {
      await current?.close();
      current = undefined;
    });

    /** A cluster of `ids`, and each node's transport and handler by id. */
    async function open(ids: readonly string[] = ALL) {
      const peers = new Map(ids.map((id) => [id, new ContractPeer(id)]));
      const env = await factory.make(ids, (id) => (peers.get(id) as ContractPeer).handler);
      current = env;
      return {
        env,
        t: (id: string) => env.transport(id),
        peer: (id: string) => peers.get(id) as ContractPeer,
        /** The PeerError `p` rejects with, letting time pass until it does. */
        rejection: async (p: Promise<unknown>) => asPeerError(await env.settle(outcome(p))),
      };
    }

    it('setPeers: a removed peer is unreachable and unlisted; added back, requests flow again', async () => {
      const { env, t, rejection } = await open();
      const others = (id: string) => ALL.filter((x) => x !== id).map((x) => env.address(x));
      t('n1').setPeers(others('n1').filter((a) => a.id !== 'n2'));
      expect(
        t('n1')
          .peerStates()
          .map((p) => p.id),
      ).toEqual(['n3']);
      expect(t('n1').isUp('n2')).toBe(false);
      expect((await rejection(t('n1').request('n2', read('k'), 1000))).reason).toBe('unreachable');
      // n3 is not touched by n1's change of mind about n2.
      const reply = await env.settle(t('n1').request('n3', read('k'), 5000));
      expect(reply.type).toBe('readReply');
      t('n1').setPeers(others('n1'));
      expect(
        t('n1')
          .peerStates()
          .map((p) => p.id)
          .sort(),
      ).toEqual(['n2', 'n3']);
      await env.until('n1 sees n2 up again', () => t('n1').isUp('n2'), factory.noticeMs + 5000);
      const back = await env.settle(t('n1').request('n2', write('again', 'x'), 5000));
      expect(back).toMatchObject({ type: 'writeReply', applied: true });
    });

    it('carries a request and its reply over every link, in both directions', async () => {
      const { env, t, peer } = await open();
      for (const a of ALL) {
        for (const b of ALL) {
          if (a === b) continue;
          const reply = await env.settle(t(a).request(b, write(`${a}>${b}`, `from ${a}`), 5000));
          expect(reply, `${a} writes to ${b}`).toMatchObject({ type: 'writeReply', applied: true });
          expect(textOf(peer(b).store.get(`${a}>${b}`))).toBe(`from ${a}`);
          expect(peer(b).seen.at(-1)?.from, `${b}'s handler names the sender`).toBe(a);
        }
      }
      const back = await env.settle(t('n3').request('n2', read('n1>n2'), 5000));
      expect(back.type === 'readReply' && textOf(back.set)).toBe('from n1');
      const missing = await env.settle(t('n2').request('n1', read('nothing'), 5000));
      expect(missing).toMatchObject({ type: 'readReply', set: null });
    });

    it('carries a write batch whole: every entry, in order, in one request', async () => {
      const { env, t, peer } = await open(['n1', 'n2']);
      const entries = Array.from(
        { length: 300 },
        (_, i) => [`batch-${i}`, lww(`value ${i}`)] as const,
      );
      const reply = await env.settle(t('n1').request('n2', { type: 'writeBatch', entries }, 5000));
      expect(reply).toMatchObject({ type: 'writeBatchReply', applied: 300, failed: [] });
      expect(peer('n2').from('n1')).toBe(1);
      const got = peer('n2').seen[0]?.req;
      expect(got?.type === 'writeBatch' && got.entries.map(([key]) => key)).toEqual(
        entries.map(([key]) => key),
      );
      expect(textOf(peer('n2').store.get('batch-299'))).toBe('value 299');
    });

    it('answers a ping in the transport; the handler never sees it', async () => {
      const { env, t, peer } = await open(['n1', 'n2']);
      expect(await env.settle(t('n1').request('n2', { type: 'ping' }, 5000))).toMatchObject({
        type: 'pong',
      });
      expect(peer('n2').seen).toEqual([]);
    });

    it("turns a handler's throw or rejection into 'remote' with the handler's message, and the link keeps serving", async () => {
      const { env, t, rejection } = await open(['n1', 'n2']);
      const thrown = await rejection(t('n1').request('n2', read('throw'), 5000));
      expect([thrown.reason, thrown.peer]).toEqual(['remote', 'n2']);
      expect(thrown.message).toBe('peer n2 failed the request: handler threw at n2');
      const rejected = await rejection(t('n2').request('n1', read('reject'), 5000));
      expect(rejected.reason).toBe('remote');
      expect(rejected.message).toBe('peer n1 failed the request: handler rejected at n1');
      await env.settle(t('n1').request('n2', read('ok'), 5000));
    });

    it("fails a request to a node it does not know, or to itself, as 'unreachable' at once", async () => {
      const { t, peer } = await open(['n1', 'n2']);
      for (const to of ['n9', 'n1']) {
        const err = await rejectionAtOnce(t('n1').request(to, read('k'), 60_000));
        expect([err.reason, err.peer], to).toEqual(['unreachable', to]);
        expect(t('n1').isUp(to), to).toBe(false);
      }
      expect(peer('n2').seen).toEqual([]);
    });

    it('lists every peer in peerStates, in the order given, with whether it is up', async () => {
      const { t } = await open();
      expect(t('n2').peerStates()).toEqual([
        { id: 'n1', up: true },
        { id: 'n3', up: true },
      ]);
      t('n2').setFaults({ ...EMPTY_FAULTS, block: ['n3'] });
      expect(t('n2').peerStates()).toEqual([
        { id: 'n1', up: true },
        { id: 'n3', up: false },
      ]);
    });

    it('returns the faults in force, as set, per node', async () => {
      const { t } = await open();
      expect(t('n1').faults()).toEqual(EMPTY_FAULTS);
      const spec: FaultSpec = {
        block: ['n3'],
        delay: { n2: { ms: 50, jitterMs: 10 } },
        drop: { n2: 0.2 },
      };
      t('n1').setFaults(spec);
      expect(t('n1').faults()).toEqual(spec);
      expect(t('n2').faults()).toEqual(EMPTY_FAULTS);
      t('n1').setFaults(EMPTY_FAULTS);
      expect(t('n1').faults()).toEqual(EMPTY_FAULTS);
    });

    it("block cuts both directions: 'unreachable' at once and down on the blocking side, timeouts and down on the other, and clearing heals", async () => {
      const { env, t, peer, rejection } = await open();
      const inFlight = outcome(t('n1').request('n2', read('hold'), 500));
      await env.until('n2 holds the read', () => peer('n2').holding === 1, 5000);
      t('n1').setFaults({ ...EMPTY_FAULTS, block: ['n2'] });
      expect(t('n1').isUp('n2')).toBe(false);
      // n2 answers a request sent before the block; n1 discards the answer, as a firewall would.
      peer('n2').release();
      expect(asPeerError(await env.settle(inFlight)).reason).toBe('timeout');
      const blocked = await rejectionAtOnce(t('n1').request('n2', read('x'), 60_000));
      expect([blocked.reason, blocked.peer]).toEqual(['unreachable', 'n2']);
      expect(blocked.message).toMatch(/blocked by a fault/);
      // n2 blocked nothing: its link is open, so it sends, and hears nothing back. Over TCP and
      // in the simulator alike that is a timeout, not 'unreachable', even once n2 sees n1 down.
      const unheard = await rejection(t('n2').request('n1', read('x'), 300));
      expect(unheard.reason).toBe('timeout');
      expect(peer('n1').from('n2')).toBe(0);
      await env.until('n2 sees n1 down', () => !t('n2').isUp('n1'), factory.noticeMs);
      expect(t('n1').isUp('n3') && t('n3').isUp('n1') && t('n3').isUp('n2')).toBe(true);

      t('n1').setFaults(EMPTY_FAULTS);
      await env.until(
        'n1 and n2 see each other up again',
        () => t('n1').isUp('n2') && t('n2').isUp('n1'),
        factory.noticeMs,
      );
      const again = await env.settle(t('n2').request('n1', read('x'), 5000));
      expect(again).toMatchObject({ type: 'readReply', set: null });
      expect(peer('n1').from('n2')).toBe(1);
    });

    it("drop 1 loses every message this node sends to the peer: its requests end in 'timeout' at their deadline", async () => {
      const { env, t, peer, rejection } = await open(['n1', 'n2']);
      t('n1').setFaults({ ...EMPTY_FAULTS, drop: { n2: 1 } });
      const err = await rejection(t('n1').request('n2', read('a'), 200));
      expect([err.reason, err.peer]).toEqual(['timeout', 'n2']);
      expect(err.message).toBe('peer n2 did not answer within 200 ms');
      expect(peer('n2').from('n1')).toBe(0);
      // n2's request does reach n1; n1's reply is what is lost.
      const noReply = await rejection(t('n2').request('n1', read('b'), 200));
      expect(noReply.reason).toBe('timeout');
      expect(peer('n1').from('n2')).toBe(1);
      // n2 hears nothing from n1 and sees it down; n1 still hears n2 and sees it up.
      await env.until('n2 sees n1 down', () => !t('n2').isUp('n1'), factory.noticeMs);
      expect(t('n1').isUp('n2')).toBe(true);
    });

    it('delay holds back the requests and the replies this node sends, then delivers them', async () => {
      const { env, t, peer } = await open(['n1', 'n2']);
      t('n1').setFaults(DELAY);
      const held = outcome(t('n1').request('n2', write('held', 'x'), 30_000));
      await env.advance(BEFORE_DELAY_MS);
      expect(peer('n2').store.has('held')).toBe(false);
      expect(await env.settle(held)).toMatchObject({ type: 'writeReply', applied: true });
      expect(textOf(peer('n2').store.get('held'))).toBe('x');
      // n1 holds back its reply to n2's read: the read is served at once, answered late.
      let answered = false;
      const reply = outcome(
        t('n2')
          .request('n1', read('k'), 30_000)
          .then((r) => {
            answered = true;
            return r;
          }),
      );
      await env.advance(BEFORE_DELAY_MS);
      expect(answered).toBe(false);
      expect(await env.settle(reply)).toMatchObject({ type: 'readReply', set: null });
    });

    it("stop rejects the node's requests in flight as 'lost', refuses new ones as 'unreachable', and leaves no timers", async () => {
      const { env, t, peer } = await open(['n1', 'n2']);
      const pending = outcome(t('n1').request('n2', read('hold'), 30_000));
      await env.until('n2 holds the read', () => peer('n2').holding === 1, 5000);
      // The request's deadline at least is armed: the check below could see a leak.
      expect(env.timersArmed('n1')).toBeGreaterThan(0);
      await t('n1').stop();
      // It was sent: its outcome is unknown, which 'lost' says (a write must not be re-issued).
      const err = asPeerError(await env.settle(pending));
      expect([err.reason, err.peer]).toEqual(['lost', 'n2']);
      expect((await rejectionAtOnce(t('n1').request('n2', read('k'), 1000))).reason).toBe(
        'unreachable',
      );
      expect(env.timersArmed('n1')).toBe(0);
      expect(t('n1').isUp('n2')).toBe(false);
      // The answer that comes now goes nowhere; n2 sees n1 gone, and n1's handler gets nothing.
      peer('n2').release();
      await env.until('n2 sees n1 down', () => !t('n2').isUp('n1'), factory.noticeMs);
      const toStopped = await rejectionAtOnce(t('n2').request('n1', read('k'), 60_000));
      expect(toStopped.reason).toBe('unreachable');
      expect(peer('n1').seen).toEqual([]);
    });

    it("a peer that stops fails the requests it holds as 'lost' before their deadline, and is then down and 'unreachable'", async () => {
      const { env, t, peer } = await open(['n1', 'n2']);
      const startMs = env.nowMs();
      const pending = outcome(t('n1').request('n2', read('hold'), 30_000));
      await env.until('n2 holds the read', () => peer('n2').holding === 1, 5000);
      await t('n2').stop();
      const err = asPeerError(await env.settle(pending));
      expect([err.reason, err.peer]).toEqual(['lost', 'n2']);
      expect(env.nowMs() - startMs).toBeLessThan(30_000);
      await env.until('n1 sees n2 down', () => !t('n1').isUp('n2'), factory.noticeMs);
      const gone = await rejectionAtOnce(t('n1').request('n2', read('k'), 60_000));
      expect(gone.reason).toBe('unreachable');
      expect(peer('n2').from('n1')).toBe(1);
      peer('n2').release();
    });
  });
}
