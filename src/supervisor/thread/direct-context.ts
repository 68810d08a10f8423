import type { Job } from '../../worker/job.js';
import type { JobContext } from './job-context.js';

/**
 * A handler's JobContext over the library's Job, for `dispatch: thread`: progress goes
 * straight to the job's own connection, and the signal is the job's, aborted also by the
 * function's timeout (`abort`).
 */
export class DirectJobContext implements JobContext {
  readonly #job: Job;
  readonly functionName: string;
  readonly attempt = 1;
  #controller: AbortController | undefined;

  constructor(job: Job, functionName: string) {
    this.#job = job;
    this.functionName = functionName;
  }

  get handle(): string {
    return this.#job.handle;
  }

  get unique(): string {
    return this.#job.unique;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      const lost = this.#job.signal;
      if (lost.aborted) controller.abort(lost.reason);
      else lost.addEventListener('abort', () => controller.abort(lost.reason), { once: true });
    }
    return this.#controller.signal;
  }

  /** The function's timeout passed. */
  abort(reason: Error): void {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
    }
    this.#controller.abort(reason);
  }

  status(numerator: number, denominator: number): void {
    if (!Number.isInteger(numerator) || !Number.isInteger(denominator) || numerator < 0 || denominator < 0) {
      throw new RangeError('status numerator and denominator must be whole numbers of zero or more');
    }
    this.#job.status(numerator, denominator);
  }

  data(chunk: string | Uint8Array): void {
    this.#job.data(chunk);
  }

  warning(chunk: string | Uint8Array): void {
    this.#job.warning(chunk);
  }
}
