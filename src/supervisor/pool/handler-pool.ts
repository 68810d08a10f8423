import { ErrorCode, GearmanError } from '../../errors.js';
import { type Logger, silentLogger } from '../../log.js';
import { msUntil, settlesBy } from '../deadline.js';
import type { ModuleFunctionConfig } from '../manifest/types.js';
import { ProcessHost } from '../process/process-host.js';
import { residentSetMb } from '../process/resident-set.js';
import { logError } from '../thread/log-error.js';
import type { JobMeta, OutputDropReport, SerializedError } from '../thread/messages.js';
import { kThreadOutputCapBytes } from '../thread/output-cap.js';
import { type LossWatch, PoolJob, type PoolJobOwner, type RunOutcome } from './pool-job.js';
import { threadCount } from './thread-count.js';
import { ThreadHost, type WorkerHost } from './thread-host.js';
import { type ProgressSink, type StreamEnding, type StreamTaskBase, ThreadStream } from './thread-stream.js';
import { WorkerEnded } from './worker-ended.js';

export type { LossWatch, RunOutcome, ThreadEndCause } from './pool-job.js';
export type { ProgressSink } from './thread-stream.js';

const kStopped: SerializedError = { name: 'Error', message: 'the handler pool has stopped' };
const kCutShort = 'still running when the shutdown deadline passed: its thread was ended';
/** Longest wait, after a failed load, for the thread that records modules to end too. */
const kTrackerWaitMs = 2_000;

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
 * (process/process-host.ts); `threads` counts them either way. Hot reload builds a new
 * HandlerPool and closes the old one once its jobs are done. Jobs go to the worker with
 * the most room; a worker that dies is replaced and its stream restarted.
 */
export class HandlerPool {
  readonly generation: number;
  readonly threads: number;
  readonly #config: ModuleFunctionConfig;
  readonly #host: WorkerHost;
  /** maxJobsPerProcess: a process that has been sent this many jobs is retired. */
  readonly #jobsPerWorker: number;
  /** Streams closed to recycle their process: a replacement was started already. */
  readonly #retired = new WeakSet<ThreadStream<PoolJob>>();
  readonly #log: Logger;
  readonly #base: StreamTaskBase;
  /** Jobs each thread may hold beyond those it runs. */
  readonly #prefetch: number;
  readonly #streams = new Set<ThreadStream<PoolJob>>();
  /** Jobs waiting for a thread with room (only while threads start or restart). */
  #waiting: PoolJob[] = [];
  readonly #running = new Set<PoolJob>();
  /** Settles with the first stream's load failure, or once every first stream is ready. */
  readonly #checked: Promise<SerializedError | null>;
  #loadError: SerializedError | null = null;
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
  readonly #events: HandlerPoolEvents;
  readonly #modules = new Set<string>();
  /** Settles once the thread that records modules has loaded the handler or failed to. */
  readonly #trackerSettled: Promise<void>;
  #trackerDone: () => void = () => {};
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
  ) {
    this.#config = config;
    this.#events = events;
    this.generation = generation;
    this.#log = logger;
    this.threads = threadCount(config);
    this.#prefetch = config.prefetch ?? 0;
    this.#base = {
      handler: config.handler,
      exportName: config.export,
      encoding: config.payload,
      functionName: config.name,
      jobsAtOnce: config.jobsPerThread,
      prefetch: this.#prefetch,
    };
    this.#jobsPerWorker = config.maxJobsPerProcess ?? Number.POSITIVE_INFINITY;
    this.#host =
      config.isolation === 'process'
        ? new ProcessHost(config, logger, (report) => this.#events.outputDropped?.(report))
        : new ThreadHost(config, this.threads, logger, (report) => this.#onOutputDropped(report));
    this.#trackerSettled = new Promise((resolve) => {
      this.#trackerDone = resolve;
    });
    let firstReady: (error: SerializedError | null) => void = () => {};
    this.#checked = new Promise((resolve) => {
      firstReady = resolve;
    });
    let ready = 0;
    const onFirstRoom = (): void => {
      if (++ready === this.threads) firstReady(null);
    };
    for (let i = 0; i < this.threads; i++) this.#startStream(onFirstRoom, firstReady, i === 0);
  }

  /**
   * The files the handler has loaded so far, as its first thread saw them (every
   * thread loads the same code): the change watcher follows these. Known once check()
   * settles, even when the load failed.
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
    return this.#host.kind;
  }

  get busy(): number {
    return this.#running.size;
  }

  /** Jobs sent ahead (prefetch), waiting in a thread for one of its jobs to end. */
  get waiting(): number {
    let waiting = 0;
    for (const stream of this.#streams) waiting += stream.waiting;
    return waiting;
  }

  /**
   * Waits until every thread has loaded the handler and checked its export; throws a
   * GearmanError (HANDLER_LOAD) with the reason when it cannot serve.
   */
  async check(): Promise<void> {
    const error = await this.#checked;
    if (error !== null) {
      // Another thread may have failed first: what the load read comes from the tracker.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#trackerSettled, new Promise((r) => (timer = setTimeout(r, kTrackerWaitMs)))]);
      clearTimeout(timer);
      const what = error.name === 'Error' ? error.message : `${error.name}: ${error.message}`;
      throw new GearmanError(
        ErrorCode.HANDLER_LOAD,
        `cannot load ${error.at ?? this.#config.handler}: ${what}`,
      );
    }
  }

  /** Runs one job in a thread. Never rejects: every way a job can end is an outcome. */
  run(
    meta: JobMeta,
    payload: Uint8Array,
    sink: ProgressSink,
    timeoutMs?: number,
    whenLost?: LossWatch,
  ): Promise<RunOutcome> {
    return new Promise<RunOutcome>((resolve) =>
      this.start(meta, payload, sink, resolve, timeoutMs, whenLost),
    );
  }

  /**
   * run() with a callback: `done` is called exactly once, with the outcome. The
   * supervisor's path, which needs no promise per job at this level.
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
    const movable = this.#config.jobsPerThread === 1 && this.#prefetch === 0;
    const job = new PoolJob(this.#nextJobId++, meta, payload, sink, movable, this.#owner, done);
    this.#running.add(job);
    if (this.#streams.size === 0) {
      // Every thread gave up (the code cannot load) or the pool has closed.
      job.cannotLoad(this.#loadError ?? kStopped);
      return;
    }
    if (timeoutMs !== undefined) job.setTimeLimit(timeoutMs);
    if (whenLost !== undefined) job.abandonOn(whenLost);
    this.#dispatch(job);
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
    while (this.#running.size > 0 && performance.now() < this.#deadline) await this.#idle();
    // From here on, in one synchronous run: no job can slip in before the streams close.
    this.#stopping = true;
    if (this.#running.size > 0) {
      await this.#cutShort();
      return;
    }
    const streams = [...this.#streams];
    for (const stream of streams) stream.close();
    const closed = Promise.all(streams.map((stream) => stream.settled)).then(() => this.#host.close());
    if (!(await settlesBy(closed, this.#deadline))) await this.#cutShort();
  }

  /** Ends the threads at once; running jobs end as crashes. */
  async destroy(): Promise<void> {
    this.#stopping = true;
    const streams = [...this.#streams];
    await this.#host.destroy();
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

  #startStream(
    onFirstRoom?: () => void,
    onFirstFailure?: (error: SerializedError) => void,
    trackModules = false,
  ): void {
    let first = onFirstRoom;
    const stream = new ThreadStream<PoolJob>(
      this.#host,
      this.#base,
      {
        room: (s) => {
          if (trackModules) this.#trackerDone();
          first?.();
          first = undefined;
          if (s.jobs.size === 0 && this.#overRss(s)) this.#retireStream(s);
          else this.#fill(s);
        },
        ended: (s, ending) => {
          if (trackModules) this.#trackerDone();
          this.#onStreamEnded(s, ending);
          // A stream that never became ready has set #loadError: the first check fails with it.
          if (this.#loadError !== null) onFirstFailure?.(this.#loadError);
        },
        sinkFailed: (err) => this.#log.warn({ err }, 'could not forward job progress'),
        stray: (error, failed) => this.#logStray(error, failed),
        modules: (files) => {
          for (const file of files) this.#modules.add(file);
          this.#events.modules?.(files);
        },
      },
      trackModules,
    );
    this.#streams.add(stream);
  }

  /** A handler error outside a job's call (thread/job-stream.ts): logged, never silent. */
  #logStray(error: SerializedError, failed: number): void {
    const what =
      failed === 0
        ? 'after its job had ended (a timer or an unawaited promise); the thread serves on'
        : `outside its job's call while ${failed} job(s) ran in the thread; they failed with it`;
    this.#log.warn(
      { function: this.#config.name, handlerError: true, err: logError(error) },
      `${this.#config.name}: handler threw ${what}: ${error.name}: ${error.message}`,
    );
  }

  /** Sends the job to the ready thread with the most room, or queues it until one has. */
  #dispatch(job: PoolJob): void {
    const stream = this.#roomiest();
    if (stream === null) {
      this.#waiting.push(job);
      return;
    }
    job.sendTo(stream);
    if (stream.sent >= this.#jobsPerWorker) this.#retireStream(stream);
  }

  /**
   * maxJobsPerProcess: the worker has had its share. It finishes what it holds and
   * ends; a fresh one, started now, takes the next jobs.
   */
  #retireStream(stream: ThreadStream<PoolJob>): void {
    if (this.#stopping || this.#retired.has(stream)) return;
    this.#retired.add(stream);
    this.#log.debug({ function: this.#config.name, pid: stream.workerId }, 'recycling a handler process');
    stream.close();
    this.#startStream();
  }

  /** The ready thread with the fewest jobs, if one has room (jobsPerThread + prefetch). */
  #roomiest(): ThreadStream<PoolJob> | null {
    let best: ThreadStream<PoolJob> | null = null;
    for (const stream of this.#streams) {
      if (!stream.accepting || stream.jobs.size >= this.#capacity) continue;
      if (best === null || stream.jobs.size < best.jobs.size) best = stream;
    }
    return best;
  }

  /** maxRssMb, checked between jobs: a process past it is recycled, not killed. */
  #overRss(stream: ThreadStream<PoolJob>): boolean {
    const limit = this.#config.maxRssMb;
    if (limit === undefined || stream.workerId <= 0) return false;
    const rss = residentSetMb(stream.workerId);
    if (rss === null || rss <= limit) return false;
    this.#log.info(
      { function: this.#config.name, pid: stream.workerId, rssMb: rss, maxRssMb: limit },
      `${this.#config.name}: handler process ${stream.workerId} holds ${rss} MB between jobs, past maxRssMb ${limit} MB; recycling it`,
    );
    return true;
  }

  get #capacity(): number {
    return this.#config.jobsPerThread + this.#prefetch;
  }

  #fill(stream: ThreadStream<PoolJob>): void {
    while (this.#waiting.length > 0 && stream.accepting && stream.jobs.size < this.#capacity) {
      (this.#waiting.shift() as PoolJob).sendTo(stream);
      if (stream.sent >= this.#jobsPerWorker) this.#retireStream(stream);
    }
  }

  #unqueue(job: PoolJob): void {
    const at = this.#waiting.indexOf(job);
    if (at >= 0) this.#waiting.splice(at, 1);
  }

  /** A job ignored its timeout: end its thread. The others on it are run again elsewhere. */
  #endThread(stream: ThreadStream<PoolJob>): void {
    if (stream.terminate()) this.#log.warn('a job ignored its timeout; ending its thread');
  }

  #onStreamEnded(stream: ThreadStream<PoolJob>, ending: StreamEnding<PoolJob>): void {
    this.#streams.delete(stream);
    if (ending.kind === 'load') this.#loadError = ending.error;
    else if (ending.kind === 'died' && !ending.wasReady) {
      // A process's own wording names it already (pool/worker-ended.ts).
      const message =
        ending.error instanceof WorkerEnded
          ? `${ending.error.message} while loading`
          : `its thread died while loading: ${ending.error.message}`;
      this.#loadError = { name: 'Error', message };
    } else if (ending.kind === 'died' && !this.#stopping && !this.#retired.has(stream)) {
      // piscina replaces the dead thread (a process host forks a fresh process); this
      // serves on it once it has loaded the code.
      // Started first, so the jobs settled below can be run again here.
      this.#startStream();
    }
    // Never left for the thread: another one takes them.
    this.#waiting.push(...ending.unsent);
    for (const job of ending.jobs) {
      if (this.#cuttingShort) job.stopped(kCutShort);
      else if (ending.kind !== 'died')
        job.died(new Error('its handler thread stopped before answering'), false);
      else if (stream.terminating && !job.timedOut) job.collateral();
      else job.died(ending.error, stream.terminating, this.#config.maxMemoryMb);
    }
    // No thread is left to run what waits: the code cannot load (or the pool is stopping).
    if (this.#streams.size === 0) {
      const waiting = this.#waiting;
      this.#waiting = [];
      const error = this.#loadError ?? kStopped;
      for (const job of waiting) {
        if (this.#cuttingShort) job.stopped(kCutShort);
        else job.cannotLoad(error);
      }
    } else {
      for (const other of this.#streams) this.#fill(other);
    }
  }

  /** One line per episode: the thread reports when its backlog has drained (or every 5 s). */
  #onOutputDropped(report: OutputDropReport): void {
    const { stream, bytes, writes, threadId } = report;
    this.#log.warn(
      { stream, droppedBytes: bytes, droppedWrites: writes, threadId },
      `handler output dropped: ${bytes} bytes of ${stream} in ${writes} write(s), past the ${kThreadOutputCapBytes / 1024 / 1024} MiB a thread may have waiting`,
    );
    this.#events.outputDropped?.(report);
  }

  /** Resolves when no job runs here, at the deadline, or when the deadline moves. */
  #idle(): Promise<void> {
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
