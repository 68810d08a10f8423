import type { Job } from './job.js';

/**
 * A FIFO of jobs linked through `job.next`: push, push to the front (a requeued job)
 * and shift are O(1) and allocate nothing, which matters when millions of jobs wait.
 * A job is in at most one queue at a time.
 */
export class JobQueue {
  #head: Job | null = null;
  #tail: Job | null = null;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  get head(): Job | null {
    return this.#head;
  }

  push(job: Job): void {
    job.next = null;
    if (this.#tail === null) this.#head = job;
    else this.#tail.next = job;
    this.#tail = job;
    this.#length++;
  }

  unshift(job: Job): void {
    job.next = this.#head;
    this.#head = job;
    if (this.#tail === null) this.#tail = job;
    this.#length++;
  }

  shift(): Job | null {
    const job = this.#head;
    if (job === null) return null;
    this.#head = job.next;
    if (this.#head === null) this.#tail = null;
    job.next = null;
    this.#length--;
    return job;
  }

  /** Removes every job and returns them in order. */
  drain(): Job[] {
    const jobs: Job[] = [];
    for (let job = this.shift(); job !== null; job = this.shift()) jobs.push(job);
    return jobs;
  }
}
