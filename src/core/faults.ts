// The link-fault vocabulary shared by the admin API, the TCP transport and the simulator:
// which peers are cut off (block), how late (delay) and how often (drop) messages to them go.

import { LIMITS } from '../config.js';
import { InvalidArgumentError } from './errors.js';

export interface LinkDelay {
  readonly ms: number;
  readonly jitterMs: number;
}

export interface FaultSpec {
  /** Peers cut off in both directions, like a firewall that drops their packets. */
  readonly block: readonly string[];
  /** Extra latency on messages this node sends to a peer. */
  readonly delay: Readonly<Record<string, LinkDelay>>;
  /** Probability in [0, 1] that a message this node sends to a peer is lost. */
  readonly drop: Readonly<Record<string, number>>;
}

export const EMPTY_FAULTS: FaultSpec = Object.freeze({
  block: Object.freeze([]),
  delay: Object.freeze({}),
  drop: Object.freeze({}),
});

const SPEC_KEYS = Object.freeze(['block', 'delay', 'drop']);
const DELAY_KEYS = Object.freeze(['ms', 'jitterMs']);
const EXAMPLE = '{"block":["n3"],"delay":{"n2":{"ms":50,"jitterMs":10}},"drop":{"n2":0.2}}';

function invalid(message: string): never {
  throw new InvalidArgumentError(message);
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A record without a prototype, so a peer named like an Object.prototype member stays data. */
function emptyRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function checkPeer(id: string, where: string, known: ReadonlySet<string>, self: string): void {
  if (id === self) {
    invalid(`${where} names this node (${self}); faults apply to links to other nodes`);
  }
  if (!known.has(id)) {
    invalid(
      `${where} names unknown node ${JSON.stringify(id)}; known peers are ${[...known].join(', ') || 'none'}`,
    );
  }
}

function parseBlock(raw: unknown, known: ReadonlySet<string>, self: string): string[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) invalid('"block" must be an array of node ids, e.g. ["n3"]');
  const out: string[] = [];
  for (const id of raw as unknown[]) {
    if (typeof id !== 'string') invalid('"block" must be an array of node ids, e.g. ["n3"]');
    checkPeer(id, '"block"', known, self);
    if (!out.includes(id)) out.push(id);
  }
  return out;
}

function parseDelayMs(raw: unknown, where: string): number {
  if (
    typeof raw !== 'number' ||
    !Number.isInteger(raw) ||
    raw < 0 ||
    raw > LIMITS.faultDelayMsMax
  ) {
    invalid(
      `${where} must be an integer number of milliseconds from 0 to ${LIMITS.faultDelayMsMax}`,
    );
  }
  return raw;
}

function parseDelay(
  raw: unknown,
  known: ReadonlySet<string>,
  self: string,
): Record<string, LinkDelay> {
  const out = emptyRecord<LinkDelay>();
  if (raw === undefined) return out;
  if (!isPlainObject(raw)) invalid('"delay" must be an object like {"n2":{"ms":50,"jitterMs":10}}');
  for (const [id, entry] of Object.entries(raw)) {
    checkPeer(id, '"delay"', known, self);
    if (!isPlainObject(entry)) {
      invalid(`"delay"."${id}" must be an object like {"ms":50,"jitterMs":10}`);
    }
    for (const k of Object.keys(entry)) {
      if (!DELAY_KEYS.includes(k)) {
        invalid(`"delay"."${id}" has unknown key "${k}"; use "ms" and "jitterMs"`);
      }
    }
    if (entry.ms === undefined) invalid(`"delay"."${id}" needs "ms", e.g. {"ms":50,"jitterMs":10}`);
    const ms = parseDelayMs(entry.ms, `"delay"."${id}".ms`);
    const jitterMs =
      entry.jitterMs === undefined ? 0 : parseDelayMs(entry.jitterMs, `"delay"."${id}".jitterMs`);
    out[id] = Object.freeze({ ms, jitterMs });
  }
  return out;
}

function parseDrop(raw: unknown, known: ReadonlySet<string>, self: string): Record<string, number> {
  const out = emptyRecord<number>();
  if (raw === undefined) return out;
  if (!isPlainObject(raw)) invalid('"drop" must be an object like {"n2":0.2}');
  for (const [id, p] of Object.entries(raw)) {
    checkPeer(id, '"drop"', known, self);
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      invalid(`"drop"."${id}" must be a probability from 0 to 1, e.g. 0.2`);
    }
    out[id] = p;
  }
  return out;
}

/** Validates an admin request body; missing keys mean "no such fault". */
export function parseFaultSpec(
  raw: unknown,
  knownPeerIds: readonly string[],
  self: string,
): FaultSpec {
  if (!isPlainObject(raw)) invalid(`faults must be a JSON object like ${EXAMPLE}`);
  for (const k of Object.keys(raw)) {
    if (!SPEC_KEYS.includes(k)) {
      invalid(`unknown fault "${k}"; use "block", "delay" and "drop", e.g. ${EXAMPLE}`);
    }
  }
  const known = new Set(knownPeerIds.filter((id) => id !== self));
  return freezeSpec({
    block: parseBlock(raw.block, known, self),
    delay: parseDelay(raw.delay, known, self),
    drop: parseDrop(raw.drop, known, self),
  });
}

function freezeSpec(spec: FaultSpec): FaultSpec {
  return Object.freeze({
    block: Object.freeze([...spec.block]),
    delay: Object.freeze(Object.assign(emptyRecord<LinkDelay>(), spec.delay)),
    drop: Object.freeze(Object.assign(emptyRecord<number>(), spec.drop)),
  });
}

/**
 * The faults in force on one node, indexed for the transport's send and receive paths. The
 * random source comes in per call so the simulator can replay a run from its seed.
 */
export class FaultFilter {
  private spec: FaultSpec = EMPTY_FAULTS;
  private blocked: ReadonlySet<string> = new Set();
  private delays: ReadonlyMap<string, LinkDelay> = new Map();
  private drops: ReadonlyMap<string, number> = new Map();

  set(spec: FaultSpec): void {
    this.spec = freezeSpec(spec);
    this.blocked = new Set(spec.block);
    this.delays = new Map(Object.entries(spec.delay).filter(([, d]) => d.ms > 0 || d.jitterMs > 0));
    this.drops = new Map(Object.entries(spec.drop).filter(([, p]) => p > 0));
  }

  get(): FaultSpec {
    return this.spec;
  }

  /** True when no fault touches any link: the transport's hot path skips the lookups. */
  isEmpty(): boolean {
    return this.blocked.size === 0 && this.delays.size === 0 && this.drops.size === 0;
  }

  isBlocked(peer: string): boolean {
    return this.blocked.has(peer);
  }

  /** ms plus a uniform integer jitter in [-jitterMs, +jitterMs], never below 0. */
  sendDelayMs(peer: string, rng: () => number): number {
    const d = this.delays.get(peer);
    if (d === undefined) return 0;
    const jitterMs = d.jitterMs === 0 ? 0 : Math.floor(rng() * (2 * d.jitterMs + 1)) - d.jitterMs;
    return Math.max(0, d.ms + jitterMs);
  }

  shouldDrop(peer: string, rng: () => number): boolean {
    const p = this.drops.get(peer);
    if (p === undefined) return false;
    return p >= 1 || rng() < p;
  }
}
