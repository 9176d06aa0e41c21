// The PBS panel's content: the predicted probability of a consistent read against t (ms since
// the write was acknowledged) as one line per (R, W), drawn as SVG here (no chart library: the
// page works offline), with a table of each pair's predicted latencies beside it. Until the
// node has measured enough of its own traffic it says so instead of drawing a guess.

import { seriesColor } from './colors.js';
import { firstReaching, linearScale, polyline, roundTicks } from './curve-geometry.js';
import { h, s } from './dom.js';
import { clockTime, ms, percent } from './format.js';
import type { PbsCurve, PbsCurves } from './wire.js';

const WIDTH = 560;
const HEIGHT = 290;
const PLOT = { left: 50, right: WIDTH - 16, top: 14, bottom: HEIGHT - 44 };
/** Pairs that may read stale take the page's palette in turn; strict quorums (always 1) share a quiet grey. */
const STRICT_COLOR = '#b4bcc6';
/** The share a "consistent after" figure is for: the 99th percentile of the staleness window. */
const ALMOST_ALL = 0.99;

const pairName = (c: PbsCurve) => `R=${c.r} W=${c.w}`;

function colorsOf(curves: readonly PbsCurve[]): Map<PbsCurve, string> {
  let i = 0;
  return new Map(curves.map((c) => [c, c.strictQuorum ? STRICT_COLOR : seriesColor(i++)]));
}

/** Milliseconds on the axis: as few digits as the ticks need. */
const tickMs = (v: number) => String(Number(v.toPrecision(6)));

function chart(a: PbsCurves, colors: ReadonlyMap<PbsCurve, string>): SVGSVGElement {
  const t0 = a.tMs[0] ?? 0;
  const t1 = a.tMs[a.tMs.length - 1] ?? 1;
  const x = linearScale(t0, t1, PLOT.left, PLOT.right);
  const y = linearScale(0, 1, PLOT.bottom, PLOT.top);
  const svg = s('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: 'pbs-chart',
    id: 'pbs-chart',
    role: 'img',
    'aria-label': `probability of a consistent read against time since the write, for ${a.curves.length} choices of R and W`,
  });
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    svg.appendChild(
      s('line', { x1: PLOT.left, x2: PLOT.right, y1: y(p), y2: y(p), class: 'gridline' }),
    );
    svg.appendChild(s('text', { x: PLOT.left - 6, y: y(p) + 4, class: 'tick y' }, percent(p)));
  }
  for (const t of roundTicks(t1 - t0).map((d) => t0 + d)) {
    svg.appendChild(
      s('line', { x1: x(t), x2: x(t), y1: PLOT.top, y2: PLOT.bottom, class: 'gridline' }),
    );
    svg.appendChild(s('text', { x: x(t), y: PLOT.bottom + 16, class: 'tick x' }, tickMs(t)));
  }
  svg.appendChild(
    s(
      'text',
      { x: (PLOT.left + PLOT.right) / 2, y: HEIGHT - 6, class: 'axis-title' },
      't: ms after the write was acknowledged',
    ),
  );
  // Strict quorums first, so the lines that can read stale are drawn over them.
  const order = [...a.curves].sort((p, q) => Number(q.strictQuorum) - Number(p.strictQuorum));
  for (const c of order) {
    const points = c.pConsistent;
    if (points === null) continue;
    const path = s('path', {
      d: polyline(a.tMs.map((t, i) => [x(t), y(points[i] ?? 0)] as const)),
      class: `pbs-line${c.strictQuorum ? ' strict' : ''}`,
      stroke: colors.get(c) ?? STRICT_COLOR,
      fill: 'none',
      'data-r': c.r,
      'data-w': c.w,
      'data-strict': c.strictQuorum,
      'data-last': points[points.length - 1],
    });
    path.appendChild(s('title', {}, `${pairName(c)}: ${whenConsistent(a, c)}`));
    svg.appendChild(path);
  }
  return svg;
}

/** When a pair's reads are consistent: always, or from t = 0 with p, and 99% after some t. */
function whenConsistent(a: PbsCurves, c: PbsCurve): string {
  if (c.strictQuorum) return 'R+W>N: every read is consistent';
  const points = c.pConsistent ?? [];
  const after = firstReaching(a.tMs, points, ALMOST_ALL);
  const first = `${percent(points[0] ?? 0, 1)} at ${tickMs(a.tMs[0] ?? 0)} ms`;
  return after === null ? first : `${first}, ${percent(ALMOST_ALL)} from ${ms(after)}`;
}

const quantiles = (q: { p50: number; p99: number } | null) =>
  q === null ? '–' : `${ms(q.p50)} / ${ms(q.p99)}`;

function table(a: PbsCurves, colors: ReadonlyMap<PbsCurve, string>): HTMLTableElement {
  const rows = a.curves.map((c) => {
    const swatch = h('span', { class: 'line-swatch' });
    swatch.style.backgroundColor = colors.get(c) ?? STRICT_COLOR;
    const points = c.pConsistent ?? [];
    const after = c.strictQuorum ? 0 : firstReaching(a.tMs, points, ALMOST_ALL);
    return h(
      'tr',
      { 'data-r': c.r, 'data-w': c.w, class: c.strictQuorum ? 'strict' : '' },
      h('td', {}, swatch, pairName(c)),
      h('td', {}, c.strictQuorum ? 'strict' : ''),
      h('td', { class: 'num' }, a.tMs[0] === 0 ? percent(points[0] ?? 0, 1) : '–'),
      h(
        'td',
        { class: 'num' },
        after === null ? `> ${ms(a.tMs[a.tMs.length - 1])}` : after === 0 ? 'at once' : ms(after),
      ),
      h('td', { class: 'num' }, quantiles(c.readMs)),
      h('td', { class: 'num' }, quantiles(c.writeMs)),
    );
  });
  return h(
    'table',
    { class: 'table pbs-table', id: 'pbs-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'R, W'),
        h('th', {}, 'R+W>N'),
        h('th', { class: 'num', title: 'read issued as the write is acknowledged' }, 'P at t=0'),
        h(
          'th',
          { class: 'num', title: `t from which ${percent(ALMOST_ALL)} of reads are consistent` },
          `${percent(ALMOST_ALL)} from`,
        ),
        h('th', { class: 'num' }, 'read p50 / p99'),
        h('th', { class: 'num' }, 'write p50 / p99'),
      ),
    ),
    h('tbody', {}, ...rows),
  );
}

function notes(a: PbsCurves): HTMLUListElement | null {
  if (a.notes.length === 0) return null;
  return h('ul', { class: 'notes muted small' }, ...a.notes.map((n) => h('li', {}, n)));
}

/** Too few of the node's own replies yet: say so, and what it has, rather than draw a guess. */
function empty(a: PbsCurves): HTMLElement {
  const measured = Object.entries(a.samples)
    .map(([id, m]) => `${id} ${m.writes} writes, ${m.reads} reads`)
    .join('; ');
  return h(
    'div',
    { class: 'empty', id: 'pbs-empty' },
    h('p', { class: 'empty-title' }, 'No traffic measured yet'),
    h(
      'p',
      {},
      `${a.node} predicts from the round trips of the reads and writes it coordinated itself, and has too few of them so far (${measured}). Send some through ${a.node}; the curve is redrawn every few seconds.`,
    ),
    notes(a),
  );
}

/** The panel for one answer, taken at wall-clock `atMs`. */
export function pbsView(a: PbsCurves, atMs: number): HTMLElement {
  const caption = h(
    'p',
    { class: 'muted small' },
    `P(a read returns the latest write) t ms after the write was acknowledged, from the latencies ${a.node} measured on the reads and writes it coordinated · N=${a.n} · ${a.trials} trials · ${clockTime(atMs)}`,
  );
  if (!a.enoughSamples) return h('div', { 'data-state': 'empty' }, caption, empty(a));
  const colors = colorsOf(a.curves);
  return h(
    'div',
    { 'data-state': 'curve' },
    caption,
    h('div', { class: 'pbs-body' }, chart(a, colors), table(a, colors)),
    notes(a),
  );
}
