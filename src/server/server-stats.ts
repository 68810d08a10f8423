import type { FunctionEntry } from './function-entry.js';
import type { ServerJob } from './job.js';
import { functionText } from './job-counters.js';
import type { Peer } from './peer.js';

/**
 * One function's queue, as the admin `status` and `prioritystatus` commands report it,
 * read from the same counters rather than from their text.
 */
export interface ServerFunctionStats {
  /** The name as text (its bytes read as UTF-8, up to a NUL, as the admin listings cut it). */
  readonly function: string;
  /** Jobs waiting, in a queue or for their epoch time, per priority (`prioritystatus` HIGH, NORMAL, LOW). */
  readonly waiting: { readonly high: number; readonly normal: number; readonly low: number };
  /** Jobs a worker runs now (`status` RUNNING). */
  readonly running: number;
  /** Every job of the function, waiting or running (`status` TOTAL). */
  readonly total: number;
  /** Connections that registered the function (`status` AVAILABLE_WORKERS). */
  readonly workers: number;
  /** The `maxrunning` cap on its running jobs; 0 when it has none. */
  readonly maxRunning: number;
}

/** Who is connected. */
export interface ConnectionStats {
  /** Open connections of every kind. */
  readonly open: number;
  /** Open connections that registered at least one function (CAN_DO). */
  readonly workers: number;
  /** The other open connections: clients and admin tools (a connection may submit and work). */
  readonly clients: number;
  /** Connections accepted since the server started. */
  readonly accepted: number;
}

/** A snapshot of every known function, in the order the admin listings use. */
export function functionStats(functions: Iterable<FunctionEntry>): ServerFunctionStats[] {
  const out: ServerFunctionStats[] = [];
  for (const fn of functions) {
    const [high, normal, low] = fn.waiting;
    out.push({
      function: functionText(fn.name),
      waiting: { high, normal, low },
      running: fn.running,
      total: fn.total,
      workers: fn.workers,
      maxRunning: fn.maxRunning,
    });
  }
  return out;
}

/** Counts workers among the open connections. */
export function connectionStats(peers: Iterable<Peer>, open: number, accepted: number): ConnectionStats {
  let workers = 0;
  for (const peer of peers) if (peer.abilities.length > 0) workers++;
  return { open, workers, clients: open - workers, accepted };
}

/**
 * Jobs held in a durable store: O(jobs), meant for a scrape every few seconds, not for a
 * hot path (a million jobs take a few milliseconds).
 */
export function storedJobCount(jobs: Iterable<ServerJob>): number {
  let count = 0;
  for (const job of jobs) if (job.storeKey !== undefined) count++;
  return count;
}
