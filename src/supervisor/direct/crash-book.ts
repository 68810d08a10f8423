import { kControlCrashes } from '../thread/direct-messages.js';

/**
 * The jobs a `dispatch: thread` function's threads died running (handle -> why), and
 * the count of them in the function's shared control words, which every thread
 * compares with the crashes it has heard of (thread/direct-entry.ts). The two change
 * together, here only: a crash is counted before the dead thread's board slot frees, so
 * a thread offered the requeued job in between knows to ask.
 */
export class CrashBook {
  readonly #reasons = new Map<string, string>();
  /** The function's control words (DirectThreadData.control): kControlCrashes is counted here. */
  readonly #control: Int32Array;

  constructor(control: Int32Array) {
    this.#control = control;
  }

  get size(): number {
    return this.#reasons.size;
  }

  reasonOf(handle: string): string | undefined {
    return this.#reasons.get(handle);
  }

  /** Recorded and counted; the caller frees the slot after this. */
  record(handle: string, reason: string): void {
    this.#reasons.set(handle, reason);
    Atomics.add(this.#control, kControlCrashes, 1);
  }

  /** What a new thread starts with: the crashes so far and their count, taken together. */
  snapshot(): { crashed: Array<[string, string]>; crashesHeard: number } {
    return { crashed: [...this.#reasons], crashesHeard: Atomics.load(this.#control, kControlCrashes) };
  }
}
