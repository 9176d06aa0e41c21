// The pure parts of `kvorum verify`: the set, loss and stale-read checkers on hand-written
// records, the register history handed to the linearizability checker, the nemesis planner,
// the verdict, and how answers become outcomes. No processes: these run in milliseconds.

import { describe, expect, it } from 'vitest';
import { parseDurationMs, parseNemesis } from '../../src/cli/verify-command.js';
import { UsageError } from '../../src/cli/flags.js';
import {
  copyFingerprint,
  divergentKeys,
  liveValues,
  type LocalCopy,
} from '../../src/verify/final-state.js';
import { checkLostUpdates, checkSiblingsLoss } from '../../src/verify/loss-check.js';
import { deadRemovals, excuseLostWithNode } from '../../src/verify/lost-with-node.js';
import type { NemesisPlan } from '../../src/verify/nemesis-plan.js';
import {
  blocksOf,
  describeFault,
  linkFaultsOf,
  NEMESIS_KINDS,
  planNemesis,
} from '../../src/verify/nemesis-plan.js';
import { writeOutcome } from '../../src/verify/node-api.js';
import { checkRegisters, registerOps } from '../../src/verify/register-check.js';
import { HistoryRecorder, summarize, type OpRecord } from '../../src/verify/records.js';
import { SeededRng } from '../../src/verify/rng.js';
import { checkSet } from '../../src/verify/set-check.js';
import { countStaleReads } from '../../src/verify/stale-reads.js';
import { judge } from '../../src/verify/verdict.js';
import { hotKeyIndex } from '../../src/verify/workload.js';

let nextId = 0;
/** `w k 5 ok 0 10`, `r k [5,6] ok 12 14`, `a s1 7 fail 0 1`; a write may end with `ctx=5,6`. */
function op(line: string): OpRecord {
  const [f, key, val, outcome, invokeAt, completeAt, extra] = line.split(' ');
  const kind = f === 'w' ? 'write' : f === 'r' ? 'read' : 'add';
  const base = {
    id: nextId++,
    client: 0,
    node: 'n1',
    key: key!,
    f: kind,
    outcome: outcome as OpRecord['outcome'],
    status:
      outcome === 'ok' ? (kind === 'read' ? '200' : '204') : outcome === 'fail' ? '503' : '504',
    invokeAt: Number(invokeAt),
    completeAt: Number(completeAt),
  } as const;
  if (kind === 'read') {
    const values = val === '-' ? undefined : (JSON.parse(val!) as number[]).map(String);
    return { ...base, values };
  }
  const contextValues = extra?.startsWith('ctx=')
    ? extra.slice(4).split(',').filter(Boolean)
    : undefined;
  return { ...base, value: val, contextValues };
}
const ops = (...lines: string[]) => lines.map(op);
const presentIn =
  (state: Record<string, string[]>) =>
  (key: string): ReadonlySet<string> =>
    new Set(state[key] ?? []);

describe('set checker', () => {
  it('counts acknowledged, lost, recovered and unexpected elements', () => {
    const records = ops(
      'a s1 1 ok 0 1',
      'a s2 2 ok 0 1',
      'a s3 3 info 0 9',
      'a s4 4 info 0 9',
      'a s5 5 fail 0 1',
      'a s6 6 fail 0 1',
    );
    const result = checkSet(records, presentIn({ s1: ['1'], s3: ['3'], s5: ['5'], s6: ['x'] }));
    expect(result).toMatchObject({ attempted: 6, acknowledged: 2, failed: 2, indeterminate: 2 });
    expect(result.lost.map((a) => a.value)).toEqual(['2']);
    expect(result.recovered).toBe(1);
    expect(result.unexpected.map((a) => `${a.value}: ${a.why}`)).toEqual([
      '5: answered 503, yet present',
      'x: never written',
    ]);
  });
});

describe('lost writes on siblings registers', () => {
  it('an acknowledged value may vanish only when a write with a context that saw it was issued', () => {
    const records = ops(
      'w k 1 ok 0 1',
      'w k 2 ok 2 3',
      'r k [1,2] ok 4 5',
      'w k 3 info 6 20 ctx=1',
      'w k 4 fail 7 8 ctx=2',
      'w k 5 ok 9 10',
    );
    // 1 superseded by 3 (info counts: it may have happened); 2's superseder failed: lost.
    const result = checkSiblingsLoss(records, presentIn({ k: ['3', '5'] }));
    expect(result.acknowledged).toBe(3);
    expect(result.surviving).toBe(1);
    expect(result.superseded).toBe(1);
    expect(result.lost.map((l) => l.value)).toEqual(['2']);
  });

  it('a definitely failed write that shows up is unexpected', () => {
    const result = checkSiblingsLoss(ops('w k 1 fail 0 1'), presentIn({ k: ['1'] }));
    expect(result.unexpected).toEqual([{ key: 'k', value: '1', why: 'answered 503, yet present' }]);
  });
});

describe('lost updates on lww registers', () => {
  it('counts acknowledged writes that began after the survivor was acknowledged', () => {
    const records = ops('w k 1 ok 0 1', 'w k 2 ok 2 3', 'w k 3 ok 2.5 4', 'w k 4 ok 5 6');
    // 2 survived: 1 ended before it (overwritten), 3 overlapped it (concurrent), 4 came later.
    const result = checkLostUpdates(records, presentIn({ k: ['2'] }));
    expect(result.surviving).toBe(1);
    expect(result.superseded).toBe(2);
    expect(result.lost.map((l) => l.value)).toEqual(['4']);
  });

  it('an indeterminate survivor orders nothing', () => {
    const result = checkLostUpdates(ops('w k 1 info 0 1', 'w k 2 ok 5 6'), presentIn({ k: ['1'] }));
    expect(result.lost).toEqual([]);
  });

  it('a key whose replicas still disagree is undecided, not judged', () => {
    const result = checkLostUpdates(
      ops('w k 1 ok 0 1', 'w k 2 ok 5 6'),
      presentIn({ k: ['1', '2'] }),
    );
    expect(result.undecided).toEqual(['k']);
    expect(result.lost).toEqual([]);
  });

  it('nothing left at all loses every acknowledged write', () => {
    const result = checkLostUpdates(ops('w k 1 ok 0 1'), presentIn({}));
    expect(result.lost).toHaveLength(1);
  });
});

describe('writes lost with a removed node', () => {
  const plan = {
    faults: [
      { lane: 'process', startMs: 0, endMs: 1, fault: { kind: 'kill', node: 'n2' } },
      {
        lane: 'process',
        startMs: 0,
        endMs: 1,
        fault: { kind: 'membership', action: 'remove-dead', node: 'n3', via: 'n1' },
      },
      {
        lane: 'process',
        startMs: 0,
        endMs: 1,
        fault: { kind: 'membership', action: 'remove-dead', node: 'n2', via: 'n1' },
      },
    ],
  } as unknown as NemesisPlan;
  const events = [0, 1, 2].map((index) => ({
    index,
    atMs: 100 * (index + 1),
    phase: 'start' as const,
    description: '',
    problems: [],
  }));

  it('counts only remove-dead faults whose node is no member at the end', () => {
    // n2's removal failed (it is a member again); a kill alone removes nobody.
    expect(deadRemovals(plan, events, ['n1', 'n2'])).toEqual([{ node: 'n3', atMs: 200 }]);
  });

  it('excuses an absent write acknowledged through the removed node before its removal, only', () => {
    const records = ops('w k 1 ok 0 150', 'w k 2 ok 0 150', 'a s1 3 ok 0 250').map((r, i) =>
      i === 1 ? r : { ...r, node: 'n3' },
    );
    const lost = [
      { key: 'k', value: '1' }, // through n3, acknowledged at 150, n3 removed by 200: excused
      { key: 'k', value: '2' }, // through n1: still lost
      { key: 's1', value: '3' }, // through n3 but acknowledged after 200: still lost
    ];
    const split = excuseLostWithNode(lost, records, [{ node: 'n3', atMs: 200 }]);
    expect(split.lost).toEqual([lost[1], lost[2]]);
    expect(split.excused.map((e) => [e.key, e.value, e.node])).toEqual([['k', '1', 'n3']]);
    expect(excuseLostWithNode(lost, records, []).lost).toEqual(lost);
  });
});

describe('stale reads', () => {
  it('lww: a read that began after a write ended must return it or a value not older', () => {
    const records = ops(
      'w k 1 ok 0 1',
      'w k 2 ok 2 3',
      'r k [1] ok 4 5', // stale: 1 ended before 2 began
      'r k [2] ok 4 5',
      'r k [] ok 6 7', // stale: nothing, after two writes
      'w k 3 info 8 99',
      'r k [3] ok 9 10', // fine: 3 may be newer than anything
      'r k [1] ok 0.5 0.9', // began before any write ended: not counted
    );
    const result = countStaleReads(records, 'lww');
    expect(result).toMatchObject({ eligible: 4, stale: 2 });
  });

  it('siblings: a value is reflected by itself or by any value whose write saw it', () => {
    const records = ops(
      'w k 1 ok 0 1',
      'w k 2 ok 2 3 ctx=1',
      'w k 3 ok 4 5 ctx=2',
      'r k [3] ok 6 7', // reflects 1 through 3 -> 2 -> 1
      'w k 4 ok 8 9',
      'r k [3] ok 10 11', // misses 4, a concurrent sibling
      'r k [3,4] ok 12 13',
    );
    const result = countStaleReads(records, 'siblings');
    expect(result).toMatchObject({ eligible: 3, stale: 1 });
    expect(result.examples[0]!.missed.value).toBe('4');
  });
});

describe('register history for the linearizability checker', () => {
  it('drops indeterminate writes no read returned, keeps those a read saw', () => {
    const records = ops('w k 1 info 0 9', 'w k 2 info 0 9', 'r k [2] ok 10 11', 'a s1 3 ok 0 1');
    const { ops: checked, dropped } = registerOps(records);
    expect(dropped).toBe(1);
    expect(checked.map((o) => `${o.f} ${String(o.value)}`)).toEqual(['write 2', 'read 2']);
    expect(checked[0]!.completeAt).toBe(Infinity);
  });

  it('finds a new-old inversion: a read sees a value, a later read an older one', () => {
    const records = ops('w k 1 ok 0 1', 'w k 2 info 2 50', 'r k [2] ok 3 4', 'r k [1] ok 5 6');
    expect(checkRegisters(records, 1_000).result.linearizable).toBe(false);
  });

  it('accepts the same reads in the other order', () => {
    const records = ops('w k 1 ok 0 1', 'w k 2 info 2 50', 'r k [1] ok 3 4', 'r k [2] ok 5 6');
    expect(checkRegisters(records, 1_000).result.linearizable).toBe(true);
  });
});

describe('nemesis plan', () => {
  const nodes = ['n1', 'n2', 'n3'];

  it('is the same for the same seed and differs for another', () => {
    const a = planNemesis({ seed: 7, durationMs: 30_000, kinds: NEMESIS_KINDS, nodes });
    const b = planNemesis({ seed: 7, durationMs: 30_000, kinds: NEMESIS_KINDS, nodes });
    const c = planNemesis({ seed: 8, durationMs: 30_000, kinds: NEMESIS_KINDS, nodes });
    expect(a).toEqual(b);
    expect(a.faults.map((f) => describeFault(f.fault))).not.toEqual(
      c.faults.map((f) => describeFault(f.fault)),
    );
  });

  it('keeps each lane to one fault at a time, within the duration', () => {
    for (let seed = 0; seed < 50; seed++) {
      const plan = planNemesis({ seed, durationMs: 20_000, kinds: NEMESIS_KINDS, nodes });
      for (const lane of ['link', 'process'] as const) {
        const faults = plan.faults.filter((f) => f.lane === lane);
        for (let i = 1; i < faults.length; i++) {
          expect(faults[i]!.startMs).toBeGreaterThanOrEqual(faults[i - 1]!.endMs);
        }
      }
      for (const f of plan.faults) {
        expect(f.endMs).toBeLessThanOrEqual(20_000);
        expect(f.endMs).toBeGreaterThan(f.startMs);
      }
    }
  });

  it('only plans the kinds asked for', () => {
    const plan = planNemesis({ seed: 3, durationMs: 60_000, kinds: ['partition'], nodes });
    expect(plan.faults.length).toBeGreaterThan(5);
    expect(new Set(plan.faults.map((f) => f.fault.kind))).toEqual(new Set(['partition']));
    expect(planNemesis({ seed: 3, durationMs: 60_000, kinds: [], nodes }).faults).toEqual([]);
  });

  it('blocks both ends of every link between groups, and none inside a group', () => {
    expect(blocksOf(nodes, [['n1', 'n2'], ['n3']])).toEqual({
      n1: ['n3'],
      n2: ['n3'],
      n3: ['n1', 'n2'],
    });
    // A bridge: n2 talks to both sides, n1 and n3 do not talk.
    expect(
      blocksOf(nodes, [
        ['n1', 'n2'],
        ['n2', 'n3'],
      ]),
    ).toEqual({ n1: ['n3'], n2: [], n3: ['n1'] });
  });

  it('gives a delay fault to its node only, and every partition shape a readable line', () => {
    const plan = planNemesis({
      seed: 11,
      durationMs: 120_000,
      kinds: ['delay', 'partition'],
      nodes,
    });
    const delay = plan.faults.find((f) => f.fault.kind === 'delay')!.fault;
    if (delay.kind !== 'delay') throw new Error('unreachable');
    const other = nodes.find((n) => n !== delay.node)!;
    expect(linkFaultsOf(delay, other)).toEqual({ block: [], delay: {}, drop: {} });
    expect(linkFaultsOf(delay, delay.node)).toMatchObject({ delay: delay.delay, drop: delay.drop });
    const shapes = new Set(
      plan.faults
        .filter((f) => f.fault.kind === 'partition')
        .map((f) => describeFault(f.fault).split(' ')[1]),
    );
    expect(shapes).toEqual(new Set(['(halves)', '(isolated)', '(bridge)']));
  });
});

describe('seeded choices', () => {
  it('a forked stream depends only on the seed and its label', () => {
    const a = new SeededRng(5).fork('client-1');
    const b = new SeededRng(5).fork('client-1');
    const c = new SeededRng(5).fork('client-2');
    const draw = (r: SeededRng) => Array.from({ length: 5 }, () => r.next());
    const [x, y, z] = [draw(a), draw(b), draw(c)];
    expect(x).toEqual(y);
    expect(x).not.toEqual(z);
  });

  it('hot keys: the first key is the most likely and every key is reachable', () => {
    const counts = [0, 0, 0, 0];
    const rng = new SeededRng(1);
    for (let i = 0; i < 10_000; i++) counts[hotKeyIndex(rng.next(), 4)]! += 1;
    expect(counts[0]).toBeGreaterThan(counts[1]!);
    expect(counts[1]).toBeGreaterThan(counts[3]!);
    expect(Math.min(...counts)).toBeGreaterThan(0);
  });
});

describe('final state', () => {
  const copy = (node: string, values: string[], tombstone = false): LocalCopy => ({
    key: 'k',
    node,
    siblings: values.map((v, i) => ({
      dot: `n1.${i + 1}`,
      ts: `1.${i}.n1`,
      tombstone,
      contentType: 'text/plain',
      value: Buffer.from(v).toString('base64'),
    })),
  });

  it('compares the versions replicas hold, in any order', () => {
    const a = copy('n1', ['x', 'y']);
    const b = {
      ...copy('n2', ['x', 'y']),
      siblings: [...copy('n2', ['x', 'y']).siblings].reverse(),
    };
    expect(copyFingerprint(a)).toBe(copyFingerprint(b));
    const snapshot = new Map([
      [
        'k',
        new Map([
          ['n1', a],
          ['n2', b],
        ]),
      ],
      [
        'j',
        new Map([
          ['n1', a],
          ['n2', null],
        ]),
      ],
    ]);
    expect(divergentKeys(snapshot)).toEqual(['j']);
    expect(liveValues(copy('n1', ['gone'], true))).toEqual([]);
  });
});

describe('verdict', () => {
  const clean = {
    set: checkSet([], () => new Set()),
    loss: checkLostUpdates([], () => new Set()),
    convergence: { converged: true, elapsedMs: 100, divergent: [] },
  };
  const linearizable = checkRegisters([], 1_000);
  const broken = checkRegisters(ops('w k 1 ok 0 1', 'r k [2] ok 2 3'), 1_000);

  it('cp fails on a linearizability violation; quorum only reports it', () => {
    expect(judge({ ...clean, profile: 'cp', conflicts: 'lww', registers: linearizable }).pass).toBe(
      true,
    );
    expect(judge({ ...clean, profile: 'cp', conflicts: 'lww', registers: broken }).pass).toBe(
      false,
    );
    const quorum = judge({ ...clean, profile: 'quorum', conflicts: 'lww', registers: broken });
    expect(quorum.pass).toBe(true);
    expect(quorum.findings.find((f) => f.text === 'NOT linearizable')).toMatchObject({
      promised: false,
      held: false,
    });
  });

  it('siblings and lww-quorum fail when the replicas do not converge; cp does not promise it', () => {
    const diverged = { converged: false, elapsedMs: 30_000, divergent: ['k'] };
    expect(
      judge({ ...clean, profile: 'ap', conflicts: 'siblings', convergence: diverged }).pass,
    ).toBe(false);
    expect(judge({ ...clean, profile: 'ap', conflicts: 'lww', convergence: diverged }).pass).toBe(
      false,
    );
    expect(
      judge({
        ...clean,
        profile: 'cp',
        conflicts: 'lww',
        registers: linearizable,
        convergence: diverged,
      }).pass,
    ).toBe(true);
  });

  it('every profile fails when a definitely failed write shows up', () => {
    const set = checkSet(ops('a s1 1 fail 0 1'), presentIn({ s1: ['1'] }));
    expect(judge({ ...clean, set, profile: 'ap', conflicts: 'lww' }).pass).toBe(false);
  });
});

describe('outcomes', () => {
  it.each([
    [204, '', 'ok'],
    [503, '{"error":"unavailable"}', 'fail'],
    [400, '{"error":"invalid_argument"}', 'fail'],
    [409, '{"error":"too_many_siblings"}', 'fail'],
    [504, '{"error":"timeout","indeterminate":true}', 'info'],
    // A linearizable write whose read phase timed out sent nothing.
    [504, '{"error":"timeout"}', 'fail'],
    [500, '{"error":"internal"}', 'info'],
  ] as const)('a write answered %i %s is %s', (status, body, outcome) => {
    expect(writeOutcome(status, body)).toBe(outcome);
  });

  it('an operation still open at the end is indeterminate', () => {
    const recorder = new HistoryRecorder();
    const a = recorder.invoke({
      client: 0,
      node: 'n1',
      key: 'k',
      f: 'write',
      value: '1',
      invokeAt: 0,
    });
    recorder.invoke({ client: 1, node: 'n1', key: 'k', f: 'read', invokeAt: 1 });
    recorder.complete(a, { outcome: 'ok', status: '204', completeAt: 2 });
    const records = recorder.records(9);
    expect(records.map((r) => `${r.f} ${r.outcome}`)).toEqual(['write ok', 'read info']);
    expect(summarize(records).all).toEqual({ total: 2, ok: 1, fail: 0, info: 1 });
  });
});

describe('verify command line', () => {
  it.each([
    ['30s', 30_000],
    ['2m', 120_000],
    ['1500ms', 1_500],
    ['1.5s', 1_500],
    ['45', 45_000],
  ])('reads the duration %s', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', 'soon', '10x', '0s', '500ms', '2h'])('refuses the duration %j', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  it('reads fault lists and refuses unknown faults', () => {
    expect(parseNemesis('partition,kill,partition')).toEqual(['partition', 'kill']);
    expect(parseNemesis('none')).toEqual([]);
    expect(() => parseNemesis('partition,flood')).toThrow(UsageError);
  });
});
