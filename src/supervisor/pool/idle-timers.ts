/**
 * When each idle thread went idle, and one sweep that ends those idle for idleTimeout
 * (pool/thread-set.ts). Marking a thread idle or busy is a Map write, not a timer: it
 * happens around every job, while the sweep runs every half timeout, only while some
 * thread is idle (so a thread ends between 1 and 1.5 idleTimeouts after its last job).
 * Unref'd: it never keeps the process up.
 */
export class IdleTimers<S extends object> {
  readonly #since = new Map<S, number>();
  readonly #ms: number;
  readonly #fire: (stream: S) => void;
  #sweep: NodeJS.Timeout | null = null;

  constructor(ms: number, fire: (stream: S) => void) {
    this.#ms = ms;
    this.#fire = fire;
  }

  /** `stream` holds no job from now: `fire` runs for it once it has been idle for the timeout. */
  arm(stream: S): void {
    if (this.#since.has(stream)) return;
    this.#since.set(stream, performance.now());
    if (this.#sweep === null) {
      this.#sweep = setInterval(() => this.#check(), Math.max(1, this.#ms / 2));
      this.#sweep.unref();
    }
  }

  /** `stream` has a job again (or has ended). */
  disarm(stream: S): void {
    this.#since.delete(stream);
  }

  clear(): void {
    this.#since.clear();
    this.#stopSweep();
  }

  #check(): void {
    const now = performance.now();
    for (const [stream, since] of this.#since) {
      if (now - since < this.#ms) continue;
      this.#since.delete(stream);
      this.#fire(stream);
    }
    if (this.#since.size === 0) this.#stopSweep();
  }

  #stopSweep(): void {
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#sweep = null;
  }
}
