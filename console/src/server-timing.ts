// Server-Timing as kvorum sends it: one entry per replica, `n2;dur=1.8;desc="ok"`.

export interface TimingEntry {
  readonly node: string;
  readonly durMs: number;
  readonly desc: string;
}

export function parseServerTiming(header: string | null): TimingEntry[] {
  if (header === null || header.trim() === '') return [];
  const out: TimingEntry[] = [];
  // desc is quoted and may hold a ';' itself ("ok;repaired"), so parameters are matched, not split.
  for (const part of header.split(',')) {
    const entry = part.trim();
    const name = entry.split(';', 1)[0];
    if (name === undefined || name === '') continue;
    const dur = /;dur=([\d.]+)/.exec(entry)?.[1];
    const desc = /;desc="([^"]*)"/.exec(entry)?.[1] ?? '';
    const durMs = dur === undefined ? 0 : Number(dur);
    out.push({ node: name, durMs: Number.isFinite(durMs) ? durMs : 0, desc });
  }
  return out;
}
