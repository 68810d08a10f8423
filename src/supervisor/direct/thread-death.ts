import type { ThreadEndCause } from '../pool/handler-pool.js';

/** Why a `dispatch: thread` handler thread ended, from its exit code and last error: the reason its jobs are answered with, and the cause metrics count. */
export function describeDeath(
  code: number,
  error: Error | null,
  maxMemoryMb: number | undefined,
): { reason: string; cause: ThreadEndCause } {
  if (error !== null && /out of memory/i.test(error.message))
    return { reason: `the handler ran out of memory (limit ${maxMemoryMb ?? 'default'} MB)`, cause: 'oom' };
  if (error !== null) return { reason: `the handler's thread died: ${error.message}`, cause: 'crash' };
  return { reason: `the handler's thread exited with code ${code}`, cause: 'crash' };
}
