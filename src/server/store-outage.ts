import { JobStoreError } from '../errors.js';
import type { Logger } from '../log.js';

/** First retry after a failed commit; each failed retry doubles the wait, up to kMaxRetryMs. */
const kFirstRetryMs = 100;
/** A full disk costs one failed commit attempt every 2 s at most, and is noticed within 2 s once fixed. */
const kMaxRetryMs = 2000;

/** The durable store's state, for monitoring (GearmanServer.storeHealth). */
export interface StoreHealth {
  /** False from a failed commit until a retry commits: background submits get QUEUE_ERROR meanwhile. */
  readonly writable: boolean;
  /** When the store stopped being writable (ms since the epoch); null while it is writable. */
  readonly unwritableSince: number | null;
  /** Deletes of ended jobs staged and not yet committed: they would run again after a restart. */
  readonly pendingDeletes: number;
  /** Background submits refused since the server started because the store could not write. */
  readonly refusedSubmits: number;
}

/**
 * One outage of the durable store, from the commit that failed to the retry that
 * succeeded: whether submits are refused, the retry timer and its backoff, and the two
 * log lines that frame it (one when it starts, one when it ends, never one per submit or
 * per retry).
 */
export class StoreOutage {
  readonly #log: Logger;
  readonly #retry: () => void;
  #since: number | null = null;
  /** Refused during this outage, and since the start. */
  #refused = 0;
  #refusedTotal = 0;
  #delayMs = kFirstRetryMs;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  /** `retry` runs on the timer: it flushes, probes, and reports back with failed() or ended(). */
  constructor(retry: () => void, log: Logger) {
    this.#retry = retry;
    this.#log = log;
  }

  get writable(): boolean {
    return this.#since === null;
  }

  get since(): number | null {
    return this.#since;
  }

  get refusedTotal(): number {
    return this.#refusedTotal;
  }

  /** Background submits refused (QUEUE_ERROR) because the store could not write. */
  refuse(count = 1): void {
    this.#refused += count;
    this.#refusedTotal += count;
  }

  /** A commit or a probe failed: the outage starts (logged once) or goes on; retries later. */
  failed(error: unknown, pendingDeletes: number): void {
    if (this.#stopped) return;
    if (this.#since === null) {
      this.#since = Date.now();
      this.#delayMs = kFirstRetryMs;
      this.#log.error(
        { err: error, reason: error instanceof JobStoreError ? error.reason : undefined, pendingDeletes },
        'job store cannot write: refusing background submits with QUEUE_ERROR and retrying until it can',
      );
    } else {
      this.#log.debug({ err: error, retryInMs: this.#delayMs }, 'job store still cannot write');
    }
    this.#schedule();
  }

  /** A retry committed what was staged and passed the probe: submits are accepted again. */
  ended(): void {
    if (this.#since === null) return;
    this.#log.info(
      { outageMs: Date.now() - this.#since, refusedSubmits: this.#refused },
      'job store can write again: accepting background submits',
    );
    this.#since = null;
    this.#refused = 0;
  }

  /** The server closes: no more retries. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (!this.#stopped) this.#retry();
    }, this.#delayMs);
    // The listening socket keeps a serving process alive; this timer must not keep a closed one.
    this.#timer.unref();
    this.#delayMs = Math.min(this.#delayMs * 2, kMaxRetryMs);
  }
}
