import type { Logger } from '../../log.js';
import type { LossWatch, ProgressSink } from '../pool/handler-pool.js';
import type { RunnableJob } from './function-runtime.js';
import { failJob, type JobFailure } from './job-failure.js';

/**
 * A function's `maxResultSize` on one job's way out: the progress sink its handler's
 * status, data and warnings pass through, and the check of its result. Nothing larger
 * is sent: a job server with a lower frame limit (gworker server: 64 MiB) drops the
 * connection and requeues the job, which then reruns forever (issue 10 item 3). The job
 * fails with the reason instead, as for a thrown error. A chunk over the limit fails it
 * at once and aborts the handler's signal (in a thread) so that it can stop; what it
 * sends after is dropped, and its slot stays taken until it returns.
 */
export class ResultLimit implements ProgressSink {
  readonly #job: RunnableJob;
  readonly #limit: number;
  readonly #exceptions: boolean;
  readonly #log: Logger;
  #refusal: string | null = null;
  #failure: JobFailure | null = null;
  #stopHandler: ((reason: Error) => void) | null = null;

  constructor(job: RunnableJob, limit: number, exceptions: boolean, log: Logger) {
    this.#job = job;
    this.#limit = limit;
    this.#exceptions = exceptions;
    this.#log = log;
  }

  /** Why something of the job was refused; null while nothing was over the limit. */
  get refusal(): string | null {
    return this.#refusal;
  }

  /** How the job was failed here while its handler ran (a chunk over the limit), if it was. */
  get failure(): JobFailure | null {
    return this.#failure;
  }

  /** `whenLost`, and this refusing a chunk: the thread aborts the handler's signal for either. */
  watch(whenLost: LossWatch): LossWatch {
    return (listener) => {
      this.#stopHandler = listener;
      whenLost(listener);
    };
  }

  status(numerator: number, denominator: number): void {
    if (this.#refusal === null) this.#job.status(numerator, denominator);
  }

  data(chunk: Uint8Array): void {
    if (this.#chunkFits(chunk, 'a WORK_DATA chunk')) this.#job.data(chunk);
  }

  warning(chunk: Uint8Array): void {
    if (this.#chunkFits(chunk, 'a WORK_WARNING chunk')) this.#job.warning(chunk);
  }

  /** Null when the handler's result may be sent, else the reason to fail the job with. */
  refuseResult(result: Uint8Array): string | null {
    if (result.byteLength <= this.#limit) return null;
    return this.#refuse(result.byteLength, 'the result');
  }

  #chunkFits(chunk: Uint8Array, what: string): boolean {
    if (this.#refusal !== null) return false;
    if (chunk.byteLength <= this.#limit) return true;
    const reason = this.#refuse(chunk.byteLength, what);
    this.#failure = failJob(this.#job, reason, this.#exceptions);
    this.#stopHandler?.(new Error(reason));
    return false;
  }

  #refuse(bytes: number, what: string): string {
    const reason = `${what} of ${bytes} bytes is over maxResultSize (${this.#limit} bytes); the job fails instead`;
    this.#refusal = reason;
    this.#log.warn({ jobHandle: this.#job.handle, bytes, limit: this.#limit }, reason);
    return reason;
  }
}
