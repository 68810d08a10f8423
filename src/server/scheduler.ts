import { MAX_TIMER_MS } from '../limits.js';
import type { ServerJob } from './job.js';

/** setTimeout's largest delay; later times are reached in several hops. */
const kMaxDelayMs = MAX_TIMER_MS;

interface Entry {
  readonly job: ServerJob;
  /** Due time in epoch milliseconds. */
  readonly at: number;
  /** Submission order, so jobs due at the same second leave in the order they came. */
  readonly seq: number;
}

const before = (a: Entry, b: Entry): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/**
 * Holds SUBMIT_JOB_EPOCH jobs until their time, in a binary min-heap, with one timer for
 * the earliest. gearmand 1.1 leaves such jobs in the queue, skips them while early and
 * never wakes sleeping workers when they fall due; here they enter their queue when due,
 * and the engine wakes workers then (as gearmand 2.0 does).
 */
export class EpochScheduler {
  readonly #heap: Entry[] = [];
  readonly #onDue: (job: ServerJob) => void;
  readonly #now: () => number;
  #seq = 0;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(onDue: (job: ServerJob) => void, now: () => number = Date.now) {
    this.#onDue = onDue;
    this.#now = now;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** True when a job with this epoch time (seconds) must wait. */
  isEarly(when: number): boolean {
    return when > 0 && when * 1000 > this.#now();
  }

  add(job: ServerJob): void {
    const entry: Entry = { job, at: job.when * 1000, seq: this.#seq++ };
    const heap = this.#heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent] as Entry)) break;
      heap[i] = heap[parent] as Entry;
      i = parent;
    }
    heap[i] = entry;
    if (entry.at < this.#timerAt) this.#arm();
  }

  /** Stops the timer and returns every job still waiting, earliest first. */
  clear(): ServerJob[] {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const jobs: ServerJob[] = [];
    for (let top = this.#pop(); top !== undefined; top = this.#pop()) jobs.push(top.job);
    return jobs;
  }

  #arm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const top = this.#heap[0];
    if (top === undefined) {
      this.#timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    this.#timerAt = top.at;
    const delay = Math.min(Math.max(top.at - this.#now(), 0), kMaxDelayMs);
    this.#timer = setTimeout(() => this.#fire(), delay);
    // The listening socket keeps the process alive; a pending epoch job alone must not.
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#now();
    while (this.#heap.length > 0 && (this.#heap[0] as Entry).at <= now) {
      this.#onDue((this.#pop() as Entry).job);
    }
    this.#arm();
  }

  #pop(): Entry | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    const n = heap.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right] as Entry, heap[left] as Entry) ? right : left;
      if (!before(heap[child] as Entry, last)) break;
      heap[i] = heap[child] as Entry;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
