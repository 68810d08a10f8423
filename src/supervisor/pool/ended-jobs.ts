import type { SerializedError } from '../thread/messages.js';
import type { PoolJob } from './pool-job.js';
import type { StreamEnding, ThreadStream } from './thread-stream.js';
import { WorkerEnded } from './worker-ended.js';

export const kCutShort = 'still running when the shutdown deadline passed: its thread was ended';

/**
 * Why a thread that never became ready could not serve, or null when it had loaded (or
 * was closed on purpose). A process's own wording names it already (pool/worker-ended.ts).
 */
export function loadFailure(ending: StreamEnding<PoolJob>): SerializedError | null {
  if (ending.kind === 'load') return ending.error;
  if (ending.kind !== 'died' || ending.wasReady) return null;
  const message =
    ending.error instanceof WorkerEnded
      ? `${ending.error.message} while loading`
      : `its thread died while loading: ${ending.error.message}`;
  return { name: 'Error', message };
}

/**
 * Gives each job that had started on an ended thread its outcome (those it never
 * started, `ending.unsent`, run elsewhere). A job ended by the pool for another job's
 * timeout is collateral (run again); during a shutdown cut short, stopped.
 */
export function settleStartedJobs(
  stream: ThreadStream<PoolJob>,
  ending: StreamEnding<PoolJob>,
  cuttingShort: boolean,
  maxMemoryMb: number | undefined,
): void {
  for (const job of ending.jobs) {
    if (cuttingShort) job.stopped(kCutShort);
    else if (ending.kind !== 'died')
      job.died(new Error('its handler thread stopped before answering'), false);
    else if (stream.terminating && !job.timedOut) job.collateral();
    else job.died(ending.error, stream.terminating, maxMemoryMb);
  }
}
