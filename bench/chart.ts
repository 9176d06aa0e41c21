// A hand-written SVG: p50 and p99 latency of PUT and GET at each consistency level, without
// and with the 20 ms delay on n3's links, on a log scale, with etcd's p99 as a reference line.

import type { BenchRun } from './results.js';
import { levelResult } from './report.js';
import { LEVELS } from './scenarios.js';

const WIDTH = 980;
const HEIGHT = 470;
const PANEL_WIDTH = 450;
const PLOT_TOP = 110;
const PLOT_BOTTOM = 400;
const AXIS_LEFT = 60;
const BAR_WIDTH = 18;
const GROUP_WIDTH = 96;

const SERIES = [
  { name: 'p50', delayed: false, color: '#4c78a8', pick: 'p50Ms' },
  { name: 'p50, 20 ms delay', delayed: true, color: '#9ecae9', pick: 'p50Ms' },
  { name: 'p99', delayed: false, color: '#e45756', pick: 'p99Ms' },
  { name: 'p99, 20 ms delay', delayed: true, color: '#ff9d98', pick: 'p99Ms' },
] as const;

export function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

interface Scale {
  /** Grid values, 1-2-5 per decade, from the bottom of the axis to its top. */
  readonly ticks: readonly number[];
  y(ms: number): number;
}

/** A log axis from the decade below the smallest value to the 1-2-5 step above the largest. */
function logScale(values: number[]): Scale {
  const lo = Math.min(...values);
  const hi = Math.max(...values) * 1.1;
  const ticks: number[] = [];
  for (
    let decade = 10 ** Math.floor(Math.log10(lo));
    ticks.length === 0 || ticks.at(-1)! < hi;
    decade *= 10
  )
    for (const step of [1, 2, 5])
      if (ticks.length === 0 || ticks.at(-1)! < hi) ticks.push(step * decade);
  const minMs = ticks[0] as number;
  const span = Math.log10(ticks.at(-1) as number) - Math.log10(minMs);
  return {
    ticks,
    y: (ms) =>
      PLOT_BOTTOM -
      ((Math.log10(Math.max(ms, minMs)) - Math.log10(minMs)) / span) * (PLOT_BOTTOM - PLOT_TOP),
  };
}

function panel(run: BenchRun, op: 'put' | 'get', left: number, scale: Scale): string[] {
  const out: string[] = [];
  const right = left + PANEL_WIDTH;
  const plotLeft = left + AXIS_LEFT;
  for (const v of scale.ticks) {
    const y = scale.y(v).toFixed(1);
    const label = v >= 1 ? String(v) : v.toFixed(1);
    out.push(`<line x1="${plotLeft}" x2="${right}" y1="${y}" y2="${y}" class="grid"/>`);
    out.push(`<text x="${plotLeft - 6}" y="${y}" class="tick" dy="4">${label}</text>`);
  }
  const axisMid = (PLOT_TOP + PLOT_BOTTOM) / 2;
  out.push(
    `<text transform="translate(${left + 16},${axisMid}) rotate(-90)" class="axis">latency, ms (log)</text>`,
  );
  const etcdId = op === 'put' ? 'etcd.put' : 'etcd.range-lin';
  const etcdP99 = run.results.find((r) => r.scenario.id === etcdId)?.load?.latency?.p99Ms;
  const what = op === 'put' ? 'etcd put' : 'etcd linearizable range';
  const reference = etcdP99 === undefined ? '' : `dashed: ${what} p99, ${fmt(etcdP99)} ms`;
  out.push(
    `<text x="${(plotLeft + right) / 2}" y="${PLOT_TOP - 14}" class="panel">${op.toUpperCase()}` +
      `<tspan class="etcdlabel" dx="10">${esc(reference)}</tspan></text>`,
  );
  if (etcdP99 !== undefined) {
    const y = scale.y(etcdP99).toFixed(1);
    out.push(`<line x1="${plotLeft}" x2="${right}" y1="${y}" y2="${y}" class="etcd"/>`);
  }
  LEVELS.forEach((level, g) => {
    const x0 = plotLeft + 14 + g * GROUP_WIDTH;
    SERIES.forEach((series, i) => {
      const v = levelResult(run, op, level, series.delayed)?.load?.latency?.[series.pick];
      if (v === undefined) return;
      const x = x0 + i * (BAR_WIDTH + 2);
      const y = scale.y(v);
      const tip = esc(`${op.toUpperCase()} ${level}, ${series.name}: ${fmt(v)} ms`);
      out.push(
        `<rect x="${x}" y="${y.toFixed(1)}" width="${BAR_WIDTH}" height="${(PLOT_BOTTOM - y).toFixed(1)}" fill="${series.color}"><title>${tip}</title></rect>`,
        `<text transform="translate(${x + BAR_WIDTH / 2 + 3},${(y - 4).toFixed(1)}) rotate(-90)" class="value">${fmt(v)}</text>`,
      );
    });
    const mid = x0 + (SERIES.length * (BAR_WIDTH + 2)) / 2;
    out.push(`<text x="${mid}" y="${PLOT_BOTTOM + 18}" class="level">${level}</text>`);
  });
  out.push(
    `<line x1="${plotLeft}" x2="${right}" y1="${PLOT_BOTTOM}" y2="${PLOT_BOTTOM}" class="axisline"/>`,
  );
  return out;
}

export function renderChart(run: BenchRun): string {
  const values: number[] = [];
  for (const op of ['put', 'get'] as const)
    for (const level of LEVELS)
      for (const delayed of [false, true]) {
        const l = levelResult(run, op, level, delayed)?.load?.latency;
        if (l) values.push(l.p50Ms, l.p99Ms);
      }
  for (const id of ['etcd.put', 'etcd.range-lin']) {
    const p99 = run.results.find((r) => r.scenario.id === id)?.load?.latency?.p99Ms;
    if (p99 !== undefined) values.push(p99);
  }
  const scale = logScale(values.length > 0 ? values : [1]);
  const m = run.machine;
  const subtitle = `${run.mode} run, ${m.date.slice(0, 16).replace('T', ' ')} UTC, ${m.cpuModel} (${m.cores} cores), Node ${m.node}, commit ${m.commit.slice(0, 10)}; 3 replicas, 64 connections, 100 B values`;
  const legend = SERIES.map(
    (s, i) =>
      `<rect x="${AXIS_LEFT + i * 190}" y="58" width="12" height="12" fill="${s.color}"/><text x="${AXIS_LEFT + 18 + i * 190}" y="68" class="legend">${esc(s.name)}</text>`,
  );
  const body = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    '<style>',
    '.title{font-size:16px;font-weight:600}.subtitle{font-size:11px;fill:#555}',
    '.panel{font-size:14px;font-weight:600;text-anchor:middle}.tick{font-size:11px;text-anchor:end;fill:#444}',
    '.axis{font-size:11px;text-anchor:middle;fill:#444}.level{font-size:12px;text-anchor:middle}',
    '.value{font-size:9px;fill:#333}.legend{font-size:12px}.grid{stroke:#e3e3e3}.axisline{stroke:#888}',
    '.etcd{stroke:#555;stroke-dasharray:5 4}.etcdlabel{font-size:11px;font-weight:400;fill:#555}',
    '</style>',
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${AXIS_LEFT}" y="24" class="title">kvorum latency per consistency level, without and with 20 ± 5 ms on one replica's links</text>`,
    `<text x="${AXIS_LEFT}" y="42" class="subtitle">${esc(subtitle)}</text>`,
    ...legend,
    ...panel(run, 'put', 10, scale),
    ...panel(run, 'get', 10 + PANEL_WIDTH + 30, scale),
    `<text x="${AXIS_LEFT}" y="${HEIGHT - 20}" class="subtitle">Latency timed per response (hrtime), 2xx only. Bars missing: scenario not run or failed. Dashed: etcd p99 in the same run.</text>`,
    '</svg>',
  ];
  return `${body.join('\n')}\n`;
}
