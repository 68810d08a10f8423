import type { Logger } from '../log.js';
import type { AutoscalerOptions } from './capacity/autoscaler.js';
import type { RateLimitSnapshot } from './capacity/rate-limit.js';
import type { ScaleChange, ScalingReport } from './capacity/scaling-book.js';
import type { ConnectionSnapshot } from './connection-snapshot.js';
import type { FunctionConfig, ServerConfig } from './manifest/types.js';
import type { JobEndInfo } from './runtime/function-runtime.js';
import type { ReloadRecord } from './stats/function-stats.js';

/** What the Supervisor (supervisor.ts) takes, tells and shows: its public types. */

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
  /** A new generation of a function's threads took over (start, reload, recycle after maxJobsPerThread). */
  generation: [info: { function: string; generation: number; cause: string }];
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
