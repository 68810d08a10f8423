/**
 * Events per second over a sliding window of whole seconds, in a ring of per-second
 * counters: O(1) to record, O(window) to read, no timers.
 */
export class RateWindow {
  readonly #counts: Uint32Array;
  #second = -1;
  readonly #now: () => number;

  constructor(windowSeconds = 60, now: () => number = Date.now) {
    this.#counts = new Uint32Array(windowSeconds);
    this.#now = now;
  }

  record(count = 1): void {
    this.#advance();
    const slot = this.#second % this.#counts.length;
    this.#counts[slot] = (this.#counts[slot] as number) + count;
  }

  /** Average events per second over the window (the current, partial second excluded). */
  perSecond(): number {
    this.#advance();
    let total = 0;
    const current = this.#second % this.#counts.length;
    for (let i = 0; i < this.#counts.length; i++) if (i !== current) total += this.#counts[i] as number;
    return total / (this.#counts.length - 1);
  }

  /** Counts per whole second, oldest first (the current second excluded): for charts. */
  series(): number[] {
    this.#advance();
    const out: number[] = [];
    const size = this.#counts.length;
    for (let i = 1; i < size; i++) out.push(this.#counts[(this.#second + i) % size] as number);
    return out;
  }

  #advance(): void {
    const second = Math.floor(this.#now() / 1000);
    if (this.#second === -1) {
      this.#second = second;
      return;
    }
    const gap = second - this.#second;
    if (gap <= 0) return;
    // Zero the seconds that passed without events (all of them after a long gap).
    for (let i = 1; i <= Math.min(gap, this.#counts.length); i++)
      this.#counts[(this.#second + i) % this.#counts.length] = 0;
    this.#second = second;
  }
}
