import type net from 'node:net';
import type tls from 'node:tls';
import { MAX_RUNNING_CAP } from '../limits.js';
import { type Logger, silentLogger } from '../log.js';
import type { ServerAddress } from '../net/address.js';
import type { ServerContext } from './context.js';
import { dispatchPacket } from './dispatch.js';
import { JobEngine } from './engine.js';
import { primeSubmitFeedback } from './feedback-priming.js';
import { handleAdminLine } from './handlers/admin.js';
import { oversizedWork } from './handlers/worker.js';
import { HttpGateway } from './http/gateway.js';
import { resolveHttpOptions } from './http/options.js';
import type { JobTotals } from './job-counters.js';
import { JobHandles } from './job-handles.js';
import { integerOption } from './option-checks.js';
import { type GearmanServerOptions, type ResolvedServerOptions, resolveServerOptions } from './options.js';
import { OutputBudget } from './output-budget.js';
import { ServerFunctionRegistry } from './registry.js';
import type { ResultCacheStats } from './result-cache.js';
import {
  type ConnectionStats,
  connectionStats,
  functionStats,
  type ServerFunctionStats,
  storedJobCount,
} from './server-stats.js';
import { Session } from './session.js';
import { type JobStore, MemoryJobStore } from './store.js';
import type { StoreHealth } from './store-outage.js';
import { createListener, resolveServerTls } from './tls.js';
import { SERVER_VERSION } from './version.js';

export interface ServerCloseOptions {
  /**
   * Stop accepting connections and hand out no more jobs, let the running jobs finish,
   * then close (gearmand's SIGUSR1). Otherwise close at once (SIGTERM): running jobs
   * are lost unless a durable store keeps them. @defaultValue false
   */
  readonly graceful?: boolean;
  /** With `graceful`, close anyway after this many milliseconds. @defaultValue no limit */
  readonly timeoutMs?: number;
}

/** Slowest reader tolerated: this much unsent output (or two frames' worth) drops the connection. */
const kMinOutputLimit = 64 * 1024 * 1024;
const kRefusalLogIntervalMs = 1000;

/**
 * gworker's job server, interchangeable with gearmand 1.1.20 for clients, workers and
 * admin tools: the binary protocol and the text admin protocol on one port, one event
 * loop owning every queue.
 *
 * @example
 * ```ts
 * const server = new GearmanServer({ port: 0 });
 * const { port } = await server.listen();
 * // ... clients and workers use 127.0.0.1:port ...
 * await server.close({ graceful: true });
 * ```
 */
export class GearmanServer {
  readonly #options: ResolvedServerOptions;
  readonly #log: Logger;
  readonly #store: JobStore;
  readonly #registry = new ServerFunctionRegistry();
  readonly #engine: JobEngine;
  readonly #sessions = new Map<number, Session>();
  readonly #context: ServerContext;
  readonly #tls: tls.TlsOptions | null;
  readonly #gateway: HttpGateway | null;
  readonly #budget: OutputBudget;
  #nextSessionId = 1;
  #listener: net.Server | null = null;
  #address: ServerAddress | null = null;
  #listening: Promise<ServerAddress> | null = null;
  #closing: Promise<void> | null = null;
  #forceClose: (() => void) | null = null;
  #lastRefusalLog = 0;
  readonly #closed: Promise<void>;
  #resolveClosed: () => void = () => {};

  constructor(options: GearmanServerOptions = {}) {
    this.#options = resolveServerOptions(options);
    this.#log = (options.logger ?? silentLogger).child({ component: 'server' });
    this.#store = options.store ?? new MemoryJobStore();
    primeSubmitFeedback();
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#engine = new JobEngine({
      registry: this.#registry,
      handles: new JobHandles(this.#options.jobHandlePrefix),
      store: this.#store,
      jobRetries: this.#options.jobRetries,
      workerWakeup: this.#options.workerWakeup,
      roundRobin: this.#options.roundRobin,
      globalPriority: this.#options.globalPriority,
      maxJobs: this.#options.maxJobs,
      resultCache: options.resultCache,
      logger: this.#log,
    });
    for (const [name, cap] of this.#options.maxRunning) this.#engine.setMaxRunning(name, cap);
    this.#context = {
      engine: this.#engine,
      registry: this.#registry,
      sessions: () => this.#sessions.values(),
      version: SERVER_VERSION,
      verboseLevel: this.#options.verboseLevel,
      logger: this.#log,
    };
    this.#budget = new OutputBudget(this.#options.maxUnsentOutput, () => this.#sessions.values());
    this.#tls = resolveServerTls(options.tls);
    const http = resolveHttpOptions(options, this.#options);
    this.#gateway =
      http === null
        ? null
        : new HttpGateway(http, {
            engine: this.#engine,
            tls: this.#tls,
            version: SERVER_VERSION,
            maxOutputBytes: Math.max(kMinOutputLimit, 2 * this.#options.maxFrameSize),
            logger: this.#log,
          });
  }

  /** Where the server listens, once listen() resolved; null before and after. */
  get address(): ServerAddress | null {
    return this.#address;
  }

  /** Where the HTTP gateway listens (`httpPort`), once listen() resolved; null without one, before and after. */
  get httpAddress(): ServerAddress | null {
    return this.#gateway?.address ?? null;
  }

  /** Resolves once the server has closed, whoever closed it. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Open connections: clients, workers and admin ones. */
  get connectionCount(): number {
    return this.#sessions.size;
  }

  /** Jobs the server holds: waiting, scheduled and running. */
  get jobCount(): number {
    return this.#engine.jobCount;
  }

  /** Jobs being run by workers right now. */
  get runningJobCount(): number {
    return this.#engine.runningCount;
  }

  /** Open connections by kind (workers are those that registered a function) and those accepted so far. */
  get connectionStats(): ConnectionStats {
    return connectionStats(this.#sessions.values(), this.#sessions.size, this.#nextSessionId - 1);
  }

  /**
   * Every known function's queue depths per priority, running jobs and workers: what the
   * admin `status` and `prioritystatus` commands report, as numbers.
   */
  functionStats(): ServerFunctionStats[] {
    return functionStats(this.#registry.values());
  }

  /**
   * Caps the jobs of function `fn` running at once across all workers, as the admin
   * `maxrunning FN N` does (0 removes the cap). Raising or removing it wakes sleeping
   * workers for the jobs that may start; lowering it lets running jobs finish.
   */
  setMaxRunning(fn: string, cap: number): void {
    const value = integerOption('cap', cap, 0, 0, MAX_RUNNING_CAP);
    this.#engine.setMaxRunning(Buffer.from(fn, 'utf8').toString('latin1'), value);
  }

  /** Submits and their outcomes per function since the server started (monotonic). */
  jobTotals(): JobTotals[] {
    return this.#engine.counters.snapshot();
  }

  /** Jobs held in the durable store (`store`), or null when the store is not durable. O(jobs). */
  get storedJobCount(): number | null {
    return this.#store.durable ? storedJobCount(this.#engine.jobs()) : null;
  }

  /**
   * The durable store's state: whether it can write (background submits get QUEUE_ERROR
   * while it cannot), since when not, deletes waiting to commit, submits refused. Null
   * when the store is not durable.
   */
  get storeHealth(): StoreHealth | null {
    return this.#engine.storeHealth;
  }

  /** The result cache's counters (`resultCache` option): entries, bytes, hits, misses. */
  get cacheStats(): ResultCacheStats {
    return this.#engine.resultCache.stats;
  }

  /**
   * Replays the store, then listens. Resolves with the address, its port the real one
   * when port 0 was asked. Calling it again returns the same promise.
   */
  listen(): Promise<ServerAddress> {
    this.#listening ??= this.#listen();
    return this.#listening;
  }

  async #listen(): Promise<ServerAddress> {
    if (this.#closing !== null) throw new Error('the server was closed');
    let restored = 0;
    const report = await this.#store.replay((job, key) => {
      this.#engine.restore(job, key);
      restored++;
    });
    if (restored > 0) this.#log.info({ jobs: restored }, 'restored background jobs from the store');
    this.#engine.storeReplayed(report ?? undefined);
    const listener = createListener(this.#tls, (socket) => this.#accept(socket), {
      maxConnections: this.#options.maxConnections,
      established: () => this.#sessions.size,
      logger: this.#log,
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(
        { host: this.#options.host, port: this.#options.port, backlog: this.#options.backlog },
        () => {
          listener.off('error', reject);
          resolve();
        },
      );
    });
    // Accept errors (EMFILE and the like) must not end the process: log and go on.
    listener.on('error', (err) => this.#log.error({ err }, 'listener error'));
    this.#listener = listener;
    const info = listener.address() as net.AddressInfo;
    this.#address = { host: info.address, port: info.port };
    this.#log.info({ host: info.address, port: info.port, tls: this.#tls !== null }, 'listening');
    if (this.#gateway !== null) {
      try {
        await this.#gateway.listen();
      } catch (err) {
        listener.close();
        this.#listener = null;
        this.#address = null;
        throw err;
      }
    }
    return this.#address;
  }

  #accept(socket: net.Socket): void {
    if (this.#closing !== null || this.#sessions.size >= this.#options.maxConnections) {
      const now = Date.now();
      if (now - this.#lastRefusalLog >= kRefusalLogIntervalMs) {
        this.#lastRefusalLog = now;
        this.#log.warn(
          { peer: `${socket.remoteAddress}:${socket.remotePort}`, connections: this.#sessions.size },
          this.#closing !== null
            ? 'refusing a connection: shutting down'
            : 'refusing a connection: maxConnections reached',
        );
      }
      socket.destroy();
      return;
    }
    const session = new Session(socket, {
      id: this.#nextSessionId++,
      maxFrameSize: this.#options.maxFrameSize,
      exceptions: this.#options.exceptions,
      maxOutputBytes: Math.max(kMinOutputLimit, 2 * this.#options.maxFrameSize),
      budget: this.#budget,
      logger: this.#log,
      onPacket: (s, packet) => dispatchPacket(this.#context, s, packet),
      onLine: (s, line) => handleAdminLine(this.#context, s, line),
      onOversized: (s, type, handle, size) =>
        oversizedWork(this.#context, s, type, handle, size, this.#options.maxFrameSize),
      onClose: (s) => this.#onSessionClose(s),
    });
    this.#sessions.set(session.id, session);
  }

  #onSessionClose(session: Session): void {
    this.#sessions.delete(session.id);
    this.#engine.disconnect(session);
  }

  /**
   * Closes the server; idempotent. A plain close() during a graceful one stops waiting
   * for the running jobs (as a second signal would).
   */
  close(options: ServerCloseOptions = {}): Promise<void> {
    if (this.#closing !== null) {
      if (options.graceful !== true) this.#forceClose?.();
      return this.#closing;
    }
    this.#closing = this.#close(options).finally(() => this.#resolveClosed());
    return this.#closing;
  }

  async #close(options: ServerCloseOptions): Promise<void> {
    // Let a listen() in progress finish, so its socket is closed too.
    await this.#listening?.catch(() => undefined);
    this.#gateway?.stopAccepting();
    const listener = this.#listener;
    const listenerClosed = new Promise<void>((resolve) => {
      if (listener === null) resolve();
      else listener.close(() => resolve());
    });
    if (options.graceful === true) {
      this.#log.info({ running: this.#engine.runningCount }, 'graceful shutdown: waiting for running jobs');
      await this.#waitForRunningJobs(options.timeoutMs);
    }
    // Replies waiting for the store go out before the connections close.
    await this.#engine.settle().catch((err: unknown) => this.#log.error({ err }, 'final store flush failed'));
    this.#engine.shutdown();
    for (const session of this.#sessions.values()) session.end();
    await this.#gateway?.close();
    await listenerClosed;
    this.#address = null;
    await this.#store.close();
    this.#log.info('closed');
  }

  async #waitForRunningJobs(timeoutMs: number | undefined): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#engine.drain(),
      new Promise<void>((resolve) => {
        this.#forceClose = resolve;
        if (timeoutMs !== undefined) timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.#forceClose = null;
  }
}
