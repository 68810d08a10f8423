import type { Logger } from '../../log.js';
import type { BoxBudget } from './box-budget.js';
import { treeResidentMb } from './tree-memory.js';

const kDefaultIntervalMs = 1000;

export interface MemoryGuardSnapshot {
  readonly limitMb: number;
  /** Resident MB at the last sample: the supervisor and every process under it. */
  readonly residentMb: number;
  /** Grabs are held back now. */
  readonly over: boolean;
  /** Times memory went over the limit. */
  readonly episodes: number;
}

/**
 * `box.memoryMb`: samples the resident memory of the supervisor and its processes and,
 * while it is over the limit, holds every function's grabs (running jobs go on; their
 * jobs wait at the job servers for boxes with room). One warning when it goes over,
 * with the figures, and one info line when it is back under: not one per sample.
 * Sampling costs a few /proc reads per process, once a second.
 */
export class MemoryGuard {
  readonly #budget: BoxBudget;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #limitMb: number;
  #residentMb = 0;
  #episodes = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(budget: BoxBudget, limitMb: number, log: Logger, options: { intervalMs?: number } = {}) {
    this.#budget = budget;
    this.#limitMb = limitMb;
    this.#log = log;
    this.#intervalMs = options.intervalMs ?? kDefaultIntervalMs;
    this.check();
    this.#timer = setInterval(() => this.check(), this.#intervalMs);
    this.#timer.unref();
  }

  setLimit(limitMb: number): void {
    this.#limitMb = limitMb;
    this.check();
  }

  /** Takes a sample now and holds or releases the box. */
  check(): void {
    this.#residentMb = treeResidentMb();
    const over = this.#residentMb > this.#limitMb;
    if (over === this.#budget.memoryHeld) return;
    const figures = { residentMb: this.#residentMb, memoryMb: this.#limitMb };
    if (over) {
      this.#episodes++;
      this.#log.warn(
        figures,
        `box memory ${this.#residentMb} MiB is over box.memoryMb ${this.#limitMb} MiB: no function takes new jobs until it is back under`,
      );
    } else {
      this.#log.info(
        figures,
        `box memory ${this.#residentMb} MiB is back under box.memoryMb: taking jobs again`,
      );
    }
    this.#budget.holdForMemory(over);
  }

  snapshot(): MemoryGuardSnapshot {
    return {
      limitMb: this.#limitMb,
      residentMb: this.#residentMb,
      over: this.#budget.memoryHeld,
      episodes: this.#episodes,
    };
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#budget.holdForMemory(false);
  }
}
