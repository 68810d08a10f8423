import type { BroadcastChannel } from 'node:worker_threads';
import { ErrorCode, GearmanError } from '../../errors.js';
import { resultToBytes } from './bytes.js';
import type { JobMeta, ProgressMessage } from './messages.js';

/**
 * What a handler receives as its second argument. `status`, `data` and `warning` reach
 * the client as WORK_STATUS, WORK_DATA and WORK_WARNING while the handler runs.
 */
export interface JobContext {
  readonly handle: string;
  readonly unique: string;
  readonly functionName: string;
  /** Aborted when the job times out or the supervisor stops: stop work and return. */
  readonly signal: AbortSignal;
  status(numerator: number, denominator: number): void;
  data(chunk: string | Uint8Array): void;
  warning(chunk: string | Uint8Array): void;
}

/** The in-thread job context; counts what it posts so the result cannot overtake it. */
export class ThreadJobContext implements JobContext {
  readonly handle: string;
  readonly unique: string;
  readonly functionName: string;
  readonly signal: AbortSignal;
  readonly #taskId: number;
  readonly #channel: BroadcastChannel;
  #posted = 0;
  #ended = false;

  constructor(taskId: number, meta: JobMeta, signal: AbortSignal, channel: BroadcastChannel) {
    this.handle = meta.handle;
    this.unique = meta.unique;
    this.functionName = meta.functionName;
    this.signal = signal;
    this.#taskId = taskId;
    this.#channel = channel;
  }

  get posted(): number {
    return this.#posted;
  }

  /** After this, progress calls throw: the result has gone and nothing may follow it. */
  end(): void {
    this.#ended = true;
  }

  status(numerator: number, denominator: number): void {
    if (!Number.isInteger(numerator) || !Number.isInteger(denominator) || numerator < 0 || denominator < 0) {
      throw new RangeError('status numerator and denominator must be whole numbers of zero or more');
    }
    this.#post({ taskId: this.#taskId, kind: 'status', numerator, denominator });
  }

  data(chunk: string | Uint8Array): void {
    this.#post({ taskId: this.#taskId, kind: 'data', chunk: resultToBytes(chunk) });
  }

  warning(chunk: string | Uint8Array): void {
    this.#post({ taskId: this.#taskId, kind: 'warning', chunk: resultToBytes(chunk) });
  }

  #post(message: ProgressMessage): void {
    if (this.#ended) {
      throw new GearmanError(
        ErrorCode.JOB_STATE,
        `job ${this.handle} has ended; no more updates can be sent`,
      );
    }
    this.#channel.postMessage(message);
    this.#posted++;
  }
}
