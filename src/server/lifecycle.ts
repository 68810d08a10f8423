import type { Logger } from '../log.js';
import { PacketType } from '../protocol/constants.js';
import type { FunctionEntry } from './function-entry.js';
import { ServerJob } from './job.js';
import { createdFrame, failFrame } from './job-frames.js';
import type { JobHandles } from './job-handles.js';
import { JobTable } from './job-table.js';
import type { Peer, ReplySlot } from './peer.js';
import { Persistence } from './persistence.js';
import { errorFrame } from './replies.js';
import { atCap, capSlotFreed, noteHeldBack } from './running-cap.js';
import { EpochScheduler } from './scheduler.js';
import type { JobStore, ReplayReport, StoreKey } from './store.js';
import type { StoreHealth } from './store-outage.js';
import type { SubmitRecord } from './submit-record.js';
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

const kNoReplies: readonly ReplySlot[] = Object.freeze([]);

/**
 * Moves jobs through their states and keeps every index and counter in step: the job
 * table, the unique index, the priority queues and their counts, the epoch scheduler,
 * the running count, the store, the clients a job has. It is the only writer of a job's
 * fields (ServerJob says so too); the engine decides what a request means and calls
 * here. The queue heads are taken off by assignment.ts (a grab, PRE_SLEEP), which hands
 * the ignored jobs it meets to end(); Persistence stages store writes and reports back
 * through #durable and #storeFailed, leaving the job to this class.
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
            durable: (job) => this.#durable(job),
            failed: (job) => this.#storeFailed(job),
          },
          this.#log,
        )
      : null;
  }

  get runningCount(): number {
    return this.#running;
  }

  /** The durable store's state; null without one. */
  get storeHealth(): StoreHealth | null {
    return this.#persistence?.health ?? null;
  }

  /** A new job made from `submit`, in the job table and its function's unique index. */
  create(submit: SubmitRecord, uniqueKey: string | null): ServerJob {
    const job = new ServerJob(this.jobs.allocate(), this.jobs.handles, submit, uniqueKey);
    this.jobs.add(job);
    job.fn.total++;
    if (uniqueKey !== null) job.fn.uniques.set(uniqueKey, job);
    return job;
  }

  /**
   * A new job's submitter, answered: a foreground one waits for the job; a background
   * one, with a durable store, is answered when the job's store write commits (the job
   * waits in `persisting` until then). False when the store refused the job at once: it
   * is ended and the submitter got QUEUE_ERROR.
   */
  admit(job: ServerJob, peer: Peer): boolean {
    if (!job.background) {
      job.addClient(peer);
    } else if (this.#persistence !== null) {
      job.state = 'persisting';
      if (this.#persist(job, peer)) return true;
      this.end(job);
      peer.send(STORE_FAILED);
      return false;
    } else {
      job.queuedFlag = true;
    }
    peer.sendJobFrame(PacketType.JOB_CREATED, job);
    this.release(job);
    return true;
  }

  /**
   * A submit with the unique of a job of the same function joins it: same handle, its
   * own data ignored, even while the job runs (gearmand job.cc).
   */
  join(job: ServerJob, peer: Peer, background: boolean): void {
    if (!background) {
      job.addClient(peer);
      peer.send(createdFrame(job));
      return;
    }
    // Unlike gearmand, a background submit makes the job background for good: it is not
    // dropped when the foreground clients it joined leave, and a durable store keeps it.
    job.background = true;
    if (job.pendingReplies !== null) job.pendingReplies.push(peer.defer());
    else if (this.#persistence === null || job.storeKey !== undefined) peer.send(createdFrame(job));
    else if (!this.#persist(job, peer)) peer.send(STORE_FAILED);
  }

  /** A job the store kept (JobStore.replay), back under a new handle, already durable. */
  restore(submit: SubmitRecord, uniqueKey: string | null, storeKey: StoreKey): void {
    const job = this.create(submit, uniqueKey);
    job.storeKey = storeKey;
    job.queuedFlag = true;
    this.release(job);
  }

  /**
   * Stages the store write of a background job; `peer`'s reply waits in its output
   * until the write commits (see #durable). False when the store refused it at once.
   */
  #persist(job: ServerJob, peer: Peer): boolean {
    const key = (this.#persistence as Persistence).add(job);
    if (key === undefined) return false;
    job.storeKey = key;
    job.pendingReplies = [peer.defer()];
    return true;
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

  #durable(job: ServerJob): void {
    const frame = createdFrame(job);
    for (const reply of this.#takeReplies(job)) reply.resolve(frame);
    if (job.state === 'done') return;
    job.queuedFlag = true;
    if (job.state === 'persisting') this.release(job);
  }

  #storeFailed(job: ServerJob): void {
    for (const reply of this.#takeReplies(job)) reply.resolve(STORE_FAILED);
    job.storeKey = undefined;
    if (job.state !== 'persisting') return; // a job already running for foreground clients goes on
    this.forward(job, failFrame);
    this.end(job);
  }

  /** The submitters waiting for the job's store write, taken off it. */
  #takeReplies(job: ServerJob): readonly ReplySlot[] {
    const replies = job.pendingReplies ?? kNoReplies;
    job.pendingReplies = null;
    return replies;
  }

  #enqueue(job: ServerJob, front: boolean): void {
    job.state = 'queued';
    const fn = job.fn;
    if (front) fn.queues[job.priority].unshift(job);
    else fn.queues[job.priority].push(job);
    fn.waiting[job.priority]++;
    if (this.draining) return;
    if (atCap(fn)) noteHeldBack(fn, this.#log, Date.now());
    else wakeSleepers(fn, this.#options.workerWakeup);
  }

  /** A grab took the job off its queue: it runs on `worker`, with a CAN_DO_TIMEOUT if any. */
  assign(job: ServerJob, worker: Peer, timeoutMs: number): void {
    job.state = 'running';
    job.worker = worker;
    worker.running.add(job);
    const fn = job.fn;
    fn.running++;
    this.#running++;
    if (fn.running === fn.maxRunning && fn.queued > 0) noteHeldBack(fn, this.#log, Date.now());
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
    const fn = job.fn;
    fn.running--;
    this.#running--;
    if (fn.maxRunning !== 0 && !this.draining) capSlotFreed(fn);
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
    if (this.#persistence !== null) this.#unstore(job, this.#persistence);
  }

  /**
   * Marks a job to be dropped when reached (gearmand's ignore_job) and forgets its store
   * record. It leaves the unique index at once: gearmand keeps it there, so a later
   * submit with that unique joins a job that will never run, and its client waits forever.
   */
  ignore(job: ServerJob): void {
    job.ignore = true;
    job.queuedFlag = false;
    if (this.#persistence !== null) this.#unstore(job, this.#persistence);
    this.#leaveUniqueIndex(job);
  }

  /** Stages the deletion of the job's store record (nothing for a job never stored). */
  #unstore(job: ServerJob, persistence: Persistence): void {
    const key = job.storeKey;
    if (key === undefined) return;
    job.storeKey = undefined;
    persistence.remove(key, job);
  }

  /** `cancel job`: its clients get WORK_FAIL and are let go of; the job is dropped when reached. */
  cancel(job: ServerJob): void {
    this.forward(job, failFrame);
    job.dropClients();
    this.ignore(job);
  }

  /**
   * `drop function`: every job of `fn` ends, its clients told WORK_FAIL, and its queues
   * and counts are emptied (the engine checked that nothing of it runs).
   */
  dropJobsOf(fn: FunctionEntry): void {
    for (const job of [...this.jobs.values()]) {
      if (job.fn !== fn) continue;
      this.forward(job, failFrame);
      this.end(job);
    }
    for (const queue of fn.queues) queue.drain();
    fn.waiting.fill(0);
  }

  /** WORK_STATUS: kept for GET_STATUS, and `frame` (the packet as sent) goes to every client. */
  progress(job: ServerJob, numerator: number, denominator: number, frame: () => Buffer): void {
    job.numerator = numerator;
    job.denominator = denominator;
    this.forward(job, frame);
  }

  /**
   * `peer` closed: it waits for none of its jobs any more, and a foreground job left with
   * no client is dropped when reached (gearmand's ignore_job).
   */
  clientLeft(peer: Peer): void {
    for (const job of peer.waiting) if (job.removeClient(peer) && !job.background) this.ignore(job);
    peer.waiting.clear();
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
