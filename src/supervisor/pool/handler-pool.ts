import { randomBytes } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { ErrorCode, GearmanError } from '../../errors.js';
import { type Logger, silentLogger } from '../../log.js';
import type { ModuleFunctionConfig } from '../manifest/types.js';
import { transferableCopy } from '../thread/bytes.js';
import type {
  AbortMessage,
  CheckResult,
  JobMeta,
  ProgressMessage,
  RunResult,
  RunTask,
  SerializedError,
} from '../thread/messages.js';
import { handlerEntryFile } from './entry-file.js';

/** Why a handler thread ended under a job: it died, ran out of memory, or was ended for a timeout. */
export type ThreadEndCause = 'crash' | 'oom' | 'timeout';

/** How a job run in a thread ended. */
export type RunOutcome =
  | { readonly ok: true; readonly result: Uint8Array }
  | {
      readonly ok: false;
      /**
       * handler: it threw; load: its module failed; timeout: it ran too long; crash: its
       * thread died; collateral: its thread was ended for another job's timeout (run it again).
       */
      readonly reason: 'handler' | 'load' | 'timeout' | 'crash' | 'collateral';
      /** Set when the job's thread ended (and was replaced): why. */
      readonly threadEnded?: ThreadEndCause;
      readonly error: SerializedError;
    };

export interface ProgressSink {
  status(numerator: number, denominator: number): void;
  data(chunk: Uint8Array): void;
  warning(chunk: Uint8Array): void;
}

interface RunningTask {
  readonly sink: ProgressSink;
  received: number;
  expected: number;
  caughtUp: (() => void) | null;
  /** The thread running it, for pools whose threads run several jobs at once. */
  threadId: number | null;
  /** Its thread was ended because another job on it ran past its timeout. */
  collateral: boolean;
}

/** Time a job gets to return after its signal is aborted, before its thread is ended. */
const kAbortGraceMs = 1000;
/** Longest wait for progress messages that the result says were sent. */
const kProgressWaitMs = 2000;
/** Longest wait in close() for running jobs (piscina's own closeTimeout is the same). */
const kCloseWaitMs = 30_000;
let nextTaskId = 1;

/**
 * One generation of one function's handler code: a piscina pool whose threads have
 * loaded that code. Hot reload builds a new HandlerPool and closes the old one once its
 * jobs are done. Progress and abort messages travel on a BroadcastChannel of its own.
 */
export class HandlerPool {
  readonly generation: number;
  readonly threads: number;
  readonly #config: ModuleFunctionConfig;
  readonly #piscina: Piscina;
  readonly #channel: BroadcastChannel;
  readonly #channelName: string;
  readonly #running = new Map<number, RunningTask>();
  readonly #log: Logger;
  #jobsStarted = 0;
  /** Resolves close()'s wait once no job runs here. */
  #onIdle: (() => void) | null = null;
  /** Threads being ended for a timeout right now (see #endThreadOf). */
  #endingThreads = 0;
  #closing: Promise<void> | null = null;

  constructor(config: ModuleFunctionConfig, generation: number, logger: Logger = silentLogger) {
    this.#config = config;
    this.generation = generation;
    this.#log = logger;
    this.threads = Math.max(1, Math.ceil(config.concurrency / config.jobsPerThread));
    this.#channelName = `gworker:${config.name}:${generation}:${randomBytes(6).toString('hex')}`;
    this.#channel = new BroadcastChannel(this.#channelName);
    this.#channel.onmessage = (event) => this.#onProgress((event as { data: ProgressMessage }).data);
    this.#piscina = new Piscina({
      filename: handlerEntryFile(),
      name: 'default',
      minThreads: this.threads,
      maxThreads: this.threads,
      concurrentTasksPerWorker: config.jobsPerThread,
      // Threads of one generation live as long as it does.
      idleTimeout: 2 ** 31 - 1,
      // I/O-bound handlers need their event loop between tasks; 'sync' idles in Atomics.wait.
      atomics: config.jobsPerThread > 1 ? 'async' : 'sync',
      ...(config.maxMemoryMb === undefined
        ? {}
        : { resourceLimits: { maxOldGenerationSizeMb: config.maxMemoryMb } }),
    });
    // A thread that dies while idle is replaced by piscina; it is worth a log line, not a crash.
    this.#piscina.on('error', (err: Error) => this.#log.warn({ err }, 'handler thread failed while idle'));
  }

  /** Jobs started on this generation (the supervisor recycles it after maxJobsPerThread × threads). */
  get jobsStarted(): number {
    return this.#jobsStarted;
  }

  get busy(): number {
    return this.#running.size;
  }

  /**
   * Loads the handler in the new threads and checks its export; throws a GearmanError
   * (HANDLER_LOAD) with the reason when it cannot serve.
   */
  async check(): Promise<void> {
    const checks = Array.from({ length: this.threads }, () =>
      this.#piscina.run({ kind: 'check', handler: this.#config.handler, exportName: this.#config.export }),
    );
    const results = (await Promise.all(checks)) as CheckResult[];
    const failed = results.find((r): r is Extract<CheckResult, { ok: false }> => !r.ok);
    if (failed) {
      throw new GearmanError(
        ErrorCode.HANDLER_LOAD,
        `cannot load ${this.#config.handler}: ${failed.error.message}`,
      );
    }
  }

  /** Runs one job in a thread. Never rejects: every way a job can end is an outcome. */
  async run(
    meta: JobMeta,
    payload: Uint8Array,
    sink: ProgressSink,
    timeoutMs?: number,
    signal?: AbortSignal,
  ): Promise<RunOutcome> {
    const taskId = nextTaskId++;
    this.#jobsStarted++;
    const bytes = transferableCopy(payload);
    const task: RunTask = {
      kind: 'run',
      taskId,
      channel: this.#channelName,
      handler: this.#config.handler,
      exportName: this.#config.export,
      encoding: this.#config.payload,
      payload: bytes,
      job: meta,
      reportThread: this.#sharedThreads,
    };
    const record: RunningTask = {
      sink,
      received: 0,
      expected: 0,
      caughtUp: null,
      threadId: null,
      collateral: false,
    };
    this.#running.set(taskId, record);
    // Ends the thread on a hard timeout. Only when there is a timeout: an abortable task
    // costs piscina a listener per run, and a thread of its own (see below).
    const kill = timeoutMs !== undefined && !this.#sharedThreads ? new AbortController() : null;
    let timedOut = false;
    let killed = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const timeoutTimer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            const message: AbortMessage = { abort: taskId, reason: `timed out after ${timeoutMs} ms` };
            this.#channel.postMessage(message);
            graceTimer = setTimeout(() => {
              killed = true;
              if (this.#sharedThreads) this.#endThreadOf(record);
              else kill?.abort();
            }, kAbortGraceMs);
          }, timeoutMs);
    // The job became useless (its connection dropped): tell the handler through its signal.
    const onLost = (): void => {
      const message: AbortMessage = {
        abort: taskId,
        reason: String(signal?.reason ?? 'the job was abandoned'),
      };
      this.#channel.postMessage(message);
    };
    signal?.addEventListener('abort', onLost, { once: true });
    try {
      const result = (await this.#piscina.run(task, {
        transferList: [bytes.buffer as ArrayBuffer],
        // piscina runs an abortable task alone on its thread (aborting ends the thread), so
        // threads shared by several jobs rely on the job's own signal instead.
        ...(kill === null ? {} : { signal: kill.signal }),
      })) as RunResult;
      await this.#catchUp(record, result.progress);
      if (timedOut) return timeoutOutcome(timeoutMs as number, killed);
      if (result.ok) return { ok: true, result: result.result };
      return { ok: false, reason: result.error.load ? 'load' : 'handler', error: result.error };
    } catch (err) {
      if (timedOut) return timeoutOutcome(timeoutMs as number, killed);
      if (record.collateral || (this.#endingThreads > 0 && !/out of memory/i.test((err as Error).message))) {
        const message = 'its thread was ended because another job on it ran past its timeout';
        return { ok: false, reason: 'collateral', error: { name: 'Error', message } };
      }
      const error = err as Error;
      const oom = /out of memory/i.test(error.message);
      const message = oom
        ? `the handler ran out of memory (limit ${this.#config.maxMemoryMb ?? 'default'} MB)`
        : `the handler's thread died: ${error.message}`;
      return {
        ok: false,
        reason: 'crash',
        error: { name: error.name, message },
        threadEnded: oom ? 'oom' : 'crash',
      };
    } finally {
      signal?.removeEventListener('abort', onLost);
      clearTimeout(timeoutTimer);
      clearTimeout(graceTimer);
      this.#running.delete(taskId);
      if (this.#running.size === 0) this.#onIdle?.();
    }
  }

  /** Waits for running jobs, then ends the threads. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        // piscina's close() alone is not enough: with several threads it counts a thread
        // whose task ended once per listener it registered, so the first job to end can
        // look like all of them, and the pool is destroyed under the jobs still running
        // ("Terminating worker thread"), failing them on every reload.
        await this.#idle();
        await this.#piscina.close();
      } finally {
        this.#channel.close();
      }
    })();
    return this.#closing;
  }

  /** Resolves when no job runs here, or after kCloseWaitMs (close() then ends what is left). */
  #idle(): Promise<void> {
    if (this.#running.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, kCloseWaitMs);
      // close() runs once (memoized), so one waiter is all there is.
      this.#onIdle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Ends the threads at once; running jobs end as crashes. */
  async destroy(): Promise<void> {
    try {
      await this.#piscina.destroy();
    } finally {
      this.#channel.close();
    }
  }

  /** Threads here run several jobs at once (jobsPerThread > 1). */
  get #sharedThreads(): boolean {
    return this.#config.jobsPerThread > 1;
  }

  /**
   * A job on a shared thread ignored its abort: end that thread. Its other jobs die with
   * it; they are marked so the runtime runs them again rather than failing them.
   */
  #endThreadOf(record: RunningTask): void {
    const { threadId } = record;
    if (threadId === null) return;
    for (const other of this.#running.values()) {
      if (other !== record && other.threadId === threadId) other.collateral = true;
    }
    const thread = this.#piscina.threads.find((worker) => worker.threadId === threadId);
    if (thread === undefined) return;
    this.#log.warn({ threadId }, 'a job ignored its timeout; ending its thread');
    // Jobs queued on that thread never started, so never said where they run: any job
    // that fails while the thread goes down is taken as collateral.
    this.#endingThreads++;
    thread
      .terminate()
      .catch(() => {})
      .finally(() => setImmediate(() => this.#endingThreads--));
  }

  #onProgress(message: ProgressMessage): void {
    const record = this.#running.get(message.taskId);
    if (record === undefined) return;
    if (message.kind === 'thread') {
      record.threadId = message.threadId;
      return;
    }
    record.received++;
    try {
      if (message.kind === 'status') record.sink.status(message.numerator, message.denominator);
      else if (message.kind === 'data') record.sink.data(message.chunk);
      else record.sink.warning(message.chunk);
    } catch (err) {
      this.#log.warn({ err }, 'could not forward job progress');
    }
    if (record.caughtUp !== null && record.received >= record.expected) record.caughtUp();
  }

  /** Progress travels apart from the result: wait until every update sent before it is forwarded. */
  async #catchUp(record: RunningTask, expected: number): Promise<void> {
    if (record.received >= expected) return;
    record.expected = expected;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, kProgressWaitMs);
      record.caughtUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function timeoutOutcome(timeoutMs: number, threadEnded: boolean): RunOutcome {
  const error = { name: 'TimeoutError', message: `timed out after ${timeoutMs} ms` };
  return threadEnded
    ? { ok: false, reason: 'timeout', error, threadEnded: 'timeout' }
    : { ok: false, reason: 'timeout', error };
}
