import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../../process-metrics.js';
import type { RetryServiceEvents } from '../retry/retry-service.js';
import type { Supervisor, SupervisorEvents } from '../supervisor.js';
import { registerBudgetMetrics } from './budget-metrics.js';

/** Run-time buckets in seconds: from a millisecond echo to a five-minute batch job. */
const kDurationBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface SupervisorMetricsOptions {
  /** Add Node's process metrics (CPU, memory, event loop lag, GC). @defaultValue true */
  readonly defaultMetrics?: boolean;
}

/**
 * The supervisor's Prometheus metrics, in a registry of its own (never prom-client's
 * global one, so several supervisors in one process do not collide). Job and reload
 * counters follow the supervisor's events as they happen; gauges are read from one
 * snapshot per scrape.
 */
export class SupervisorMetrics {
  readonly registry = new Registry();
  readonly #supervisor: Supervisor;
  readonly #jobs: Counter<'function' | 'outcome'>;
  readonly #durations: Histogram<'function'>;
  readonly #reloads: Counter<'function' | 'result'>;
  readonly #generations: Counter<'function' | 'cause'>;
  readonly #threadRestarts: Counter<'function' | 'cause'>;
  readonly #gauges: Record<
    | 'inFlight'
    | 'concurrency'
    | 'concurrencyMin'
    | 'concurrencyMax'
    | 'paused'
    | 'threads'
    | 'processes'
    | 'threadsStarted'
    | 'threadsIdle'
    | 'generation'
    | 'queued',
    Gauge<'function'>
  >;
  readonly #connectionUp: Gauge<'server' | 'function'>;
  readonly #reconnects: Counter<'server' | 'function'>;
  readonly #onGeneration: (...args: SupervisorEvents['generation']) => void;
  readonly #onJobEnd: (...args: SupervisorEvents['jobEnd']) => void;
  readonly #onReload: (...args: SupervisorEvents['reload']) => void;
  readonly #outputDropped: Counter<'function' | 'stream'>;
  readonly #onOutputDropped: (...args: SupervisorEvents['outputDropped']) => void;
  readonly #scales: Counter<'function' | 'by' | 'direction'>;
  readonly #onScale: (...args: SupervisorEvents['scale']) => void;
  readonly #retries: Counter<'function' | 'cause' | 'via'>;
  readonly #deadLettered: Counter<'function' | 'cause'>;
  readonly #onRetry: (...args: RetryServiceEvents['retry']) => void;
  readonly #onDeadLetter: (...args: RetryServiceEvents['deadLetter']) => void;

  constructor(supervisor: Supervisor, options: SupervisorMetricsOptions = {}) {
    this.#supervisor = supervisor;
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectProcessMetrics(this.registry);
    this.#jobs = new Counter({
      name: 'gworker_jobs_total',
      help: 'Jobs ended on this box, by function and outcome (complete, fail, exception)',
      labelNames: ['function', 'outcome'],
      registers,
    });
    this.#durations = new Histogram({
      name: 'gworker_job_duration_seconds',
      help: 'Run time of jobs, from grab to result, by function',
      labelNames: ['function'],
      buckets: kDurationBuckets,
      registers,
    });
    this.#reloads = new Counter({
      name: 'gworker_reloads_total',
      help: 'Code and configuration reloads, by function and result (ok, rejected)',
      labelNames: ['function', 'result'],
      registers,
    });
    this.#generations = new Counter({
      name: 'gworker_thread_generations_total',
      help: 'Thread generations started, by function and cause (reload, recycle after maxJobsPerThread, ...; a scale resizes in place)',
      labelNames: ['function', 'cause'],
      registers,
    });
    const gauge = (name: string, help: string) =>
      new Gauge({ name, help, labelNames: ['function'], registers });
    this.#gauges = {
      inFlight: gauge('gworker_jobs_in_flight', 'Jobs running now (busy slots), by function'),
      concurrency: gauge('gworker_function_concurrency', 'Slots: most jobs of the function running at once'),
      concurrencyMin: gauge(
        'gworker_function_concurrency_min',
        'Fewest slots the autoscaler leaves (concurrency: { min, max }; absent for a fixed concurrency)',
      ),
      concurrencyMax: gauge(
        'gworker_function_concurrency_max',
        'Most slots the autoscaler gives (concurrency: { min, max }; absent for a fixed concurrency)',
      ),
      paused: gauge('gworker_function_paused', '1 while the function is paused (takes no new jobs)'),
      threads: gauge(
        'gworker_function_threads',
        'Handler threads of the current generation (0 for commands and isolation: process)',
      ),
      processes: gauge(
        'gworker_function_processes',
        'Handler processes of the current generation (isolation: process; 0 otherwise)',
      ),
      threadsStarted: gauge(
        'gworker_function_threads_started',
        'Handler threads (or processes) running now; they start as jobs need them, up to gworker_function_threads or _processes',
      ),
      threadsIdle: gauge(
        'gworker_function_threads_idle',
        'Started handler threads (or processes) holding no job; they end after idleTimeout, down to minThreads',
      ),
      generation: gauge('gworker_function_generation', 'Number of the code generation serving the function'),
      queued: gauge(
        'gworker_function_queued_jobs',
        'Jobs waiting on the job servers, as their admin status reported at the last sample (a scrape takes one when none is fresh)',
      ),
    };
    this.#connectionUp = new Gauge({
      name: 'gworker_connection_up',
      help: '1 while the function has a live connection to the job server',
      labelNames: ['server', 'function'],
      registers,
    });
    this.#reconnects = new Counter({
      name: 'gworker_connection_reconnects_total',
      help: 'Reconnects to the job server, by server and function',
      labelNames: ['server', 'function'],
      registers,
    });
    this.#threadRestarts = new Counter({
      name: 'gworker_thread_restarts_total',
      help: 'Handler threads (or processes) ended under a job and replaced, by function and cause (crash, oom, timeout)',
      labelNames: ['function', 'cause'],
      registers,
    });
    this.#outputDropped = new Counter({
      name: 'gworker_handler_output_dropped_bytes_total',
      help: 'Bytes of handler stdout/stderr dropped because more than 1 MiB per thread was waiting to be written',
      labelNames: ['function', 'stream'],
      registers,
    });
    this.#retries = new Counter({
      name: 'gworker_job_retries_total',
      help: 'Retries made after a failed attempt, by function, cause (exception, fail, timeout, crash) and via (server: an epoch job at the job server; in-place: run again here while the client waits)',
      labelNames: ['function', 'cause', 'via'],
      registers,
    });
    this.#deadLettered = new Counter({
      name: 'gworker_jobs_dead_lettered_total',
      help: "Final failures submitted to the function's deadLetter function, by function and the last attempt's cause",
      labelNames: ['function', 'cause'],
      registers,
    });
    this.#scales = new Counter({
      name: 'gworker_concurrency_changes_total',
      help: "Changes of a function's slots, by function, by (autoscaler, manual, manifest) and direction (up, down)",
      labelNames: ['function', 'by', 'direction'],
      registers,
    });
    this.#onScale = (change) =>
      this.#scales.inc({
        function: change.function,
        by: change.by,
        direction: change.to > change.from ? 'up' : 'down',
      });
    supervisor.on('scale', this.#onScale);
    this.#onRetry = (event) =>
      this.#retries.inc({ function: event.function, cause: event.cause, via: event.via });
    this.#onDeadLetter = (event) => this.#deadLettered.inc({ function: event.function, cause: event.cause });
    supervisor.retries.on('retry', this.#onRetry);
    supervisor.retries.on('deadLetter', this.#onDeadLetter);
    this.#onOutputDropped = (info) =>
      this.#outputDropped.inc({ function: info.function, stream: info.stream }, info.bytes);
    this.#onJobEnd = (info) => {
      this.#jobs.inc({ function: info.function, outcome: info.result });
      if (info.threadEnded !== undefined)
        this.#threadRestarts.inc({ function: info.function, cause: info.threadEnded });
      this.#durations.observe({ function: info.function }, info.durationMs / 1000);
    };
    this.#onReload = (info) =>
      this.#reloads.inc({ function: info.function, result: info.ok ? 'ok' : 'rejected' });
    this.#onGeneration = (info) => this.#generations.inc({ function: info.function, cause: info.cause });
    supervisor.on('jobEnd', this.#onJobEnd);
    supervisor.on('reload', this.#onReload);
    supervisor.on('generation', this.#onGeneration);
    supervisor.on('outputDropped', this.#onOutputDropped);
    registerBudgetMetrics(this.registry, supervisor);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Queue depths as the last sample of the job servers found them (Supervisor.queues); the last answer is kept. */
  setQueued(fn: string, queued: number | null): void {
    if (queued === null) this.#gauges.queued.remove({ function: fn });
    else this.#gauges.queued.set({ function: fn }, queued);
  }

  /** The metrics in Prometheus text format, gauges read now. */
  async text(): Promise<string> {
    this.#refresh();
    return this.registry.metrics();
  }

  /** Stops following the supervisor's events. */
  close(): void {
    this.#supervisor.off('jobEnd', this.#onJobEnd);
    this.#supervisor.off('reload', this.#onReload);
    this.#supervisor.off('generation', this.#onGeneration);
    this.#supervisor.off('outputDropped', this.#onOutputDropped);
    this.#supervisor.off('scale', this.#onScale);
    this.#supervisor.retries.off('retry', this.#onRetry);
    this.#supervisor.retries.off('deadLetter', this.#onDeadLetter);
  }

  #refresh(): void {
    const {
      inFlight,
      concurrency,
      concurrencyMin,
      concurrencyMax,
      paused,
      threads,
      processes,
      threadsStarted,
      threadsIdle,
      generation,
    } = this.#gauges;
    // Every per-function gauge but `queued`, which a queue sample sets (or removes) on its own.
    const { queued: _sampled, ...perFunction } = this.#gauges;
    for (const g of [...Object.values(perFunction), this.#connectionUp]) g.reset();
    this.#reconnects.reset();
    for (const fn of this.#supervisor.functions()) {
      const labels = { function: fn.name };
      inFlight.set(labels, fn.running);
      concurrency.set(labels, fn.concurrency);
      if (fn.scaling.min !== null) concurrencyMin.set(labels, fn.scaling.min);
      if (fn.scaling.max !== null) concurrencyMax.set(labels, fn.scaling.max);
      paused.set(labels, fn.paused ? 1 : 0);
      threads.set(labels, fn.isolation === 'process' ? 0 : fn.threads);
      processes.set(labels, fn.isolation === 'process' ? fn.threads : 0);
      threadsStarted.set(labels, fn.threadsStarted);
      threadsIdle.set(labels, fn.threadsIdle);
      generation.set(labels, fn.generation);
      for (const c of fn.connections) {
        const connection = { server: c.server, function: fn.name };
        this.#connectionUp.set(connection, c.connected ? 1 : 0);
        // The binding counts reconnects; re-adding its total each scrape keeps the counter monotonic.
        this.#reconnects.inc(connection, c.reconnects);
      }
    }
  }
}
