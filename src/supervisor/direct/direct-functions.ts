import type { Logger } from '../../log.js';
import type { FunctionScaling } from '../capacity/function-scaling.js';
import { statsFields } from '../function-snapshot.js';
import { sameConfig } from '../manifest/same-config.js';
import type { FunctionConfig, Manifest, ModuleFunctionConfig, ServerConfig } from '../manifest/types.js';
import type { JobEndInfo } from '../runtime/function-runtime.js';
import { jobEndRecorder } from '../runtime/job-end-log.js';
import type { FunctionStats } from '../stats/function-stats.js';
import type { FunctionSnapshot } from '../supervisor-types.js';
import { DirectFunction } from './direct-function.js';

/** What the supervisor lends the `dispatch: thread` functions. */
export interface DirectHost {
  readonly logger: Logger;
  readonly clientId: string;
  readonly regrabIntervalMs: number | undefined;
  readonly scaling: FunctionScaling;
  /** The job servers of `manifest` (the current one when omitted). */
  servers(manifest?: Manifest): readonly ServerConfig[];
  manifest(): Manifest;
  statsFor(fn: string): FunctionStats;
  recordReload(fn: string, generation: number, error?: Error): void;
  /** A job ended (counted in its stats and logged already): the supervisor's `jobEnd`. */
  jobEnded(info: JobEndInfo): void;
  /** A new pool took over: the supervisor's `generation`. */
  generation(fn: string, info: { generation: number; cause: string }): void;
  /** Some function's code files changed: the supervisor's `codeFiles`. */
  codeFilesChanged(): void;
}

/** Whether a function runs in the `dispatch: thread` mode (handler threads own their connections). */
export function isDirect(config: FunctionConfig): config is ModuleFunctionConfig {
  return config.kind === 'module' && config.dispatch === 'thread';
}

/**
 * The manifest's `dispatch: thread` functions (direct-function.ts each): the supervisor
 * keeps them apart from its FunctionBindings, since their threads grab for themselves.
 */
export class DirectFunctions {
  readonly #functions = new Map<string, DirectFunction>();
  /** Functions dropped from the manifest, draining. */
  readonly #removing = new Set<DirectFunction>();
  readonly #host: DirectHost;
  readonly #log: Logger;

  constructor(host: DirectHost, log: Logger) {
    this.#host = host;
    this.#log = log;
  }

  get(name: string): DirectFunction | undefined {
    return this.#functions.get(name);
  }

  has(name: string): boolean {
    return this.#functions.has(name);
  }

  values(): IterableIterator<DirectFunction> {
    return this.#functions.values();
  }

  clear(): void {
    this.#functions.clear();
  }

  /** A new function of this mode, known here from now on (start() is the caller's). */
  create(config: ModuleFunctionConfig): DirectFunction {
    const host = this.#host;
    // Its first slots: a range starts at min (the autoscaler moves it from there).
    const slots = host.scaling.book.add(config);
    const fn = new DirectFunction(config, slots, {
      servers: host.servers(),
      logger: host.logger,
      clientId: host.clientId,
      ...(host.regrabIntervalMs === undefined ? {} : { regrabIntervalMs: host.regrabIntervalMs }),
    });
    // Counted and logged as a default function's jobs are (runtime/job-end-log.ts).
    const log = host.logger.child({ component: 'runtime', function: config.name, dispatch: 'thread' });
    fn.on(
      'jobEnd',
      jobEndRecorder(config.name, host.statsFor(config.name), log, (info) => host.jobEnded(info)),
    );
    fn.on('generation', (info) => host.generation(config.name, info));
    fn.on('codeFiles', () => host.codeFilesChanged());
    this.#functions.set(config.name, fn);
    return fn;
  }

  /**
   * The manifest's `dispatch: thread` functions: new ones start, dropped ones (or ones
   * that went back to the default dispatch) drain, changed ones get a new pool.
   */
  apply(next: Manifest): Array<Promise<unknown>> {
    const tasks: Array<Promise<unknown>> = [];
    const wanted = new Map(next.functions.filter(isDirect).map((fn) => [fn.name, fn]));
    const serversChanged = JSON.stringify(this.#host.servers()) !== JSON.stringify(this.#host.servers(next));
    for (const [name, fn] of this.#functions) {
      const config = wanted.get(name);
      if (config === undefined) {
        this.#functions.delete(name);
        this.#host.scaling.book.remove(name);
        this.#removing.add(fn);
        tasks.push(
          fn.close(performance.now() + next.shutdownTimeoutMs).finally(() => this.#removing.delete(fn)),
        );
      } else if (serversChanged || !sameConfig(fn.config, config)) {
        tasks.push(this.reload(fn, config, 'manifest changed', next));
      }
    }
    for (const config of wanted.values()) {
      if (this.#functions.has(config.name)) continue;
      const fn = this.create(config);
      tasks.push(
        fn.start().catch(async (err: Error) => {
          this.#functions.delete(config.name);
          this.#host.scaling.book.remove(config.name);
          this.#host.recordReload(config.name, 0, err);
          await fn.close(0, true);
        }),
      );
    }
    return tasks;
  }

  async reload(
    fn: DirectFunction,
    config: ModuleFunctionConfig,
    cause: string,
    manifest = this.#host.manifest(),
  ): Promise<void> {
    // The slots follow ScalingBook.plan, as for a default function (a manual value may hold).
    const from = fn.concurrency;
    const plan = this.#host.scaling.book.plan(config, from);
    try {
      const servers = this.#host.servers(manifest);
      // False: a stop came while it loaded, and it never served.
      if (!(await fn.reload(config, plan.slots, servers, manifest.shutdownTimeoutMs))) return;
      this.#log.info({ function: fn.name, cause }, 'dispatch: thread function reloaded');
      this.#host.recordReload(fn.name, fn.generation);
      this.#host.scaling.reloaded(fn.name, config, plan, from, cause);
    } catch (err) {
      this.#host.recordReload(fn.name, fn.generation, err as Error);
    }
  }

  /**
   * The shutdown: every function (those draining after a removal too) stops grabbing,
   * finishes its jobs until `deadline` (a performance.now() time), and what is left then,
   * code still loading included, is terminated; `force` ends everything at once.
   * Resolves with the jobs cut short (their threads ended before answering them).
   */
  async close(deadline: number, force: boolean): Promise<number> {
    const all = [...this.#functions.values(), ...this.#removing];
    const unanswered = () => all.reduce((sum, fn) => sum + fn.unanswered, 0);
    const before = unanswered();
    await Promise.allSettled(all.map((fn) => fn.close(deadline, force)));
    return unanswered() - before;
  }

  /** One function as status shows it (running counts from the threads' shared board). */
  snapshot(fn: DirectFunction): FunctionSnapshot {
    return {
      name: fn.name,
      kind: 'module',
      concurrency: fn.concurrency,
      scaling: this.#host.scaling.book.report(fn.name),
      running: fn.running,
      prefetched: 0,
      paused: fn.paused,
      threads: fn.threads,
      threadsStarted: fn.threadsStarted,
      threadsIdle: fn.threadsIdle,
      isolation: 'thread',
      generation: fn.generation,
      ...statsFields(this.#host.statsFor(fn.name)),
      weight: 1,
      rateLimit: null,
      connections: fn.connections(),
    };
  }
}
