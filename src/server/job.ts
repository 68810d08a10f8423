import type { FunctionEntry } from './function-entry.js';
import type { Peer, ReplySlot } from './peer.js';
import type { StoreKey } from './store.js';

/** gearmand's three priorities, in the order a worker is served them. */
export const JobPriority = { HIGH: 0, NORMAL: 1, LOW: 2 } as const;
export type JobPriority = (typeof JobPriority)[keyof typeof JobPriority];

/**
 * Where a job is: waiting for its store write, waiting for its epoch time, in a
 * priority queue, running on a worker, or ended (removed from every index).
 */
export type JobState = 'persisting' | 'scheduled' | 'queued' | 'running' | 'done';

/**
 * One job, as gearmand's gearman_server_job_st: the fields are public because the
 * server's modules share them on the hot path; only the engine changes them.
 */
export class Job {
  readonly handle: string;
  readonly handleBytes: Buffer;
  readonly fn: FunctionEntry;
  /** The unique id as sent (may be empty, or `-`). */
  readonly unique: Buffer;
  /** The key in the function's unique index, or null when the job never coalesces. */
  uniqueKey: string | null;
  readonly data: Buffer;
  /** Reducer function name for SUBMIT_REDUCE_JOB*, empty otherwise. */
  readonly reducer: Buffer;
  readonly priority: JobPriority;
  /** Epoch seconds before which the job must not run (SUBMIT_JOB_EPOCH), 0 for none. */
  readonly when: number;
  /** Submitted in the background at least once: it runs whether or not clients wait. */
  background: boolean;
  /** Foreground clients, one entry per submit (a connection that submitted twice is here twice). */
  clients: Peer[] = [];
  worker: Peer | null = null;
  /** Times the job went back to its queue because its worker left or timed out. */
  retries = 0;
  /** gearmand's ignore_job: every client left, or an admin cancelled it; dropped when reached. */
  ignore = false;
  /** gearmand's job_queued: the job is (or, for the in-memory store, counts as) persisted. */
  queuedFlag = false;
  /** The store's key once the job was added to a durable store. */
  storeKey: StoreKey | undefined = undefined;
  /**
   * Submitters waiting for the job's store write, or null when none is pending. Their
   * JOB_CREATED (or ERROR) goes out when the batch commits.
   */
  pendingReplies: ReplySlot[] | null = null;
  numerator = 0;
  denominator = 0;
  state: JobState = 'queued';
  /** Link in a priority queue (intrusive list: no per-job node allocation). */
  next: Job | null = null;
  /** CAN_DO_TIMEOUT timer while running, if the worker registered one. */
  timer: NodeJS.Timeout | null = null;

  constructor(init: {
    handle: string;
    fn: FunctionEntry;
    unique: Buffer;
    uniqueKey: string | null;
    data: Buffer;
    reducer: Buffer;
    priority: JobPriority;
    when: number;
    background: boolean;
  }) {
    this.handle = init.handle;
    this.handleBytes = Buffer.from(init.handle, 'latin1');
    this.fn = init.fn;
    this.unique = init.unique;
    this.uniqueKey = init.uniqueKey;
    this.data = init.data;
    this.reducer = init.reducer;
    this.priority = init.priority;
    this.when = init.when;
    this.background = init.background;
  }
}
