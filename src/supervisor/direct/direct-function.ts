import { EventEmitter } from 'node:events';
import { type Logger, silentLogger } from '../../log.js';
import type { ScalableFunction } from '../capacity/function-scaling.js';
import type { ConnectionSnapshot } from '../connection-snapshot.js';
import { settlesBy } from '../deadline.js';
import type { ModuleFunctionConfig, ServerConfig } from '../manifest/types.js';
import { threadCount } from '../pool/thread-count.js';
import type { JobEndInfo, JobResultKind } from '../runtime/function-runtime.js';
import {
  type DirectConnectionChange,
  type DirectCrash,
  type DirectJobs,
  DirectPool,
  kStopMarginMs,
} from './direct-pool.js';

const kResults: readonly JobResultKind[] = ['complete', 'fail', 'exception'];

export interface DirectFunctionOptions {
  readonly servers: readonly ServerConfig[];
  readonly clientId?: string;
  readonly logger?: Logger;
  readonly regrabIntervalMs?: number;
}

/** What a DirectFunction tells, as a FunctionRuntime does (runtime/function-runtime.ts). */
export interface DirectFunctionEvents {
  /** A job ended: one per job, from the threads' batches (so up to 250 ms late). */
  jobEnd: [info: JobEndInfo];
  /** A new pool of threads took over (start or reload). */
  generation: [info: { generation: number; cause: string }];
  /** codeFiles changed: a pool loaded, a load failed, or the handler imported more. */
  codeFiles: [];
}

/** One job server's connections of the function, over every pool it has had. */
interface ServerTally {
  reconnects: number;
  lastError: string | null;
}

/**
 * One `dispatch: thread` function on this box: its current DirectPool and the ones
 * retiring. A reload (new code, a changed setting, new servers) starts a whole new pool,
 * whose threads load and connect first; then the old threads stop grabbing and close
 * their connections after their jobs, so no job is lost.
 */
export class DirectFunction extends EventEmitter<DirectFunctionEvents> implements ScalableFunction {
  readonly name: string;
  readonly #options: DirectFunctionOptions;
  readonly #log: Logger;
  /** The manifest's config (a reload compares with it); the slots may differ (#slots). */
  #config: ModuleFunctionConfig;
  /** Slots now: the manifest's, a range's current value, or a manual one (FunctionScaling). */
  #slots: number;
  #pool: DirectPool | null = null;
  /** A pool whose threads are loading and connecting (start or reload). */
  #loading: DirectPool | null = null;
  #generation = 0;
  #nextGeneration = 1;
  /** Old pools draining after a reload, each with its close. */
  readonly #retiring = new Map<DirectPool, Promise<void>>();
  #reloading: Promise<unknown> = Promise.resolve();
  #paused = false;
  /** close() was called: with what deadline, and whether at once. */
  #stop: { readonly deadline: number; readonly force: boolean } | null = null;
  /** Per `host:port`: kept across pools, so the reconnects counter only grows. */
  readonly #tallies = new Map<string, ServerTally>();
  /** Jobs its threads held when they were stopped or terminated (DirectPoolHooks.unanswered). */
  #unanswered = 0;
  /** The files a rejected reload read: a fix to any of them must reload it too. */
  #rejectedFiles: readonly string[] = [];

  constructor(config: ModuleFunctionConfig, slots: number, options: DirectFunctionOptions) {
    super();
    this.name = config.name;
    this.#config = config;
    this.#slots = slots;
    this.#options = options;
    this.#log = (options.logger ?? silentLogger).child({ function: config.name, dispatch: 'thread' });
  }

  get config(): ModuleFunctionConfig {
    return this.#config;
  }

  /** Slots now (the threads hold concurrency / jobsPerThread, rounded up, jobs each). */
  get concurrency(): number {
    return this.#slots;
  }

  get generation(): number {
    return this.#generation;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get running(): number {
    return this.#pool?.running ?? 0;
  }

  get threads(): number {
    return this.#pool?.threads ?? 0;
  }

  get threadsStarted(): number {
    return this.#pool?.threadsStarted ?? 0;
  }

  get threadsIdle(): number {
    return this.#pool?.threadsIdle ?? 0;
  }

  /** Jobs that ended here without an answer (their threads were stopped or terminated first): the job server requeues them. */
  get unanswered(): number {
    return this.#unanswered;
  }

  /**
   * The files this function's code was loaded from (the handler and what it imported,
   * node_modules left out), plus those a rejected reload read, as FunctionRuntime.codeFiles
   * gives them: the change watcher reloads the function when one of them changes.
   */
  get codeFiles(): readonly string[] {
    return [...new Set([this.#config.handler, ...(this.#pool?.modules ?? []), ...this.#rejectedFiles])];
  }

  /**
   * The serving pool's connections per job server, as a FunctionBinding reports its
   * own: each thread holds one to every server, so `connections` is the thread count.
   */
  connections(): ConnectionSnapshot[] {
    const pool = this.#pool;
    if (pool === null) return [];
    const wanted = pool.threads;
    return pool.connectionsUp().map(({ server, up }) => {
      const tally = this.#tallies.get(server);
      return {
        server,
        connections: wanted,
        connected: up > 0,
        up: Math.min(up, wanted),
        reconnects: tally?.reconnects ?? 0,
        lastError: tally?.lastError ?? null,
      };
    });
  }

  /** Starts the first pool; throws HANDLER_LOAD when the code cannot serve. */
  start(): Promise<void> {
    this.#log.info(
      { threads: threadCount(this.#config, this.#slots) },
      `${this.name}: dispatch: thread, each handler thread holds one connection per job server (the servers' "connections" setting does not apply)`,
    );
    const start = this.#swap(
      this.#config,
      this.#slots,
      this.#options.servers,
      Number.POSITIVE_INFINITY,
      'start',
    );
    return start.then(() => {});
  }

  /**
   * A new pool from the manifest's `config`, with `slots` slots, takes over; the old one
   * drains until `drainMs` has passed. Resolves false when a stop came first (the new
   * pool never served); throws HANDLER_LOAD when the code cannot serve (the old pool goes on).
   */
  reload(
    config: ModuleFunctionConfig,
    slots: number,
    servers: readonly ServerConfig[],
    drainMs: number,
  ): Promise<boolean> {
    return this.#swap(config, slots, servers, drainMs, 'reload');
  }

  /**
   * Changes the slots in place (FunctionScaling.resize, the one path): threads are added
   * or removed in the serving pool (DirectPool.resize), with no new generation. Runs
   * after a reload under way, so that the pool it builds gets the new size too.
   */
  resize(slots: number): Promise<void> {
    const next = this.#reloading.then(async () => {
      this.#slots = slots;
      await this.#pool?.resize(slots);
    });
    this.#reloading = next.catch(() => {});
    return next;
  }

  pause(): void {
    this.#paused = true;
    this.#pool?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#pool?.resume();
  }

  /**
   * Graceful stop until `deadline` (performance.now()), then the threads are terminated;
   * `force` at once. Every pool goes: the serving one, those retiring after a reload
   * (whose own drain may end later), and one still loading (a handler whose top level
   * never finishes holds nothing past the deadline). Called again with an earlier
   * deadline (a shutdown during a removal's drain), that one holds.
   */
  async close(deadline: number, force = false): Promise<void> {
    this.#stop = { deadline, force };
    const pools = new Set([this.#loading, this.#pool, ...this.#retiring.keys()]);
    await Promise.allSettled([...pools].map((pool) => (pool === null ? undefined : this.#end(pool))));
    await this.#reloading;
  }

  /** Ends `pool` as close() was asked to: within the deadline, whatever its own close was. */
  async #end(pool: DirectPool): Promise<void> {
    const stop = this.#stop as { deadline: number; force: boolean };
    if (stop.force) return pool.destroy();
    if (!(await settlesBy(pool.close(stop.deadline), stop.deadline + kStopMarginMs))) await pool.cut();
  }

  #swap(
    config: ModuleFunctionConfig,
    slots: number,
    servers: readonly ServerConfig[],
    drainMs: number,
    cause: string,
  ): Promise<boolean> {
    const next = this.#reloading.then(async () => {
      // A reload asked for before a stop, still queued behind another: it does nothing.
      if (this.#stop !== null) return false;
      const generation = this.#nextGeneration++;
      const pool = new DirectPool(
        { ...config, concurrency: slots },
        {
          ...this.#options,
          servers,
          logger: this.#log,
          hooks: {
            jobs: (batch) => this.#jobsEnded(batch, generation),
            crashed: (job) => this.#crashed(job, generation),
            connection: (change) => this.#connectionChanged(change),
            serverError: (server, error) => {
              this.#tally(server).lastError = error;
            },
            unanswered: (jobs) => {
              this.#unanswered += jobs;
            },
            // A late import of the serving pool; before the swap, the swap tells.
            modules: () => {
              if (this.#pool === pool) this.emit('codeFiles');
            },
          },
        },
      );
      this.#loading = pool;
      // Its threads connect while loading but grab only from the swap on: until then the
      // serving generation answers every job, as the status says.
      pool.pause();
      try {
        await pool.start();
      } catch (err) {
        if (this.#stop !== null) return false;
        this.#rejectedFiles = pool.modules;
        this.emit('codeFiles');
        throw err;
      } finally {
        this.#loading = null;
      }
      if (this.#stop !== null) {
        // The stop came while it loaded: it never serves (close() may have ended it already).
        await this.#end(pool);
        return false;
      }
      if (!this.#paused) pool.resume();
      const old = this.#pool;
      this.#pool = pool;
      this.#config = config;
      this.#slots = slots;
      this.#generation = generation;
      this.#rejectedFiles = [];
      this.emit('generation', { generation, cause });
      this.emit('codeFiles');
      if (old !== null) {
        const closing = old.close(performance.now() + drainMs).finally(() => this.#retiring.delete(old));
        this.#retiring.set(old, closing);
      }
      return true;
    });
    this.#reloading = next.catch(() => {});
    return next;
  }

  /** A batch from a thread: one jobEnd per job, with the reason (and what was thrown) for failures. */
  #jobsEnded(batch: DirectJobs, generation: number): void {
    const { handles, durationsMs, results, failures } = batch;
    let next = 0;
    for (let i = 0; i < handles.length; i++) {
      const failure = failures[next]?.index === i ? failures[next++] : undefined;
      this.emit('jobEnd', {
        function: this.name,
        handle: handles[i] as string,
        result: kResults[results[i] as number] ?? 'exception',
        durationMs: durationsMs[i] as number,
        generation,
        ...(failure === undefined ? {} : { reason: failure.reason }),
        ...(failure?.error == null ? {} : { error: failure.error }),
      });
    }
  }

  /**
   * A job's thread died under it: it ends here, with the thread's end as its cause (the
   * job server requeues it, and the thread it reaches answers it without counting it).
   */
  #crashed(job: DirectCrash, generation: number): void {
    this.emit('jobEnd', {
      function: this.name,
      handle: job.handle,
      result: this.#config.exceptions ? 'exception' : 'fail',
      reason: `${job.reason}; the job server requeues it, and this box answers it with that reason instead of running it again`,
      durationMs: job.durationMs,
      generation,
      threadEnded: job.cause,
    });
  }

  #connectionChanged(change: DirectConnectionChange): void {
    const tally = this.#tally(change.server);
    if (change.reconnect) tally.reconnects++;
    if (change.error !== null) tally.lastError = change.error;
  }

  #tally(server: string): ServerTally {
    let tally = this.#tallies.get(server);
    if (tally === undefined) {
      tally = { reconnects: 0, lastError: null };
      this.#tallies.set(server, tally);
    }
    return tally;
  }
}
