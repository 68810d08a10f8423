/**
 * What ended an attempt, as the manifest's `retry.on` names it: `exception` a handler
 * threw (or its code would not load), `fail` a command exited non-zero, `timeout` it ran
 * past its timeout, `crash` its thread or process died (or ran out of memory).
 */
export type RetryCause = 'exception' | 'fail' | 'timeout' | 'crash';

export const kRetryCauses: readonly RetryCause[] = ['exception', 'fail', 'timeout', 'crash'];

/** A function's `retry:` setting, resolved. */
export interface RetryPolicy {
  /** Runs in all, the first included (2 or more; 1 would be no retry). */
  readonly attempts: number;
  readonly backoff: 'exponential' | 'fixed';
  /** The wait before the first retry; exponential doubles it for each one after. */
  readonly delayMs: number;
  /** The longest wait, whatever the backoff says. */
  readonly maxDelayMs: number;
  /** 0..1: the share of each wait that is random (0.2: between 80% and 100% of it). */
  readonly jitter: number;
  readonly on: readonly RetryCause[];
}

/** Most attempts a policy may ask for: every attempt's error travels with the job. */
export const kMaxAttempts = 100;

/**
 * The wait before attempt `next` (2 for the first retry): `delay`, doubled per retry
 * after the first with exponential backoff, capped at maxDelay, less a random share of
 * `jitter` (the wait never grows past what the policy says, so maxDelay stays a bound).
 */
export function retryDelayMs(policy: RetryPolicy, next: number, random: () => number = Math.random): number {
  const steps = Math.max(0, next - 2);
  const base = policy.backoff === 'fixed' ? policy.delayMs : policy.delayMs * 2 ** Math.min(steps, 40);
  const capped = Math.min(base, policy.maxDelayMs);
  return Math.round(capped * (1 - policy.jitter * random()));
}

/** Whether a failure of attempt `attempt` with this cause gets another run. */
export function shouldRetry(policy: RetryPolicy | undefined, cause: RetryCause, attempt: number): boolean {
  return policy !== undefined && attempt < policy.attempts && policy.on.includes(cause);
}
