import type { GrabGate } from './grab-gate.js';
import { type Job, jobControl } from './job.js';

/**
 * The job slots of one worker connection: handlers running plus grabs awaiting their
 * answer stay within maxJobs, and a shared gate, when there is one, holds a reservation
 * for each grab until it is answered. Also who waits for them all to be empty.
 */
export class JobSlots {
  readonly #gate: GrabGate | undefined;
  #maxJobs: number;
  /** Grabs sent whose answer has not come. */
  #outstanding = 0;
  /** Jobs whose handlers have not returned yet (lost ones included: they still hold a slot). */
  readonly #running = new Set<Job>();
  #drainWaiters: Array<() => void> = [];

  constructor(maxJobs: number, gate: GrabGate | undefined) {
    this.#maxJobs = maxJobs;
    this.#gate = gate;
  }

  get running(): number {
    return this.#running.size;
  }

  get outstanding(): number {
    return this.#outstanding;
  }

  /** Slots neither running a handler nor awaiting a grab's answer. */
  get free(): number {
    return this.#maxJobs - this.#running.size - this.#outstanding;
  }

  /** Fewer handlers run than maxJobs, whatever the grabs out. */
  get runningBelowMax(): boolean {
    return this.#running.size < this.#maxJobs;
  }

  setMaxJobs(maxJobs: number): void {
    this.#maxJobs = maxJobs;
  }

  /** May one more grab be sent? The shared gate's yes reserves a slot for what it brings. */
  tryReserve(): boolean {
    return this.#gate === undefined || this.#gate.tryReserve();
  }

  grabSent(): void {
    this.#outstanding++;
  }

  /** One grab was answered (with a job of `functionName`, or with nothing). */
  answered(functionName: string | null): void {
    if (this.#outstanding === 0) return;
    this.#outstanding--;
    this.#gate?.release(functionName);
  }

  /** No grab sent so far will be answered (the connection closed or dropped). */
  answerAll(): void {
    while (this.#outstanding > 0) this.answered(null);
  }

  add(job: Job): void {
    this.#running.add(job);
  }

  /** Frees the job's slot; false when it held none any more. */
  remove(job: Job): boolean {
    return this.#running.delete(job);
  }

  /** Aborts every running job: its result will not be sent. */
  abandonAll(reason: Error): void {
    for (const job of this.#running) jobControl.abandon(job, reason);
  }

  /** Resolves once no handler runs and no grab awaits its answer. */
  drained(): Promise<void> {
    if (this.#isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  checkDrained(): void {
    if (this.#drainWaiters.length === 0 || !this.#isDrained()) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #isDrained(): boolean {
    return this.#running.size === 0 && this.#outstanding === 0;
  }
}
