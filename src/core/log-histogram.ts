// Durations in fixed memory: counts in buckets a quarter of an octave wide (about 19%) from
// 10 µs up, as HdrHistogram does, never the samples themselves. A quantile is the middle of the
// bucket it falls in, so it is off by at most half a bucket (about 9%).

const BUCKET_MIN_MS = 0.01;
const BUCKETS_PER_OCTAVE = 4;

/** Buckets needed for the top one to start at or above `ms`: everything longer lands in it. */
export function bucketsReaching(ms: number): number {
  return Math.ceil(Math.log2(ms / BUCKET_MIN_MS) * BUCKETS_PER_OCTAVE) + 1;
}

function bucketOf(ms: number, buckets: number): number {
  if (!(ms > BUCKET_MIN_MS)) return 0;
  const b = Math.floor(Math.log2(ms / BUCKET_MIN_MS) * BUCKETS_PER_OCTAVE);
  return Math.min(b, buckets - 1);
}

/** The middle of a bucket (geometric): what a quantile falling in it reports. */
function bucketMiddleMs(b: number): number {
  return BUCKET_MIN_MS * 2 ** ((b + 0.5) / BUCKETS_PER_OCTAVE);
}

export class LogHistogram {
  private readonly counts: Uint32Array;
  private count = 0;

  constructor(buckets: number) {
    if (!(Number.isInteger(buckets) && buckets >= 1))
      throw new RangeError('a histogram needs at least one bucket');
    this.counts = new Uint32Array(buckets);
  }

  get total(): number {
    return this.count;
  }

  add(ms: number): void {
    const b = bucketOf(ms, this.counts.length);
    this.counts[b] = (this.counts[b] as number) + 1;
    this.count++;
  }

  /** Adds another histogram's counts (of the same number of buckets) to this one. */
  addAll(other: LogHistogram): void {
    if (other.counts.length !== this.counts.length)
      throw new RangeError('histograms of different buckets do not add up');
    other.counts.forEach((v, i) => (this.counts[i] = (this.counts[i] as number) + v));
    this.count += other.count;
  }

  clear(): void {
    this.counts.fill(0);
    this.count = 0;
  }

  /** The nearest-rank quantile q (0 < q <= 1), as its bucket's middle; null when empty. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let b = 0; b < this.counts.length; b++) {
      seen += this.counts[b] as number;
      if (seen >= rank) return bucketMiddleMs(b);
    }
    return bucketMiddleMs(this.counts.length - 1);
  }
}
