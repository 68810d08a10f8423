import type { RunnableJob } from './function-runtime.js';

/** Which terminal packet a failed job got, and whether it went out at all. */
export interface JobFailure {
  readonly result: 'fail' | 'exception';
  /** False when the connection had already given the job up (a stop cut it short): nothing was sent. */
  readonly answered: boolean;
}

/**
 * Fails a job with `reason`, once: WORK_EXCEPTION carrying it (the job server turns it
 * into WORK_FAIL for clients that did not ask for exceptions), or with `exceptions` off
 * WORK_WARNING with the reason, then WORK_FAIL.
 */
export function failJob(job: RunnableJob, reason: string, exceptions: boolean): JobFailure {
  if (exceptions) return { result: 'exception', answered: job.exception(reason) };
  job.warning(Buffer.from(reason));
  return { result: 'fail', answered: job.fail() };
}
