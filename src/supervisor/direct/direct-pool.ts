import { MAX_CONCURRENCY, MAX_TIMER_MS } from '../../limits.js';
import { type Logger, silentLogger } from '../../log.js';
import { settlesBy } from '../deadline.js';
import type { ModuleFunctionConfig } from '../manifest/types.js';
import type { ThreadEndCause } from '../pool/handler-pool.js';
import { threadCount } from '../pool/thread-count.js';
import { DirectBoard } from '../thread/direct-board.js';
import {
  type FromDirectThread,
  kControlPaused,
  kControlWords,
  type ToDirectThread,
} from '../thread/direct-messages.js';
import { CrashBook } from './crash-book.js';
import type { DirectPoolHooks, DirectPoolOptions } from './direct-pool-hooks.js';
import { type Seat, type SeatOwner, type SeatShared, startSeat } from './direct-seat.js';
import { describeDeath } from './thread-death.js';
import { TimeoutWatchdog } from './timeout-watchdog.js';

export type * from './direct-pool-hooks.js';

/** Longest wait for a thread's death to be seen before a re-offered job runs anyway. */
const kVerdictWaitMs = 2000;
/** How long past a close's deadline the threads get to end on their own before they are terminated. */
export const kStopMarginMs = 500;

/**
 * The threads of one `dispatch: thread` function: each owns its job-server connections
 * and runs its jobs itself (thread/direct-entry.ts). This side starts them, adds and
 * removes them in place (resize), replaces a dead one, ends one whose handler overstays
 * its timeout, and makes sure a job that killed a thread is not run again here: the job
 * server requeues a dead connection's job, and the next thread it reaches answers it
 * with the earlier crash's reason.
 */
export class DirectPool implements SeatOwner {
  #config: ModuleFunctionConfig;
  readonly #options: DirectPoolOptions;
  readonly #log: Logger;
  readonly #board: DirectBoard;
  /** The control words every thread reads (thread/direct-messages.ts kControl*). */
  readonly #control = new Int32Array(new SharedArrayBuffer(kControlWords * 4));
  /** By board place; a place frees when its thread has ended. */
  readonly #seats: Array<Seat | null> = [];
  /** Threads wanted (resize() changes it). */
  #target: number;
  /** Jobs that were running in a thread when it died: handle -> why. */
  readonly #crashed = new CrashBook(this.#control);
  readonly #serverNames: readonly string[];
  readonly #hooks: DirectPoolHooks;
  /** What the handler loaded, as the pool's first thread recorded it (for the change watcher). */
  readonly #modules = new Set<string>();
  /** A thread recording modules has been started: the others (and replacements) do not. */
  #tracking = false;
  #watchdog: TimeoutWatchdog | null = null;
  #paused = false;
  #stopped = false;
  #closing: Promise<void> | null = null;

  constructor(config: ModuleFunctionConfig, options: DirectPoolOptions) {
    this.#config = config;
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#hooks = options.hooks ?? {};
    this.#serverNames = options.servers.map(({ host, port }) => `${host}:${port}`);
    this.#target = threadCount(config);
    // Room for twice the most threads a function may have: surplus ones finishing their
    // jobs after a scale down keep their places until they end.
    const per = config.jobsPerThread;
    this.#board = new DirectBoard(this.#target * per, 2 * Math.ceil(MAX_CONCURRENCY / per) * per);
  }

  /** Threads wanted now: concurrency / jobsPerThread, rounded up. */
  get threads(): number {
    return this.#target;
  }

  /** Threads running now: starting, serving, or finishing their jobs after a scale down. */
  get threadsStarted(): number {
    return this.#seats.filter((seat) => seat !== null).length;
  }

  /** Jobs running now, read from the board (no message per job). */
  get running(): number {
    return this.#board.running();
  }

  /** Started threads running no job now (read from the board). */
  get threadsIdle(): number {
    return this.#seats.filter((seat) => seat !== null && this.#busy(seat) === 0).length;
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
  get crashed(): CrashBook {
    return this.#crashed;
  }

  /** Starts every thread (eagerly: each holds connections); throws HANDLER_LOAD when the code cannot serve. */
  async start(): Promise<void> {
    const started = await Promise.allSettled(Array.from({ length: this.#target }, () => this.#add()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await this.destroy();
      throw failed.reason;
    }
    if (this.#config.timeoutMs !== undefined && !this.#stopped) {
      const { name, timeoutMs, jobsPerThread } = this.#config;
      const fn = { name, timeoutMs, jobsPerThread };
      this.#watchdog = new TimeoutWatchdog(fn, this.#board, (index) => this.#seats[index], this.#log);
    }
  }

  /**
   * Changes the slots in place (`gworker scale`, the autoscaler): no new generation.
   * More threads start, each with its connections, and take jobs once ready (resolves
   * then; rejects with HANDLER_LOAD when one cannot load, and the others serve). Surplus
   * threads, idle ones first, stop grabbing, finish their jobs and close: nothing is lost.
   */
  async resize(concurrency: number): Promise<void> {
    if (this.#stopped) return;
    this.#config = { ...this.#config, concurrency };
    this.#target = threadCount(this.#config);
    const serving = this.#seats.filter((seat): seat is Seat => seat !== null && !seat.stopping);
    if (serving.length > this.#target) {
      // Idle first, then the latest places: those end at once, busy ones after their jobs.
      const surplus = serving
        .sort((a, b) => this.#busy(a) - this.#busy(b) || b.index - a.index)
        .slice(0, serving.length - this.#target);
      for (const seat of surplus) this.#stopSeat(seat, MAX_TIMER_MS);
      return;
    }
    const adding = Array.from({ length: this.#target - serving.length }, () => this.#add());
    const added = await Promise.allSettled(adding);
    const failed = added.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed === undefined) return;
    this.#target -= added.filter((r) => r.status === 'rejected').length;
    throw failed.reason;
  }

  /** Every thread's next grab is refused from now (a shared flag: no message to wait for). */
  pause(): void {
    this.#paused = true;
    Atomics.store(this.#control, kControlPaused, 1);
  }

  resume(): void {
    this.#paused = false;
    Atomics.store(this.#control, kControlPaused, 0);
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
    this.#watchdog?.stop();
    const seats = this.#seats.filter((seat): seat is Seat => seat !== null);
    const timeoutMs = Math.max(0, deadline - performance.now());
    for (const seat of seats) this.#stopSeat(seat, timeoutMs);
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
    this.#watchdog?.stop();
    for (const seat of left) seat.cut = true;
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
    this.#watchdog?.stop();
    const left = this.#seats.filter((seat): seat is Seat => seat !== null);
    for (const seat of left) seat.cut = true;
    await Promise.all(left.map((seat) => seat.thread.terminate()));
  }

  /** SeatOwner: a running thread's message. */
  message(seat: Seat, message: FromDirectThread): void {
    switch (message.kind) {
      case 'ready':
      case 'loadFailed':
        this.#addModules(message.modules);
        return;
      case 'modules':
        this.#addModules(message.files);
        return;
      case 'jobs':
        this.#hooks.jobs?.(message);
        return;
      case 'connection':
        this.#connectionChanged(seat, message);
        return;
      case 'serverError':
        this.#hooks.serverError?.(this.#serverNames[message.server] as string, message.error);
        return;
      case 'verdict?':
        void this.#verdict(seat, message.handle, message.slot);
        return;
      case 'stopped':
        return;
    }
  }

  /** SeatOwner: a thread ended, stopped, cut at a deadline, or dead. */
  ended(seat: Seat, code: number, error: Error | null): void {
    if (this.#seats[seat.index] === seat) this.#seats[seat.index] = null;
    // A failed load is start()'s or resize()'s to report; a graceful stop (exit 0) and a
    // thread terminated at a deadline (its jobs requeued, nothing wrong with them) are no deaths.
    const died = seat.ready && !seat.cut && !(seat.stopping && code === 0);
    const held = this.#busy(seat);
    if (died) this.#recordCrashes(seat, code, error);
    else if (held > 0) this.#hooks.unanswered?.(held);
    const per = this.#config.jobsPerThread;
    for (let slot = seat.index * per; slot < (seat.index + 1) * per; slot++) this.#board.free(slot);
    const serving = this.#seats.filter((s) => s !== null && !s.stopping).length;
    if (!died || this.#stopped || seat.stopping || serving >= this.#target) return;
    this.#add().catch((err: Error) =>
      this.#log.error({ err, function: this.#config.name }, 'could not replace a dead handler thread'),
    );
  }

  /** A new thread at the first free place, the board grown to hold it; resolves once it serves. */
  #add(): Promise<void> {
    let index = this.#seats.indexOf(null);
    if (index < 0) index = this.#seats.length;
    const per = this.#config.jobsPerThread;
    if ((index + 1) * per > this.#board.maxSlots)
      return Promise.reject(new RangeError(`${this.#config.name}: no room for another thread`));
    this.#board.grow((index + 1) * per);
    const shared: SeatShared = {
      config: this.#config,
      servers: this.#options.servers,
      clientId: this.#options.clientId,
      regrabIntervalMs: this.#options.regrabIntervalMs,
      board: this.#board.buffer,
      control: this.#control.buffer as SharedArrayBuffer,
    };
    const { seat, ready } = startSeat(
      index,
      shared,
      {
        ...this.#crashed.snapshot(),
        trackModules: !this.#tracking,
      },
      this,
    );
    this.#tracking = true;
    this.#seats[index] = seat;
    return ready;
  }

  #stopSeat(seat: Seat, timeoutMs: number): void {
    seat.stopping = true;
    seat.thread.postMessage({ kind: 'stop', timeoutMs } satisfies ToDirectThread);
  }

  /** Jobs the seat's thread runs now. */
  #busy(seat: Seat): number {
    const per = this.#config.jobsPerThread;
    return this.#board.running(seat.index * per, (seat.index + 1) * per);
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

  /**
   * A thread died: its jobs are recorded as crashed (every thread hears); ended() then
   * replaces it, unless the pool stopped or has the threads it wants (after a scale down).
   */
  #recordCrashes(seat: Seat, code: number, error: Error | null): void {
    const death = describeDeath(code, error, this.#config.maxMemoryMb);
    const reason = seat.endedFor ?? death.reason;
    const cause: ThreadEndCause = seat.endedFor === null ? death.cause : 'timeout';
    const per = this.#config.jobsPerThread;
    for (let slot = seat.index * per; slot < (seat.index + 1) * per; slot++) {
      const startedAt = this.#board.startedAt(slot);
      if (startedAt === 0) continue;
      const handle = this.#board.handle(slot);
      // Counted before the slot frees: a thread offered the job meanwhile asks (crash-book.ts).
      this.#crashed.record(handle, reason);
      this.#board.free(slot);
      this.#hooks.crashed?.({ handle, reason, cause, durationMs: Math.max(0, Date.now() - startedAt) });
      this.#broadcast({ kind: 'crashed', handle, reason });
    }
  }

  /** A thread was offered a job another thread's slot holds: answer once that thread's fate is known. */
  async #verdict(asker: Seat, handle: string, slot: number): Promise<void> {
    const holder = this.#seats[Math.floor(slot / this.#config.jobsPerThread)];
    if (this.#crashed.reasonOf(handle) === undefined && holder != null && this.#board.startedAt(slot) !== 0) {
      await settlesBy(holder.exited, performance.now() + kVerdictWaitMs);
    }
    asker.thread.postMessage({
      kind: 'verdict',
      handle,
      reason: this.#crashed.reasonOf(handle) ?? null,
    } satisfies ToDirectThread);
  }

  #broadcast(message: ToDirectThread): void {
    for (const seat of this.#seats) seat?.thread.postMessage(message);
  }
}
