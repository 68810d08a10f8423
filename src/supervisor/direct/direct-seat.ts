import { Worker as Thread } from 'node:worker_threads';
import { ErrorCode, GearmanError } from '../../errors.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../protocol/constants.js';
import { DEFAULT_MAX_RESULT_SIZE } from '../manifest/result-size.js';
import type { ModuleFunctionConfig, ServerConfig } from '../manifest/types.js';
import type { DirectThreadData, FromDirectThread } from '../thread/direct-messages.js';
import { directEntryFile } from './direct-entry-file.js';

/** One thread of a DirectPool (direct-pool.ts), at its place `index` on the board. */
export interface Seat {
  readonly index: number;
  readonly thread: Thread;
  /** Why the main thread ended it (a timeout), when it did. */
  endedFor: string | null;
  /** Told to stop (a close, or a resize that removed it): its end is not a death. */
  stopping: boolean;
  /** Loaded and connected (it said `ready`). */
  ready: boolean;
  ended: boolean;
  /** Terminated at a deadline (cut() or destroy()): its jobs are requeued, not a crash. */
  cut: boolean;
  readonly exited: Promise<void>;
  /** Per server (the order of `servers`): its connection is up. */
  readonly up: boolean[];
}

/** What a seat's thread tells its pool, beside the load's outcome. */
export interface SeatOwner {
  /** Any message once the thread runs (jobs, connections, modules, verdict questions). */
  message(seat: Seat, message: FromDirectThread): void;
  /** The thread ended (loaded or not: see seat.ready); `error` is its last uncaught error. */
  ended(seat: Seat, code: number, error: Error | null): void;
}

/** What every thread of a pool shares; each seat adds its own index and the crashes known so far. */
export interface SeatShared {
  readonly config: ModuleFunctionConfig;
  readonly servers: readonly ServerConfig[];
  readonly clientId: string | undefined;
  readonly regrabIntervalMs: number | undefined;
  readonly board: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
}

/**
 * Starts a thread at `index` (thread/direct-entry.ts). `ready` resolves once it has
 * loaded the handler and connected (or once it ends, told to stop first), and rejects
 * with HANDLER_LOAD when it cannot load (or ends first on its own).
 */
export function startSeat(
  index: number,
  shared: SeatShared,
  own: {
    readonly crashed: ReadonlyArray<readonly [string, string]>;
    readonly crashesHeard: number;
    readonly trackModules: boolean;
  },
  owner: SeatOwner,
): { seat: Seat; ready: Promise<void> } {
  const { config } = shared;
  const data: DirectThreadData = {
    handler: config.handler,
    exportName: config.export,
    functionName: config.name,
    servers: shared.servers.map(({ host, port, tls }) => (tls ? { host, port, tls } : { host, port })),
    jobsPerThread: config.jobsPerThread,
    exceptions: config.exceptions,
    encoding: config.payload,
    timeoutMs: config.timeoutMs,
    clientId: shared.clientId,
    board: shared.board,
    index,
    control: shared.control,
    crashed: own.crashed,
    crashesHeard: own.crashesHeard,
    regrabIntervalMs: shared.regrabIntervalMs,
    maxFrameSize: Math.max(DEFAULT_MAX_FRAME_SIZE, (config.maxResultSize ?? DEFAULT_MAX_RESULT_SIZE) + 1024),
    trackModules: own.trackModules,
  };
  const thread = new Thread(directEntryFile(), {
    workerData: data,
    ...(config.maxMemoryMb === undefined
      ? {}
      : { resourceLimits: { maxOldGenerationSizeMb: config.maxMemoryMb } }),
  });
  const seat: Seat = {
    index,
    thread,
    endedFor: null,
    stopping: false,
    ready: false,
    ended: false,
    cut: false,
    exited: new Promise<void>((resolve) => thread.once('exit', () => resolve())),
    up: shared.servers.map(() => false),
  };
  let lastError: Error | null = null;
  const ready = new Promise<void>((resolve, reject) => {
    thread.on('message', (message: FromDirectThread) => {
      if (message.kind === 'ready') {
        seat.ready = true;
        owner.message(seat, message);
        resolve();
      } else if (message.kind === 'loadFailed') {
        owner.message(seat, message);
        reject(new GearmanError(ErrorCode.HANDLER_LOAD, `${config.handler}: ${message.error.message}`));
        void thread.terminate();
      } else {
        owner.message(seat, message);
      }
    });
    thread.on('error', (err) => {
      lastError = err;
    });
    thread.once('exit', (code) => {
      seat.ended = true;
      owner.ended(seat, code, lastError);
      if (seat.ready) return;
      // Told to stop (a scale down, a close) or terminated at a deadline before it served: no failed load.
      if (seat.stopping || seat.cut) resolve();
      const why = lastError?.message ?? `exit code ${code}`;
      reject(
        new GearmanError(
          ErrorCode.HANDLER_LOAD,
          `${config.handler}: the handler thread ended while loading (${why})`,
        ),
      );
    });
  });
  return { seat, ready };
}
