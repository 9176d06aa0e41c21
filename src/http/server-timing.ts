// The Server-Timing header of DESIGN 1.2: one entry per replica, on answers and on errors.

import type { TimingEntry } from '../core/errors.js';

export function serverTiming(timings: readonly TimingEntry[]): string {
  let s = '';
  for (const t of timings) {
    if (s.length > 0) s += ', ';
    s += `${t.node};dur=${t.durMs.toFixed(1)};desc="${t.desc}"`;
  }
  return s;
}
