// The console page's pure parts: reading Server-Timing as kvorum writes it, turning each node's
// own report into the state of every link between two nodes, and placing the PBS curve.

import { describe, expect, it } from 'vitest';
import {
  firstReaching,
  linearScale,
  polyline,
  roundTicks,
} from '../../console/src/curve-geometry.js';
import { linksOf, faultWords } from '../../console/src/links.js';
import { parseServerTiming } from '../../console/src/server-timing.js';
import type { ClusterView, NodeView, PbsCurves } from '../../console/src/wire.js';
import type { ConsoleClusterView } from '../../src/core/console-view.js';
import { serverTiming } from '../../src/http/server-timing.js';
import type { PbsCurveAnswer } from '../../src/replica/pbs-curve-report.js';

/**
 * The page keeps its own copy of the wire types (it is compiled apart from the server): this
 * fails the type-check (npm run typecheck) when what the server sends stops fitting it.
 */
export const pageReadsServerView = (view: ConsoleClusterView): ClusterView => view;
export const pageReadsServerCurve = (answer: PbsCurveAnswer): PbsCurves => answer;

describe('Server-Timing on the page', () => {
  it('reads back exactly what the node writes', () => {
    const timings = [
      { node: 'n1', durMs: 0.4, desc: 'ok' },
      { node: 'n3', durMs: 0, desc: 'down' },
      { node: 'n2', durMs: 12.25, desc: 'pending' },
      { node: 'n4', durMs: 1.5, desc: 'ok;repaired' },
      { node: 'n5', durMs: 0, desc: 'hinted' },
    ];
    expect(parseServerTiming(serverTiming(timings))).toEqual([
      { node: 'n1', durMs: 0.4, desc: 'ok' },
      { node: 'n3', durMs: 0, desc: 'down' },
      // The node writes one decimal.
      { node: 'n2', durMs: 12.3, desc: 'pending' },
      { node: 'n4', durMs: 1.5, desc: 'ok;repaired' },
      { node: 'n5', durMs: 0, desc: 'hinted' },
    ]);
  });

  it('no header or an odd one gives what it can, never a throw', () => {
    expect(parseServerTiming(null)).toEqual([]);
    expect(parseServerTiming('')).toEqual([]);
    expect(parseServerTiming('n1;dur=abc, ;x, n2')).toEqual([
      { node: 'n1', durMs: 0, desc: '' },
      { node: 'n2', durMs: 0, desc: '' },
    ]);
  });
});

function node(id: string, over: Partial<NodeView> = {}): NodeView {
  const others = ['n1', 'n2', 'n3'].filter((o) => o !== id);
  return {
    id,
    pid: 1,
    at: 0,
    keys: 0,
    rssBytes: 0,
    heapUsedBytes: 0,
    cpuPercent: 0,
    hintsPending: 0,
    layoutVersion: 1,
    faults: { block: [], delay: {}, drop: {} },
    peers: Object.fromEntries(
      others.map((o) => [
        o,
        { up: true, rttMs: 1, pingsSent: 1, pingsLost: 0, unreachable: false, replyMs: 1 },
      ]),
    ),
    traffic: { windowMs: 10_000, levels: [] },
    staleness: { windowMs: 60_000, levels: [] },
    ...over,
  };
}

function cluster(views: Record<string, NodeView | undefined>): ClusterView {
  const ids = ['n1', 'n2', 'n3'];
  return {
    cluster: 'c',
    profile: 'quorum',
    n: 3,
    r: 'quorum',
    w: 'quorum',
    conflicts: 'lww',
    profiles: {},
    layout: {
      version: 1,
      settled: true,
      nodes: ids.map((id) => ({ id, http: `http://${id}`, state: 'member' as const })),
    },
    ring: { size: 2 ** 32, arcs: [], shares: {} },
    self: 'n1',
    at: 0,
    nodes: ids.map((id) => {
      const view = views[id];
      return view === undefined ? { id, error: 'down' } : { id, view };
    }),
  };
}

describe('links on the page', () => {
  it('every pair once; a block on either end blocks the link both ways', () => {
    const links = linksOf(
      cluster({
        n1: node('n1'),
        n2: node('n2'),
        n3: node('n3', { faults: { block: ['n1'], delay: {}, drop: {} } }),
      }),
    );
    expect(links.map((l) => [`${l.a}-${l.b}`, l.state])).toEqual([
      ['n1-n2', 'ok'],
      ['n1-n3', 'blocked'],
      ['n2-n3', 'ok'],
    ]);
  });

  it('a delay or drop on either direction makes the link faulty, and says which way', () => {
    const n1 = node('n1', {
      faults: { block: [], delay: { n2: { ms: 50, jitterMs: 10 } }, drop: { n3: 0.2 } },
    });
    const links = linksOf(cluster({ n1, n2: node('n2'), n3: node('n3') }));
    expect(links.map((l) => l.state)).toEqual(['faulty', 'faulty', 'ok']);
    expect(faultWords(links[0]!.ab)).toBe('delay 50±10 ms');
    expect(faultWords(links[0]!.ba)).toBe('');
    expect(faultWords(links[1]!.ab)).toBe('drop 20%');
  });

  it('a peer one end sees down is a down link; a node without figures makes its links unknown', () => {
    const n1 = node('n1');
    const seesDown = {
      ...n1,
      peers: { ...n1.peers, n2: { ...n1.peers.n2!, up: false } },
    };
    expect(linksOf(cluster({ n1: seesDown, n2: node('n2'), n3: node('n3') }))[0]?.state).toBe(
      'down',
    );
    expect(
      linksOf(cluster({ n1: node('n1'), n2: node('n2'), n3: undefined })).map((l) => l.state),
    ).toEqual(['ok', 'unknown', 'unknown']);
  });
});

describe('the PBS chart on the page', () => {
  it('ticks the time axis at a round step, from 0, never past its end', () => {
    expect(roundTicks(1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(roundTicks(2)).toEqual([0, 0.5, 1, 1.5, 2]);
    expect(roundTicks(20)).toEqual([0, 5, 10, 15, 20]);
    expect(roundTicks(0.1)).toEqual([0, 0.02, 0.04, 0.06, 0.08, 0.1]);
    expect(roundTicks(7)).toEqual([0, 2, 4, 6]);
    expect(roundTicks(0)).toEqual([0]);
  });

  it('maps probability 1 to the top of the plot and t to the right, as a path through the points', () => {
    const y = linearScale(0, 1, 250, 10);
    const x = linearScale(0, 20, 50, 550);
    expect([y(0), y(1), y(0.5)]).toEqual([250, 10, 130]);
    expect([x(0), x(20), x(5)]).toEqual([50, 550, 175]);
    expect(linearScale(3, 3, 7, 9)(3)).toBe(7);
    expect(
      polyline([
        [x(0), y(0.25)],
        [x(10), y(1)],
      ]),
    ).toBe('M50.0 190.0 L300.0 10.0');
  });

  it('reads when a line reaches a share from its points, or says it never does', () => {
    const t = [0, 1, 2, 3];
    expect(firstReaching(t, [0.5, 0.9, 0.995, 1], 0.99)).toBe(2);
    expect(firstReaching(t, [1, 1, 1, 1], 0.99)).toBe(0);
    expect(firstReaching(t, [0.1, 0.2, 0.3, 0.4], 0.99)).toBeNull();
  });
});
