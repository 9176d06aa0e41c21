// Where a chart's numbers go on the picture: linear scales, round ticks, a polyline path. No
// DOM here, so the unit tests run it.

/** Maps [d0, d1] linearly onto [r0, r1] (a flat domain maps everything to r0). */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0;
  return (v) => (span === 0 ? r0 : r0 + ((v - d0) / span) * (r1 - r0));
}

/** The least of 1, 2 or 5 times a power of ten that is >= x (x > 0). */
function roundStep(x: number): number {
  const decade = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) {
    const step = Number((m * decade).toPrecision(12));
    if (step >= x) return step;
  }
  return 10 * decade;
}

/**
 * Ticks from 0 to `max` at a round step, at most `most` intervals: 0, 0.2, … 1 for 1 ms;
 * 0, 0.5, … 2 for 2. The last tick is at or below max.
 */
export function roundTicks(max: number, most = 5): number[] {
  if (!(max > 0 && Number.isFinite(max))) return [0];
  const step = roundStep(max / most);
  const ticks: number[] = [];
  // Each tick from its index (not by adding steps), rounded, so 3 * 0.2 shows as 0.6.
  for (let i = 0; i * step <= max * (1 + 1e-9); i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** An SVG path through the points, in order. */
export function polyline(points: readonly (readonly [number, number])[]): string {
  return points
    .map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x.toFixed(1)} ${y.toFixed(1)}`)
    .join(' ');
}

/** The first t at which p reaches `share`, or null if it never does on these points. */
export function firstReaching(
  tMs: readonly number[],
  p: readonly number[],
  share: number,
): number | null {
  const i = p.findIndex((x) => x >= share);
  return i < 0 ? null : (tMs[i] ?? null);
}
