import type { ServerAddress } from '../../net/address.js';
import type { SerializedError } from './messages.js';

/** Control word: 1 while the function is paused (every thread's grab gate reads it). */
export const kControlPaused = 0;
/** Control word: crashes recorded so far, counted up before a dead thread's slots are freed. */
export const kControlCrashes = 1;
/** Int32 words in a function's control buffer. */
export const kControlWords = 2;

/** What a `dispatch: thread` handler thread is started with (its workerData). */
export interface DirectThreadData {
  readonly handler: string;
  readonly exportName: string;
  readonly functionName: string;
  /** The job servers, TLS settings included (PEM contents: they clone into the thread). */
  readonly servers: readonly ServerAddress[];
  readonly jobsPerThread: number;
  readonly exceptions: boolean;
  readonly encoding: 'buffer' | 'text' | 'json';
  readonly timeoutMs: number | undefined;
  readonly clientId: string | undefined;
  /** The function's DirectBoard; this thread owns slots [index * jobsPerThread, +jobsPerThread). */
  readonly board: SharedArrayBuffer;
  readonly index: number;
  /** The function's control words (kControl*), Int32, written by the main thread. */
  readonly control: SharedArrayBuffer;
  /** Jobs that were running when an earlier thread died: handle -> why. */
  readonly crashed: ReadonlyArray<readonly [string, string]>;
  /** The crash count when `crashed` was taken: each 'crashed' message adds one. */
  readonly crashesHeard: number;
  readonly regrabIntervalMs: number | undefined;
  /** The connections' frame limit: maxResultSize and room for the handle. */
  readonly maxFrameSize: number;
  /** Record the files the handler loads (thread/module-graph.ts): the pool's first thread only. */
  readonly trackModules: boolean;
}

export type ToDirectThread =
  | { readonly kind: 'crashed'; readonly handle: string; readonly reason: string }
  | { readonly kind: 'verdict'; readonly handle: string; readonly reason: string | null }
  | { readonly kind: 'resume' }
  /** Stop grabbing, finish running jobs, close the connections, end. */
  | { readonly kind: 'stop'; readonly timeoutMs: number };

/** A job that did not complete, in a `jobs` batch: its place in the batch and why. */
export interface DirectFailure {
  readonly index: number;
  readonly reason: string;
  /** What the handler threw, when it threw (a timeout has none). */
  readonly error: SerializedError | null;
}

export type FromDirectThread =
  /** Loaded and connected; `modules`: the files the handler loaded, when this thread tracks them. */
  | { readonly kind: 'ready'; readonly modules?: readonly string[] }
  | { readonly kind: 'loadFailed'; readonly error: SerializedError; readonly modules?: readonly string[] }
  /** Files the handler imported later (on first use), from a thread that tracks them. */
  | { readonly kind: 'modules'; readonly files: readonly string[] }
  /** Jobs ended since the last batch (sent every 250 ms or 256 jobs), in the order they ended. */
  | {
      readonly kind: 'jobs';
      readonly handles: readonly string[];
      readonly durationsMs: readonly number[];
      /** Each job's result: 0 complete, 1 fail, 2 exception. */
      readonly results: readonly number[];
      readonly failures: readonly DirectFailure[];
    }
  /**
   * The thread's connection to `servers[server]` came up or went down (the library
   * Worker's connect and disconnect): state changes only, never per job.
   */
  | {
      readonly kind: 'connection';
      readonly server: number;
      readonly up: boolean;
      readonly reconnect: boolean;
      readonly error: string | null;
    }
  /** An error the job server sent or a protocol error on that connection (its lastError). */
  | { readonly kind: 'serverError'; readonly server: number; readonly error: string }
  /**
   * A job's handle is running in another thread's slot (`slot`), or a crash was recorded
   * that this thread has not heard of yet (`slot` -1): did a thread die running it?
   */
  | { readonly kind: 'verdict?'; readonly handle: string; readonly slot: number }
  | { readonly kind: 'stopped' };
