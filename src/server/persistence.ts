import type { Logger } from '../log.js';
import type { Job } from './job.js';
import type { ReplySlot } from './peer.js';
import type { JobStore, StoredJob } from './store.js';

export interface PersistenceEvents {
  /** The job's store write committed: answer its submitters and let it run. */
  durable(job: Job, replies: readonly ReplySlot[]): void;
  /** The job's store write failed: refuse its submitters. */
  failed(job: Job, replies: readonly ReplySlot[], error: unknown): void;
}

/** The record a store keeps for a job. */
export function storedJob(job: Job): StoredJob {
  return {
    function: job.fn.nameBytes,
    unique: Buffer.from(job.unique, 'latin1'),
    data: job.data,
    reducer: job.reducer,
    priority: job.priority,
    when: job.when,
  };
}

/**
 * Batches store writes per tick: jobs added during one turn of the event loop are
 * committed by one flush() (setImmediate runs after all the I/O callbacks of the turn,
 * so a burst of pipelined submits from many connections shares a commit), and one flush
 * runs at a time. Only used with a durable store.
 */
export class Persistence {
  readonly #store: JobStore;
  readonly #events: PersistenceEvents;
  readonly #log: Logger;
  /** Jobs whose add is staged for the next flush. */
  #batch: Job[] = [];
  /** Anything staged (adds or removes) since the last flush began. */
  #dirty = false;
  #scheduled = false;
  #flushing: Promise<void> | null = null;

  constructor(store: JobStore, events: PersistenceEvents, log: Logger) {
    this.#store = store;
    this.#events = events;
    this.#log = log;
  }

  /**
   * Stages a job's add; the reply `defer` reserves (and any pushed onto the job's
   * pendingReplies later) is answered when it commits. False (logged) when the store
   * refused the job on the spot: nothing is staged and no reply reserved.
   */
  add(job: Job, defer: () => ReplySlot): boolean {
    try {
      job.storeKey = this.#store.add(storedJob(job));
    } catch (err) {
      this.#log.error({ err, jobHandle: job.handle }, 'job store refused a job');
      return false;
    }
    job.pendingReplies = [defer()];
    this.#batch.push(job);
    this.#touch();
    return true;
  }

  /** Stages the deletion of a stored job (a no-op for a job never stored). */
  remove(job: Job): void {
    const key = job.storeKey;
    if (key === undefined) return;
    job.storeKey = undefined;
    try {
      this.#store.remove(key);
    } catch (err) {
      // The row stays behind and comes back at the next start: logged, not fatal.
      this.#log.error({ err, jobHandle: job.handle }, 'job store failed to remove a job');
      return;
    }
    this.#touch();
  }

  /** Resolves when everything staged so far is committed (or has failed). */
  async settle(): Promise<void> {
    while (this.#dirty || this.#flushing !== null) {
      if (this.#flushing !== null) await this.#flushing;
      else await this.#flush();
    }
  }

  #touch(): void {
    this.#dirty = true;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#flushing === null && this.#dirty) void this.#flush();
    });
  }

  #flush(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    this.#dirty = false;
    // A store that throws instead of rejecting must not escape into the event loop.
    const done = new Promise<void>((resolve) => resolve(this.#store.flush())).then(
      () => {
        for (const job of batch) this.#events.durable(job, this.#takeReplies(job));
      },
      (error: unknown) => {
        this.#log.error({ err: error, jobs: batch.length }, 'job store flush failed');
        for (const job of batch) this.#events.failed(job, this.#takeReplies(job), error);
      },
    );
    this.#flushing = done.finally(() => {
      this.#flushing = null;
      // Work staged while this flush ran goes out now, in its own batch.
      if (this.#dirty && !this.#scheduled) void this.#flush();
    });
    return this.#flushing;
  }

  #takeReplies(job: Job): ReplySlot[] {
    const replies = job.pendingReplies ?? [];
    job.pendingReplies = null;
    return replies;
  }
}
