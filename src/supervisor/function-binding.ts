import { type Logger, silentLogger } from '../log.js';
import type { ServerAddress } from '../net/address.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../protocol/constants.js';
import { type Job, jobControl } from '../worker/job.js';
import { Worker } from '../worker/worker.js';
import type { BoxBudget, BoxShare, ShareOptions } from './capacity/box-budget.js';
import { isCpuBound } from './capacity/cpu-bound.js';
import type { ScalableFunction } from './capacity/function-scaling.js';
import { RateLimit } from './capacity/rate-limit.js';
import { threadsFor } from './capacity/scaling-book.js';
import type { ConnectionSnapshot } from './connection-snapshot.js';
import { DEFAULT_MAX_RESULT_SIZE } from './manifest/result-size.js';
import type { FunctionConfig, ServerConfig } from './manifest/types.js';
import { prefetchSlots } from './pool/thread-count.js';
import type { FunctionRuntime } from './runtime/function-runtime.js';
import { SlotGate } from './slot-gate.js';

const kResolved = Promise.resolve();

export interface BindingOptions {
  readonly servers: readonly ServerConfig[];
  readonly clientId?: string;
  readonly logger?: Logger;
  /** Passed to every Worker (tests shorten the re-grab timer). */
  readonly regrabIntervalMs?: number;
  /** The box's slots, shared with every other function (Supervisor.box). */
  readonly box?: BoxBudget;
}

/**
 * Ties one function's runtime to the job servers: a Worker per server holding that
 * server's connections, all registered for this one function and sharing its slots.
 * Giving each function its own connections keeps the rule "grab only with a free slot"
 * exact: a grab on a shared connection could bring a job of any of its functions,
 * including one with no slot left, which would then have to wait here.
 */
export class FunctionBinding implements ScalableFunction {
  readonly runtime: FunctionRuntime;
  readonly gate: SlotGate;
  readonly #log: Logger;
  readonly #clientId: string | undefined;
  readonly #regrabIntervalMs: number | undefined;
  #workers: Array<{ server: ServerConfig; worker: Worker; stats: ConnectionStats }> = [];
  #closing: Promise<void> | null = null;
  #refillScheduled = false;
  readonly #box: BoxBudget | undefined;
  readonly #share: BoxShare | undefined;

  constructor(runtime: FunctionRuntime, options: BindingOptions) {
    this.runtime = runtime;
    this.gate = new SlotGate(runtime.concurrency, prefetchSlots(runtime.config));
    this.#log = (options.logger ?? silentLogger).child({ function: runtime.name });
    this.#clientId = options.clientId;
    this.#regrabIntervalMs = options.regrabIntervalMs;
    this.#box = options.box;
    // The box wakes a function it has a slot for in its own turn: refill at once.
    this.#share = this.#box?.share(runtime.name, shareOptions(runtime.config), () => this.#refill());
    if (this.#share !== undefined) this.gate.setBoxShare(this.#share);
    this.applyBudget(runtime.config);
    this.#workers = options.servers.map((server) => this.#connect(server));
    // Deferred a tick: the release comes from inside one connection's packet handling.
    this.gate.onFree(() => this.#refillSoon());
  }

  get name(): string {
    return this.runtime.name;
  }

  /** Slots now (the gate's). */
  get concurrency(): number {
    return this.gate.concurrency;
  }

  /** Jobs held now, prefetched ones included (the gate's count). */
  get running(): number {
    return this.gate.running;
  }

  get paused(): boolean {
    return this.gate.paused;
  }

  /**
   * ScalableFunction (capacity/function-scaling.ts): the slots change now; when the
   * threads do not fit (a fixed function, or a manual value above a range's max), the
   * pool's most threads change in place first (no new generation; threads start on demand).
   */
  async resize(slots: number, declared: FunctionConfig | undefined): Promise<void> {
    const { config } = this.runtime;
    const threads = threadsFor(declared ?? config, slots);
    if (threads !== config.concurrency) await this.runtime.resize(threads);
    this.setConcurrency(slots);
  }

  /** Waits for each server's first connect attempt; servers that are down keep being retried. */
  async start(): Promise<void> {
    await Promise.all(this.#workers.map(({ worker }) => this.#startWorker(worker)));
  }

  /** Stops taking jobs of this function; running ones finish. */
  pause(): void {
    this.gate.pause();
  }

  resume(): void {
    this.gate.resume();
    this.#refill();
  }

  /**
   * New concurrency (or prefetch): slots change now; the thread pool follows with the
   * next generation.
   */
  setConcurrency(concurrency: number, ahead = prefetchSlots(this.runtime.config)): void {
    this.gate.setConcurrency(concurrency, ahead);
    // An autoscaled function may sit at 0 slots (min: 0): the gate then refuses every
    // grab, and the Worker, which needs at least 1, keeps 1.
    for (const { worker } of this.#workers) worker.setMaxJobs(Math.max(1, this.gate.limit));
    this.#refill();
  }

  /**
   * The function's weight, `cpu` and rate limit, applied live (a reload that changes
   * only these needs no new thread generation). A rate limit that stays the same keeps
   * its window.
   */
  applyBudget(config: FunctionConfig): void {
    if (this.#share !== undefined) this.#box?.updateShare(this.#share, shareOptions(config));
    const wanted = config.rateLimit;
    const current = this.gate.rateLimit;
    if (wanted === undefined) {
      if (current !== null) {
        this.gate.setRateLimit(null);
        this.#refill();
      }
    } else if (current === null) {
      this.gate.setRateLimit(new RateLimit(wanted, () => this.#refill()));
    } else if (current.config.jobs !== wanted.jobs || current.config.perMs !== wanted.perMs) {
      current.setConfig(wanted);
    }
  }

  /**
   * Points the function at a new server list: connections to new servers open first,
   * then those to dropped servers stop grabbing, finish their jobs and close.
   */
  async setServers(servers: readonly ServerConfig[], drainTimeoutMs: number): Promise<void> {
    const key = (s: ServerConfig) => `${s.host}:${s.port}:${s.connections}:${s.tls ? 'tls' : ''}`;
    const wanted = new Map(servers.map((s) => [key(s), s]));
    const keep = this.#workers.filter((w) => wanted.has(key(w.server)));
    const drop = this.#workers.filter((w) => !wanted.has(key(w.server)));
    const have = new Set(keep.map((w) => key(w.server)));
    const added = servers.filter((s) => !have.has(key(s))).map((s) => this.#connect(s));
    this.#workers = [...keep, ...added];
    await Promise.all(added.map(({ worker }) => this.#startWorker(worker)));
    await Promise.all(drop.map(({ worker }) => worker.close({ timeoutMs: drainTimeoutMs })));
  }

  connections(): ConnectionSnapshot[] {
    return this.#workers.map(({ server, worker, stats }) => ({
      server: `${server.host}:${server.port}`,
      connections: server.connections,
      connected: stats.connected > 0 && !worker.closed,
      up: worker.closed ? 0 : Math.min(stats.connected, server.connections),
      reconnects: stats.reconnects,
      lastError: stats.lastError,
    }));
  }

  /**
   * Stops grabbing and lets running jobs finish until `deadline` (a performance.now()
   * time). Then the connections give up on what still runs (its answer is never sent,
   * so the server requeues it and no job is both answered and requeued) and close, and
   * the threads and command process groups still running are ended. `force` gives up
   * at once. Idempotent.
   */
  close(options: { deadline: number; force?: boolean }): Promise<void> {
    this.#closing ??= (async () => {
      this.gate.pause();
      const timeoutMs = Math.max(0, options.deadline - performance.now());
      const force = options.force === true;
      await Promise.allSettled(this.#workers.map(({ worker }) => worker.close({ timeoutMs, force })));
      if (force) await this.runtime.destroy();
      else await this.runtime.close(options.deadline);
      this.gate.setRateLimit(null);
      if (this.#share !== undefined) this.#box?.remove(this.#share);
    })();
    return this.#closing;
  }

  #connect(server: ServerConfig): { server: ServerConfig; worker: Worker; stats: ConnectionStats } {
    const address: ServerAddress = server.tls
      ? { host: server.host, port: server.port, tls: server.tls }
      : { host: server.host, port: server.port };
    const worker = new Worker({
      servers: [address],
      connectionsPerServer: server.connections,
      maxJobs: Math.max(1, this.gate.limit),
      gate: this.gate,
      logger: this.#log,
      maxFrameSize: frameLimit(this.runtime.config),
      ...(this.#clientId === undefined ? {} : { clientId: this.#clientId }),
      ...(this.#regrabIntervalMs === undefined ? {} : { regrabIntervalMs: this.#regrabIntervalMs }),
    });
    const stats: ConnectionStats = { connected: 0, reconnects: 0, lastError: null };
    worker.on('connect', ({ reconnect }) => {
      stats.connected++;
      if (reconnect) stats.reconnects++;
    });
    worker.on('disconnect', ({ error }) => {
      stats.connected = Math.max(0, stats.connected - 1);
      stats.lastError = error.message;
    });
    worker.on('error', (error) => {
      stats.lastError = error.message;
    });
    // The job's server goes with it: its retries and dead letter are submitted there.
    worker.register(this.runtime.name, (job) => this.#run(job, server));
    return { server, worker, stats };
  }

  async #startWorker(worker: Worker): Promise<void> {
    try {
      await worker.start();
    } catch (err) {
      this.#log.warn({ err }, 'job server not reachable yet; retrying in the background');
    }
  }

  /** The gate counts the job already: from the answer that brought it (SlotGate.release). */
  #run(job: Job, server: ServerConfig): Promise<void> {
    return this.runtime.run(job, (listener) => jobControl.onLost(job, listener), this.#jobEnded, server);
  }

  /**
   * A job ended, just before its result is sent: its slot frees now, so the connection
   * that sends the result grabs for it behind the result, in the same write (the job
   * server then sees the job end before the next one starts). The others are refilled
   * once that has happened, for what that connection did not take (it may be asleep, or
   * the job lost with its connection).
   */
  readonly #jobEnded = (): void => {
    this.gate.jobEnded();
    this.#refillSoon();
  };

  /** Refills every connection once this turn's job ends and answers are through. */
  #refillSoon(): void {
    if (this.#refillScheduled) return;
    this.#refillScheduled = true;
    // A promise reaction rather than queueMicrotask, which builds an AsyncResource per call.
    void kResolved.then(this.#refillNow);
  }

  readonly #refillNow = (): void => {
    this.#refillScheduled = false;
    this.#refill();
  };

  /** A slot came free: let every connection grab again (those asleep wait for NOOP). */
  #refill(): void {
    for (const { worker } of this.#workers) worker.refill();
  }
}

/** A function's settings apart from those applyBudget applies live (weight, cpu, rateLimit). */
export function withoutBudget(config: FunctionConfig): FunctionConfig {
  const { weight: _weight, cpu: _cpu, rateLimit: _rateLimit, ...rest } = config;
  return rest as FunctionConfig;
}

function shareOptions(config: FunctionConfig): ShareOptions {
  return { weight: config.weight ?? 1, cpu: isCpuBound(config) };
}

/** Room in a frame beyond its result: the job handle (at most 64 bytes) and its NUL. */
const kFrameOverhead = 1024;

/**
 * The connections' frame limit: the library's default, or more when the function's
 * maxResultSize asks for it, so that the runtime's check is the one that applies (a
 * later reload that raises maxResultSize further gets the library's own refusal, with
 * its reason, until the next start).
 */
function frameLimit(config: FunctionConfig): number {
  const wanted = (config.maxResultSize ?? DEFAULT_MAX_RESULT_SIZE) + kFrameOverhead;
  return Math.max(DEFAULT_MAX_FRAME_SIZE, wanted);
}

interface ConnectionStats {
  connected: number;
  reconnects: number;
  lastError: string | null;
}
