import { ErrorCode, GearmanError } from '../../errors.js';
import type { SerializedError } from '../thread/messages.js';

/** Longest wait, after a failed load, for the thread that records modules to end too. */
const kTrackerWaitMs = 2_000;

/**
 * A generation's load check: the threads it starts first (one, or minThreads) must load
 * the handler and find its export before the generation takes a job. Settles with the
 * first of them that fails, or once all are ready. Threads started later for jobs are
 * not part of it. At start, the shared check may have settled it instead (settleWith).
 */
export class LoadCheck<S extends object> {
  readonly #pending = new Set<S>();
  readonly #settled: Promise<SerializedError | null>;
  #settle: (error: SerializedError | null) => void = () => {};
  readonly #trackerSettled: Promise<void>;
  #trackerDone: () => void = () => {};

  constructor() {
    this.#settled = new Promise((resolve) => {
      this.#settle = resolve;
    });
    this.#trackerSettled = new Promise((resolve) => {
      this.#trackerDone = resolve;
    });
  }

  /** `stream` is one of the threads the check waits for. */
  expect(stream: S): void {
    this.#pending.add(stream);
  }

  ready(stream: S): void {
    if (this.#pending.delete(stream) && this.#pending.size === 0) this.#settle(null);
  }

  /**
   * The stream ended; `error` is why it could not load, when it never became ready.
   * True when the check was waiting for it (the check reports its failure).
   */
  ended(stream: S, error: SerializedError): boolean {
    if (!this.#pending.delete(stream)) return false;
    this.#settle(error);
    return true;
  }

  /**
   * Settled already, by the start-up check that loaded every handler in one thread
   * (pool/shared-check.ts): no thread of this generation takes part.
   */
  settleWith(error: SerializedError | null): void {
    this.#settle(error);
    this.#trackerDone();
  }

  /** The thread that records modules has loaded the handler, or failed to. */
  trackerSettled(): void {
    this.#trackerDone();
  }

  /** Throws a GearmanError (HANDLER_LOAD) with the reason when the code cannot serve. */
  async check(handler: string): Promise<void> {
    const error = await this.#settled;
    if (error === null) return;
    // Another thread may have failed first: what the load read comes from the tracker.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#trackerSettled, new Promise((r) => (timer = setTimeout(r, kTrackerWaitMs)))]);
    clearTimeout(timer);
    const what = error.name === 'Error' ? error.message : `${error.name}: ${error.message}`;
    throw new GearmanError(ErrorCode.HANDLER_LOAD, `cannot load ${error.at ?? handler}: ${what}`);
  }
}
