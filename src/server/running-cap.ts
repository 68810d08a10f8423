import type { Logger } from '../log.js';
import type { FunctionEntry } from './function-entry.js';
import { wakeSleepers } from './wakeup.js';

/**
 * gworker's per-function cap on jobs running at once across all workers (admin
 * `maxrunning FUNC [N]`, `--max-running FUNC=N`; no Gearman server has one). While a
 * function runs `maxRunning` jobs, a grab skips its queues (the worker gets another
 * function's job, or NO_JOB), PRE_SLEEP does not count its jobs as runnable, and a new
 * job of it wakes no sleeper; when one of its running jobs ends or goes back to the
 * queue, as many sleepers are woken as jobs may start then. With no cap (0) every check
 * is one field compared with 0.
 */

/** Whether `fn` runs as many jobs as its cap allows (never, without a cap). */
export function atCap(fn: FunctionEntry): boolean {
  return fn.maxRunning !== 0 && fn.running >= fn.maxRunning;
}

/**
 * A running job of a capped `fn` left its worker (it ended, or goes back to its queue).
 * When the function was at its cap before, new jobs woke nobody: NOOP as many sleepers
 * as jobs may start now (free slots, at most the jobs queued). A requeued job is queued
 * after this call and wakes sleepers itself.
 */
export function capSlotFreed(fn: FunctionEntry): void {
  if (fn.running + 1 < fn.maxRunning) return;
  wakeForFreeSlots(fn);
}

/** The cap was raised or removed: wake as many sleepers as jobs may start now. */
export function wakeForFreeSlots(fn: FunctionEntry): void {
  const queued = fn.queued;
  const free = fn.maxRunning === 0 ? queued : Math.min(fn.maxRunning - fn.running, queued);
  if (free > 0) wakeSleepers(fn, free);
}

const kCapLogIntervalMs = 60_000;

/**
 * The cap holds a job back: says so in the log at most once a minute per function, so
 * an operator sees why jobs wait while workers idle, without a line per job.
 */
export function noteHeldBack(fn: FunctionEntry, log: Logger, now: number): void {
  if (now - fn.capLoggedAt < kCapLogIntervalMs) return;
  fn.capLoggedAt = now;
  log.info(
    {
      function: fn.displayName,
      maxRunning: fn.maxRunning,
      running: fn.running,
      waiting: fn.total - fn.running,
    },
    'jobs wait: the function runs as many jobs as its maxrunning cap allows',
  );
}
