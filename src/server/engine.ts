import type { Logger } from '../log.js';
import { PacketType } from '../protocol/constants.js';
import { FRAME_NO_JOB, FRAME_NOOP } from '../protocol/frames.js';
import { hasRunnable, takeJob } from './assignment.js';
import type { FunctionEntry } from './function-entry.js';
import { Job, type JobPriority } from './job.js';
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
import { JobTable } from './job-table.js';
import type { Ability, Peer, ReplySlot } from './peer.js';
import { Persistence } from './persistence.js';
import type { FunctionRegistry } from './registry.js';
import { ErrorReply, errorFrame } from './replies.js';
import { EpochScheduler } from './scheduler.js';
import type { JobStore, StoredJob, StoreKey } from './store.js';
import { isPayloadKey, uniqueKey } from './unique.js';
import { fallAsleep, wakeSleepers, wakeUp } from './wakeup.js';

export type { GrabKind } from './job-frames.js';

export interface EngineOptions {
  readonly registry: FunctionRegistry;
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

const kStoreFailed = errorFrame('QUEUE_ERROR', 'QUEUE_ERROR');
/** gearmand raises CAN_DO_TIMEOUT values under a second to one second (connection.cc). */
const kMinTimeoutMs = 1000;

/**
 * The job server's state and rules, apart from sockets: one instance owns every queue,
 * and everything happens on the event loop's thread, so nothing needs a lock. It follows
 * gearmand 1.1.20 (libgearman-server/job.cc, server.cc, gearmand_con.cc) unless a comment
 * says why not. Per-packet work is O(1) in the number of jobs; what loops is bounded by
 * one connection's own functions or jobs.
 */
export class JobEngine {
  readonly #registry: FunctionRegistry;
  readonly #jobs: JobTable;
  readonly #scheduler: EpochScheduler;
  readonly #persistence: Persistence | null;
  readonly #options: EngineOptions;
  readonly #log: Logger;
  readonly #drop = (job: Job): void => this.#end(job);
  #running = 0;
  #draining = false;
  #closed = false;
  #onIdle: (() => void) | null = null;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#registry = options.registry;
    this.#jobs = new JobTable(options.handles);
    this.#log = options.logger;
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

  get jobCount(): number {
    return this.#jobs.size;
  }

  get runningCount(): number {
    return this.#running;
  }

  /** Every job, oldest first (admin `show jobs`). */
  jobs(): IterableIterator<Job> {
    return this.#jobs.values();
  }

  // --- clients -------------------------------------------------------------

  submit(peer: Peer, request: SubmitRequest): void {
    const fn = this.#registry.getOrCreateBytes(request.fnName);
    const key = uniqueKey(request.unique, request.data);
    if (key !== null) {
      const existing = fn.uniques.get(key);
      if (existing !== undefined && (!isPayloadKey(key) || existing.data.equals(request.data))) {
        this.#coalesce(peer, existing, request.background);
        return;
      }
    }
    const limit = fn.maxQueue[request.priority];
    const maxJobs = this.#options.maxJobs;
    if ((limit > 0 && fn.total >= limit) || (maxJobs > 0 && this.#jobs.size >= maxJobs)) {
      peer.send(ErrorReply.QUEUE_FULL);
      return;
    }
    const job = this.#create(fn, key, request);
    if (!request.background) {
      job.addClient(peer);
    } else if (this.#persistence !== null) {
      job.state = 'persisting';
      if (!this.#persistence.add(job, () => peer.defer())) {
        this.#end(job);
        peer.send(kStoreFailed);
      }
      return;
    } else {
      job.queuedFlag = true;
    }
    peer.send(createdFrame(job));
    this.#release(job);
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
    const job = this.#create(fn, key, { ...stored, background: true });
    job.storeKey = storeKey;
    job.queuedFlag = true;
    this.#release(job);
  }

  /**
   * A submit with the unique of a job of the same function joins it: same handle, its
   * own data ignored, even while the job runs (gearmand job.cc).
   */
  #coalesce(peer: Peer, job: Job, background: boolean): void {
    if (!background) {
      job.addClient(peer);
      peer.send(createdFrame(job));
      return;
    }
    // Unlike gearmand, a background submit makes the job background for good: it is not
    // dropped when the foreground clients it joined leave, and a durable store keeps it.
    job.background = true;
    if (job.pendingReplies !== null) job.pendingReplies.push(peer.defer());
    else if (this.#persistence !== null && job.storeKey === undefined) {
      if (!this.#persistence.add(job, () => peer.defer())) peer.send(kStoreFailed);
    } else peer.send(createdFrame(job));
  }

  #create(fn: FunctionEntry, key: string | null, request: Omit<SubmitRequest, 'fnName'>): Job {
    const id = this.#jobs.allocate();
    const job = new Job({
      id,
      handles: this.#jobs.handles,
      fn,
      unique: key !== null && !isPayloadKey(key) ? key : request.unique.toString('latin1'),
      uniqueKey: key,
      data: request.data,
      reducer: request.reducer,
      priority: request.priority,
      when: request.when,
      background: request.background,
    });
    this.#jobs.add(job);
    fn.total++;
    if (key !== null) fn.uniques.set(key, job);
    return job;
  }

  /** A new (or newly durable) job becomes runnable now, or waits for its epoch time. */
  #release(job: Job): void {
    if (this.#scheduler.isEarly(job.when)) {
      job.state = 'scheduled';
      job.fn.waiting[job.priority]++;
      this.#scheduler.add(job);
    } else {
      this.#enqueue(job, false);
    }
  }

  #due(job: Job): void {
    if (job.state !== 'scheduled') return;
    job.fn.waiting[job.priority]--;
    if (job.ignore) this.#end(job);
    else this.#enqueue(job, false);
  }

  #durable(job: Job, replies: readonly ReplySlot[]): void {
    const frame = createdFrame(job);
    for (const reply of replies) reply.resolve(frame);
    if (job.state === 'done') return;
    job.queuedFlag = true;
    if (job.state === 'persisting') this.#release(job);
  }

  #storeFailed(job: Job, replies: readonly ReplySlot[]): void {
    for (const reply of replies) reply.resolve(kStoreFailed);
    job.storeKey = undefined;
    if (job.state !== 'persisting') return; // a job already running for foreground clients goes on
    this.#forward(job, failFrame);
    this.#end(job);
  }

  /** GET_STATUS. The handle is read as the C string gearmand makes of it: up to a NUL. */
  statusFrame(requested: Buffer): Buffer {
    const handle = cString(requested);
    return statusFrame(handle, this.#jobs.get(handle));
  }

  /** GET_STATUS_UNIQUE: the first job of any function with this unique. */
  statusUniqueFrame(requested: Buffer): Buffer {
    const unique = cString(requested);
    let job: Job | undefined;
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
    const fn = this.#registry.getOrCreate(name);
    const abilities = peer.abilities;
    const index = abilities.findIndex((ability) => ability.fn === fn);
    // gearmand adds each registration at the head of the connection's list and serves
    // the list in order: the latest registration first. A repeated CAN_DO moves the
    // function to the head and updates its timeout; unlike gearmand it is not counted twice.
    if (index >= 0) {
      const [ability] = abilities.splice(index, 1) as [Ability];
      ability.timeoutMs = timeoutMs;
      abilities.unshift(ability);
      return;
    }
    abilities.unshift({ fn, timeoutMs });
    fn.workers++;
    if (peer.sleeping && !peer.noopSent) fn.sleepers.add(peer);
  }

  /** CANT_DO: like gearmand, the jobs of that function the connection runs go back to the queue. */
  cantDo(peer: Peer, name: string): void {
    const fn = this.#registry.get(name);
    const index = fn === undefined ? -1 : peer.abilities.findIndex((ability) => ability.fn === fn);
    if (fn === undefined || index < 0) return;
    peer.abilities.splice(index, 1);
    this.#forget(peer, fn);
    for (const job of [...peer.running]) if (job.fn === fn) this.#requeue(job, 'worker dropped the function');
  }

  resetAbilities(peer: Peer): void {
    for (const job of [...peer.running]) this.#requeue(job, 'worker reset its abilities');
    for (const ability of peer.abilities) this.#forget(peer, ability.fn);
    peer.abilities.length = 0;
  }

  #forget(peer: Peer, fn: FunctionEntry): void {
    fn.workers--;
    fn.sleepers.delete(peer);
  }

  preSleep(peer: Peer): void {
    // Jobs wait already (a race with the worker's last NO_JOB): wake it at once.
    if (!this.#draining && hasRunnable(peer, this.#drop)) peer.send(FRAME_NOOP);
    else fallAsleep(peer);
  }

  grab(peer: Peer, kind: GrabKind): void {
    wakeUp(peer);
    const taken = this.#draining ? null : takeJob(peer, this.#options, this.#drop);
    if (taken === null) {
      peer.send(FRAME_NO_JOB);
      return;
    }
    const [job, ability] = taken;
    job.state = 'running';
    job.worker = peer;
    peer.running.add(job);
    job.fn.running++;
    this.#running++;
    if (ability.timeoutMs > 0) {
      job.timer = setTimeout(() => this.#timedOut(job, peer), Math.max(ability.timeoutMs, kMinTimeoutMs));
      job.timer.unref();
    }
    peer.send(assignFrame(job, kind));
  }

  /** The job `handle` if this connection runs it; gearmand answers JOB_NOT_FOUND otherwise. */
  owned(peer: Peer, handle: Buffer): Job | undefined {
    const job = this.#jobs.get(handle);
    return job !== undefined && job.worker === peer ? job : undefined;
  }

  /** WORK_STATUS: kept for GET_STATUS, and `frame` (the packet as sent) goes to every client. */
  workStatus(job: Job, numerator: number, denominator: number, frame: () => Buffer): void {
    job.numerator = numerator;
    job.denominator = denominator;
    this.#forward(job, frame);
  }

  /** WORK_DATA and WORK_WARNING: forwarded to every waiting client. */
  workData(job: Job, type: PacketType, data: Buffer): void {
    this.#forward(job, () => resultFrame(type, job, data));
  }

  workComplete(job: Job, data: Buffer): void {
    this.#forward(job, () => resultFrame(PacketType.WORK_COMPLETE, job, data));
    this.#end(job);
  }

  workFail(job: Job): void {
    this.#forward(job, failFrame);
    this.#end(job);
  }

  /**
   * WORK_EXCEPTION: clients that asked for exceptions get it, the others WORK_FAIL
   * (gearmand's has a stray NUL after the handle; this one is a clean WORK_FAIL).
   */
  workException(job: Job, data: Buffer): void {
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
    this.#end(job);
  }

  /** Sends one frame, built only if someone waits, to every client of the job. */
  #forward(job: Job, frame: (job: Job) => Buffer): void {
    const clients = job.clients;
    if (clients.length === 0) return;
    const bytes = frame(job);
    for (const client of clients) client.send(bytes);
  }

  #enqueue(job: Job, front: boolean): void {
    job.state = 'queued';
    const fn = job.fn;
    if (front) fn.queues[job.priority].unshift(job);
    else fn.queues[job.priority].push(job);
    fn.waiting[job.priority]++;
    if (!this.#draining) wakeSleepers(fn, this.#options.workerWakeup);
  }

  #timedOut(job: Job, worker: Peer): void {
    job.timer = null;
    if (job.worker !== worker) return;
    this.#log.warn(
      { jobHandle: job.handle, function: job.fn.name },
      'worker timeout reached on job, requeueing',
    );
    this.#requeue(job, 'CAN_DO_TIMEOUT expired');
  }

  /**
   * A running job goes back to its queue because its worker left, timed out or dropped
   * the function: retries++, and with --job-retries N the Nth time ends it with WORK_FAIL
   * to its clients (gearmand job.cc). gearmand appends it to the end of its queue; here
   * it goes to the front, since it was the oldest job when it was taken.
   */
  #requeue(job: Job, why: string): void {
    this.#unassign(job);
    job.retries++;
    const limit = this.#options.jobRetries;
    if (limit > 0 && job.retries >= limit) {
      this.#log.info(
        { jobHandle: job.handle, function: job.fn.name, retries: job.retries, why },
        'dropped job after its last retry',
      );
      this.#forward(job, failFrame);
      this.#end(job);
    } else if (job.ignore) {
      this.#end(job);
    } else {
      job.numerator = 0;
      job.denominator = 0;
      this.#enqueue(job, true);
    }
  }

  #unassign(job: Job): void {
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

  /** Removes a job from every index: it completed, failed, was dropped or cancelled. */
  #end(job: Job): void {
    if (job.state === 'done') return;
    this.#unassign(job);
    job.state = 'done';
    job.fn.total--;
    this.#jobs.delete(job);
    this.#leaveUniqueIndex(job);
    job.dropClients();
    this.#persistence?.remove(job);
  }

  #leaveUniqueIndex(job: Job): void {
    const key = job.uniqueKey;
    if (key !== null && job.fn.uniques.get(key) === job) job.fn.uniques.delete(key);
  }

  /**
   * Marks a job to be dropped when reached (gearmand's ignore_job). It leaves the unique
   * index at once: gearmand keeps it there, so a later submit with that unique joins a
   * job that will never run, and its client waits forever.
   */
  #ignore(job: Job): void {
    job.ignore = true;
    job.queuedFlag = false;
    this.#leaveUniqueIndex(job);
  }

  // --- connections ---------------------------------------------------------

  /** A connection closed: requeue what it ran, then let go of what it waited for. */
  disconnect(peer: Peer): void {
    if (this.#closed) return;
    for (const job of [...peer.running]) this.#requeue(job, 'worker disconnected');
    for (const ability of peer.abilities) this.#forget(peer, ability.fn);
    peer.abilities.length = 0;
    for (const job of peer.waiting) if (job.removeClient(peer) && !job.background) this.#ignore(job);
    peer.waiting.clear();
  }

  // --- admin ---------------------------------------------------------------

  /** `cancel job H`: its clients get WORK_FAIL and it is dropped when reached. False when unknown. */
  cancel(handle: string): boolean {
    const job = this.#jobs.getText(handle);
    if (job === undefined) return false;
    this.#forward(job, failFrame);
    job.dropClients();
    this.#persistence?.remove(job);
    this.#ignore(job);
    return true;
  }

  /**
   * `drop function F`: refused while workers have it registered or run its jobs. Its
   * waiting jobs go too (gearmand leaves them dangling); their clients get WORK_FAIL.
   */
  dropFunction(fn: FunctionEntry): 'dropped' | 'busy' {
    if (fn.workers > 0 || fn.running > 0) return 'busy';
    for (const job of [...this.#jobs.values()]) {
      if (job.fn !== fn) continue;
      this.#forward(job, failFrame);
      this.#end(job);
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
    this.#draining = true;
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

  /**
   * The server is closing: stop every timer (epoch jobs, CAN_DO_TIMEOUT), and from now on
   * treat closing connections as nothing: the server's own shutdown is no worker failure,
   * so no retry is counted and no job is dropped for it.
   */
  shutdown(): void {
    this.#closed = true;
    this.#draining = true;
    this.#scheduler.clear();
    for (const job of this.#jobs.values()) {
      if (job.timer !== null) clearTimeout(job.timer);
      job.timer = null;
    }
  }
}
