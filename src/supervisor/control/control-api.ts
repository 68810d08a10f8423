import type { Supervisor, SupervisorEvents } from '../supervisor.js';
import { FailureControl } from './failure-control.js';
import { type HistoryPoint, JobHistory, type JobHistoryOptions } from './history.js';
import { ApiError } from './http-io.js';
import { SupervisorMetrics, type SupervisorMetricsOptions } from './metrics.js';
import { QueueProbe } from './queue-probe.js';
import { buildStatus, type FunctionReport, type StatusDocument, serverAddresses } from './status-document.js';

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
  /** Longest wait for a job server's admin status. @defaultValue 2000 */
  readonly queueTimeoutMs?: number;
  readonly history?: JobHistoryOptions;
  readonly metrics?: SupervisorMetricsOptions;
}

export type ReloadEvent = SupervisorEvents['reload'][0];

export interface ReloadReply {
  /** True when the manifest (if re-read) and every function's new code were accepted. */
  readonly ok: boolean;
  /** How re-reading the manifest went; null when this supervisor has no manifest reload. */
  readonly manifest: ManifestReloadOutcome | null;
  /** Every function reload that happened, with its new generation or why it was rejected. */
  readonly functions: readonly ReloadEvent[];
}

export interface DrainReply {
  readonly draining: true;
  /** How long running jobs get before they are cut off (the servers requeue them). */
  readonly shutdownTimeoutMs: number;
}

export interface HistoryReply {
  readonly bucketMs: number;
  readonly functions: Readonly<Record<string, readonly HistoryPoint[]>>;
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
  readonly #probe: QueueProbe;
  readonly #history: JobHistory;
  readonly #startedAt = new Date();
  readonly #onJobEnd: (...args: SupervisorEvents['jobEnd']) => void;
  #draining = false;

  constructor(supervisor: Supervisor, options: ControlApiOptions = {}) {
    this.#supervisor = supervisor;
    this.#options = options;
    this.#probe = new QueueProbe(options.queueTimeoutMs);
    this.metrics = new SupervisorMetrics(supervisor, options.metrics);
    this.failures = new FailureControl(supervisor);
    this.#history = new JobHistory(options.history);
    this.#onJobEnd = (info) => this.#history.record(info.function, info.result, info.durationMs);
    supervisor.on('jobEnd', this.#onJobEnd);
  }

  /** True once a drain was asked for, here or by the owner (a signal). */
  get draining(): boolean {
    return this.#draining;
  }

  /** Functions and servers now; with `queues`, the job servers' queue depths too. */
  async status(options: { queues?: boolean } = {}): Promise<StatusDocument> {
    const queues =
      options.queues === false ? null : await this.#probe.probe(serverAddresses(this.#supervisor));
    const status = buildStatus(
      this.#supervisor,
      { startedAt: this.#startedAt, draining: this.#draining },
      queues,
    );
    if (queues !== null) for (const fn of status.functions) this.metrics.setQueued(fn.name, fn.queued);
    return status;
  }

  /** Jobs and run times of the last minutes per function, in buckets, for charts. */
  history(): HistoryReply {
    const names = new Set(this.#supervisor.functions().map((fn) => fn.name));
    this.#history.retain(names);
    const functions: Record<string, readonly HistoryPoint[]> = {};
    for (const name of names) functions[name] = this.#history.series(name);
    return { bucketMs: this.#history.bucketMs, functions };
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

  /** New concurrency; resolves once the new threads serve (running jobs finish on the old ones). */
  async scale(fn: string, concurrency: unknown): Promise<FunctionReport> {
    this.#refuseWhileDraining();
    if (
      typeof concurrency !== 'number' ||
      !Number.isInteger(concurrency) ||
      concurrency < 1 ||
      concurrency > 100_000
    ) {
      throw new ApiError(400, 'bad_concurrency', 'concurrency must be a whole number from 1 to 100000');
    }
    let found: boolean;
    try {
      found = await this.#supervisor.scale(fn, concurrency);
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
    const collect = (event: ReloadEvent) => events.push(event);
    this.#supervisor.on('reload', collect);
    try {
      const before = new Map(this.#supervisor.functions().map((fn) => [fn.name, fn.generation]));
      const manifest = this.#options.reload ? await this.#options.reload() : null;
      if (manifest !== null && !manifest.ok) return { ok: false, manifest, functions: events };
      const untouched = this.#supervisor
        .functions()
        .filter((fn) => fn.kind === 'module' && before.get(fn.name) === fn.generation)
        .map((fn) => fn.name);
      await this.#supervisor.reloadHandlers(untouched);
      return { ok: events.every((e) => e.ok), manifest, functions: events };
    } finally {
      this.#supervisor.off('reload', collect);
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

  /** Stops following the supervisor and closes the admin connections to the job servers. */
  async close(): Promise<void> {
    this.#supervisor.off('jobEnd', this.#onJobEnd);
    this.metrics.close();
    await this.#probe.close();
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
