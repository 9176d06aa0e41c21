import { describe, expect, it } from 'vitest';
import { LIMITS, parseClusterConfig } from '../../src/config.js';
import { ConflictError, InvalidArgumentError, LayoutDivergedError } from '../../src/core/errors.js';
import {
  excuse,
  advance,
  applyDecided,
  initialHistory,
  isMember,
  isSettled,
  layoutFromWire,
  layoutToWire,
  merge,
  minTracker,
  newestVersion,
  nodeStates,
  oldestVersion,
  proposeChange,
  prune,
  readVersion,
  readSet,
  replicaSets,
  liveNodes,
  ringOf,
  sameHistory,
  trackedNodes,
  writeVersions,
  type LayoutHistory,
  type LayoutNode,
  type LayoutVersion,
  type Tracker,
} from '../../src/core/layout.js';
import { Ring } from '../../src/core/ring.js';
import { seededRng } from '../support/rng.js';

const node = (i: number): LayoutNode => ({
  id: `n${i}`,
  http: `http://127.0.0.1:${7000 + i}`,
  peer: `127.0.0.1:${7100 + i}`,
});
const nodes = (...is: number[]): LayoutNode[] => is.map(node);
const numbers = (h: LayoutHistory) => h.versions.map((v) => v.version);
const plList = (ids: string[], key: string, n = 3) =>
  new Ring(ids, LIMITS.vnodesPerNode).preferenceList(key, n);

/** Every tracked node but `except` reports `version` on `t`. */
function report(h: LayoutHistory, t: Tracker, version: number, except: string[] = []) {
  for (const id of trackedNodes(h)) if (!except.includes(id)) h = advance(h, id, t, version);
  return h;
}

/** Decides one change proposed from `h` and applies it. */
function change(h: LayoutHistory, c: Parameters<typeof proposeChange>[1], n = 3) {
  const { next, excused } = proposeChange(h, c, n);
  return applyDecided(h, next, excused);
}

/** A key whose preference list differs between the two node sets. */
function movedKey(before: string[], after: string[]): string {
  for (let i = 0; ; i++) {
    const key = `key-${i}`;
    if (plList(before, key).join() !== plList(after, key).join()) return key;
  }
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('initial history', () => {
  it('is version 1, settled, with every tracker of every node at 1', () => {
    const h = initialHistory(nodes(3, 1, 2));
    expect(h.versions).toEqual([{ version: 1, nodes: nodes(1, 2, 3) }]);
    expect(isSettled(h)).toBe(true);
    for (const t of ['ack', 'sync', 'syncAck'] as const) {
      expect({ ...h.trackers[t] }).toEqual({ n1: 1, n2: 1, n3: 1 });
      expect(minTracker(h, t)).toBe(1);
    }
    expect(h.excused).toEqual([]);
    expect(trackedNodes(h)).toEqual(['n1', 'n2', 'n3']);
    expect(readVersion(h)).toBe(h.versions[0]);
    expect(writeVersions(h)).toEqual(h.versions);
    expect(nodeStates(h).map((s) => s.state)).toEqual(['member', 'member', 'member']);
    expect(isMember(h, 'n2')).toBe(true);
    expect(isMember(h, 'n4')).toBe(false);
  });

  it.each<[string, LayoutNode[], RegExp]>([
    ['no nodes', [], /initial nodes must name at least one node/],
    ['a duplicate id', [node(1), { ...node(2), id: 'n1' }], /sorted by id, each id once/],
    ['a bad id', [{ ...node(1), id: 'n 1' }], /initial nodes\[0\]\.id must match/],
    ['a shared peer address', [node(1), { ...node(2), peer: node(1).peer }], /share a peer/],
  ])('refuses %s', (_name, given, message) => {
    const e = thrown(() => initialHistory(given));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect((e as Error).message).toMatch(message);
  });

  it('keeps ids named like Object.prototype members as data', () => {
    const odd = [
      { ...node(1), id: '__proto__' },
      { ...node(2), id: 'constructor' },
      { ...node(3), id: 'toString' },
    ];
    let h = initialHistory(odd);
    expect(Object.keys(h.trackers.ack).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    h = change(h, { kind: 'join', node: node(4) });
    h = advance(h, '__proto__', 'ack', 2);
    expect(Object.getOwnPropertyDescriptor(h.trackers.ack, '__proto__')?.value).toBe(2);
    expect(minTracker(h, 'ack')).toBe(1);
    expect(sameHistory(layoutFromWire(JSON.parse(JSON.stringify(layoutToWire(h)))), h)).toBe(true);
  });
});

describe('a join, step by step', () => {
  it('writes to both rings, reads the old one until all synced, then prunes to the new', () => {
    let h = initialHistory(nodes(1, 2, 3));
    const proposed = proposeChange(h, { kind: 'join', node: node(4) }, 3);
    expect(proposed).toEqual({ next: { version: 2, nodes: nodes(1, 2, 3, 4) }, excused: [] });
    h = applyDecided(h, proposed.next, proposed.excused);

    expect(numbers(h)).toEqual([1, 2]);
    expect(isSettled(h)).toBe(false);
    expect(nodeStates(h)).toEqual([
      { ...node(1), state: 'member' },
      { ...node(2), state: 'member' },
      { ...node(3), state: 'member' },
      { ...node(4), state: 'joining' },
    ]);
    expect(trackedNodes(h)).toEqual(['n1', 'n2', 'n3', 'n4']);
    // The joiner's trackers are its own to report: it counts as the oldest version until then.
    expect(h.trackers.ack['n4']).toBeUndefined();

    const key = movedKey(['n1', 'n2', 'n3'], ['n1', 'n2', 'n3', 'n4']);
    const oldOwners = plList(['n1', 'n2', 'n3'], key);
    const newOwners = plList(['n1', 'n2', 'n3', 'n4'], key);
    expect(replicaSets(h, key, 3)).toEqual({ read: oldOwners, write: [oldOwners, newOwners] });
    expect(readSet(h, key, 3)).toEqual(oldOwners);
    expect(liveNodes(h).map((m) => m.id)).toEqual(['n1', 'n2', 'n3', 'n4']);

    h = report(h, 'ack', 2, ['n4']);
    expect(minTracker(h, 'ack')).toBe(1);
    h = advance(h, 'n4', 'ack', 2);
    expect(minTracker(h, 'ack')).toBe(2);

    h = report(h, 'sync', 2, ['n3']);
    expect(readVersion(h).version).toBe(1);
    expect(replicaSets(h, key, 3).read).toEqual(oldOwners);
    h = advance(h, 'n3', 'sync', 2);
    expect(readVersion(h).version).toBe(2);
    expect(replicaSets(h, key, 3)).toEqual({ read: newOwners, write: [oldOwners, newOwners] });
    expect(readSet(h, key, 3)).toEqual(newOwners);

    h = report(h, 'syncAck', 2, ['n1']);
    expect(numbers(h)).toEqual([1, 2]);
    h = advance(h, 'n1', 'syncAck', 2);
    expect(numbers(h)).toEqual([2]);
    expect(isSettled(h)).toBe(true);
    expect(replicaSets(h, key, 3)).toEqual({ read: newOwners, write: [newOwners] });
    expect(nodeStates(h).every((s) => s.state === 'member')).toBe(true);
    for (const t of ['ack', 'sync', 'syncAck'] as const) {
      expect({ ...h.trackers[t] }).toEqual({ n1: 2, n2: 2, n3: 2, n4: 2 });
    }
  });
});

describe('leaves', () => {
  const four = () => change(initialHistory(nodes(1, 2, 3)), { kind: 'join', node: node(4) });
  const settle = (h: LayoutHistory) => {
    const v = newestVersion(h).version;
    return report(report(report(h, 'ack', v), 'sync', v), 'syncAck', v);
  };

  it('a live leaver is waited for: it must push its data before it is dropped', () => {
    let h = settle(four());
    h = change(h, { kind: 'leave', id: 'n4', dead: false });
    expect(h.excused).toEqual([]);
    expect(nodeStates(h).find((s) => s.id === 'n4')?.state).toBe('leaving');
    expect(trackedNodes(h)).toContain('n4');
    for (const t of ['ack', 'sync', 'syncAck'] as const) h = report(h, t, 3, ['n4']);
    expect(numbers(h)).toEqual([2, 3]);
    expect(readVersion(h).version).toBe(2);
    for (const t of ['ack', 'sync', 'syncAck'] as const) h = advance(h, 'n4', t, 3);
    expect(numbers(h)).toEqual([3]);
    expect(isMember(h, 'n4')).toBe(false);
    expect(Object.keys(h.trackers.ack)).toEqual(['n1', 'n2', 'n3']);
  });

  it('a dead leaver is excused: the others finish the transition without it', () => {
    let h = settle(four());
    const proposed = proposeChange(h, { kind: 'leave', id: 'n4', dead: true }, 3);
    expect(proposed).toEqual({ next: { version: 3, nodes: nodes(1, 2, 3) }, excused: ['n4'] });
    h = applyDecided(h, proposed.next, proposed.excused);
    expect(h.excused).toEqual(['n4']);
    expect(trackedNodes(h)).toEqual(['n1', 'n2', 'n3']);
    expect(nodeStates(h).find((s) => s.id === 'n4')?.state).toBe('leaving');
    h = settle(h);
    expect(numbers(h)).toEqual([3]);
    expect(h.excused).toEqual([]);
    expect(isMember(h, 'n4')).toBe(false);
    expect(Object.keys(h.trackers.syncAck)).toEqual(['n1', 'n2', 'n3']);
  });

  it('the same reports without the excuse leave the transition open', () => {
    const excused = change(settle(four()), { kind: 'leave', id: 'n4', dead: true });
    let withExcuse = excused;
    let without: LayoutHistory = { ...excused, excused: [] };
    for (const t of ['ack', 'sync', 'syncAck'] as const) {
      for (const id of ['n1', 'n2', 'n3']) {
        withExcuse = advance(withExcuse, id, t, 3);
        without = advance(without, id, t, 3);
      }
    }
    expect(numbers(withExcuse)).toEqual([3]);
    expect(numbers(without)).toEqual([2, 3]);
  });

  it('a joiner that never starts can be excused: the transition ends with it a member, down', () => {
    let h = change(initialHistory(nodes(1, 2, 3)), { kind: 'join', node: node(4) });
    h = report(h, 'ack', 2, ['n4']);
    expect(minTracker(h, 'ack'), 'waits for the joiner').toBe(1);
    h = excuse(h, 'n4');
    expect(h.excused).toEqual(['n4']);
    expect(trackedNodes(h)).toEqual(['n1', 'n2', 'n3']);
    expect(minTracker(h, 'ack')).toBe(2);
    h = report(report(h, 'sync', 2), 'syncAck', 2);
    expect(numbers(h)).toEqual([2]);
    expect(isMember(h, 'n4')).toBe(true);
    expect(h.excused, 'a settled history excuses nobody').toEqual([]);
    // Removed as any dead member is, by a leave once settled.
    h = change(h, { kind: 'leave', id: 'n4', dead: true });
    expect(h.excused).toEqual(['n4']);
  });

  it('a member that dies mid-transition can be excused; the excuse ends with the transition', () => {
    let h = change(settle(four()), { kind: 'leave', id: 'n4', dead: false });
    h = excuse(excuse(h, 'n2'), 'n4');
    expect(trackedNodes(h)).toEqual(['n1', 'n3']);
    expect(excuse(h, 'n2'), 'excusing twice changes nothing').toBe(h);
    const other = excuse(change(settle(four()), { kind: 'leave', id: 'n4', dead: false }), 'n3');
    expect(merge(h, other).excused, 'excuses of one transition only grow').toEqual([
      'n2',
      'n3',
      'n4',
    ]);
    h = report(report(report(h, 'ack', 3), 'sync', 3), 'syncAck', 3);
    expect(numbers(h)).toEqual([3]);
    expect(h.excused).toEqual([]);
    expect(isMember(h, 'n2')).toBe(true);
    expect(isMember(h, 'n4')).toBe(false);
  });

  it('refuses to excuse outside a transition, or a node in none of its versions', () => {
    const settled = settle(four());
    expect(() => excuse(settled, 'n4')).toThrow(ConflictError);
    const moving = change(settled, { kind: 'leave', id: 'n4', dead: false });
    expect(() => excuse(moving, 'n9')).toThrow(InvalidArgumentError);
  });
});

describe('advance', () => {
  const h = change(initialHistory(nodes(1, 2, 3)), { kind: 'join', node: node(4) });

  it('raises one tracker of one node', () => {
    const a = advance(h, 'n2', 'sync', 2);
    expect(a.trackers.sync['n2']).toBe(2);
    expect(a.trackers.sync['n1']).toBe(1);
    expect(a.trackers.ack['n2']).toBe(1);
  });

  it.each<[string, string, number]>([
    ['a lower version', 'n2', 1],
    ['a version above the newest', 'n2', 3],
    ['a version below the oldest', 'n2', 0],
    ['a fractional version', 'n2', 1.5],
    ['NaN', 'n2', NaN],
    ['a node in no live version', 'n9', 2],
    ["a joiner's report of the version before it joined", 'n4', 1],
  ])('ignores %s and returns the same history', (_name, id, version) => {
    const raised = advance(h, 'n2', 'ack', 2);
    expect(advance(raised, id, 'ack', version)).toBe(raised);
  });

  it('never lowers a tracker', () => {
    const raised = advance(h, 'n2', 'ack', 2);
    expect(advance(raised, 'n2', 'ack', 1).trackers.ack['n2']).toBe(2);
  });
});

describe('minTracker and readVersion', () => {
  const h = change(initialHistory(nodes(1, 2, 3)), { kind: 'join', node: node(4) });

  it('counts a node without an entry as the oldest live version', () => {
    const all = report(h, 'sync', 2, ['n4']);
    expect(all.trackers.sync['n4']).toBeUndefined();
    expect(minTracker(all, 'sync')).toBe(1);
    expect(minTracker(advance(all, 'n4', 'sync', 2), 'sync')).toBe(2);
  });

  it('reads the oldest version until every tracked node has synced the newer', () => {
    expect(readVersion(report(h, 'sync', 2, ['n1']))).toEqual({
      version: 1,
      nodes: nodes(1, 2, 3),
    });
    expect(readVersion(report(h, 'sync', 2))).toEqual({ version: 2, nodes: nodes(1, 2, 3, 4) });
  });
});

describe('prune', () => {
  it('a third version ends the first: its proposer had already pruned it', () => {
    let h = change(initialHistory(nodes(1, 2, 3)), { kind: 'join', node: node(4) });
    h = applyDecided(h, { version: 3, nodes: nodes(1, 2, 3, 4, 5) }, []);
    expect(numbers(h)).toEqual([2, 3]);
  });

  it('forgets trackers and excuses of nodes in no live version, and reports below their first', () => {
    const raw: LayoutHistory = {
      versions: [
        { version: 4, nodes: nodes(1, 2, 3) },
        { version: 5, nodes: nodes(1, 2, 4) },
      ],
      trackers: {
        ack: { n1: 3, n2: 4, n3: 5, n4: 4, n9: 5 },
        sync: { n4: 5 },
        syncAck: {},
      },
      excused: ['n1', 'n3', 'n9'],
    };
    const h = prune(raw);
    expect({ ...h.trackers.ack }).toEqual({ n2: 4, n3: 5 });
    expect({ ...h.trackers.sync }).toEqual({ n4: 5 });
    // Of the excused ids, those of nodes in a live version (n9 is in none).
    expect(h.excused).toEqual(['n1', 'n3']);
    expect(sameHistory(prune(h), h)).toBe(true);
  });

  it('keeps the older version until every tracked node has syncAcked the newer', () => {
    const h = change(initialHistory(nodes(1, 2, 3)), { kind: 'join', node: node(4) });
    expect(numbers(prune(report(h, 'syncAck', 2, ['n4'])))).toEqual([1, 2]);
    expect(numbers(prune(report(h, 'syncAck', 2)))).toEqual([2]);
  });

  it('refuses versions that are not consecutive', () => {
    const h = initialHistory(nodes(1, 2, 3));
    const gap = { ...h, versions: [h.versions[0]!, { version: 3, nodes: nodes(1, 2, 3) }] };
    expect(() => prune(gap)).toThrow(/consecutive/);
  });
});

describe('proposeChange refusals', () => {
  const h = initialHistory(nodes(1, 2, 3));
  const join = (n: Partial<LayoutNode>) => ({ kind: 'join' as const, node: { ...node(5), ...n } });

  it.each<
    [
      string,
      LayoutHistory,
      Parameters<typeof proposeChange>[1],
      typeof ConflictError | typeof InvalidArgumentError,
      RegExp,
    ]
  >([
    [
      'any change while one is in progress',
      change(h, { kind: 'join', node: node(4) }),
      join({}),
      ConflictError,
      /^a layout change is in progress \(versions 1\.\.2\); wait until GET \/admin\/layout says settled$/,
    ],
    ['a join of a member id', h, join({ id: 'n2' }), ConflictError, /^n2 is already a member/],
    [
      'a join on a used HTTP address',
      h,
      join({ http: 'http://127.0.0.1:7002/' }),
      ConflictError,
      /^http:\/\/127\.0\.0\.1:7002 is already the HTTP address of n2$/,
    ],
    [
      'a join on a used peer address',
      h,
      join({ peer: '127.0.0.1:7103' }),
      ConflictError,
      /^127\.0\.0\.1:7103 is already the peer address of n3$/,
    ],
    [
      'a join with a bad id',
      h,
      join({ id: 'n/5' }),
      InvalidArgumentError,
      /^the joining node\.id must match/,
    ],
    [
      'a join with a bad http address',
      h,
      join({ http: 'ftp://x' }),
      InvalidArgumentError,
      /^the joining node\.http must be a URL/,
    ],
    [
      'a join with a bad peer address',
      h,
      join({ peer: 'nohost' }),
      InvalidArgumentError,
      /^the joining node\.peer must be host:port/,
    ],
    [
      'a leave of an unknown id',
      h,
      { kind: 'leave', id: 'n9', dead: false },
      InvalidArgumentError,
      /^"n9" is not a member of layout version 1; members are n1, n2, n3$/,
    ],
    [
      'a leave that would leave fewer than N',
      h,
      { kind: 'leave', id: 'n3', dead: true },
      ConflictError,
      /^leaving n3 would leave 2 nodes, fewer than N=3$/,
    ],
  ])('refuses %s', (_name, from, c, type, message) => {
    const e = thrown(() => proposeChange(from, c, 3));
    expect(e).toBeInstanceOf(type);
    expect((e as Error).message).toMatch(message);
  });

  it('refuses a join past the node limit', () => {
    const full = initialHistory(Array.from({ length: LIMITS.layoutNodesMax }, (_, i) => node(i)));
    const e = thrown(() =>
      proposeChange(full, join({ id: 'extra', http: 'http://h:1', peer: 'h:2' }), 3),
    );
    expect(e).toBeInstanceOf(ConflictError);
    expect((e as Error).message).toMatch(/already holds 256 nodes/);
  });

  it('maps refusals to 409 and 400', () => {
    expect(new ConflictError('x').status).toBe(409);
    expect(new InvalidArgumentError('x').status).toBe(400);
  });

  it('a join strips a trailing slash from the HTTP address', () => {
    const { next } = proposeChange(h, join({ http: 'http://127.0.0.1:7005//' }), 3);
    expect(next.nodes.find((m) => m.id === 'n5')?.http).toBe('http://127.0.0.1:7005');
  });
});

describe('applyDecided', () => {
  const h = initialHistory(nodes(1, 2, 3));
  const v2: LayoutVersion = { version: 2, nodes: nodes(1, 2, 3, 4) };

  it('is idempotent', () => {
    const once = applyDecided(h, v2, []);
    expect(applyDecided(once, { ...v2, nodes: [...v2.nodes] }, [])).toBe(once);
    const pruned = report(report(report(once, 'ack', 2), 'sync', 2), 'syncAck', 2);
    expect(numbers(pruned)).toEqual([2]);
    expect(applyDecided(pruned, h.versions[0]!, [])).toBe(pruned);
  });

  it('throws LayoutDivergedError when a known version has other nodes', () => {
    const once = applyDecided(h, v2, []);
    const e = thrown(() => applyDecided(once, { version: 2, nodes: nodes(1, 2, 3, 5) }, []));
    expect(e).toBeInstanceOf(LayoutDivergedError);
    expect((e as LayoutDivergedError).version).toBe(2);
    expect((e as Error).message).toMatch(/layout version 2 differs between two histories/);
  });

  it('refuses a gap, unsorted nodes and an excuse for a node the version keeps', () => {
    expect(() => applyDecided(h, { version: 3, nodes: nodes(1, 2, 3) }, [])).toThrow(
      /cannot follow 1/,
    );
    expect(() => applyDecided(h, { version: 2, nodes: nodes(2, 1, 3) }, [])).toThrow(/sorted/);
    expect(() => applyDecided(h, { version: 2, nodes: nodes(1, 2) }, ['n1'])).toThrow(/excuses n1/);
  });
});

describe('replicaSets and rings', () => {
  it('in a settled layout, reads and writes go to the ring of its nodes', () => {
    const h = initialHistory(nodes(1, 2, 3, 4, 5));
    for (const key of ['a', 'b', 'user:42']) {
      const pl = plList(['n1', 'n2', 'n3', 'n4', 'n5'], key);
      expect(replicaSets(h, key, 3)).toEqual({ read: pl, write: [pl] });
    }
  });

  it('builds one ring per node set, and keeps only a few', () => {
    const v = initialHistory(nodes(1, 2, 3)).versions[0]!;
    const ring = ringOf(v);
    expect(ringOf(v)).toBe(ring);
    expect(ringOf({ version: 7, nodes: [...v.nodes] })).toBe(ring);
    for (let i = 10; i < 30; i++) ringOf({ version: 1, nodes: nodes(1, 2, i) });
    expect(ringOf({ version: 1, nodes: [...v.nodes] })).not.toBe(ring);
  });
});

describe('merge', () => {
  const base = change(initialHistory(nodes(1, 2, 3)), { kind: 'join', node: node(4) });

  it('takes the max of every tracker per node', () => {
    const a = advance(advance(base, 'n1', 'ack', 2), 'n2', 'sync', 2);
    const b = advance(base, 'n2', 'ack', 2);
    const m = merge(a, b);
    expect(m.trackers.ack['n1']).toBe(2);
    expect(m.trackers.ack['n2']).toBe(2);
    expect(m.trackers.sync['n2']).toBe(2);
    expect(m.trackers.ack['n3']).toBe(1);
  });

  it('returns the first history itself when the second adds nothing', () => {
    const a = advance(base, 'n1', 'ack', 2);
    expect(merge(a, base)).toBe(a);
    expect(merge(base, a)).not.toBe(base);
  });

  it('never brings back a pruned version', () => {
    const settled = report(report(report(base, 'ack', 2), 'sync', 2), 'syncAck', 2);
    expect(merge(settled, base)).toBe(settled);
    expect(sameHistory(merge(base, settled), settled)).toBe(true);
  });

  it("drops an older transition's excuses for the newer history's", () => {
    // n4 dies and is excused at version 2, rejoins at 3, and leaves alive at 4: the old excuse
    // must not let the transition to 4 skip the data n4 now holds.
    const dead = change(initialHistory(nodes(1, 2, 3, 4)), { kind: 'leave', id: 'n4', dead: true });
    expect(dead.excused).toEqual(['n4']);
    let newer = applyDecided(dead, { version: 3, nodes: nodes(1, 2, 3, 4) }, []);
    newer = applyDecided(newer, { version: 4, nodes: nodes(1, 2, 3) }, []);
    const merged = merge(dead, newer);
    expect(numbers(merged)).toEqual([3, 4]);
    expect(nodeStates(merged).find((s) => s.id === 'n4')?.state).toBe('leaving');
    expect(merged.excused).toEqual([]);
    expect(trackedNodes(merged)).toContain('n4');
  });

  it('throws LayoutDivergedError on histories from different clusters', () => {
    const other = change(initialHistory(nodes(1, 2, 3)), { kind: 'join', node: node(5) });
    expect(() => merge(base, other)).toThrow(LayoutDivergedError);
  });

  // Histories over one agreed sequence of versions (a node may leave and rejoin), with random
  // trackers and excuses: any state the wire could bring, not only those a protocol run reaches.
  function universe(rng: () => number): LayoutVersion[] {
    return Array.from({ length: 6 }, (_, i) => {
      const members = [1, 2, 3, 4, 5, 6].filter(() => rng() < 0.6);
      while (members.length < 3)
        members.push([1, 2, 3, 4, 5, 6].find((x) => !members.includes(x))!);
      return { version: i + 1, nodes: nodes(...members.sort()) };
    });
  }
  function randomHistory(rng: () => number, u: LayoutVersion[]): LayoutHistory {
    const hi = 1 + Math.floor(rng() * u.length);
    const lo = hi > 1 && rng() < 0.7 ? hi - 1 : hi;
    const pick = () => 1 + Math.floor(rng() * 6);
    const trackers = { ack: {}, sync: {}, syncAck: {} } as Record<Tracker, Record<string, number>>;
    for (const t of ['ack', 'sync', 'syncAck'] as const) {
      for (let i = 0; i < 8; i++) {
        trackers[t][`n${pick()}`] = rng() < 0.6 ? hi : Math.max(1, hi - Math.floor(rng() * 3));
      }
    }
    const excused = [`n${pick()}`, `n${pick()}`];
    return prune({ versions: u.slice(lo - 1, hi), trackers, excused });
  }
  const wire = (h: LayoutHistory) => layoutToWire(h);

  it('is commutative, associative and idempotent on random histories', () => {
    let pruned = 0;
    let transitions = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const rng = seededRng(seed);
      const u = universe(rng);
      const [a, b, c] = [randomHistory(rng, u), randomHistory(rng, u), randomHistory(rng, u)];
      const ab = merge(a, b);
      expect(wire(ab), `seed ${seed}: commutative`).toStrictEqual(wire(merge(b, a)));
      expect(wire(merge(a, a)), `seed ${seed}: idempotent`).toStrictEqual(wire(a));
      expect(wire(merge(ab, c)), `seed ${seed}: associative`).toStrictEqual(
        wire(merge(a, merge(b, c))),
      );
      expect(wire(merge(ab, a)), `seed ${seed}: absorbs`).toStrictEqual(wire(ab));
      if (ab.versions.length < Math.max(a.versions.length, b.versions.length)) pruned++;
      if (ab.versions.length === 2) transitions++;
    }
    // The generator must reach the interesting cases, or the laws above prove little.
    expect(pruned).toBeGreaterThan(20);
    expect(transitions).toBeGreaterThan(20);
  });
});

describe('a seeded cluster run', () => {
  // Nodes gossip (merge a peer's history), report their trackers by the protocol's rules, and
  // now and then one that is settled and up to date proposes a join or a leave (alive or dead).
  // Throughout, no node may read a version that another has stopped writing to or not yet
  // started writing to; at the end every node holds the same settled history.
  function run(seed: number) {
    const rng = seededRng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
    const views = new Map<string, LayoutHistory>();
    for (const id of ['n1', 'n2', 'n3']) views.set(id, initialHistory(nodes(1, 2, 3)));
    const dead = new Set<string>();
    let decided = 1;
    let fresh = 4;
    const alive = () => [...views.keys()].filter((id) => !dead.has(id));
    const serving = () => alive().filter((id) => isMember(views.get(id)!, id));

    const step = (id: string, gossip: boolean) => {
      let h = views.get(id)!;
      if (gossip) {
        h = merge(h, views.get(pick(alive()))!);
      } else {
        const v = newestVersion(h).version;
        h = advance(h, id, 'ack', v);
        if (minTracker(h, 'ack') >= v) h = advance(h, id, 'sync', v);
        h = advance(h, id, 'syncAck', minTracker(h, 'sync'));
      }
      views.set(id, h);
    };

    const propose = () => {
      const proposer = pick(serving());
      const h = views.get(proposer)!;
      if (!isSettled(h) || newestVersion(h).version !== decided) return;
      const members = newestVersion(h)
        .nodes.map((m) => m.id)
        .filter((id) => id !== proposer);
      let c: Parameters<typeof proposeChange>[1];
      if (members.length + 1 <= 3 || rng() < 0.5) c = { kind: 'join', node: node(fresh++) };
      else c = { kind: 'leave', id: pick(members), dead: rng() < 0.5 };
      if (c.kind === 'leave' && c.dead) dead.add(c.id);
      const { next, excused } = proposeChange(h, c, 3);
      const after = applyDecided(h, next, excused);
      decided = next.version;
      views.set(proposer, after);
      if (c.kind === 'join') views.set(c.node.id, after);
    };

    const check = (when: string) => {
      for (const a of serving()) {
        const read = readVersion(views.get(a)!).version;
        for (const b of serving()) {
          const hb = views.get(b)!;
          const writes = `${oldestVersion(hb).version}..${newestVersion(hb).version}`;
          expect(
            read >= oldestVersion(hb).version && read <= newestVersion(hb).version,
            `seed ${seed}, ${when}: ${a} reads version ${read}, ${b} writes to ${writes}`,
          ).toBe(true);
        }
      }
    };

    for (let i = 0; i < 600; i++) {
      if (rng() < 0.04) propose();
      else step(pick(alive()), rng() < 0.5);
      check(`step ${i}`);
    }
    for (let round = 0; round < 20; round++) {
      for (const id of alive()) for (const _ of alive()) step(id, true);
      for (const id of alive()) step(id, false);
      check(`round ${round}`);
    }
    return { views: serving().map((id) => views.get(id)!), decided };
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: reads stay safe and every node settles', (seed) => {
    const { views, decided } = run(seed);
    expect(decided).toBeGreaterThan(3);
    for (const h of views) {
      expect(isSettled(h)).toBe(true);
      expect(newestVersion(h).version).toBe(decided);
      expect(sameHistory(h, views[0]!)).toBe(true);
    }
  });
});

describe('wire form', () => {
  const transition = () => {
    let h = change(initialHistory(nodes(1, 2, 3)), { kind: 'leave', id: 'n3', dead: true }, 2);
    h = advance(advance(h, 'n1', 'ack', 2), 'n2', 'sync', 2);
    return h;
  };

  it('is plain objects and arrays, byte for byte as pinned here', () => {
    const w = layoutToWire(transition());
    expect(JSON.stringify(w)).toBe(
      '{"versions":[' +
        '{"version":1,"nodes":[' +
        '{"id":"n1","http":"http://127.0.0.1:7001","peer":"127.0.0.1:7101"},' +
        '{"id":"n2","http":"http://127.0.0.1:7002","peer":"127.0.0.1:7102"},' +
        '{"id":"n3","http":"http://127.0.0.1:7003","peer":"127.0.0.1:7103"}]},' +
        '{"version":2,"nodes":[' +
        '{"id":"n1","http":"http://127.0.0.1:7001","peer":"127.0.0.1:7101"},' +
        '{"id":"n2","http":"http://127.0.0.1:7002","peer":"127.0.0.1:7102"}]}],' +
        '"trackers":{"ack":[["n1",2],["n2",1],["n3",1]],"sync":[["n1",1],["n2",2],["n3",1]],' +
        '"syncAck":[["n1",1],["n2",1],["n3",1]]},' +
        '"excused":["n3"]}',
    );
    expect(Object.getPrototypeOf(w.trackers)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(w))).toStrictEqual(w);
  });

  it('round-trips settled, transitional and random histories', () => {
    const settled = initialHistory(nodes(1, 2, 3));
    for (const h of [settled, transition()]) {
      const back = layoutFromWire(JSON.parse(JSON.stringify(layoutToWire(h))));
      expect(sameHistory(back, h)).toBe(true);
      expect(layoutToWire(back)).toStrictEqual(layoutToWire(h));
    }
  });

  const good = () => JSON.parse(JSON.stringify(layoutToWire(transition())));
  type W = ReturnType<typeof good>;
  const longId = 'x'.repeat(65);
  /** Sets the field at a dotted path of a good wire form (undefined: leaves it out). */
  const set = (path: string, value: unknown) => (w: W) => {
    const keys = path.split('.');
    const last = keys.pop() as string;
    const parent = keys.reduce<Record<string, unknown>>(
      (o, k) => o[k] as Record<string, unknown>,
      w,
    );
    parent[last] = value;
    return w;
  };
  const tooMany = Array.from({ length: LIMITS.layoutNodesMax + 1 }, (_, i) => node(i));
  const n1 = node(1);

  it.each<[string, (w: W) => unknown, RegExp]>([
    ['not an object', () => [], /^malformed layout: layout must be an object$/],
    ['an unknown field', set('extra', 1), /^malformed layout: layout has an unknown field "extra"/],
    ['versions not an array', set('versions', {}), /versions must be an array/],
    ['no versions', set('versions', []), /versions must hold at least one/],
    ['three versions', (w) => set('versions.2', w.versions[1])(w), /versions must be .* at most 2/],
    ['a fractional version', set('versions.0.version', 1.5), /versions\[0\]\.version must be a/],
    ['version 0', set('versions.0.version', 0), /versions\[0\]\.version must be a positive/],
    ['versions not consecutive', set('versions.1.version', 3), /versions must be consecutive/],
    ['a version without nodes', set('versions.1.nodes', []), /versions\[1\]\.nodes must name/],
    ['a version missing nodes', set('versions.1.nodes', undefined), /\[1\]\.nodes must be an/],
    ['too many nodes', set('versions.0.nodes', tooMany), /\[0\]\.nodes must be .* at most 256/],
    ['a node not an object', set('versions.0.nodes.1', 'n2'), /nodes\[1\] must be an object/],
    ['a node field unknown', set('versions.0.nodes.1.zone', 'a'), /nodes\[1\] has an unknown/],
    ['an empty id', set('versions.0.nodes.0.id', ''), /versions\[0\]\.nodes\[0\]\.id must match/],
    ['an id of 65 characters', set('versions.0.nodes.0.id', longId), /nodes\[0\]\.id must match/],
    ['an http that is no URL', set('versions.0.nodes.0.http', 'http://['), /\.http must be a URL/],
    ['an http ending in /', set('versions.0.nodes.0.http', `${n1.http}/`), /\.http must be a URL/],
    [
      'an http too long',
      set('versions.0.nodes.0.http', `http://${'a'.repeat(256)}`),
      /nodes\[0\]\.http must be a URL .* at most 256 characters/,
    ],
    ['a peer without a port', set('versions.0.nodes.2.peer', '127.0.0.1'), /\.peer must be host/],
    ['a peer port too high', set('versions.0.nodes.2.peer', 'h:70000'), /\.peer must be host:port/],
    ['a peer not a string', set('versions.0.nodes.2.peer', 7103), /\[2\]\.peer must be host:port/],
    [
      'nodes out of order',
      (w) => w.versions[0].nodes.reverse() && w,
      /versions\[0\]\.nodes must be sorted by id, each id once/,
    ],
    ['a node twice', set('versions.1.nodes.1', n1), /versions\[1\]\.nodes must be sorted by id/],
    [
      'a shared http address',
      set('versions.1.nodes.1.http', n1.http),
      /versions\[1\]\.nodes must not share a http address/,
    ],
    ['trackers not an object', set('trackers', []), /trackers must be an object/],
    ['a tracker missing', set('trackers.sync', undefined), /trackers\.sync must be an array/],
    ['an unknown tracker', set('trackers.read', []), /trackers has an unknown field "read"/],
    ['a tracker entry no pair', set('trackers.ack.0', ['n1']), /ack\[0\] must be an \[id, version/],
    ['a tracker id malformed', set('trackers.ack.0.0', 7), /trackers\.ack\[0\]\[0\] must match/],
    [
      'tracker entries out of order',
      (w) => w.trackers.sync.reverse() && w,
      /trackers\.sync must be sorted by id/,
    ],
    [
      'a tracker for a stranger',
      set('trackers.syncAck.3', ['n9', 1]),
      /trackers\.syncAck\[3\]\[0\] names n9, which is in no live version/,
    ],
    ['a tracker above the newest', set('trackers.ack.0.1', 3), /ack\[0\]\[1\] must be a version/],
    [
      'a tracker below the oldest',
      set('trackers.ack.0.1', 0),
      /ack\[0\]\[1\] must be a version from 1 to 2/,
    ],
    ['a fractional tracker', set('trackers.ack.0.1', 1.5), /trackers\.ack\[0\]\[1\] must be a/],
    ['excused not an array', set('excused', 'n3'), /excused must be an array/],
    [
      'an excused id in no live version',
      set('excused', ['n9']),
      /excused\[0\] names n9, which is in no version of a transition/,
    ],
    ['an excused id malformed', set('excused', ['n 3']), /excused\[0\] must match/],
    ['an excused id twice', set('excused', ['n3', 'n3']), /excused must be sorted, each id once/],
  ])('rejects %s, naming the field', (_name, spoil, message) => {
    const e = thrown(() => layoutFromWire(spoil(good())));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect((e as Error).message).toMatch(message);
  });

  it('accepts exactly the node ids cluster.json accepts', () => {
    const ids = ['n1', 'a_B-9', '', 'n 1', 'n.1', 'ü', 'x'.repeat(64), longId, '__proto__'];
    for (const id of ids) {
      const n = { ...node(1), id };
      const accepts = (f: () => unknown) => {
        try {
          f();
          return true;
        } catch {
          return false;
        }
      };
      const wire = {
        versions: [{ version: 1, nodes: [n] }],
        trackers: { ack: [], sync: [], syncAck: [] },
        excused: [],
      };
      expect(
        accepts(() => layoutFromWire(wire)),
        id,
      ).toBe(accepts(() => parseClusterConfig({ nodes: [n] })));
    }
  });
});

describe('helpers', () => {
  it('oldestVersion and newestVersion bracket the live versions', () => {
    const h = change(initialHistory(nodes(1, 2, 3)), { kind: 'join', node: node(4) });
    expect(oldestVersion(h).version).toBe(1);
    expect(newestVersion(h).version).toBe(2);
  });
});
