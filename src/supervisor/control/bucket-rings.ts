/** A time bucket of a ring: the absolute bucket number (time / bucketMs) it holds now. */
export interface RingBucket {
  index: number;
}

/**
 * One fixed ring of time buckets per function, shared by the job and queue histories.
 * Memory is fixed per function (`size` buckets, each reused); no timers: a slot holding
 * an older bucket number is stale, and is reset when its new bucket is first written.
 */
export class BucketRings<B extends RingBucket> {
  readonly #size: number;
  readonly #fresh: (index: number) => B;
  readonly #reset: (bucket: B) => void;
  readonly #functions = new Map<string, B[]>();

  /** `fresh` builds a bucket for a slot never used; `reset` empties a stale one (its index is set here). */
  constructor(size: number, fresh: (index: number) => B, reset: (bucket: B) => void) {
    this.#size = size;
    this.#fresh = fresh;
    this.#reset = reset;
  }

  get size(): number {
    return this.#size;
  }

  /** The bucket `index` of `fn`, to write to: created, or reset when its slot held an older one. */
  bucket(fn: string, index: number): B {
    let ring = this.#functions.get(fn);
    if (ring === undefined) {
      ring = [];
      this.#functions.set(fn, ring);
    }
    const slot = modulo(index, this.#size);
    let bucket = ring[slot];
    if (bucket === undefined) {
      bucket = this.#fresh(index);
      ring[slot] = bucket;
    } else if (bucket.index !== index) {
      bucket.index = index;
      this.#reset(bucket);
    }
    return bucket;
  }

  /** The bucket `index` of `fn` to read, or undefined when nothing was written to it. */
  at(fn: string, index: number): B | undefined {
    const bucket = this.#functions.get(fn)?.[modulo(index, this.#size)];
    return bucket?.index === index ? bucket : undefined;
  }

  /** Drops the rings of functions not named (they left the manifest). */
  retain(names: ReadonlySet<string>): void {
    for (const fn of this.#functions.keys()) if (!names.has(fn)) this.#functions.delete(fn);
  }
}

/** `a` mod `n`, never negative: the ring slot of a bucket number. */
function modulo(a: number, n: number): number {
  return ((a % n) + n) % n;
}
