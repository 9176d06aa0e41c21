// A hand-written SVG of the soak: every node's RSS over the run, the last half shaded, with
// the least-squares line the plateau verdict is read from drawn over it.

import { esc } from './chart.js';
import type { BenchRun } from './results.js';

const WIDTH = 980;
const HEIGHT = 440;
const LEFT = 70;
const RIGHT = 940;
const TOP = 90;
const BOTTOM = 370;
const MIB = 1024 * 1024;
const COLORS = ['#4c78a8', '#e45756', '#54a24b', '#f58518', '#b279a2', '#9d755d', '#72b7b2'];

/** A round step (1, 2 or 5 times a power of ten) giving about `ticks` intervals over `range`. */
function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
}

function steps(max: number, step: number): number[] {
  const out: number[] = [];
  for (let v = 0; v <= max + step / 1000; v += step) out.push(v);
  return out;
}

export function renderSoakChart(run: BenchRun): string {
  const result = run.results.find((r) => r.scenario.id === run.soak?.scenarioId);
  const curve = result?.rssCurve ?? [];
  const nodes = run.soak?.nodes ?? [];
  const names = [...new Set(curve.flatMap((s) => Object.keys(s.bytes)))].sort((a, b) =>
    a.localeCompare(b, 'en', { numeric: true }),
  );
  const toS = Math.max(1, curve.at(-1)?.atS ?? 1);
  const minutes = toS >= 120;
  const xUnit = minutes ? 60 : 1;
  const xStep = niceStep(toS / xUnit, 10);
  const maxMib = Math.max(1, ...curve.flatMap((s) => Object.values(s.bytes).map((b) => b / MIB)));
  const yStep = niceStep(maxMib * 1.1, 6);
  const yTop = Math.ceil((maxMib * 1.1) / yStep) * yStep;
  const x = (atS: number) => LEFT + (atS / toS) * (RIGHT - LEFT);
  const y = (mib: number) => BOTTOM - (mib / yTop) * (BOTTOM - TOP);
  const out: string[] = [];
  if (run.soak)
    out.push(
      `<rect x="${x(run.soak.fromS).toFixed(1)}" y="${TOP}" width="${(x(run.soak.toS) - x(run.soak.fromS)).toFixed(1)}" height="${BOTTOM - TOP}" class="half"/>`,
      `<text x="${((x(run.soak.fromS) + x(run.soak.toS)) / 2).toFixed(1)}" y="${TOP + 14}" class="halflabel">last half: the plateau verdict</text>`,
    );
  for (const v of steps(yTop, yStep)) {
    const py = y(v).toFixed(1);
    out.push(
      `<line x1="${LEFT}" x2="${RIGHT}" y1="${py}" y2="${py}" class="grid"/>`,
      `<text x="${LEFT - 6}" y="${py}" dy="4" class="ytick">${Math.round(v)}</text>`,
    );
  }
  for (const v of steps(toS / xUnit, xStep)) {
    const px = x(v * xUnit).toFixed(1);
    out.push(
      `<line x1="${px}" x2="${px}" y1="${BOTTOM}" y2="${BOTTOM + 5}" class="axisline"/>`,
      `<text x="${px}" y="${BOTTOM + 18}" class="xtick">${Number(v.toFixed(2))}</text>`,
    );
  }
  names.forEach((name, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const points = curve.flatMap((s) => {
      const bytes = s.bytes[name];
      return bytes === undefined ? [] : [`${x(s.atS).toFixed(1)},${y(bytes / MIB).toFixed(1)}`];
    });
    out.push(
      `<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
    );
    const fit = nodes.find((n) => n.node === name);
    if (fit && run.soak) {
      // The floor of each window of the last half: a leak lifts the second above the first.
      const { fromS, splitS, toS } = run.soak;
      for (const [a, b, env] of [
        [fromS, splitS, fit.early],
        [splitS, toS, fit.late],
      ] as const) {
        const fy = y(env.floorBytes / MIB).toFixed(1);
        out.push(
          `<line x1="${x(a).toFixed(1)}" y1="${fy}" x2="${x(b).toFixed(1)}" y2="${fy}" stroke="${color}" class="fit"/>`,
        );
      }
    }
    const growth = fit
      ? `, last half ${fit.growth >= 0 ? '+' : ''}${(fit.growth * 100).toFixed(1)}%`
      : '';
    out.push(
      `<rect x="${LEFT + i * 200}" y="58" width="12" height="12" fill="${color}"/>`,
      `<text x="${LEFT + 18 + i * 200}" y="68" class="legend">${esc(name + growth)}</text>`,
    );
  });
  const s = run.settings;
  const m = run.machine;
  const subtitle =
    `${Number(s.soakMinutes)} min of ${result?.label ?? 'PUT w=quorum'}, ${Number(s.connections)} connections; ` +
    `${m.date.slice(0, 16).replace('T', ' ')} UTC, ${m.cpuModel} (${m.cores} cores), Node ${m.node}, commit ${m.commit.slice(0, 10)}`;
  const body = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    '<style>',
    '.title{font-size:16px;font-weight:600}.subtitle{font-size:11px;fill:#555}.legend{font-size:12px}',
    '.ytick{font-size:11px;text-anchor:end;fill:#444}.xtick{font-size:11px;text-anchor:middle;fill:#444}',
    '.axis{font-size:11px;text-anchor:middle;fill:#444}.grid{stroke:#e3e3e3}.axisline{stroke:#888}',
    '.half{fill:#f2f2f2}.halflabel{font-size:11px;text-anchor:middle;fill:#777}.fit{stroke-width:1.5;stroke-dasharray:6 4}',
    '</style>',
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${LEFT}" y="24" class="title">kvorum RSS per node under sustained load</text>`,
    `<text x="${LEFT}" y="42" class="subtitle">${esc(subtitle)}</text>`,
    ...out,
    `<line x1="${LEFT}" x2="${RIGHT}" y1="${BOTTOM}" y2="${BOTTOM}" class="axisline"/>`,
    `<text x="${(LEFT + RIGHT) / 2}" y="${BOTTOM + 36}" class="axis">${minutes ? 'minutes' : 'seconds'} since the load started (warm-up included)</text>`,
    `<text transform="translate(22,${(TOP + BOTTOM) / 2}) rotate(-90)" class="axis">RSS, MiB</text>`,
    `<text x="${LEFT}" y="${HEIGHT - 16}" class="subtitle">VmRSS of each node sampled every ${result?.scenario.rssEveryS ?? '?'} s. Dashed: least-squares line through the last half; it plateaus when that line grows less than 5%.</text>`,
    '</svg>',
  ];
  return `${body.join('\n')}\n`;
}
