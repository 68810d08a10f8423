import type { MessagePort } from 'node:worker_threads';
import type { PayloadEncoding } from '../manifest/types.js';
import type { WireBatch } from './batch-codec.js';

/**
 * Every message between the main thread and a handler thread. piscina runs one long
 * task per thread, a job stream: it loads the handler, then serves jobs that arrive on
 * a MessagePort of its own until told to close. Jobs travel in batches (all that came
 * in during one turn of the event loop, their payloads packed into one buffer) and
 * results come back the same way, so a tiny job costs a fraction of a message instead
 * of a piscina task each way (thread/batch-codec.ts has the batches' wire form). Progress and results share the port, which keeps them
 * in the order the handler produced them.
 */

export interface JobMeta {
  readonly handle: string;
  readonly unique: string;
  readonly functionName: string;
  /** Which run of the job this is, 1 for the first (retries count on). @defaultValue 1 */
  readonly attempt?: number;
}

/** The piscina task that turns a thread into a job stream. */
export interface StreamTask {
  readonly kind: 'stream';
  /** The thread's end of the stream's MessageChannel (transferred). */
  readonly port: MessagePort;
  readonly handler: string;
  readonly exportName: string;
  readonly encoding: PayloadEncoding;
  readonly functionName: string;
  /** Jobs the thread runs at once (jobsPerThread); more that arrive wait in its queue. */
  readonly jobsAtOnce: number;
  /**
   * Jobs the main thread may send ahead (prefetch): when one ends, the thread looks for
   * the next on its port at once, instead of after this turn of its event loop.
   */
  readonly prefetch: number;
  /**
   * Record the files the handler loads and send them with `ready` (and later imports
   * as `modules`), for the change watcher. One thread per generation does.
   */
  readonly trackModules: boolean;
}

/** How a stream task ends: closed when asked, or the handler never loaded. */
export type StreamEnd =
  | { readonly ok: true }
  /** `modules`: what the failed load had read, so that fixing any of those files reloads. */
  | { readonly ok: false; readonly error: SerializedError; readonly modules?: readonly string[] };

/** Main → thread. */
export type ToThread =
  /** Jobs to run: entries with their payloads, handles and uniques. */
  | { readonly kind: 'jobs'; readonly batch: WireBatch }
  /**
   * Abort the job's signal (the thread is ended later if the handler ignores it). A job
   * still waiting in the thread's queue is dropped and answered with an AbortError.
   */
  | { readonly kind: 'abort'; readonly id: number; readonly reason: string }
  /** Finish the running and waiting jobs, send their results, then end the stream task. */
  | { readonly kind: 'close' };

/** Thread → main. */
export type FromThread =
  /** `modules`: the files the handler loaded, when the task asked to track them. */
  | { readonly kind: 'ready'; readonly threadId: number; readonly modules?: readonly string[] }
  /** Files the handler imported after it loaded (an import on first use). */
  | { readonly kind: 'modules'; readonly files: readonly string[] }
  /** Results: entries with the result bytes, or the handler's error. */
  | { readonly kind: 'results'; readonly batch: WireBatch }
  | {
      readonly kind: 'status';
      readonly id: number;
      readonly numerator: number;
      readonly denominator: number;
    }
  | { readonly kind: 'data' | 'warning'; readonly id: number; readonly chunk: Uint8Array }
  /**
   * The handler threw outside any job's call (a timer, an unhandled rejection). `failed`
   * jobs were running in the thread then and have failed with this error (their own
   * results, if they come later, are dropped); with none running, the thread serves on.
   */
  | { readonly kind: 'stray'; readonly error: SerializedError; readonly failed: number };

export interface SerializedError {
  /** The type: the error's name or class, `string`, `undefined`, `Object`... */
  readonly name: string;
  /** Never empty: says what was thrown when the error itself says nothing. */
  readonly message: string;
  /** The stack without gworker's frames below the handler's. */
  readonly stack?: string;
  /** FILE:LINE:COLUMN of a handler that failed to load, when known. */
  readonly at?: string;
  /** It said `retry: false` (a PermanentError does): the job ends now, never retried. */
  readonly permanent?: true;
}

/**
 * Thread → main, on the thread's parentPort (piscina passes it on as a 'message'
 * event): handler output dropped because more than the cap was waiting to be written
 * (thread/output-cap.ts). One report per episode, when the backlog has drained, and one
 * every few seconds while it lasts.
 */
export interface OutputDropReport {
  readonly kind: 'gworker:output-dropped';
  readonly threadId: number;
  readonly stream: 'stdout' | 'stderr';
  readonly bytes: number;
  readonly writes: number;
}

export function isOutputDropReport(message: unknown): message is OutputDropReport {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { kind?: unknown }).kind === 'gworker:output-dropped'
  );
}
