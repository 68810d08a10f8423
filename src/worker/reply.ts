import type { Logger } from '../log.js';
import type { Job } from './job.js';

/**
 * Turning what a handler returned or threw into the job's one terminal packet. A job
 * the handler already ended (or that was lost and then ended) gets nothing more.
 */

/** Sends the handler's return value as WORK_COMPLETE; a value of the wrong type becomes WORK_EXCEPTION. */
export function replyWithResult(job: Job, value: unknown, log: Logger): void {
  if (job.ended) return;
  if (value === undefined || value === null) job.complete();
  else if (typeof value === 'string' || value instanceof Uint8Array) job.complete(value);
  else {
    const message = `handler for ${job.functionName} returned ${describe(value)}; expected a string, a Uint8Array or undefined`;
    log.error({ jobHandle: job.handle, function: job.functionName }, message);
    job.exception(message);
  }
}

/** Sends what the handler threw: its message as WORK_EXCEPTION, or a bare WORK_FAIL. */
export function replyWithError(job: Job, err: unknown, exceptions: boolean, log: Logger): void {
  if (job.ended) return;
  log.debug({ err, jobHandle: job.handle, function: job.functionName }, 'handler threw');
  if (exceptions) job.exception(err instanceof Error ? err.message : String(err));
  else job.fail();
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value instanceof Promise ||
    (value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function')
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}
