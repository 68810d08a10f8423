import { Counter, Gauge, Registry } from 'prom-client';
import { collectProcessMetrics } from '../../process-metrics.js';
import type { GearmanServer } from '../server.js';

export interface ServerMetricsOptions {
  /** Add Node's process metrics (CPU, memory, event loop lag, GC). @defaultValue true */
  readonly defaultMetrics?: boolean;
}

type Priority = 'high' | 'normal' | 'low';
const kPriorities: readonly Priority[] = ['high', 'normal', 'low'];

/**
 * A job server's Prometheus metrics, read from a GearmanServer at each scrape, in a
 * registry of its own (never prom-client's global one, so that several servers, or a
 * server beside a supervisor, in one process do not collide). The server itself knows
 * nothing of prom-client: it keeps plain numbers (functionStats, jobTotals,
 * connectionStats, cacheStats), and counters here are set from its monotonic totals, as
 * the supervisor's reconnect counter is.
 *
 * The result cache's metrics are exported whether or not the cache is on (all 0 when
 * off); `gworker_server_stored_jobs` and `gworker_server_store_*` only with a durable store.
 *
 * @example
 * ```ts
 * const metrics = new ServerMetrics(server);
 * const text = await metrics.text(); // Prometheus text format
 * ```
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #server: GearmanServer;
  readonly #queued: Gauge<'function' | 'priority'>;
  readonly #running: Gauge<'function'>;
  readonly #workers: Gauge<'function'>;
  readonly #connections: Gauge<'kind'>;
  readonly #accepted: Counter;
  readonly #jobs: Gauge;
  readonly #submitted: Counter<'function'>;
  readonly #rejected: Counter<'function'>;
  /** Set only for functions with a cap: an absent series says "no cap", as 0 could mean none may run. */
  readonly #maxRunning: Gauge<'function'>;
  readonly #ended: Counter<'function' | 'outcome'>;
  /** Only a durable store has a count to report: an absent metric says "no store", 0 would lie. */
  readonly #stored: Gauge | null;
  readonly #storeWritable: Gauge | null;
  readonly #pendingDeletes: Gauge | null;
  readonly #cacheHits: Counter;
  readonly #cacheMisses: Counter;
  readonly #cacheEntries: Gauge;
  readonly #cacheBytes: Gauge;

  constructor(server: GearmanServer, options: ServerMetricsOptions = {}) {
    this.#server = server;
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectProcessMetrics(this.registry);
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Gauge<L>({ name, help, labelNames, registers });
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    this.#queued = gauge(
      'gworker_server_queued_jobs',
      'Jobs waiting for a worker (in a queue or for their epoch time), by function and priority, as prioritystatus reports them',
      ['function', 'priority'],
    );
    this.#running = gauge('gworker_server_running_jobs', 'Jobs a worker runs now, by function', ['function']);
    this.#maxRunning = gauge(
      'gworker_server_max_running',
      'The maxrunning cap on jobs running at once, by function (only functions with a cap)',
      ['function'],
    );
    this.#workers = gauge(
      'gworker_server_workers',
      'Connections that registered the function (CAN_DO), by function',
      ['function'],
    );
    this.#connections = gauge(
      'gworker_server_connections',
      'Open connections, by kind: worker (registered a function) or client (clients and admin tools)',
      ['kind'],
    );
    this.#accepted = counter('gworker_server_connections_total', 'Connections accepted since start', []);
    this.#jobs = gauge(
      'gworker_server_jobs',
      'Jobs the server holds (waiting, scheduled and running); --max-jobs bounds it',
      [],
    );
    this.#submitted = counter(
      'gworker_server_jobs_submitted_total',
      'Submit requests, by function (coalesced and cache-answered submits included)',
      ['function'],
    );
    this.#rejected = counter(
      'gworker_server_jobs_rejected_total',
      'Submits refused with QUEUE_ERROR (queue full, or the store refused the job), by function',
      ['function'],
    );
    this.#ended = counter(
      'gworker_server_jobs_total',
      "Jobs ended by a worker's answer, by function and outcome (complete, fail, exception)",
      ['function', 'outcome'],
    );
    this.#stored =
      server.storedJobCount === null
        ? null
        : gauge('gworker_server_stored_jobs', 'Background jobs held in the durable store', []);
    const durable = server.storeHealth !== null;
    this.#storeWritable = durable
      ? gauge(
          'gworker_server_store_writable',
          '1 while the durable store commits; 0 while it cannot (full disk): background submits get QUEUE_ERROR',
          [],
        )
      : null;
    this.#pendingDeletes = durable
      ? gauge(
          'gworker_server_store_pending_deletes',
          'Deletes of ended jobs not yet committed to the durable store (retried until they commit)',
          [],
        )
      : null;
    this.#cacheHits = counter(
      'gworker_server_result_cache_hits_total',
      'Foreground submits answered from the result cache (0 while the cache is off)',
      [],
    );
    this.#cacheMisses = counter(
      'gworker_server_result_cache_misses_total',
      'Foreground submits with a unique to a cached function that found no result',
      [],
    );
    this.#cacheEntries = gauge('gworker_server_result_cache_entries', 'Results in the result cache', []);
    this.#cacheBytes = gauge('gworker_server_result_cache_bytes', 'Bytes of results in the result cache', []);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The metrics in Prometheus text format, read from the server now. */
  async text(): Promise<string> {
    this.#refresh();
    return this.registry.metrics();
  }

  #refresh(): void {
    const server = this.#server;
    // Reset first: a dropped function must disappear rather than keep its last values.
    for (const metric of [this.#queued, this.#running, this.#workers, this.#maxRunning]) metric.reset();
    for (const fn of server.functionStats()) {
      const labels = { function: fn.function };
      for (const priority of kPriorities) {
        this.#queued.set({ function: fn.function, priority }, fn.waiting[priority]);
      }
      this.#running.set(labels, fn.running);
      this.#workers.set(labels, fn.workers);
      if (fn.maxRunning > 0) this.#maxRunning.set(labels, fn.maxRunning);
    }
    const connections = server.connectionStats;
    this.#connections.set({ kind: 'worker' }, connections.workers);
    this.#connections.set({ kind: 'client' }, connections.clients);
    setCounter(this.#accepted, connections.accepted);
    this.#jobs.set(server.jobCount);
    // The server's totals only grow; re-adding them after a reset keeps each counter monotonic.
    for (const metric of [this.#submitted, this.#rejected, this.#ended]) metric.reset();
    for (const totals of server.jobTotals()) {
      const fn = totals.function;
      this.#submitted.inc({ function: fn }, totals.submitted);
      this.#rejected.inc({ function: fn }, totals.rejected);
      this.#ended.inc({ function: fn, outcome: 'complete' }, totals.completed);
      this.#ended.inc({ function: fn, outcome: 'fail' }, totals.failed);
      this.#ended.inc({ function: fn, outcome: 'exception' }, totals.excepted);
    }
    const stored = server.storedJobCount;
    if (this.#stored !== null && stored !== null) this.#stored.set(stored);
    const health = server.storeHealth;
    if (health !== null) {
      this.#storeWritable?.set(health.writable ? 1 : 0);
      this.#pendingDeletes?.set(health.pendingDeletes);
    }
    const cache = server.cacheStats;
    setCounter(this.#cacheHits, cache.hits);
    setCounter(this.#cacheMisses, cache.misses);
    this.#cacheEntries.set(cache.entries);
    this.#cacheBytes.set(cache.bytes);
  }
}

function setCounter(counter: Counter, value: number): void {
  counter.reset();
  counter.inc(value);
}
