import type { FunctionConfig } from '../manifest/types.js';

/**
 * Whether a function's jobs count against the box's CPU slots. `cpu: true` says so; the
 * default is false because a module function's jobs are often I/O-bound (the tuned
 * bench runs 128 at once on one thread), and capping those at the core count would
 * throttle them for nothing. This is the one place to decide it: a function with
 * `concurrency: auto` (sized to the cores, so CPU-bound by its own account) counts too,
 * unless it says `cpu: false`.
 */
export function isCpuBound(config: FunctionConfig): boolean {
  return config.cpu ?? config.concurrencyAuto === true;
}
