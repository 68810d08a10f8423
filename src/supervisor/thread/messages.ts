import type { PayloadEncoding } from '../manifest/types.js';

/**
 * Every message between the main thread and a handler thread. Tasks and their results
 * travel through piscina; progress (status, data, warning) and abort requests travel on
 * a BroadcastChannel per pool generation, so no job pays for a MessageChannel of its own.
 */

export interface JobMeta {
  readonly handle: string;
  readonly unique: string;
  readonly functionName: string;
}

/** Run one job. */
export interface RunTask {
  readonly kind: 'run';
  readonly taskId: number;
  readonly channel: string;
  readonly handler: string;
  readonly exportName: string;
  readonly encoding: PayloadEncoding;
  readonly payload: Uint8Array;
  readonly job: JobMeta;
  /**
   * Say which thread runs the job (a `thread` message) before starting it. Only pools
   * whose threads run several jobs at once ask: ending such a thread on a timeout must
   * know which of their jobs go down with it.
   */
  readonly reportThread: boolean;
}

/** Load the handler and report whether it is usable (hot reload checks new code first). */
export interface CheckTask {
  readonly kind: 'check';
  readonly handler: string;
  readonly exportName: string;
}

export type Task = RunTask | CheckTask;

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** Set when the handler could not be loaded rather than failing the job itself. */
  readonly load?: boolean;
}

/** `progress` counts the progress messages posted before the result, so none is overtaken. */
export type RunResult =
  | { readonly ok: true; readonly result: Uint8Array; readonly progress: number }
  | { readonly ok: false; readonly error: SerializedError; readonly progress: number };

export type CheckResult = { readonly ok: true } | { readonly ok: false; readonly error: SerializedError };

/** Thread → main, on the generation's channel. */
export type ProgressMessage =
  | { readonly taskId: number; readonly kind: 'thread'; readonly threadId: number }
  | {
      readonly taskId: number;
      readonly kind: 'status';
      readonly numerator: number;
      readonly denominator: number;
    }
  | { readonly taskId: number; readonly kind: 'data' | 'warning'; readonly chunk: Uint8Array };

/** Main → threads, on the same channel: abort the job's signal (the thread ends later if it must). */
export interface AbortMessage {
  readonly abort: number;
  readonly reason: string;
}

export function serializeError(err: unknown, load = false): SerializedError {
  if (err instanceof Error) {
    const base = { name: err.name, message: err.message, ...(load ? { load } : {}) };
    return err.stack === undefined ? base : { ...base, stack: err.stack };
  }
  return { name: 'Error', message: String(err), ...(load ? { load } : {}) };
}
