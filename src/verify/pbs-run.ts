// The --compare-pbs step of a `kvorum verify` run: the (R, W) the clients' requests ran at,
// every member's PBS curve asked once the workload has stopped (before the heal, while the
// nodes still hold what they measured under the run's conditions), and, once the history is
// complete, the comparison.

import { PROFILES, type ProfileName } from '../config.js';
import { resolveLevel } from '../core/quorum.js';
import type { NodeApi } from './node-api.js';
import { comparePbs, type PbsComparison } from './pbs-compare.js';
import { fetchPbsCurve, type CurveOutcome } from './pbs-curve.js';
import { readAges } from './read-ages.js';
import type { OpRecord } from './records.js';
import { VERIFY_LIMITS } from './verify-limits.js';

export interface Levels {
  readonly r: number;
  readonly w: number;
  readonly n: number;
}

/** The clients send no ?r= or ?w=: their requests run at the profile's levels. */
export function profileLevels(profile: ProfileName, n: number): Levels {
  const levels = PROFILES[profile];
  return { r: resolveLevel(levels.r, n, 'r'), w: resolveLevel(levels.w, n, 'w'), n };
}

/** What the nodes predicted, at the levels the clients ran at. */
export interface Predicted {
  readonly levels: Levels;
  readonly curves: readonly CurveOutcome[];
}

/**
 * Every node's curve, one node after another: each walks its grid within a model's second,
 * and the nodes need not agree on a moment, since each speaks for its own reads.
 */
export async function askEveryNode(
  nodes: readonly NodeApi[],
  cluster: { readonly profile: ProfileName; readonly n: number },
): Promise<Predicted> {
  const levels = profileLevels(cluster.profile, cluster.n);
  const curves: CurveOutcome[] = [];
  for (const node of nodes) {
    curves.push(
      await fetchPbsCurve(node.id, (t) => node.pbs(t), levels, VERIFY_LIMITS.pbsCompareGridMs),
    );
  }
  return { levels, curves };
}

export function comparisonOf(
  records: readonly OpRecord[],
  mode: 'lww' | 'siblings',
  predicted: Predicted,
): PbsComparison {
  return comparePbs({
    ages: readAges(records, mode),
    ...predicted,
    edgesMs: VERIFY_LIMITS.pbsCompareEdgesMs,
  });
}
