import type { ServerJob } from './job.js';

/**
 * A FIFO of jobs linked through `job.next`: push, push to the front (a requeued job)
 * and shift are O(1) and allocate nothing, which matters when millions of jobs wait.
 * A job is in at most one queue at a time.
 */
export class JobQueue {
  #head: ServerJob | null = null;
  #tail: ServerJob | null = null;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  get head(): ServerJob | null {
    return this.#head;
  }

  push(job: ServerJob): void {
    job.next = null;
    if (this.#tail === null) this.#head = job;
    else this.#tail.next = job;
    this.#tail = job;
    this.#length++;
  }

  unshift(job: ServerJob): void {
    job.next = this.#head;
    this.#head = job;
    if (this.#tail === null) this.#tail = job;
    this.#length++;
  }

  shift(): ServerJob | null {
    const job = this.#head;
    if (job === null) return null;
    this.#head = job.next;
    if (this.#head === null) this.#tail = null;
    job.next = null;
    this.#length--;
    return job;
  }

  /** Removes every job and returns them in order. */
  drain(): ServerJob[] {
    const jobs: ServerJob[] = [];
    for (let job = this.shift(); job !== null; job = this.shift()) jobs.push(job);
    return jobs;
  }
}
