import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from './latency-histogram.js';

/** Where the progress display reads how far the input is (null when unknown, e.g. a pipe). */
export interface InputProgress {
  /** Bytes of input consumed so far. */
  readonly position: number;
  /** The input's size in bytes, when it is a regular file. */
  readonly size: number | null;
}

/** What a progress line or the summary shows. */
export interface BatchSnapshot {
  readonly finished: number;
  readonly failed: number;
  /** Jobs in total once the input is read to its end; null before. */
  readonly total: number | null;
  /** The total estimated from the bytes read so far, when the input size is known. */
  readonly estimatedTotal: number | null;
  readonly elapsedMs: number;
  /** Finished jobs per second since the start. */
  readonly rate: number;
  /** Seconds until the last job finishes at the current rate; null when unknown. */
  readonly etaSeconds: number | null;
}

/** Counters of one batch run: jobs started and finished, failures and latencies. */
export class BatchStats {
  readonly latency = new LatencyHistogram();
  readonly #startedAt = performance.now();
  readonly #input: InputProgress;
  #submitted = 0;
  #succeeded = 0;
  #failed = 0;
  #inputEnded = false;

  constructor(input: InputProgress) {
    this.#input = input;
  }

  get submitted(): number {
    return this.#submitted;
  }

  get failed(): number {
    return this.#failed;
  }

  get succeeded(): number {
    return this.#succeeded;
  }

  /** A job was sent; returns its index (0-based, in input order). */
  started(): number {
    return this.#submitted++;
  }

  finished(ok: boolean, latencyMs: number): void {
    if (ok) this.#succeeded++;
    else this.#failed++;
    this.latency.record(latencyMs);
  }

  /** No more lines: the total is known. */
  inputEnded(): void {
    this.#inputEnded = true;
  }

  snapshot(): BatchSnapshot {
    const elapsedMs = performance.now() - this.#startedAt;
    const finished = this.#succeeded + this.#failed;
    const rate = elapsedMs > 0 ? (finished * 1000) / elapsedMs : 0;
    const total = this.#inputEnded ? this.#submitted : null;
    const { position, size } = this.#input;
    const estimatedTotal =
      total ??
      (size !== null && position > 0
        ? Math.max(this.#submitted, Math.round((this.#submitted * size) / position))
        : null);
    const target = total ?? estimatedTotal;
    const etaSeconds = target !== null && rate > 0 ? Math.max(0, target - finished) / rate : null;
    return { finished, failed: this.#failed, total, estimatedTotal, elapsedMs, rate, etaSeconds };
  }
}

/** `5s`, `2m05s`, `1h02m`. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Milliseconds with three significant digits or so: `0.412 ms`, `3.21 ms`, `125 ms`. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

export function formatRate(rate: number): string {
  return rate >= 100 ? String(Math.round(rate)) : rate.toFixed(1);
}

/**
 * The last line of a run, e.g.
 * `1000 jobs done, 3 failed, in 1.23 s (812.3 jobs/s); latency p50 3.21 ms, p99 12.4 ms`.
 */
export function formatSummary(stats: BatchStats): string {
  const snap = stats.snapshot();
  const p50 = stats.latency.percentile(50);
  const p99 = stats.latency.percentile(99);
  const latency = p50 === null || p99 === null ? '' : `; latency p50 ${formatMs(p50)}, p99 ${formatMs(p99)}`;
  const jobs = snap.finished === 1 ? 'job' : 'jobs';
  return `${snap.finished} ${jobs} done, ${snap.failed} failed, in ${(snap.elapsedMs / 1000).toFixed(2)} s (${formatRate(snap.rate)} jobs/s)${latency}`;
}
