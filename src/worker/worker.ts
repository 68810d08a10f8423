import { EventEmitter } from 'node:events';
import { ConnectionError, ErrorCode, GearmanError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import type { ServerAddress } from '../net/address.js';
import { Connection, type ConnectionOptions } from '../net/connection.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../protocol/constants.js';
import { type Job, type JobOutcome, jobControl } from './job.js';
import {
  type CloseOptions,
  checkCount,
  checkFunctionName,
  checkTimeout,
  type JobHandler,
  kDefaultCloseTimeoutMs,
  type RegisterOptions,
  type ResolvedWorkerOptions,
  resolveWorkerOptions,
  type WorkerEvents,
  type WorkerOptions,
} from './options.js';
import { AnnouncedFunctions } from './registry.js';
import { WorkerConnection, type WorkerContext } from './worker-connection.js';

/**
 * A Gearman worker: announces functions (CAN_DO / CAN_DO_TIMEOUT) to every server,
 * grabs jobs with up to `maxJobs` grabs pipelined per connection, runs their handlers
 * and answers each with exactly one terminal packet. It reconnects on its own and
 * replays SET_CLIENT_ID and every registration after each reconnect.
 *
 * @example
 * ```ts
 * const worker = new Worker({ servers: ['127.0.0.1:4730'], maxJobs: 8 });
 * worker.register('title', (job) => job.payload.toString().toLowerCase());
 * await worker.start();
 * // later
 * await worker.close({ timeoutMs: 10_000 });
 * ```
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly #options: ResolvedWorkerOptions;
  readonly #registry: AnnouncedFunctions;
  readonly #loops: WorkerConnection[] = [];
  readonly #log: Logger;
  #maxJobs: number;
  #paused = false;
  #starting: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: WorkerOptions = {}) {
    super();
    this.#options = resolveWorkerOptions(options);
    this.#maxJobs = this.#options.maxJobs;
    const logger = options.logger ?? silentLogger;
    this.#log = logger.child({ component: 'worker' });
    this.#registry = new AnnouncedFunctions(this.#options.clientId);
    const ctx = this.#context();
    for (const address of this.#options.servers) {
      for (let i = 0; i < this.#options.connectionsPerServer; i++) {
        const connection = new Connection(this.#connectionOptions(address, logger));
        this.#loops.push(
          new WorkerConnection(connection, ctx, {
            maxJobs: this.#maxJobs,
            grab: this.#options.grab,
            regrabIntervalMs: this.#options.regrabIntervalMs,
            exceptions: this.#options.exceptions,
            maxFrameSize: this.#options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
            gate: this.#options.gate,
            logger,
          }),
        );
        // After the WorkerConnection's own listeners: 'connect' is emitted here once the
        // registrations and first grabs are queued, 'disconnect' once its jobs are abandoned.
        this.#relayConnectionEvents(connection);
      }
    }
  }

  /** Functions currently announced, in registration order. */
  get functions(): string[] {
    return this.#registry.names;
  }

  /** Handlers running now, over all connections. */
  get running(): number {
    let total = 0;
    for (const loop of this.#loops) total += loop.slots.running;
    return total;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Jobs in flight per connection. */
  get maxJobs(): number {
    return this.#maxJobs;
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  /**
   * Connects to every server. Resolves once each first attempt has settled and at least
   * one succeeded; rejects with CONNECT_FAILED when none did. Either way, with
   * reconnect on, servers that are down keep being retried until close().
   */
  start(): Promise<void> {
    if (this.#closing) return Promise.reject(this.#closedError());
    this.#starting ??= this.#connectAll().catch((err: unknown) => {
      this.#starting = null;
      throw err;
    });
    return this.#starting;
  }

  /**
   * Announces `name` on every connection now and after every reconnect. Registering a
   * name again replaces its handler (and its timeout). Jobs are served once start()
   * has connected.
   */
  register(name: string, handler: JobHandler, options: RegisterOptions = {}): this {
    checkFunctionName(name);
    if (typeof handler !== 'function') throw new TypeError(`handler for "${name}" must be a function`);
    checkTimeout(options.timeoutMs);
    if (this.#closing) throw this.#closedError();
    const frames = this.#registry.register(name, handler, options.timeoutMs);
    // A sleeping connection is not woken for jobs already queued under a new name: grab.
    if (frames.length > 0) for (const loop of this.#loops) loop.announce(frames, true);
    return this;
  }

  /**
   * Withdraws `name` (CANT_DO) on every connection; running jobs of it finish. Returns
   * false when it was not registered.
   */
  unregister(name: string): boolean {
    const frame = this.#registry.unregister(name);
    if (frame === undefined) return false;
    for (const loop of this.#loops) loop.announce([frame], false);
    return true;
  }

  /** Withdraws every function (RESET_ABILITIES); running jobs finish. */
  resetAbilities(): void {
    const frame = this.#registry.reset();
    for (const loop of this.#loops) loop.announce([frame], false);
  }

  /** Stops grabbing; running jobs finish. Grabs already sent may still bring jobs, which run. */
  pause(): void {
    this.#paused = true;
    for (const loop of this.#loops) loop.grabs.pause();
  }

  resume(): void {
    if (this.#closing) return;
    this.#paused = false;
    for (const loop of this.#loops) loop.grabs.resume();
  }

  /**
   * Grab now on every awake connection that has room: call it when a shared `gate`
   * frees a slot outside this worker. Sleeping connections keep waiting for NOOP.
   */
  refill(): void {
    if (this.#paused) return;
    for (const loop of this.#loops) loop.grabs.gateFreed();
  }

  /** Changes the jobs in flight per connection; a lower limit takes effect as jobs end. */
  setMaxJobs(maxJobs: number): void {
    checkCount(maxJobs, 'maxJobs');
    this.#maxJobs = maxJobs;
    for (const loop of this.#loops) loop.grabs.setMaxJobs(maxJobs);
  }

  /**
   * Stops grabbing, waits for running jobs (up to `timeoutMs`), aborts the rest (their
   * signal fires; their results are not sent), then closes every socket: the server
   * requeues whatever was not answered. Idempotent: later calls return the same promise.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options);
    return this.#closing;
  }

  async #close(options: CloseOptions): Promise<void> {
    const timeoutMs = options.timeoutMs ?? kDefaultCloseTimeoutMs;
    this.#paused = true;
    for (const loop of this.#loops) loop.grabs.pause();
    if (!options.force && timeoutMs > 0) {
      try {
        await drainWithin(
          this.#loops.map((loop) => loop.slots.drained()),
          timeoutMs,
        );
      } catch (err) {
        this.#log.warn({ err }, 'waiting for running jobs failed');
      }
    }
    const left = this.running;
    if (left > 0) {
      this.#log.warn({ jobs: left }, 'aborting jobs still running at close; the server requeues them');
      const reason = new GearmanError(ErrorCode.CLOSED, 'worker closed before the job finished');
      for (const loop of this.#loops) loop.slots.abandonAll(reason);
    }
    await Promise.all(
      this.#loops.map((loop) =>
        loop.close().catch((err: unknown) => this.#log.warn({ err, server: loop.name }, 'close failed')),
      ),
    );
    this.emit('close');
  }

  async #connectAll(): Promise<void> {
    const results = await Promise.allSettled(this.#loops.map((loop) => loop.connection.connect()));
    if (results.some((result) => result.status === 'fulfilled')) return;
    const errors = results.map((result) => (result as PromiseRejectedResult).reason as unknown);
    const names = [...new Set(this.#loops.map((loop) => loop.name))].join(', ');
    throw new ConnectionError(
      ErrorCode.CONNECT_FAILED,
      `cannot connect to any job server (${names})`,
      undefined,
      {
        cause: new AggregateError(errors, 'every connect attempt failed'),
      },
    );
  }

  #context(): WorkerContext {
    return {
      registry: this.#registry,
      jobStarted: (job: Job) => {
        this.emit('job:start', job);
      },
      jobEnded: (job: Job, outcome: JobOutcome) => {
        // The event object (and the clock read) is for listeners only: this runs once per job.
        if (this.listenerCount('job:end') === 0) return;
        this.emit('job:end', {
          handle: job.handle,
          functionName: job.functionName,
          outcome,
          durationMs: performance.now() - jobControl.startedAt(job),
          server: job.server,
        });
      },
      error: (error, server) => this.#reportError(error, server),
    };
  }

  /** The connection's own events, as the Worker's: straight from the Connection, one hop. */
  #relayConnectionEvents(connection: Connection): void {
    const server = connection.name;
    connection.on('connect', ({ reconnect }) => {
      this.#log.info({ server, reconnect }, 'connected');
      this.emit('connect', { server, reconnect });
    });
    connection.on('disconnect', (error) => this.emit('disconnect', { server, error }));
    connection.on('reconnecting', (info) => this.emit('reconnecting', { server, ...info }));
    connection.on('reconnect', () => this.emit('reconnect', { server }));
    connection.on('protocolError', (error) => this.#reportError(error, server));
  }

  #reportError(error: GearmanError, server: string): void {
    this.#log.warn({ err: error, server }, error.message);
    // An 'error' event nobody listens to would throw: the log line is enough then.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  #connectionOptions(address: ServerAddress, logger: Logger): ConnectionOptions {
    const { connectTimeoutMs, reconnect, maxFrameSize } = this.#options;
    return {
      address,
      logger,
      ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
      ...(reconnect === undefined ? {} : { reconnect }),
      ...(maxFrameSize === undefined ? {} : { maxFrameSize }),
    };
  }

  #closedError(): GearmanError {
    return new GearmanError(ErrorCode.CLOSED, 'worker is closed');
  }
}

/** Resolves when every promise has, or after `ms`, whichever comes first. */
async function drainWithin(promises: Promise<void>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([Promise.all(promises), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
