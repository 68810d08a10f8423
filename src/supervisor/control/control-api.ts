import { isConcurrency, MAX_CONCURRENCY, MIN_CONCURRENCY } from '../../limits.js';
import type { QueueSample } from '../capacity/queue-sampler.js';
import { LoopMonitor, type LoopMonitorOptions } from '../health/loop-monitor.js';
import { healthChecks, type ProbeCheck, readinessChecks } from '../health/readiness.js';
import {
  type FunctionFailures,
  RecentFailures,
  type RecentFailuresOptions,
} from '../stats/recent-failures.js';
import type { Supervisor, SupervisorEvents } from '../supervisor.js';
import { FailureControl } from './failure-control.js';
import { type HistoryPoint, JobHistory, type JobHistoryOptions } from './history.js';
import { ApiError } from './http-io.js';
import { SupervisorMetrics, type SupervisorMetricsOptions } from './metrics.js';
import { QueueHistory, type QueuePoint } from './queue-history.js';
import {
  buildStatus,
  type FunctionReport,
  queuedJobs,
  type StatusDocument,
  serverAddresses,
} from './status-document.js';
import { WorkerDirectory, type WorkerDirectoryOptions, type WorkersReply } from './worker-directory.js';

/** How re-reading the manifest went. */
export type ManifestReloadOutcome = { readonly ok: true } | { readonly ok: false; readonly error: string };

export interface ControlApiOptions {
  /**
   * Re-reads the manifest and applies it (the CLI passes its SIGHUP path). Without it,
   * a reload only reloads handler code.
   */
  readonly reload?: () => Promise<ManifestReloadOutcome>;
  /**
   * Starts a graceful stop: no new jobs, running ones finish, then the owner exits (the
   * CLI passes its SIGTERM path). Without it, a drain closes the supervisor.
   */
  readonly drain?: () => void;
  /**
   * How often the job servers' queue depths are sampled for the queue history while
   * someone looks (a status, the history, the dashboard or `gworker top` in the last
   * minute); 0 samples only when the status is asked for. Half the history's bucket, so
   * that every bucket gets a sample despite timer jitter. Nobody looking and nothing
   * autoscaling, the job servers are not asked at all. The sampler itself is the
   * supervisor's (Supervisor.queues), shared with the autoscaler.
   * @defaultValue 1000
   */
  readonly queueSampleMs?: number;
  readonly history?: JobHistoryOptions;
  readonly metrics?: SupervisorMetricsOptions;
  /** What /healthz counts as a stalled event loop (tests shorten it). */
  readonly loop?: LoopMonitorOptions;
  /** The ring of recent failures per function (`GET /api/errors`). */
  readonly failures?: RecentFailuresOptions;
  /** Who else serves each function (`GET /api/workers`). */
  readonly workers?: WorkerDirectoryOptions;
}

export type ReloadEvent = SupervisorEvents['reload'][0];

export interface ReloadReply {
  /** True when the manifest (if re-read) and every function's new code were accepted. */
  readonly ok: boolean;
  /** How re-reading the manifest went; null when this supervisor has no manifest reload. */
  readonly manifest: ManifestReloadOutcome | null;
  /** Every function reload that happened, with its new generation or why it was rejected. */
  readonly functions: readonly ReloadEvent[];
  /**
   * Functions whose manual concurrency (`gworker scale`) still holds after the reload:
   * a reload keeps a manual value unless the manifest's concurrency for that function
   * changed (then the change is in `scales`).
   */
  readonly manual: ReadonlyArray<{ readonly function: string; readonly concurrency: number }>;
  /** Changes of slots the reload made (a manifest's new concurrency, a manual value dropped). */
  readonly scales: readonly ScaleEvent[];
}

export type ScaleEvent = SupervisorEvents['scale'][0];

export interface DrainReply {
  readonly draining: true;
  /** How long running jobs get before they are cut off (the servers requeue them). */
  readonly shutdownTimeoutMs: number;
}

export interface HistoryReply {
  readonly bucketMs: number;
  readonly functions: Readonly<Record<string, readonly HistoryPoint[]>>;
  /** Per function, its queue on the job servers over the same minutes (sampled every `queueSampleMs`). */
  readonly queues: Readonly<Record<string, readonly QueuePoint[]>>;
}

export interface ErrorsReply {
  /** Per function of the manifest, its most recent failures with their messages, newest first. */
  readonly functions: Readonly<Record<string, FunctionFailures>>;
}

/**
 * What the control API can do, as plain methods: the HTTP routes call these, and an
 * embedding program can call them in-process. Commands that change state refuse with
 * `draining` once a drain has begun, so nothing resumes grabbing behind a shutdown.
 */
export class ControlApi {
  readonly metrics: SupervisorMetrics;
  /** The failure records (`gworker failed`). */
  readonly failures: FailureControl;
  readonly #supervisor: Supervisor;
  readonly #options: ControlApiOptions;
  readonly #history: JobHistory;
  readonly #queues: QueueHistory;
  readonly #failures: RecentFailures;
  readonly #workers: WorkerDirectory;
  readonly #startedAt = new Date();
  readonly #onJobEnd: (...args: SupervisorEvents['jobEnd']) => void;
  readonly #onLifecycle: (...args: SupervisorEvents['lifecycle']) => void;
  readonly #loop: LoopMonitor;
  readonly #sampleMs: number;
  readonly #unsubscribe: () => void;
  #draining = false;

  constructor(supervisor: Supervisor, options: ControlApiOptions = {}) {
    this.#supervisor = supervisor;
    this.#options = options;
    this.metrics = new SupervisorMetrics(supervisor, options.metrics);
    this.failures = new FailureControl(supervisor);
    this.#history = new JobHistory(options.history);
    this.#queues = new QueueHistory({ bucketMs: this.#history.bucketMs, ...options.history });
    this.#failures = new RecentFailures(options.failures);
    this.#workers = new WorkerDirectory(supervisor.queues.probe, options.workers);
    this.#onJobEnd = (info) => {
      this.#history.record(info.function, info.result, info.durationMs);
      this.#failures.record(info);
    };
    supervisor.on('jobEnd', this.#onJobEnd);
    // A stop the owner began without telling the API (an embedder's close()) drains too.
    this.#onLifecycle = (state) => {
      if (state === 'stopping') this.#draining = true;
    };
    supervisor.on('lifecycle', this.#onLifecycle);
    this.#loop = new LoopMonitor(options.loop);
    this.#sampleMs = options.queueSampleMs ?? 1000;
    // Every sample, the autoscaler's included, feeds the queue history and the metrics.
    this.#unsubscribe = supervisor.queues.onSample((sample) => this.#recordQueues(sample));
  }

  /** True once a drain was asked for, here or by the owner (a signal). */
  get draining(): boolean {
    return this.#draining;
  }

  /** Functions and servers now; with `queues`, the job servers' queue depths too. */
  async status(options: { queues?: boolean } = {}): Promise<StatusDocument> {
    this.#supervisor.queues.watch(this.#sampleMs);
    const queues = options.queues === false ? null : await this.#supervisor.queues.sample();
    return buildStatus(this.#supervisor, { startedAt: this.#startedAt, draining: this.#draining }, queues);
  }

  /** /healthz: the process answers and its event loop has not stalled lately. */
  health(): ProbeCheck[] {
    return healthChecks(this.#loop.health());
  }

  /** /readyz: healthy, not draining, every function connected to at least one job server. */
  readiness(): ProbeCheck[] {
    return readinessChecks({
      functions: this.#supervisor.functions(),
      draining: this.#draining,
      loop: this.#loop.health(),
    });
  }

  /** Jobs, run times and queue depths of the last minutes per function, in buckets, for charts. */
  history(): HistoryReply {
    this.#supervisor.queues.watch(this.#sampleMs);
    const names = this.#names();
    this.#history.retain(names);
    this.#queues.retain(names);
    const functions: Record<string, readonly HistoryPoint[]> = {};
    const queues: Record<string, readonly QueuePoint[]> = {};
    for (const name of names) {
      functions[name] = this.#history.series(name);
      queues[name] = this.#queues.series(name);
    }
    return { bucketMs: this.#history.bucketMs, functions, queues };
  }

  /** The most recent failures of every function, with their messages. */
  errors(): ErrorsReply {
    const names = this.#names();
    this.#failures.retain(names);
    const functions: Record<string, FunctionFailures> = {};
    for (const name of names) functions[name] = this.#failures.of(name);
    return { functions };
  }

  /** Which connections, this supervisor's and others', serve each function on the job servers (cached a few seconds). */
  workers(): Promise<WorkersReply> {
    return this.#workers.lookup({
      servers: serverAddresses(this.#supervisor),
      functions: [...this.#names()],
      clientId: this.#supervisor.clientId,
    });
  }

  /** Stops taking jobs of `fn`; running ones finish. Throws ApiError 404 for an unknown function. */
  pause(fn: string): FunctionReport {
    this.#refuseWhileDraining();
    if (!this.#supervisor.pause(fn)) throw unknownFunction(fn);
    return this.#function(fn);
  }

  /** Takes jobs of `fn` again. Throws ApiError 404 for an unknown function. */
  resume(fn: string): FunctionReport {
    this.#refuseWhileDraining();
    if (!this.#supervisor.resume(fn)) throw unknownFunction(fn);
    return this.#function(fn);
  }

  /** The metrics text; a scrape refreshes the queue gauges when no sample is fresh (one status per server). */
  async metricsText(): Promise<string> {
    await this.#supervisor.queues.refresh(Math.max(this.#sampleMs, 1000));
    return this.metrics.text();
  }

  /**
   * `{ concurrency: N }`: a manual value that holds until `{ auto: true }` (or a manifest
   * change of the function's concurrency); resolves once the new slots serve.
   */
  async scale(fn: string, request: { concurrency?: unknown; auto?: unknown }): Promise<FunctionReport> {
    this.#refuseWhileDraining();
    const { concurrency, auto } = request;
    if (auto !== undefined && (auto !== true || concurrency !== undefined)) {
      throw new ApiError(400, 'bad_scale', 'give either { "concurrency": N } or { "auto": true }');
    }
    if (auto === undefined && !isConcurrency(concurrency)) {
      throw new ApiError(
        400,
        'bad_concurrency',
        `concurrency must be a whole number from ${MIN_CONCURRENCY} to ${MAX_CONCURRENCY}`,
      );
    }
    let found: boolean;
    try {
      found =
        auto === true
          ? await this.#supervisor.scaleAuto(fn)
          : await this.#supervisor.scale(fn, concurrency as number);
    } catch (err) {
      throw new ApiError(422, 'scale_rejected', `new threads could not start: ${(err as Error).message}`);
    }
    if (!found) throw unknownFunction(fn);
    return this.#function(fn);
  }

  /**
   * Re-reads the manifest (when the owner can), then reloads the code of every handler
   * function the manifest change did not already reload, so that `reload` also picks up
   * handler files changed while the watcher was off.
   */
  async reload(): Promise<ReloadReply> {
    this.#refuseWhileDraining();
    const events: ReloadEvent[] = [];
    const scales: ScaleEvent[] = [];
    const collect = (event: ReloadEvent) => events.push(event);
    const collectScale = (event: ScaleEvent) => scales.push(event);
    this.#supervisor.on('reload', collect);
    this.#supervisor.on('scale', collectScale);
    const reply = (ok: boolean, manifest: ManifestReloadOutcome | null): ReloadReply => ({
      ok,
      manifest,
      functions: events,
      manual: this.#supervisor
        .functions()
        .filter((fn) => fn.scaling.mode === 'manual')
        .map((fn) => ({ function: fn.name, concurrency: fn.concurrency })),
      scales,
    });
    try {
      const before = new Map(this.#supervisor.functions().map((fn) => [fn.name, fn.generation]));
      const manifest = this.#options.reload ? await this.#options.reload() : null;
      if (manifest !== null && !manifest.ok) return reply(false, manifest);
      const untouched = this.#supervisor
        .functions()
        .filter((fn) => fn.kind === 'module' && before.get(fn.name) === fn.generation)
        .map((fn) => fn.name);
      await this.#supervisor.reloadHandlers(untouched);
      return reply(
        events.every((e) => e.ok),
        manifest,
      );
    } finally {
      this.#supervisor.off('reload', collect);
      this.#supervisor.off('scale', collectScale);
    }
  }

  /** Stops taking jobs; running ones finish; the owner exits after. Idempotent. */
  drain(): DrainReply {
    const reply: DrainReply = {
      draining: true,
      shutdownTimeoutMs: this.#supervisor.manifest.shutdownTimeoutMs,
    };
    if (this.#draining) return reply;
    this.#draining = true;
    if (this.#options.drain) this.#options.drain();
    else void this.#supervisor.close();
    return reply;
  }

  /** Marks the API as draining when the owner stops for another reason (a signal). */
  markDraining(): void {
    this.#draining = true;
  }

  /** Stops following the supervisor (its queue sampler and admin connections are the supervisor's). */
  async close(): Promise<void> {
    this.#unsubscribe();
    this.#supervisor.off('jobEnd', this.#onJobEnd);
    this.#supervisor.off('lifecycle', this.#onLifecycle);
    this.#loop.close();
    this.metrics.close();
  }

  #names(): Set<string> {
    return new Set(this.#supervisor.functions().map((fn) => fn.name));
  }

  /** One sample of every job server's queues, into the queue history and the metrics. */
  #recordQueues(queues: QueueSample): void {
    const functions = this.#supervisor.functions();
    this.#queues.record(
      functions.map((fn) => fn.name),
      queues,
    );
    for (const fn of functions) this.metrics.setQueued(fn.name, queuedJobs(fn, queues));
  }

  #function(fn: string): FunctionReport {
    const status = buildStatus(
      this.#supervisor,
      { startedAt: this.#startedAt, draining: this.#draining },
      null,
    );
    const found = status.functions.find((f) => f.name === fn);
    if (found === undefined) throw unknownFunction(fn);
    return found;
  }

  #refuseWhileDraining(): void {
    if (this.#draining)
      throw new ApiError(409, 'draining', 'the supervisor is draining and takes no commands');
  }
}

function unknownFunction(fn: string): ApiError {
  return new ApiError(404, 'unknown_function', `no function named "${fn}"`);
}
