import type { Logger } from '../log.js';
import { PacketType } from '../protocol/constants.js';
import { encodeResponse } from '../protocol/encoder.js';
import { FRAME_NO_JOB, FRAME_NOOP } from '../protocol/frames.js';
import type { FunctionEntry } from './function-entry.js';
import { Job, type JobPriority } from './job.js';
import type { JobHandles } from './job-handles.js';
import type { JobQueue } from './job-queue.js';
import type { Ability, Peer, ReplySlot } from './peer.js';
import { Persistence } from './persistence.js';
import type { FunctionRegistry } from './registry.js';
import { ErrorReply, errorFrame } from './replies.js';
import { EpochScheduler } from './scheduler.js';
import type { JobStore, StoredJob, StoreKey } from './store.js';
import { isPayloadKey, uniqueKey } from './unique.js';

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

export type GrabKind = 'plain' | 'uniq' | 'all';

const kStoreFailed = errorFrame('QUEUE_ERROR', 'QUEUE_ERROR');
const kMinTimeoutMs = 1000;

/**
 * The job server's state and rules, apart from sockets: one instance owns every queue,
 * and everything happens on the event loop's thread, so no locking is needed. It
 * follows gearmand 1.1.20 (libgearman-server/job.cc, server.cc, gearmand_con.cc) unless a
 * comment says why not. Per-packet work is O(1) in the number of jobs; what scans is
 * bounded by one connection's own functions or jobs.
 */
export class JobEngine {
  readonly #registry: FunctionRegistry;
  readonly #handles: JobHandles;
  readonly #jobs = new Map<string, Job>();
  readonly #scheduler: EpochScheduler;
  readonly #persistence: Persistence | null;
  readonly #options: EngineOptions;
  readonly #log: Logger;
  #running = 0;
  #draining = false;
  #closed = false;
  #onIdle: (() => void) | null = null;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#registry = options.registry;
    this.#handles = options.handles;
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

  getJob(handle: string): Job | undefined {
    return this.#jobs.get(handle);
  }

  /** The first job of any function with this unique id (GET_STATUS_UNIQUE). */
  findByUnique(unique: string): Job | undefined {
    for (const fn of this.#registry.values()) {
      const job = fn.uniques.get(unique);
      if (job !== undefined) return job;
    }
    return undefined;
  }

  // --- clients -------------------------------------------------------------

  submit(peer: Peer, request: SubmitRequest): void {
    const fn = this.#registry.getOrCreate(request.fnName.toString('latin1'));
    const key = uniqueKey(request.unique, request.data);
    if (key !== null) {
      const existing = fn.uniques.get(key);
      if (existing !== undefined && (!isPayloadKey(key) || existing.data.equals(request.data))) {
        this.#coalesce(peer, existing, request.background);
        return;
      }
    }
    const limit = fn.maxQueue[request.priority];
    if (
      (limit > 0 && fn.total >= limit) ||
      (this.#options.maxJobs > 0 && this.#jobs.size >= this.#options.maxJobs)
    ) {
      peer.send(ErrorReply.QUEUE_FULL);
      return;
    }
    const job = this.#create(fn, request.unique, key, request);
    if (!request.background) {
      job.clients.push(peer);
      peer.waiting.add(job);
    } else if (this.#persistence !== null) {
      job.state = 'persisting';
      this.#persistence.add(job, peer.defer());
      return;
    } else {
      job.queuedFlag = true;
    }
    peer.send(createdFrame(job));
    this.#release(job);
  }

  /** Re-creates a stored background job at startup (JobStore.replay). */
  restore(stored: StoredJob, key: StoreKey): void {
    const fn = this.#registry.getOrCreate(stored.function.toString('latin1'));
    const unique = uniqueKey(stored.unique, stored.data);
    if (unique !== null && fn.uniques.has(unique)) {
      // Stored twice (gearmand would answer JOB_EXISTS): keep one copy.
      this.#options.store.remove(key);
      return;
    }
    const job = this.#create(fn, stored.unique, unique, { ...stored, background: true });
    job.storeKey = key;
    job.queuedFlag = true;
    this.#release(job);
  }

  /**
   * A submit with the unique of an existing job of the same function joins that job:
   * same handle, its own data ignored, even if the job already runs (gearmand job.cc).
   */
  #coalesce(peer: Peer, job: Job, background: boolean): void {
    if (!background) {
      job.clients.push(peer);
      peer.waiting.add(job);
      peer.send(createdFrame(job));
      return;
    }
    // Unlike gearmand, a background submit makes the job background for good: it is not
    // dropped when the foreground clients it shares it with go away, and a durable store
    // keeps it.
    job.background = true;
    if (job.pendingReplies !== null) job.pendingReplies.push(peer.defer());
    else if (this.#persistence !== null && job.storeKey === undefined)
      this.#persistence.add(job, peer.defer());
    else peer.send(createdFrame(job));
  }

  #create(
    fn: FunctionEntry,
    unique: Buffer,
    key: string | null,
    request: Omit<SubmitRequest, 'fnName' | 'unique'>,
  ): Job {
    const job = new Job({
      handle: this.#handles.next(),
      fn,
      unique,
      uniqueKey: key,
      data: request.data,
      reducer: request.reducer,
      priority: request.priority,
      when: request.when,
      background: request.background,
    });
    this.#jobs.set(job.handle, job);
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
    if (job.state !== 'persisting') return; // a job that already ran for foreground clients goes on
    this.#failClients(job);
    this.#end(job);
  }

  /**
   * STATUS_RES for GET_STATUS: unknown handles get zeros. The handle is read as the C
   * string gearmand makes of it: up to its first NUL.
   */
  statusFrame(requested: Buffer): Buffer {
    const handle = cString(requested);
    const job = this.#jobs.get(handle.toString('latin1'));
    if (job === undefined) return encodeResponse(PacketType.STATUS_RES, [handle, '0', '0', '0', '0']);
    return encodeResponse(PacketType.STATUS_RES, [
      handle,
      '1',
      job.worker === null ? '0' : '1',
      String(job.numerator),
      String(job.denominator),
    ]);
  }

  /** STATUS_RES_UNIQUE for GET_STATUS_UNIQUE: the unique first, then the waiting-client count. */
  statusUniqueFrame(requested: Buffer): Buffer {
    const unique = cString(requested);
    const job = unique.length === 0 ? undefined : this.findByUnique(unique.toString('latin1'));
    if (job === undefined)
      return encodeResponse(PacketType.STATUS_RES_UNIQUE, [unique, '0', '0', '0', '0', '0']);
    return encodeResponse(PacketType.STATUS_RES_UNIQUE, [
      unique,
      '1',
      job.worker === null ? '0' : '1',
      String(job.numerator),
      String(job.denominator),
      String(job.clients.length),
    ]);
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
    if (fn === undefined) return;
    const index = peer.abilities.findIndex((ability) => ability.fn === fn);
    if (index < 0) return;
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
    if (this.#hasRunnable(peer)) {
      // Jobs wait already (a race with the worker's last NO_JOB): wake it at once.
      peer.send(FRAME_NOOP);
      return;
    }
    peer.sleeping = true;
    if (!peer.noopSent) for (const ability of peer.abilities) ability.fn.sleepers.add(peer);
  }

  grab(peer: Peer, kind: GrabKind): void {
    if (peer.sleeping && !peer.noopSent) this.#unsleep(peer);
    peer.sleeping = false;
    peer.noopSent = false;
    const taken = this.#draining ? null : this.#take(peer);
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
      // gearmand raises timeouts under a second to one second (connection.cc).
      job.timer = setTimeout(() => this.#timedOut(job, peer), Math.max(ability.timeoutMs, kMinTimeoutMs));
      job.timer.unref();
    }
    peer.send(assignFrame(job, kind));
  }

  /** The job `handle` if this connection runs it; gearmand answers JOB_NOT_FOUND otherwise. */
  owned(peer: Peer, handle: Buffer): Job | undefined {
    const job = this.#jobs.get(handle.toString('latin1'));
    return job !== undefined && job.worker === peer ? job : undefined;
  }

  /** WORK_STATUS: stored for GET_STATUS and forwarded as sent to every waiting client. */
  workStatus(job: Job, numerator: number, denominator: number, frame: () => Buffer): void {
    job.numerator = numerator;
    job.denominator = denominator;
    this.#forward(job, frame);
  }

  /** WORK_DATA and WORK_WARNING: forwarded to every waiting client. */
  workData(job: Job, type: PacketType, data: Buffer): void {
    this.#forward(job, () => encodeResponse(type, [job.handleBytes, data]));
  }

  workComplete(job: Job, data: Buffer): void {
    this.#forward(job, () => encodeResponse(PacketType.WORK_COMPLETE, [job.handleBytes, data]));
    this.#end(job);
  }

  workFail(job: Job): void {
    this.#failClients(job);
    this.#end(job);
  }

  /**
   * WORK_EXCEPTION: clients that asked for exceptions get it; the others get WORK_FAIL
   * (gearmand's has a stray NUL after the handle; ours is a clean WORK_FAIL).
   */
  workException(job: Job, data: Buffer): void {
    let exception: Buffer | null = null;
    let fail: Buffer | null = null;
    for (const client of job.clients) {
      if (client.exceptions) {
        exception ??= encodeResponse(PacketType.WORK_EXCEPTION, [job.handleBytes, data]);
        client.send(exception);
      } else {
        fail ??= encodeResponse(PacketType.WORK_FAIL, [job.handleBytes]);
        client.send(fail);
      }
    }
    this.#end(job);
  }

  #forward(job: Job, frame: () => Buffer): void {
    const clients = job.clients;
    if (clients.length === 0) return;
    const bytes = frame();
    for (const client of clients) client.send(bytes);
  }

  #failClients(job: Job): void {
    this.#forward(job, () => encodeResponse(PacketType.WORK_FAIL, [job.handleBytes]));
  }

  /**
   * Picks the job a grab gets. gearmand 1.1: the first of the worker's functions (latest
   * registered first) that has any job, its highest priority first; a LOW job of one
   * function can beat a HIGH job of the next. With globalPriority (gearmand 2.0), every
   * function's HIGH jobs come before any NORMAL one. Round robin moves the function that
   * served to the end of the worker's list.
   */
  #take(peer: Peer): [Job, Ability] | null {
    const abilities = peer.abilities;
    if (this.#options.globalPriority) {
      for (let priority = 0; priority < 3; priority++) {
        for (let i = 0; i < abilities.length; i++) {
          const ability = abilities[i] as Ability;
          const job = this.#shiftRunnable(ability.fn, priority as JobPriority);
          if (job !== null) return [job, this.#served(abilities, i)];
        }
      }
      return null;
    }
    for (let i = 0; i < abilities.length; i++) {
      const ability = abilities[i] as Ability;
      const fn = ability.fn;
      if (fn.queued === 0) continue;
      for (let priority = 0; priority < 3; priority++) {
        const job = this.#shiftRunnable(fn, priority as JobPriority);
        if (job !== null) return [job, this.#served(abilities, i)];
      }
    }
    return null;
  }

  #served(abilities: Ability[], index: number): Ability {
    const ability = abilities[index] as Ability;
    if (this.#options.roundRobin && index < abilities.length - 1) {
      abilities.splice(index, 1);
      abilities.push(ability);
    }
    return ability;
  }

  /** The next job of a queue, dropping the ignored ones met on the way (gearmand does it at the head). */
  #shiftRunnable(fn: FunctionEntry, priority: JobPriority): Job | null {
    const queue: JobQueue = fn.queues[priority];
    for (let job = queue.shift(); job !== null; job = queue.shift()) {
      fn.waiting[priority]--;
      if (!job.ignore) return job;
      this.#end(job);
    }
    return null;
  }

  #hasRunnable(peer: Peer): boolean {
    if (this.#draining) return false;
    for (const ability of peer.abilities) {
      const fn = ability.fn;
      for (let priority: JobPriority = 0; priority < 3; priority = (priority + 1) as JobPriority) {
        const queue = fn.queues[priority];
        for (let head = queue.head; head?.ignore === true; head = queue.head) {
          queue.shift();
          fn.waiting[priority]--;
          this.#end(head);
        }
        if (queue.head !== null) return true;
      }
    }
    return false;
  }

  #enqueue(job: Job, front: boolean): void {
    job.state = 'queued';
    const fn = job.fn;
    if (front) fn.queues[job.priority].unshift(job);
    else fn.queues[job.priority].push(job);
    fn.waiting[job.priority]++;
    this.#wake(fn);
  }

  /**
   * NOOPs sleeping workers of the function: all of them, or `workerWakeup` of them, the
   * longest asleep first. A connection gets one NOOP until it grabs again, so it leaves
   * every function's sleeper set here.
   */
  #wake(fn: FunctionEntry): void {
    if (fn.sleepers.size === 0 || this.#draining) return;
    const limit = this.#options.workerWakeup > 0 ? this.#options.workerWakeup : Number.POSITIVE_INFINITY;
    let sent = 0;
    for (const peer of fn.sleepers) {
      if (sent >= limit) break;
      peer.send(FRAME_NOOP);
      peer.noopSent = true;
      this.#unsleep(peer);
      sent++;
    }
  }

  #unsleep(peer: Peer): void {
    for (const ability of peer.abilities) ability.fn.sleepers.delete(peer);
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
   * A running job goes back to the queue because its worker left, timed out or dropped
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
      this.#failClients(job);
      this.#end(job);
      return;
    }
    if (job.ignore) {
      this.#end(job);
      return;
    }
    job.numerator = 0;
    job.denominator = 0;
    this.#enqueue(job, true);
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
    this.#jobs.delete(job.handle);
    if (job.uniqueKey !== null && job.fn.uniques.get(job.uniqueKey) === job)
      job.fn.uniques.delete(job.uniqueKey);
    for (const client of job.clients) client.waiting.delete(job);
    job.clients = [];
    this.#persistence?.remove(job);
  }

  /**
   * Marks a job to be dropped when reached (gearmand's ignore_job). It leaves the unique
   * index at once: gearmand keeps it there, so a later submit with the same unique joins
   * a job that will never run and its client waits forever.
   */
  #ignore(job: Job): void {
    job.ignore = true;
    job.queuedFlag = false;
    if (job.uniqueKey !== null && job.fn.uniques.get(job.uniqueKey) === job)
      job.fn.uniques.delete(job.uniqueKey);
  }

  // --- connections ---------------------------------------------------------

  /** A connection closed: requeue what it ran, then let go of what it waited for. */
  disconnect(peer: Peer): void {
    if (this.#closed) return;
    for (const job of [...peer.running]) this.#requeue(job, 'worker disconnected');
    for (const ability of peer.abilities) this.#forget(peer, ability.fn);
    peer.abilities.length = 0;
    for (const job of peer.waiting) {
      job.clients = job.clients.filter((client) => client !== peer);
      if (job.clients.length === 0 && !job.background) this.#ignore(job);
    }
    peer.waiting.clear();
  }

  // --- admin ---------------------------------------------------------------

  /** `cancel job H`: its clients get WORK_FAIL and it is dropped when reached. False when unknown. */
  cancel(handle: string): boolean {
    const job = this.#jobs.get(handle);
    if (job === undefined) return false;
    this.#failClients(job);
    for (const client of job.clients) client.waiting.delete(job);
    job.clients = [];
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
      this.#failClients(job);
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

function cString(bytes: Buffer): Buffer {
  const nul = bytes.indexOf(0);
  return nul === -1 ? bytes : bytes.subarray(0, nul);
}

function createdFrame(job: Job): Buffer {
  return encodeResponse(PacketType.JOB_CREATED, [job.handleBytes]);
}

/** JOB_ASSIGN, JOB_ASSIGN_UNIQ, or for GRAB_JOB_ALL JOB_ASSIGN_ALL when the job has a reducer. */
function assignFrame(job: Job, kind: GrabKind): Buffer {
  const name = job.fn.nameBytes;
  if (kind === 'plain') return encodeResponse(PacketType.JOB_ASSIGN, [job.handleBytes, name, job.data]);
  if (kind === 'all' && job.reducer.length > 0) {
    return encodeResponse(PacketType.JOB_ASSIGN_ALL, [
      job.handleBytes,
      name,
      job.unique,
      job.reducer,
      job.data,
    ]);
  }
  return encodeResponse(PacketType.JOB_ASSIGN_UNIQ, [job.handleBytes, name, job.unique, job.data]);
}
