import type { Logger } from '../../log.js';
import type { BoxConfig } from '../manifest/types.js';
import { BoxBudget, type BoxLimits } from './box-budget.js';
import { MemoryGuard, type MemoryGuardSnapshot } from './memory-guard.js';
import { usableCores } from './usable-cores.js';

/** The box's budget as status shows it. */
export interface BoxSnapshot {
  /** `box.slots`; null when there is no bound. */
  readonly slots: number | null;
  /** Slots held now: jobs and grabs on the wire, of every function. */
  readonly used: number;
  readonly cpuSlots: number;
  readonly cpuUsed: number;
  /** Functions waiting for a slot of the box now. */
  readonly wanting: number;
  /** `box.memoryMb` and the last sample; null without it. */
  readonly memory: MemoryGuardSnapshot | null;
}

/**
 * The manifest's `box:` applied: the BoxBudget every function's gate shares, and the
 * MemoryGuard while `memoryMb` is set. The supervisor calls apply() at start and on
 * every reload, stop() when it stops.
 */
export class BoxControl {
  readonly budget: BoxBudget;
  readonly #log: Logger;
  #memory: MemoryGuard | null = null;
  #stopped = false;

  constructor(box: BoxConfig, log: Logger) {
    this.budget = new BoxBudget(boxLimits(box));
    this.#log = log;
  }

  /** New limits apply to new grabs at once; the memory guard starts, changes or stops. */
  apply(box: BoxConfig): void {
    if (this.#stopped) return;
    this.budget.setLimits(boxLimits(box));
    if (box.memoryMb === undefined) {
      this.#memory?.stop();
      this.#memory = null;
    } else if (this.#memory === null) {
      this.#memory = new MemoryGuard(this.budget, box.memoryMb, this.#log);
    } else {
      this.#memory.setLimit(box.memoryMb);
    }
  }

  status(): BoxSnapshot {
    const { slots, cpuSlots } = this.budget.limits;
    return {
      slots: Number.isFinite(slots) ? slots : null,
      used: this.budget.used,
      cpuSlots,
      cpuUsed: this.budget.cpuUsed,
      wanting: this.budget.wanting,
      memory: this.#memory?.snapshot() ?? null,
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#memory?.stop();
    this.#memory = null;
  }
}

/** `box:` as the budget applies it: no slot bound when unset, the usable cores for CPU-bound jobs. */
function boxLimits(box: BoxConfig): BoxLimits {
  return { slots: box.slots ?? Number.POSITIVE_INFINITY, cpuSlots: box.cpuSlots ?? usableCores() };
}
