// Quorum arithmetic and per-request consistency options (DESIGN 1.2), validated in one place.

import { InvalidArgumentError } from './errors.js';

export const LEVELS = Object.freeze({ one: 'one', quorum: 'quorum', all: 'all' } as const);
export type LevelName = (typeof LEVELS)[keyof typeof LEVELS];

export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Resolves `one|quorum|all|<1..N>` to a replica count; throws InvalidArgumentError otherwise. */
export function resolveLevel(level: string, n: number, param: 'r' | 'w'): number {
  switch (level) {
    case LEVELS.one:
      return 1;
    case LEVELS.quorum:
      return majority(n);
    case LEVELS.all:
      return n;
  }
  if (/^[0-9]{1,3}$/.test(level)) {
    const k = Number(level);
    if (k >= 1 && k <= n) return k;
    throw new InvalidArgumentError(
      `${param}=${level} is outside 1..${n} (N=${n} replicas hold each key)`,
    );
  }
  throw new InvalidArgumentError(
    `${param} must be one, quorum, all or an integer from 1 to ${n}; got ${JSON.stringify(level).slice(0, 40)}`,
  );
}

export interface RequestParams {
  readonly r?: string | undefined;
  readonly w?: string | undefined;
  readonly consistency?: string | undefined;
  readonly timeout?: string | undefined;
}

export interface ConsistencyDefaults {
  readonly n: number;
  readonly r: string;
  readonly w: string;
  readonly linearizable: boolean;
  readonly timeoutMs: number;
  readonly timeoutMsMax: number;
}

export interface RequestOptions {
  readonly r: number;
  readonly w: number;
  readonly linearizable: boolean;
  readonly timeoutMs: number;
}

export const CONSISTENCY = Object.freeze({
  linearizable: 'linearizable',
  default: 'default',
} as const);

/**
 * Applies the contract's precedence: explicit parameters win over the profile; a profile that
 * is linearizable by default stops being so when the request names r or w below a quorum; an
 * explicit consistency=linearizable with r or w below a quorum is a 400.
 */
export function resolveRequestOptions(p: RequestParams, d: ConsistencyDefaults): RequestOptions {
  const q = majority(d.n);
  const r = resolveLevel(p.r ?? d.r, d.n, 'r');
  const w = resolveLevel(p.w ?? d.w, d.n, 'w');
  let linearizable: boolean;
  if (p.consistency === undefined) {
    linearizable = d.linearizable && r >= q && w >= q;
  } else if (p.consistency === CONSISTENCY.linearizable) {
    if (r < q || w < q) {
      throw new InvalidArgumentError(
        `consistency=linearizable needs r and w of at least a quorum (${q} of ${d.n}); got r=${r}, w=${w}`,
      );
    }
    linearizable = true;
  } else if (p.consistency === CONSISTENCY.default) {
    linearizable = false;
  } else {
    throw new InvalidArgumentError(
      `consistency must be linearizable or default; got ${JSON.stringify(p.consistency).slice(0, 40)}`,
    );
  }
  let timeoutMs = d.timeoutMs;
  if (p.timeout !== undefined) {
    timeoutMs = /^[0-9]{1,9}$/.test(p.timeout) ? Number(p.timeout) : NaN;
    if (!(timeoutMs >= 1 && timeoutMs <= d.timeoutMsMax)) {
      throw new InvalidArgumentError(
        `timeout must be an integer number of milliseconds from 1 to ${d.timeoutMsMax}`,
      );
    }
  }
  return { r, w, linearizable, timeoutMs };
}
