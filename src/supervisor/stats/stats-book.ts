import type { Logger } from '../../log.js';
import { FunctionStats } from './function-stats.js';

/** What a reload's record tells the supervisor's listeners (its `reload` event). */
export interface ReloadRecord {
  readonly function: string;
  readonly ok: boolean;
  readonly generation: number;
  readonly error?: string;
}

/**
 * Every function's counters by name (FunctionStats), kept across reloads and for both
 * kinds of function (default and `dispatch: thread`), and the one place a reload's
 * outcome is recorded: counted, logged, and told to the supervisor's listeners.
 */
export class StatsBook {
  readonly #stats = new Map<string, FunctionStats>();
  readonly #log: Logger;
  readonly #reloaded: (record: ReloadRecord) => void;

  constructor(log: Logger, reloaded: (record: ReloadRecord) => void) {
    this.#log = log;
    this.#reloaded = reloaded;
  }

  /** The function's counters, made on first use. */
  for(fn: string): FunctionStats {
    let stats = this.#stats.get(fn);
    if (stats === undefined) {
      stats = new FunctionStats();
      this.#stats.set(fn, stats);
    }
    return stats;
  }

  /** A reload ended: with `error` it was rejected and the old code keeps serving. */
  recordReload(fn: string, generation: number, error?: Error): void {
    this.for(fn).recordReload(generation, error);
    if (error)
      this.#log.error(
        { function: fn, err: error },
        `reload rejected, old code keeps serving: ${error.message}`,
      );
    else this.#log.info({ function: fn, generation }, 'reloaded');
    this.#reloaded({
      function: fn,
      ok: error === undefined,
      generation,
      ...(error === undefined ? {} : { error: error.message }),
    });
  }
}
