import { EventEmitter } from 'node:events';
import { type Logger, silentLogger } from '../log.js';
import { BoxControl, type BoxSnapshot } from './capacity/box-control.js';
import { isCpuBound } from './capacity/cpu-bound.js';
import { FunctionScaling } from './capacity/function-scaling.js';
import { QueueSampler } from './capacity/queue-sampler.js';
import { type ScaleChange, threadsFor } from './capacity/scaling-book.js';
import { serverAddresses } from './control/status-document.js';
import { defaultClientId } from './default-client-id.js';
import { DirectFunctions, isDirect } from './direct/direct-functions.js';
import { FunctionBinding, withoutBudget } from './function-binding.js';
import { functionSnapshot } from './function-snapshot.js';
import { sameConfig } from './manifest/same-config.js';
import type { FunctionConfig, Manifest, ServerConfig } from './manifest/types.js';
import { checkHandlersTogether } from './pool/shared-check.js';
import { FailureStore } from './retry/failure-store.js';
import { RetryService } from './retry/retry-service.js';
import { FunctionRuntime } from './runtime/function-runtime.js';
import { jobEndRecorder } from './runtime/job-end-log.js';
import { StatsBook } from './stats/stats-book.js';
import type {
  FunctionCode,
  FunctionSnapshot,
  ShutdownSummary,
  SupervisorEvents,
  SupervisorOptions,
} from './supervisor-types.js';

export type * from './supervisor-types.js';

/**
 * Runs a manifest: one FunctionBinding per function (its runtime, its slots, its
 * connections), and applies changes live: handler reloads, new and removed functions,
 * concurrency and server changes. Knows nothing of signals or the process: the CLI
 * decides when to reload and when to stop.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #log: Logger;
  /** The caller's logger: runtimes and connections add their own component. */
  readonly #root: Logger;
  readonly #options: SupervisorOptions;
  #manifest: Manifest;
  readonly #bindings = new Map<string, FunctionBinding>();
  /** `dispatch: thread` functions: their threads own their connections (direct/). */
  readonly #direct: DirectFunctions;
  readonly #stats: StatsBook;
  /** Functions dropped from the manifest, finishing their jobs, each with its close. */
  readonly #removing = new Map<FunctionBinding, Promise<void>>();
  #closing: Promise<ShutdownSummary> | null = null;
  readonly #defaultClientId = defaultClientId();
  /** Retries and dead letters: a client connection per job server, opened on first use. */
  readonly retries: RetryService;
  /** The slots every function shares (`box:`), applied live on reload. */
  readonly box: BoxControl;
  /** The one sampler of the job servers' queues: the autoscaler's and the control API's. */
  readonly queues: QueueSampler;
  readonly #scaling: FunctionScaling;

  constructor(manifest: Manifest, options: SupervisorOptions = {}) {
    super();
    this.#manifest = manifest;
    this.#options = options;
    this.#root = options.logger ?? silentLogger;
    this.#log = this.#root.child({ component: 'supervisor' });
    this.#stats = new StatsBook(this.#log, (record) => this.emit('reload', record));
    this.retries = new RetryService({
      logger: this.#root,
      ...(manifest.clientId === undefined ? {} : { clientId: manifest.clientId }),
    });
    this.box = new BoxControl(manifest.box, this.#log);
    this.queues = new QueueSampler({
      servers: () => serverAddresses(this),
      ...(options.queueTimeoutMs === undefined ? {} : { timeoutMs: options.queueTimeoutMs }),
    });
    const host = {
      scalable: (fn: string) => this.#bindings.get(fn) ?? this.#direct.get(fn),
      stopping: () => this.#closing !== null,
      changed: (fn: string, change: ScaleChange) => this.emit('scale', { function: fn, ...change }),
    };
    // The manifest's timing (read once: changes need a restart), then the embedder's.
    this.#scaling = new FunctionScaling(host, this.queues, this.#root.child({ component: 'supervisor' }), {
      logger: this.#root,
      // More slots help only while the box has one free for the function's kind of job.
      hasRoom: (fn) => {
        const binding = this.#bindings.get(fn);
        if (binding !== undefined) return this.box.budget.hasRoom(isCpuBound(binding.runtime.config));
        // A dispatch: thread function takes no slots of the box: only its memory guard holds it.
        return this.#direct.has(fn) && this.box.budget.hasRoom(false);
      },
      ...manifest.autoscale,
      ...options.autoscale,
    });
    const clientId = () => this.clientId;
    this.#direct = new DirectFunctions(
      {
        logger: this.#root,
        get clientId() {
          return clientId();
        },
        regrabIntervalMs: options.regrabIntervalMs,
        scaling: this.#scaling,
        servers: (manifest) => this.#servers(manifest),
        manifest: () => this.#manifest,
        statsFor: (fn) => this.#stats.for(fn),
        recordReload: (fn, generation, error) => this.#stats.recordReload(fn, generation, error),
        jobEnded: (info) => this.emit('jobEnd', info),
        generation: (fn, info) => this.emit('generation', { function: fn, ...info }),
        codeFilesChanged: () => this.emit('codeFiles'),
      },
      this.#log,
    );
  }

  get manifest(): Manifest {
    return this.#manifest;
  }

  /** The client id every connection sends (SET_CLIENT_ID): the manifest's, else `gworker-HOST-PID`. */
  get clientId(): string {
    return this.#manifest.clientId ?? this.#defaultClientId;
  }

  /** Loads every function's code (throws HANDLER_LOAD naming the first that cannot), then connects. */
  async start(): Promise<void> {
    const { failures } = this.#manifest;
    // Opened before any job can fail (better-sqlite3 loads only here).
    if (failures !== undefined)
      this.retries.failures = await FailureStore.open(failures.store, failures.keep);
    const pooled = this.#manifest.functions.filter((fn) => !isDirect(fn));
    const runtimes = pooled.map((config) => this.#runtime(config));
    const direct = this.#manifest.functions.filter(isDirect).map((config) => this.#direct.create(config));
    // One thread loads every handler that starts no thread of its own, not one each.
    const checked = await checkHandlersTogether(pooled, this.#log);
    const started = await Promise.allSettled([
      ...runtimes.map((runtime) => runtime.start(checked.get(runtime.name) ?? null)),
      ...direct.map((fn) => fn.start()),
    ]);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.allSettled(runtimes.map((runtime) => runtime.destroy()));
      await Promise.allSettled(direct.map((fn) => fn.close(0, true)));
      this.#direct.clear();
      this.retries.failures?.close();
      this.retries.failures = null;
      throw failed.reason;
    }
    this.box.apply(this.#manifest.box);
    await Promise.all(runtimes.map((runtime) => this.#bind(runtime)));
    this.#scaling.follow(this.#manifest.functions);
    this.#log.info({ functions: [...this.#bindings.keys()], servers: this.#servers().map(name) }, 'started');
  }

  /** Reloads the named functions' code; a function whose new code fails keeps its old code. */
  async reloadHandlers(names: readonly string[]): Promise<void> {
    await Promise.all(
      names.map(async (fn) => {
        const direct = this.#direct.get(fn);
        if (direct !== undefined) {
          await this.#direct.reload(direct, direct.config, 'handler changed');
          return;
        }
        const binding = this.#bindings.get(fn);
        const declared = this.#scaling.book.declared(fn);
        if (binding === undefined || declared === undefined) return;
        await this.#reload(binding, declared, 'handler changed');
      }),
    );
  }

  /**
   * Applies a new manifest live: starts new functions, drains and removes dropped ones,
   * reloads changed ones (code, concurrency, limits), and moves connections when the
   * server list changes.
   */
  async applyManifest(next: Manifest): Promise<void> {
    this.emit('lifecycle', 'reloading');
    const previous = this.#manifest;
    this.#manifest = next;
    this.box.apply(next.box);
    const tasks: Array<Promise<unknown>> = this.#direct.apply(next);
    const nextByName = new Map(next.functions.filter((fn) => !isDirect(fn)).map((fn) => [fn.name, fn]));
    const removed = [...this.#bindings.values()].filter((b) => !nextByName.has(b.name));
    for (const binding of removed) {
      this.#bindings.delete(binding.name);
      this.#scaling.book.remove(binding.name);
      this.#log.info({ function: binding.name }, 'function removed; draining');
      const closed = binding
        .close({ deadline: performance.now() + next.shutdownTimeoutMs })
        .finally(() => this.#removing.delete(binding));
      this.#removing.set(binding, closed);
      tasks.push(closed);
    }
    for (const config of nextByName.values()) {
      const binding = this.#bindings.get(config.name);
      if (binding === undefined) {
        tasks.push(this.#addFunction(config));
      } else {
        // Weight, cpu and rateLimit apply at once: a change of only those needs no new threads.
        binding.applyBudget(config);
        const declared = this.#scaling.book.declared(config.name) ?? binding.runtime.config;
        if (!sameConfig(withoutBudget(declared), withoutBudget(config)))
          tasks.push(this.#reload(binding, config, 'manifest changed'));
      }
    }
    const serversChanged = JSON.stringify(this.#servers(previous)) !== JSON.stringify(this.#servers(next));
    if (serversChanged) {
      for (const binding of this.#bindings.values()) {
        tasks.push(binding.setServers(this.#servers(next), next.shutdownTimeoutMs));
      }
    }
    await Promise.allSettled(tasks);
    this.#scaling.follow(this.#manifest.functions);
    this.emit('lifecycle', 'reloaded');
  }

  /** Sets a manual concurrency, in place, until scaleAuto() (capacity/function-scaling.ts). */
  scale(fn: string, concurrency: number): Promise<boolean> {
    return this.#scaling.scale(fn, concurrency);
  }

  /** Ends a manual value: back to the autoscaler, or to the manifest's concurrency. */
  scaleAuto(fn: string): Promise<boolean> {
    return this.#scaling.scaleAuto(fn);
  }

  pause(fn: string): boolean {
    const direct = this.#direct.get(fn);
    direct?.pause();
    if (direct !== undefined) return true;
    const binding = this.#bindings.get(fn);
    binding?.pause();
    return binding !== undefined;
  }

  resume(fn: string): boolean {
    const direct = this.#direct.get(fn);
    direct?.resume();
    if (direct !== undefined) return true;
    const binding = this.#bindings.get(fn);
    binding?.resume();
    return binding !== undefined;
  }

  functions(): FunctionSnapshot[] {
    return [
      ...this.#defaultFunctions(),
      ...[...this.#direct.values()].map((fn) => this.#direct.snapshot(fn)),
    ];
  }

  #defaultFunctions(): FunctionSnapshot[] {
    return [...this.#bindings.values()].map((binding) =>
      functionSnapshot(binding, this.#stats.for(binding.name), this.#scaling.book.report(binding.name)),
    );
  }

  boxStatus(): BoxSnapshot {
    return this.box.status();
  }

  /** Every module function's code files, for the change watcher. */
  codeFiles(): FunctionCode[] {
    const direct = [...this.#direct.values()].map((fn) => ({
      name: fn.name,
      handler: fn.config.handler,
      files: fn.codeFiles,
    }));
    return [
      ...[...this.#bindings.values()].flatMap(({ runtime }) => {
        const { config } = runtime;
        return config.kind === 'module'
          ? [{ name: runtime.name, handler: config.handler, files: runtime.codeFiles }]
          : [];
      }),
      ...direct,
    ];
  }

  /** The job servers every function takes jobs from (the embedded one when the manifest names none). */
  servers(): readonly ServerConfig[] {
    return this.#servers();
  }

  bindings(): FunctionBinding[] {
    return [...this.#bindings.values()];
  }

  /**
   * Stops grabbing everywhere and lets running jobs finish; the manifest's
   * shutdownTimeout (or `timeoutMs`) is the whole budget. When it runs out, what is left
   * is ended: its answers are never sent (the servers requeue those jobs), its threads
   * are terminated and its command process groups killed, and the connections close.
   * `force` does that at once. Resolves with how many jobs were cut short. Idempotent.
   */
  close(options: { timeoutMs?: number; force?: boolean } = {}): Promise<ShutdownSummary> {
    this.#closing ??= (async () => {
      this.emit('lifecycle', 'stopping');
      const timeoutMs = options.force ? 0 : (options.timeoutMs ?? this.#manifest.shutdownTimeoutMs);
      const deadline = performance.now() + timeoutMs;
      const bindings = [...this.#bindings.values()];
      const all = [...bindings, ...this.#removing.keys()];
      const unanswered = () => all.reduce((sum, binding) => sum + binding.runtime.unanswered, 0);
      const before = unanswered();
      this.retries.stop();
      this.box.stop();
      for (const binding of bindings) binding.pause();
      const direct = this.#direct.close(deadline, options.force === true);
      await Promise.allSettled([
        ...bindings.map((binding) => binding.close({ deadline, ...(options.force ? { force: true } : {}) })),
        // Dropped functions drain with their own deadline: shutdownTimeout from when they were dropped.
        ...this.#removing.values(),
        direct,
      ]);
      await this.retries.close();
      await this.queues.close();
      this.retries.failures?.close();
      const jobsCutShort = unanswered() - before + (await direct);
      this.#log.info({ jobsCutShort }, 'stopped');
      return { jobsCutShort };
    })();
    return this.#closing;
  }

  #runtime(config: FunctionConfig): FunctionRuntime {
    const log = this.#root.child({ component: 'runtime', function: config.name });
    const runtime = new FunctionRuntime(config, log, this.retries);
    runtime.on('codeFiles', () => this.emit('codeFiles'));
    runtime.on('generation', (info) => this.emit('generation', { function: config.name, ...info }));
    const stats = this.#stats.for(config.name);
    runtime.on('outputDropped', ({ stream, bytes }) => {
      stats.outputDroppedBytes += bytes;
      this.emit('outputDropped', { function: config.name, stream, bytes });
    });
    runtime.on(
      'jobEnd',
      jobEndRecorder(config.name, stats, log, (info) => this.emit('jobEnd', info)),
    );
    return runtime;
  }

  async #bind(runtime: FunctionRuntime): Promise<void> {
    const binding = new FunctionBinding(runtime, {
      servers: this.#servers(),
      logger: this.#root,
      clientId: this.clientId,
      box: this.box.budget,
      ...(this.#options.regrabIntervalMs === undefined
        ? {}
        : { regrabIntervalMs: this.#options.regrabIntervalMs }),
    });
    this.#bindings.set(runtime.name, binding);
    const slots = this.#scaling.book.add(runtime.config);
    if (slots !== binding.gate.concurrency) binding.setConcurrency(slots);
    await binding.start();
  }

  async #addFunction(config: FunctionConfig): Promise<void> {
    const runtime = this.#runtime(config);
    try {
      await runtime.start();
    } catch (err) {
      this.#stats.recordReload(config.name, 0, err as Error);
      await runtime.destroy().catch(() => {});
      return;
    }
    await this.#bind(runtime);
    this.#log.info({ function: config.name }, 'function added');
  }

  /** Reloads to the manifest's `config`; the slots follow ScalingBook.plan (a manual value may hold). */
  async #reload(binding: FunctionBinding, config: FunctionConfig, cause: string): Promise<void> {
    const from = binding.gate.concurrency;
    const plan = this.#scaling.book.plan(config, from);
    try {
      await binding.runtime.reload({ ...config, concurrency: threadsFor(config, plan.slots) }, cause);
      binding.setConcurrency(plan.slots);
      this.#stats.recordReload(binding.name, binding.runtime.generation);
      this.#scaling.reloaded(binding.name, config, plan, from, cause);
    } catch (err) {
      this.#stats.recordReload(binding.name, binding.runtime.generation, err as Error);
    }
  }

  #servers(manifest: Manifest = this.#manifest): readonly ServerConfig[] {
    return manifest.servers ?? this.#options.defaultServers ?? [];
  }
}

function name(server: ServerConfig): string {
  return `${server.host}:${server.port}`;
}
