import type { GrabGate } from './grab-gate.js';
import { type Job, jobControl } from './job.js';

/**
 * The job slots of one worker connection: handlers running plus grabs awaiting their
 * answer stay within maxJobs, and a shared gate, when there is one, holds a reservation
 * for each grab until it is answered. A grab answered with a job becomes that job in one
 * step, here and in the gate, so no grab sent after it can see its slot as free. It also
 * keeps its own drain waiters: they resolve once nothing runs and no grab is out. Only
 * GrabScheduler changes the counts (each change is an event it decides a grab on); the
 * rest of the worker reads them.
 */
export class JobSlots {
  readonly #gate: GrabGate | undefined;
  #maxJobs: number;
  /** Grabs sent whose answer has not come. */
  #outstanding = 0;
  /** Jobs whose handlers have not returned yet (lost ones included: they still hold a slot). */
  readonly #running = new Set<Job>();
  #drainWaiters: Array<() => void> = [];
  #drainCheckQueued = false;

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

  /** A grab brought `job`: its grab's slot (and the gate's reservation) becomes the job's. */
  assigned(job: Job): void {
    // With no grab out (a server that assigns unasked), the gate still counts the job.
    if (this.#outstanding > 0) this.#outstanding--;
    this.#running.add(job);
    this.#gate?.release(job.functionName);
  }

  /** One grab was answered with nothing (NO_JOB, a refused probe, a job nobody here runs). */
  answered(): void {
    if (this.#outstanding === 0) return;
    this.#outstanding--;
    this.#gate?.release(null);
    this.#changed();
  }

  /** No grab sent so far will be answered (the connection closed or dropped). */
  answerAll(): void {
    while (this.#outstanding > 0) this.answered();
  }

  /** Frees the job's slot; false when it held none any more. */
  remove(job: Job): boolean {
    if (!this.#running.delete(job)) return false;
    this.#changed();
    return true;
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

  /**
   * A slot came free: drain waiters are checked once the current packet or job has been
   * handled, since the grab that refills the slot follows in the same tick (a waiter must
   * not hear "drained" with that grab on the wire). Free when nobody waits.
   */
  #changed(): void {
    if (this.#drainWaiters.length === 0 || this.#drainCheckQueued) return;
    this.#drainCheckQueued = true;
    queueMicrotask(this.#checkDrained);
  }

  readonly #checkDrained = (): void => {
    this.#drainCheckQueued = false;
    if (!this.#isDrained()) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  };

  #isDrained(): boolean {
    return this.#running.size === 0 && this.#outstanding === 0;
  }
}
