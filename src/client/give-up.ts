/** Why a wait was given up: its timeout passed, or its signal aborted. */
export type GiveUpCause = 'timeout' | 'abort';

/**
 * A wait that gives up after `timeoutMs` or when `signal` aborts, whichever comes first:
 * the one place the client arms a timer and an abort listener for a pending reply (a
 * foreground job, a background submit, a status request). Only callers that ask for a
 * timeout or a signal make one, so the common submit pays for no timer.
 */
export class GiveUp {
  #timer: NodeJS.Timeout | null = null;
  #signal: AbortSignal | null = null;
  #onAbort: (() => void) | null = null;

  /**
   * Arms the wait; `onGiveUp` runs at most once. With a signal that is already aborted it
   * runs at once and null is returned: nothing is armed, nothing needs cancelling.
   */
  static arm(
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
    onGiveUp: (cause: GiveUpCause) => void,
  ): GiveUp | null {
    if (signal?.aborted) {
      onGiveUp('abort');
      return null;
    }
    const wait = new GiveUp();
    if (timeoutMs !== undefined) {
      wait.#timer = setTimeout(() => {
        wait.cancel();
        onGiveUp('timeout');
      }, timeoutMs);
    }
    if (signal !== undefined) {
      const onAbort = (): void => {
        wait.cancel();
        onGiveUp('abort');
      };
      wait.#signal = signal;
      wait.#onAbort = onAbort;
      signal.addEventListener('abort', onAbort, { once: true });
    }
    return wait;
  }

  /** The reply settled first: clear the timer and stop listening to the signal. Idempotent. */
  cancel(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#onAbort !== null) {
      this.#signal?.removeEventListener('abort', this.#onAbort);
      this.#onAbort = null;
      this.#signal = null;
    }
  }
}
