import type { Logger } from '../../log.js';
import type { FunctionStats } from '../stats/function-stats.js';
import { logError } from '../thread/log-error.js';
import type { JobEndInfo } from './function-runtime.js';

/**
 * What a job's end does beside its answer: it counts in the function's stats, and one
 * that did not complete is logged as a warning with its reason (and what the handler
 * threw). Returns the listener for a FunctionRuntime's `jobEnd`.
 */
export function jobEndRecorder(
  fn: string,
  stats: FunctionStats,
  log: Logger,
  passOn: (info: JobEndInfo) => void,
): (info: JobEndInfo) => void {
  // Checked once: a debug line per job is built only when someone reads it.
  const debug = log.isLevelEnabled?.('debug') ?? true;
  return (info) => {
    stats.recordJob(info.result, info.durationMs);
    if (info.result !== 'complete') {
      const thrown = info.error === undefined ? {} : { err: logError(info.error), handlerError: true };
      log.warn(
        { jobHandle: info.handle, result: info.result, reason: info.reason, ...thrown },
        `${fn}: job ${info.handle} did not complete (${info.result}): ${describeEnd(info)}`,
      );
    } else if (debug) {
      log.debug({ jobHandle: info.handle, durationMs: info.durationMs }, 'job complete');
    }
    passOn(info);
  };
}

/** The reason, with the thrown error's type when the handler threw one. */
function describeEnd(info: JobEndInfo): string {
  const { error } = info;
  return error === undefined || error.name === 'Error' ? `${info.reason}` : `${error.name}: ${info.reason}`;
}
