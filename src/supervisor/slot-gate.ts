import type { GrabGate } from '../worker/grab-gate.js';

/**
 * The slots of one function on this box, shared by all its connections: grabs are sent
 * only while `running + outstanding grabs < concurrency + ahead`, and none while paused.
 * `ahead` is 0 unless the function prefetches: then that many jobs more may be held,
 * waiting here for a slot.
 */
export class SlotGate implements GrabGate {
  #concurrency: number;
  #ahead: number;
  #running = 0;
  #reserved = 0;
  #paused = false;
  #onFree: (() => void) | null = null;

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

  tryReserve(): boolean {
    if (this.free < 1) return false;
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
    if (this.#reserved > 0) this.#reserved--;
    if (functionName === null || functionName === undefined) this.#onFree?.();
    else this.#running++;
  }

  /** Called when a reservation ends without a job; the binding refills its connections. */
  onFree(listener: () => void): void {
    this.#onFree = listener;
  }

  /** A job the gate counted (from its grab's answer) has ended: its handler returned. */
  jobEnded(): void {
    if (this.#running > 0) this.#running--;
  }
}
