// Property and example tests for the two conflict algebras of src/core/conflicts.ts: dotted
// version vector sets (siblings mode) and last-write-wins (lww mode), plus the causal context
// codec of src/core/context.ts.
//
// Arbitrary VersionSets would break the DVV invariant (a clock entry (node, c) means every dot of
// that node up to c is held or was superseded), so siblings-mode states are generated as
// *executions*: a few replicas of one key, a random sequence of client writes (each carrying the
// clock of some earlier read as its context) and pairwise syncs. Alongside the implementation
// runs a reference model that tracks causal histories as explicit sets of write ids: a write
// supersedes exactly the writes its read had seen, and a replica holds the writes of its history
// that no write of its history superseded. Every seed is fixed, so failures replay.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { LWW, SIBLINGS, issueUpdate, single } from '../../src/core/conflicts.js';
import { encodeClockContext, encodeLwwContext, parseContext } from '../../src/core/context.js';
import { InvalidArgumentError, TooManySiblingsError } from '../../src/core/errors.js';
import { HLC_ZERO, compareHlc, type Hlc } from '../../src/core/hlc.js';
import {
  COUNTER_MAX,
  EMPTY_CLOCK,
  clockGet,
  clockJoin,
  clockWith,
  clocksEqual,
  compareDots,
  covers,
  isDeleted,
  newestSibling,
  updateDotted,
  type Dot,
  type VClock,
  type VersionSet,
} from '../../src/core/version-set.js';
import { seededRng } from '../support/rng.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A sibling cap no execution reaches. */
const NO_CAP = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Executions
// ---------------------------------------------------------------------------------------------

type State = VersionSet | undefined;

interface Write {
  readonly id: number;
  readonly dot: Dot;
  readonly value: string;
  readonly tombstone: boolean;
  readonly ts: Hlc;
  /** The context the write carried. */
  readonly context: VClock;
  /** Reference model: ids of the writes the context's read had seen (what this write replaces). */
  readonly saw: ReadonlySet<number>;
}

interface Snapshot {
  readonly states: readonly State[];
  /** Reference model: ids of the writes each replica has seen. */
  readonly hists: readonly ReadonlySet<number>[];
}

interface UpdateRecord {
  readonly at: number;
  readonly prev: State;
  readonly context: VClock;
  /** The replica states whose clocks make up the context (empty: no context). */
  readonly sources: readonly VersionSet[];
  readonly result: VersionSet;
  readonly write: Write;
}

interface SyncRecord {
  readonly prevTo: State;
  readonly from: State;
  readonly result: State;
}

interface Execution {
  readonly n: number;
  /** snapshots[0] is the empty start; snapshots[k] is the state after step k. */
  readonly snapshots: readonly Snapshot[];
  readonly writes: readonly Write[];
  readonly updates: readonly UpdateRecord[];
  readonly syncs: readonly SyncRecord[];
}

type CtxPlan =
  | { readonly kind: 'none' }
  /** The clock one replica held `back` steps ago (a read with r = 1). */
  | { readonly kind: 'read'; readonly back: number; readonly replica: number }
  /** The joined clock of the replicas in `mask`, `back` steps ago (a read with r > 1). */
  | { readonly kind: 'quorum'; readonly back: number; readonly mask: number };

type StepPlan =
  | {
      readonly kind: 'update';
      readonly at: number;
      readonly ctx: CtxPlan;
      readonly tombstone: boolean;
    }
  | { readonly kind: 'sync'; readonly to: number; readonly from: number };

interface Plan {
  readonly replicas: number;
  readonly steps: readonly StepPlan[];
}

const replicaId = (i: number) => `n${i + 1}`;

/** How many steps ago a read happened: mostly fresh, sometimes stale. */
const backArb = fc.oneof(fc.constant(0), fc.nat({ max: 3 }), fc.nat({ max: 12 }));

const ctxArb: fc.Arbitrary<CtxPlan> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      back: backArb,
      replica: fc.nat({ max: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('quorum' as const),
      back: backArb,
      mask: fc.integer({ min: 1, max: 15 }),
    }),
  },
);

const stepArb: fc.Arbitrary<StepPlan> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('update' as const),
      at: fc.nat({ max: 3 }),
      ctx: ctxArb,
      tombstone: fc.nat({ max: 7 }).map((x) => x === 0),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('sync' as const),
      to: fc.nat({ max: 3 }),
      from: fc.nat({ max: 3 }),
    }),
  },
);

const planArb: fc.Arbitrary<Plan> = fc.record({
  replicas: fc.integer({ min: 2, max: 4 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 40 }),
});

function union(...sets: readonly ReadonlySet<number>[]): Set<number> {
  const out = new Set<number>();
  for (const s of sets) for (const x of s) out.add(x);
  return out;
}

function mergeAll(states: readonly State[]): State {
  let acc: State;
  for (const s of states) if (s !== undefined) acc = SIBLINGS.merge(acc, s);
  return acc;
}

function resolveContext(
  plan: CtxPlan,
  snapshots: readonly Snapshot[],
  n: number,
): { context: VClock; sources: VersionSet[]; saw: ReadonlySet<number> } {
  if (plan.kind === 'none') return { context: EMPTY_CLOCK, sources: [], saw: new Set() };
  const snap = snapshots[Math.max(0, snapshots.length - 1 - plan.back)] as Snapshot;
  const picked =
    plan.kind === 'read'
      ? [plan.replica % n]
      : [...Array(n).keys()].filter((r) => (plan.mask >> r) & 1);
  if (picked.length === 0) picked.push(0);
  const sources = picked.map((r) => snap.states[r]).filter((s) => s !== undefined);
  const merged = mergeAll(sources);
  return {
    context: merged?.clock ?? EMPTY_CLOCK,
    sources,
    saw: union(...picked.map((r) => snap.hists[r] as ReadonlySet<number>)),
  };
}

function newDotOf(set: VersionSet, ts: Hlc): Dot {
  const mine = set.siblings.filter((s) => compareHlc(s.ts, ts) === 0);
  if (mine.length !== 1 || mine[0]!.dot === null)
    throw new Error(`the new write is not exactly one dotted sibling of ${show(set)}`);
  return mine[0]!.dot;
}

function execute(plan: Plan): Execution {
  const n = plan.replicas;
  const states: State[] = Array.from({ length: n }, () => undefined);
  const hists: ReadonlySet<number>[] = Array.from({ length: n }, () => new Set<number>());
  const snapshots: Snapshot[] = [{ states: [...states], hists: [...hists] }];
  const writes: Write[] = [];
  const updates: UpdateRecord[] = [];
  const syncs: SyncRecord[] = [];
  plan.steps.forEach((step, k) => {
    if (step.kind === 'sync') {
      const to = step.to % n;
      const from = step.from % n === to ? (to + 1) % n : step.from % n;
      const prevTo = states[to];
      const src = states[from];
      if (src !== undefined) states[to] = SIBLINGS.merge(prevTo, src);
      hists[to] = union(hists[to]!, hists[from]!);
      syncs.push({ prevTo, from: src, result: states[to] });
    } else {
      const at = step.at % n;
      const issuer = replicaId(at);
      const { context, sources, saw } = resolveContext(step.ctx, snapshots, n);
      const ts: Hlc = { wallMs: k + 1, logical: 0, node: issuer };
      const id = writes.length;
      const value = step.tombstone ? '' : `w${id}`;
      const prev = states[at];
      const result = issueUpdate(
        prev,
        {
          context,
          content: { value: enc(value), contentType: 'text/plain', tombstone: step.tombstone },
        },
        issuer,
        ts,
        NO_CAP,
      );
      const write: Write = {
        id,
        dot: newDotOf(result, ts),
        value,
        tombstone: step.tombstone,
        ts,
        context,
        saw,
      };
      writes.push(write);
      states[at] = result;
      hists[at] = union(hists[at]!, saw, new Set([id]));
      updates.push({ at, prev, context, sources, result, write });
    }
    snapshots.push({ states: [...states], hists: [...hists] });
  });
  return { n, snapshots, writes, updates, syncs };
}

/** Syncs every ordered pair of replicas, in an order drawn from `seed`, until all are equal. */
function converge(start: readonly State[], seed: number): State[] {
  const rng = seededRng(seed);
  const s = [...start];
  const pairs: [number, number][] = [];
  for (let i = 0; i < s.length; i++)
    for (let j = 0; j < s.length; j++) if (i !== j) pairs.push([i, j]);
  for (let round = 0; round < 16; round++) {
    if (s.every((x) => SIBLINGS.equals(x, s[0]))) return s;
    for (let i = pairs.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [pairs[i], pairs[j]] = [pairs[j]!, pairs[i]!];
    }
    for (const [i, j] of pairs) {
      const src = s[j];
      if (src !== undefined) s[i] = SIBLINGS.merge(s[i], src);
    }
  }
  throw new Error(`replicas did not converge: ${s.map(show).join(' / ')}`);
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

const dotKey = (d: Dot) => `${d.node}:${d.counter}`;

function show(set: State): string {
  if (set === undefined) return 'undefined';
  const clock = set.clock.map(([n, c]) => `${n}:${c}`).join(',');
  const sibs = set.siblings
    .map((s) => `${s.dot === null ? '-' : dotKey(s.dot)}=${s.tombstone ? '†' : dec(s.value)}`)
    .join(' ');
  return `{[${clock}] ${sibs}}`;
}

function dotsOf(set: State): string[] {
  return (set?.siblings ?? []).map((s) => dotKey(s.dot as Dot));
}

/** The siblings as a set of dot=value strings (independent of order). */
function contentOf(set: State): string[] {
  return (set?.siblings ?? [])
    .map((s) => `${s.dot === null ? '-' : dotKey(s.dot)}=${s.tombstone}:${dec(s.value)}`)
    .sort();
}

function holdsDot(set: State, dot: Dot): boolean {
  return (set?.siblings ?? []).some((s) => s.dot !== null && compareDots(s.dot, dot) === 0);
}

function expectSameState(a: State, b: State, what: string): void {
  expect(SIBLINGS.equals(a, b), `${what}: ${show(a)} vs ${show(b)}`).toBe(true);
  expect(a?.clock, what).toEqual(b?.clock);
  expect(contentOf(a), what).toEqual(contentOf(b));
}

function expectWellFormedClock(clock: VClock): void {
  for (let i = 0; i < clock.length; i++) {
    const [node, counter] = clock[i]!;
    expect(Number.isInteger(counter) && counter >= 1 && counter <= COUNTER_MAX).toBe(true);
    if (i > 0) expect(clock[i - 1]![0] < node, `clock not sorted: ${String(clock)}`).toBe(true);
  }
}

function expectWellFormed(set: State): void {
  if (set === undefined) return;
  expectWellFormedClock(set.clock);
  set.siblings.forEach((s, i) => {
    expect(s.dot, 'siblings-mode siblings carry a dot').not.toBeNull();
    expect(covers(set.clock, s.dot as Dot), `clock covers its own sibling in ${show(set)}`).toBe(
      true,
    );
    if (i > 0) expect(compareDots(set.siblings[i - 1]!.dot as Dot, s.dot as Dot)).toBeLessThan(0);
  });
}

/** Every state an execution passed through (replica states and merged read results). */
function reachable(ex: Execution): VersionSet[] {
  const out: VersionSet[] = [];
  for (const snap of ex.snapshots) for (const s of snap.states) if (s !== undefined) out.push(s);
  for (const u of ex.updates) if (u.sources.length > 1) out.push(mergeAll(u.sources)!);
  return out;
}

const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length] as T;

// ---------------------------------------------------------------------------------------------
// Siblings mode
// ---------------------------------------------------------------------------------------------

describe('DVV sets: executions match the causal-history reference model', () => {
  it('every replica holds exactly the writes of its history that nothing in it superseded', () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        const ex = execute(plan);
        // Dots are unique: a dot names exactly one write.
        expect(new Set(ex.writes.map((w) => dotKey(w.dot))).size).toBe(ex.writes.length);
        // A context covers a dot exactly when the read it came from had seen that write.
        for (const u of ex.updates)
          for (const w of ex.writes.slice(0, u.write.id))
            expect(
              covers(u.context, w.dot),
              `context ${String(u.context)} vs ${dotKey(w.dot)}`,
            ).toBe(u.write.saw.has(w.id));
        for (const snap of ex.snapshots) {
          snap.states.forEach((state, r) => {
            const hist = [...snap.hists[r]!].map((id) => ex.writes[id]!);
            const superseded = union(...hist.map((w) => w.saw));
            const live = hist.filter((w) => !superseded.has(w.id));
            if (hist.length === 0) {
              expect(state).toBeUndefined();
              return;
            }
            expectWellFormed(state);
            const expected = live.map((w) => `${dotKey(w.dot)}=${w.tombstone}:${w.value}`).sort();
            expect(contentOf(state), show(state)).toEqual(expected);
            // The clock summarises the history exactly: per node, its highest dot.
            const max = new Map<string, number>();
            for (const w of hist)
              max.set(w.dot.node, Math.max(max.get(w.dot.node) ?? 0, w.dot.counter));
            expect(state!.clock).toEqual([...max.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
            for (const s of state!.siblings) {
              const w = ex.writes.find((x) => dotKey(x.dot) === dotKey(s.dot as Dot))!;
              expect(s.ts).toEqual(w.ts);
              expect(s.contentType).toBe(w.tombstone ? '' : 'text/plain');
            }
            expect(isDeleted(state)).toBe(live.every((w) => w.tombstone));
          });
        }
      }),
      { seed: 101, numRuns: 300 },
    );
  });
});

describe('DVV sets: merge is a join on reachable states', () => {
  it('is commutative, associative and idempotent, and keeps states well formed', () => {
    fc.assert(
      fc.property(
        planArb,
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { minLength: 1, maxLength: 12 }),
        (plan, picks) => {
          const states = reachable(execute(plan));
          if (states.length === 0) return;
          for (const [i, j, k] of picks) {
            const a = pick(states, i);
            const b = pick(states, j);
            const c = pick(states, k);
            const ab = SIBLINGS.merge(a, b);
            expectWellFormed(ab);
            expectSameState(ab, SIBLINGS.merge(b, a), 'commutative');
            expectSameState(
              SIBLINGS.merge(ab, c),
              SIBLINGS.merge(a, SIBLINGS.merge(b, c)),
              'associative',
            );
            expectSameState(SIBLINGS.merge(a, a), a, 'idempotent');
            // equals: same clock and same dots.
            expect(SIBLINGS.equals(a, b)).toBe(
              clocksEqual(a.clock, b.clock) && dotsOf(a).join() === dotsOf(b).join(),
            );
            expectSameState(SIBLINGS.merge(ab, b), ab, 'absorbs a side');
            expect(SIBLINGS.merge(undefined, a)).toBe(a);
            expect(clocksEqual(ab.clock, clockJoin(a.clock, b.clock))).toBe(true);
          }
        },
      ),
      { seed: 202, numRuns: 300 },
    );
  });

  it('dominates agrees with merge and with its causal meaning', () => {
    fc.assert(
      fc.property(
        planArb,
        fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 16 }),
        (plan, picks) => {
          const ex = execute(plan);
          const states = reachable(ex);
          if (states.length === 0) return;
          for (const [i, j] of picks) {
            const a = pick(states, i);
            const b = pick(states, j);
            const d = SIBLINGS.dominates(a, b);
            expect(d).toBe(SIBLINGS.equals(SIBLINGS.merge(a, b), a));
            // Independently: b has seen nothing a has not, and supersedes none of a's siblings.
            const clockLe = b.clock.every(([node, c]) => clockGet(a.clock, node) >= c);
            const keepsA = a.siblings.every(
              (s) => holdsDot(b, s.dot as Dot) || !covers(b.clock, s.dot as Dot),
            );
            expect(d, `${show(a)} dominates ${show(b)}`).toBe(clockLe && keepsA);
            const ab = SIBLINGS.merge(a, b);
            expect(SIBLINGS.dominates(ab, a) && SIBLINGS.dominates(ab, b)).toBe(true);
            expect(SIBLINGS.dominates(a, a)).toBe(true);
          }
          // A replica that synced from another dominates both states it merged.
          for (const s of ex.syncs) {
            if (s.from === undefined || s.result === undefined) continue;
            expect(SIBLINGS.dominates(s.result, s.from)).toBe(true);
            if (s.prevTo !== undefined) expect(SIBLINGS.dominates(s.result, s.prevTo)).toBe(true);
          }
        },
      ),
      { seed: 203, numRuns: 300 },
    );
  });

  // In one execution the siblings determine the history (every superseded write was seen by a
  // live one), so the clock half of equals/dominates needs hand-built sets to be observed.
  it('equals and dominates compare causal history, not only siblings', () => {
    const y = { ts: HLC_ZERO, tombstone: false, contentType: 'text/plain', value: enc('y') };
    const a: VersionSet = {
      clock: [['n1', 2]],
      siblings: [{ ...y, dot: { node: 'n1', counter: 2 } }],
    };
    const b: VersionSet = {
      ...a,
      clock: [
        ['n1', 2],
        ['n2', 1],
      ],
    };
    expect(SIBLINGS.equals(a, b)).toBe(false);
    expect(SIBLINGS.equals(a, { ...a, clock: [['n1', 2]] })).toBe(true);
    expect(SIBLINGS.dominates(b, a)).toBe(true);
    expect(SIBLINGS.dominates(a, b)).toBe(false);
    expectSameState(SIBLINGS.merge(a, b), b, 'the merge keeps the larger history');
  });
});

describe('DVV sets: a context supersedes exactly what it saw', () => {
  it('an update keeps the new write plus the local siblings its context does not cover', () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        const ex = execute(plan);
        for (const u of ex.updates) {
          const issuer = replicaId(u.at);
          const local = u.prev?.clock ?? EMPTY_CLOCK;
          const counter = Math.max(clockGet(local, issuer), clockGet(u.context, issuer)) + 1;
          expect(u.write.dot).toEqual({ node: issuer, counter });
          const kept = (u.prev?.siblings ?? []).filter((s) => !covers(u.context, s.dot as Dot));
          const expected = [...kept.map((s) => dotKey(s.dot as Dot)), dotKey(u.write.dot)].sort();
          expect([...dotsOf(u.result)].sort(), `${show(u.prev)} + ${String(u.context)}`).toEqual(
            expected,
          );
          // Kept siblings are unchanged (same value).
          for (const s of kept)
            expect(contentOf(u.result)).toContain(
              `${dotKey(s.dot as Dot)}=${s.tombstone}:${dec(s.value)}`,
            );
          // Everything the read saw is superseded.
          for (const src of u.sources)
            for (const s of src.siblings)
              expect(holdsDot(u.result, s.dot as Dot), `${dotKey(s.dot as Dot)} survived`).toBe(
                false,
              );
          // Nothing the read had not seen is dropped.
          for (const s of u.prev?.siblings ?? [])
            if (
              !u.sources.some((src) => holdsDot(src, s.dot as Dot)) &&
              !covers(u.context, s.dot as Dot)
            )
              expect(holdsDot(u.result, s.dot as Dot)).toBe(true);
          expect(
            clocksEqual(u.result.clock, clockWith(clockJoin(local, u.context), issuer, counter)),
          ).toBe(true);
          expectWellFormed(u.result);
        }
      }),
      { seed: 303, numRuns: 300 },
    );
  });

  it('a stale context replaces only the siblings its read saw', () => {
    const content = (v: string) => ({ value: enc(v), contentType: 'text/plain', tombstone: false });
    const ts = (wallMs: number): Hlc => ({ wallMs, logical: 0, node: 'n1' });
    const a = issueUpdate(
      undefined,
      { context: EMPTY_CLOCK, content: content('a') },
      'n1',
      ts(1),
      9,
    );
    const b = issueUpdate(a, { context: EMPTY_CLOCK, content: content('b') }, 'n1', ts(2), 9);
    expect(contentOf(b)).toEqual(['n1:1=false:a', 'n1:2=false:b']);
    // A client that read only `a` writes c: b stays, a goes.
    const c = issueUpdate(b, { context: a.clock, content: content('c') }, 'n1', ts(3), 9);
    expect(contentOf(c)).toEqual(['n1:2=false:b', 'n1:3=false:c']);
    expect(c.clock).toEqual([['n1', 3]]);
    // A context read elsewhere (n2 saw its own write) supersedes it there too.
    const d = issueUpdate(
      undefined,
      { context: EMPTY_CLOCK, content: content('d') },
      'n2',
      ts(4),
      9,
    );
    const e = issueUpdate(c, { context: d.clock, content: content('e') }, 'n1', ts(5), 9);
    expect(contentOf(e)).toEqual(['n1:2=false:b', 'n1:3=false:c', 'n1:4=false:e']);
    expect(contentOf(SIBLINGS.merge(d, e))).toEqual(contentOf(e));
    expect(newestSibling(e)?.value).toEqual(enc('e'));
  });
});

describe('DVV sets: concurrent writes are all kept', () => {
  it('two writes with the same context both survive a sync', () => {
    fc.assert(
      fc.property(
        planArb,
        fc.nat(),
        fc.nat(),
        fc.nat(),
        fc.nat(),
        fc.integer(),
        (plan, back, ctxReplica, i0, j0, seed) => {
          const ex = execute(plan);
          const n = ex.n;
          const snap = ex.snapshots[Math.max(0, ex.snapshots.length - 1 - (back % 8))]!;
          const context = snap.states[ctxReplica % n]?.clock ?? EMPTY_CLOCK;
          const states = [...ex.snapshots[ex.snapshots.length - 1]!.states];
          const i = i0 % n;
          const j = j0 % n;
          const step = ex.snapshots.length + 1;
          const write = (at: number, v: string, wallMs: number): Dot => {
            const ts = { wallMs, logical: 0, node: replicaId(at) };
            const next = issueUpdate(
              states[at],
              { context, content: { value: enc(v), contentType: 'text/plain', tombstone: false } },
              replicaId(at),
              ts,
              NO_CAP,
            );
            states[at] = next;
            return newDotOf(next, ts);
          };
          const x = write(i, 'x', step);
          const y = write(j, 'y', step + 1);
          states[i] = SIBLINGS.merge(states[i], states[j]!);
          states[j] = SIBLINGS.merge(states[j], states[i]!);
          for (const s of [states[i], states[j]]) {
            expect(holdsDot(s, x), `x ${dotKey(x)} in ${show(s)}`).toBe(true);
            expect(holdsDot(s, y), `y ${dotKey(y)} in ${show(s)}`).toBe(true);
          }
          // And no other replica's state supersedes them either.
          const final = converge(states, seed)[0];
          expect(holdsDot(final, x) && holdsDot(final, y), show(final)).toBe(true);
        },
      ),
      { seed: 404, numRuns: 300 },
    );
  });

  it('blind writes at one replica and at two replicas become siblings', () => {
    const put = (local: State, issuer: string, v: string, wallMs: number, context = EMPTY_CLOCK) =>
      issueUpdate(
        local,
        { context, content: { value: enc(v), contentType: 'text/plain', tombstone: false } },
        issuer,
        { wallMs, logical: 0, node: issuer },
        NO_CAP,
      );
    const one = put(put(undefined, 'n1', 'a', 1), 'n1', 'b', 2);
    expect(contentOf(one)).toEqual(['n1:1=false:a', 'n1:2=false:b']);
    const base = put(undefined, 'n1', 'base', 1);
    const left = put(base, 'n1', 'l', 2, base.clock);
    const right = put(undefined, 'n2', 'r', 3, base.clock);
    const merged = SIBLINGS.merge(left, right);
    expect(contentOf(merged)).toEqual(['n1:2=false:l', 'n2:1=false:r']);
    expect(merged.clock).toEqual([
      ['n1', 2],
      ['n2', 1],
    ]);
    // Resolving with the merged read's context leaves one value.
    const resolved = put(merged, 'n2', 'lr', 4, merged.clock);
    expect(contentOf(resolved)).toEqual(['n2:2=false:lr']);
    expect(contentOf(SIBLINGS.merge(left, resolved))).toEqual(['n2:2=false:lr']);
  });
});

describe('DVV sets: no lost writes, convergence', () => {
  it('after full sync every write is present or superseded by a later write that saw it', () => {
    fc.assert(
      fc.property(planArb, fc.integer(), fc.integer(), (plan, seedA, seedB) => {
        const ex = execute(plan);
        const last = ex.snapshots[ex.snapshots.length - 1]!.states;
        const a = converge(last, seedA);
        const b = converge(last, seedB);
        for (const s of [...a, ...b]) expectSameState(s, a[0], 'converged');
        expectSameState(a[0], b[0], 'sync order does not matter');
        expectSameState(a[0], mergeAll(last), 'converges to the join of all replicas');
        const final = a[0];
        expectWellFormed(final);
        if (ex.writes.length === 0) expect(final).toBeUndefined();
        for (const w1 of ex.writes) {
          const by = ex.writes.filter((w2) => w2 !== w1 && covers(w2.context, w1.dot));
          for (const w2 of by) expect(w2.id).toBeGreaterThan(w1.id);
          const present = holdsDot(final, w1.dot);
          expect(present, `write ${w1.id} ${dotKey(w1.dot)} in ${show(final)}`).toBe(
            by.length === 0,
          );
          if (present)
            expect(contentOf(final)).toContain(`${dotKey(w1.dot)}=${w1.tombstone}:${w1.value}`);
        }
      }),
      { seed: 505, numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The sibling cap
// ---------------------------------------------------------------------------------------------

describe('issueUpdate: the sibling cap', () => {
  it('refuses a write that supersedes nothing once the key holds siblingsMax siblings', () => {
    fc.assert(
      fc.property(
        planArb,
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 8 }),
        (plan, caps) => {
          const ex = execute(plan);
          ex.updates.forEach((u, k) => {
            const cap = pick(caps, k);
            const before = u.prev?.siblings.length ?? 0;
            const supersedesSome = (u.prev?.siblings ?? []).some((s) =>
              covers(u.context, s.dot as Dot),
            );
            const refused = !supersedesSome && before >= cap;
            const req = {
              context: u.context,
              content: {
                value: enc(u.write.value),
                contentType: 'text/plain',
                tombstone: u.write.tombstone,
              },
            };
            let out: VersionSet | undefined;
            let err: unknown;
            try {
              out = issueUpdate(u.prev, req, replicaId(u.at), u.write.ts, cap);
            } catch (e) {
              err = e;
            }
            expect(err !== undefined, `cap ${cap}, ${show(u.prev)} + ${String(u.context)}`).toBe(
              refused,
            );
            if (refused) {
              expect(err).toBeInstanceOf(TooManySiblingsError);
              expect((err as TooManySiblingsError).siblings).toBe(before);
              expect((err as TooManySiblingsError).limit).toBe(cap);
            } else {
              expectSameState(out, u.result, 'the cap changes nothing it lets through');
              expect(out!.siblings.length).toBeLessThanOrEqual(Math.max(before, cap));
            }
          });
        },
      ),
      { seed: 606, numRuns: 300 },
    );
  });

  it('a resolving write always succeeds and leaves exactly one sibling', () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        const ex = execute(plan);
        const wallMs = ex.snapshots.length + 1;
        for (const snap of ex.snapshots) {
          const everything = mergeAll(snap.states);
          snap.states.forEach((local, r) => {
            const issuer = replicaId(r);
            const ts = { wallMs, logical: 0, node: issuer };
            const content = { value: enc('resolved'), contentType: 'text/plain', tombstone: false };
            for (const seen of [local, everything]) {
              if (seen === undefined) continue;
              const out = issueUpdate(local, { context: seen.clock, content }, issuer, ts, 1);
              expect(out.siblings.length, show(out)).toBe(1);
              expect(dec(out.siblings[0]!.value)).toBe('resolved');
              for (const [node, c] of seen.clock)
                expect(clockGet(out.clock, node)).toBeGreaterThanOrEqual(c);
            }
          });
        }
      }),
      { seed: 607, numRuns: 200 },
    );
  });

  it('examples: blind writes stop at the cap, replacing ones do not', () => {
    const content = (v: string, tombstone = false) => ({
      value: enc(v),
      contentType: 'text/plain',
      tombstone,
    });
    const ts = (wallMs: number): Hlc => ({ wallMs, logical: 0, node: 'n1' });
    const a = issueUpdate(
      undefined,
      { context: EMPTY_CLOCK, content: content('a') },
      'n1',
      ts(1),
      2,
    );
    const ab = issueUpdate(a, { context: EMPTY_CLOCK, content: content('b') }, 'n1', ts(2), 2);
    expect(ab.siblings).toHaveLength(2);
    expect(() =>
      issueUpdate(ab, { context: EMPTY_CLOCK, content: content('c') }, 'n1', ts(3), 2),
    ).toThrow(TooManySiblingsError);
    // A stale context that replaces one sibling keeps the count at the cap: allowed.
    const bc = issueUpdate(ab, { context: a.clock, content: content('c') }, 'n1', ts(3), 2);
    expect(contentOf(bc)).toEqual(['n1:2=false:b', 'n1:3=false:c']);
    // A resolving delete leaves one tombstone, with no value and no content type.
    const del = issueUpdate(bc, { context: bc.clock, content: content('x', true) }, 'n1', ts(4), 2);
    expect(del.siblings).toHaveLength(1);
    expect(del.siblings[0]).toMatchObject({ tombstone: true, contentType: '' });
    expect(del.siblings[0]!.value).toHaveLength(0);
    expect(isDeleted(del)).toBe(true);
    // Merges may take a key past the cap; a resolving write still goes through.
    const n2 = issueUpdate(
      undefined,
      { context: EMPTY_CLOCK, content: content('d') },
      'n2',
      ts(5),
      2,
    );
    const three = SIBLINGS.merge(ab, n2);
    expect(three.siblings).toHaveLength(3);
    expect(() =>
      issueUpdate(three, { context: EMPTY_CLOCK, content: content('e') }, 'n1', ts(6), 2),
    ).toThrow(TooManySiblingsError);
    const one = issueUpdate(three, { context: three.clock, content: content('e') }, 'n1', ts(6), 2);
    expect(contentOf(one)).toEqual(['n1:3=false:e']);
  });
});

// ---------------------------------------------------------------------------------------------
// Last write wins
// ---------------------------------------------------------------------------------------------

describe('LWW', () => {
  const hlcArb = fc.record({
    wallMs: fc.nat({ max: 4 }),
    logical: fc.nat({ max: 2 }),
    node: fc.constantFrom('n1', 'n2', 'n3'),
  });
  // One timestamp names one write, so the value (and whether it is a delete) derive from it.
  const lwwArb = hlcArb.map((ts) => {
    const tombstone =
      (ts.wallMs + ts.logical + ts.node.length + Number(ts.node.slice(1))) % 4 === 0;
    return single({
      ts,
      tombstone,
      contentType: tombstone ? '' : 'text/plain',
      value: enc(tombstone ? '' : `${ts.wallMs}.${ts.logical}.${ts.node}`),
    });
  });
  const tsOf = (s: VersionSet) => s.siblings[0]!.ts;
  const same = (a: VersionSet, b: VersionSet) => {
    expect(LWW.equals(a, b)).toBe(true);
    expect(contentOf(a)).toEqual(contentOf(b));
  };

  it('merge is a join that picks the highest HLC', () => {
    fc.assert(
      fc.property(lwwArb, lwwArb, lwwArb, (a, b, c) => {
        const ab = LWW.merge(a, b);
        same(ab, LWW.merge(b, a));
        same(LWW.merge(ab, c), LWW.merge(a, LWW.merge(b, c)));
        same(LWW.merge(a, a), a);
        same(LWW.merge(undefined, a), a);
        const top = [a, b].reduce((x, y) => (compareHlc(tsOf(y), tsOf(x)) > 0 ? y : x));
        expect(tsOf(ab)).toEqual(top.siblings[0]!.ts);
        same(ab, top);
        expect(ab.siblings).toHaveLength(1);
        expect(ab.clock).toEqual([]);
        expect(ab.siblings[0]!.dot).toBeNull();
      }),
      { seed: 707, numRuns: 500 },
    );
  });

  it('dominates agrees with merge and with the HLC order', () => {
    fc.assert(
      fc.property(lwwArb, lwwArb, (a, b) => {
        const d = LWW.dominates(a, b);
        expect(d).toBe(LWW.equals(LWW.merge(a, b), a));
        expect(d).toBe(compareHlc(tsOf(a), tsOf(b)) >= 0);
        expect(LWW.equals(a, b)).toBe(compareHlc(tsOf(a), tsOf(b)) === 0);
        expect(LWW.dominates(LWW.merge(a, b), b)).toBe(true);
      }),
      { seed: 708, numRuns: 500 },
    );
    const x = single({ ts: HLC_ZERO, tombstone: false, contentType: '', value: enc('') });
    expect(LWW.equals(undefined, undefined)).toBe(true);
    expect(LWW.equals(undefined, x)).toBe(false);
    expect(SIBLINGS.equals(undefined, undefined)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Clocks
// ---------------------------------------------------------------------------------------------

const byNode = (x: readonly [string, number], y: readonly [string, number]) =>
  x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0;
const nodeArb = fc.constantFrom('a', 'b', 'c', 'n1', 'n10', 'n2', 'Z', '_x');
const clockArb: fc.Arbitrary<VClock> = fc
  .uniqueArray(
    fc.tuple(
      nodeArb,
      fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constantFrom(COUNTER_MAX - 1, COUNTER_MAX)),
    ),
    {
      selector: ([n]) => n,
      maxLength: 6,
    },
  )
  .map((entries) => [...entries].sort(byNode));

describe('clocks', () => {
  it('clockJoin is the pointwise maximum', () => {
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
        const j = clockJoin(a, b);
        expectWellFormedClock(j);
        const nodes = new Set([...a.map(([n]) => n), ...b.map(([n]) => n)]);
        expect(j.map(([n]) => n).sort()).toEqual([...nodes].sort());
        for (const node of ['a', 'b', 'c', 'n1', 'n10', 'n2', 'Z', '_x', 'absent'])
          expect(clockGet(j, node)).toBe(Math.max(clockGet(a, node), clockGet(b, node)));
        expect(clocksEqual(j, clockJoin(b, a))).toBe(true);
        expect(clocksEqual(clockJoin(j, c), clockJoin(a, clockJoin(b, c)))).toBe(true);
        expect(clocksEqual(clockJoin(a, a), a)).toBe(true);
        expect(clocksEqual(clockJoin(a, EMPTY_CLOCK), a)).toBe(true);
      }),
      { seed: 808, numRuns: 500 },
    );
  });

  it('updateDotted counts past both the local clock and the context', () => {
    fc.assert(
      fc.property(clockArb, clockArb, nodeArb, fc.boolean(), (localClock, context, issuer, has) => {
        const local: State = has ? { clock: localClock, siblings: [] } : undefined;
        const base = local?.clock ?? EMPTY_CLOCK;
        const counter = Math.max(clockGet(base, issuer), clockGet(context, issuer)) + 1;
        const version = { ts: HLC_ZERO, tombstone: false, contentType: '', value: enc('v') };
        if (counter > COUNTER_MAX) {
          expect(() => updateDotted(local, context, issuer, version)).toThrow(RangeError);
          return;
        }
        const out = updateDotted(local, context, issuer, version);
        expect(out.siblings.map((s) => s.dot)).toEqual([{ node: issuer, counter }]);
        expect(clocksEqual(out.clock, clockWith(clockJoin(base, context), issuer, counter))).toBe(
          true,
        );
        expect(clockGet(out.clock, issuer)).toBe(counter);
        expectWellFormedClock(out.clock);
      }),
      { seed: 809, numRuns: 500 },
    );
    // A replica that lost its data still does not reuse a dot a client has seen.
    const v = { ts: HLC_ZERO, tombstone: false, contentType: '', value: enc('v') };
    expect(updateDotted(undefined, [['n1', 7]], 'n1', v).siblings[0]!.dot).toEqual({
      node: 'n1',
      counter: 8,
    });
    expect(updateDotted(undefined, [['n1', COUNTER_MAX - 1]], 'n1', v).siblings[0]!.dot).toEqual({
      node: 'n1',
      counter: COUNTER_MAX,
    });
    expect(() => updateDotted(undefined, [['n1', COUNTER_MAX]], 'n1', v)).toThrow(RangeError);
    expect(covers([['n1', 3]], { node: 'n1', counter: 3 })).toBe(true);
    expect(covers([['n1', 3]], { node: 'n1', counter: 4 })).toBe(false);
    expect(covers(EMPTY_CLOCK, { node: 'n1', counter: 1 })).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Contexts
// ---------------------------------------------------------------------------------------------

describe('causal contexts', () => {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
  const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
  const idArb = fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 1, maxLength: 64 });
  // Clocks as a key's replicas make them: at most N (nMax) entries, any valid node id.
  const realClockArb: fc.Arbitrary<VClock> = fc
    .uniqueArray(fc.tuple(idArb, fc.integer({ min: 1, max: COUNTER_MAX })), {
      selector: ([n]) => n,
      maxLength: LIMITS.nMax,
    })
    .map((entries) => [...entries].sort(byNode));

  it('clock contexts round-trip', () => {
    fc.assert(
      fc.property(realClockArb, (clock) => {
        const s = encodeClockContext(clock);
        expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(s.length).toBeLessThanOrEqual(LIMITS.contextCharsMax);
        expect(parseContext(s)).toEqual({ kind: 'clock', clock });
      }),
      { seed: 909, numRuns: 500 },
    );
    expect(parseContext(encodeClockContext(EMPTY_CLOCK))).toEqual({ kind: 'clock', clock: [] });
  });

  it('lww contexts round-trip', () => {
    fc.assert(
      fc.property(
        fc.record({
          // The ranges every stored timestamp has: u48 wall, u32 logical.
          wallMs: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
          logical: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          node: fc.oneof(idArb, fc.constant('')),
        }),
        (ts) => {
          expect(parseContext(encodeLwwContext(ts))).toEqual({ kind: 'lww', ts });
        },
      ),
      { seed: 910, numRuns: 500 },
    );
    expect(parseContext(encodeLwwContext(undefined))).toEqual({ kind: 'lww', ts: HLC_ZERO });
  });

  it('refuses malformed contexts', () => {
    const bad = (s: string) => expect(() => parseContext(s), s).toThrow(InvalidArgumentError);
    // Wrong or missing version prefix.
    for (const text of ['3|n1.1', '0|1|2|n1', '|n1.1', 'n1.1', '2', '1|5|0', '1|5|0|n1|x', '2n1.1'])
      bad(b64(text));
    // lww fields that are not non-negative integers.
    for (const text of [
      '1|-1|0|n1',
      '1|1.5|0|n1',
      '1|x|0|n1',
      '1|0|-2|n1',
      '1|9007199254740992|0|n1',
    ])
      bad(b64(text));
    // Unsorted entries, duplicate nodes.
    bad(b64('2|n2.1,n1.1'));
    bad(b64('2|b.3,a.1'));
    bad(b64('2|n1.1,n1.2'));
    bad(b64('2|n1.2,n1.2'));
    // Zero, signed, padded or non-decimal counters.
    for (const c of ['0', '00', '01', '-1', '+1', '1.0', '1e3', '0x10', ' 1', ''])
      bad(b64(`2|n1.${c}`));
    // Bad node ids and separators.
    for (const body of [
      '.1',
      'n 1.1',
      'n1',
      'n1.1,',
      ',n1.1',
      'n1.1,,n2.1',
      'n.1.1',
      `${'x'.repeat(65)}.1`,
    ])
      bad(b64(`2|${body}`));
    // Counters above 2^48 - 1.
    bad(b64(`2|n1.${COUNTER_MAX + 1}`));
    bad(b64(`2|n1.${2 ** 53}`));
    bad(b64('2|n1.1000000000000000'));
    expect(parseContext(b64(`2|n1.${COUNTER_MAX}`))).toEqual({
      kind: 'clock',
      clock: [['n1', COUNTER_MAX]],
    });
    // Characters outside base64url, padding, empty.
    const good = encodeClockContext([['n1', 3]]);
    for (const s of ['', `${good}=`, `${good}+`, `${good}/`, `${good} `, `!${good}`, 'Mnw.'])
      bad(s);
    expect(parseContext(good)).toEqual({ kind: 'clock', clock: [['n1', 3]] });
  });

  it('refuses contexts longer than contextCharsMax, and accepts one exactly that long', () => {
    const max = LIMITS.contextCharsMax;
    // Text of 3k bytes encodes to exactly 4k base64url characters.
    const textBytes = (max / 4) * 3;
    const entries: [string, number][] = [];
    let len = 2; // "2|"
    for (let i = 0; ; i++) {
      const room = textBytes - len - (i === 0 ? 0 : 1) - 2; // separator, ".1"
      const id = `k${String(i).padStart(3, '0')}`.padEnd(room <= 64 ? room : 50, 'x');
      entries.push([id, 1]);
      len += (i === 0 ? 0 : 1) + id.length + 2;
      if (room <= 64) break;
    }
    const exact = encodeClockContext(entries);
    expect(exact).toHaveLength(max);
    expect(parseContext(exact)).toEqual({ kind: 'clock', clock: entries });
    const longer = encodeClockContext([...entries, ['zzz', 1]]);
    expect(longer.length).toBeGreaterThan(max);
    expect(() => parseContext(longer)).toThrow(InvalidArgumentError);
    expect(() => parseContext('A'.repeat(max + 1))).toThrow(InvalidArgumentError);
  });
});

describe('lww contexts are parsed strictly', () => {
  it('refuses empty, signed, spaced, exponent and hex fields, and bad node ids', () => {
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
    for (const text of [
      '1|||',
      '1| 1e3 |0|n1',
      '1|1000|0x10|n1',
      '1|01|0|n1',
      '1|1|0|n 1',
      `1|1000|${2 ** 32}|n1`,
      `1|${2 ** 48}|0|n1`,
    ])
      expect(() => parseContext(b64(text)), text).toThrow(InvalidArgumentError);
    expect(parseContext(b64('1|0|0|'))).toEqual({ kind: 'lww', ts: HLC_ZERO });
  });
});
