import type { Logger } from '../log.js';
import { PacketType } from '../protocol/constants.js';
import { FRAME_NO_JOB, FRAME_NOOP } from '../protocol/frames.js';
import { addAbility, clearAbilities, removeAbility } from './abilities.js';
import { hasRunnable, takeJob } from './assignment.js';
import type { FunctionEntry } from './function-entry.js';
import type { JobPriority, ServerJob } from './job.js';
import { JobCounters } from './job-counters.js';
import {
  assignFrame,
  createdFrame,
  cString,
  failFrame,
  type GrabKind,
  resultFrame,
  statusFrame,
  statusUniqueFrame,
} from './job-frames.js';
import type { JobHandles } from './job-handles.js';
import { JobLifecycle, STORE_FAILED } from './lifecycle.js';
import type { Peer } from './peer.js';
import type { ServerFunctionRegistry } from './registry.js';
import { ErrorReply } from './replies.js';
import { cachedReply, ResultCache, type ResultCacheOptions } from './result-cache.js';
import type { JobStore, ReplayReport, StoredJob, StoreKey } from './store.js';
import type { StoreHealth } from './store-outage.js';
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

/** What a SUBMIT_* packet asks for. */
export interface SubmitRequest {
  readonly fnName: Buffer;
  readonly unique: Buffer;
  readonly data: Buffer;
  readonly reducer: Buffer;
  readonly priority: JobPriority;
  readonly background: boolean;
  /** Epoch seconds (SUBMIT_JOB_EPOCH), 0 for none. */
  readonly when: number;
}

/** Bytes as a latin1 string; most submits have no unique, and toString('') is not free. */
function latin1(bytes: Buffer): string {
  return bytes.length === 0 ? '' : bytes.toString('latin1');
}

/** gearmand raises CAN_DO_TIMEOUT values under a second to one second (connection.cc). */
const kMinTimeoutMs = 1000;

/**
 * The job server's rules, apart from sockets: what each request does to the jobs and the
 * workers, as gearmand 1.1.20 does it (libgearman-server/job.cc, server.cc,
 * gearmand_con.cc) unless a comment says why not. One instance owns every queue, on the
 * event loop's thread, so nothing needs a lock. Per-packet work is O(1) in the number of
 * jobs; what loops is bounded by one connection's own functions or jobs.
 */
export class JobEngine {
  readonly #registry: ServerFunctionRegistry;
  readonly #life: JobLifecycle;
  readonly #options: EngineOptions;
  readonly #drop = (job: ServerJob): void => this.#life.end(job);
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

  /** A submit from the HTTP gateway (packets go to submitJob). */
  submit(peer: Peer, request: SubmitRequest): void {
    this.submitJob(
      peer,
      this.#registry.getOrCreateBytes(request.fnName),
      request.unique,
      request.data,
      0,
      request.data.length,
      request.reducer,
      request.priority,
      request.background,
      request.when,
    );
  }

  /**
   * submit() with the request's fields as arguments and its function already found: the
   * packet handlers' path, which makes no request object per submit. The payload is
   * `bytes[dataStart, dataEnd)`, read in place from the received chunk.
   */
  submitJob(
    peer: Peer,
    fn: FunctionEntry,
    unique: Buffer,
    bytes: Buffer,
    dataStart: number,
    dataEnd: number,
    reducer: Buffer,
    priority: JobPriority,
    background: boolean,
    when: number,
  ): void {
    const counts = this.counters.of(fn);
    counts.submitted++;
    const key = uniqueKey(unique, bytes, dataStart, dataEnd);
    if (key !== null && !background && this.resultCache.enabled && reducer.length === 0) {
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
        this.#coalesce(peer, existing, background);
        return;
      }
    }
    const limit = fn.maxQueue[priority];
    const maxJobs = this.#options.maxJobs;
    if ((limit > 0 && fn.total >= limit) || (maxJobs > 0 && this.jobCount >= maxJobs)) {
      counts.rejected++;
      peer.send(ErrorReply.QUEUE_FULL);
      return;
    }
    const job = this.#life.create(
      fn,
      key !== null && !isPayloadKey(key) ? key : latin1(unique),
      key,
      bytes,
      dataStart,
      dataEnd,
      reducer,
      priority,
      when,
      background,
    );
    if (!background) {
      job.addClient(peer);
    } else if (this.#life.durable) {
      job.state = 'persisting';
      if (!this.#life.persist(job, () => peer.defer())) {
        counts.rejected++;
        this.#life.end(job);
        peer.send(STORE_FAILED);
      }
      return;
    } else {
      job.queuedFlag = true;
    }
    peer.sendJobFrame(PacketType.JOB_CREATED, job);
    this.#life.release(job);
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
    const job = this.#life.create(
      fn,
      latin1(stored.unique),
      key,
      stored.data,
      0,
      stored.data.length,
      stored.reducer,
      stored.priority,
      stored.when,
      true,
    );
    job.storeKey = storeKey;
    job.queuedFlag = true;
    this.#life.release(job);
  }

  /** The replay is over: log what it found; a store that could not commit starts an outage. */
  storeReplayed(report: ReplayReport | undefined): void {
    this.#life.replayed(report);
  }

  /**
   * A submit with the unique of a job of the same function joins it: same handle, its
   * own data ignored, even while the job runs (gearmand job.cc).
   */
  #coalesce(peer: Peer, job: ServerJob, background: boolean): void {
    if (!background) {
      job.addClient(peer);
      peer.send(createdFrame(job));
      return;
    }
    // Unlike gearmand, a background submit makes the job background for good: it is not
    // dropped when the foreground clients it joined leave, and a durable store keeps it.
    job.background = true;
    if (job.pendingReplies !== null) job.pendingReplies.push(peer.defer());
    else if (!this.#life.durable || job.storeKey !== undefined) peer.send(createdFrame(job));
    else if (!this.#life.persist(job, () => peer.defer())) peer.send(STORE_FAILED);
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
    job.numerator = numerator;
    job.denominator = denominator;
    this.#life.forward(job, frame);
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
    for (const job of peer.waiting) if (job.removeClient(peer) && !job.background) this.#life.ignore(job);
    peer.waiting.clear();
  }

  // --- admin ---------------------------------------------------------------

  /** `cancel job H`: its clients get WORK_FAIL and it is dropped when reached. False when unknown. */
  cancel(handle: string): boolean {
    const job = this.#life.jobs.getText(handle);
    if (job === undefined) return false;
    this.#life.forward(job, failFrame);
    job.dropClients();
    this.#life.ignore(job);
    return true;
  }

  /**
   * `drop function F`: refused while workers have it registered or run its jobs. Its
   * waiting jobs go too (gearmand leaves them dangling); their clients get WORK_FAIL.
   */
  dropFunction(fn: FunctionEntry): 'dropped' | 'busy' {
    if (fn.workers > 0 || fn.running > 0) return 'busy';
    for (const job of [...this.#life.jobs.values()]) {
      if (job.fn !== fn) continue;
      this.#life.forward(job, failFrame);
      this.#life.end(job);
    }
    for (const queue of fn.queues) queue.drain();
    fn.waiting.fill(0);
    this.#registry.delete(fn);
    return 'dropped';
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
