// Per-response latencies kept exactly (autocannon's own histogram has 1 ms resolution, too
// coarse for sub-millisecond p50s), and the percentiles the report shows.

/** The percentiles every scenario reports, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

/** Starting capacity; the array doubles as needed (8 bytes a response). */
const INITIAL_SAMPLES = 1 << 16;

/** Appends samples to a growing Float64Array: one store per response on the hot path. */
export class LatencyRecorder {
  private samples = new Float64Array(INITIAL_SAMPLES);
  private length = 0;

  record(ms: number): void {
    if (this.length === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.length++] = ms;
  }

  get count(): number {
    return this.length;
  }

  /** Sorts a copy and reads the percentiles off it (nearest rank). Undefined with no samples. */
  summary(): LatencySummary | undefined {
    if (this.length === 0) return undefined;
    const sorted = this.samples.slice(0, this.length).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: this.length,
      meanMs: sum / this.length,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      p999Ms: percentile(sorted, 0.999),
      maxMs: sorted[this.length - 1] as number,
    };
  }
}

/** Nearest-rank percentile of an ascending array: the smallest value with q of samples at or below. */
export function percentile(sorted: Float64Array, q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] as number;
}
