/** How long to wait before reconnect attempt `attempt` (0-based), in milliseconds. */
export type BackoffPolicy = (attempt: number) => number;

export interface ExponentialBackoffOptions {
  /** First delay. @defaultValue 100 */
  readonly initialDelayMs?: number;
  /** Largest delay. @defaultValue 10000 */
  readonly maxDelayMs?: number;
  /** Growth per attempt. @defaultValue 2 */
  readonly factor?: number;
  /** Fraction of the delay drawn at random either way, so a fleet does not reconnect in step. @defaultValue 0.2 */
  readonly jitter?: number;
  /** Source of randomness in [0, 1); tests pass a fixed one. */
  readonly random?: () => number;
}

/** Capped exponential backoff with symmetric jitter. */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): BackoffPolicy {
  const initial = options.initialDelayMs ?? 100;
  const max = options.maxDelayMs ?? 10_000;
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  if (!(initial >= 0) || !(max >= initial))
    throw new RangeError('backoff needs 0 <= initialDelayMs <= maxDelayMs');
  if (!(factor >= 1)) throw new RangeError('backoff factor must be at least 1');
  if (!(jitter >= 0 && jitter < 1)) throw new RangeError('backoff jitter must be in [0, 1)');
  return (attempt) => {
    const base = Math.min(max, initial * factor ** Math.min(attempt, 64));
    const spread = base * jitter * (2 * random() - 1);
    return Math.max(0, Math.round(Math.min(max, base + spread)));
  };
}
