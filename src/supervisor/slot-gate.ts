import type { GrabGate } from '../worker/grab-gate.js';

/**
 * The slots of one function on this box, shared by all its connections: grabs are sent
 * only while `running + outstanding grabs < concurrency`, and none while paused.
 */
export class SlotGate implements GrabGate {
  #concurrency: number;
  #running = 0;
  #reserved = 0;
  #paused = false;

  constructor(concurrency: number) {
    this.#concurrency = concurrency;
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  get running(): number {
    return this.#running;
  }

  get reserved(): number {
    return this.#reserved;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Slots neither running a job nor promised to a grab on the wire. */
  get free(): number {
    return this.#paused ? 0 : Math.max(0, this.#concurrency - this.#running - this.#reserved);
  }

  /** A lower limit applies as jobs end; nothing running is stopped. */
  setConcurrency(concurrency: number): void {
    this.#concurrency = concurrency;
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

  /** The job a grab brought starts in the same tick (jobStarted), so its slot is never seen free. */
  release(): void {
    if (this.#reserved > 0) this.#reserved--;
  }

  jobStarted(): void {
    this.#running++;
  }

  jobEnded(): void {
    if (this.#running > 0) this.#running--;
  }
}
