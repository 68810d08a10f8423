import type { Logger } from '../../log.js';
import type { ServerConfig } from '../manifest/types.js';
import type { ThreadEndCause } from '../pool/handler-pool.js';
import type { DirectFailure } from '../thread/direct-messages.js';

/** What a DirectPool (direct-pool.ts) is given and tells its owner. */

/** Jobs a thread ended since its last batch (every 250 ms or 256 jobs), in the order they ended. */
export interface DirectJobs {
  readonly handles: readonly string[];
  readonly durationsMs: readonly number[];
  /** 0 complete, 1 fail, 2 exception, in the order of handles. */
  readonly results: readonly number[];
  /** The jobs that did not complete, by their index in the batch. */
  readonly failures: readonly DirectFailure[];
}

/** A job that was running in a thread when the thread died: it ends here (the requeued job is answered, not counted again). */
export interface DirectCrash {
  readonly handle: string;
  readonly reason: string;
  readonly cause: ThreadEndCause;
  readonly durationMs: number;
}

/** A thread's connection to a job server came up or went down. */
export interface DirectConnectionChange {
  /** `host:port`. */
  readonly server: string;
  readonly up: boolean;
  readonly reconnect: boolean;
  readonly error: string | null;
}

/** What a DirectPool tells its owner (direct-function.ts), each when it happens. */
export interface DirectPoolHooks {
  jobs?(batch: DirectJobs): void;
  crashed?(job: DirectCrash): void;
  connection?(change: DirectConnectionChange): void;
  /** An error the job server sent, or a protocol error, on a thread's connection. */
  serverError?(server: string, error: string): void;
  /** The handler loaded more files (DirectPool.modules grew). */
  modules?(): void;
  /**
   * A thread ended without answering `jobs` jobs it held, not by dying: it was stopped,
   * or terminated at a deadline. The job server requeues them (a shutdown's jobsCutShort).
   */
  unanswered?(jobs: number): void;
}

export interface DirectPoolOptions {
  readonly servers: readonly ServerConfig[];
  readonly clientId?: string;
  readonly logger?: Logger;
  readonly regrabIntervalMs?: number;
  readonly hooks?: DirectPoolHooks;
}
