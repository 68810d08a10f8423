import type { GearmanError } from '../errors.js';
import { MAX_TIMER_MS } from '../limits.js';
import type { Logger } from '../log.js';
import { parseServerAddress, type ServerAddress } from '../net/address.js';
import type { BackoffPolicy } from '../net/backoff.js';
import { MAX_FUNCTION_SIZE, MAX_IDENTIFIER_SIZE } from '../protocol/constants.js';
import type { GrabGate } from './grab-gate.js';
import type { Job, JobOutcome } from './job.js';

/**
 * Which grab packet the worker sends. `'all'` (GRAB_JOB_ALL) also receives the unique id
 * and, for map/reduce submissions, the reducer; `'uniq'` (GRAB_JOB_UNIQ) the unique id;
 * `'plain'` (GRAB_JOB) neither.
 */
export type GrabMode = 'all' | 'uniq' | 'plain';

/** What a handler may return: the WORK_COMPLETE data (`undefined` and `null` send none). */
// biome-ignore lint/suspicious/noConfusingVoidType: lets `(job) => { job.complete(x); }` and `async (job) => {}` type-check as handlers.
export type JobResult = string | Uint8Array | undefined | null | void;

/**
 * Runs one job. The returned value (or the value the promise resolves to) is sent as
 * WORK_COMPLETE; a throw or a rejection is sent as WORK_EXCEPTION carrying the error's
 * message. A handler that ends the job itself (job.complete/fail/exception) may return
 * anything: nothing more is sent.
 */
export type JobHandler = (job: Job) => JobResult | Promise<JobResult>;

export interface RegisterOptions {
  /**
   * Sent to the server as CAN_DO_TIMEOUT, in milliseconds (gearmand >= 1.1.19 reads
   * milliseconds; older servers read seconds). When it passes, the server requeues the
   * job for another worker and tells no client; this worker aborts the job's `signal`
   * with a TimeoutError and sends nothing more for it.
   *
   * Caveats of gearmand 1.1.x: it raises timeouts under 1000 ms to 1000 ms, keeps one
   * timer per connection (only the latest job on a connection is timed, so use it with
   * `maxJobs: 1`), and can hang when that timer fires on a reused connection (gearmand
   * #301, fixed in 2.0.0). Prefer enforcing deadlines in the handler with `job.signal`.
   * @defaultValue no timeout (plain CAN_DO)
   */
  readonly timeoutMs?: number;
}

export interface WorkerOptions {
  /** Job servers to take jobs from; one grab loop runs per server (and per connection). @defaultValue ['127.0.0.1:4730'] */
  readonly servers?: ReadonlyArray<string | ServerAddress>;
  /** Sent as SET_CLIENT_ID on every connection; shows in the `workers` admin listing. */
  readonly clientId?: string;
  /**
   * Jobs in flight per connection: the worker keeps `running + grabs sent <= maxJobs`, so
   * up to that many grabs are pipelined. A job holds its slot until its handler returns
   * or its final packet (complete, fail, exception) is sent, whichever comes first; a
   * lost job (its signal aborted) holds it until its handler returns. For throughput on tiny jobs use 16-64, and
   * `connectionsPerServer` 2. @defaultValue 1
   */
  readonly maxJobs?: number;
  /**
   * Sockets per server, each with its own grab loop and `maxJobs` slots. More than one
   * spreads the load over gearmand's I/O threads. @defaultValue 1
   */
  readonly connectionsPerServer?: number;
  /** Grab packet; `'all'` falls back to `'uniq'` on a server that answers it with ERROR. @defaultValue 'all' */
  readonly grab?: GrabMode;
  /**
   * While asleep (PRE_SLEEP sent, waiting for NOOP), grab again after this long anyway:
   * gearmand 1.1.x does not wake workers when an epoch job falls due. 0 turns it off.
   * @defaultValue 5000
   */
  readonly regrabIntervalMs?: number;
  /**
   * What a handler that throws (or rejects) sends: `true` sends WORK_EXCEPTION with the
   * error's message, `false` sends WORK_FAIL. Beware: gearmand 1.1.20 (and every later
   * release so far) turns WORK_EXCEPTION into a WORK_FAIL whose handle keeps its trailing
   * NUL for clients that did not ask for exceptions, and libgearman clients (the `gearman`
   * CLI, PHP's `addServer(host, port, false)`) never match that packet and wait forever.
   * Use `false` when such clients submit work. Explicit `job.exception()` calls are not
   * affected. @defaultValue true
   */
  readonly exceptions?: boolean;
  /**
   * A limit shared with other workers: every grab first reserves a slot from it (on top
   * of `maxJobs`), and the reservation is released when the grab is answered. After a
   * slot frees up elsewhere, call `worker.refill()`.
   */
  readonly gate?: GrabGate;
  /** Give up one connect attempt after this long. @defaultValue 5000 */
  readonly connectTimeoutMs?: number;
  /** Reconnect policy, or `false` to stay down after a drop. @defaultValue exponential backoff, 100 ms to 10 s */
  readonly reconnect?: BackoffPolicy | false;
  /**
   * Largest frame data accepted from a server (a job's payload plus its header fields),
   * and sent to one: a result, WORK_DATA or WORK_WARNING that would make a bigger frame
   * is not sent, and its job fails instead (WORK_EXCEPTION saying why, or WORK_FAIL with
   * `exceptions: false`), since a server with a lower limit drops the connection and
   * requeues the job, which then fails the same way forever. @defaultValue 64 MiB
   */
  readonly maxFrameSize?: number;
  readonly logger?: Logger;
}

export interface CloseOptions {
  /** How long to wait for running jobs before aborting them. @defaultValue 30000 */
  readonly timeoutMs?: number;
  /** Abort running jobs at once instead of waiting for them. @defaultValue false */
  readonly force?: boolean;
}

export interface JobEndEvent {
  readonly handle: string;
  readonly functionName: string;
  /**
   * `'lost'`: the job can no longer be answered (its connection dropped, its timeout
   * passed, or the worker was force-closed); the server requeues it.
   */
  readonly outcome: JobOutcome;
  readonly durationMs: number;
  readonly server: string;
}

export interface WorkerEvents {
  'job:start': [job: Job];
  'job:end': [event: JobEndEvent];
  /** ERROR packets, protocol errors, jobs for unknown functions. Logged instead when nobody listens. */
  error: [error: GearmanError];
  connect: [event: { server: string; reconnect: boolean }];
  disconnect: [event: { server: string; error: GearmanError }];
  reconnecting: [event: { server: string; attempt: number; delayMs: number; error: GearmanError }];
  reconnect: [event: { server: string }];
  /** close() finished: every socket is closed. */
  close: [];
}

export interface ResolvedWorkerOptions {
  readonly servers: readonly ServerAddress[];
  readonly clientId: string | undefined;
  readonly maxJobs: number;
  readonly connectionsPerServer: number;
  readonly grab: GrabMode;
  readonly regrabIntervalMs: number;
  readonly exceptions: boolean;
  readonly gate: GrabGate | undefined;
  readonly connectTimeoutMs: number | undefined;
  readonly reconnect: BackoffPolicy | false | undefined;
  readonly maxFrameSize: number | undefined;
}

export const kDefaultRegrabIntervalMs = 5000;
export const kDefaultCloseTimeoutMs = 30_000;

/** Checks every public option up front so mistakes fail at construction, not mid-job. */
export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  const servers = (options.servers ?? ['127.0.0.1:4730']).map((spec) => parseServerAddress(spec));
  if (servers.length === 0) throw new RangeError('servers must name at least one job server');
  const { clientId } = options;
  if (clientId !== undefined) checkName(clientId, 'clientId', MAX_IDENTIFIER_SIZE);
  const maxJobs = options.maxJobs ?? 1;
  checkCount(maxJobs, 'maxJobs');
  const connectionsPerServer = options.connectionsPerServer ?? 1;
  checkCount(connectionsPerServer, 'connectionsPerServer');
  const grab = options.grab ?? 'all';
  if (grab !== 'all' && grab !== 'uniq' && grab !== 'plain') {
    throw new TypeError(`grab must be 'all', 'uniq' or 'plain', got ${String(grab)}`);
  }
  const regrabIntervalMs = options.regrabIntervalMs ?? kDefaultRegrabIntervalMs;
  checkDelay(regrabIntervalMs, 'regrabIntervalMs', true);
  if (options.connectTimeoutMs !== undefined) checkDelay(options.connectTimeoutMs, 'connectTimeoutMs', false);
  return {
    servers,
    clientId,
    maxJobs,
    connectionsPerServer,
    grab,
    regrabIntervalMs,
    exceptions: options.exceptions ?? true,
    gate: options.gate,
    connectTimeoutMs: options.connectTimeoutMs,
    reconnect: options.reconnect,
    maxFrameSize: options.maxFrameSize,
  };
}

/** A function name must fit gearmand's limit and hold no NUL (it would split the packet). */
export function checkFunctionName(name: string): void {
  checkName(name, 'function name', MAX_FUNCTION_SIZE);
}

export function checkTimeout(timeoutMs: number | undefined): void {
  if (timeoutMs !== undefined) checkDelay(timeoutMs, 'timeoutMs', false);
}

export function checkCount(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${value}`);
  }
}

function checkName(value: string, what: string, maxBytes: number): void {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${what} must be a non-empty string`);
  if (value.includes('\0')) throw new TypeError(`${what} must not contain NUL`);
  const bytes = Buffer.byteLength(value);
  if (bytes > maxBytes) throw new RangeError(`${what} is ${bytes} bytes; the limit is ${maxBytes}`);
}

function checkDelay(value: number, what: string, zeroAllowed: boolean): void {
  if (!Number.isInteger(value) || value < (zeroAllowed ? 0 : 1) || value > MAX_TIMER_MS) {
    throw new RangeError(
      `${what} must be an integer number of milliseconds from ${zeroAllowed ? 0 : 1} to ${MAX_TIMER_MS}, got ${value}`,
    );
  }
}
