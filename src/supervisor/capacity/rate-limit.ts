/** `rateLimit: { jobs, per }` of one function, `per` in milliseconds. */
export interface RateLimitConfig {
  readonly jobs: number;
  readonly perMs: number;
}

/** What status and metrics show of a function's rate limit. */
export interface RateLimitSnapshot {
  readonly jobs: number;
  readonly perMs: number;
  /** The limit holds grabs back now. */
  readonly throttled: boolean;
  /** Times the function reached its limit (one per stretch of being held back). */
  readonly hits: number;
  /** Time spent held back, in milliseconds, the current stretch included. */
  readonly throttledMs: number;
}

/**
 * An exact sliding window: at most `jobs` jobs start in any span of `per`. A job counts
 * from the answer that brought it (as the slots do); a grab on the wire counts as one
 * until its answer, so a burst of grabs cannot overshoot, and a grab answered with
 * NO_JOB costs nothing. Chosen over a token bucket because it is the promise a rate
 * limit in front of another service usually makes ("100 a minute", never 200 in one
 * minute, which a bucket of 100 refilling at 100/min allows); it keeps one timestamp per
 * job of the last `per`, so `jobs` is capped at MAX_RATE_JOBS. After an idle stretch
 * up to `jobs` may go at once: a short `per` (`{ jobs: 2, per: 100ms }`) paces them evenly.
 *
 * While the window is full, one timer waits for its oldest job to leave it, then
 * `onAvailable` lets the function's connections grab again: no polling.
 */
export class RateLimit {
  #config: RateLimitConfig;
  readonly #onAvailable: () => void;
  /** Start times of the jobs in the window, oldest first, from #head on. */
  #starts: number[] = [];
  #head = 0;
  #onWire = 0;
  #timer: NodeJS.Timeout | null = null;
  #throttledSince: number | null = null;
  #throttledMs = 0;
  #hits = 0;

  constructor(config: RateLimitConfig, onAvailable: () => void) {
    this.#config = config;
    this.#onAvailable = onAvailable;
  }

  get config(): RateLimitConfig {
    return this.#config;
  }

  /** A reload changed the limit: it applies to the window as it stands. */
  setConfig(config: RateLimitConfig): void {
    this.#config = config;
    this.#clearTimer();
    this.#onAvailable();
  }

  /** May one more grab go out? A yes counts it until its answer (settle). */
  tryTake(): boolean {
    const now = performance.now();
    this.#expire(now);
    if (this.#inWindow() + this.#onWire < this.#config.jobs) {
      this.#onWire++;
      if (this.#throttledSince !== null) {
        this.#throttledMs += now - this.#throttledSince;
        this.#throttledSince = null;
      }
      return true;
    }
    if (this.#throttledSince === null) {
      this.#throttledSince = now;
      this.#hits++;
    }
    this.#armTimer(now);
    return false;
  }

  /**
   * A grab's answer (`asked`; false for a job a server assigned unasked): with a job, the
   * job starts the count of its window; without, nothing is spent.
   */
  settle(withJob: boolean, asked = true): void {
    if (asked && this.#onWire > 0) this.#onWire--;
    if (!withJob) return;
    const now = performance.now();
    this.#starts.push(now);
    // Refused while the window was full of grabs on the wire, the function has no timer
    // yet: it needs one for when this job leaves the window (its jobs may run for longer).
    if (this.#throttledSince !== null) this.#armTimer(now);
  }

  /** A grab the limit allowed was not sent after all (another gate said no). */
  giveBack(): void {
    if (this.#onWire > 0) this.#onWire--;
  }

  snapshot(): RateLimitSnapshot {
    const now = performance.now();
    const current = this.#throttledSince === null ? 0 : now - this.#throttledSince;
    return {
      jobs: this.#config.jobs,
      perMs: this.#config.perMs,
      throttled: this.#throttledSince !== null,
      hits: this.#hits,
      throttledMs: Math.round(this.#throttledMs + current),
    };
  }

  stop(): void {
    this.#clearTimer();
  }

  #inWindow(): number {
    return this.#starts.length - this.#head;
  }

  #expire(now: number): void {
    const since = now - this.#config.perMs;
    while (this.#head < this.#starts.length && (this.#starts[this.#head] as number) <= since) this.#head++;
    // Compact now and then rather than shift() per job (O(n) each).
    if (this.#head > 1024 && this.#head * 2 > this.#starts.length) {
      this.#starts = this.#starts.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Wakes the function when the oldest job leaves the window (a full window of grabs on the wire wakes it by their answers). */
  #armTimer(now: number): void {
    if (this.#timer !== null || this.#inWindow() === 0) return;
    const oldest = this.#starts[this.#head] as number;
    // +1: a timer may fire a little early, and the job would still be in the window.
    const delay = Math.max(1, Math.ceil(oldest + this.#config.perMs - now) + 1);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#onAvailable();
    }, delay);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** Most jobs a rate limit's window may hold: it keeps one timestamp per job. */
export const MAX_RATE_JOBS = 1_000_000;
