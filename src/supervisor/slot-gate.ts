import type { GrabGate } from '../worker/grab-gate.js';
import type { BoxShare } from './capacity/box-budget.js';
import type { RateLimit } from './capacity/rate-limit.js';

/**
 * The slots of one function on this box, shared by all its connections: grabs are sent
 * only while `running + outstanding grabs < concurrency + ahead`, and none while paused.
 * `ahead` is 0 unless the function prefetches: then that many jobs more may be held,
 * waiting here for a slot. A grab also needs the function's rate limit to allow one, and
 * a slot of the box (its BoxShare), when those are set: the three count alike, from the
 * grab to the end of the job its answer brought.
 */
export class SlotGate implements GrabGate {
  #concurrency: number;
  #ahead: number;
  #running = 0;
  #reserved = 0;
  #paused = false;
  #onFree: (() => void) | null = null;
  #rate: RateLimit | null = null;
  #box: BoxShare | null = null;

  constructor(concurrency: number, ahead = 0) {
    this.#concurrency = concurrency;
    this.#ahead = ahead;
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  /** Most jobs held at once: the concurrency plus those that may wait here for a slot. */
  get limit(): number {
    return this.#concurrency + this.#ahead;
  }

  /** Jobs held: counted from the answer that brought them until their handler ends. */
  get running(): number {
    return this.#running;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Slots neither holding a job nor promised to a grab on the wire. */
  get free(): number {
    return this.#paused ? 0 : Math.max(0, this.limit - this.#running - this.#reserved);
  }

  /** A lower limit applies as jobs end; nothing running is stopped. */
  setConcurrency(concurrency: number, ahead = this.#ahead): void {
    this.#concurrency = concurrency;
    this.#ahead = ahead;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
  }

  /** The rate limit and box share this function's grabs need too (null: none). */
  setRateLimit(rate: RateLimit | null): void {
    this.#rate?.stop();
    this.#rate = rate;
  }

  get rateLimit(): RateLimit | null {
    return this.#rate;
  }

  setBoxShare(box: BoxShare | null): void {
    this.#box = box;
  }

  get boxShare(): BoxShare | null {
    return this.#box;
  }

  // The function's own slots first: a function at its concurrency does not want a box slot.
  tryReserve(): boolean {
    if (this.free < 1) return false;
    if (this.#rate !== null && !this.#rate.tryTake()) return false;
    if (this.#box !== null && !this.#box.tryReserve()) {
      this.#rate?.giveBack();
      return false;
    }
    this.#reserved++;
    return true;
  }

  /**
   * A grab was answered. With a job, its reservation becomes the job in the same step:
   * the connection grabs for its other slots right after this, and a job counted only
   * once its handler starts would leave its slot looking free to those grabs (issue 10
   * item 4: 5 running at gearmand with concurrency 4). Without one (NO_JOB, a dropped
   * connection), the slot is free again: connections the gate refused meanwhile must
   * hear of it, or their servers' jobs would wait (they sent no PRE_SLEEP, so those
   * servers will not NOOP them).
   */
  release(functionName?: string | null): void {
    const withJob = functionName !== null && functionName !== undefined;
    // A job no grab asked for (a server that assigns unasked) is counted all the same.
    const reserved = this.#reserved > 0;
    if (reserved) this.#reserved--;
    this.#rate?.settle(withJob, reserved);
    if (withJob) {
      this.#running++;
      if (!reserved) this.#box?.takeUnasked();
      return;
    }
    if (reserved) this.#box?.releaseEmpty();
    this.#onFree?.();
  }

  /** Called when a reservation ends without a job; the binding refills its connections. */
  onFree(listener: () => void): void {
    this.#onFree = listener;
  }

  /** A job the gate counted (from its grab's answer) has ended: its handler returned. */
  jobEnded(): void {
    if (this.#running === 0) return;
    this.#running--;
    this.#box?.jobEnded();
  }
}
