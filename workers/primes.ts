// A CPU-heavy example handler, in TypeScript to show that .ts handlers load without a
// build step: counts the primes below N by trial division, reporting progress.

/** The part of gworker's JobContext this handler uses (import type { JobContext } from 'gworker' in your own). */
interface PrimeJob {
  status(numerator: number, denominator: number): void;
  readonly signal: AbortSignal;
}

/** Counts primes below `limit`; checks the abort signal now and then so a timeout ends it. */
export function countPrimes(limit: number, job?: PrimeJob): number {
  let count = 0;
  const step = Math.max(1, Math.floor(limit / 10));
  for (let n = 2; n < limit; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
    if (job && n % step === 0) {
      job.signal.throwIfAborted();
      job.status(n, limit);
    }
  }
  return count;
}

/** Payload: the limit as decimal text (default 200000). Result: `{ limit, primes }` as JSON. */
export default async function primes(
  payload: string,
  job: PrimeJob,
): Promise<{ limit: number; primes: number }> {
  const limit = payload.trim() === '' ? 200_000 : Number(payload);
  if (!Number.isInteger(limit) || limit < 0 || limit > 1e9) {
    throw new RangeError(`expected a whole number up to 1e9, got "${payload}"`);
  }
  return { limit, primes: countPrimes(limit, job) };
}
