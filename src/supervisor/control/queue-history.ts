import { BucketRings } from './bucket-rings.js';
import type { ProbeResult } from './queue-probe.js';

/** One bucket of a function's queue on the job servers, summed over the servers that answered. */
export interface QueuePoint {
  /** Start of the bucket, in milliseconds since the epoch. */
  readonly t: number;
  /** Most jobs seen waiting for a worker in the bucket; null when no server answered in it. */
  readonly queued: number | null;
  /** Most jobs seen running (on any box) in the bucket; null when no server answered in it. */
  readonly running: number | null;
}

export interface QueueHistoryOptions {
  /** @defaultValue 2000 */
  readonly bucketMs?: number;
  /** How many buckets are kept: with the defaults, the last five minutes. @defaultValue 150 */
  readonly buckets?: number;
  readonly now?: () => number;
}

interface Bucket {
  /** Absolute bucket number (time / bucketMs); a slot holding an older number is stale. */
  index: number;
  queued: number;
  running: number;
}

/**
 * Queue depth over time per function, from the job servers' admin `status` (the
 * supervisor's QueueProbe), for the dashboard's queue chart. A bucket keeps the highest
 * depth sampled in it, so a burst between two samples of the same bucket is not lost.
 * Memory is fixed per function (buckets × three numbers); stale buckets are found by
 * their number, as in JobHistory.
 */
export class QueueHistory {
  readonly bucketMs: number;
  readonly #now: () => number;
  readonly #rings: BucketRings<Bucket>;

  constructor(options: QueueHistoryOptions = {}) {
    this.bucketMs = options.bucketMs ?? 2000;
    this.#now = options.now ?? Date.now;
    this.#rings = new BucketRings<Bucket>(
      options.buckets ?? 150,
      (index) => ({ index, queued: 0, running: 0 }),
      (bucket) => {
        bucket.queued = bucket.running = 0;
      },
    );
  }

  /** Records one probe of every server for the functions named; a function no server answered for gets nothing. */
  record(functions: Iterable<string>, probes: ReadonlyMap<string, ProbeResult>): void {
    const index = Math.floor(this.#now() / this.bucketMs);
    for (const fn of functions) {
      let answered = false;
      let queued = 0;
      let running = 0;
      for (const probe of probes.values()) {
        if (!probe.ok) continue;
        answered = true;
        const row = probe.rows.get(fn);
        queued += row?.queued ?? 0;
        running += row?.running ?? 0;
      }
      if (!answered) continue;
      const bucket = this.#rings.bucket(fn, index);
      bucket.queued = Math.max(bucket.queued, queued);
      bucket.running = Math.max(bucket.running, running);
    }
  }

  /** The function's buckets, oldest first, up to and including the current one (a gauge needs no whole bucket). */
  series(fn: string): QueuePoint[] {
    const current = Math.floor(this.#now() / this.bucketMs);
    const points: QueuePoint[] = [];
    for (let index = current - this.#rings.size + 1; index <= current; index++) {
      const bucket = this.#rings.at(fn, index);
      const t = index * this.bucketMs;
      if (bucket === undefined) points.push({ t, queued: null, running: null });
      else points.push({ t, queued: bucket.queued, running: bucket.running });
    }
    return points;
  }

  /** Drops the history of functions not named (they left the manifest). */
  retain(names: ReadonlySet<string>): void {
    this.#rings.retain(names);
  }
}
