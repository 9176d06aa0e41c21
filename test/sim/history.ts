// What happened in a simulated run, as the checks in checks.ts need it: every client operation
// and how it ended, and every change of every node's durable store, observed through the
// store's own change feed (and its hint writes through FencedStore), so nothing here trusts the
// node code it is checking. The feed also keeps a synchronous copy of each store, to count the
// nodes holding a write at the moment it is acknowledged.

import type { ConflictPolicy } from '../../src/core/conflicts.js';
import type { Hlc } from '../../src/core/hlc.js';
import type { NewContent } from '../../src/core/replica-links.js';
import { isDeleted, type Dot, type VClock, type VersionSet } from '../../src/core/version-set.js';
import type { ReplicaStore } from '../../src/storage/replica-store.js';
import type { HintObserver } from './fenced-store.js';

export type Outcome = 'pending' | 'ok' | 'failed' | 'indeterminate';

export interface WriteRecord {
  readonly id: number;
  readonly key: string;
  /** Unique per write (empty for a delete). */
  readonly value: string;
  readonly tombstone: boolean;
  /** Siblings mode: the clock the write carried (empty without a context). */
  readonly context: VClock;
  /** Lww mode: the stamp of the read whose context the write carried. */
  readonly seen: Hlc | undefined;
  readonly coordinator: string;
  readonly w: number;
  readonly content: NewContent;
  readonly startedAt: number;
  outcome: Outcome;
  /** What the coordinator answered with: the stamped version or the issuer's new set. */
  result?: VersionSet;
  /** Siblings mode: the dot the write was issued with (known once acknowledged). */
  dot?: Dot;
  /** Virtual time of the acknowledgement. */
  ackedAt?: number;
  /** Nodes holding the write (in their store, or as a hint for a home) when it was acknowledged. */
  holdersAtAck?: number;
}

export interface ReadRecord {
  readonly key: string;
  readonly r: number;
  readonly startedAt: number;
  readonly answeredAt: number;
  /** What the read answered (undefined: no replica holds the key). */
  readonly set: VersionSet | undefined;
}

/** A version (lww: a stamp; siblings: a dot) as it was first stored anywhere. */
export interface FirstStored {
  readonly at: number;
  readonly node: string;
  /** Every node that stored this version at some point. */
  readonly holders: Set<string>;
  readonly value: string;
  readonly tombstone: boolean;
  readonly ts: Hlc;
}

export interface PurgeRecord {
  readonly node: string;
  readonly key: string;
  readonly at: number;
  /** What the store held when tombstone GC removed the key. */
  readonly set: VersionSet;
}

/** SIM_TRACE_KEY=<key> prints every change of that key in any store: a failing seed's story. */
const TRACE_KEY = process.env.SIM_TRACE_KEY;

/** A set as the checks and traces print it: `{clock} [version=value ...]`, ⊥ a tombstone. */
export function show(set: VersionSet | undefined): string {
  if (set === undefined) return 'nothing';
  const clock = set.clock.map(([n, k]) => `${n}:${k}`).join(',');
  const sibs = set.siblings
    .map((s) => `${s.dot ? dotId(s.dot) : hlcId(s.ts)}=${s.tombstone ? '⊥' : dec(s.value)}`)
    .join(' ');
  return `{${clock}} [${sibs}]`;
}

const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
export const hlcId = (ts: Hlc): string => `${ts.wallMs}.${ts.logical}.${ts.node}`;
export const dotId = (dot: Dot): string => `${dot.node}:${dot.counter}`;

/** Mutable maps of maps, created on first use. */
function inner<K, V>(outer: Map<string, Map<K, V>>, k: string): Map<K, V> {
  let m = outer.get(k);
  if (m === undefined) outer.set(k, (m = new Map()));
  return m;
}

export class History {
  readonly writes: WriteRecord[] = [];
  /** Reads that answered. */
  readonly reads: ReadRecord[] = [];
  /** node -> key -> the set its store holds now. */
  readonly data = new Map<string, Map<string, VersionSet>>();
  /** node -> target -> key -> the hint it keeps for that target. */
  readonly hints = new Map<string, Map<string, Map<string, VersionSet>>>();
  /** key -> version id (lww: its stamp; siblings: its dot) -> where and when it was first stored. */
  readonly firstStored = new Map<string, Map<string, FirstStored>>();
  readonly purges: PurgeRecord[] = [];
  /** Hints delivered (removed after their target acknowledged them). */
  hintsDelivered = 0;
  /** Changes of any store's data so far: a repair round that adds none found a fixpoint. */
  changes = 0;
  readonly anomalies: string[] = [];
  readonly unexpected: string[] = [];
  /** node -> key -> the tombstone of the last purge asked of its store. */
  private readonly purgeAsked = new Map<string, Map<string, VersionSet>>();
  /** key \0 value -> the version id it was first stored under: each write is stamped once. */
  private readonly versionOfValue = new Map<string, string>();

  constructor(
    private readonly policy: ConflictPolicy,
    private readonly now: () => number,
    /**
     * Whether `node` owns `key` in the layout it knows. A node drops the keys it no longer owns
     * once a layout change has settled: such a drop is a hand-over, not a purge.
     */
    private readonly owns: (node: string, key: string) => boolean = () => true,
    private readonly where: (node: string, key: string) => string = () => '',
  ) {}

  /** Follows `node`'s durable store for the whole run (every incarnation of the node). */
  observe(node: string, store: ReplicaStore): void {
    const data = inner(this.data, node);
    store.onChange((key, before, after) => {
      this.changes += 1;
      if (key === TRACE_KEY)
        console.log(
          `t=${this.now()} ${node} ${key}: ${show(before)} -> ${show(after)}${this.owns(node, key) ? '' : ' (not owned)'} ${this.where(node, key)}`,
        );
      if (after === undefined) {
        data.delete(key);
        if (before === undefined) return;
        if (!this.owns(node, key)) return;
        // A purge also drops an older copy its tombstone supersedes: deleted all the same.
        const asked = this.purgeAsked.get(node)?.get(key);
        const superseded = asked !== undefined && this.policy.dominates(asked, before);
        this.purges.push({ node, key, at: this.now(), set: superseded ? asked : before });
        if (!isDeleted(before) && !superseded)
          this.anomalies.push(`${node} purged ${key} while it held a value`);
        return;
      }
      data.set(key, after);
      this.stored(node, key, after);
    });
  }

  /** A live node logged `line` (pino JSON) at warn level or above. */
  logged(node: string, line: string): void {
    const entry = JSON.parse(line) as { level: number; msg?: string; err?: { message?: string } };
    // A clock set back behind the saved HLC mark is what restarts with a new clock are for.
    if (entry.level < 50 && entry.msg?.startsWith('wall clock is behind the HLC mark')) return;
    const why = entry.err?.message === undefined ? '' : `: ${entry.err.message}`;
    this.anomalies.push(`${node} logged "${entry.msg ?? ''}"${why}`);
  }

  /** A live node answered a peer's request with an error. */
  failedRequest(node: string, from: string, type: string, err: unknown): void {
    const why = err instanceof Error ? err.message : String(err);
    this.anomalies.push(`${node} failed ${from}'s ${type}: ${why}`);
  }

  /** Mirrors `node`'s hints as its store applies them. */
  hintObserver(node: string): HintObserver {
    const byTarget = inner(this.hints, node);
    const { policy } = this;
    return {
      added: (target, key, set) => {
        if (key === TRACE_KEY)
          console.log(`t=${this.now()} ${node} hint for ${target} ${key}: + ${show(set)}`);
        const m = inner(byTarget, target);
        m.set(key, policy.merge(m.get(key), set));
      },
      deleted: (hint) => {
        if (hint.key === TRACE_KEY)
          console.log(
            `t=${this.now()} ${node} hint for ${hint.target} ${hint.key}: - ${show(hint.set)}`,
          );
        const m = byTarget.get(hint.target);
        if (m !== undefined && policy.equals(m.get(hint.key), hint.set)) {
          m.delete(hint.key);
          this.hintsDelivered += 1;
        }
      },
      purging: (key, set) => inner(this.purgeAsked, node).set(key, set),
      droppedCoveredBy: (key, set) => {
        if (key === TRACE_KEY)
          console.log(`t=${this.now()} ${node} hints for ${key} covered by ${show(set)} dropped`);
        for (const m of byTarget.values()) {
          const held = m.get(key);
          if (held !== undefined && policy.dominates(set, held)) m.delete(key);
        }
      },
    };
  }

  /** Nodes whose store, or whose hint for one of `homes`, holds everything in `set`. */
  holders(key: string, set: VersionSet, homes: readonly string[]): number {
    let n = 0;
    for (const [node, data] of this.data) {
      const hints = this.hints.get(node);
      const held = [data.get(key), ...homes.map((h) => hints?.get(h)?.get(key))];
      if (held.some((x) => x !== undefined && this.policy.dominates(x, set))) n += 1;
    }
    return n;
  }

  /** Hints the nodes `of` still keep. */
  hintsLeft(of: readonly string[]): number {
    let n = 0;
    for (const [node, byTarget] of this.hints)
      if (of.includes(node)) for (const m of byTarget.values()) n += m.size;
    return n;
  }

  /** The id of a stored version: its dot in siblings mode, its stamp in lww mode. */
  versionId(s: { dot: Dot | null; ts: Hlc }): string {
    return s.dot === null ? hlcId(s.ts) : dotId(s.dot);
  }

  private stored(node: string, key: string, set: VersionSet): void {
    const first = inner(this.firstStored, key);
    for (const s of set.siblings) {
      const id = this.versionId(s);
      const value = s.tombstone ? '' : dec(s.value);
      const seen = first.get(id);
      seen?.holders.add(node);
      if (seen === undefined) {
        const holders = new Set([node]);
        first.set(id, { at: this.now(), node, holders, value, tombstone: s.tombstone, ts: s.ts });
        if (s.tombstone) continue;
        // Values are unique per write: one stored under two versions was issued twice.
        const other = this.versionOfValue.get(`${key}\u0000${value}`);
        if (other === undefined) this.versionOfValue.set(`${key}\u0000${value}`, id);
        else if (other !== id)
          this.anomalies.push(`${key}=${value} was stored as two versions: ${other} and ${id}`);
      } else if (seen.tombstone !== s.tombstone || seen.value !== value) {
        this.anomalies.push(`${node}: ${key} ${id} holds another value than on ${seen.node}`);
      }
    }
  }
}
