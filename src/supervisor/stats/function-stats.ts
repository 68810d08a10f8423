import type { JobResultKind } from '../runtime/function-runtime.js';
import { DurationSample } from './duration-sample.js';
import { RateWindow } from './rate-window.js';

export interface ReloadRecord {
  readonly at: string;
  readonly ok: boolean;
  readonly generation: number;
  readonly error?: string;
}

/** What one function has done on this box since the supervisor started. */
export class FunctionStats {
  done = 0;
  failed = 0;
  excepted = 0;
  lastReload: ReloadRecord | null = null;
  /** Bytes of handler stdout/stderr dropped past the threads' cap (thread/output-cap.ts). */
  outputDroppedBytes = 0;
  readonly rate = new RateWindow(61);
  readonly durations = new DurationSample();

  recordJob(result: JobResultKind, durationMs: number): void {
    if (result === 'complete') this.done++;
    else if (result === 'fail') this.failed++;
    else this.excepted++;
    this.rate.record();
    this.durations.record(durationMs);
  }

  recordReload(generation: number, error?: Error): void {
    this.lastReload = {
      at: new Date().toISOString(),
      ok: error === undefined,
      generation,
      ...(error === undefined ? {} : { error: error.message }),
    };
  }
}
