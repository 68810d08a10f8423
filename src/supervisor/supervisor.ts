import { EventEmitter } from 'node:events';
import { isConcurrency, MAX_CONCURRENCY, MIN_CONCURRENCY } from '../limits.js';
import { type Logger, silentLogger } from '../log.js';
import { type AutoscaleInput, Autoscaler, type AutoscalerOptions } from './capacity/autoscaler.js';
import { BoxControl, type BoxSnapshot } from './capacity/box-control.js';
import { isCpuBound } from './capacity/cpu-bound.js';
import { type QueueSample, QueueSampler } from './capacity/queue-sampler.js';
import type { RateLimitSnapshot } from './capacity/rate-limit.js';
import {
  type ScaleChange,
  type ScaleSource,
  ScalingBook,
  type ScalingReport,
  threadsFor,
} from './capacity/scaling-book.js';
import { queuedJobs, serverAddresses } from './control/status-document.js';
import { defaultClientId } from './default-client-id.js';
import { DirectFunction } from './direct/direct-function.js';
import { type ConnectionSnapshot, FunctionBinding, withoutBudget } from './function-binding.js';
import type { FunctionConfig, Manifest, ModuleFunctionConfig, ServerConfig } from './manifest/types.js';
import { FailureStore } from './retry/failure-store.js';
import { RetryService } from './retry/retry-service.js';
import { FunctionRuntime, type JobEndInfo } from './runtime/function-runtime.js';
import { FunctionStats, type ReloadRecord } from './stats/function-stats.js';
import { logError } from './thread/log-error.js';

export interface SupervisorOptions {
  readonly logger?: Logger;
  /**
   * Servers to use when the manifest names none: the CLI passes the embedded server's
   * address here.
   */
  readonly defaultServers?: readonly ServerConfig[];
  /** Passed to every Worker (tests shorten it). */
  readonly regrabIntervalMs?: number;
  /** Longest wait for a job server's admin status (the queue sampler). @defaultValue 2000 */
  readonly queueTimeoutMs?: number;
  /** The autoscaler's interval and tuning, and the box budget's `hasRoom` (tests shorten the times). */
  readonly autoscale?: AutoscalerOptions;
}

export interface FunctionSnapshot {
  readonly name: string;
  readonly kind: FunctionConfig['kind'];
  /** Slots now (with a range, where the autoscaler or a manual value put them). */
  readonly concurrency: number;
  /** How the concurrency is set (fixed, auto between min and max, manual) and why it last changed. */
  readonly scaling: ScalingReport;
  /** Jobs running now (busy slots). */
  readonly running: number;
  /** Jobs held here that have not started: taken ahead (`prefetch`), or waiting for a thread to start. */
  readonly prefetched: number;
  readonly paused: boolean;
  /**
   * Most handler threads of the current generation, or processes with `isolation`
   * process (0 for commands). They start as jobs need them: see threadsStarted.
   */
  readonly threads: number;
  /** Of those, the ones running now (starting, serving, or finishing after a scale down). */
  readonly threadsStarted: number;
  /** Started threads holding no job: they end after idleTimeout, down to minThreads. */
  readonly threadsIdle: number;
  /** Whether `threads` counts threads or processes (issue 17); null for commands. */
  readonly isolation: 'thread' | 'process' | null;
  readonly generation: number;
  readonly done: number;
  readonly failed: number;
  readonly excepted: number;
  /** Jobs ended per second over the last minute. */
  readonly jobsPerSecond: number;
  /** Run time percentiles of the last 2048 jobs, in milliseconds (null before the first job). */
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly lastReload: ReloadRecord | null;
  /** Its share of the box's slots (`weight`). */
  readonly weight: number;
  /** Its rate limit and how often it held grabs back; null without `rateLimit`. */
  readonly rateLimit: RateLimitSnapshot | null;
  /** Bytes of handler stdout/stderr dropped because too much was waiting to be written. */
  readonly outputDroppedBytes: number;
  readonly connections: readonly ConnectionSnapshot[];
}

/** How a shutdown went. */
export interface ShutdownSummary {
  /**
   * Jobs that ended without an answer while it ran: still running when shutdownTimeout
   * ran out (or lost with their connection meanwhile). The job servers requeue them.
   */
  readonly jobsCutShort: number;
}

export interface SupervisorEvents {
  /** A job ended; `reason` says why when it did not complete. */
  jobEnd: [info: JobEndInfo];
  reload: [info: { function: string; ok: boolean; generation: number; error?: string }];
  /** Some function's codeFiles changed (a generation loaded, a load failed, a late import). */
  codeFiles: [];
  /** A function's handler thread dropped output past its cap. */
  outputDropped: [info: { function: string; stream: 'stdout' | 'stderr'; bytes: number }];
  /**
   * The box as a service manager sees it: a new manifest is being applied ('reloading'),
   * it has been ('reloaded'), or a stop began ('stopping'). sd_notify and the probes follow it.
   */
  lifecycle: [state: 'reloading' | 'reloaded' | 'stopping'];
  /** A function's slots changed (manual scale, autoscaler, manifest), logged once. */
  scale: [change: ScaleChange & { readonly function: string }];
}

/** A module function's code, as the change watcher follows it. */
export interface FunctionCode {
  readonly name: string;
  readonly handler: string;
  /** The handler and the files it imported (FunctionRuntime.codeFiles). */
  readonly files: readonly string[];
}

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
  readonly #direct = new Map<string, DirectFunction>();
  readonly #stats = new Map<string, FunctionStats>();
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
  readonly #scaling = new ScalingBook();
  readonly #autoscaler: Autoscaler;

  constructor(manifest: Manifest, options: SupervisorOptions = {}) {
    super();
    this.#manifest = manifest;
    this.#options = options;
    this.#root = options.logger ?? silentLogger;
    this.#log = this.#root.child({ component: 'supervisor' });
    this.retries = new RetryService({
      logger: this.#root,
      ...(manifest.clientId === undefined ? {} : { clientId: manifest.clientId }),
    });
    this.box = new BoxControl(manifest.box, this.#log);
    this.queues = new QueueSampler({
      servers: () => serverAddresses(this),
      ...(options.queueTimeoutMs === undefined ? {} : { timeoutMs: options.queueTimeoutMs }),
    });
    // The manifest's timing (read once: changes need a restart), then the embedder's.
    this.#autoscaler = new Autoscaler((fn, to, why) => this.#resize(fn, to, 'autoscaler', why), {
      logger: this.#root,
      // More slots help only while the box has one free for the function's kind of job.
      hasRoom: (fn) => {
        const binding = this.#bindings.get(fn);
        return binding !== undefined && this.box.budget.hasRoom(isCpuBound(binding.runtime.config));
      },
      ...manifest.autoscale,
      ...options.autoscale,
    });
    this.queues.onSample((sample) => this.#autoscaler.observe(this.#autoscaleInputs(sample)));
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
    const runtimes = this.#manifest.functions
      .filter((fn) => !isDirect(fn))
      .map((config) => this.#runtime(config));
    const direct = this.#manifest.functions.filter(isDirect).map((config) => this.#directFunction(config));
    const started = await Promise.allSettled([
      ...runtimes.map((runtime) => runtime.start()),
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
    this.#sampleForAutoscale();
    this.#log.info({ functions: [...this.#bindings.keys()], servers: this.#servers().map(name) }, 'started');
  }

  /** Reloads the named functions' code; a function whose new code fails keeps its old code. */
  async reloadHandlers(names: readonly string[]): Promise<void> {
    await Promise.all(
      names.map(async (fn) => {
        const direct = this.#direct.get(fn);
        if (direct !== undefined) {
          await this.#reloadDirect(direct, direct.config, 'handler changed');
          return;
        }
        const binding = this.#bindings.get(fn);
        const declared = this.#scaling.declared(fn);
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
    const tasks: Array<Promise<unknown>> = this.#applyDirect(next);
    const nextByName = new Map(next.functions.filter((fn) => !isDirect(fn)).map((fn) => [fn.name, fn]));
    const removed = [...this.#bindings.values()].filter((b) => !nextByName.has(b.name));
    for (const binding of removed) {
      this.#bindings.delete(binding.name);
      this.#scaling.remove(binding.name);
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
        const declared = this.#scaling.declared(config.name) ?? binding.runtime.config;
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
    this.#sampleForAutoscale();
    this.emit('lifecycle', 'reloaded');
  }

  /**
   * Sets a manual concurrency (`gworker scale FN N`), in place: its slots and its most
   * threads change at once (no new generation, no code loaded; threads past the new most
   * end once their jobs are done), and it holds (the autoscaler leaves the function
   * alone) until scaleAuto(), a manifest change of the function's concurrency, or a
   * restart. Resolves false for an unknown function.
   */
  async scale(fn: string, concurrency: number): Promise<boolean> {
    if (!isConcurrency(concurrency)) {
      throw new RangeError(
        `concurrency must be a whole number from ${MIN_CONCURRENCY} to ${MAX_CONCURRENCY}, got ${concurrency}`,
      );
    }
    if (this.#direct.has(fn))
      throw new RangeError(
        `${fn} has dispatch: thread: its threads hold connections, so it is not scaled live; change its concurrency in the manifest and reload`,
      );
    if (!this.#bindings.has(fn)) return false;
    // Set first, so the autoscaler leaves it alone meanwhile; restored if the threads fail.
    const previous = this.#scaling.manual(fn);
    this.#scaling.setManual(fn, concurrency);
    try {
      await this.#resize(fn, concurrency, 'manual', 'set by hand (gworker scale, the control API)');
    } catch (err) {
      this.#scaling.setManual(fn, previous);
      throw err;
    }
    return true;
  }

  /**
   * Ends a manual value (`gworker scale FN --auto`): a range goes back to the autoscaler
   * (from the slots it has now), a fixed concurrency back to the manifest's. Resolves
   * false for an unknown function.
   */
  async scaleAuto(fn: string): Promise<boolean> {
    const declared = this.#scaling.declared(fn);
    if (!this.#bindings.has(fn) || declared === undefined) return false;
    this.#scaling.setManual(fn, null);
    if (declared.scaling === undefined)
      await this.#resize(fn, declared.concurrency, 'manual', "gworker scale --auto: the manifest's value");
    return true;
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
    return [...this.#defaultFunctions(), ...[...this.#direct.values()].map((fn) => this.#directSnapshot(fn))];
  }

  #defaultFunctions(): FunctionSnapshot[] {
    return [...this.#bindings.values()].map((binding) => {
      const stats = this.#statsFor(binding.name);
      const [p50Ms = null, p95Ms = null, p99Ms = null] = stats.durations.percentiles([50, 95, 99]);
      const prefetched = binding.runtime.waiting;
      return {
        name: binding.name,
        kind: binding.runtime.config.kind,
        concurrency: binding.gate.concurrency,
        scaling: this.#scaling.report(binding.name),
        // The gate counts every job held here; those still waiting in a thread do not run.
        running: Math.max(0, binding.gate.running - prefetched),
        prefetched,
        paused: binding.gate.paused,
        threads: binding.runtime.threads,
        threadsStarted: binding.runtime.threadsStarted,
        threadsIdle: binding.runtime.threadsIdle,
        isolation: binding.runtime.isolation,
        generation: binding.runtime.generation,
        done: stats.done,
        failed: stats.failed,
        excepted: stats.excepted,
        jobsPerSecond: stats.rate.perSecond(),
        p50Ms,
        p95Ms,
        p99Ms,
        lastReload: stats.lastReload,
        weight: binding.gate.boxShare?.weight ?? 1,
        rateLimit: binding.gate.rateLimit?.snapshot() ?? null,
        outputDroppedBytes: stats.outputDroppedBytes,
        connections: binding.connections(),
      };
    });
  }

  boxStatus(): BoxSnapshot {
    return this.box.status();
  }

  /** Every module function's code files, for the change watcher. */
  codeFiles(): FunctionCode[] {
    const direct = [...this.#direct.values()].map((fn) => ({
      name: fn.name,
      handler: fn.config.handler,
      files: [fn.config.handler],
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
      await Promise.allSettled([
        ...bindings.map((binding) => binding.close({ deadline, ...(options.force ? { force: true } : {}) })),
        // Dropped functions drain with their own deadline: shutdownTimeout from when they were dropped.
        ...this.#removing.values(),
        ...[...this.#direct.values()].map((fn) => fn.close(deadline, options.force === true)),
      ]);
      await this.retries.close();
      await this.queues.close();
      this.retries.failures?.close();
      const jobsCutShort = unanswered() - before;
      this.#log.info({ jobsCutShort }, 'stopped');
      return { jobsCutShort };
    })();
    return this.#closing;
  }

  #directFunction(config: ModuleFunctionConfig): DirectFunction {
    const fn = new DirectFunction(config, this.#statsFor(config.name), {
      servers: this.#servers(),
      logger: this.#root,
      clientId: this.clientId,
      ...(this.#options.regrabIntervalMs === undefined
        ? {}
        : { regrabIntervalMs: this.#options.regrabIntervalMs }),
    });
    this.#direct.set(config.name, fn);
    this.#scaling.add(config);
    return fn;
  }

  /**
   * The manifest's `dispatch: thread` functions: new ones start, dropped ones (or ones
   * that went back to the default dispatch) drain, changed ones get a new pool.
   */
  #applyDirect(next: Manifest): Array<Promise<unknown>> {
    const tasks: Array<Promise<unknown>> = [];
    const wanted = new Map(next.functions.filter(isDirect).map((fn) => [fn.name, fn]));
    const serversChanged =
      JSON.stringify(this.#servers()) !== JSON.stringify(next.servers ?? this.#options.defaultServers ?? []);
    for (const [name, fn] of this.#direct) {
      const config = wanted.get(name);
      if (config === undefined) {
        this.#direct.delete(name);
        this.#scaling.remove(name);
        tasks.push(fn.close(performance.now() + next.shutdownTimeoutMs));
      } else if (serversChanged || !sameConfig(fn.config, config)) {
        tasks.push(this.#reloadDirect(fn, config, 'manifest changed', next));
      }
    }
    for (const config of wanted.values()) {
      if (this.#direct.has(config.name)) continue;
      const fn = this.#directFunction(config);
      tasks.push(
        fn.start().catch(async (err: Error) => {
          this.#direct.delete(config.name);
          this.#scaling.remove(config.name);
          this.#recordReload(config.name, 0, err);
          await fn.close(0, true);
        }),
      );
    }
    return tasks;
  }

  async #reloadDirect(
    fn: DirectFunction,
    config: ModuleFunctionConfig,
    cause: string,
    manifest = this.#manifest,
  ): Promise<void> {
    try {
      await fn.reload(config, this.#servers(manifest), manifest.shutdownTimeoutMs);
      this.#log.info({ function: fn.name, cause }, 'dispatch: thread function reloaded');
      this.#recordReload(fn.name, fn.generation);
    } catch (err) {
      this.#recordReload(fn.name, fn.generation, err as Error);
    }
  }

  #directSnapshot(fn: DirectFunction): FunctionSnapshot {
    const stats = this.#statsFor(fn.name);
    const [p50Ms = null, p95Ms = null, p99Ms = null] = stats.durations.percentiles([50, 95, 99]);
    return {
      name: fn.name,
      kind: 'module',
      concurrency: fn.config.concurrency,
      scaling: this.#scaling.report(fn.name),
      running: fn.running,
      prefetched: 0,
      paused: fn.paused,
      threads: fn.threads,
      threadsStarted: fn.threadsStarted,
      threadsIdle: 0,
      isolation: 'thread',
      generation: fn.generation,
      done: stats.done,
      failed: stats.failed,
      excepted: stats.excepted,
      jobsPerSecond: stats.rate.perSecond(),
      p50Ms,
      p95Ms,
      p99Ms,
      lastReload: stats.lastReload,
      weight: 1,
      rateLimit: null,
      outputDroppedBytes: stats.outputDroppedBytes,
      // Each thread holds its own: the main thread has none to report.
      connections: [],
    };
  }

  #runtime(config: FunctionConfig): FunctionRuntime {
    const log = this.#root.child({ component: 'runtime', function: config.name });
    const runtime = new FunctionRuntime(config, log, this.retries);
    runtime.on('codeFiles', () => this.emit('codeFiles'));
    const stats = this.#statsFor(config.name);
    runtime.on('outputDropped', ({ stream, bytes }) => {
      stats.outputDroppedBytes += bytes;
      this.emit('outputDropped', { function: config.name, stream, bytes });
    });
    // Checked once: a debug line per job is built only when someone reads it.
    const debug = log.isLevelEnabled?.('debug') ?? true;
    runtime.on('jobEnd', (info) => {
      stats.recordJob(info.result, info.durationMs);
      if (info.result !== 'complete') {
        const thrown = info.error === undefined ? {} : { err: logError(info.error), handlerError: true };
        log.warn(
          { jobHandle: info.handle, result: info.result, reason: info.reason, ...thrown },
          `${config.name}: job ${info.handle} did not complete (${info.result}): ${describeEnd(info)}`,
        );
      } else if (debug) {
        log.debug({ jobHandle: info.handle, durationMs: info.durationMs }, 'job complete');
      }
      this.emit('jobEnd', info);
    });
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
    const slots = this.#scaling.add(runtime.config);
    if (slots !== binding.gate.concurrency) binding.setConcurrency(slots);
    await binding.start();
  }

  async #addFunction(config: FunctionConfig): Promise<void> {
    const runtime = this.#runtime(config);
    try {
      await runtime.start();
    } catch (err) {
      this.#recordReload(config.name, 0, err as Error);
      await runtime.destroy().catch(() => {});
      return;
    }
    await this.#bind(runtime);
    this.#log.info({ function: config.name }, 'function added');
  }

  /** Reloads to the manifest's `config`; the slots follow ScalingBook.plan (a manual value may hold). */
  async #reload(binding: FunctionBinding, config: FunctionConfig, cause: string): Promise<void> {
    const from = binding.gate.concurrency;
    const plan = this.#scaling.plan(config, from);
    try {
      await binding.runtime.reload({ ...config, concurrency: threadsFor(config, plan.slots) }, cause);
      this.#scaling.reloaded(config, plan);
      binding.setConcurrency(plan.slots);
      this.#recordReload(binding.name, binding.runtime.generation);
      if (plan.manual?.kept)
        this.#log.info(
          { function: binding.name, concurrency: plan.manual.value },
          `${binding.name}: manual concurrency ${plan.manual.value} kept over the reload (the manifest's concurrency for it did not change); gworker scale ${binding.name} --auto ends it`,
        );
      else if (plan.manual !== null)
        this.#noteChange(
          binding.name,
          from,
          plan.slots,
          'manifest',
          `the manifest's concurrency changed: manual value ${plan.manual.value} dropped`,
        );
      else if (from !== plan.slots) this.#noteChange(binding.name, from, plan.slots, 'manifest', cause);
    } catch (err) {
      this.#recordReload(binding.name, binding.runtime.generation, err as Error);
    }
  }

  /**
   * THE one way a function's slots change at run time: manual scales, the autoscaler
   * and scaleAuto() all come here (a manifest reload sizes its new generation itself).
   * The slots change at once; when the threads do not fit (a fixed function, or a manual
   * value above a range's max), the pool's most threads change in place first.
   */
  async #resize(fn: string, to: number, by: ScaleSource, why: string): Promise<void> {
    const binding = this.#bindings.get(fn);
    if (binding === undefined) return;
    const from = binding.gate.concurrency;
    const { config } = binding.runtime;
    const threads = threadsFor(this.#scaling.declared(fn) ?? config, to);
    // In place: the pool's most threads change, no new generation (threads start on demand).
    if (threads !== config.concurrency) await binding.runtime.resize(threads);
    binding.setConcurrency(to);
    if (from !== to) this.#noteChange(fn, from, to, by, why);
  }

  /** Logs a change of slots once, and keeps it as the function's last change. */
  #noteChange(fn: string, from: number, to: number, by: ScaleSource, why: string): void {
    const change: ScaleChange = { from, to, by, why, at: new Date().toISOString() };
    this.#scaling.record(fn, change);
    this.#log.info(
      { function: fn, from, to, by, why },
      `${fn}: concurrency ${from} -> ${to} (${by}: ${why})`,
    );
    this.emit('scale', { function: fn, ...change });
  }

  /** The autoscaled functions' numbers at a queue sample. */
  #autoscaleInputs(sample: QueueSample): AutoscaleInput[] {
    const inputs: AutoscaleInput[] = [];
    // Stopping: no more changes (a drain pauses every function; nothing should scale it).
    if (this.#closing !== null) return inputs;
    for (const name of this.#scaling.autoscaled()) {
      const range = this.#scaling.declared(name)?.scaling;
      const binding = this.#bindings.get(name);
      // A paused function's jobs wait for the resume, not for slots.
      if (range === undefined || binding === undefined || binding.gate.paused) continue;
      inputs.push({
        name,
        min: range.min,
        max: range.max,
        current: binding.gate.concurrency,
        running: binding.gate.running,
        queued: queuedJobs({ name, connections: binding.connections() }, sample),
      });
    }
    return inputs;
  }

  /** The sampler runs at the autoscaler's interval while some function autoscales. */
  #sampleForAutoscale(): void {
    const any = this.#manifest.functions.some((fn) => fn.scaling !== undefined);
    this.queues.setAutoscaleInterval(any ? this.#autoscaler.sampleMs : null);
  }

  #recordReload(fn: string, generation: number, error?: Error): void {
    this.#statsFor(fn).recordReload(generation, error);
    if (error)
      this.#log.error(
        { function: fn, err: error },
        `reload rejected, old code keeps serving: ${error.message}`,
      );
    else this.#log.info({ function: fn, generation }, 'reloaded');
    this.emit('reload', {
      function: fn,
      ok: error === undefined,
      generation,
      ...(error === undefined ? {} : { error: error.message }),
    });
  }

  #statsFor(fn: string): FunctionStats {
    let stats = this.#stats.get(fn);
    if (stats === undefined) {
      stats = new FunctionStats();
      this.#stats.set(fn, stats);
    }
    return stats;
  }

  #servers(manifest: Manifest = this.#manifest): readonly ServerConfig[] {
    return manifest.servers ?? this.#options.defaultServers ?? [];
  }
}

/** The reason, with the thrown error's type when the handler threw one. */
function describeEnd(info: JobEndInfo): string {
  const { error } = info;
  return error === undefined || error.name === 'Error' ? `${info.reason}` : `${error.name}: ${info.reason}`;
}

function name(server: ServerConfig): string {
  return `${server.host}:${server.port}`;
}

function isDirect(config: FunctionConfig): config is ModuleFunctionConfig {
  return config.kind === 'module' && config.dispatch === 'thread';
}

function sameConfig(a: FunctionConfig | undefined, b: FunctionConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
