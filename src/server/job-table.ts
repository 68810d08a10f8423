import type { Job } from './job.js';
import type { JobHandles } from './job-handles.js';

/**
 * Every job the server holds, by handle, in creation order (admin `show jobs`). Keyed by
 * the handle's number, so looking up the handle of a WORK_* packet parses its bytes and
 * allocates nothing.
 */
export class JobTable {
  readonly #jobs = new Map<number, Job>();
  readonly #handles: JobHandles;

  constructor(handles: JobHandles) {
    this.#handles = handles;
  }

  get size(): number {
    return this.#jobs.size;
  }

  /** A fresh job number. */
  allocate(): number {
    return this.#handles.next(this.#taken);
  }

  /** Formats handles for the jobs of this table. */
  get handles(): JobHandles {
    return this.#handles;
  }

  readonly #taken = (id: number): boolean => this.#jobs.has(id);

  add(job: Job): void {
    this.#jobs.set(job.id, job);
  }

  delete(job: Job): void {
    if (this.#jobs.get(job.id) === job) this.#jobs.delete(job.id);
  }

  /** The job a handle (as bytes from a packet) names. */
  get(handle: Uint8Array): Job | undefined {
    const id = this.#handles.parse(handle);
    return id < 0 ? undefined : this.#jobs.get(id);
  }

  /** The job a handle (as a latin1 string) names. */
  getText(handle: string): Job | undefined {
    const id = this.#handles.parseText(handle);
    return id < 0 ? undefined : this.#jobs.get(id);
  }

  values(): IterableIterator<Job> {
    return this.#jobs.values();
  }
}
