import { type Logger, silentLogger } from '../../log.js';
import type { ModuleFunctionConfig, ServerConfig } from '../manifest/types.js';
import type { FunctionStats } from '../stats/function-stats.js';
import { DirectPool, type DirectStats } from './direct-pool.js';

const kResults = ['complete', 'fail', 'exception'] as const;

export interface DirectFunctionOptions {
  readonly servers: readonly ServerConfig[];
  readonly clientId?: string;
  readonly logger?: Logger;
  readonly regrabIntervalMs?: number;
}

/**
 * One `dispatch: thread` function on this box: its current DirectPool and the ones
 * retiring. A reload (new code, a changed setting, new servers) starts a whole new pool,
 * whose threads load and connect first; then the old threads stop grabbing and close
 * their connections after their jobs, so no job is lost.
 */
export class DirectFunction {
  readonly name: string;
  readonly #options: DirectFunctionOptions;
  readonly #log: Logger;
  readonly #stats: FunctionStats;
  #config: ModuleFunctionConfig;
  #pool: DirectPool | null = null;
  #generation = 0;
  readonly #retiring = new Set<Promise<void>>();
  #reloading: Promise<void> = Promise.resolve();
  #paused = false;

  constructor(config: ModuleFunctionConfig, stats: FunctionStats, options: DirectFunctionOptions) {
    this.name = config.name;
    this.#config = config;
    this.#stats = stats;
    this.#options = options;
    this.#log = (options.logger ?? silentLogger).child({ function: config.name, dispatch: 'thread' });
  }

  get config(): ModuleFunctionConfig {
    return this.#config;
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

  /** Starts the first pool; throws HANDLER_LOAD when the code cannot serve. */
  start(): Promise<void> {
    this.#log.info(
      { threads: Math.ceil(this.#config.concurrency / this.#config.jobsPerThread) },
      `${this.name}: dispatch: thread, each handler thread holds one connection per job server (the servers' "connections" setting does not apply)`,
    );
    return this.reload(this.#config, this.#options.servers, Number.POSITIVE_INFINITY);
  }

  /** A new pool from `config` takes over; the old one drains until `drainMs` has passed. */
  reload(config: ModuleFunctionConfig, servers: readonly ServerConfig[], drainMs: number): Promise<void> {
    const next = this.#reloading.then(async () => {
      const pool = new DirectPool(config, {
        ...this.#options,
        servers,
        logger: this.#log,
        onStats: (batch) => this.#record(batch),
      });
      await pool.start();
      if (this.#paused) pool.pause();
      const old = this.#pool;
      this.#pool = pool;
      this.#config = config;
      this.#generation++;
      if (old !== null) {
        const closing = old.close(performance.now() + drainMs).finally(() => this.#retiring.delete(closing));
        this.#retiring.add(closing);
      }
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

  /** Graceful stop until `deadline` (performance.now()), then the threads are terminated; `force` at once. */
  async close(deadline: number, force = false): Promise<void> {
    await this.#reloading;
    const pool = this.#pool;
    if (force) await pool?.destroy();
    else await pool?.close(deadline);
    await Promise.allSettled([...this.#retiring]);
  }

  #record(batch: DirectStats): void {
    for (let i = 0; i < batch.durationsMs.length; i++)
      this.#stats.recordJob(
        kResults[batch.results[i] as number] ?? 'exception',
        batch.durationsMs[i] as number,
      );
    for (const { handle, reason } of batch.failures)
      this.#log.warn(
        { jobHandle: handle, reason },
        `${this.name}: job ${handle} did not complete: ${reason}`,
      );
  }
}
