import type { JobEndInfo } from '../runtime/function-runtime.js';

/** One job that did not complete, as the dashboard's last-errors panel and `GET /api/errors` show it. */
export interface FailureRecord {
  /** When it ended (ISO 8601). */
  readonly at: string;
  readonly function: string;
  readonly handle: string;
  /** What went back to the job server: WORK_FAIL or WORK_EXCEPTION. */
  readonly kind: 'fail' | 'exception';
  /**
   * What the handler threw (`TypeError`, `string`...), or what ended the job when it
   * threw nothing (`timeout`, `crash`, `oom`); null when neither is known (a command).
   */
  readonly type: string | null;
  /** Why, as the job's failure reason says it; cut at the record's limit (see `messageChars`). */
  readonly message: string;
  readonly generation: number;
}

export interface FunctionFailures {
  /** Failures this function had since the supervisor started, kept or not. */
  readonly total: number;
  /** The most recent ones, newest first; older ones were dropped past the ring's size. */
  readonly recent: readonly FailureRecord[];
}

export interface RecentFailuresOptions {
  /** Failures kept per function. @defaultValue 20 */
  readonly perFunction?: number;
  /** Longest message kept; a longer one is cut and says how much was left out. @defaultValue 2000 */
  readonly messageChars?: number;
  readonly now?: () => number;
}

/**
 * A bounded ring of each function's most recent failures with their messages, so the
 * operator reads why jobs failed, not only how many did ("Excepted 13"). Memory is
 * fixed: `perFunction` records per function, each message at most `messageChars` long.
 */
export class RecentFailures {
  readonly #perFunction: number;
  readonly #messageChars: number;
  readonly #now: () => number;
  readonly #rings = new Map<string, { total: number; records: FailureRecord[] }>();

  constructor(options: RecentFailuresOptions = {}) {
    this.#perFunction = positive('perFunction', options.perFunction ?? 20);
    this.#messageChars = positive('messageChars', options.messageChars ?? 2000);
    this.#now = options.now ?? Date.now;
  }

  /** Keeps the job's failure; a completed job is ignored. */
  record(info: JobEndInfo): void {
    if (info.result === 'complete') return;
    let ring = this.#rings.get(info.function);
    if (ring === undefined) {
      ring = { total: 0, records: [] };
      this.#rings.set(info.function, ring);
    }
    ring.total++;
    ring.records.unshift({
      at: new Date(this.#now()).toISOString(),
      function: info.function,
      handle: info.handle,
      kind: info.result,
      type: info.error?.name ?? info.threadEnded ?? null,
      message: this.#cut(info.reason ?? info.error?.message ?? ''),
      generation: info.generation,
    });
    if (ring.records.length > this.#perFunction) ring.records.length = this.#perFunction;
  }

  /** The function's failures; zero and none for a function that never failed. */
  of(fn: string): FunctionFailures {
    const ring = this.#rings.get(fn);
    return { total: ring?.total ?? 0, recent: ring === undefined ? [] : [...ring.records] };
  }

  /** Drops the failures of functions not named (they left the manifest). */
  retain(names: ReadonlySet<string>): void {
    for (const fn of this.#rings.keys()) if (!names.has(fn)) this.#rings.delete(fn);
  }

  #cut(message: string): string {
    if (message.length <= this.#messageChars) return message;
    const left = message.length - this.#messageChars;
    return `${message.slice(0, this.#messageChars)}… (${left} more characters not kept)`;
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a whole number of at least 1, got ${value}`);
  }
  return value;
}
