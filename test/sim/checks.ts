// The properties a healed cluster must have, each returning the violations it found (empty
// when it holds), so a failing seed reports everything wrong with it at once.

import { newestVersion } from '../../src/core/conflicts.js';
import { compareHlc } from '../../src/core/hlc.js';
import { covers, type Dot } from '../../src/core/version-set.js';
import { dotId, hlcId, type SimCluster } from './sim-cluster.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const sameDot = (a: Dot | null, b: Dot): boolean =>
  a !== null && a.node === b.node && a.counter === b.counter;

/** Nothing the run itself flags: errors of the wrong kind, requests that never ended. */
export function checkRun(c: SimCluster): string[] {
  const out = [...c.history.unexpected, ...c.history.anomalies];
  for (const w of c.history.writes) {
    if (w.outcome === 'pending') out.push(`write ${w.id} of ${w.key} never answered`);
    if (w.outcome === 'ok' && (w.holdersAtAck ?? 0) < w.w)
      out.push(`write ${w.id} of ${w.key} was acknowledged at w=${w.w} held by ${w.holdersAtAck}`);
  }
  return out;
}

/**
 * Strict quorums intersect: a read with R + W > N that starts after a write was acknowledged
 * answers with a set that holds the write or supersedes it.
 */
export function checkQuorumReads(c: SimCluster): string[] {
  if (c.o.sloppyQuorum) return [];
  const out: string[] = [];
  for (const w of c.history.writes) {
    if (w.outcome !== 'ok' || w.result === undefined || w.ackedAt === undefined) continue;
    for (const r of c.history.reads) {
      if (r.key !== w.key || r.r + w.w <= c.n || r.startedAt <= w.ackedAt) continue;
      if (r.set === undefined || !c.policy.dominates(r.set, w.result))
        out.push(
          `read of ${r.key} at t=${r.startedAt} (r=${r.r}) missed write ${w.id} acknowledged at t=${w.ackedAt} (w=${w.w}): ${show(r.set)}`,
        );
    }
  }
  return out;
}

/** (a) Every replica of every key holds an equal set, and no other node holds the key. */
export function checkConvergence(c: SimCluster): string[] {
  const out: string[] = [];
  for (const key of c.writtenKeys()) {
    const pref = c.preferenceList(key);
    const first = c.replicas.get(pref[0]!)!.read(key);
    for (const node of pref.slice(1)) {
      const other = c.replicas.get(node)!.read(key);
      if (!c.policy.equals(first, other))
        out.push(`${key}: ${pref[0]} and ${node} differ: ${show(first)} vs ${show(other)}`);
    }
    for (const node of c.nodeIds)
      if (!pref.includes(node) && c.replicas.get(node)!.read(key) !== undefined)
        out.push(`${key}: ${node} is not a replica but holds it`);
  }
  for (const r of c.replicas.values())
    if (r.hintCount() > 0) out.push(`${r.id} still holds ${r.hintCount()} hints`);
  return out;
}

/** The trees kept up on every change equal trees rebuilt from the stores, and agree pairwise. */
export function checkTrees(c: SimCluster): string[] {
  const out: string[] = [];
  const all = Array.from({ length: 32 }, (_, g) => g);
  for (const a of c.replicas.values()) {
    for (const [peer, tree] of a.trees) {
      const rebuilt = a.rebuiltTree(peer);
      if (hex(tree.leafHashes(all)) !== hex(rebuilt.leafHashes(all)))
        out.push(`${a.id}'s tree for ${peer} is not what its store holds`);
      const mirror = c.replicas.get(peer)!.trees.get(a.id)!;
      if (hex(tree.groupHashes()) !== hex(mirror.groupHashes()))
        out.push(`${a.id} and ${peer} disagree after convergence`);
    }
  }
  return out;
}

/**
 * (b) Siblings mode: every acknowledged write is still a sibling on every replica, or was
 * superseded by a write whose context covered its dot. And every sibling anywhere is a write
 * some replica issued, with the value it was issued with.
 */
export function checkSiblings(c: SimCluster): string[] {
  const out: string[] = [];
  const issued = [...c.history.issuedDots.values()];
  for (const w of c.history.writes) {
    if (w.outcome !== 'ok') continue;
    const dot = c.history.dotOf.get(w.content);
    if (dot === undefined || !w.result?.siblings.some((s) => sameDot(s.dot, dot))) {
      out.push(`write ${w.id} of ${w.key} was acknowledged with a set that lacks it`);
      continue;
    }
    const supersededBy = issued.find((x) => x.key === w.key && covers(x.context, dot));
    for (const node of c.preferenceList(w.key)) {
      const set = c.replicas.get(node)!.read(w.key);
      const held = set?.siblings.some((s) => sameDot(s.dot, dot)) ?? false;
      if (!held && supersededBy === undefined)
        out.push(
          `acknowledged write ${w.id} (${dotId(w.key, dot)}, w=${w.w}) is lost on ${node}: ${show(set)}`,
        );
      if (
        held &&
        set !== undefined &&
        !set.clock.some(([n, k]) => n === dot.node && k >= dot.counter)
      )
        out.push(`${node} holds ${dotId(w.key, dot)} under a clock that does not cover it`);
    }
  }
  for (const key of c.writtenKeys()) {
    for (const node of c.preferenceList(key)) {
      for (const s of c.replicas.get(node)!.read(key)?.siblings ?? []) {
        const x = s.dot === null ? undefined : c.history.issuedDots.get(dotId(key, s.dot));
        if (x === undefined) out.push(`${node}: ${key} holds a sibling nobody issued`);
        else if (x.tombstone !== s.tombstone || (!s.tombstone && x.value !== dec(s.value)))
          out.push(`${node}: ${key} holds ${dotId(key, s.dot!)} with another value`);
      }
    }
  }
  return out;
}

/**
 * (c) Lww mode: each key's value is the write with the highest stamp that reached any replica,
 * and it is a write a client made, with the stamp it was made with; no acknowledged write
 * has a higher stamp.
 */
export function checkLww(c: SimCluster): string[] {
  const out: string[] = [];
  const written = new Map<string, Set<string>>();
  for (const w of c.history.writes) {
    if (!written.has(w.key)) written.set(w.key, new Set());
    written.get(w.key)!.add(w.tombstone ? '\u0000tombstone' : w.value);
  }
  for (const key of c.writtenKeys()) {
    const set = c.replicas.get(c.preferenceList(key)[0]!)!.read(key);
    const max = c.history.maxStored.get(key);
    if (set === undefined) {
      if (max !== undefined) out.push(`${key}: was stored but no replica holds it`);
      continue;
    }
    if (set.siblings.length !== 1 || set.clock.length !== 0)
      out.push(`${key}: lww state is not one version: ${show(set)}`);
    const v = newestVersion(set)!;
    if (max === undefined || compareHlc(v.ts, max) !== 0)
      out.push(`${key}: holds ${hlcId(v.ts)} but ${max && hlcId(max)} was stored`);
    if (!written.get(key)!.has(v.tombstone ? '\u0000tombstone' : dec(v.value)))
      out.push(`${key}: holds a value nobody wrote: ${show(set)}`);
    for (const w of c.history.writes) {
      if (w.key !== key || w.outcome !== 'ok' || w.result === undefined) continue;
      const wts = newestVersion(w.result)!.ts;
      if (w.seen !== undefined && compareHlc(wts, w.seen) <= 0)
        out.push(
          `${key}: write ${w.id} was stamped ${hlcId(wts)}, not above its context ${hlcId(w.seen)}`,
        );
      const cmp = compareHlc(wts, v.ts);
      if (cmp > 0) out.push(`${key}: acknowledged write ${w.id} (${hlcId(wts)}) lost to older`);
      if (cmp === 0 && (w.tombstone !== v.tombstone || (!w.tombstone && w.value !== dec(v.value))))
        out.push(`${key}: two writes share stamp ${hlcId(wts)}`);
    }
  }
  return out;
}

export function checkAll(c: SimCluster): string[] {
  return [
    ...checkRun(c),
    ...checkConvergence(c),
    ...checkTrees(c),
    ...checkQuorumReads(c),
    ...(c.policy.mode === 'siblings' ? checkSiblings(c) : checkLww(c)),
  ];
}

function show(
  set:
    | {
        clock: readonly (readonly [string, number])[];
        siblings: readonly {
          dot: Dot | null;
          tombstone: boolean;
          value: Uint8Array;
          ts: { wallMs: number; logical: number; node: string };
        }[];
      }
    | undefined,
): string {
  if (set === undefined) return 'nothing';
  const clock = set.clock.map(([n, k]) => `${n}:${k}`).join(',');
  const sibs = set.siblings
    .map(
      (s) =>
        `${s.dot ? `${s.dot.node}:${s.dot.counter}` : hlcId(s.ts)}=${s.tombstone ? '⊥' : dec(s.value)}`,
    )
    .join(' ');
  return `{${clock}} [${sibs}]`;
}
