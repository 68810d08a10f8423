import type { ScalingReport } from './capacity/scaling-book.js';
import type { FunctionBinding } from './function-binding.js';
import type { FunctionStats } from './stats/function-stats.js';
import type { FunctionSnapshot } from './supervisor-types.js';

/** One function as status, top, the dashboard and /metrics show it. */
export function functionSnapshot(
  binding: FunctionBinding,
  stats: FunctionStats,
  scaling: ScalingReport,
): FunctionSnapshot {
  const prefetched = binding.runtime.waiting;
  return {
    name: binding.name,
    kind: binding.runtime.config.kind,
    concurrency: binding.gate.concurrency,
    scaling,
    // The gate counts every job held here; those still waiting in a thread do not run.
    running: Math.max(0, binding.gate.running - prefetched),
    prefetched,
    paused: binding.gate.paused,
    threads: binding.runtime.threads,
    threadsStarted: binding.runtime.threadsStarted,
    threadsIdle: binding.runtime.threadsIdle,
    isolation: binding.runtime.isolation,
    generation: binding.runtime.generation,
    ...statsFields(stats),
    weight: binding.gate.boxShare?.weight ?? 1,
    rateLimit: binding.gate.rateLimit?.snapshot() ?? null,
    connections: binding.connections(),
  };
}

/** A function's counters as every kind of function reports them (stats/function-stats.ts). */
export function statsFields(
  stats: FunctionStats,
): Pick<
  FunctionSnapshot,
  | 'done'
  | 'failed'
  | 'excepted'
  | 'jobsPerSecond'
  | 'p50Ms'
  | 'p95Ms'
  | 'p99Ms'
  | 'lastReload'
  | 'outputDroppedBytes'
> {
  const [p50Ms = null, p95Ms = null, p99Ms = null] = stats.durations.percentiles([50, 95, 99]);
  return {
    done: stats.done,
    failed: stats.failed,
    excepted: stats.excepted,
    jobsPerSecond: stats.rate.perSecond(),
    p50Ms,
    p95Ms,
    p99Ms,
    lastReload: stats.lastReload,
    outputDroppedBytes: stats.outputDroppedBytes,
  };
}
