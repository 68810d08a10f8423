import { MAX_RUNNING_CAP } from '../limits.js';
import type { Logger } from '../log.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../protocol/constants.js';
import type { HttpGatewayOptions } from './http/options.js';
import { defaultJobHandlePrefix } from './job-handles.js';
import { integerOption } from './option-checks.js';
import type { ResultCacheOptions } from './result-cache.js';
import type { JobStore } from './store.js';
import type { ServerTlsOptions } from './tls.js';

/** Options of GearmanServer; the `http*` ones (the HTTP gateway) are in HttpGatewayOptions. */
export interface GearmanServerOptions extends HttpGatewayOptions {
  /** Address to listen on. Loopback unless told otherwise. @defaultValue '127.0.0.1' */
  readonly host?: string;
  /** TCP port; 0 picks a free one (see the address listen() returns). @defaultValue 4730 */
  readonly port?: number;
  /** Connections waiting to be accepted (listen backlog). @defaultValue 511 */
  readonly backlog?: number;
  /**
   * Attempts before a job whose workers keep disconnecting (or timing out) is failed
   * with WORK_FAIL to its clients; 0 = unlimited, as gearmand's `--job-retries`. @defaultValue 0
   */
  readonly jobRetries?: number;
  /** Sleeping workers to NOOP per new job; 0 = all of them (gearmand's `--worker-wakeup`). @defaultValue 0 */
  readonly workerWakeup?: number;
  /** Send WORK_EXCEPTION to every client, not only to those that asked (`--exceptions`). @defaultValue false */
  readonly exceptions?: boolean;
  /** Job handles are `<prefix>:<n>`. @defaultValue `H:<hostname>` */
  readonly jobHandlePrefix?: string;
  /** Serve a worker's functions in turn rather than in registration order (`-R`). @defaultValue false */
  readonly roundRobin?: boolean;
  /**
   * Priority across all of a worker's functions (gearmand 2.0): a HIGH job of any of its
   * functions before any NORMAL one. Off: gearmand 1.1's first-function-with-a-job order.
   * @defaultValue false
   */
  readonly globalPriority?: boolean;
  /** Largest packet data accepted; bigger frames are refused from their header. @defaultValue 64 MiB */
  readonly maxFrameSize?: number;
  /** Open connections at most; more are closed as they come. @defaultValue 10000 */
  readonly maxConnections?: number;
  /**
   * Bytes of replies written and not yet sent, over all connections together. Past it,
   * the connections holding the most are dropped (one warning each) until the total is
   * under it again. Each connection also has its own cap: 64 MiB or two maxFrameSize
   * frames, whichever is more. @defaultValue 512 MiB
   */
  readonly maxUnsentOutput?: number;
  /** Jobs the server holds at most (queued, scheduled and running); more get QUEUE_ERROR. 0 = no limit. @defaultValue 1000000 */
  readonly maxJobs?: number;
  /** Where background jobs persist. The server closes it in close(). @defaultValue MemoryJobStore */
  readonly store?: JobStore;
  /**
   * Answer a foreground submit at once with the result of a job of the same function and
   * unique that completed less than a TTL ago (gworker's own; see ResultCacheOptions).
   * @defaultValue off
   */
  readonly resultCache?: ResultCacheOptions;
  /**
   * Jobs of a function that may run at once across all workers, by function name
   * (gworker's own, like the admin `maxrunning`): past it, a grab gets another function's
   * job or NO_JOB and the job waits in its queue. Not persisted. @defaultValue no cap
   */
  readonly maxRunning?: Readonly<Record<string, number>>;
  readonly logger?: Logger;
  /** The level the admin `verbose` command reports (the CLI passes its --log-level). @defaultValue 'info' */
  readonly logLevel?: string;
  /**
   * Serve TLS on the port (and HTTPS on the HTTP gateway), requiring client certificates
   * when `tls.ca` is given. @defaultValue plaintext
   */
  readonly tls?: ServerTlsOptions;
}

export interface ResolvedServerOptions {
  readonly host: string;
  readonly port: number;
  readonly backlog: number;
  readonly jobRetries: number;
  readonly workerWakeup: number;
  readonly exceptions: boolean;
  readonly jobHandlePrefix: string;
  readonly roundRobin: boolean;
  readonly globalPriority: boolean;
  readonly maxFrameSize: number;
  readonly maxConnections: number;
  readonly maxUnsentOutput: number;
  readonly maxJobs: number;
  /** `maxRunning` as [name as the latin1 of its UTF-8 bytes, cap], caps of 0 left out. */
  readonly maxRunning: ReadonlyArray<readonly [string, number]>;
  readonly verboseLevel: string;
}

/** The default of `maxUnsentOutput`: eight connections at the per-connection cap of 64 MiB. */
export const DEFAULT_MAX_UNSENT_OUTPUT = 512 * 1024 * 1024;

/** gearmand's names for log levels, as `verbose` prints them. */
const kVerboseNames: Record<string, string> = {
  fatal: 'FATAL',
  error: 'ERROR',
  warn: 'WARNING',
  warning: 'WARNING',
  info: 'INFO',
  debug: 'DEBUG',
  trace: 'DEBUG',
  silent: 'FATAL',
};

/** Checks every option up front, so a bad one fails at construction with a precise message. */
export function resolveServerOptions(options: GearmanServerOptions): ResolvedServerOptions {
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new TypeError('host must be a non-empty string');
  const prefix = options.jobHandlePrefix ?? defaultJobHandlePrefix();
  if (typeof prefix !== 'string' || prefix === '')
    throw new TypeError('jobHandlePrefix must be a non-empty string');
  const level = options.logLevel ?? 'info';
  const verboseLevel = kVerboseNames[level.toLowerCase()];
  if (verboseLevel === undefined) {
    throw new RangeError(`logLevel must be one of ${Object.keys(kVerboseNames).join(', ')}, got ${level}`);
  }
  return {
    host,
    port: integerOption('port', options.port, 4730, 0, 65535),
    backlog: integerOption('backlog', options.backlog, 511, 1, 65535),
    jobRetries: integerOption('jobRetries', options.jobRetries, 0, 0, 0xffffffff),
    workerWakeup: integerOption('workerWakeup', options.workerWakeup, 0, 0, 0xffffffff),
    exceptions: options.exceptions ?? false,
    jobHandlePrefix: prefix,
    roundRobin: options.roundRobin ?? false,
    globalPriority: options.globalPriority ?? false,
    maxFrameSize: integerOption(
      'maxFrameSize',
      options.maxFrameSize,
      DEFAULT_MAX_FRAME_SIZE,
      1024,
      0xffffffff,
    ),
    maxConnections: integerOption('maxConnections', options.maxConnections, 10_000, 1, 1_000_000),
    maxUnsentOutput: integerOption(
      'maxUnsentOutput',
      options.maxUnsentOutput,
      DEFAULT_MAX_UNSENT_OUTPUT,
      1024 * 1024,
      Number.MAX_SAFE_INTEGER,
    ),
    maxJobs: integerOption('maxJobs', options.maxJobs, 1_000_000, 0, Number.MAX_SAFE_INTEGER),
    maxRunning: resolveMaxRunning(options.maxRunning),
    verboseLevel,
  };
}

function resolveMaxRunning(
  caps: Readonly<Record<string, number>> | undefined,
): ReadonlyArray<readonly [string, number]> {
  if (caps === undefined) return [];
  if (typeof caps !== 'object' || caps === null)
    throw new TypeError('maxRunning must be an object of name: cap');
  const out: Array<readonly [string, number]> = [];
  for (const [name, cap] of Object.entries(caps)) {
    if (name === '') throw new RangeError('maxRunning: a function name must not be empty');
    const value = integerOption(`maxRunning[${JSON.stringify(name)}]`, cap, 0, 0, MAX_RUNNING_CAP);
    if (value > 0) out.push([Buffer.from(name, 'utf8').toString('latin1'), value]);
  }
  return out;
}
