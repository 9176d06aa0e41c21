// GET /admin/pbs's query string: t, how long after a write was acknowledged the read is issued
// (ms, default 0: at once, the hardest case), and k, how many versions behind it may be
// (default 1: the write itself). GET /admin/pbs/curve's: t as a list, the curve's points.
// Anything else is refused, so a typo answers 400 instead of a prediction for something other
// than what was asked.

import { LIMITS } from '../config.js';
import { InvalidArgumentError } from '../core/errors.js';

export interface PbsQuery {
  readonly tMs: number;
  readonly k: number;
}

export const PBS_QUERY_DEFAULTS: PbsQuery = Object.freeze({ tMs: 0, k: 1 });

const NAMES = ['t', 'k'];
/** Milliseconds, with a fraction: on loopback the whole curve lies under one. */
const DECIMAL = /^[0-9]{1,5}(\.[0-9]{1,3})?$/;
const INTEGER = /^[0-9]{1,3}$/;

function param(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined || typeof v === 'string') return v;
  throw new InvalidArgumentError(`query parameter ${name} was given more than once`);
}

export function parsePbsQuery(raw: unknown): PbsQuery {
  const query = (raw ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(query).find((name) => !NAMES.includes(name));
  if (unknown !== undefined)
    throw new InvalidArgumentError(
      `unknown query parameter ${JSON.stringify(unknown.slice(0, 40))}; /admin/pbs takes t (ms after the write) and k (versions)`,
    );
  const t = param(query, 't');
  const k = param(query, 'k');
  const tMs = t === undefined ? PBS_QUERY_DEFAULTS.tMs : DECIMAL.test(t) ? Number(t) : NaN;
  if (!(tMs >= 0 && tMs <= LIMITS.pbsTMsMax))
    throw new InvalidArgumentError(
      `t must be a number of milliseconds from 0 to ${LIMITS.pbsTMsMax} (up to 3 decimals); got ${JSON.stringify(t?.slice(0, 40))}`,
    );
  const versions = k === undefined ? PBS_QUERY_DEFAULTS.k : INTEGER.test(k) ? Number(k) : NaN;
  if (!(versions >= 1 && versions <= LIMITS.pbsKMax))
    throw new InvalidArgumentError(
      `k must be a whole number of versions from 1 to ${LIMITS.pbsKMax}; got ${JSON.stringify(k?.slice(0, 40))}`,
    );
  return { tMs, k: versions };
}

export interface PbsCurveQuery {
  /** The curve's points, ascending; undefined: the node picks them. */
  readonly tMs: readonly number[] | undefined;
}

const ordinal = (i: number) => `value ${i + 1}`;

export function parsePbsCurveQuery(raw: unknown): PbsCurveQuery {
  const query = (raw ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(query).find((name) => name !== 't');
  if (unknown !== undefined)
    throw new InvalidArgumentError(
      `unknown query parameter ${JSON.stringify(unknown.slice(0, 40))}; /admin/pbs/curve takes only t, a comma-separated list of ms after the write`,
    );
  const t = param(query, 't');
  if (t === undefined) return { tMs: undefined };
  const values = t.split(',');
  if (values.length > LIMITS.pbsCurvePointsMax)
    throw new InvalidArgumentError(
      `t lists at most ${LIMITS.pbsCurvePointsMax} values; got ${values.length}`,
    );
  const tMs = values.map((v, i) => {
    const ms = DECIMAL.test(v) ? Number(v) : NaN;
    if (!(ms >= 0 && ms <= LIMITS.pbsTMsMax))
      throw new InvalidArgumentError(
        `each t must be a number of milliseconds from 0 to ${LIMITS.pbsTMsMax} (up to 3 decimals); ${ordinal(i)} is ${JSON.stringify(v.slice(0, 40))}`,
      );
    return ms;
  });
  tMs.forEach((ms, i) => {
    const before = tMs[i - 1];
    if (before !== undefined && !(ms > before))
      throw new InvalidArgumentError(
        `t must list increasing values, one per point; ${ordinal(i)} (${ms}) follows ${before}`,
      );
  });
  return { tMs };
}
