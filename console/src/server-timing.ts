// Server-Timing as kvorum sends it: one entry per replica, `n2;dur=1.8;desc="ok"`.

export interface TimingEntry {
  readonly node: string;
  readonly durMs: number;
  readonly desc: string;
}

export function parseServerTiming(header: string | null): TimingEntry[] {
  if (header === null || header.trim() === '') return [];
  const out: TimingEntry[] = [];
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (name === undefined || name === '') continue;
    let durMs = 0;
    let desc = '';
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim();
      const value = p.slice(eq + 1).trim();
      if (key === 'dur') durMs = Number(value);
      else if (key === 'desc') desc = value.replace(/^"(.*)"$/, '$1');
    }
    out.push({ node: name, durMs: Number.isFinite(durMs) ? durMs : 0, desc });
  }
  return out;
}
