// The Markdown report: the machine and commit, the targets' verdicts, one table per section
// (every figure with its ratio to the baselines of the same run), the PACELC and partition
// views, where the CPU went in the profiled PUT run, the prefills, and how it was measured.

import { BASELINE } from './analysis.js';
import { LOAD_GENERATOR } from './cpu.js';
import { CATEGORIES } from './profile.js';
import { describeSplit, type MemorySplit } from './memory.js';
import type { BenchRun, PhaseMemory, ProfileSummary, Ratios, ScenarioResult } from './results.js';
import { LEVELS, SECTIONS, describeSize, type Op, type SectionId } from './scenarios.js';

type Row = BenchRun['results'][number];

const MIB = 1024 * 1024;
/** Above this share of all cores used by other processes, the report says the machine was shared. */
const SHARED_CPU_SHARE = 0.1;
/** Where the docs explain the targets that fall short (from bench/results/, where reports go). */
const SHORT_TARGETS_DOC = '../../docs/benchmarks.md#targets-that-fall-short-why-and-what-was-tried';
/** GitHub's anchor for the "Where the time goes" heading. */
const PROFILE_ANCHOR = '#where-the-time-goes';

/** Which baselines each section's ratio columns show. */
const SECTION_BASELINES: Readonly<Record<SectionId, readonly string[]>> = {
  core: [BASELINE.single, BASELINE.etcd],
  single: [BASELINE.etcd],
  etcd: [BASELINE.single],
  delay: [BASELINE.undelayed, BASELINE.single, BASELINE.etcd],
  partition: [BASELINE.single, BASELINE.etcd],
  'scale-keys': [BASELINE.core, BASELINE.single],
  'scale-values': [BASELINE.smallValues, BASELINE.single],
  'scale-nodes': [BASELINE.core, BASELINE.single],
  // Shown in its own section, not with the figures: the profiler slows it down.
  profile: [],
  // A soak runs alone: no baseline is measured with it.
  soak: [],
};

function int(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

function ms(v: number | undefined): string {
  if (v === undefined) return '–';
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

function x(v: number | undefined): string {
  if (v === undefined) return '–';
  return v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function ratioCell(r: Row, baseline: string): string {
  const q: Ratios | undefined = r.ratios.find((v) => v.baseline === baseline);
  if (!q) return '–';
  return `${x(q.reqPerS)} · ${x(q.p50)} · ${x(q.p99)} · ${x(q.p999)} · ${x(q.cpuPerOp)}`;
}

function byNodeName<T>(record: Record<string, T>): Array<[string, T]> {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
}

/** MiB of each server process in node order (n1, n2, … or e1, e2, e3). */
function perNodeMib(bytes: Record<string, number>): string {
  const rows = byNodeName(bytes);
  if (rows.length === 0) return '–';
  return rows.map(([, b]) => int(b / MIB)).join(' · ');
}

function rssCell(r: ScenarioResult): string {
  return perNodeMib(r.rssPeakBytes);
}

function cpuCell(us: number | undefined): string {
  if (us === undefined) return '–';
  return us >= 100 ? int(us) : us.toFixed(1);
}

function figuresTable(rows: readonly Row[], baselines: readonly string[]): string {
  const header = [
    'scenario',
    'req/s',
    'p50 ms',
    'p99 ms',
    'p99.9 ms',
    'errors',
    'non-2xx',
    'CPU per op µs',
    'peak RSS MiB per node',
    ...baselines.map((b) => `× ${b}`),
  ];
  return table(
    header,
    rows.map((r) => {
      const l = r.load;
      if (!l)
        return [
          r.label,
          `FAILED: ${r.error ?? 'no result'}`,
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          ...baselines.map(() => ''),
        ];
      return [
        r.error ? `${r.label} ⚠ (failed, see the end)` : r.label,
        int(l.okPerS),
        ms(l.latency?.p50Ms),
        ms(l.latency?.p99Ms),
        ms(l.latency?.p999Ms),
        String(l.errors),
        nonOkCell(r),
        cpuCell(r.cpuUsPerOp),
        rssCell(r),
        ...baselines.map((b) => ratioCell(r, b)),
      ];
    }),
  );
}

function nonOkCell(r: Row): string {
  const l = r.load;
  if (!l || l.non2xx === 0) return '0';
  const codes = Object.entries(l.statusCounts).filter(([code]) => !code.startsWith('2'));
  const byStatus =
    codes.length === 1
      ? codes.map(([code]) => code)
      : codes.map(([code, n]) => `${code}: ${int(n)}`);
  return `${int(l.non2xx)} (${byStatus.join(', ')})`;
}

function find(run: BenchRun, id: string): Row | undefined {
  return run.results.find((r) => r.scenario.id === id);
}

function delayTable(run: BenchRun): string {
  const rows: string[][] = [];
  for (const level of LEVELS)
    for (const op of ['put', 'get'] as const) {
      const base = find(run, `core.${op}.${level}`)?.load;
      const slow = find(run, `delay.${op}.${level}`)?.load;
      if (!slow && !base) continue;
      const d = (a?: number, b?: number) =>
        a === undefined || b === undefined
          ? '–'
          : `${Math.abs(a - b) < 0.005 ? '±' : a > b ? '+' : '−'}${ms(Math.abs(a - b))}`;
      rows.push([
        `${op.toUpperCase()} ${level}`,
        ms(base?.latency?.p50Ms),
        ms(slow?.latency?.p50Ms),
        d(slow?.latency?.p50Ms, base?.latency?.p50Ms),
        ms(base?.latency?.p99Ms),
        ms(slow?.latency?.p99Ms),
        d(slow?.latency?.p99Ms, base?.latency?.p99Ms),
        base ? int(base.okPerS) : '–',
        slow ? int(slow.okPerS) : '–',
      ]);
    }
  return table(
    [
      'level',
      'p50 ms, no delay',
      'p50 ms, delay',
      'Δ p50',
      'p99 ms, no delay',
      'p99 ms, delay',
      'Δ p99',
      'req/s, no delay',
      'req/s, delay',
    ],
    rows,
  );
}

function partitionTable(run: BenchRun): string {
  const rows: string[][] = [];
  for (const level of LEVELS)
    for (const op of ['put', 'get'] as const) {
      const cells = (['majority', 'minority'] as const).map((side) => {
        const l = find(run, `partition.${op}.${level}.${side}`)?.load;
        if (!l) return ['–', '–', '–'];
        const rate = l.responses + l.errors === 0 ? 0 : l.ok / (l.responses + l.errors);
        const pct = `${(rate * 100).toFixed(rate === 1 || rate === 0 ? 0 : 1)}%`;
        return [pct, int(l.okPerS), ms(l.latencyAll?.p50Ms)];
      });
      if (cells.every((c) => c[0] === '–')) continue;
      rows.push([`${op.toUpperCase()} ${level}`, ...cells.flat()]);
    }
  return table(
    [
      'level',
      '2xx rate on n1 (majority)',
      '2xx/s on n1',
      'p50 ms on n1, any answer',
      '2xx rate on n3 (minority)',
      '2xx/s on n3',
      'p50 ms on n3, any answer',
    ],
    rows,
  );
}

/** Moments of the catch-up the report quotes the pending hints at, seconds after the heal. */
const CATCH_UP_MARKS_S = [1, 2, 5, 10, 20, 30, 60, 120];

function catchUpParagraph(run: BenchRun): string[] {
  const c = run.catchUp;
  if (!c) return [];
  const atHeal = Object.values(c.hintsAtHeal).reduce((a, b) => a + b, 0);
  const byNode = byNodeName(c.hintsAtHeal)
    .map(([node, n]) => `${node} ${int(n)}`)
    .join(' · ');
  // The first poll at or after each mark, then the last one.
  const marks: Array<readonly [number, number]> = [];
  for (const mark of CATCH_UP_MARKS_S) {
    const poll = c.pending.find(([at]) => at >= mark);
    if (poll && poll !== marks.at(-1)) marks.push(poll);
  }
  const last = c.pending.at(-1);
  if (last && last !== marks.at(-1)) marks.push(last);
  const curve = [
    `${int(atHeal)} at heal`,
    ...marks.map(([at, n]) => `${int(n)} at ${at.toFixed(1)} s`),
  ];
  const outcome =
    c.caughtUpAfterS !== undefined
      ? `none pending on any node **${c.caughtUpAfterS.toFixed(1)} s** after the heal request`
      : `**not caught up within ${c.capS} s**${c.error ? ` (${c.error})` : ''}`;
  return [
    `**Catch-up after the heal**: with the load stopped, ${int(atHeal)} hints were pending at ` +
      `heal (${byNode || 'no reading'}); every node saw the others up again after ` +
      `${c.upAfterS === undefined ? '–' : `${c.upAfterS.toFixed(1)} s`}, and ${outcome}. ` +
      `Hints pending, all nodes (\`hints.pending\` of \`GET /admin/status\`, polled every ` +
      `250 ms): ${curve.join(' → ')}.`,
    '',
  ];
}

function header(run: BenchRun, chartFile: string): string[] {
  const m = run.machine;
  const s = run.settings as Record<string, unknown>;
  const others = run.othersCpuShare;
  const busy = others === undefined ? m.loadAtStart > 0.5 : others > SHARED_CPU_SHARE;
  const minutes = `${Math.floor(run.wallSeconds / 60)} min ${run.wallSeconds % 60} s`;
  const etcd = run.etcd.version
    ? `etcd ${run.etcd.version} (${run.etcd.path}), 3 members, load on the leader (${run.etcd.leader ?? '?'})`
    : `etcd: not measured (${run.etcd.skipped}); etcd targets are NOT MEASURED`;
  return [
    `# kvorum benchmark: ${run.mode} run${run.scaling ? ' with scaling' : ''}`,
    '',
    `- **Machine**: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}`,
    `- **Date**: ${m.date}; wall time ${minutes}`,
    `- **Commit**: \`${m.commit}\`${m.dirty ? ' (with uncommitted changes)' : ''}`,
    `- **Other load**: ` +
      (others === undefined
        ? ''
        : `processes other than the bench used ${(others * 100).toFixed(0)}% of all cores during the run; `) +
      `1-minute load average ${m.loadAtStart} at start (${run.loadAtEnd} at end, the bench included)` +
      (busy
        ? '. **The machine was shared**: other work competed for the cores, so the figures are noisier and lower than on an idle machine.'
        : '.'),
    run.mode === 'soak'
      ? `- **Settings**: PUT w=quorum for ${s.soakMinutes} min after ${s.warmupS} s of warm-up, ` +
        `${s.connections} connections, pipelining 1; ${int(Number(s.soakKeys))} prefilled keys of 100 B; ` +
        `random keys per request; kvorum profile \`quorum\`, lww, ` +
        `${s.fsync ? '`--fsync`' : 'no fsync (the default)'}, \`--log-level warn\``
      : `- **Settings**: ${s.durationS} s per scenario after ${s.warmupS} s of warm-up; ` +
        `${s.connections} connections, pipelining 1; ${int(Number(s.keys))} prefilled keys of 100 B and ` +
        `${int(Number(s.largeKeys))} of 10 KiB; random keys per request; kvorum profile \`quorum\`, lww, ` +
        `${s.fsync ? '`--fsync`' : 'no fsync (the default; etcd fsyncs its WAL)'}, \`--log-level warn\``,
    run.mode === 'soak'
      ? '- **Baselines**: none; a soak run measures kvorum alone, and only the soak target.'
      : `- **Baselines**: kvorum with 1 replica (N=1); ${etcd}`,
    `- Load generator (autocannon 9 in a worker thread) and every server share the same ${m.cores} cores.`,
    ...(run.mode === 'quick'
      ? [
          `- **Quick run**: each figure comes from ${s.durationS} s of load on a small key space; ` +
            'it shows the shape, and the full run (`npm run bench`) gives the figures to quote.',
        ]
      : []),
    '',
    run.mode === 'soak'
      ? `![RSS of every node over the soak, the last half shaded](${chartFile})`
      : `![p50 and p99 latency per consistency level, with and without the delay](${chartFile})`,
  ];
}

/** The soak's RSS curve as a table, with each node's growth over the last half. */
function soakCurve(run: BenchRun): string[] {
  const soak = run.soak;
  const curve = find(run, soak?.scenarioId ?? '')?.rssCurve;
  if (!soak || !curve) return [];
  const names = byNodeName(curve.at(-1)?.bytes ?? {}).map(([name]) => name);
  const growth = names.map((name) => {
    const g = soak.nodes.find((n) => n.node === name);
    if (!g) return '–';
    return (
      `${g.growth >= 0 ? '+' : ''}${(g.growth * 100).toFixed(1)}% (floor ${int(g.early.floorBytes / MIB)} → ` +
      `${int(g.late.floorBytes / MIB)}, ceiling ${int(g.early.ceilingBytes / MIB)} → ${int(g.late.ceilingBytes / MIB)})`
    );
  });
  return [
    `RSS of every node, MiB, every ${find(run, soak.scenarioId)?.scenario.rssEveryS ?? '?'} s from ` +
      'the start of the load (warm-up included). Plateau: the lowest and the highest RSS of each ' +
      `node over ${soak.splitS.toFixed(0)}-${soak.toS.toFixed(0)} s grow by less than 5% against ` +
      `${soak.fromS.toFixed(0)}-${soak.splitS.toFixed(0)} s (the last half, ${soak.samples} samples; ` +
      'RSS under load swings with each major collection, so floor and ceiling, not a line through ' +
      'the swing); the last row gives the larger growth and both, in MiB.',
    '',
    table(
      ['s', ...names.map((n) => `${n} MiB`)],
      [
        ...curve.map((sample) => [
          sample.atS.toFixed(0),
          ...names.map((name) => {
            const bytes = sample.bytes[name];
            return bytes === undefined ? '–' : int(bytes / MIB);
          }),
        ]),
        ['*last half*', ...growth],
      ],
    ),
    '',
  ];
}

function targetsSection(run: BenchRun): string[] {
  return [
    '## Targets',
    '',
    table(
      ['#', 'target', 'status', 'measured'],
      run.targets.map((t, i) => [String(i + 1), t.target, `**${t.status}**`, t.measured]),
    ),
    ...(run.profile && run.targets.some((t) => t.status === 'FALL SHORT' && isPut(run, t.scenario))
      ? ['', `PUT targets: see [Where the time goes](${PROFILE_ANCHOR}).`]
      : []),
    ...(run.targets.some((t) => t.status === 'FALL SHORT')
      ? [
          '',
          `Why each target that falls short does, with the profiles that show it and what was tried: [docs/benchmarks.md](${SHORT_TARGETS_DOC}).`,
        ]
      : []),
  ];
}

function isPut(run: BenchRun, id: string): boolean {
  return find(run, id)?.scenario.op === 'put';
}

const SECTION_NOTES: Partial<Record<SectionId, string>> = {
  core: 'Load spread over n1, n2, n3. Levels are per request: `?r=`/`?w=` one, quorum, all; linearizable is `?consistency=linearizable` (ABD, quorum reads and writes with a read phase / write-back).',
  delay:
    "n3 delays what it sends to n1 and n2, and n1 and n2 delay what they send to n3, by 20 ± 5 ms (PUT /admin/faults on each node): one replica in a far data centre. The load is spread over n1, n2, n3 as in the core rows it is compared with, so a third of the requests are coordinated by n3 itself: p50 shows what clients near the majority pay, p99 what n3's clients pay.",
  partition:
    'POST /admin/partition {"groups":[["n1","n2"],["n3"]]}, then load on n1 (majority side) or on n3 (minority side) alone. 2xx rate = 2xx responses ÷ (responses + connection errors); "any answer" p50 includes refusals (how fast a 503 comes back). The latency columns of the table below are of 2xx responses only.',
  'scale-values': 'Connections: 64 for 100 B and 10 KiB, 16 for 100 KiB, 4 for 1 MiB.',
};

function sectionTables(run: BenchRun): string[] {
  const out: string[] = [];
  for (const [id, title] of Object.entries(SECTIONS) as Array<[SectionId, string]>) {
    const rows = run.results.filter((r) => r.scenario.section === id);
    if (rows.length === 0 || id === 'profile') continue;
    out.push(`### ${title}`, '');
    const note = SECTION_NOTES[id];
    if (note) out.push(note, '');
    if (id === 'delay') out.push(delayTable(run), '');
    if (id === 'partition') out.push(partitionTable(run), '', ...catchUpParagraph(run));
    out.push(figuresTable(rows, SECTION_BASELINES[id]), '');
    if (id === 'soak') out.push(...soakCurve(run));
  }
  return out;
}

function idleGrowth(m: PhaseMemory): string {
  const xs = Object.entries(m.idleBytes).flatMap(([name, idle]) => {
    const start = m.startBytes[name];
    return start ? [idle / start] : [];
  });
  return xs.length === 0 ? '–' : x(Math.max(...xs));
}

function memorySection(run: BenchRun): string[] {
  if (run.memory.length === 0) return [];
  const idleS = run.memory[0]?.idleAfterS ?? 0;
  return [
    '## Memory',
    '',
    'RSS (VmRSS) of each server process per phase, MiB, in node order: at boot (every node ' +
      'healthy, nothing written), at start (after the prefill, as the first scenario begins), ' +
      "the peak over the phase's scenarios (sampled each second, every 10 s in a soak, warm-up " +
      'included), the peak of anonymous memory over the same samples (RssAnon: RSS without ' +
      "mapped files, such as LevelDB's table files or etcd's bbolt database, which are page " +
      'cache the kernel can drop), and idle ' +
      `(${idleS} s after the phase's last step, no load). idle ÷ start: the largest over the nodes.`,
    '',
    table(
      [
        'phase',
        'keys',
        'boot',
        'start',
        'peak in scenarios',
        'peak anonymous',
        'idle',
        'idle ÷ start',
      ],
      run.memory.map((m) => [
        m.title,
        int(m.keys),
        perNodeMib(m.bootBytes),
        perNodeMib(m.startBytes),
        perNodeMib(m.peakBytes),
        m.anonPeakBytes && Object.keys(m.anonPeakBytes).length > 0
          ? perNodeMib(m.anonPeakBytes)
          : '–',
        perNodeMib(m.idleBytes),
        idleGrowth(m),
      ]),
    ),
    '',
    ...splitTable(run.memory),
  ];
}

/** Where each kvorum node's RSS went after the prefill, at its busiest, and idle. */
function splitTable(memory: readonly PhaseMemory[]): string[] {
  const rows = memory.flatMap((m) => {
    const s = m.splits;
    if (s === undefined) return [];
    const nodes = (at: Record<string, MemorySplit>): string =>
      Object.entries(at)
        .map(([id, split]) => `${id} ${describeSplit(split)}`)
        .join('<br>');
    return [
      [m.title, 'after the prefill', nodes(s.start)],
      [m.title, `end of ${s.busiest.scenarioId} (highest peak)`, nodes(s.busiest.at)],
      [m.title, 'idle', nodes(s.idle)],
    ];
  });
  if (rows.length === 0) return [];
  return [
    "How each kvorum node's RSS splits (MiB; `process.memoryUsage()` through `/admin/status`, " +
      'RssFile from `/proc/<pid>/status`): RSS: V8 heap used/held · ArrayBuffers (values, ' +
      'frames, records) · files: resident pages of mapped files (LevelDB maps its table files ' +
      "to read them, and the node binary's code; clean page cache the kernel can drop) · other: " +
      "the rest (LevelDB's memtables and block cache, the allocator's freed but kept memory).",
    '',
    table(['phase', 'when', 'per node'], rows),
    '',
  ];
}

function profileIntro(run: BenchRun, p: ProfileSummary): string {
  const s = run.settings as Record<string, unknown>;
  const plain = find(run, 'core.put.quorum')?.load?.okPerS;
  const rate =
    p.reqPerS === undefined
      ? 'the run failed (see the end)'
      : `${int(p.reqPerS)} req/s with the profiler on` +
        (plain === undefined ? '' : `, against ${int(plain)} req/s without it (core row)`);
  const window =
    p.window === 'load'
      ? 'samples taken during the measured run (warm-up excluded)'
      : 'the whole life of each process, start-up and shutdown included (no sample fell in the load window)';
  return (
    `${p.label} on 3 replicas, load spread over n1-n3, with the same settings as the figures ` +
    `(${s.connections} connections, ${s.warmupS} s warm-up + ${s.durationS} s), on a fresh ` +
    'cluster prefilled as the core phase is (so the PUTs overwrite, as in the core row), ' +
    `every node under \`node --cpu-prof\`. The profiler costs throughput: ${rate}. ` +
    `Shares are of ${window}.`
  );
}

/** Cores per process during the profiled scenario, against the machine's cores. */
function coresTable(run: BenchRun, p: ProfileSummary): string {
  const cores = run.machine.cores;
  const servers = Object.keys(p.cpuCores)
    .filter((n) => n !== LOAD_GENERATOR)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (servers.length === 0) return 'CPU use per process: not measured (no /proc).';
  const row = (name: string, used: number) => [name, used.toFixed(2), pct(used / cores)];
  const total = Object.values(p.cpuCores).reduce((a, b) => a + b, 0);
  return table(
    ['process', 'cores used', `share of the machine's ${cores} cores`],
    [...[...servers, LOAD_GENERATOR].map((n) => row(n, p.cpuCores[n] ?? 0)), row('total', total)],
  );
}

function categoryTable(p: ProfileSummary): string {
  const cols = [...p.nodes, p.all];
  return table(
    ['share of busy time', ...p.nodes.map((n) => n.node), 'all nodes'],
    [
      ...CATEGORIES.map((c) => [c, ...cols.map((n) => pct(n.busyShares[c]))]),
      ['*busy, seconds*', ...cols.map((n) => (n.busyMs / 1000).toFixed(1))],
      ['*idle, share of all sampled time*', ...cols.map((n) => pct(n.idleShare))],
    ],
  );
}

function topTable(p: ProfileSummary): string {
  return table(
    ['#', 'function', 'file', 'category', 'self ms', 'share of busy time'],
    p.top.map((f, i) => [
      String(i + 1),
      `\`${f.name}\``,
      f.file ? `\`${f.file}\`` : '(native)',
      f.category,
      int(f.selfMs),
      pct(f.busyShare),
    ]),
  );
}

function profileSection(run: BenchRun): string[] {
  const p = run.profile;
  if (!p) return [];
  return [
    '## Where the time goes',
    '',
    profileIntro(run, p),
    '',
    "**CPU used per process** (CPU seconds ÷ wall seconds of the measured run, warm-up excluded, from /proc: every thread, LevelDB's in the libuv pool too; the load generator is the bench process, where autocannon runs):",
    '',
    coresTable(run, p),
    '',
    '**Where each node spent its busy time** (self time of each sampled frame of the JavaScript thread; busy = all sampled time minus `(idle)`. V8 samples wall-clock time, so while a node waits for a core the time counts as busy in whatever it was running: busy seconds can exceed the CPU used above when the cores are saturated):',
    '',
    categoryTable(p),
    '',
    `**Top ${p.top.length} functions by self time**, all nodes together:`,
    '',
    topTable(p),
    '',
  ];
}

function prefillSection(run: BenchRun): string[] {
  if (run.prefills.length === 0) return [];
  return [
    '## Prefill',
    '',
    table(
      ['phase', 'keys', 'value', 'seconds', 'writes/s', 'non-2xx', 'errors'],
      run.prefills.map((p) => [
        p.phase,
        int(p.keys),
        describeSize(p.valueBytes),
        p.seconds.toFixed(1),
        p.error ? `FAILED: ${p.error}` : int(p.ok / p.seconds),
        String(p.non2xx),
        String(p.errors),
      ]),
    ),
    '',
  ];
}

const METHOD = [
  '## How this was measured',
  '',
  '- `npm run bench` builds kvorum, starts each system fresh (separate processes, a temp data dir, free loopback ports), prefills it, and drives it with autocannon from a worker thread. Every process is killed by PID at the end or on Ctrl-C.',
  '- Keys are drawn uniformly at random per request (`setupRequest`); PUT rewrites existing keys, so GETs always find one. Prefill: each key written once, kvorum with `?w=one`.',
  "- **req/s** counts 2xx responses per second of the measured run. **Latency** is timed per response with `process.hrtime` (autocannon's `response` event; its own histogram has 1 ms resolution) and is of 2xx responses; it is measured at the client, so it includes time a response waits for the load generator, which shares the cores. **errors**: connection errors and timeouts (10 s); **non-2xx**: answered with another status, by code.",
  '- **Ratios** (`× baseline`) divide this row by the baseline row of the same run, as req/s · p50 · p99 · p99.9 · CPU per op: above 1 means more throughput, but also more latency and more CPU per request. `–`: no such baseline (e.g. etcd has no mixed or 10 KiB rows).',
  '- **CPU per op µs**: CPU time (user + system, from `/proc/<pid>/stat`, every thread) of all the server processes of the system together during the measured run, warm-up excluded, divided by the responses of that run (refusals included). The load generator is not counted. Read in the load worker right before and after the measured run, so the CPU and the responses cover the same window.',
  '- **peak RSS MiB per node**: peak resident memory (VmRSS, sampled each second during the scenario, warm-up included) of each server process, in node order (n1, n2, … or e1, e2, e3).',
  '- etcd is driven through its v3 HTTP/JSON gateway: `POST /v3/kv/put {"key","value"}` (base64) and `POST /v3/kv/range {"key"}` (linearizable; `"serializable": true` for serializable), at the leader, pipelining 1. Its members are checked healthy before every scenario.',
  "- Absolute figures depend on the machine: compare ratios measured in one run. fsync on this kind of machine is unrealistically fast, which flatters any synced figure (etcd's WAL).",
];

export function renderReport(run: BenchRun, chartFile: string): string {
  const parts = [
    ...header(run, chartFile),
    '',
    ...targetsSection(run),
    '',
    '## Figures',
    '',
    ...sectionTables(run),
    ...memorySection(run),
    ...profileSection(run),
    ...prefillSection(run),
    ...METHOD,
  ];
  const problems = [
    ...run.notes,
    ...run.results.flatMap((r) => (r.error ? [`${r.scenario.id} (${r.label}): ${r.error}`] : [])),
  ];
  if (problems.length > 0)
    parts.push('', '## Problems during the run', '', ...problems.map((p) => `- ${p}`));
  return `${parts.join('\n')}\n`;
}

/** For the chart: the result of an op at a level, with or without the delay. */
export function levelResult(
  run: BenchRun,
  op: Op,
  level: string,
  delayed: boolean,
): Row | undefined {
  return find(run, `${delayed ? 'delay' : 'core'}.${op}.${level}`);
}
