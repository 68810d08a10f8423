import type { FunctionConfig, ModuleFunctionConfig } from '../manifest/types.js';

/**
 * Threads a function keeps while idle unless it sets `minThreads`. 0: an idle function
 * costs no thread (~17 MiB each), and its first job after idle waits for one to start
 * (docs/manifest.md gives the measured cost). The queue-backed runtimes operators know
 * (Sidekiq, BullMQ, GearmanManager) keep their workers up; here a box with many rarely
 * used functions is the case the default serves, and `minThreads: 1` restores the other.
 */
export const kDefaultMinThreads = 0;
/** How long a thread beyond minThreads sits without a job before it ends, unless `idleTimeout` says. */
export const kDefaultIdleTimeoutMs = 30_000;

/**
 * Handler threads a generation of this function runs at most: concurrency (or the
 * slots given) over jobs per thread, rounded up.
 */
export function threadCount(config: ModuleFunctionConfig, concurrency = config.concurrency): number {
  return Math.max(1, Math.ceil(concurrency / config.jobsPerThread));
}

/** Jobs the function may hold beyond its concurrency: `prefetch` for each of its threads. */
export function prefetchSlots(config: FunctionConfig): number {
  return config.kind === 'module' ? (config.prefetch ?? 0) * threadCount(config) : 0;
}
