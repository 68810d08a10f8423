import type { Logger } from '../log.js';
import { PacketType } from '../protocol/constants.js';
import { FRAME_NO_JOB, FRAME_NOOP } from '../protocol/frames.js';
import { addAbility, clearAbilities, removeAbility } from './abilities.js';
import { hasRunnable, takeJob } from './assignment.js';
import type { FunctionEntry } from './function-entry.js';
import type { ServerJob } from './job.js';
import { JobCounters } from './job-counters.js';
import {
  assignFrame,
  cString,
  failFrame,
  type GrabKind,
  resultFrame,
  statusFrame,
  statusUniqueFrame,
} from './job-frames.js';
import type { JobHandles } from './job-handles.js';
import { JobLifecycle } from './lifecycle.js';
import type { Peer } from './peer.js';
import type { ServerFunctionRegistry } from './registry.js';
import { ErrorReply } from './replies.js';
import { cachedReply, ResultCache, type ResultCacheOptions } from './result-cache.js';
import { wakeForFreeSlots } from './running-cap.js';
import type { JobStore, ReplayReport, StoredJob, StoreKey } from './store.js';
import type { StoreHealth } from './store-outage.js';
import { SubmitRecord } from './submit-record.js';
import { isPayloadKey, uniqueKey } from './unique.js';
import { fallAsleep, wakeUp } from './wakeup.js';

export type { GrabKind } from './job-frames.js';

export interface EngineOptions {
  readonly registry: ServerFunctionRegistry;
  readonly handles: JobHandles;
  readonly store: JobStore;
  /** Attempts before a job whose workers keep dying is failed; 0 = unlimited. */
  readonly jobRetries: number;
  /** Sleeping workers woken per new job; 0 = all. */
  readonly workerWakeup: number;
  readonly roundRobin: boolean;
  readonly globalPriority: boolean;
  /** Jobs the whole server may hold; 0 = unlimited. */
  readonly maxJobs: number;
  /** Answer foreground submits from recent results (off when undefined). */
  readonly resultCache?: ResultCacheOptions | undefined;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** gearmand raises CAN_DO_TIMEOUT values under a second to one second (connection.cc). */
const kMinTimeoutMs = 1000;

/**
 * The job server's rules, apart from sockets: what each request does to the jobs and the
 * workers, as gearmand 1.1.20 does it (libgearman-server/job.cc, server.cc,
 * gearmand_con.cc) unless a comment says why not. One instance owns every queue, on the
 * event loop's thread, so nothing needs a lock. Per-packet work is O(1) in the number of
 * jobs; what loops is bounded by one connection's own functions or jobs. It decides and
 * reads; every change to a job goes through its JobLifecycle (lifecycle.ts).
 */
export class JobEngine {
  readonly #registry: ServerFunctionRegistry;
  readonly #life: JobLifecycle;
  readonly #options: EngineOptions;
  readonly #drop = (job: ServerJob): void => this.#life.end(job);
  /** The record restore() fills for each stored job. */
  readonly #restoring = new SubmitRecord();
  #closed = false;
  /** Recent WORK_COMPLETE results by function and unique (see ResultCache). */
  readonly resultCache: ResultCache;
  /** Submits and outcomes per function, for monitoring (GearmanServer.jobTotals). */
  readonly counters = new JobCounters();

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#registry = options.registry;
    this.#life = new JobLifecycle(options);
    this.resultCache = new ResultCache(options.resultCache, options.now);
  }

  get jobCount(): number {
    return this.#life.jobs.size;
  }

  get runningCount(): number {
    return this.#life.runningCount;
  }

  /** The durable store's state (refusing submits or not, deletes pending); null without one. */
  get storeHealth(): StoreHealth | null {
    return this.#life.storeHealth;
  }

  /** Every job, oldest first (admin `show jobs`). */
  jobs(): IterableIterator<ServerJob> {
    return this.#life.jobs.values();
  }

  // --- clients -------------------------------------------------------------

  /** The function named by these bytes, made known if new (what a submit names). */
  functionNamed(name: Buffer): FunctionEntry {
    return this.#registry.getOrCreateBytes(name);
  }

  /**
   * A submit: SUBMIT_JOB*, SUBMIT_REDUCE_JOB*, and the HTTP gateway's. `submit` is the
   * caller's reusable record, read during this call only (the packet handlers fill their
   * connection's one; see SubmitRecord).
   */
  submit(peer: Peer, submit: SubmitRecord): void {
    const fn = submit.fn;
    const counts = this.counters.of(fn);
    counts.submitted++;
    const bytes = submit.bytes;
    const dataStart = submit.dataStart;
    const dataEnd = submit.dataEnd;
    const background = submit.background;
    const key = uniqueKey(submit.unique, bytes, dataStart, dataEnd);
    if (key !== null && !background && this.resultCache.enabled && submit.reducer.length === 0) {
      const cached = this.resultCache.lookup(fn.name, key);
      if (cached !== undefined) {
        // Answered without a job: the handle is fresh and known to nobody afterwards.
        peer.send(cachedReply(this.#life.jobs.handles.format(this.#life.jobs.allocate()), cached));
        return;
      }
    }
    if (key !== null) {
      const existing = fn.uniques.get(key);
      if (existing !== undefined && (!isPayloadKey(key) || existing.dataEquals(bytes, dataStart, dataEnd))) {
        this.#life.join(existing, peer, background);
        return;
      }
    }
    const limit = fn.maxQueue[submit.priority];
    const maxJobs = this.#options.maxJobs;
    if ((limit > 0 && fn.total >= limit) || (maxJobs > 0 && this.jobCount >= maxJobs)) {
      counts.rejected++;
      peer.send(ErrorReply.QUEUE_FULL);
      return;
    }
    if (!this.#life.admit(this.#life.create(submit, key), peer)) counts.rejected++;
  }

  /** Re-creates a stored background job at startup (JobStore.replay). */
  restore(stored: StoredJob, storeKey: StoreKey): void {
    const fn = this.#registry.getOrCreateBytes(stored.function);
    const key = uniqueKey(stored.unique, stored.data);
    if (key !== null && fn.uniques.has(key)) {
      // Stored twice (gearmand would answer JOB_EXISTS): keep one.
      this.#options.store.remove(storeKey);
      return;
    }
    const submit = this.#restoring.reset(fn);
    submit.unique = stored.unique;
    submit.setData(stored.data);
    submit.reducer = stored.reducer;
    submit.priority = stored.priority;
    submit.background = true;
    submit.when = stored.when;
    this.#life.restore(submit, key, storeKey);
  }

  /** The replay is over: log what it found; a store that could not commit starts an outage. */
  storeReplayed(report: ReplayReport | undefined): void {
    this.#life.replayed(report);
  }

  /** GET_STATUS. The handle is read as the C string gearmand makes of it: up to a NUL. */
  statusFrame(requested: Buffer): Buffer {
    const handle = cString(requested);
    return statusFrame(handle, this.#life.jobs.get(handle));
  }

  /** GET_STATUS_UNIQUE: the first job of any function with this unique. */
  statusUniqueFrame(requested: Buffer): Buffer {
    const unique = cString(requested);
    let job: ServerJob | undefined;
    if (unique.length > 0) {
      const key = unique.toString('latin1');
      for (const fn of this.#registry.values()) {
        job = fn.uniques.get(key);
        if (job !== undefined) break;
      }
    }
    return statusUniqueFrame(unique, job);
  }

  // --- workers -------------------------------------------------------------

  canDo(peer: Peer, name: string, timeoutMs: number): void {
    addAbility(this.#registry, peer, name, timeoutMs);
  }

  /** CANT_DO: like gearmand, the jobs of that function the connection runs go back to the queue. */
  cantDo(peer: Peer, name: string): void {
    const fn = removeAbility(this.#registry, peer, name);
    if (fn === undefined) return;
    for (const job of [...peer.running])
      if (job.fn === fn) this.#life.requeue(job, 'worker dropped the function');
  }

  resetAbilities(peer: Peer): void {
    for (const job of [...peer.running]) this.#life.requeue(job, 'worker reset its abilities');
    clearAbilities(peer);
  }

  preSleep(peer: Peer): void {
    // Jobs wait already (a race with the worker's last NO_JOB): wake it at once.
    if (!this.#life.draining && hasRunnable(peer, this.#drop)) peer.send(FRAME_NOOP);
    else fallAsleep(peer);
  }

  grab(peer: Peer, kind: GrabKind): void {
    wakeUp(peer);
    const taken = this.#life.draining ? null : takeJob(peer, this.#options, this.#drop);
    if (taken === null) {
      peer.send(FRAME_NO_JOB);
      return;
    }
    const [job, ability] = taken;
    this.#life.assign(job, peer, ability.timeoutMs > 0 ? Math.max(ability.timeoutMs, kMinTimeoutMs) : 0);
    peer.send(assignFrame(job, kind));
  }

  /** The job `handle` if this connection runs it; gearmand answers JOB_NOT_FOUND otherwise. */
  owned(peer: Peer, handle: Buffer): ServerJob | undefined {
    const job = this.#life.jobs.get(handle);
    return job !== undefined && job.worker === peer ? job : undefined;
  }

  /** WORK_STATUS: kept for GET_STATUS, and `frame` (the packet as sent) goes to every client. */
  workStatus(job: ServerJob, numerator: number, denominator: number, frame: () => Buffer): void {
    this.#life.progress(job, numerator, denominator, frame);
  }

  /** WORK_DATA and WORK_WARNING: forwarded to every waiting client. */
  workData(job: ServerJob, type: PacketType, data: Buffer): void {
    this.#life.forward(job, () => resultFrame(type, job, data));
  }

  workComplete(job: ServerJob, data: Buffer): void {
    this.counters.of(job.fn).completed++;
    if (this.resultCache.enabled && job.uniqueKey !== null && job.reducer.length === 0) {
      this.resultCache.store(job.fn.name, job.uniqueKey, job.unique, data);
    }
    this.#life.forward(job, () => resultFrame(PacketType.WORK_COMPLETE, job, data));
    this.#life.end(job);
  }

  workFail(job: ServerJob): void {
    this.counters.of(job.fn).failed++;
    this.#life.forward(job, failFrame);
    this.#life.end(job);
  }

  /**
   * WORK_EXCEPTION: clients that asked for exceptions get it, the others WORK_FAIL
   * (gearmand's has a stray NUL after the handle; this one is a clean WORK_FAIL).
   */
  workException(job: ServerJob, data: Buffer): void {
    this.counters.of(job.fn).excepted++;
    this.#except(job, data);
  }

  /**
   * The server fails a running job with `reason` (its worker's result was over the frame
   * limit): WORK_EXCEPTION with the reason to clients that asked for exceptions, WORK_FAIL
   * to the others, and the job is done. Not requeued: every worker would send the same
   * result again. Not counted as a worker's outcome, as retries exhausted are not.
   */
  failRunning(job: ServerJob, reason: Buffer): void {
    this.#except(job, reason);
  }

  #except(job: ServerJob, data: Buffer): void {
    let exception: Buffer | null = null;
    let fail: Buffer | null = null;
    for (const client of job.clients) {
      if (client.exceptions) {
        exception ??= resultFrame(PacketType.WORK_EXCEPTION, job, data);
        client.send(exception);
      } else {
        fail ??= failFrame(job);
        client.send(fail);
      }
    }
    this.#life.end(job);
  }

  // --- connections ---------------------------------------------------------

  /** A connection closed: requeue what it ran, then let go of what it waited for. */
  disconnect(peer: Peer): void {
    if (this.#closed) return;
    for (const job of [...peer.running]) this.#life.requeue(job, 'worker disconnected');
    clearAbilities(peer);
    this.#life.clientLeft(peer);
  }

  // --- admin ---------------------------------------------------------------

  /** `cancel job H`: its clients get WORK_FAIL and it is dropped when reached. False when unknown. */
  cancel(handle: string): boolean {
    const job = this.#life.jobs.getText(handle);
    if (job === undefined) return false;
    this.#life.cancel(job);
    return true;
  }

  /**
   * `drop function F`: refused while workers have it registered or run its jobs. Its
   * waiting jobs go too (gearmand leaves them dangling); their clients get WORK_FAIL.
   */
  dropFunction(fn: FunctionEntry): 'dropped' | 'busy' {
    if (fn.workers > 0 || fn.running > 0) return 'busy';
    this.#life.dropJobsOf(fn);
    this.#registry.delete(fn);
    return 'dropped';
  }

  /**
   * `maxrunning F N`: at most `cap` jobs of the function named `name` (latin1 of its
   * bytes) run at once; 0 removes the cap. A cap raised or removed wakes as many sleeping
   * workers as jobs may start now; one lowered under the running count lets those jobs
   * finish and hands out no more until the count is under it.
   */
  setMaxRunning(name: string, cap: number): void {
    const fn = this.#registry.setMaxRunning(name, cap);
    if (fn !== undefined && !this.#life.draining) wakeForFreeSlots(fn);
  }

  // --- shutdown ------------------------------------------------------------

  /**
   * Graceful shutdown: no job is handed out any more; resolves once no job runs.
   * Queued jobs stay queued (a durable store keeps the background ones).
   */
  drain(): Promise<void> {
    return this.#life.drain();
  }

  /** Resolves when every store write staged so far is committed. */
  settle(): Promise<void> {
    return this.#life.settle();
  }

  /**
   * The server is closing: stop every timer, and from now on treat closing connections
   * as nothing: the server's own shutdown is no worker failure, so no retry is counted
   * and no job is dropped for it.
   */
  shutdown(): void {
    this.#closed = true;
    this.#life.draining = true;
    this.#life.stopTimers();
    this.resultCache.close();
  }
}
