// One anti-entropy exchange between this node and a peer (Dynamo section 4.7): walk both hash
// trees down to the segments that differ, compare key digests there, and merge both ways the
// keys that differ. All I/O goes through ExchangeLocal and ExchangeRemote, so the replica (over
// TCP and its store) and the simulation (over a seeded network) run the same code.
//
// The cost follows the difference, not the data: trees that agree cost one message, and each
// further step asks only about what the step before found different.

import { LIMITS } from '../config.js';
import type { ConflictPolicy } from './conflicts.js';
import { DIGEST_BYTES, differingIndexes, packDigests, segmentOf, setDigest } from './merkle.js';
import type { HashTree } from './merkle.js';
import type { VersionSet } from './version-set.js';

/** Keys and their set digests, 8 bytes per key in the same order. */
export interface KeyDigests {
  readonly keys: readonly string[];
  readonly digests: Uint8Array;
}

/** The peer, over the network. */
export interface ExchangeRemote {
  /** The peer's group hashes of its tree for this node. */
  groups(): Promise<Uint8Array>;
  /** Each asked group's leaves, in order. */
  leaves(groups: readonly number[]): Promise<Uint8Array>;
  /** The peer's keys in those segments that this node replicates too. */
  keys(segments: readonly number[]): Promise<KeyDigests>;
  /**
   * The sets of a prefix of `keys` (at least one; as many as fit the peer's reply budget), null
   * for a key the peer does not hold.
   */
  fetch(keys: readonly string[]): Promise<readonly (VersionSet | null)[]>;
  /** The peer merges `set` into what it holds. */
  push(key: string, set: VersionSet): Promise<void>;
}

/** This node's side, for one peer. */
export interface ExchangeLocal {
  /** This node's tree over the keys it shares with the peer. */
  readonly tree: HashTree;
  /** Keys in those segments this node shares with the peer. */
  keys(segments: readonly number[]): Promise<KeyDigests>;
  get(keys: readonly string[]): Promise<readonly (VersionSet | undefined)[]>;
  merge(key: string, set: VersionSet): Promise<void>;
}

export interface ExchangeResult {
  readonly groupsDiffering: number;
  readonly segmentsDiffering: number;
  /** Keys found to differ (those past keysMax included); each exchange looks no further. */
  readonly keysDiffering: number;
  /** Keys where either side changed. */
  readonly keysRepaired: number;
  /** Keys this node took in. */
  readonly pulled: number;
  /** Keys the peer was sent. */
  readonly pushed: number;
  /** More keys differ than this exchange repaired; the next one continues. */
  readonly truncated: boolean;
}

export interface ExchangeOptions {
  /** Differing keys repaired per exchange. */
  readonly keysMax?: number;
  /** Groups, segments or keys one request may name. */
  readonly itemsPerMessage?: number;
}

function positiveInt(x: number, what: string): number {
  if (!Number.isInteger(x) || x < 1) throw new RangeError(`${what} must be a positive integer`);
  return x;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function checkKeyDigests(r: KeyDigests, who: string): void {
  if (r.digests.length !== r.keys.length * DIGEST_BYTES)
    throw new Error(`${who} sent ${r.keys.length} keys with ${r.digests.length} digest bytes`);
}

function sameEntry(a: Uint8Array, i: number, b: Uint8Array, j: number): boolean {
  for (let k = 0; k < DIGEST_BYTES; k++)
    if (a[i * DIGEST_BYTES + k] !== b[j * DIGEST_BYTES + k]) return false;
  return true;
}

/** Keys held on one side only, or held with different digests, in the order first seen. */
function differingKeys(mine: KeyDigests, theirs: KeyDigests): string[] {
  const at = new Map<string, number>();
  mine.keys.forEach((k, i) => at.set(k, i));
  const out: string[] = [];
  const seen = new Set<string>();
  theirs.keys.forEach((k, j) => {
    seen.add(k);
    const i = at.get(k);
    if (i === undefined || !sameEntry(mine.digests, i, theirs.digests, j)) out.push(k);
  });
  for (const k of mine.keys) if (!seen.has(k)) out.push(k);
  return out;
}

/** Runs one exchange with the peer; rejects if a request to it fails (the next one retries). */
export async function exchange(
  local: ExchangeLocal,
  remote: ExchangeRemote,
  policy: ConflictPolicy,
  opts: ExchangeOptions = {},
): Promise<ExchangeResult> {
  const keysMax = positiveInt(opts.keysMax ?? LIMITS.aeKeysPerExchangeMax, 'keysMax');
  const perMessage = positiveInt(
    opts.itemsPerMessage ?? LIMITS.aeItemsPerMessageMax,
    'itemsPerMessage',
  );
  const { tree } = local;

  const theirGroups = await remote.groups();
  const myGroups = tree.groupHashes();
  if (theirGroups.length !== myGroups.length)
    throw new Error(
      `the peer's tree has ${theirGroups.length / DIGEST_BYTES} groups, this node's ${tree.groups}`,
    );
  const groups = differingIndexes(myGroups, theirGroups);
  const result = {
    groupsDiffering: groups.length,
    segmentsDiffering: 0,
    keysDiffering: 0,
    keysRepaired: 0,
    pulled: 0,
    pushed: 0,
    truncated: false,
  };
  if (groups.length === 0) return result;

  const segments: number[] = [];
  for (const part of chunks(groups, perMessage)) {
    const theirs = await remote.leaves(part);
    // Read after the reply, so writes that landed meanwhile on both sides do not show up.
    const mine = tree.leafHashes(part);
    if (theirs.length !== mine.length)
      throw new Error(`the peer sent ${theirs.length} leaf bytes for ${part.length} groups`);
    for (const i of differingIndexes(mine, theirs)) {
      const group = part[Math.floor(i / tree.perGroup)] as number;
      segments.push(group * tree.perGroup + (i % tree.perGroup));
    }
  }
  result.segmentsDiffering = segments.length;

  // Segments are examined until keysMax differing keys are found; the rest wait for next time.
  const keys: string[] = [];
  // Few segments per request: a reply lists every key in them, and must fit in one frame.
  for (const part of chunks(segments, Math.min(perMessage, LIMITS.aeSegmentsPerKeysRequest))) {
    if (keys.length >= keysMax) {
      result.truncated = true;
      break;
    }
    const [mine, theirs] = await Promise.all([local.keys(part), remote.keys(part)]);
    checkKeyDigests(mine, 'this node');
    checkKeyDigests(theirs, 'the peer');
    const asked = new Set(part);
    for (const key of differingKeys(mine, theirs)) {
      // A peer answering outside the segments asked is not trusted with them.
      if (!asked.has(segmentOf(key, tree.segments))) continue;
      result.keysDiffering += 1;
      if (keys.length < keysMax) keys.push(key);
      else result.truncated = true;
    }
  }

  // The peer answers a prefix of the keys asked, as many sets as fit its byte budget (at least
  // one), so large values cannot make a batch too big to ever send; the rest are asked next.
  let rest: readonly string[] = keys;
  while (rest.length > 0) {
    const asked = rest.slice(0, perMessage);
    const theirs = await remote.fetch(asked);
    if (theirs.length === 0 || theirs.length > asked.length)
      throw new Error(`asked for ${asked.length} keys, got ${theirs.length}`);
    const part = asked.slice(0, theirs.length);
    rest = rest.slice(theirs.length);
    const mine = await local.get(part);
    if (mine.length !== part.length)
      throw new Error(`asked this node for ${part.length} keys, got ${mine.length}`);
    const writes: Promise<void>[] = [];
    part.forEach((key, i) => {
      const r = theirs[i] ?? undefined;
      const l = mine[i];
      let merged: VersionSet;
      if (r === undefined) {
        if (l === undefined) return;
        merged = l;
      } else merged = policy.merge(l, r);
      const pull = !policy.equals(l, merged);
      const push = !policy.equals(r, merged);
      if (pull) {
        result.pulled += 1;
        writes.push(local.merge(key, merged));
      }
      if (push) {
        result.pushed += 1;
        writes.push(remote.push(key, merged));
      }
      if (pull || push) result.keysRepaired += 1;
    });
    await Promise.all(writes);
  }
  return result;
}

/**
 * The serving side's answer to an aeKeys request, from the entries it holds in those segments
 * (already limited to keys the asking peer replicates): keys with their set digests.
 */
export function keyDigests(entries: Iterable<readonly [string, VersionSet]>): KeyDigests {
  const keys: string[] = [];
  const digests: Uint8Array[] = [];
  for (const [key, set] of entries) {
    keys.push(key);
    digests.push(setDigest(set));
  }
  return { keys, digests: packDigests(digests) };
}
