/**
 * The last N job durations, for percentiles on demand. A status request sorts a copy
 * (N log N for N = 2048 is far below a millisecond); recording costs one store.
 */
export class DurationSample {
  readonly #values: Float64Array;
  #count = 0;
  #next = 0;

  constructor(size = 2048) {
    this.#values = new Float64Array(size);
  }

  record(ms: number): void {
    this.#values[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#values.length;
    if (this.#count < this.#values.length) this.#count++;
  }

  /** Percentiles (0-100) of the sample, nearest-rank; null when empty. */
  percentiles(ranks: readonly number[]): Array<number | null> {
    if (this.#count === 0) return ranks.map(() => null);
    const sorted = this.#values.slice(0, this.#count).sort();
    return ranks.map((p) => {
      const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
      return sorted[index] as number;
    });
  }
}
