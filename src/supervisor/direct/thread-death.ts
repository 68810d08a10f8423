import type { ThreadEndCause } from '../pool/handler-pool.js';
import { threadErrorEnd } from '../pool/thread-error.js';

/** Why a `dispatch: thread` handler thread ended, from its exit code and last error: the reason its jobs are answered with, and the cause metrics count. */
export function describeDeath(
  code: number,
  error: Error | null,
  maxMemoryMb: number | undefined,
): { reason: string; cause: ThreadEndCause } {
  if (error !== null) {
    const { message, cause } = threadErrorEnd(error, maxMemoryMb);
    return { reason: message, cause };
  }
  return { reason: `the handler's thread exited with code ${code}`, cause: 'crash' };
}
