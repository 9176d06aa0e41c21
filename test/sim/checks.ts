// The properties a healed cluster of real nodes must have, each returning the violations it
// found (empty when it holds), so a failing seed reports everything wrong with it at once.
// They read the nodes' stores as they are at the end (FinalState) and the History of the run.
//
// Tombstone GC may purge a deleted key during the run, so "the newest write is still there"
// allows for a purge: a version may be missing once the key was purged after it was stored,
// but nothing stored before a purge may come back after it.

import { LIMITS } from '../../src/config.js';
import { newestVersion } from '../../src/core/conflicts.js';
import { compareHlc, type Hlc } from '../../src/core/hlc.js';
import { HashTree, setDigest } from '../../src/core/merkle.js';
import { covers, isDeleted, type Dot, type VersionSet } from '../../src/core/version-set.js';
import { dotId, hlcId, show, type FirstStored, type WriteRecord } from './history.js';
import type { NodeCluster } from './node-cluster.js';

/** node -> key -> set, as each store holds it at the end. */
export type FinalState = ReadonlyMap<string, ReadonlyMap<string, VersionSet>>;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const sameDot = (a: Dot | null, b: Dot): boolean =>
  a !== null && a.node === b.node && a.counter === b.counter;

/** Every key a write named, or any store ever held. */
function keysOf(c: NodeCluster): string[] {
  const keys = new Set(c.history.writes.map((w) => w.key));
  for (const key of c.history.firstStored.keys()) keys.add(key);
  return [...keys].sort();
}

/** Nothing the run itself flags: errors of the wrong kind, requests that never ended. */
export function checkRun(c: NodeCluster): string[] {
  const out = [...c.history.unexpected, ...c.history.anomalies];
  for (const w of c.history.writes) {
    if (w.outcome === 'pending') out.push(`write ${w.id} of ${w.key} never answered`);
    if (w.outcome === 'ok' && (w.holdersAtAck ?? 0) < w.w)
      out.push(`write ${w.id} of ${w.key} was acknowledged at w=${w.w} held by ${w.holdersAtAck}`);
  }
  return out;
}

/**
 * Whether every node that ever stored version `id` of `key` was removed as dead and is gone: a
 * write acknowledged on those alone (w=1, say) is lost with them, as with a failed disk.
 */
function onlyOnTheDead(c: NodeCluster, key: string, id: string): boolean {
  const holders = c.history.firstStored.get(key)?.get(id)?.holders;
  if (holders === undefined || holders.size === 0) return false;
  return [...holders].every((h) => c.removedDead.has(h) && !c.ids.includes(h));
}

/** When tombstone GC first purged `key` at or after `from` (undefined: it did not). */
function purgedSince(c: NodeCluster, key: string, from: number): number | undefined {
  return c.history.purges.find((p) => p.key === key && p.at >= from)?.at;
}

/**
 * Strict quorums intersect: a read with R + W > N that starts after a write was acknowledged
 * answers with a set that holds the write or supersedes it (unless GC purged the key since).
 */
export function checkQuorumReads(c: NodeCluster): string[] {
  if (c.o.sloppyQuorum) return [];
  const out: string[] = [];
  const n = c.config.n;
  for (const w of c.history.writes) {
    if (w.outcome !== 'ok' || w.result === undefined || w.ackedAt === undefined) continue;
    for (const r of c.history.reads) {
      if (r.key !== w.key || r.r + w.w <= n || r.startedAt <= w.ackedAt) continue;
      if (r.set !== undefined && c.policy.dominates(r.set, w.result)) continue;
      const purged = purgedSince(c, w.key, w.startedAt);
      if (purged !== undefined && purged <= r.answeredAt) continue;
      out.push(
        `read of ${r.key} at t=${r.startedAt} (r=${r.r}) missed write ${w.id} acknowledged at t=${w.ackedAt} (w=${w.w}): ${show(r.set)}`,
      );
    }
  }
  return out;
}

/** Every replica of every key holds an equal set, no other node holds the key, no hint is left. */
export function checkConvergence(c: NodeCluster, final: FinalState): string[] {
  const out: string[] = [];
  for (const key of keysOf(c)) {
    const pref = c.preferenceList(key);
    const first = final.get(pref[0]!)?.get(key);
    for (const node of pref.slice(1)) {
      const other = final.get(node)?.get(key);
      if (!c.policy.equals(first, other))
        out.push(`${key}: ${pref[0]} and ${node} differ: ${show(first)} vs ${show(other)}`);
    }
    for (const node of c.ids)
      if (!pref.includes(node) && final.get(node)?.has(key))
        out.push(`${key}: ${node} is not a replica but holds it`);
  }
  for (const id of c.ids) {
    const pending = [...c.store(id).pendingHints().values()].reduce((a, b) => a + b, 0);
    if (pending > 0) out.push(`${id} still holds ${pending} hints`);
  }
  // A node that has left keeps what it could not hand on: hints are best effort, and the
  // checks of acknowledged writes say whether any was needed.
  const left = c.history.hintsLeft(c.ids);
  if (left > 0) out.push(`the stores' hint writes leave ${left} hints`);
  return out;
}

/**
 * Each node's anti-entropy trees, kept up by the store's change feed across restarts, equal
 * trees rebuilt from what its store holds; and any two nodes' trees for each other agree.
 */
export function checkTrees(c: NodeCluster, final: FinalState): string[] {
  const out: string[] = [];
  const all = Array.from({ length: LIMITS.aeSegments / LIMITS.aeSegmentsPerGroup }, (_, g) => g);
  for (const a of c.ids) {
    const node = c.node(a);
    if (node === undefined) {
      out.push(`${a} is down at the end`);
      continue;
    }
    for (const peer of c.ids) {
      if (peer === a) continue;
      const rebuilt = new HashTree();
      for (const [key, set] of final.get(a) ?? []) {
        const pref = c.preferenceList(key);
        if (pref.includes(a) && pref.includes(peer)) rebuilt.update(key, undefined, setDigest(set));
      }
      if (hex(node.antiEntropy.leaves(peer, all)) !== hex(rebuilt.leafHashes(all)))
        out.push(`${a}'s tree for ${peer} is not what its store holds`);
      const mirror = c.node(peer)?.antiEntropy.groups(a);
      if (mirror !== undefined && hex(node.antiEntropy.groups(peer)) !== hex(mirror))
        out.push(`${a} and ${peer} disagree after convergence`);
    }
  }
  return out;
}

/**
 * Siblings mode: every acknowledged write is still a sibling on every replica, unless a write
 * whose context covered its dot superseded it, or it was a delete and GC purged the key. No
 * superseded write is back, and every sibling is a write a client made, with its value.
 */
export function checkSiblings(c: NodeCluster, final: FinalState): string[] {
  const out: string[] = [];
  const { writes } = c.history;
  const values = new Set(writes.map((w) => w.value));
  // Writes that may have been issued: acknowledged, or not refused. Deletes carry no value,
  // so an unacknowledged one cannot be told apart in the stores: it counts as issued.
  const issued = (key: string): WriteRecord[] =>
    writes.filter((x) => x.key === key && x.outcome !== 'failed');
  // Writes known to have been issued: acknowledged, or seen in a store.
  const stored = new Set<string>();
  for (const [key, versions] of c.history.firstStored)
    for (const v of versions.values()) if (!v.tombstone) stored.add(`${key}\u0000${v.value}`);
  // A write held only by nodes removed as dead since may have gone with them, and what it
  // superseded with it.
  const gone = (x: WriteRecord): boolean =>
    !x.tombstone &&
    [...(c.history.firstStored.get(x.key)?.entries() ?? [])].some(
      ([id, v]) => v.value === x.value && onlyOnTheDead(c, x.key, id),
    );
  const known = (x: WriteRecord): boolean =>
    (x.outcome === 'ok' || (!x.tombstone && stored.has(`${x.key}\u0000${x.value}`))) && !gone(x);

  for (const w of writes) {
    if (w.outcome !== 'ok' || w.dot === undefined) continue;
    const dot = w.dot;
    if (onlyOnTheDead(c, w.key, dotId(dot))) continue;
    const supersededBy = issued(w.key).find((x) => x !== w && covers(x.context, dot));
    const purged = purgedSince(c, w.key, w.startedAt) !== undefined;
    for (const node of c.preferenceList(w.key)) {
      const set = final.get(node)?.get(w.key);
      const held = set?.siblings.some((s) => sameDot(s.dot, dot)) ?? false;
      if (!held && supersededBy === undefined && !(w.tombstone && purged))
        out.push(
          `acknowledged write ${w.id} (${w.key} ${dotId(dot)}, w=${w.w}) is lost on ${node}: ${show(set)}`,
        );
      if (held && set !== undefined && !covers(set.clock, dot))
        out.push(`${node} holds ${w.key} ${dotId(dot)} under a clock that does not cover it`);
    }
  }
  for (const key of keysOf(c)) {
    for (const node of c.preferenceList(key)) {
      for (const s of final.get(node)?.get(key)?.siblings ?? []) {
        if (s.dot === null) {
          out.push(`${node}: ${key} holds a sibling without a dot`);
          continue;
        }
        if (!s.tombstone && !values.has(dec(s.value)))
          out.push(`${node}: ${key} holds a value nobody wrote: ${dec(s.value)}`);
        const dot = s.dot;
        const by = issued(key).find(
          (x) => known(x) && covers(x.context, dot) && !(x.dot && sameDot(x.dot, dot)),
        );
        if (by !== undefined)
          out.push(`${node}: ${key} ${dotId(dot)} is back after write ${by.id} superseded it`);
      }
    }
  }
  return out;
}

/**
 * Lww mode: each key's value is the newest version stored since GC last purged it (or ever),
 * and is a write a client made, with the stamp it was made with; no acknowledged write has a
 * higher stamp, unless GC purged a newer delete of it.
 */
export function checkLww(c: NodeCluster, final: FinalState): string[] {
  const out: string[] = [];
  const written = new Map<string, Set<string>>();
  for (const w of c.history.writes) {
    if (!written.has(w.key)) written.set(w.key, new Set());
    written.get(w.key)!.add(w.tombstone ? '\u0000tombstone' : w.value);
  }
  for (const key of keysOf(c)) {
    const set = final.get(c.preferenceList(key)[0]!)?.get(key);
    const versions = [...(c.history.firstStored.get(key)?.values() ?? [])];
    // The last purge and when it began: versions stored before it may be gone for good.
    const purges = c.history.purges.filter((p) => p.key === key);
    const last = purges.at(-1);
    const episode = purges.filter((p) => last && c.policy.equals(p.set, last.set));
    const purgedFrom = episode.length > 0 ? Math.min(...episode.map((p) => p.at)) : -1;
    const purgedTs = last && newestVersion(last.set)?.ts;
    // A version only nodes that have since left ever held (a write acknowledged by none of
    // the members, which the acknowledged-write checks below cover) may have left with them.
    const since = versions.filter(
      (v) => v.at > purgedFrom && [...v.holders].some((h) => c.ids.includes(h)),
    );
    const max = since.reduce<FirstStored | undefined>(
      (m, v) => (m === undefined || compareHlc(v.ts, m.ts) > 0 ? v : m),
      undefined,
    );
    const v = newestVersion(set);
    if (set !== undefined && (set.siblings.length !== 1 || set.clock.length !== 0))
      out.push(`${key}: lww state is not one version: ${show(set)}`);
    if (v === undefined && max !== undefined)
      out.push(`${key}: ${hlcId(max.ts)} was stored (at t=${max.at}) but no replica holds it`);
    // A purge that did not finish (one replica kept the tombstone) gives the tombstone back.
    const unpurged = v !== undefined && purgedTs !== undefined && compareHlc(v.ts, purgedTs) === 0;
    if (v !== undefined && !unpurged && (max === undefined || compareHlc(v.ts, max.ts) !== 0))
      out.push(
        `${key}: holds ${hlcId(v.ts)} but ${max && hlcId(max.ts)} is the newest stored since t=${purgedFrom}`,
      );
    if (v !== undefined && !written.get(key)?.has(v.tombstone ? '\u0000tombstone' : dec(v.value)))
      out.push(`${key}: holds a value nobody wrote: ${show(set)}`);
    // A version no store ever took (each held a newer one when it came) was gone at once.
    const firstAt = (ts: Hlc): number =>
      versions.find((x) => compareHlc(x.ts, ts) === 0)?.at ?? -Infinity;
    for (const w of c.history.writes) {
      if (w.key !== key || w.outcome !== 'ok' || w.result === undefined) continue;
      const wts = newestVersion(w.result)!.ts;
      if (w.seen !== undefined && compareHlc(wts, w.seen) <= 0)
        out.push(
          `${key}: write ${w.id} was stamped ${hlcId(wts)}, not above its context ${hlcId(w.seen)}`,
        );
      const behind =
        (v === undefined || compareHlc(wts, v.ts) > 0) && !onlyOnTheDead(c, key, hlcId(wts));
      const purgedAway =
        purgedTs !== undefined && firstAt(wts) <= purgedFrom && compareHlc(wts, purgedTs) <= 0;
      if (behind && !purgedAway)
        out.push(`${key}: acknowledged write ${w.id} (${hlcId(wts)}) lost to ${show(set)}`);
      if (
        v !== undefined &&
        compareHlc(wts, v.ts) === 0 &&
        (w.tombstone !== v.tombstone || (!w.tombstone && w.value !== dec(v.value)))
      )
        out.push(`${key}: two writes share stamp ${hlcId(wts)}`);
    }
  }
  return out;
}

/** Once every tombstone is past its grace period: no node holds a deleted key any more. */
export function checkPurged(c: NodeCluster, final: FinalState): string[] {
  const out: string[] = [];
  for (const [node, sets] of final)
    for (const [key, set] of sets)
      if (isDeleted(set)) out.push(`${node} still holds deleted ${key}: ${show(set)}`);
  return out;
}

export function checkAll(c: NodeCluster, final: FinalState): string[] {
  return [
    ...checkRun(c),
    ...checkConvergence(c, final),
    ...checkTrees(c, final),
    ...checkQuorumReads(c),
    ...(c.policy.mode === 'siblings' ? checkSiblings(c, final) : checkLww(c, final)),
  ];
}

export { show };
