import type { ThreadEndCause } from './pool-job.js';

/**
 * What a handler thread's last error says of its end, in both dispatch modes (a job it
 * ran is failed or answered with `message`; metrics count `cause`): V8's out-of-memory
 * error names the heap limit, anything else is a crash.
 */
export function threadErrorEnd(
  error: Error,
  maxMemoryMb: number | undefined,
): { readonly message: string; readonly cause: Extract<ThreadEndCause, 'oom' | 'crash'> } {
  if (/out of memory/i.test(error.message))
    return { message: `the handler ran out of memory (limit ${maxMemoryMb ?? 'default'} MB)`, cause: 'oom' };
  return { message: `the handler's thread died: ${error.message}`, cause: 'crash' };
}
