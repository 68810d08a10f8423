/** Small numeric helpers for bench results; no dependency. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function min(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.min(...values);
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** The value at quantile `q` (0..1) of already sorted values (nearest rank). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** ours / theirs, or NaN when either is missing. */
export function ratio(ours: number, theirs: number): number {
  return Number.isFinite(ours) && Number.isFinite(theirs) && theirs > 0 ? ours / theirs : Number.NaN;
}

/** Monotonic clock in nanoseconds: the same CLOCK_MONOTONIC as PHP's hrtime(true). */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** Rejects with `message` after `ms` unless `promise` settles first; the timer never outlives it. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${message} (no result within ${Math.round(ms / 1000)} s)`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Collects the harness's own garbage now (when node runs with --expose-gc, as `npm run
 * bench` does), so that a major GC of this process does not take a core from the
 * workers in the timed part that follows. The earlier benches leave plenty behind.
 */
export function collectHarnessGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
}
