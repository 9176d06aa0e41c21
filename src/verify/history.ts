// The history model that the linearizability checker judges: operations on keys with their
// invocation and completion times, and a builder that pairs Jepsen-style invoke/complete events.

import { InvalidArgumentError } from '../core/errors.js';

export const OP_FUNCTIONS = Object.freeze({ read: 'read', write: 'write', cas: 'cas' } as const);
export type OpFunction = (typeof OP_FUNCTIONS)[keyof typeof OP_FUNCTIONS];

/**
 * `fail`: the operation definitely did not take effect. `info`: it may or may not have taken
 * effect, at any moment after its invocation (a timeout, a crashed client).
 */
export const OUTCOMES = Object.freeze({ ok: 'ok', fail: 'fail', info: 'info' } as const);
export type Outcome = (typeof OUTCOMES)[keyof typeof OUTCOMES];

export const EVENT_TYPES = Object.freeze({ invoke: 'invoke', ...OUTCOMES } as const);
export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/** The key given to events that carry none (a Jepsen register test has a single key). */
export const DEFAULT_KEY = 'register';

interface OpBase {
  /** Position in invocation order; unique within one history. */
  readonly id: number;
  readonly process: number | string;
  readonly key: string;
  readonly outcome: Outcome;
  readonly invokeAt: number;
  /** Infinity for `info`: the operation stays open until the end of the history. */
  readonly completeAt: number;
}

/** `value` is what the read returned, `null` for nil / absent, `undefined` if never known (info). */
export interface ReadOp extends OpBase {
  readonly f: 'read';
  readonly value: unknown;
}

export interface WriteOp extends OpBase {
  readonly f: 'write';
  readonly value: unknown;
}

/** Compare-and-set: succeeds (and stores `to`) only if the register holds `from`. */
export interface CasOp extends OpBase {
  readonly f: 'cas';
  readonly value: readonly [from: unknown, to: unknown];
}

export type Op = ReadOp | WriteOp | CasOp;

/** One Jepsen event: per process, an `invoke` followed by exactly one completion. */
export interface HistoryEvent {
  readonly process: number | string;
  readonly type: EventType;
  readonly f: OpFunction;
  /** invoke: the argument (write value, cas [from, to], nothing for a read); ok read: the value read. */
  readonly value?: unknown;
  /** Defaults to the builder's key. */
  readonly key?: string;
  /** Defaults to the event's position in the stream, which is all a Jepsen log gives. */
  readonly at?: number;
  /** Where the event came from, for error messages (e.g. a log line number). */
  readonly line?: number;
}

/** A stream of events that does not describe a history; says which event and why. */
export class MalformedHistoryError extends InvalidArgumentError {
  constructor(
    readonly eventIndex: number,
    readonly line: number | undefined,
    reason: string,
  ) {
    super(`event ${eventIndex}${line === undefined ? '' : ` (line ${line})`}: ${reason}`);
  }
}

/**
 * A canonical string for a value, so that values compare structurally and can be interned by
 * the checker. `null` and `undefined` are both nil: a register that was never written.
 */
export function valueKey(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  switch (typeof value) {
    case 'number':
      return `n:${value}`;
    case 'string':
      return `s:${JSON.stringify(value)}`;
    case 'boolean':
      return `b:${value}`;
    case 'bigint':
      return `i:${value}`;
    case 'object':
      if (Array.isArray(value)) return `[${value.map(valueKey).join(',')}]`;
      return `{${Object.keys(value)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${valueKey((value as Record<string, unknown>)[k])}`)
        .join(',')}}`;
    default:
      return `?:${String(value)}`;
  }
}

export function sameValue(a: unknown, b: unknown): boolean {
  return valueKey(a) === valueKey(b);
}

/** A short human form of a value: `nil`, `3`, `"x"`, `[1 2]`. */
export function showValue(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (Array.isArray(value)) return `[${value.map(showValue).join(' ')}]`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** One line per operation, e.g. `#4 p2 write 3 ok [12, 15]`. */
export function describeOp(op: Op): string {
  const value = op.f === 'read' && op.outcome === 'info' ? '?' : showValue(op.value);
  const until = op.completeAt === Infinity ? '∞' : String(op.completeAt);
  return `#${op.id} p${op.process} ${op.f} ${value} ${op.outcome} [${op.invokeAt}, ${until}]`;
}

interface Invocation {
  readonly id: number;
  readonly process: number | string;
  readonly key: string;
  readonly f: OpFunction;
  readonly value: unknown;
  readonly invokeAt: number;
  readonly eventIndex: number;
}

/**
 * Pairs each process's invoke with its completion. An invocation still open when the stream
 * ends becomes `info`: a Jepsen test may stop while a request is in flight, and that request
 * may or may not have taken effect.
 */
export class HistoryBuilder {
  private readonly pending = new Map<number | string, Invocation>();
  private readonly ops: (Op | Invocation)[] = [];
  private eventCount = 0;
  private lastAt = -Infinity;
  private timed: boolean | undefined;
  private finished = false;

  constructor(private readonly defaultKey: string = DEFAULT_KEY) {}

  add(event: HistoryEvent): void {
    const index = this.eventCount++;
    const bad = (reason: string) => new MalformedHistoryError(index, event.line, reason);
    if (this.finished) throw bad('the history is already finished');
    if (typeof event.process !== 'number' && typeof event.process !== 'string') {
      throw bad(`process must be a number or a string, got ${typeof event.process}`);
    }
    if (!Object.hasOwn(EVENT_TYPES, event.type)) {
      throw bad(`unknown event type ${String(event.type)}`);
    }
    if (!Object.hasOwn(OP_FUNCTIONS, event.f)) {
      throw bad(`unknown operation ${String(event.f)}`);
    }
    const key = event.key ?? this.defaultKey;
    if (typeof key !== 'string') throw bad('key must be a string');
    const at = this.timeOf(event, index, bad);

    const open = this.pending.get(event.process);
    if (event.type === 'invoke') {
      if (open !== undefined) {
        throw bad(
          `process ${event.process} invoked ${event.f} while its ${open.f} from event ` +
            `${open.eventIndex} is still open`,
        );
      }
      if (event.f === 'cas' && !(Array.isArray(event.value) && event.value.length === 2)) {
        throw bad(`cas needs [from, to], got ${showValue(event.value)}`);
      }
      const invocation: Invocation = {
        id: this.ops.length,
        process: event.process,
        key,
        f: event.f,
        value: event.f === 'read' ? null : event.value,
        invokeAt: at,
        eventIndex: index,
      };
      this.pending.set(event.process, invocation);
      this.ops.push(invocation);
      return;
    }

    if (open === undefined) {
      throw bad(`process ${event.process} completed ${event.f} (${event.type}) without an invoke`);
    }
    if (open.f !== event.f) {
      throw bad(`process ${event.process} invoked ${open.f} but completed ${event.f}`);
    }
    if (open.key !== key) {
      throw bad(`process ${event.process} invoked on key ${open.key} but completed on ${key}`);
    }
    if (
      event.type === 'ok' &&
      open.f !== 'read' &&
      event.value !== undefined &&
      !sameValue(event.value, open.value)
    ) {
      throw bad(
        `process ${event.process} invoked ${open.f} ${showValue(open.value)} but it completed ` +
          `with ${showValue(event.value)}`,
      );
    }
    this.pending.delete(event.process);
    this.ops[open.id] = complete(open, event.type, event.value ?? null, at);
  }

  /** The operations in invocation order (`id` is the index). */
  finish(): Op[] {
    this.finished = true;
    return this.ops.map((op) => ('outcome' in op ? op : complete(op, 'info', undefined, Infinity)));
  }

  private timeOf(event: HistoryEvent, index: number, bad: (reason: string) => Error): number {
    const timed = event.at !== undefined;
    if (this.timed !== undefined && this.timed !== timed) {
      throw bad('either every event carries `at` or none does');
    }
    this.timed = timed;
    const at = event.at ?? index;
    if (typeof at !== 'number' || !Number.isFinite(at)) throw bad(`at must be a finite number`);
    if (at < this.lastAt) throw bad(`time went backwards (${at} after ${this.lastAt})`);
    this.lastAt = at;
    return at;
  }
}

function complete(open: Invocation, outcome: Outcome, result: unknown, at: number): Op {
  const base = {
    id: open.id,
    process: open.process,
    key: open.key,
    outcome,
    invokeAt: open.invokeAt,
    completeAt: outcome === 'info' ? Infinity : at,
  };
  switch (open.f) {
    case 'read':
      return {
        ...base,
        f: 'read',
        value: outcome === 'ok' ? result : outcome === 'fail' ? null : undefined,
      };
    case 'write':
      return { ...base, f: 'write', value: open.value };
    case 'cas': {
      const [from, to] = open.value as readonly unknown[];
      return { ...base, f: 'cas', value: [from, to] };
    }
  }
}

/** Builds the operations of a whole event stream; see HistoryBuilder. */
export function buildHistory(events: Iterable<HistoryEvent>, defaultKey?: string): Op[] {
  const builder = new HistoryBuilder(defaultKey);
  for (const event of events) builder.add(event);
  return builder.finish();
}
