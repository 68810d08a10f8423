import type { MessagePort } from 'node:worker_threads';
import { ErrorCode, GearmanError } from '../../errors.js';
import { resultToBytes } from './bytes.js';
import type { FromThread } from './messages.js';

/**
 * What a handler receives as its second argument. `status`, `data` and `warning` reach
 * the client as WORK_STATUS, WORK_DATA and WORK_WARNING while the handler runs.
 */
export interface JobContext {
  readonly handle: string;
  readonly unique: string;
  readonly functionName: string;
  /**
   * Which run of the job this is: 1 for the first, 2 for the first retry (the
   * function's `retry` setting; docs/retries.md). `unique` stays the one first submitted.
   */
  readonly attempt: number;
  /** Aborted when the job times out or the supervisor stops: stop work and return. */
  readonly signal: AbortSignal;
  status(numerator: number, denominator: number): void;
  data(chunk: string | Uint8Array): void;
  warning(chunk: string | Uint8Array): void;
}

/**
 * The in-thread job context. Progress is posted at once on the stream's port (the same
 * port the result will take later, so it cannot be overtaken); after the job ends it
 * throws. The abort controller is made only when the handler looks at `signal`.
 */
export class ThreadJobContext implements JobContext {
  readonly handle: string;
  readonly unique: string;
  readonly attempt: number;
  readonly functionName: string;
  readonly #id: number;
  readonly #port: MessagePort;
  #controller: AbortController | undefined;
  #abortReason: Error | undefined;
  #ended = false;

  constructor(
    id: number,
    handle: string,
    unique: string,
    attempt: number,
    functionName: string,
    port: MessagePort,
  ) {
    this.handle = handle;
    this.unique = unique;
    this.attempt = attempt;
    this.functionName = functionName;
    this.#id = id;
    this.#port = port;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** The main thread asked to stop this job (timeout, lost connection, shutdown). */
  abort(reason: Error): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  /** After this, progress calls throw: the result has gone and nothing may follow it. */
  end(): void {
    this.#ended = true;
  }

  status(numerator: number, denominator: number): void {
    if (!Number.isInteger(numerator) || !Number.isInteger(denominator) || numerator < 0 || denominator < 0) {
      throw new RangeError('status numerator and denominator must be whole numbers of zero or more');
    }
    this.#post({ kind: 'status', id: this.#id, numerator, denominator });
  }

  data(chunk: string | Uint8Array): void {
    this.#post({ kind: 'data', id: this.#id, chunk: resultToBytes(chunk) });
  }

  warning(chunk: string | Uint8Array): void {
    this.#post({ kind: 'warning', id: this.#id, chunk: resultToBytes(chunk) });
  }

  #post(message: FromThread): void {
    if (this.#ended) {
      throw new GearmanError(
        ErrorCode.JOB_STATE,
        `job ${this.handle} has ended; no more updates can be sent`,
      );
    }
    this.#port.postMessage(message);
  }
}
