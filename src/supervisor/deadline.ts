import { MAX_TIMER_MS } from '../limits.js';

/**
 * Milliseconds from now until `deadline` (a performance.now() time), as a setTimeout
 * delay: 0 once it has passed, capped at what a timer can wait (callers look again when
 * it fires), and null for no deadline (Infinity).
 */
export function msUntil(deadline: number): number | null {
  if (deadline === Number.POSITIVE_INFINITY) return null;
  return Math.min(MAX_TIMER_MS, Math.max(0, deadline - performance.now()));
}

/**
 * Resolves true once `promise` settles (either way), or false when `deadline` (a
 * performance.now() time; Infinity for none) passes first. The shutdown's one budget is
 * spent through this: each step waits only for what is left of it.
 */
export function settlesBy(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const wait = (): void => {
      const ms = msUntil(deadline);
      if (ms === null) return;
      // Even a deadline already past waits a turn: a promise that has settled says so first.
      timer = setTimeout(() => (msUntil(deadline) === 0 ? resolve(false) : wait()), ms);
    };
    const settled = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(settled, settled);
    wait();
  });
}
