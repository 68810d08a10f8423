import { ErrorCode, GearmanError, TimeoutError } from '../errors.js';
import { PacketType, packetTypeName } from '../protocol/constants.js';
import { type Arg, encodeRequest } from '../protocol/encoder.js';

/** How a job ended; `'lost'` means it can no longer be answered and the server requeues it. */
export type JobOutcome = 'complete' | 'fail' | 'exception' | 'lost';

/** What a Job needs from the connection that received it (the worker's grab loop). */
export interface JobHost {
  /** The server's `host:port`. */
  readonly name: string;
  /**
   * Largest frame data the connection sends (the Worker's maxFrameSize): a bigger update
   * or result is not sent, and the job fails instead (see Job).
   */
  readonly maxFrameSize: number;
  /** Whether a job that fails here says why with WORK_EXCEPTION (else a bare WORK_FAIL). */
  readonly exceptions: boolean;
  /** A frame was refused as too large and the job failed instead: log it. */
  frameRefused(job: Job, error: GearmanError, bytes: number): void;
  /** Queues a frame on the job's connection; throws when that connection is down. */
  writeJobFrame(frame: Buffer): void;
  /** Called exactly once per job, as soon as its outcome is known. */
  jobEnded(job: Job, outcome: JobOutcome): void;
}

const kMaxUint32 = 0xffffffff;

/**
 * Internal controls the worker uses and a handler must not: wired up in Job's static
 * block so they can reach #private state without widening the public surface.
 */
export interface JobControl {
  /** The job can no longer be answered: abort its signal and report it lost (once). */
  abandon(job: Job, reason: Error): void;
  /** Abandon the job with a TimeoutError after `ms` unless it ends first. */
  armTimeout(job: Job, ms: number): void;
  /** performance.now() when the job arrived. */
  startedAt(job: Job): number;
  /**
   * Calls `listener` if the job is lost (as its signal would abort): the supervisor's
   * way to hear of it without an AbortController per job. One listener per job.
   */
  onLost(job: Job, listener: (reason: Error) => void): void;
}

export let jobControl: JobControl;

function onTimeout(job: Job, ms: number): void {
  jobControl.abandon(
    job,
    new TimeoutError(`job ${job.handle} (${job.functionName}) exceeded its timeout of ${ms} ms`),
  );
}

/**
 * One assigned job. Exactly one terminal packet (WORK_COMPLETE, WORK_FAIL or
 * WORK_EXCEPTION) ever leaves for it: a second terminal call, or an update after the
 * end, throws a GearmanError with code JOB_STATE. When the job is lost (its connection
 * dropped, its timeout passed, the worker was force-closed) its `signal` aborts and
 * every call returns `false` without sending: the server requeues such a job, so its
 * result would be refused anyway.
 *
 * A result or update larger than the connection's frame limit (the Worker's
 * maxFrameSize) is never sent: a job server with a smaller limit would drop the
 * connection and requeue the job, which would then fail the same way forever. The job
 * fails instead, at once (WORK_EXCEPTION saying why, or WORK_FAIL with exceptions off),
 * its `signal` aborts with code FRAME_TOO_LARGE, and later calls return `false`.
 */
export class Job {
  /** The function the client asked for. */
  readonly functionName: string;
  /**
   * The client's workload, as sent: a view of the received socket chunk, not a copy.
   * Copy it (Buffer.from) before keeping it long after the job: the view pins the chunk.
   */
  readonly payload: Buffer;
  readonly #host: JobHost;
  readonly #handleBytes: Buffer;
  readonly #uniqueBytes: Buffer | undefined;
  readonly #reducerBytes: Buffer | undefined;
  readonly #startedAt: number;
  #handle: string | undefined;
  #unique: string | undefined;
  #reducer: string | undefined;
  /** complete/fail/exception was called. */
  #ended = false;
  /** The outcome is known and was reported to the host (terminal sent, or lost). */
  #done = false;
  #lostReason: Error | undefined;
  #controller: AbortController | undefined;
  #lostListener: ((reason: Error) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  static {
    jobControl = {
      abandon: (job, reason) => job.#abandon(reason),
      armTimeout: (job, ms) => {
        job.#timer = setTimeout(onTimeout, ms, job, ms);
        job.#timer.unref();
      },
      startedAt: (job) => job.#startedAt,
      onLost: (job, listener) => {
        if (job.#lostReason !== undefined) listener(job.#lostReason);
        else job.#lostListener = listener;
      },
    };
  }

  /**
   * Built by the worker from a JOB_ASSIGN, JOB_ASSIGN_UNIQ or JOB_ASSIGN_ALL packet; the
   * buffers are views of the received frame. Not meant to be constructed by handlers.
   */
  constructor(
    host: JobHost,
    handle: Buffer,
    functionName: string,
    unique: Buffer | undefined,
    reducer: Buffer | undefined,
    payload: Buffer,
  ) {
    this.#host = host;
    this.#handleBytes = handle;
    this.functionName = functionName;
    this.#uniqueBytes = unique;
    this.#reducerBytes = reducer;
    this.payload = payload;
    this.#startedAt = performance.now();
  }

  /** The server's job handle, e.g. `H:host:42`. */
  get handle(): string {
    // Decoded on first use: the hot path only needs the bytes.
    this.#handle ??= this.#handleBytes.toString('latin1');
    return this.#handle;
  }

  /** The client's unique id ('' when the grab mode does not carry it, or none was given). */
  get unique(): string {
    this.#unique ??= this.#uniqueBytes === undefined ? '' : this.#uniqueBytes.toString('utf8');
    return this.#unique;
  }

  /** The reducer of a map/reduce submission (JOB_ASSIGN_ALL), else ''. */
  get reducer(): string {
    this.#reducer ??= this.#reducerBytes === undefined ? '' : this.#reducerBytes.toString('utf8');
    return this.#reducer;
  }

  /** `host:port` of the server that assigned the job. */
  get server(): string {
    return this.#host.name;
  }

  /** True once complete(), fail() or exception() has been called. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Aborted when the job's result has become useless: the connection dropped, the
   * registered timeout passed, or the worker was force-closed. The reason is a
   * ConnectionError, a TimeoutError or a GearmanError with code CLOSED.
   */
  get signal(): AbortSignal {
    // Created on first use: most handlers never look, and a controller per job costs.
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#lostReason !== undefined) this.#controller.abort(this.#lostReason);
    }
    return this.#controller.signal;
  }

  /** Sends WORK_STATUS (progress, e.g. 3 of 10). Returns false if the job is lost. */
  status(numerator: number, denominator: number): boolean {
    checkStatusNumber(numerator, 'numerator');
    checkStatusNumber(denominator, 'denominator');
    return this.#update(PacketType.WORK_STATUS, [this.#handleBytes, String(numerator), String(denominator)]);
  }

  /** Sends WORK_DATA: a chunk of the result, passed on to waiting clients. */
  data(chunk: string | Uint8Array): boolean {
    return this.#update(PacketType.WORK_DATA, [this.#handleBytes, chunk]);
  }

  /** Sends WORK_WARNING: a chunk of warning text, passed on to waiting clients. */
  warning(chunk: string | Uint8Array): boolean {
    return this.#update(PacketType.WORK_WARNING, [this.#handleBytes, chunk]);
  }

  /** Ends the job with WORK_COMPLETE and `result` as its data. */
  complete(result?: string | Uint8Array): boolean {
    return this.#terminal(PacketType.WORK_COMPLETE, 'complete', result ?? '');
  }

  /** Ends the job with WORK_FAIL (no reason travels with it). */
  fail(): boolean {
    return this.#terminal(PacketType.WORK_FAIL, 'fail', undefined);
  }

  /**
   * Ends the job with WORK_EXCEPTION. Clients that asked for exceptions receive
   * `payload`; gearmand sends the others WORK_FAIL.
   */
  exception(payload?: string | Uint8Array): boolean {
    return this.#terminal(PacketType.WORK_EXCEPTION, 'exception', payload ?? '');
  }

  #update(type: PacketType, args: readonly Arg[]): boolean {
    if (this.#ended) {
      throw new GearmanError(
        ErrorCode.JOB_STATE,
        `job ${this.handle} has ended; no more updates can be sent`,
      );
    }
    if (this.#done) return false;
    const chunk = args[args.length - 1] as Arg;
    if (type !== PacketType.WORK_STATUS && this.#tooLarge(chunk)) return this.#refuse(type, chunk);
    try {
      this.#host.writeJobFrame(encodeRequest(type, args));
      return true;
    } catch (err) {
      this.#abandon(asError(err));
      return false;
    }
  }

  #terminal(type: PacketType, outcome: JobOutcome, data: Arg | undefined): boolean {
    if (this.#ended) {
      throw new GearmanError(ErrorCode.JOB_STATE, `job ${this.handle} has already ended`);
    }
    this.#ended = true;
    if (this.#done) return false;
    if (data !== undefined && this.#tooLarge(data)) return this.#refuse(type, data);
    const frame =
      data === undefined
        ? encodeRequest(type, [this.#handleBytes])
        : encodeRequest(type, [this.#handleBytes, data]);
    this.#done = true;
    this.#clearTimer();
    try {
      this.#host.writeJobFrame(frame);
    } catch (err) {
      this.#lose(asError(err));
      return false;
    }
    this.#host.jobEnded(this, outcome);
    return true;
  }

  /** Whether a frame of the handle and `data` would be over the connection's limit. */
  #tooLarge(data: Arg): boolean {
    const room = this.#host.maxFrameSize - this.#handleBytes.length - 1;
    // A string's UTF-8 is at most 3 bytes per UTF-16 unit: most need no counting.
    if (typeof data === 'string') return data.length * 3 > room && Buffer.byteLength(data) > room;
    return data.byteLength > room;
  }

  /** Fails the job instead of sending a frame over the limit (see the class comment). */
  #refuse(type: PacketType, data: Arg): false {
    const bytes =
      this.#handleBytes.length + 1 + (typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);
    const limit = this.#host.maxFrameSize;
    const error = new GearmanError(
      ErrorCode.FRAME_TOO_LARGE,
      `${packetTypeName(type)} of ${bytes} bytes for job ${this.handle} is over the connection's frame limit of ${limit} bytes (maxFrameSize); the job fails instead`,
    );
    this.#done = true;
    this.#clearTimer();
    // The reason itself always fits a real limit (it is some 150 bytes); a bare WORK_FAIL if not.
    const exceptions = this.#host.exceptions && !this.#tooLarge(error.message);
    try {
      this.#host.writeJobFrame(
        exceptions
          ? encodeRequest(PacketType.WORK_EXCEPTION, [this.#handleBytes, error.message])
          : encodeRequest(PacketType.WORK_FAIL, [this.#handleBytes]),
      );
    } catch (err) {
      this.#lose(asError(err));
      return false;
    }
    this.#host.frameRefused(this, error, bytes);
    // Its result can no longer reach anyone: a handler still at work may stop.
    this.#lostReason = error;
    this.#controller?.abort(error);
    this.#lostListener?.(error);
    this.#host.jobEnded(this, exceptions ? 'exception' : 'fail');
    return false;
  }

  #abandon(reason: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#clearTimer();
    this.#lose(reason);
  }

  #lose(reason: Error): void {
    this.#lostReason = reason;
    this.#controller?.abort(reason);
    this.#lostListener?.(reason);
    this.#host.jobEnded(this, 'lost');
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}

function checkStatusNumber(value: number, what: string): void {
  // gearmand parses both with atoi into a uint32.
  if (!Number.isInteger(value) || value < 0 || value > kMaxUint32) {
    throw new RangeError(`status ${what} must be an integer from 0 to ${kMaxUint32}, got ${value}`);
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
