// How old the newest acknowledged write was when each read began, and whether the read saw it:
// the measured side of PBS's t-visibility. PBS asks about a read issued t ms after the latest
// write was acknowledged, with nothing else going on; a read that overlapped another write of
// its key (one still in flight when it began, or sent while it was out) could return that one
// or be ordered around it, so it answers a different question and is left out, counted.
// Pure: records in, ages out.

import type { OpRecord } from './records.js';
import { groupByKey, reflectsIn } from './stale-reads.js';

export interface ReadAge {
  readonly read: OpRecord;
  /** The acknowledged write of the key that completed last before the read began. */
  readonly latest: OpRecord;
  /** read.invokeAt - latest.completeAt in ms, as the client saw them (always > 0). */
  readonly tMs: number;
  /** The read did not reflect `latest` (neither its value nor one that supersedes it). */
  readonly stale: boolean;
  /** The read went through the node that coordinated `latest`: the case PBS models. */
  readonly sameCoordinator: boolean;
}

export interface ReadAges {
  /**
   * ok reads during the run that began after an acknowledged write of their key: the same
   * reads the stale-read count looks at (StaleReads.eligible).
   */
  readonly eligible: number;
  /** Eligible reads left out because a write of the key not known to have failed overlapped them. */
  readonly overlapped: number;
  /** The rest, one entry each, in record order per key. */
  readonly ages: readonly ReadAge[];
}

/** The last index i with key(items[i]) < x in items sorted by key, or -1. */
function lastBelow<T>(items: readonly T[], key: (item: T) => number, x: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(items[mid]!) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

export function readAges(records: readonly OpRecord[], mode: 'lww' | 'siblings'): ReadAges {
  let eligible = 0;
  let overlapped = 0;
  const ages: ReadAge[] = [];
  for (const ops of groupByKey(records).values()) {
    const writes = ops.filter((o) => o.f === 'write');
    const acked = writes
      .filter((w) => w.outcome === 'ok')
      .sort((a, b) => a.completeAt - b.completeAt);
    // A failed write (503, 4xx, refused) wrote nothing; an unknown one may land at any time
    // until the client gave up on it, and is in flight until then.
    const live = writes.filter((w) => w.outcome !== 'fail').sort((a, b) => a.invokeAt - b.invokeAt);
    // latestEnd[i]: the latest completion among live[0..i], so one search finds any overlap.
    const latestEnd: number[] = [];
    for (const w of live) latestEnd.push(Math.max(latestEnd.at(-1) ?? -Infinity, w.completeAt));
    const reflects = reflectsIn(ops, mode);
    for (const read of ops) {
      if (read.f !== 'read' || read.outcome !== 'ok' || read.final) continue;
      const i = lastBelow(acked, (w) => w.completeAt, read.invokeAt);
      if (i < 0) continue;
      eligible += 1;
      const j = lastBelow(live, (w) => w.invokeAt, read.completeAt);
      if (j >= 0 && latestEnd[j]! > read.invokeAt) {
        overlapped += 1;
        continue;
      }
      const latest = acked[i]!;
      ages.push({
        read,
        latest,
        tMs: read.invokeAt - latest.completeAt,
        stale: !reflects(read.values ?? [], latest),
        sameCoordinator: read.node === latest.node,
      });
    }
  }
  return { eligible, overlapped, ages };
}
