/** Bucket width: each bucket is 1% wider than the last, so a percentile is within about 0.5%. */
const kGrowth = 1.01;
const kLogGrowth = Math.log(kGrowth);
/** Smallest latency told apart: one microsecond. */
const kMinMs = 0.001;
/** 2,600 buckets reach past a day (0.001 ms × 1.01^2600 ≈ 1.7e8 ms); longer ones share the last. */
const kBuckets = 2600;

/**
 * Latencies in logarithmic buckets: fixed memory (20 KiB) whatever the number of jobs, so
 * a batch of a hundred million lines costs no more than one of ten. Percentiles come
 * back as the middle of their bucket, clamped to the smallest and largest value seen.
 */
export class LatencyHistogram {
  readonly #counts = new Float64Array(kBuckets);
  #count = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  get count(): number {
    return this.#count;
  }

  record(ms: number): void {
    const value = Math.max(ms, 0);
    const index =
      value <= kMinMs ? 0 : Math.min(kBuckets - 1, Math.floor(Math.log(value / kMinMs) / kLogGrowth) + 1);
    this.#counts[index] = (this.#counts[index] as number) + 1;
    this.#count++;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  /** The p-th percentile (0-100), nearest rank; null when nothing was recorded. */
  percentile(p: number): number | null {
    if (this.#count === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < kBuckets; i++) {
      seen += this.#counts[i] as number;
      if (seen >= rank) return this.#clamp(i === 0 ? kMinMs : kMinMs * kGrowth ** (i - 0.5));
    }
    return this.#max;
  }

  #clamp(value: number): number {
    return Math.min(this.#max, Math.max(this.#min, value));
  }
}
