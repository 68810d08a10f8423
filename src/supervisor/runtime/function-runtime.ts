import { EventEmitter, setMaxListeners } from 'node:events';
import { type Logger, silentLogger } from '../../log.js';
import { settlesBy } from '../deadline.js';
import { DEFAULT_MAX_RESULT_SIZE } from '../manifest/result-size.js';
import type { FunctionConfig, ServerConfig } from '../manifest/types.js';
import { HandlerPool, type LossWatch, type RunOutcome, type ThreadEndCause } from '../pool/handler-pool.js';
import type { CheckedLoad } from '../pool/shared-check.js';
import { threadCount } from '../pool/thread-count.js';
import type { RetryService } from '../retry/retry-service.js';
import { TrackedJob, trackJob } from '../retry/tracked-job.js';
import type { SerializedError } from '../thread/messages.js';
import { runCommand } from './command-runner.js';
import { failJob } from './job-failure.js';
import { ResultLimit } from './result-limit.js';
import type { RunnableJob } from './runnable-job.js';

export type { RunnableJob } from './runnable-job.js';

export type JobResultKind = 'complete' | 'fail' | 'exception';

/** How a job ended; `reason` says why when it did not complete. */
export interface JobEndInfo {
  readonly function: string;
  readonly handle: string;
  readonly result: JobResultKind;
  readonly reason?: string;
  readonly durationMs: number;
  readonly generation: number;
  /** The job's handler thread ended (and was replaced), and why. */
  readonly threadEnded?: ThreadEndCause;
  /** What the handler threw (type, message, stack), when it threw. */
  readonly error?: SerializedError;
}

export interface FunctionRuntimeEvents {
  /** A job ended (one object per job, passed on as is by the supervisor). */
  jobEnd: [info: JobEndInfo];
  /** A new generation took over (hot reload or thread recycling). */
  generation: [info: { generation: number; cause: string }];
  /** codeFiles changed: a generation loaded, a load failed, or the handler imported more. */
  codeFiles: [];
  /** A handler thread dropped output past its cap (the pool has logged it). */
  outputDropped: [info: { stream: 'stdout' | 'stderr'; bytes: number }];
}

interface Generation {
  readonly id: number;
  /** Replaced in place by resize() (a new concurrency; the code stays). */
  config: FunctionConfig;
  /** null for command functions, which run no threads. */
  readonly pool: HandlerPool | null;
}

/**
 * One function of the manifest on this box: its current code generation, and how a job
 * of it runs and ends. Every job ends with exactly one of WORK_COMPLETE, WORK_EXCEPTION
 * (a thrown error, a crash, a timeout: gearmand turns it into WORK_FAIL for clients
 * that did not ask for exceptions) or WORK_FAIL (a command that exited non-zero).
 */
export class FunctionRuntime extends EventEmitter<FunctionRuntimeEvents> {
  readonly name: string;
  readonly #log: Logger;
  #current: Generation | null = null;
  #nextGeneration = 1;
  #reloading: Promise<void> = Promise.resolve();
  #recycling = false;
  #running = 0;
  /** Jobs that ended without their answer reaching the job server (lost: it requeues them). */
  #unanswered = 0;
  #closing: Promise<void> | null = null;
  /** Old generations finishing their jobs, each with the promise of its close. */
  readonly #retiring = new Map<HandlerPool, Promise<void>>();
  /** A generation loading its code, until its check settles. */
  #loading: HandlerPool | null = null;
  /** Command jobs running, each until its outcome has been handled. */
  readonly #commands = new Set<Promise<void>>();
  /** Aborted when a shutdown's deadline passes: every command's group is killed. */
  readonly #cutoff = new AbortController();
  /** The configuration before start() and between a swap's check and its switch. */
  #pendingConfig: FunctionConfig;
  /** What the last rejected load had read: fixing one of those files must reload. */
  #rejectedFiles: ReadonlySet<string> = new Set();
  /** Where retries and dead letters go (none: a failure is final, as without `retry`). */
  readonly #retries: RetryService | undefined;

  constructor(config: FunctionConfig, logger: Logger = silentLogger, retries?: RetryService) {
    super();
    this.name = config.name;
    this.#log = logger;
    this.#retries = retries;
    this.#pendingConfig = config;
    // One listener per running command (concurrency may be thousands).
    setMaxListeners(0, this.#cutoff.signal);
  }

  get config(): FunctionConfig {
    return this.#current?.config ?? this.#pendingConfig;
  }

  /** Most jobs of this function that may run at once on this box. */
  get concurrency(): number {
    return this.config.concurrency;
  }

  get running(): number {
    return this.#running;
  }

  /**
   * Jobs that ended without their answer being sent: their connection had dropped, or a
   * shutdown gave up on them. The job server requeues those.
   */
  get unanswered(): number {
    return this.#unanswered;
  }

  get generation(): number {
    return this.#current?.id ?? 0;
  }

  /** Jobs held here that have not started (prefetched, or waiting for a thread to start), old generations too. */
  get waiting(): number {
    let waiting = this.#current?.pool?.waiting ?? 0;
    for (const pool of this.#retiring.keys()) waiting += pool.waiting;
    return waiting;
  }

  /** Where the current generation's handlers run; null for commands. */
  get isolation(): 'thread' | 'process' | null {
    return this.#current?.pool?.isolation ?? null;
  }

  /**
   * Handler threads of the current generation, or its handler processes with
   * `isolation: process` (0 for commands, which run a process per job).
   */
  get threads(): number {
    return this.#current?.pool?.threads ?? 0;
  }

  /** Of those, the ones running now (threads start as jobs need them and end when idle). */
  get threadsStarted(): number {
    return this.#current?.pool?.threadsStarted ?? 0;
  }

  /** Started threads holding no job. */
  get threadsIdle(): number {
    return this.#current?.pool?.threadsIdle ?? 0;
  }

  /**
   * The files this function's code was loaded from (its handler and what the handler
   * imported, node_modules left out), plus those a rejected reload had read; empty for
   * commands. The change watcher reloads the function when one of them changes.
   */
  get codeFiles(): readonly string[] {
    const config = this.config;
    if (config.kind !== 'module') return [];
    return [...new Set([config.handler, ...(this.#current?.pool?.modules ?? []), ...this.#rejectedFiles])];
  }

  /**
   * Loads the first generation; throws HANDLER_LOAD when the code cannot serve. `checked`:
   * the shared start-up check has loaded the handler already (pool/shared-check.ts).
   */
  start(checked: CheckedLoad | null = null): Promise<void> {
    const next = this.#reloading.then(() => this.#swap(this.#pendingConfig, 'start', checked));
    this.#reloading = next.catch(() => {});
    return next;
  }

  /**
   * Builds a new generation from `config` (default: the current one, re-read from disk),
   * checks it in fresh threads, then routes new jobs to it; jobs running on the old
   * generation finish there before its threads end. A failed check leaves the old
   * generation serving and rejects with the reason.
   */
  reload(config: FunctionConfig = this.config, cause = 'reload'): Promise<void> {
    const next = this.#reloading.then(() => this.#swap(config, cause));
    this.#reloading = next.catch(() => {});
    return next;
  }

  /**
   * Changes the concurrency in place (`gworker scale`): the serving generation's most
   * threads follow it, with no new generation and no code loaded; threads past the new
   * most end once idle, busy ones after their jobs. Runs after a reload under way, so
   * the generation it builds is not left at the old size. Cheap: the autoscaler calls it often.
   */
  resize(concurrency: number): Promise<void> {
    const next = this.#reloading.then(() => {
      const current = this.#current;
      if (current === null) {
        this.#pendingConfig = { ...this.#pendingConfig, concurrency };
        return;
      }
      current.config = { ...current.config, concurrency };
      this.#pendingConfig = current.config;
      if (current.pool !== null && current.config.kind === 'module')
        current.pool.resize(threadCount(current.config));
    });
    this.#reloading = next.catch(() => {});
    return next;
  }

  /**
   * Runs one job to its end; the promise never rejects. `whenLost` tells of the job
   * becoming useless more cheaply than its signal (the library's Job offers it); without
   * it the job's signal is watched. `onEnd` is called as the job ends, before its
   * result is sent: the binding frees the job's slot there, so the connection that sends
   * the result takes the slot with a grab behind it in the same write, and the job
   * server sees the job end before the next one starts (a grab on another connection
   * could overtake it). `server` is where the job came from: its retries and dead
   * letter go there (retry/tracked-job.ts).
   */
  run(
    job: RunnableJob,
    whenLost: LossWatch = signalWatch(job),
    onEnd?: () => void,
    server?: ServerConfig,
  ): Promise<void> {
    const generation = this.#current;
    if (generation === null) {
      onEnd?.();
      return Promise.reject(new Error(`function ${this.name} is not started`));
    }
    const started = performance.now();
    this.#running++;
    const { config } = generation;
    const tracked = trackJob(job, config, server, this.#retries);
    const limit = new ResultLimit(
      tracked,
      config.maxResultSize ?? DEFAULT_MAX_RESULT_SIZE,
      config.exceptions,
      this.#log,
    );
    const watch = limit.watch(whenLost);
    return new Promise<void>((resolve) => {
      const finish = (outcome: RunOutcome): void => {
        this.#running--;
        onEnd?.();
        try {
          this.#finish(tracked, generation, outcome, performance.now() - started, limit);
          this.#maybeRecycle(generation);
        } finally {
          resolve();
        }
      };
      const end = !(tracked instanceof TrackedJob)
        ? finish
        : (outcome: RunOutcome): void => {
            // A chunk over maxResultSize failed the job already: nothing follows it.
            if (outcome.ok || limit.failure !== null) {
              finish(outcome);
              return;
            }
            // The job's one terminal packet waits for what follows the failure: a retry
            // at the job server must have its JOB_CREATED first (docs/retries.md).
            tracked.afterFailure(outcome).then((step) => {
              const current = this.#current;
              if (step.kind === 'again' && current !== null && this.#closing === null) {
                this.#attempt(current, tracked, limit, watch, end, step.timeoutMs);
              } else {
                finish(step.kind === 'end' && step.note ? withNote(outcome, step.note) : outcome);
              }
            });
          };
      this.#attempt(generation, tracked, limit, watch, end, config.timeoutMs);
    });
  }

  /**
   * Starts one attempt of a job on `generation`; `end` gets its outcome. Its progress
   * goes out through `limit`, the job's size limit.
   */
  #attempt(
    generation: Generation,
    job: RunnableJob,
    limit: ResultLimit,
    watch: LossWatch,
    end: (outcome: RunOutcome) => void,
    timeoutMs: number | undefined,
  ): void {
    const { config, pool } = generation;
    if (config.kind === 'command') {
      const stops = { signal: job.signal, cutoff: this.#cutoff.signal };
      const limited =
        timeoutMs === undefined || timeoutMs === config.timeoutMs ? config : { ...config, timeoutMs };
      const running: Promise<void> = runCommand(limited, job, job.payload, limit, stops)
        .then(end, (err: Error) =>
          end({ ok: false, reason: 'crash', error: { name: 'Error', message: err.message } }),
        )
        .finally(() => this.#commands.delete(running));
      this.#commands.add(running);
      return;
    }
    (pool as HandlerPool).start(
      job,
      job.payload,
      limit,
      (outcome) => {
        // Its thread was ended for another job's timeout: nothing was wrong with this
        // one. Run it again on the current generation (this one may be retiring).
        const current = this.#current;
        if (
          !outcome.ok &&
          outcome.reason === 'collateral' &&
          current?.pool &&
          current.config.kind === 'module'
        ) {
          current.pool.start(job, job.payload, limit, end, timeoutMs, watch);
        } else {
          end(outcome);
        }
      },
      timeoutMs,
      watch,
    );
  }

  /**
   * Waits for running jobs (old generations and commands included), then ends every
   * thread. With a `deadline` (a performance.now() time), what still runs then is ended:
   * threads terminated, command process groups killed, code still loading dropped.
   * Idempotent.
   */
  close(deadline = Number.POSITIVE_INFINITY): Promise<void> {
    this.#closing ??= (async () => {
      if (!(await settlesBy(this.#reloading, deadline))) await this.#loading?.destroy();
      const pools = [...this.#retiring.keys()];
      if (this.#current?.pool) pools.push(this.#current.pool);
      await Promise.allSettled([...pools.map((pool) => pool.close(deadline)), this.#endCommands(deadline)]);
    })();
    return this.#closing;
  }

  /** Ends every thread and command at once; running jobs end as crashes. */
  async destroy(): Promise<void> {
    this.#cutoff.abort(new Error('the function was stopped before the command finished'));
    await this.#current?.pool?.destroy();
  }

  /** Lets running commands finish until `deadline`, then kills their process groups. */
  async #endCommands(deadline: number): Promise<void> {
    if (this.#commands.size === 0) return;
    if (await settlesBy(Promise.allSettled([...this.#commands]), deadline)) return;
    const reason = 'still running when the shutdown deadline passed: its process group was killed';
    this.#log.warn(
      { jobs: this.#commands.size },
      'commands still running at the shutdown deadline; killing them',
    );
    this.#cutoff.abort(new Error(reason));
    await Promise.allSettled([...this.#commands]);
  }

  async #swap(config: FunctionConfig, cause: string, checked: CheckedLoad | null = null): Promise<void> {
    if (this.#closing) return;
    const id = this.#nextGeneration++;
    const log = this.#log.child({ generation: id });
    let pool: HandlerPool | null = null;
    if (config.kind === 'module') {
      const created: HandlerPool = new HandlerPool(
        config,
        id,
        log,
        {
          // A late import on the serving generation; before its swap, the swap tells.
          modules: () => {
            if (this.#current?.pool === created) this.emit('codeFiles');
          },
          outputDropped: ({ stream, bytes }) => this.emit('outputDropped', { stream, bytes }),
        },
        checked,
      );
      pool = created;
      this.#loading = pool;
      try {
        await pool.check();
      } catch (err) {
        this.#rejectedFiles = new Set(pool.modules);
        this.emit('codeFiles');
        await pool.destroy().catch(() => {});
        throw err;
      } finally {
        this.#loading = null;
      }
      if (this.#closing) {
        // The shutdown came while this code loaded: it never serves.
        await pool.destroy();
        return;
      }
    }
    const previous = this.#current;
    this.#current = { id, config, pool };
    this.#pendingConfig = config;
    this.#recycling = false;
    this.#rejectedFiles = new Set();
    this.emit('generation', { generation: id, cause });
    this.emit('codeFiles');
    if (previous?.pool) this.#retire(previous.pool);
  }

  /** Lets the old generation's jobs finish in the background, then ends its threads. */
  #retire(pool: HandlerPool): void {
    const done = pool
      .close()
      .catch((err: Error) => this.#log.warn({ err }, 'old generation did not close cleanly'))
      .finally(() => this.#retiring.delete(pool));
    this.#retiring.set(pool, done);
  }

  /** maxJobsPerThread: swap in fresh threads once this generation has run its share. */
  #maybeRecycle(generation: Generation): void {
    const { config, pool } = generation;
    if (config.kind !== 'module' || config.maxJobsPerThread === undefined || pool === null) return;
    if (this.#recycling || generation !== this.#current) return;
    if (pool.jobsStarted < config.maxJobsPerThread * pool.threads) return;
    this.#recycling = true;
    this.reload(config, 'recycle').catch((err: Error) => {
      this.#recycling = false;
      this.#log.error({ err }, 'could not recycle handler threads');
    });
  }

  #finish(
    job: RunnableJob,
    generation: Generation,
    outcome: RunOutcome,
    durationMs: number,
    limit: ResultLimit,
  ): void {
    const { config } = generation;
    if (limit.failure !== null) {
      // A chunk over maxResultSize failed the job while its handler ran: nothing more goes.
      if (!limit.failure.answered) this.#unanswered++;
      this.#failed(job, generation, durationMs, limit.failure.result, limit.refusal as string);
      return;
    }
    if (outcome.ok) {
      const refusal = limit.refuseResult(outcome.result);
      if (refusal !== null) {
        const failure = failJob(job, refusal, config.exceptions);
        if (!failure.answered) this.#unanswered++;
        this.#failed(job, generation, durationMs, failure.result, refusal);
        return;
      }
      if (!job.complete(outcome.result)) this.#unanswered++;
      const info: JobEndInfo = {
        function: this.name,
        handle: job.handle,
        result: 'complete',
        durationMs,
        generation: generation.id,
      };
      this.emit('jobEnd', info);
      return;
    }
    const reason = outcome.error.message;
    // Like `gearman -w`: a failing command is a WORK_FAIL; the warning carries why.
    const exceptions = config.exceptions && !(config.kind === 'command' && outcome.reason === 'handler');
    const failure = failJob(job, reason, exceptions);
    if (!failure.answered) this.#unanswered++;
    this.#failed(
      job,
      generation,
      durationMs,
      failure.result,
      reason,
      outcome.threadEnded,
      outcome.reason === 'handler' ? outcome.error : undefined,
    );
  }

  #failed(
    job: RunnableJob,
    generation: Generation,
    durationMs: number,
    result: JobResultKind,
    reason: string,
    threadEnded?: ThreadEndCause,
    error?: SerializedError,
  ): void {
    this.emit('jobEnd', {
      function: this.name,
      handle: job.handle,
      result,
      reason,
      durationMs,
      generation: generation.id,
      ...(threadEnded === undefined ? {} : { threadEnded }),
      ...(error === undefined ? {} : { error }),
    });
  }
}

/** The failure's reason with what followed it (its retry, its dead letter) said after it. */
function withNote(outcome: RunOutcome, note: string): RunOutcome {
  if (outcome.ok) return outcome;
  return { ...outcome, error: { ...outcome.error, message: `${outcome.error.message} (${note})` } };
}

/** A LossWatch on the job's AbortSignal, for jobs other than the library's. */
function signalWatch(job: RunnableJob): LossWatch {
  return (listener) => {
    const { signal } = job;
    if (signal.aborted) listener(signal.reason);
    else signal.addEventListener('abort', () => listener(signal.reason), { once: true });
  };
}
