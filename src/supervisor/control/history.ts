import type { JobResultKind } from '../runtime/function-runtime.js';
import { BucketRings } from './bucket-rings.js';

/** One bucket of a function's recent history, for charts. */
export interface HistoryPoint {
  /** Start of the bucket, in milliseconds since the epoch. */
  readonly t: number;
  readonly done: number;
  readonly failed: number;
  readonly excepted: number;
  /** Run time percentiles of the jobs that ended in the bucket (sampled); null when none did. */
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
}

export interface JobHistoryOptions {
  /** @defaultValue 2000 */
  readonly bucketMs?: number;
  /** How many buckets are kept: with the defaults, the last five minutes. @defaultValue 150 */
  readonly buckets?: number;
  /** Run times kept per bucket for its percentiles (a uniform sample past that). @defaultValue 128 */
  readonly sampleSize?: number;
  readonly now?: () => number;
}

interface Bucket {
  /** Absolute bucket number (time / bucketMs); a slot holding an older number is stale. */
  index: number;
  done: number;
  failed: number;
  excepted: number;
  /** Jobs seen in the bucket, for the reservoir sample. */
  seen: number;
  readonly sample: Float64Array;
}

/**
 * Per-function job counts and run times in time buckets, for the dashboard's throughput
 * and latency charts. Memory is fixed per function (buckets × sampleSize numbers), and
 * recording a job costs a few stores: no timers, stale buckets are found by their number.
 */
export class JobHistory {
  readonly bucketMs: number;
  readonly #sampleSize: number;
  readonly #now: () => number;
  readonly #rings: BucketRings<Bucket>;

  constructor(options: JobHistoryOptions = {}) {
    this.bucketMs = options.bucketMs ?? 2000;
    this.#sampleSize = options.sampleSize ?? 128;
    this.#now = options.now ?? Date.now;
    const sampleSize = this.#sampleSize;
    this.#rings = new BucketRings<Bucket>(
      options.buckets ?? 150,
      (index) => ({ index, done: 0, failed: 0, excepted: 0, seen: 0, sample: new Float64Array(sampleSize) }),
      (bucket) => {
        bucket.done = bucket.failed = bucket.excepted = bucket.seen = 0;
      },
    );
  }

  record(fn: string, result: JobResultKind, durationMs: number): void {
    const index = Math.floor(this.#now() / this.bucketMs);
    const bucket = this.#rings.bucket(fn, index);
    if (result === 'complete') bucket.done++;
    else if (result === 'fail') bucket.failed++;
    else bucket.excepted++;
    bucket.seen++;
    // Reservoir sampling: each of the bucket's jobs has the same chance to be kept.
    if (bucket.seen <= this.#sampleSize) bucket.sample[bucket.seen - 1] = durationMs;
    else {
      const slot = Math.floor(Math.random() * bucket.seen);
      if (slot < this.#sampleSize) bucket.sample[slot] = durationMs;
    }
  }

  /** The function's whole buckets, oldest first, empty ones included; the current, partial one is left out. */
  series(fn: string): HistoryPoint[] {
    const current = Math.floor(this.#now() / this.bucketMs);
    const points: HistoryPoint[] = [];
    for (let index = current - this.#rings.size + 1; index < current; index++) {
      const bucket = this.#rings.at(fn, index);
      const t = index * this.bucketMs;
      if (bucket === undefined) {
        points.push({ t, done: 0, failed: 0, excepted: 0, p50Ms: null, p95Ms: null });
        continue;
      }
      const [p50Ms, p95Ms] = percentiles(bucket.sample.slice(0, Math.min(bucket.seen, this.#sampleSize)));
      points.push({ t, done: bucket.done, failed: bucket.failed, excepted: bucket.excepted, p50Ms, p95Ms });
    }
    return points;
  }

  /** Drops the history of functions not named (they left the manifest). */
  retain(names: ReadonlySet<string>): void {
    this.#rings.retain(names);
  }
}

function percentiles(values: Float64Array): [number | null, number | null] {
  if (values.length === 0) return [null, null];
  values.sort();
  const rank = (p: number) =>
    values[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)] as number;
  return [rank(50), rank(95)];
}
