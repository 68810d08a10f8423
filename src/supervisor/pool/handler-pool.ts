import { type Logger, silentLogger } from '../../log.js';
import { msUntil, settlesBy } from '../deadline.js';
import type { ModuleFunctionConfig } from '../manifest/types.js';
import type { JobMeta, OutputDropReport, SerializedError } from '../thread/messages.js';
import { kCutShort, settleStartedJobs } from './ended-jobs.js';
import { type LossWatch, PoolJob, type PoolJobOwner, type RunOutcome } from './pool-job.js';
import type { CheckedLoad } from './shared-check.js';
import { type Stream, ThreadSet } from './thread-set.js';
import type { ProgressSink, StreamEnding } from './thread-stream.js';

export type { LossWatch, RunOutcome, ThreadEndCause } from './pool-job.js';
export type { ProgressSink } from './thread-stream.js';

const kStopped: SerializedError = { name: 'Error', message: 'the handler pool has stopped' };

/** What a pool tells its runtime as it happens. */
export interface HandlerPoolEvents {
  /** Files the handler loaded (node_modules left out), as they become known. */
  modules?(files: readonly string[]): void;
  /** A thread dropped handler output past its cap (thread/output-cap.ts); logged here already. */
  outputDropped?(report: OutputDropReport): void;
}

/**
 * One generation of one function's handler code: workers that have loaded that code,
 * each serving a job stream (pool/thread-stream.ts). The workers are piscina threads
 * (pool/thread-host.ts) or, with `isolation: process`, child processes
 * (process/process-host.ts); "threads" counts them either way, and pool/thread-set.ts
 * starts and ends them as jobs need them. Hot reload builds a new HandlerPool and closes
 * the old one once its jobs are done. A job goes to the thread with the most room, or
 * waits for one to start.
 */
export class HandlerPool {
  readonly generation: number;
  readonly #config: ModuleFunctionConfig;
  readonly #threads: ThreadSet;
  readonly #log: Logger;
  /** Jobs waiting for a thread with room (while threads start). */
  #waiting: PoolJob[] = [];
  readonly #running = new Set<PoolJob>();
  #jobsStarted = 0;
  #nextJobId = 1;
  /** Resolves close()'s wait once no job runs here (or its deadline moved). */
  #onIdle: (() => void) | null = null;
  #closing: Promise<void> | null = null;
  /** When close() stops waiting for running jobs (performance.now() time); none until a caller sets one. */
  #deadline = Number.POSITIVE_INFINITY;
  #stopping = false;
  /** The deadline passed with jobs running: the threads are being ended under them. */
  #cuttingShort = false;
  readonly #modules = new Set<string>();
  readonly #owner: PoolJobOwner = {
    ended: (job) => {
      this.#running.delete(job);
      if (this.#running.size === 0) this.#onIdle?.();
    },
    unqueue: (job) => this.#unqueue(job),
    endThread: (stream) => this.#endThread(stream),
  };

  constructor(
    config: ModuleFunctionConfig,
    generation: number,
    logger: Logger = silentLogger,
    events: HandlerPoolEvents = {},
    checked: CheckedLoad | null = null,
  ) {
    this.#config = config;
    this.generation = generation;
    this.#log = logger;
    this.#threads = new ThreadSet(
      config,
      logger,
      {
        room: (stream) => this.#fill(stream),
        ended: (stream, ending, failure) => this.#onStreamEnded(stream, ending, failure),
        modules: (files) => {
          for (const file of files) this.#modules.add(file);
          events.modules?.(files);
        },
        outputDropped: (report) => events.outputDropped?.(report),
      },
      checked,
    );
  }

  /** Most threads (processes, with `isolation: process`) this generation runs at once. */
  get threads(): number {
    return this.#threads.max;
  }

  /** Threads running now, starting or finishing their last jobs included. */
  get threadsStarted(): number {
    return this.#threads.all.size;
  }

  /** Threads that have loaded the handler and hold no job (they end after idleTimeout, down to minThreads). */
  get threadsIdle(): number {
    return this.#threads.idle;
  }

  /**
   * The files the handler has loaded so far, as a thread that records them saw them
   * (every thread loads the same code): the change watcher follows these. Known once
   * check() settles, even when the load failed.
   */
  get modules(): ReadonlySet<string> {
    return this.#modules;
  }

  /** Jobs started on this generation (the supervisor recycles it after maxJobsPerThread × threads). */
  get jobsStarted(): number {
    return this.#jobsStarted;
  }

  /** Where the handlers run: threads, or child processes (`isolation: process`). */
  get isolation(): 'thread' | 'process' {
    return this.#threads.host.kind;
  }

  /**
   * Jobs held here that have not started: sent ahead (prefetch) and waiting in a thread
   * for one of its jobs to end, or waiting for a thread to start.
   */
  get waiting(): number {
    let waiting = this.#waiting.length;
    for (const stream of this.#threads.all) waiting += stream.waiting;
    return waiting;
  }

  /**
   * Waits until the first threads have loaded the handler and checked its export;
   * throws a GearmanError (HANDLER_LOAD) with the reason when it cannot serve.
   */
  check(): Promise<void> {
    return this.#threads.check();
  }

  /**
   * Runs one job in a thread; `done` is called exactly once, with the outcome (every way
   * a job can end is one). A job that finds no thread with room waits for one to start.
   */
  start(
    meta: JobMeta,
    payload: Uint8Array,
    sink: ProgressSink,
    done: (outcome: RunOutcome) => void,
    timeoutMs?: number,
    whenLost?: LossWatch,
  ): void {
    this.#jobsStarted++;
    // A job on a thread of its own is never sent again (no collateral), so its payload
    // can move; on shared threads, or waiting behind another job in a thread that may
    // die, it may have to be sent a second time.
    const movable = this.#config.jobsPerThread === 1 && (this.#config.prefetch ?? 0) === 0;
    const job = new PoolJob(this.#nextJobId++, meta, payload, sink, movable, this.#owner, done);
    this.#running.add(job);
    if (this.#stopping) {
      job.cannotLoad(kStopped);
      return;
    }
    if (timeoutMs !== undefined) job.setTimeLimit(timeoutMs);
    if (whenLost !== undefined) job.abandonOn(whenLost);
    // A thread free to run it now; else one that starts for it; else a place in a busy
    // thread's prefetch (the thread count is at its most).
    const threads = this.#threads;
    const stream =
      this.#roomiest(threads.jobsAtOnce) ?? (threads.canStart ? null : this.#roomiest(threads.capacity));
    if (stream !== null) {
      this.#send(job, stream);
      return;
    }
    this.#waiting.push(job);
    this.#threads.grow(this.#waiting.length);
  }

  /**
   * Sets the most threads at once (a live `gworker scale`: no new generation). Raising
   * it starts threads only for jobs that wait; lowering it ends the idle threads first,
   * and lets busy ones finish what they hold before they end.
   */
  resize(threads: number): void {
    if (!this.#stopping) this.#threads.resize(threads, this.#waiting.length);
  }

  /**
   * Waits for running jobs, then ends the streams and the threads. Without a deadline an
   * old generation waits as long as its jobs run (their own timeouts bound them). With
   * one (a performance.now() time: the shutdown's), jobs still running then end with
   * their threads (outcome `stopped`), and so does a thread that has not closed by then.
   * A later call may bring the deadline closer: a shutdown while a generation retires.
   * Idempotent.
   */
  close(deadline = Number.POSITIVE_INFINITY): Promise<void> {
    if (deadline < this.#deadline) {
      this.#deadline = deadline;
      // The wait below looks again, with the new deadline.
      this.#onIdle?.();
    }
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Jobs of this turn come in first (a reload retires a pool in the same turn as a
    // job may start on it), and one may come in after the pool looked idle: wait again.
    await new Promise(setImmediate);
    while (this.#running.size > 0 && performance.now() < this.#deadline) await this.#idleWait();
    // From here on, in one synchronous run: no job can slip in before the streams close.
    this.#stopping = true;
    this.#threads.stop();
    if (this.#running.size > 0) {
      await this.#cutShort();
      return;
    }
    const streams = [...this.#threads.all];
    for (const stream of streams) stream.close();
    const closed = Promise.all(streams.map((stream) => stream.settled)).then(() =>
      this.#threads.host.close(),
    );
    if (!(await settlesBy(closed, this.#deadline))) await this.#cutShort();
  }

  /** Ends the threads at once; running jobs end as crashes. */
  async destroy(): Promise<void> {
    this.#stopping = true;
    this.#threads.stop();
    const streams = [...this.#threads.all];
    await this.#threads.host.destroy();
    // Every job has its outcome once each stream has settled (ended with its thread).
    await Promise.all(streams.map((stream) => stream.settled));
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const job of waiting) {
      if (this.#cuttingShort) job.stopped(kCutShort);
      else job.died(new Error('the handler pool was destroyed'), false);
    }
  }

  /** The deadline passed with jobs running: a CPU loop cannot be asked, only ended. */
  async #cutShort(): Promise<void> {
    this.#cuttingShort = true;
    if (this.#running.size > 0) {
      this.#log.warn(
        { jobs: this.#running.size },
        'jobs still running at the shutdown deadline; ending their threads',
      );
    }
    await this.destroy();
  }

  #send(job: PoolJob, stream: Stream): void {
    job.sendTo(stream);
    this.#threads.sent(stream);
  }

  /** The ready thread with the fewest jobs, if one holds fewer than `limit`. */
  #roomiest(limit: number): Stream | null {
    let best: Stream | null = null;
    for (const stream of this.#threads.live) {
      if (!stream.accepting || stream.jobs.size >= limit) continue;
      if (best === null || stream.jobs.size < best.jobs.size) best = stream;
    }
    return best;
  }

  #fill(stream: Stream): void {
    const { live, capacity } = this.#threads;
    while (this.#waiting.length > 0 && live.has(stream) && stream.accepting && stream.jobs.size < capacity) {
      this.#send(this.#waiting.shift() as PoolJob, stream);
    }
  }

  #unqueue(job: PoolJob): void {
    const at = this.#waiting.indexOf(job);
    if (at >= 0) this.#waiting.splice(at, 1);
  }

  /** A job ignored its timeout: end its thread. The others on it are run again elsewhere. */
  #endThread(stream: Stream): void {
    if (stream.terminate()) this.#log.warn('a job ignored its timeout; ending its thread');
  }

  #onStreamEnded(stream: Stream, ending: StreamEnding<PoolJob>, failure: SerializedError | null): void {
    // Never left for the thread: another one takes them.
    this.#waiting.push(...ending.unsent);
    settleStartedJobs(stream, ending, this.#cuttingShort, this.#config.maxMemoryMb);
    for (const other of this.#threads.live) this.#fill(other);
    // A crashed thread is replaced only if jobs wait for it (or below minThreads). One
    // that could not load is not started again for the same jobs: they fail with why,
    // unless another thread may still take them; the next job tries again (the code
    // may have been fixed).
    if (failure === null) this.#threads.grow(this.#waiting.length);
    if (this.#waiting.length === 0 || this.#threads.live.size > 0) return;
    // No thread is left for them: this one could not load, or the pool is stopping.
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const job of waiting) {
      if (this.#cuttingShort) job.stopped(kCutShort);
      else job.cannotLoad(failure ?? kStopped);
    }
  }

  /** Resolves when no job runs here, at the deadline, or when the deadline moves. */
  #idleWait(): Promise<void> {
    if (this.#running.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const ms = msUntil(this.#deadline);
      const timer = ms === null ? undefined : setTimeout(resolve, ms);
      // close() runs once (memoized), so one waiter is all there is.
      this.#onIdle = () => {
        this.#onIdle = null;
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
