import type { RunnableJob } from './function-runtime.js';

/**
 * Fails a job with `reason`, once: WORK_EXCEPTION carrying it (the job server turns it
 * into WORK_FAIL for clients that did not ask for exceptions), or with `exceptions` off
 * WORK_WARNING with the reason, then WORK_FAIL. Returns which it sent.
 */
export function failJob(job: RunnableJob, reason: string, exceptions: boolean): 'fail' | 'exception' {
  if (exceptions) {
    job.exception(reason);
    return 'exception';
  }
  job.warning(Buffer.from(reason));
  job.fail();
  return 'fail';
}
