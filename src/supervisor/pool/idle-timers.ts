/**
 * One timer per idle thread: a thread beyond minThreads that has had no job for
 * idleTimeout ends (pool/handler-pool.ts). Unref'd: an idle thread's timer never keeps
 * the process up.
 */
export class IdleTimers<S extends object> {
  readonly #timers = new Map<S, NodeJS.Timeout>();
  readonly #ms: number;

  constructor(ms: number) {
    this.#ms = ms;
  }

  /** Calls `fire` once `stream` has been idle for the timeout, unless a job comes first. */
  arm(stream: S, fire: (stream: S) => void): void {
    if (this.#timers.has(stream)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(stream);
      fire(stream);
    }, this.#ms);
    timer.unref();
    this.#timers.set(stream, timer);
  }

  disarm(stream: S): void {
    const timer = this.#timers.get(stream);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#timers.delete(stream);
  }

  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
