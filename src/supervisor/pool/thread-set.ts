import type { Logger } from '../../log.js';
import type { ModuleFunctionConfig } from '../manifest/types.js';
import { ProcessHost } from '../process/process-host.js';
import { residentSetMb } from '../process/resident-set.js';
import { logError } from '../thread/log-error.js';
import type { OutputDropReport, SerializedError } from '../thread/messages.js';
import { kThreadOutputCapBytes } from '../thread/output-cap.js';
import { loadFailure } from './ended-jobs.js';
import { IdleTimers } from './idle-timers.js';
import { LoadCheck } from './load-check.js';
import type { PoolJob } from './pool-job.js';
import type { CheckedLoad } from './shared-check.js';
import { kDefaultIdleTimeoutMs, kDefaultMinThreads, threadCount } from './thread-count.js';
import { ThreadHost, type WorkerHost } from './thread-host.js';
import { type StreamEnding, type StreamTaskBase, ThreadStream } from './thread-stream.js';

export type Stream = ThreadStream<PoolJob>;

/** What the thread set tells the pool that hands out its jobs (pool/handler-pool.ts). */
export interface ThreadSetOwner {
  /** The stream is ready, or has room again: give it waiting jobs. */
  room(stream: Stream): void;
  /** The stream ended; `failure` is why its thread could not load the handler, if so. */
  ended(stream: Stream, ending: StreamEnding<PoolJob>, failure: SerializedError | null): void;
  /** Files the handler loaded, as a thread that records them reports them. */
  modules(files: readonly string[]): void;
  outputDropped(report: OutputDropReport): void;
}

/**
 * The threads of one generation (processes, with `isolation: process`) and when they
 * start and end: the load check starts max(1, minThreads); more start when jobs wait
 * (up to the most, which resize() changes); one beyond minThreads with no job for
 * idleTimeout ends, and so does one that has had its share (maxJobsPerProcess,
 * maxRssMb), with a fresh one started for it.
 */
export class ThreadSet {
  readonly #config: ModuleFunctionConfig;
  readonly #log: Logger;
  readonly #owner: ThreadSetOwner;
  readonly host: WorkerHost;
  readonly #base: StreamTaskBase;
  /** Most threads at once; resize() changes it. */
  #max: number;
  readonly #minWanted: number;
  readonly #idle: IdleTimers<Stream>;
  /** Jobs a thread holds at most: it runs jobsPerThread, and keeps prefetch more ready. */
  readonly capacity: number;
  /** Jobs a thread runs at once (jobsPerThread). */
  readonly jobsAtOnce: number;
  /** maxJobsPerProcess: a process that has been sent this many jobs is retired. */
  readonly #jobsPerWorker: number;
  /** Every stream not ended yet, retiring ones included. */
  readonly all = new Set<Stream>();
  /** Streams that serve or are starting to: not closed on purpose. */
  readonly live = new Set<Stream>();
  /** Live streams whose thread has not loaded the handler yet. */
  readonly #starting = new Set<Stream>();
  /** The live stream whose thread records the modules the handler loads. */
  #tracker: Stream | null = null;
  /**
   * A thread that records modules has run a job: the imports a handler makes on first
   * use are known, so threads started later need not record (it costs each a loader
   * thread, ~20 ms of a first job after idle).
   */
  #trackerServed = false;
  readonly #check = new LoadCheck<Stream>();
  /** What the shared start-up check found, when it checked this generation's code. */
  readonly #checked: CheckedLoad | null;
  #stopped = false;

  constructor(
    config: ModuleFunctionConfig,
    log: Logger,
    owner: ThreadSetOwner,
    checked: CheckedLoad | null = null,
  ) {
    this.#config = config;
    this.#log = log;
    this.#owner = owner;
    this.#max = threadCount(config);
    this.#minWanted = config.minThreads ?? kDefaultMinThreads;
    this.#idle = new IdleTimers(config.idleTimeoutMs ?? kDefaultIdleTimeoutMs, (s) => this.#onIdleTimeout(s));
    const prefetch = config.prefetch ?? 0;
    this.capacity = config.jobsPerThread + prefetch;
    this.jobsAtOnce = config.jobsPerThread;
    this.#jobsPerWorker = config.maxJobsPerProcess ?? Number.POSITIVE_INFINITY;
    this.#base = {
      handler: config.handler,
      exportName: config.export,
      encoding: config.payload,
      functionName: config.name,
      jobsAtOnce: config.jobsPerThread,
      prefetch,
    };
    this.host =
      config.isolation === 'process'
        ? new ProcessHost(config, log, (report) => owner.outputDropped(report))
        : new ThreadHost(config, log, (report) => this.#onOutputDropped(report));
    this.#checked = checked;
    if (checked !== null) {
      // Loaded already, with every other function's handler, in one thread: none starts
      // now, and the first thread started for a job records what the handler imports.
      this.#check.settleWith(checked.error);
      return;
    }
    // The check's thread is the one that records modules; with minThreads 0 it serves
    // the first jobs and then ends after idleTimeout like any other.
    for (let i = Math.max(1, this.#min); i > 0; i--) this.#check.expect(this.#start());
  }

  get max(): number {
    return this.#max;
  }

  /** Threads that have loaded the handler and hold no job. */
  get idle(): number {
    let idle = 0;
    for (const stream of this.live) if (stream.accepting && stream.jobs.size === 0) idle++;
    return idle;
  }

  /** Settles once the first threads loaded the handler; throws HANDLER_LOAD when they could not. */
  check(): Promise<void> {
    if (this.#checked !== null) this.#owner.modules(this.#checked.files);
    return this.#check.check(this.#config.handler);
  }

  /** Whether a job with no thread free to run it should wait for one that starts (rather than queue in a busy one). */
  get canStart(): boolean {
    return !this.#stopped && (this.live.size < this.#max || this.#starting.size > 0);
  }

  /**
   * Starts threads for `waiting` jobs, beyond those starting threads will run at once,
   * up to the most; and up to minThreads.
   */
  grow(waiting: number): void {
    if (this.#stopped) return;
    let room = this.#starting.size * this.jobsAtOnce;
    while (waiting > room && this.live.size < this.#max) {
      this.#start();
      room += this.jobsAtOnce;
    }
    while (this.live.size < this.#min) this.#start();
  }

  /** Sets the most threads at once: the ones past it end, those with the fewest jobs first. */
  resize(max: number, waiting: number): void {
    if (this.#stopped) return;
    this.#max = max;
    const excess = this.live.size - max;
    if (excess > 0) {
      // Idle ones first; the thread that records modules last among equals.
      const order = [...this.live].sort(
        (a, b) => a.jobs.size - b.jobs.size || Number(a === this.#tracker) - Number(b === this.#tracker),
      );
      // close() lets a busy thread finish what it holds.
      for (const stream of order.slice(0, excess)) this.#retire(stream, 'concurrency lowered');
    }
    this.grow(waiting);
  }

  /** A job was sent to `stream`: it is not idle, and may have had its share. */
  sent(stream: Stream): void {
    this.#idle.disarm(stream);
    if (stream === this.#tracker) this.#trackerServed = true;
    if (stream.sent >= this.#jobsPerWorker) this.#recycle(stream);
  }

  /** No more threads start or end on their own; close or destroy the host next. */
  stop(): void {
    this.#stopped = true;
    this.#idle.clear();
  }

  /**
   * Starts a thread and its stream. One live thread records the modules it loads, until
   * one that did has run a job.
   */
  #start(): Stream {
    const tracks = this.#tracker === null && !this.#trackerServed;
    const stream: Stream = new ThreadStream<PoolJob>(
      this.host,
      this.#base,
      {
        room: (s) => this.#onRoom(s),
        ended: (s, ending) => this.#onEnded(s, ending),
        sinkFailed: (err) => this.#log.warn({ err }, 'could not forward job progress'),
        stray: (error, failed) => this.#logStray(error, failed),
        modules: (files) => this.#owner.modules(files),
      },
      tracks,
    );
    if (tracks) this.#tracker = stream;
    this.all.add(stream);
    this.live.add(stream);
    this.#starting.add(stream);
    return stream;
  }

  get #min(): number {
    return Math.min(this.#minWanted, this.#max);
  }

  #onRoom(stream: Stream): void {
    if (this.#starting.delete(stream)) {
      this.#check.ready(stream);
      if (stream === this.#tracker) this.#check.trackerSettled();
    }
    if (stream.jobs.size === 0 && this.#overRss(stream)) this.#recycle(stream);
    else this.#owner.room(stream);
    if (stream.jobs.size === 0 && this.live.has(stream) && !this.#stopped) this.#idle.arm(stream);
  }

  #onIdleTimeout(stream: Stream): void {
    if (this.#stopped || stream.jobs.size > 0 || this.live.size <= this.#min) return;
    this.#retire(stream, 'idle');
  }

  #onEnded(stream: Stream, ending: StreamEnding<PoolJob>): void {
    this.all.delete(stream);
    this.live.delete(stream);
    this.#starting.delete(stream);
    this.#idle.disarm(stream);
    if (stream === this.#tracker) {
      this.#tracker = null;
      this.#check.trackerSettled();
    }
    const failure = loadFailure(ending);
    const checked = this.#check.ended(
      stream,
      failure ?? { name: 'Error', message: 'its thread ended while loading' },
    );
    // A thread started for jobs after the check: its jobs fail with this, so say it once here too.
    if (failure !== null && !checked && !this.#stopped) {
      this.#log.error(
        { function: this.#config.name, err: logError(failure) },
        `${this.#config.name}: a handler thread could not load ${failure.at ?? this.#config.handler}: ${failure.message}`,
      );
    }
    this.#owner.ended(stream, ending, failure);
  }

  /** Closes a stream on purpose: it finishes what it holds, then its thread ends. */
  #retire(stream: Stream, why: string): void {
    if (!this.live.delete(stream)) return;
    this.#starting.delete(stream);
    this.#idle.disarm(stream);
    if (stream === this.#tracker) this.#tracker = null;
    this.#log.debug({ function: this.#config.name, worker: stream.workerId, why }, 'ending a handler thread');
    stream.close();
  }

  /** maxJobsPerProcess or maxRssMb: the worker ends after what it holds; a fresh one takes the next jobs. */
  #recycle(stream: Stream): void {
    if (this.#stopped || !this.live.has(stream)) return;
    this.#retire(stream, 'recycled');
    if (this.live.size < this.#max) this.#start();
  }

  /** maxRssMb, checked between jobs: a process past it is recycled, not killed. */
  #overRss(stream: Stream): boolean {
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

  /** One line per episode: the thread reports when its backlog has drained (or every 5 s). */
  #onOutputDropped(report: OutputDropReport): void {
    const { stream, bytes, writes, threadId } = report;
    this.#log.warn(
      { stream, droppedBytes: bytes, droppedWrites: writes, threadId },
      `handler output dropped: ${bytes} bytes of ${stream} in ${writes} write(s), past the ${kThreadOutputCapBytes / 1024 / 1024} MiB a thread may have waiting`,
    );
    this.#owner.outputDropped(report);
  }
}
