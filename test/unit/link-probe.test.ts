// Round trips the console shows: measured from a ping's send to its answer, at most one ping
// per peer in flight and per interval, lost and unsendable pings told apart, a bounded history.

import { describe, expect, it } from 'vitest';
import { PeerError } from '../../src/core/errors.js';
import type { PeerReplyBody, PeerRequestBody } from '../../src/net/messages.js';
import type { Transport } from '../../src/net/transport.js';
import { LinkProbe } from '../../src/replica/link-probe.js';

interface Sent {
  readonly to: string;
  readonly body: PeerRequestBody;
  readonly timeoutMs: number;
  resolve(reply: PeerReplyBody): void;
  reject(err: unknown): void;
}

/** A transport whose requests the test answers, fails or leaves hanging, one by one. */
function scriptedTransport(): { transport: Transport; sent: Sent[] } {
  const sent: Sent[] = [];
  const transport = {
    request(to: string, body: PeerRequestBody, timeoutMs: number): Promise<PeerReplyBody> {
      return new Promise((resolve, reject) => sent.push({ to, body, timeoutMs, resolve, reject }));
    },
  } as unknown as Transport;
  return { transport, sent };
}

function manualClock() {
  let now = 1_000;
  return {
    clock: { nowMs: () => now, monotonicMs: () => now },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('link probe', () => {
  it('measures the round trip of a ping request, once per interval, never two at a time', async () => {
    const { transport, sent } = scriptedTransport();
    const { clock, advance } = manualClock();
    const probe = new LinkProbe({
      transport,
      peers: () => ['n2', 'n3'],
      clock,
      intervalMs: 1_000,
      timeoutMs: 2_000,
      historyMax: 10,
    });
    probe.poke();
    expect(sent.map((s) => [s.to, s.body.type, s.timeoutMs])).toEqual([
      ['n2', 'ping', 2_000],
      ['n3', 'ping', 2_000],
    ]);
    // Still in flight, and too soon: no second ping.
    probe.poke();
    expect(sent).toHaveLength(2);
    advance(7);
    sent[0]?.resolve({ type: 'pong' });
    await settle();
    expect(probe.snapshot().n2).toEqual({ rttMs: 7, sent: 1, lost: 0, unreachable: false });
    expect(probe.snapshot().n3?.rttMs).toBeNull();
    // n2 answered but its interval has not passed; n3 is still in flight.
    advance(500);
    probe.poke();
    expect(sent).toHaveLength(2);
    advance(500);
    probe.poke();
    expect(sent.map((s) => s.to)).toEqual(['n2', 'n3', 'n2']);
  });

  it('tells a lost ping (sent, unanswered) from one that could not be sent (blocked)', async () => {
    const { transport, sent } = scriptedTransport();
    const { clock, advance } = manualClock();
    const probe = new LinkProbe({
      transport,
      peers: () => ['n2', 'n3'],
      clock,
      intervalMs: 100,
      timeoutMs: 200,
      historyMax: 3,
    });
    probe.poke();
    sent[0]?.reject(new PeerError('n2', 'timeout'));
    sent[1]?.reject(new PeerError('n3', 'unreachable'));
    await settle();
    expect(probe.snapshot()).toEqual({
      n2: { rttMs: null, sent: 1, lost: 1, unreachable: false },
      n3: { rttMs: null, sent: 0, lost: 0, unreachable: true },
    });
    // The history keeps the last historyMax outcomes: three answered pings wash the loss out.
    for (let i = 0; i < 3; i++) {
      advance(100);
      probe.poke();
      advance(2);
      for (const s of sent.slice(-2)) s.resolve({ type: 'pong' });
      await settle();
    }
    expect(probe.snapshot()).toEqual({
      n2: { rttMs: 2, sent: 3, lost: 0, unreachable: false },
      n3: { rttMs: 2, sent: 3, lost: 0, unreachable: false },
    });
    // A round trip is the current one: a ping lost after answered ones clears it.
    advance(100);
    probe.poke();
    sent[sent.length - 2]?.reject(new PeerError('n2', 'lost'));
    await settle();
    expect(probe.snapshot().n2).toEqual({ rttMs: null, sent: 3, lost: 1, unreachable: false });
  });

  it('forgets peers that left the layout', async () => {
    const { transport } = scriptedTransport();
    const { clock } = manualClock();
    let peers = ['n2', 'n3'];
    const probe = new LinkProbe({
      transport,
      peers: () => peers,
      clock,
      intervalMs: 100,
      timeoutMs: 200,
      historyMax: 3,
    });
    probe.poke();
    peers = ['n2'];
    probe.poke();
    expect(Object.keys(probe.snapshot())).toEqual(['n2']);
  });
});
