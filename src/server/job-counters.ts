import type { FunctionEntry } from './function-entry.js';

/** What happened to one function's jobs since the server started. */
export interface JobTotals {
  /** The function's name as text (its bytes read as UTF-8, up to a NUL, as the admin listings cut it). */
  readonly function: string;
  /** Submit requests: new jobs, submits that joined a job by unique, and those the result cache answered. */
  readonly submitted: number;
  /** Submits refused: the queue was full (maxqueue, maxJobs) or the durable store refused the job. */
  readonly rejected: number;
  /** WORK_COMPLETE from a worker. */
  readonly completed: number;
  /** WORK_FAIL from a worker. */
  readonly failed: number;
  /** WORK_EXCEPTION from a worker. */
  readonly excepted: number;
}

/** One function's counters; the engine bumps the fields directly. @internal */
export class FunctionCounts {
  submitted = 0;
  rejected = 0;
  completed = 0;
  failed = 0;
  excepted = 0;
}

/**
 * Monotonic job counters per function, for monitoring. Kept by name rather than on the
 * FunctionEntry, so a function dropped (`drop function`) and known again later carries on
 * counting where it was: Prometheus counters must not go back to zero while the server runs.
 * Costs one map lookup per counted event, none for pipelined submits to one function.
 */
export class JobCounters {
  readonly #byName = new Map<string, FunctionCounts>();
  #lastName: string | null = null;
  #last: FunctionCounts | null = null;

  /** The counters of `fn`, created on first use. */
  of(fn: FunctionEntry): FunctionCounts {
    // Same string object for every job of one FunctionEntry: a pointer compare in V8.
    if (fn.name === this.#lastName) return this.#last as FunctionCounts;
    let counts = this.#byName.get(fn.name);
    if (counts === undefined) {
      counts = new FunctionCounts();
      this.#byName.set(fn.name, counts);
    }
    this.#lastName = fn.name;
    this.#last = counts;
    return counts;
  }

  /** A copy of every function's counters, in the order the functions were first counted. */
  snapshot(): JobTotals[] {
    const out: JobTotals[] = [];
    for (const [name, counts] of this.#byName) {
      out.push({
        function: functionText(name),
        submitted: counts.submitted,
        rejected: counts.rejected,
        completed: counts.completed,
        failed: counts.failed,
        excepted: counts.excepted,
      });
    }
    return out;
  }
}

/** A function name kept as a latin1 string of its bytes, as text: UTF-8, up to the first NUL. */
export function functionText(name: string): string {
  const nul = name.indexOf('\0');
  return Buffer.from(nul === -1 ? name : name.slice(0, nul), 'latin1').toString('utf8');
}
