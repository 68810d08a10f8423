import type { Logger } from '../../log.js';
import { kAbortGraceMs } from '../pool/pool-job.js';
import type { DirectBoard } from '../thread/direct-board.js';
import type { Seat } from './direct-seat.js';

/** How often the watchdog reads the board's start times (one timer per pool). */
const kWatchdogMs = 200;

/**
 * A `dispatch: thread` function's timeout watchdog: one timer per pool reads the board's
 * start times, and a job past its timeout plus the grace period has its thread
 * terminated (the thread aborted the job's signal at the timeout itself). The pool
 * records the thread's jobs with that reason when it sees the thread end.
 */
export class TimeoutWatchdog {
  readonly #timer: NodeJS.Timeout;

  constructor(
    fn: { readonly name: string; readonly timeoutMs: number; readonly jobsPerThread: number },
    board: DirectBoard,
    seatAt: (index: number) => Seat | null | undefined,
    log: Logger,
  ) {
    this.#timer = setInterval(() => {
      const now = Date.now();
      const slots = board.slots;
      for (let slot = 0; slot < slots; slot++) {
        const started = board.startedAt(slot);
        if (started === 0 || now - started < fn.timeoutMs + kAbortGraceMs) continue;
        const seat = seatAt(Math.floor(slot / fn.jobsPerThread));
        if (seat == null || seat.endedFor !== null) continue;
        seat.endedFor = `timed out after ${fn.timeoutMs} ms and ignored its signal for ${kAbortGraceMs} ms more: its thread was terminated`;
        log.warn({ function: fn.name, jobHandle: board.handle(slot) }, seat.endedFor);
        void seat.thread.terminate();
      }
    }, kWatchdogMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
