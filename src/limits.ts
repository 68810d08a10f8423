/**
 * Bounds that several parts check, written once: the client, the worker, the manifest,
 * the control API and the CLI each read them from here, so their messages and their
 * limits cannot drift apart.
 */

/**
 * The longest delay a Node timer keeps (2^31-1 ms, about 24.8 days). Node turns a longer
 * one into 1 ms (with a TimeoutOverflowWarning), so a timeout past it would fire at once:
 * every option that ends up in setTimeout is refused beyond this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A function's concurrency (slots, and threads of a pool): at least one, at most this many. */
export const MIN_CONCURRENCY = 1;
export const MAX_CONCURRENCY = 100_000;

/** TCP ports. A listener may ask for 0 (any free port); a server to connect to may not. */
export const MAX_PORT = 65_535;

/** A frame's size field is a 32-bit unsigned integer (protocol header bytes 8-11). */
export const MAX_FRAME_SIZE_LIMIT = 0xffff_ffff;

/** A concurrency count, checked: a whole number from MIN_CONCURRENCY to MAX_CONCURRENCY. */
export function isConcurrency(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= MIN_CONCURRENCY &&
    value <= MAX_CONCURRENCY
  );
}

/** The largest `maxrunning` cap of a job server: gearmand's other per-function limits are 32-bit too. */
export const MAX_RUNNING_CAP = 0xffff_ffff;
