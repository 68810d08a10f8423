import { Worker as Thread } from 'node:worker_threads';
import { ErrorCode, GearmanError } from '../../errors.js';
import { type Logger, silentLogger } from '../../log.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../protocol/constants.js';
import { settlesBy } from '../deadline.js';
import { DEFAULT_MAX_RESULT_SIZE } from '../manifest/result-size.js';
import type { ModuleFunctionConfig } from '../manifest/types.js';
import type { ThreadEndCause } from '../pool/handler-pool.js';
import { DirectBoard } from '../thread/direct-board.js';
import type { DirectThreadData, FromDirectThread, ToDirectThread } from '../thread/direct-messages.js';
import { directEntryFile } from './direct-entry-file.js';
import type { DirectPoolHooks, DirectPoolOptions } from './direct-pool-hooks.js';
import { describeDeath } from './thread-death.js';

export type * from './direct-pool-hooks.js';

/** As the default mode (pool/pool-job.ts): a handler that ignores its aborted signal this long more has its thread ended. */
export const kAbortGraceMs = 1000;
/** How often the watchdog reads the board's start times (one timer per pool). */
const kWatchdogMs = 200;
/** Longest wait for a thread's death to be seen before a re-offered job runs anyway. */
const kVerdictWaitMs = 2000;
/** How long past a close's deadline the threads get to end on their own before they are terminated. */
export const kStopMarginMs = 500;

interface Seat {
  thread: Thread;
  /** Why the main thread ended it (a timeout), when it did. */
  endedFor: string | null;
  stopping: boolean;
  /** Loaded and connected (it said `ready`). */
  ready: boolean;
  ended: boolean;
  /** cut() has terminated it. */
  cut: boolean;
  exited: Promise<void>;
  /** Per server (the order of `servers`): its connection is up. */
  readonly up: boolean[];
}

/**
 * The threads of one `dispatch: thread` function: each owns its job-server connections
 * and runs its jobs itself (thread/direct-entry.ts). This side starts them, replaces a
 * dead one, ends one whose handler overstays its timeout, and makes sure a job that
 * killed a thread is not run again here: the job server requeues a dead connection's
 * job, and the next thread it reaches answers it with the earlier crash's reason.
 */
export class DirectPool {
  readonly #config: ModuleFunctionConfig;
  readonly #options: DirectPoolOptions;
  readonly #log: Logger;
  readonly #board: DirectBoard;
  /** Int32 [0]: the pause flag every thread's grab gate reads; [1]: crashes recorded (DirectThreadData.control). */
  readonly #control = new Int32Array(new SharedArrayBuffer(8));
  readonly #seats: Array<Seat | null>;
  /** Jobs that were running in a thread when it died: handle -> why. */
  readonly #crashed = new Map<string, string>();
  readonly #serverNames: readonly string[];
  readonly #hooks: DirectPoolHooks;
  /** What the handler loaded, as the pool's first thread recorded it (for the change watcher). */
  readonly #modules = new Set<string>();
  /** A thread recording modules has been started: the others (and replacements) do not. */
  #tracking = false;
  #watchdog: NodeJS.Timeout | undefined;
  #paused = false;
  #stopped = false;
  #closing: Promise<void> | null = null;

  constructor(config: ModuleFunctionConfig, options: DirectPoolOptions) {
    this.#config = config;
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#hooks = options.hooks ?? {};
    this.#serverNames = options.servers.map(({ host, port }) => `${host}:${port}`);
    this.#board = new DirectBoard(this.threads * config.jobsPerThread);
    this.#seats = new Array<Seat | null>(this.threads).fill(null);
  }

  /** concurrency / jobsPerThread, rounded up. */
  get threads(): number {
    return Math.max(1, Math.ceil(this.#config.concurrency / this.#config.jobsPerThread));
  }

  get threadsStarted(): number {
    return this.#seats.filter((seat) => seat !== null).length;
  }

  /** Jobs running now, read from the board (no message per job). */
  get running(): number {
    return this.#board.running();
  }

  /** Started threads running no job now (read from the board). */
  get threadsIdle(): number {
    const per = this.#config.jobsPerThread;
    let idle = 0;
    this.#seats.forEach((seat, index) => {
      if (seat !== null && this.#board.running(index * per, (index + 1) * per) === 0) idle++;
    });
    return idle;
  }

  /** Per job server (`host:port`, the order of the servers): how many threads' connections are up now. */
  connectionsUp(): Array<{ server: string; up: number }> {
    return this.#serverNames.map((server, i) => ({
      server,
      up: this.#seats.reduce((n, seat) => n + (seat?.up[i] === true ? 1 : 0), 0),
    }));
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** The files the handler loaded (its own code: node_modules and gworker's files left out). */
  get modules(): readonly string[] {
    return [...this.#modules];
  }

  /** Jobs whose thread died under them, with why (those are answered, never run again here). */
  get crashed(): ReadonlyMap<string, string> {
    return this.#crashed;
  }

  /** Starts every thread (eagerly: each holds connections); throws HANDLER_LOAD when the code cannot serve. */
  async start(): Promise<void> {
    const started = await Promise.allSettled(this.#seats.map((_, index) => this.#startThread(index)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await this.destroy();
      throw failed.reason;
    }
    if (this.#config.timeoutMs !== undefined && !this.#stopped) {
      this.#watchdog = setInterval(() => this.#watch(), kWatchdogMs);
      this.#watchdog.unref();
    }
  }

  /** Every thread's next grab is refused from now (a shared flag: no message to wait for). */
  pause(): void {
    this.#paused = true;
    Atomics.store(this.#control, 0, 1);
  }

  resume(): void {
    this.#paused = false;
    Atomics.store(this.#control, 0, 0);
    this.#broadcast({ kind: 'resume' });
  }

  /**
   * Every thread stops grabbing, finishes its jobs and closes its connections; what is
   * still running at `deadline` (a performance.now() time) is terminated, and the job
   * server requeues its jobs. A thread still loading its handler (a top level that never
   * finishes) is terminated then too: nothing outlives the deadline. Idempotent.
   */
  close(deadline: number): Promise<void> {
    this.#closing ??= this.#close(deadline);
    return this.#closing;
  }

  async #close(deadline: number): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#watchdog);
    const seats = this.#seats.filter((seat): seat is Seat => seat !== null);
    const timeoutMs = Math.max(0, deadline - performance.now());
    for (const seat of seats) {
      seat.stopping = true;
      seat.thread.postMessage({ kind: 'stop', timeoutMs } satisfies ToDirectThread);
    }
    // A moment past the threads' own deadline: their Workers give up first.
    if (await settlesBy(Promise.all(seats.map((seat) => seat.exited)), deadline + kStopMarginMs)) return;
    await this.cut();
  }

  /**
   * Terminates every thread still running now, saying (with the function's name) how
   * many were still loading and how many running jobs: the end of a close whose deadline
   * passed. The job server requeues their jobs.
   */
  async cut(): Promise<void> {
    const left = this.#seats.filter((seat): seat is Seat => seat !== null && !seat.ended && !seat.cut);
    if (left.length === 0) return;
    this.#stopped = true;
    clearInterval(this.#watchdog);
    for (const seat of left) {
      seat.cut = true;
      seat.stopping = true;
    }
    const loading = left.filter((seat) => !seat.ready).length;
    const name = this.#config.name;
    if (loading > 0)
      this.#log.warn(
        { function: name, threads: loading },
        `${name}: ${loading} handler thread(s) still loading ${this.#config.handler} at the deadline (its top level has not finished); terminating them`,
      );
    if (left.length > loading)
      this.#log.warn(
        { function: name, threads: left.length - loading },
        `${name}: ${left.length - loading} handler thread(s) still running jobs at the deadline; terminating them (the job server requeues their jobs)`,
      );
    await Promise.all(left.map((seat) => seat.thread.terminate()));
  }

  /** Ends every thread at once; the job server requeues their jobs. */
  async destroy(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#watchdog);
    await Promise.all(
      this.#seats.map((seat) => {
        if (seat === null) return undefined;
        seat.stopping = true;
        return seat.thread.terminate();
      }),
    );
  }

  #startThread(index: number): Promise<void> {
    const config = this.#config;
    const data: DirectThreadData = {
      handler: config.handler,
      exportName: config.export,
      functionName: config.name,
      servers: this.#options.servers.map(({ host, port }) => ({ host, port })),
      jobsPerThread: config.jobsPerThread,
      exceptions: config.exceptions,
      encoding: config.payload,
      timeoutMs: config.timeoutMs,
      clientId: this.#options.clientId,
      board: this.#board.buffer,
      index,
      control: this.#control.buffer as SharedArrayBuffer,
      crashed: [...this.#crashed],
      crashesHeard: Atomics.load(this.#control, 1),
      regrabIntervalMs: this.#options.regrabIntervalMs,
      maxFrameSize: Math.max(
        DEFAULT_MAX_FRAME_SIZE,
        (config.maxResultSize ?? DEFAULT_MAX_RESULT_SIZE) + 1024,
      ),
      trackModules: !this.#tracking,
    };
    this.#tracking = true;
    const thread = new Thread(directEntryFile(), {
      workerData: data,
      ...(config.maxMemoryMb === undefined
        ? {}
        : { resourceLimits: { maxOldGenerationSizeMb: config.maxMemoryMb } }),
    });
    let lastError: Error | null = null;
    const seat: Seat = {
      thread,
      endedFor: null,
      stopping: false,
      ready: false,
      ended: false,
      cut: false,
      exited: new Promise<void>((resolve) => thread.once('exit', () => resolve())),
      up: this.#serverNames.map(() => false),
    };
    this.#seats[index] = seat;
    return new Promise<void>((resolve, reject) => {
      thread.on('message', (message: FromDirectThread) => {
        if (message.kind === 'ready') {
          seat.ready = true;
          this.#addModules(message.modules);
          resolve();
        } else if (message.kind === 'modules') {
          this.#addModules(message.files);
        } else if (message.kind === 'loadFailed') {
          this.#addModules(message.modules);
          reject(new GearmanError(ErrorCode.HANDLER_LOAD, `${config.handler}: ${message.error.message}`));
          void thread.terminate();
        } else if (message.kind === 'jobs') {
          this.#hooks.jobs?.(message);
        } else if (message.kind === 'connection') {
          this.#connectionChanged(seat, message);
        } else if (message.kind === 'serverError') {
          this.#hooks.serverError?.(this.#serverNames[message.server] as string, message.error);
        } else if (message.kind === 'verdict?') {
          void this.#verdict(thread, message.handle, message.slot);
        }
      });
      thread.on('error', (err) => {
        lastError = err;
      });
      thread.once('exit', (code) => {
        seat.ended = true;
        if (this.#seats[index] === seat) this.#seats[index] = null;
        if (!seat.ready) {
          const why = this.#stopped
            ? 'the function stopped first: its thread was terminated'
            : `the handler thread ended while loading (${lastError?.message ?? `exit code ${code}`})`;
          reject(new GearmanError(ErrorCode.HANDLER_LOAD, `${config.handler}: ${why}`));
          return;
        }
        if (seat.stopping) return;
        this.#died(index, seat, code, lastError);
      });
    });
  }

  #addModules(files: readonly string[] | undefined): void {
    if (files === undefined) return;
    const before = this.#modules.size;
    for (const file of files) this.#modules.add(file);
    if (this.#modules.size > before) this.#hooks.modules?.();
  }

  #connectionChanged(
    seat: Seat,
    change: { server: number; up: boolean; reconnect: boolean; error: string | null },
  ): void {
    seat.up[change.server] = change.up;
    const server = this.#serverNames[change.server] as string;
    if (!change.up && !seat.stopping)
      this.#log.warn(
        { function: this.#config.name, server, err: change.error },
        `${this.#config.name}: a handler thread's connection to ${server} dropped (${change.error}); it reconnects`,
      );
    this.#hooks.connection?.({ server, up: change.up, reconnect: change.reconnect, error: change.error });
  }

  /** A thread died: its jobs are recorded as crashed (every thread hears), and it is replaced. */
  #died(index: number, seat: Seat, code: number, error: Error | null): void {
    const death = describeDeath(code, error, this.#config.maxMemoryMb);
    const reason = seat.endedFor ?? death.reason;
    const cause: ThreadEndCause = seat.endedFor === null ? death.cause : 'timeout';
    const per = this.#config.jobsPerThread;
    for (let slot = index * per; slot < (index + 1) * per; slot++) {
      const startedAt = this.#board.startedAt(slot);
      if (startedAt === 0) continue;
      const handle = this.#board.handle(slot);
      this.#crashed.set(handle, reason);
      // Counted before the slot frees: a thread offered the job meanwhile asks (direct-entry.ts).
      Atomics.add(this.#control, 1, 1);
      this.#board.free(slot);
      this.#hooks.crashed?.({ handle, reason, cause, durationMs: Math.max(0, Date.now() - startedAt) });
      this.#broadcast({ kind: 'crashed', handle, reason });
    }
    if (this.#stopped) return;
    this.#startThread(index).catch((err: Error) =>
      this.#log.error({ err, function: this.#config.name }, 'could not replace a dead handler thread'),
    );
  }

  /** A thread was offered a job another thread's slot holds: answer once that thread's fate is known. */
  async #verdict(asker: Thread, handle: string, slot: number): Promise<void> {
    const seat = this.#seats[Math.floor(slot / this.#config.jobsPerThread)];
    if (
      !this.#crashed.has(handle) &&
      seat !== null &&
      seat !== undefined &&
      this.#board.startedAt(slot) !== 0
    ) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        seat.exited,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, kVerdictWaitMs))),
      ]);
      clearTimeout(timer);
    }
    asker.postMessage({
      kind: 'verdict',
      handle,
      reason: this.#crashed.get(handle) ?? null,
    } satisfies ToDirectThread);
  }

  /** The watchdog: a job past its timeout plus the grace period ends its thread. */
  #watch(): void {
    const timeoutMs = this.#config.timeoutMs as number;
    const now = Date.now();
    const per = this.#config.jobsPerThread;
    for (let slot = 0; slot < this.#board.slots; slot++) {
      const started = this.#board.startedAt(slot);
      if (started === 0 || now - started < timeoutMs + kAbortGraceMs) continue;
      const seat = this.#seats[Math.floor(slot / per)];
      if (seat === null || seat === undefined || seat.endedFor !== null) continue;
      seat.endedFor = `timed out after ${timeoutMs} ms and ignored its signal for ${kAbortGraceMs} ms more: its thread was terminated`;
      this.#log.warn({ function: this.#config.name, jobHandle: this.#board.handle(slot) }, seat.endedFor);
      void seat.thread.terminate();
    }
  }

  #broadcast(message: ToDirectThread): void {
    for (const seat of this.#seats) seat?.thread.postMessage(message);
  }
}
