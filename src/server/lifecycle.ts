import type { Logger } from '../log.js';
import type { FunctionEntry } from './function-entry.js';
import { type JobPriority, ServerJob } from './job.js';
import { createdFrame, failFrame } from './job-frames.js';
import type { JobHandles } from './job-handles.js';
import { JobTable } from './job-table.js';
import type { Peer, ReplySlot } from './peer.js';
import { Persistence } from './persistence.js';
import { errorFrame } from './replies.js';
import { EpochScheduler } from './scheduler.js';
import type { JobStore, ReplayReport } from './store.js';
import type { StoreHealth } from './store-outage.js';
import { wakeSleepers } from './wakeup.js';

export interface LifecycleOptions {
  readonly handles: JobHandles;
  readonly store: JobStore;
  /** Attempts before a job whose workers keep dying is failed; 0 = unlimited. */
  readonly jobRetries: number;
  /** Sleeping workers woken per new job; 0 = all. */
  readonly workerWakeup: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** The answer to a background submit whose store write failed (gearmand's text too). */
export const STORE_FAILED = errorFrame('QUEUE_ERROR', 'QUEUE_ERROR');

/**
 * Moves jobs through their states and keeps every index and counter in step: the job
 * table, the unique index, the priority queues and their counts, the epoch scheduler,
 * the running count, the store. Each job state change happens here and only here.
 *
 *   create → (persisting →) scheduled | queued → running → end
 *                                        ↑_________| requeue
 */
export class JobLifecycle {
  readonly jobs: JobTable;
  readonly #scheduler: EpochScheduler;
  readonly #persistence: Persistence | null;
  readonly #options: LifecycleOptions;
  readonly #log: Logger;
  #running = 0;
  /** No job is handed out or announced any more (graceful shutdown). */
  draining = false;
  #onIdle: (() => void) | null = null;

  constructor(options: LifecycleOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.jobs = new JobTable(options.handles);
    this.#scheduler = new EpochScheduler((job) => this.#due(job), options.now);
    this.#persistence = options.store.durable
      ? new Persistence(
          options.store,
          {
            durable: (job, replies) => this.#durable(job, replies),
            failed: (job, replies) => this.#storeFailed(job, replies),
          },
          this.#log,
        )
      : null;
  }

  get runningCount(): number {
    return this.#running;
  }

  get durable(): boolean {
    return this.#persistence !== null;
  }

  /** The durable store's state; null without one. */
  get storeHealth(): StoreHealth | null {
    return this.#persistence?.health ?? null;
  }

  /** A new job, in the job table and its function's unique index (see Job's constructor). */
  create(
    fn: FunctionEntry,
    unique: string,
    uniqueKey: string | null,
    bytes: Buffer,
    dataStart: number,
    dataEnd: number,
    reducer: Buffer,
    priority: JobPriority,
    when: number,
    background: boolean,
  ): ServerJob {
    const id = this.jobs.allocate();
    const job = new ServerJob(
      id,
      this.jobs.handles,
      fn,
      unique,
      uniqueKey,
      bytes,
      dataStart,
      dataEnd,
      reducer,
      priority,
      when,
      background,
    );
    this.jobs.add(job);
    fn.total++;
    if (uniqueKey !== null) fn.uniques.set(uniqueKey, job);
    return job;
  }

  /**
   * Stages a store write for a background job; its submitter's reply (reserved by
   * `defer`) goes out when the write commits. False when the store refused it at once.
   */
  persist(job: ServerJob, defer: () => ReplySlot): boolean {
    return this.#persistence?.add(job, defer) ?? false;
  }

  /** A new (or newly durable) job becomes runnable now, or waits for its epoch time. */
  release(job: ServerJob): void {
    if (this.#scheduler.isEarly(job.when)) {
      job.state = 'scheduled';
      job.fn.waiting[job.priority]++;
      this.#scheduler.add(job);
    } else {
      this.#enqueue(job, false);
    }
  }

  #due(job: ServerJob): void {
    if (job.state !== 'scheduled') return;
    job.fn.waiting[job.priority]--;
    if (job.ignore) this.end(job);
    else this.#enqueue(job, false);
  }

  #durable(job: ServerJob, replies: readonly ReplySlot[]): void {
    const frame = createdFrame(job);
    for (const reply of replies) reply.resolve(frame);
    if (job.state === 'done') return;
    job.queuedFlag = true;
    if (job.state === 'persisting') this.release(job);
  }

  #storeFailed(job: ServerJob, replies: readonly ReplySlot[]): void {
    for (const reply of replies) reply.resolve(STORE_FAILED);
    job.storeKey = undefined;
    if (job.state !== 'persisting') return; // a job already running for foreground clients goes on
    this.forward(job, failFrame);
    this.end(job);
  }

  #enqueue(job: ServerJob, front: boolean): void {
    job.state = 'queued';
    const fn = job.fn;
    if (front) fn.queues[job.priority].unshift(job);
    else fn.queues[job.priority].push(job);
    fn.waiting[job.priority]++;
    if (!this.draining) wakeSleepers(fn, this.#options.workerWakeup);
  }

  /** A grab took the job off its queue: it runs on `worker`, with a CAN_DO_TIMEOUT if any. */
  assign(job: ServerJob, worker: Peer, timeoutMs: number): void {
    job.state = 'running';
    job.worker = worker;
    worker.running.add(job);
    job.fn.running++;
    this.#running++;
    if (timeoutMs > 0) {
      job.timer = setTimeout(() => this.#timedOut(job, worker), timeoutMs);
      job.timer.unref();
    }
  }

  #timedOut(job: ServerJob, worker: Peer): void {
    job.timer = null;
    if (job.worker !== worker) return;
    this.#log.warn(
      { jobHandle: job.handle, function: job.fn.name },
      'worker timeout reached on job, requeueing',
    );
    this.requeue(job, 'CAN_DO_TIMEOUT expired');
  }

  /**
   * A running job goes back to its queue because its worker left, timed out or dropped
   * the function: retries++, and with --job-retries N the Nth time ends it with WORK_FAIL
   * to its clients (gearmand job.cc). gearmand appends it to the end of its queue; here
   * it goes to the front, since it was the oldest job when it was taken.
   */
  requeue(job: ServerJob, why: string): void {
    this.#unassign(job);
    job.retries++;
    const limit = this.#options.jobRetries;
    if (limit > 0 && job.retries >= limit) {
      this.#log.info(
        { jobHandle: job.handle, function: job.fn.name, retries: job.retries, why },
        'dropped job after its last retry',
      );
      this.forward(job, failFrame);
      this.end(job);
    } else if (job.ignore) {
      this.end(job);
    } else {
      job.numerator = 0;
      job.denominator = 0;
      this.#enqueue(job, true);
    }
  }

  #unassign(job: ServerJob): void {
    if (job.timer !== null) clearTimeout(job.timer);
    job.timer = null;
    const worker = job.worker;
    if (worker === null) return;
    worker.running.delete(job);
    job.worker = null;
    job.fn.running--;
    this.#running--;
    if (this.#running === 0 && this.#onIdle !== null) this.#onIdle();
  }

  /** Sends one frame, built only if someone waits, to every client of the job. */
  forward(job: ServerJob, frame: (job: ServerJob) => Buffer): void {
    const clients = job.clients;
    if (clients.length === 0) return;
    const bytes = frame(job);
    for (const client of clients) client.send(bytes);
  }

  /**
   * Removes a job from every index: it completed, failed, was dropped or cancelled. A
   * job still in a queue or the scheduler stays there, marked done, until reached.
   */
  end(job: ServerJob): void {
    if (job.state === 'done') return;
    this.#unassign(job);
    job.state = 'done';
    job.fn.total--;
    this.jobs.delete(job);
    this.#leaveUniqueIndex(job);
    job.dropClients();
    this.#persistence?.remove(job);
  }

  /**
   * Marks a job to be dropped when reached (gearmand's ignore_job) and forgets its store
   * record. It leaves the unique index at once: gearmand keeps it there, so a later
   * submit with that unique joins a job that will never run, and its client waits forever.
   */
  ignore(job: ServerJob): void {
    job.ignore = true;
    job.queuedFlag = false;
    this.#persistence?.remove(job);
    this.#leaveUniqueIndex(job);
  }

  #leaveUniqueIndex(job: ServerJob): void {
    const key = job.uniqueKey;
    if (key !== null && job.fn.uniques.get(key) === job) job.fn.uniques.delete(key);
  }

  /** Resolves once no job runs (graceful shutdown); hands out nothing meanwhile. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#onIdle = () => {
        this.#onIdle = null;
        resolve();
      };
    });
  }

  /** Resolves when every store write staged so far is committed. */
  async settle(): Promise<void> {
    await this.#persistence?.settle();
  }

  /** The store's replay is over: logs what it found, notes a store that cannot write (Persistence.replayed). */
  replayed(report: ReplayReport | undefined): void {
    this.#persistence?.replayed(report);
  }

  /** Stops every timer: epoch jobs, CAN_DO_TIMEOUTs, the store's retries. */
  stopTimers(): void {
    this.#scheduler.clear();
    this.#persistence?.stop();
    for (const job of this.jobs.values()) {
      if (job.timer !== null) clearTimeout(job.timer);
      job.timer = null;
    }
  }
}
