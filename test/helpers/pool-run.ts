import type {
  HandlerPool,
  LossWatch,
  ProgressSink,
  RunOutcome,
} from '../../src/supervisor/pool/handler-pool.js';
import type { JobMeta } from '../../src/supervisor/thread/messages.js';

/** One job through HandlerPool.start (the supervisor's path), as a promise of its one outcome. */
export function runJob(
  pool: HandlerPool,
  meta: JobMeta,
  payload: Uint8Array,
  sink: ProgressSink,
  timeoutMs?: number,
  whenLost?: LossWatch,
): Promise<RunOutcome> {
  return new Promise((resolve) => pool.start(meta, payload, sink, resolve, timeoutMs, whenLost));
}
