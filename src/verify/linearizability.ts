// Decides whether a history of register operations is linearizable, per key, and explains the
// smallest failing prefix when it is not. Pure: time comes in through `now`, only for the budget.

import { InvalidArgumentError } from '../core/errors.js';
import { describeOp, sameValue, showValue, valueKey, type Op } from './history.js';

export const REGISTER_MODELS = Object.freeze({
  register: 'register',
  casRegister: 'cas-register',
} as const);
export type RegisterModel = (typeof REGISTER_MODELS)[keyof typeof REGISTER_MODELS];

export interface CheckOptions {
  /** Default `cas-register`, which also accepts plain read/write histories. */
  model?: RegisterModel;
  /** Give up with `'unknown'` after this long; unlimited when absent. */
  budgetMs?: number;
  /** The clock for the budget; defaults to `performance.now`. */
  now?: () => number;
}

/** Why a key's history is not linearizable, reduced to its smallest failing prefix. */
export interface Violation {
  /**
   * The history up to just before this operation completes is linearizable; up to and
   * including its completion it is not: no order of what came before lets it take effect.
   */
  readonly op: Op;
  /** Operations placed by the longest partial linearization that got as far as `op`. */
  readonly linearizedCount: number;
  /** The end of that linearization, oldest first (at most LINEARIZED_TAIL_MAX). */
  readonly linearizedTail: readonly Op[];
  /** Every value the register could hold while `op` was waiting to take effect. */
  readonly possibleValues: readonly unknown[];
  /**
   * Checked operations that store the value `op` needed (the read's value, the cas's `from`),
   * at most SOURCES_MAX; empty when none did (nil needs none: it is the initial value).
   */
  readonly sources: readonly Op[];
  /** Other operations overlapping `op` in time, definite ones first (at most CONCURRENT_MAX). */
  readonly concurrent: readonly Op[];
}

interface ResultBase {
  readonly key: string;
  /** Operations that could matter: `fail` operations and `info` reads are left out. */
  readonly opCount: number;
  /** Search steps taken, a machine-independent measure of effort. */
  readonly steps: number;
}
export type RegisterResult =
  | (ResultBase & { readonly linearizable: true })
  | (ResultBase & { readonly linearizable: false; readonly violation: Violation })
  | (ResultBase & { readonly linearizable: 'unknown'; readonly budgetMs: number });

export interface HistoryResult {
  readonly linearizable: boolean | 'unknown';
  /** One result per key, in the order keys first appear. */
  readonly keys: readonly RegisterResult[];
}

export const LINEARIZED_TAIL_MAX = 4;
export const CONCURRENT_MAX = 6;
export const SOURCES_MAX = 4;
/** How many search steps pass between two looks at the clock. */
const BUDGET_CHECK_STEPS = 1024;
const NIL = 0;
const READ = 0;
const WRITE = 1;
const CAS = 2;
const NONE = -1;

/** Checks one key's operations against a (cas-)register that starts as nil. */
export function checkRegister(ops: readonly Op[], opts: CheckOptions = {}): RegisterResult {
  const keys = new Set(ops.map((op) => op.key));
  if (keys.size > 1) {
    throw new InvalidArgumentError(
      `checkRegister checks one key, got ${keys.size}; use checkHistory to split them`,
    );
  }
  const key = ops[0]?.key ?? '';
  return searchRegister(key, ops, opts.model ?? 'cas-register', deadlineOf(opts));
}

/**
 * Checks every key on its own. Linearizability is local (Herlihy & Wing 1990): a history is
 * linearizable iff each object's sub-history is, which Horn & Kroening (2015) generalise as
 * P-compositionality. Splitting turns one exponential search into several much smaller ones.
 */
export function checkHistory(ops: readonly Op[], opts: CheckOptions = {}): HistoryResult {
  const byKey = new Map<string, Op[]>();
  for (const op of ops) {
    const list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, [op]);
    else list.push(op);
  }
  const deadline = deadlineOf(opts);
  const model = opts.model ?? 'cas-register';
  const keys = [...byKey].map(([key, list]) => searchRegister(key, list, model, deadline));
  const linearizable = keys.some((r) => r.linearizable === false)
    ? false
    : keys.some((r) => r.linearizable === 'unknown')
      ? 'unknown'
      : true;
  return { linearizable, keys };
}

interface Deadline {
  readonly atMs: number;
  readonly budgetMs: number;
  readonly now: () => number;
}

function deadlineOf(opts: CheckOptions): Deadline | undefined {
  if (opts.budgetMs === undefined) return undefined;
  const now = opts.now ?? (() => performance.now());
  return { atMs: now() + opts.budgetMs, budgetMs: opts.budgetMs, now };
}

/** The operations of one key as flat arrays, with register values interned as small integers. */
interface Prepared {
  readonly ops: Op[];
  readonly kind: Uint8Array;
  readonly arg: Int32Array;
  readonly casTo: Int32Array;
  readonly values: unknown[];
}

function prepare(ops: readonly Op[], model: RegisterModel): Prepared {
  // A failed operation did not take effect, and a read whose result is unknown constrains
  // nothing (reads never change the register), so neither can make a history non-linearizable.
  const kept = ops.filter(
    (op) => op.outcome !== 'fail' && !(op.f === 'read' && op.outcome === 'info'),
  );
  const ids = new Map<string, number>([['nil', NIL]]);
  const values: unknown[] = [null];
  const intern = (value: unknown): number => {
    const k = valueKey(value);
    let id = ids.get(k);
    if (id === undefined) {
      id = values.length;
      ids.set(k, id);
      values.push(value);
    }
    return id;
  };
  const kind = new Uint8Array(kept.length);
  const arg = new Int32Array(kept.length);
  const casTo = new Int32Array(kept.length);
  kept.forEach((op, i) => {
    const open = op.outcome === 'info';
    if (!Number.isFinite(op.invokeAt) || !(open || Number.isFinite(op.completeAt))) {
      throw new InvalidArgumentError(`${describeOp(op)}: times must be finite numbers`);
    }
    if (!open && op.completeAt < op.invokeAt) {
      throw new InvalidArgumentError(`${describeOp(op)}: completes before it was invoked`);
    }
    if (op.f === 'cas') {
      if (model === 'register') {
        throw new InvalidArgumentError(`${describeOp(op)}: cas needs the cas-register model`);
      }
      kind[i] = CAS;
      arg[i] = intern(op.value[0]);
      casTo[i] = intern(op.value[1]);
    } else {
      kind[i] = op.f === 'read' ? READ : WRITE;
      arg[i] = intern(op.value);
    }
  });
  return { ops: kept, kind, arg, casTo, values };
}

/**
 * The history as a doubly linked list of call and return entries in time order. An `info`
 * operation has no return entry: it may take effect at any point after its call, or never.
 * At equal times calls come before returns, so a tie counts as overlap and never produces a
 * violation on its own.
 */
interface Entries {
  readonly head: number;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** Operation index of the entry; calls are marked by `match` (their return, or NONE). */
  readonly opOf: Int32Array;
  readonly isCall: Uint8Array;
  readonly match: Int32Array;
}

function buildEntries(ops: readonly Op[]): Entries {
  const order: { t: number; call: boolean; op: number }[] = [];
  ops.forEach((op, i) => {
    order.push({ t: op.invokeAt, call: true, op: i });
    if (op.outcome === 'ok') order.push({ t: op.completeAt, call: false, op: i });
  });
  order.sort((a, b) => a.t - b.t || Number(b.call) - Number(a.call) || a.op - b.op);
  const count = order.length;
  const head = count;
  const next = new Int32Array(count + 1).fill(NONE);
  const prev = new Int32Array(count + 1).fill(NONE);
  const opOf = new Int32Array(count);
  const isCall = new Uint8Array(count);
  const match = new Int32Array(count).fill(NONE);
  const callOf = new Int32Array(ops.length);
  let last = head;
  order.forEach((e, i) => {
    opOf[i] = e.op;
    isCall[i] = e.call ? 1 : 0;
    if (e.call) callOf[e.op] = i;
    else match[callOf[e.op]!] = i;
    next[last] = i;
    prev[i] = last;
    last = i;
  });
  return { head, next, prev, opOf, isCall, match };
}

/** A 32-bit integer mixer (the murmur3 finaliser): Zobrist keys for ops and states. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Wing & Gong's search (1993): repeatedly take a call entry that precedes the first pending
 * return, apply it to the model and "lift" it and its return out of the list; reaching a return
 * whose operation was never applied means backtracking ("unlift" the last choice and try the
 * next). Lowe's memoization (2017) prunes any (set of applied ops, register value) already
 * explored: the future of the search depends on nothing else. The set is a bitset whose hash is
 * kept incrementally by XOR of per-op Zobrist keys; the recursion is an explicit stack.
 */
function searchRegister(
  key: string,
  rawOps: readonly Op[],
  model: RegisterModel,
  deadline: Deadline | undefined,
): RegisterResult {
  const { ops, kind, arg, casTo, values } = prepare(rawOps, model);
  const { head, next, prev, opOf, isCall, match } = buildEntries(ops);
  const n = ops.length;
  const definite = ops.filter((op) => op.outcome === 'ok').length;
  const words = Math.max(1, Math.ceil(n / 32));
  const bits = new Uint32Array(words);
  const zobrist = Uint32Array.from({ length: n }, (_, i) => mix32(i + 0x9e3779b9));
  const cache = new Map<number, Uint32Array[]>();
  const stackEntry = new Int32Array(n);
  const stackState = new Int32Array(n);

  // The furthest return entry any branch reached without applying its operation.
  let blockedEntry = NONE;
  let blockedPosition = -1;
  let bestStack: number[] = [];
  const possible = new Set<number>();

  let depth = 0;
  let placedDefinite = 0;
  let state = NIL;
  let hash = 0;
  let steps = 0;
  let entry = next[head]!;
  const outOfTime = () => deadline !== undefined && deadline.now() > deadline.atMs;
  const unknown = () =>
    ({ key, opCount: n, steps, linearizable: 'unknown', budgetMs: deadline!.budgetMs }) as const;

  // Remembers (bits, state); false if it was already there.
  const remember = (h: number, s: number): boolean => {
    const slot = (h ^ mix32(s + 0x632be5ab)) >>> 0;
    const bucket = cache.get(slot);
    if (bucket !== undefined) {
      for (const seen of bucket) {
        if (seen[words] !== s) continue;
        let same = true;
        for (let w = 0; w < words && same; w++) same = seen[w] === bits[w];
        if (same) return false;
      }
    }
    const copy = new Uint32Array(words + 1);
    copy.set(bits);
    copy[words] = s;
    if (bucket === undefined) cache.set(slot, [copy]);
    else bucket.push(copy);
    return true;
  };

  // Looked at once per key too, so that many small keys cannot overrun a shared budget.
  if (outOfTime()) return unknown();
  while (placedDefinite < definite) {
    steps++;
    if (steps % BUDGET_CHECK_STEPS === 0 && outOfTime()) return unknown();
    // Some op with a return is unplaced, so its return entry lies ahead of any call we skip.
    if (entry === NONE) throw new Error('linearizability search walked off its entry list');
    const op = opOf[entry]!;
    if (isCall[entry] === 1) {
      const a = arg[op]!;
      const k = kind[op]!;
      const after = k === WRITE ? a : a !== state ? NONE : k === CAS ? casTo[op]! : state;
      if (after !== NONE) {
        const word = op >>> 5;
        const bit = 1 << (op & 31);
        bits[word]! |= bit;
        if (remember(hash ^ zobrist[op]!, after)) {
          stackEntry[depth] = entry;
          stackState[depth] = state;
          depth++;
          state = after;
          hash ^= zobrist[op]!;
          if (match[entry] !== NONE) placedDefinite++;
          lift(entry, match[entry]!, next, prev);
          entry = next[head]!;
          continue;
        }
        bits[word]! &= ~bit;
      }
      entry = next[entry]!;
      continue;
    }

    // A return whose operation has not taken effect: this branch is dead.
    if (entry > blockedPosition) {
      blockedPosition = entry;
      blockedEntry = entry;
      bestStack = Array.from(stackEntry.subarray(0, depth), (e) => opOf[e]!);
      possible.clear();
    }
    if (entry === blockedPosition) possible.add(state);
    if (depth === 0) {
      const violation = explain(ops, opOf[blockedEntry]!, bestStack, possible, values);
      return { key, opCount: n, steps, linearizable: false, violation };
    }
    depth--;
    const undone = stackEntry[depth]!;
    const undoneOp = opOf[undone]!;
    state = stackState[depth]!;
    hash ^= zobrist[undoneOp]!;
    bits[undoneOp >>> 5]! &= ~(1 << (undoneOp & 31));
    if (match[undone] !== NONE) placedDefinite--;
    unlift(undone, match[undone]!, next, prev);
    entry = next[undone]!;
  }
  return { key, opCount: n, steps, linearizable: true };
}

function lift(call: number, ret: number, next: Int32Array, prev: Int32Array): void {
  unlink(call, next, prev);
  if (ret !== NONE) unlink(ret, next, prev);
}

/** Undoes lift: entries go back in the reverse order they came out, as in dancing links. */
function unlift(call: number, ret: number, next: Int32Array, prev: Int32Array): void {
  if (ret !== NONE) relink(ret, next, prev);
  relink(call, next, prev);
}

function unlink(e: number, next: Int32Array, prev: Int32Array): void {
  const p = prev[e]!;
  const q = next[e]!;
  next[p] = q;
  if (q !== NONE) prev[q] = p;
}

function relink(e: number, next: Int32Array, prev: Int32Array): void {
  const p = prev[e]!;
  const q = next[e]!;
  next[p] = e;
  if (q !== NONE) prev[q] = e;
}

function explain(
  ops: readonly Op[],
  blocked: number,
  stack: readonly number[],
  possible: ReadonlySet<number>,
  values: readonly unknown[],
): Violation {
  const op = ops[blocked]!;
  // Definite operations first: they pin the window down; an info operation overlaps
  // everything after its call, so only the most recent few are worth showing.
  const overlapping = ops.filter(
    (o) => o !== op && o.invokeAt <= op.completeAt && o.completeAt >= op.invokeAt,
  );
  const concurrent = [
    ...overlapping.filter((o) => o.outcome === 'ok'),
    ...overlapping.filter((o) => o.outcome === 'info').reverse(),
  ].slice(0, CONCURRENT_MAX);
  // A write can always take effect, so the blocked op is a read or a cas that needed a value.
  const needed = op.f === 'cas' ? op.value[0] : op.value;
  const sources = ops
    .filter((o) => o.f !== 'read' && sameValue(o.f === 'cas' ? o.value[1] : o.value, needed))
    .slice(0, SOURCES_MAX);
  return {
    op,
    linearizedCount: stack.length,
    linearizedTail: stack.slice(-LINEARIZED_TAIL_MAX).map((i) => ops[i]!),
    possibleValues: [...possible].map((v) => values[v]).sort(compareValues),
    sources,
    concurrent,
  };
}

function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const [x, y] = [valueKey(a), valueKey(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A few readable lines: the verdict, and for a violation the operations involved. */
export function formatReport(result: RegisterResult | HistoryResult): string {
  if ('keys' in result) {
    const failing = result.keys.filter((r) => r.linearizable !== true);
    const head = `history of ${result.keys.length} key(s): ${verdictText(result.linearizable)}`;
    return [head, ...failing.map(formatReport)].join('\n');
  }
  const head = `key ${JSON.stringify(result.key)} (${result.opCount} ops): ${verdictText(result.linearizable)}`;
  if (result.linearizable === true) return head;
  if (result.linearizable === 'unknown') {
    return `${head}: no verdict within ${result.budgetMs} ms (${result.steps} steps)`;
  }
  const v = result.violation;
  const { op } = v;
  const needed = showValue(op.f === 'cas' ? op.value[0] : op.value);
  const list = (ops: readonly Op[]) => ops.map(describeOp).join('; ') || 'none';
  const sources =
    v.sources.length > 0
      ? `${needed} was stored by: ${list(v.sources)}`
      : needed === 'nil'
        ? 'nil is the initial value'
        : `no checked operation stored ${needed} (failed operations are left out)`;
  return [
    head,
    `  ${describeOp(op)} cannot take effect: the history is linearizable up to its completion, not beyond`,
    `  it needed ${needed}; the register could hold only: ${v.possibleValues.map(showValue).join(', ')}`,
    `  ${sources}`,
    `  linearized ${v.linearizedCount} op(s) before it, ending: ${list(v.linearizedTail)}`,
    `  concurrent with it: ${list(v.concurrent)}`,
  ].join('\n');
}

function verdictText(verdict: boolean | 'unknown'): string {
  return verdict === 'unknown' ? 'unknown' : verdict ? 'linearizable' : 'NOT linearizable';
}
