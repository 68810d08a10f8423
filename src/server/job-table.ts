import type { ServerJob } from './job.js';
import type { JobHandles } from './job-handles.js';

/** Job numbers per page: a page is one 32 KiB array. */
const kPageBits = 12;
const kPageSize = 1 << kPageBits;
const kPageMask = kPageSize - 1;
/** An older page this empty gives its jobs to the sparse map: at most 128 bytes of slots per job. */
const kSparseLimit = kPageSize >> 4;

/** One page of the table: a slot per job number, and how many are filled. */
class Page {
  readonly slots: Array<ServerJob | undefined> = new Array<ServerJob | undefined>(kPageSize).fill(undefined);
  live = 0;
}

/**
 * Every job the server holds, by handle number, oldest first (admin `show jobs`). Job
 * numbers come from a counter, so the table is pages of 4096 slots rather than one Map:
 * a submit stores into a slot of the current page instead of hashing into a Map that
 * rehashes all its entries each time it doubles (at 32k jobs, in the middle of a burst
 * of submits), and a slot is 8 bytes against a Map entry's ~37. A page goes when its
 * last job does; an older page left with few jobs (long-running ones, or jobs for a
 * function nobody serves) hands them to a Map, so such jobs cost no page each. Looking
 * up the handle of a WORK_* packet parses its bytes and allocates nothing.
 */
export class JobTable {
  /** Pages by page number, in the order they were made. */
  readonly #pages = new Map<number, Page>();
  /** Jobs of pages that became sparse, by number. */
  readonly #sparse = new Map<number, ServerJob>();
  /** The page made last: the one submits fill, never made sparse. */
  #newest = -1;
  readonly #handles: JobHandles;
  #size = 0;
  /** The page used last, and its number: pipelined submits fill one page in a row. */
  #lastPage: Page | null = null;
  #lastNumber = -1;

  constructor(handles: JobHandles) {
    this.#handles = handles;
  }

  get size(): number {
    return this.#size;
  }

  /** A fresh job number. */
  allocate(): number {
    return this.#handles.next(this.#taken);
  }

  /** Formats handles for the jobs of this table. */
  get handles(): JobHandles {
    return this.#handles;
  }

  readonly #taken = (id: number): boolean => this.#find(id) !== undefined;

  #page(number: number): Page | undefined {
    if (number === this.#lastNumber) return this.#lastPage as Page;
    const page = this.#pages.get(number);
    if (page !== undefined) {
      this.#lastPage = page;
      this.#lastNumber = number;
    }
    return page;
  }

  #find(id: number): ServerJob | undefined {
    const job = this.#page(id >>> kPageBits)?.slots[id & kPageMask];
    // After the counter wraps, a page may be made again while jobs of its numbers wait in #sparse.
    return job !== undefined || this.#sparse.size === 0 ? job : this.#sparse.get(id);
  }

  add(job: ServerJob): void {
    const number = job.id >>> kPageBits;
    let page = this.#page(number);
    if (page === undefined) {
      const previous = this.#pages.get(this.#newest);
      if (previous !== undefined && previous.live <= kSparseLimit) this.#drop(this.#newest, previous);
      page = new Page();
      this.#pages.set(number, page);
      this.#lastPage = page;
      this.#lastNumber = number;
      this.#newest = number;
    }
    const slot = job.id & kPageMask;
    if (page.slots[slot] === undefined) {
      page.live++;
      this.#size++;
    }
    page.slots[slot] = job;
  }

  delete(job: ServerJob): void {
    const number = job.id >>> kPageBits;
    const page = this.#page(number);
    const slot = job.id & kPageMask;
    if (page === undefined || page.slots[slot] !== job) {
      if (this.#sparse.get(job.id) === job) {
        this.#sparse.delete(job.id);
        this.#size--;
      }
      return;
    }
    page.slots[slot] = undefined;
    this.#size--;
    page.live--;
    if (page.live === 0 || (page.live <= kSparseLimit && number !== this.#newest)) this.#drop(number, page);
  }

  /** Lets a page go, its remaining jobs (at most kSparseLimit) to the sparse map. */
  #drop(number: number, page: Page): void {
    if (page.live > 0) for (const job of page.slots) if (job !== undefined) this.#sparse.set(job.id, job);
    this.#pages.delete(number);
    this.#lastPage = null;
    this.#lastNumber = -1;
  }

  /** The job a handle (as bytes from a packet) names. */
  get(handle: Uint8Array): ServerJob | undefined {
    const id = this.#handles.parse(handle);
    return id < 0 ? undefined : this.#find(id);
  }

  /** The job a handle (as a latin1 string) names. */
  getText(handle: string): ServerJob | undefined {
    const id = this.#handles.parseText(handle);
    return id < 0 ? undefined : this.#find(id);
  }

  /** Every job: those of sparse pages (the oldest), then page by page in number order. */
  *values(): IterableIterator<ServerJob> {
    yield* this.#sparse.values();
    for (const page of this.#pages.values()) {
      for (const job of page.slots) if (job !== undefined) yield job;
    }
  }
}
