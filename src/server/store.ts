import type { JobPriority } from './job.js';

/** A background job as a store keeps it: what is needed to run it again after a restart. */
export interface StoredJob {
  readonly function: Buffer;
  readonly unique: Buffer;
  readonly data: Buffer;
  /** Reducer of a SUBMIT_REDUCE_JOB_BACKGROUND job; empty otherwise. */
  readonly reducer: Buffer;
  readonly priority: JobPriority;
  /** Epoch seconds before which the job must not run (SUBMIT_JOB_EPOCH); 0 for none. */
  readonly when: number;
}

/** A store's own identifier for a stored job (a row id, a key): opaque to the server. */
export type StoreKey = string | number | bigint;

/** What a replay found besides the jobs it handed back. */
export interface ReplayReport {
  /** Stored jobs not handed back: they ended while the store could not delete them (recorded then). */
  readonly skippedEnded: number;
  /** Ends the store could not record: up to that many of the replayed jobs had ended already. */
  readonly unrecordedEnds: number;
  /** Why ends could not be recorded if the store fails during this run; undefined when they can. */
  readonly journalProblem?: string | undefined;
  /** Why the replay's own commit (of the removes it staged) failed: the store cannot write now. */
  readonly commitError?: unknown;
}

/**
 * Persistence for background jobs, the way gearmand's queue plugins work: a background
 * job is stored when submitted, deleted when it ends (completed, failed, exception,
 * dropped after its retries, cancelled, its function dropped), and replayed at start.
 * Foreground jobs are never stored: their client is gone after a restart anyway.
 *
 * The server drives a durable store in batches, so a burst of submits costs one commit:
 * during a tick it calls `add` and `remove` (staging, synchronous, in the order things
 * happen); at the end of the tick it calls `flush` once, and only when that resolves does
 * it answer JOB_CREATED to the submitters and let workers have those jobs. A flush that
 * rejects fails those submits with `ERROR QUEUE_ERROR` and drops their jobs, and must keep
 * its removes staged for the next flush (or the ended jobs would run again after a
 * restart). The server never has two flushes running: operations staged meanwhile go
 * into the next one.
 *
 * After a flush rejects, the server refuses background submits (QUEUE_ERROR) and retries,
 * with backoff, a flush of what is staged then `probe()`, until both succeed.
 *
 * A store that is not `durable` (the in-memory default) is never called to add, remove
 * or flush, so memory-only serving pays nothing for this interface.
 */
export interface JobStore {
  /** Whether submits wait for `flush`. @defaultValue false for MemoryJobStore */
  readonly durable: boolean;
  /**
   * Hands every stored job to `restore`, once, before the server accepts connections.
   * Jobs come back with new handles (gearmand's do too), under the key they were stored with.
   * Removes staged meanwhile (duplicates the server dropped) are committed by the next flush
   * (the SQLite store commits them itself, and reports a failure as `commitError`).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: stores written before the report resolve with nothing (Promise<void>)
  replay(restore: (job: StoredJob, key: StoreKey) => void): Promise<ReplayReport | void>;
  /** Stages a new background job and returns the key `remove` will be given. */
  add(job: StoredJob): StoreKey;
  /** Stages the deletion of a stored job. */
  remove(key: StoreKey): void;
  /** Commits everything staged before this call, in call order; resolves once it is durable. */
  flush(): Promise<void>;
  /**
   * Proves with a real write that an add would commit now: called after a flush failed,
   * once what was staged has committed; rejects while the store still cannot write.
   * Optional: without it, a successful flush is taken as the proof.
   */
  probe?(): Promise<void>;
  /** Called once by the server's close(), after its last flush. */
  close(): Promise<void>;
}

/**
 * The default store: jobs live in memory only, as with gearmand's `builtin` queue, and
 * are lost when the process ends.
 */
export class MemoryJobStore implements JobStore {
  readonly durable = false;

  async replay(): Promise<void> {}

  add(): StoreKey {
    return 0;
  }

  remove(): void {}

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
