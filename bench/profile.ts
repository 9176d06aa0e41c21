// Summarizes V8 CPU profiles (.cpuprofile, as `node --cpu-prof` writes them) of the server
// processes: where each node's busy time went, by coarse category, and the functions with the
// most self time. Pure: the runner reads the files and hands the parsed JSON in.

/** The parts of a .cpuprofile this reads. */
export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based; -1 for native frames. */
  readonly lineNumber: number;
  readonly columnNumber: number;
}

export interface CpuProfile {
  readonly nodes: ReadonlyArray<{ readonly id: number; readonly callFrame: CallFrame }>;
  /** Microseconds on the monotonic clock (the one `process.hrtime` reads). */
  readonly startTime: number;
  readonly endTime: number;
  /** Node id of the frame on top of the stack at each sample. */
  readonly samples?: readonly number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  readonly timeDeltas?: readonly number[];
}

/** In the order they are decided: the first that matches a frame wins. */
export const CATEGORIES = Object.freeze([
  'LevelDB',
  'HTTP server',
  'peer protocol',
  'socket writes',
  'garbage collection',
  'kvorum (core, replica, storage)',
  'prom-client and pino',
  'Node runtime (streams, timers, promises)',
  'other',
] as const);
export type Category = (typeof CATEGORIES)[number];

const IDLE = '(idle)';
/** Native frames that are the bytes going out to a socket, whichever protocol they carry. */
const SOCKET_WRITES = new Set(['writev', 'writeBuffer', 'writeUtf8String']);

function has(s: string, ...parts: string[]): boolean {
  return parts.some((p) => s.includes(p));
}

/** kvorum's own compiled code; a dependency's dist/ folder is not kvorum. */
function isKvorum(url: string): boolean {
  return url.includes('/dist/') && !url.includes('/node_modules/');
}

export function categoryOf(f: CallFrame): Category {
  const { url, functionName: fn } = f;
  if (has(url, 'classic-level', 'abstract-level', 'level-transcoder', '/level/')) return 'LevelDB';
  if (
    has(url, 'fastify', 'find-my-way', 'light-my-request', 'node:_http') ||
    fn === 'writeLatin1String' ||
    fn.startsWith('parserOn')
  )
    return 'HTTP server';
  if (url.includes('msgpackr') || (isKvorum(url) && url.includes('/dist/net/')))
    return 'peer protocol';
  if (url === '' && SOCKET_WRITES.has(fn)) return 'socket writes';
  if (fn === '(garbage collector)') return 'garbage collection';
  if (isKvorum(url)) return 'kvorum (core, replica, storage)';
  if (has(url, 'prom-client', 'pino')) return 'prom-client and pino';
  if (url.startsWith('node:') || url === '') return 'Node runtime (streams, timers, promises)';
  return 'other';
}

/** `node_modules/<pkg>/…`, `dist/…` or `node:…`, with the 1-based line; '' for native frames. */
export function shortFile(f: CallFrame): string {
  const { url } = f;
  if (url === '') return '';
  let file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('node_modules/');
  const dist = file.lastIndexOf('/dist/');
  if (nm >= 0) file = file.slice(nm);
  else if (dist >= 0) file = file.slice(dist + 1);
  return f.lineNumber >= 0 ? `${file}:${f.lineNumber + 1}` : file;
}

export interface NodeBreakdown {
  readonly node: string;
  /** Sampled time in the window, idle included. */
  readonly totalMs: number;
  readonly busyMs: number;
  /** Share of totalMs the process was idle (waiting in the event loop). */
  readonly idleShare: number;
  /** Share of busyMs by category; every category is present, and they sum to 1. */
  readonly busyShares: Record<Category, number>;
}

export interface TopFunction {
  readonly name: string;
  readonly file: string;
  readonly category: Category;
  readonly selfMs: number;
  /** Of the busy time of every node together. */
  readonly busyShare: number;
}

export interface ProfileBreakdown {
  /**
   * 'load': only samples taken during the load window count; 'whole process': none fell in it
   * (the profile's clock did not match ours), so the whole life of each process counts.
   */
  readonly window: 'load' | 'whole process';
  readonly nodes: readonly NodeBreakdown[];
  /** Every node together, as node 'all'. */
  readonly all: NodeBreakdown;
  readonly top: readonly TopFunction[];
}

const TOP_FUNCTIONS = 15;

/** Self time per call frame id of one profile, µs, from samples inside `window` (all if none). */
function selfTimes(
  p: CpuProfile,
  window: { fromUs: number; toUs: number } | undefined,
): Map<number, number> {
  const out = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let t = p.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    // A sample stands for the time until the next one (as DevTools counts it); V8 sometimes
    // records deltas slightly out of order, hence the clamp.
    const next = i + 1 < samples.length ? t + (deltas[i + 1] ?? 0) : p.endTime;
    const dt = Math.max(0, next - t);
    if (window && (t < window.fromUs || t >= window.toUs)) continue;
    const id = samples[i] as number;
    out.set(id, (out.get(id) ?? 0) + dt);
  }
  return out;
}

function breakdown(node: string, byCategory: Map<Category, number>, idleUs: number): NodeBreakdown {
  const busyUs = [...byCategory.values()].reduce((a, b) => a + b, 0);
  const totalUs = busyUs + idleUs;
  const busyShares = Object.fromEntries(
    CATEGORIES.map((c) => [c, busyUs === 0 ? 0 : (byCategory.get(c) ?? 0) / busyUs]),
  ) as Record<Category, number>;
  return {
    node,
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    idleShare: totalUs === 0 ? 0 : idleUs / totalUs,
    busyShares,
  };
}

/**
 * Summarizes the profiles of a phase's servers (several profiles of one node add up). With a
 * window, only samples inside it count, so start-up and shutdown do not dilute the load.
 */
export function summarizeProfiles(
  profiles: ReadonlyArray<{ readonly node: string; readonly profile: CpuProfile }>,
  window?: { fromUs: number; toUs: number },
): ProfileBreakdown {
  const inWindow = profiles.map(({ profile }) => selfTimes(profile, window));
  const useWindow = window !== undefined && inWindow.some((m) => m.size > 0);
  const times = useWindow ? inWindow : profiles.map(({ profile }) => selfTimes(profile, undefined));

  const perNode = new Map<string, { byCategory: Map<Category, number>; idleUs: number }>();
  const allCategories = new Map<Category, number>();
  let allIdleUs = 0;
  const functions = new Map<string, { frame: CallFrame; us: number }>();
  profiles.forEach(({ node, profile }, i) => {
    const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    const acc = perNode.get(node) ?? { byCategory: new Map<Category, number>(), idleUs: 0 };
    perNode.set(node, acc);
    for (const [id, us] of times[i] ?? []) {
      const frame = frames.get(id);
      if (!frame) continue;
      if (frame.functionName === IDLE) {
        acc.idleUs += us;
        allIdleUs += us;
        continue;
      }
      const c = categoryOf(frame);
      acc.byCategory.set(c, (acc.byCategory.get(c) ?? 0) + us);
      allCategories.set(c, (allCategories.get(c) ?? 0) + us);
      // The same function in different processes (or tree positions) is one row.
      const key = `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}\u0000${frame.columnNumber}`;
      const f = functions.get(key) ?? { frame, us: 0 };
      f.us += us;
      functions.set(key, f);
    }
  });

  const all = breakdown('all', allCategories, allIdleUs);
  const busyUs = all.busyMs * 1000;
  const top = [...functions.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, TOP_FUNCTIONS)
    .map(({ frame, us }) => ({
      name: frame.functionName || '(anonymous)',
      file: shortFile(frame),
      category: categoryOf(frame),
      selfMs: us / 1000,
      busyShare: busyUs === 0 ? 0 : us / busyUs,
    }));
  return {
    window: useWindow ? 'load' : 'whole process',
    nodes: [...perNode]
      .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
      .map(([node, acc]) => breakdown(node, acc.byCategory, acc.idleUs)),
    all,
    top,
  };
}
