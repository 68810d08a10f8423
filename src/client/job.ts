import { ErrorCode, GearmanError, TimeoutError } from '../errors.js';
import { type Deferred, deferred } from './deferred.js';

/**
 * What a foreground job reports while it runs, in the order the server sent it:
 * `created` once (the server accepted the job), then any number of `status` (WORK_STATUS),
 * `data` (WORK_DATA, a partial result) and `warning` (WORK_WARNING) updates.
 * Status numbers are parsed from the decimal text the worker sent (NaN if it was not a number).
 */
export type JobUpdate =
  | { readonly type: 'created'; readonly handle: string }
  | { readonly type: 'status'; readonly numerator: number; readonly denominator: number }
  | { readonly type: 'data'; readonly data: Buffer }
  | { readonly type: 'warning'; readonly data: Buffer };

/** `queued`: sent or waiting to be sent; `created`: the server gave it a handle; then one of the final two. */
export type JobState = 'queued' | 'created' | 'completed' | 'failed';

/** Where a created job is registered, so a job that ends early (timeout, abort) can be forgotten. @internal */
export interface JobOwner {
  detach(job: ForegroundJob): void;
}

const kDone: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * A foreground job: awaitable for its result, and async-iterable for its live updates.
 *
 * ```ts
 * const job = client.submit('resize', image);
 * for await (const update of job) {
 *   if (update.type === 'status') console.log(`${update.numerator}/${update.denominator}`);
 * }
 * const result = await job; // or job.result
 * ```
 *
 * The result settles with the WORK_COMPLETE data, or rejects with a JobFailedError
 * (WORK_FAIL), a JobExceptionError (WORK_EXCEPTION), a ServerError (e.g. code
 * GEARMAN_ERR_QUEUE_FULL), a TimeoutError, a ConnectionError (the connection dropped
 * while the job was pending) or a GearmanError with code GEARMAN_ERR_ABORTED.
 *
 * Updates are buffered from the start until read, so iteration may begin late and still
 * sees every update; a job that streams much data should therefore be iterated. The
 * iteration has a single consumer, ends when the job completes, and throws the job's
 * error if it fails. The result promise is created on first use, so a job whose outcome
 * nobody asks for never raises an unhandled rejection.
 */
export class ForegroundJob implements PromiseLike<Buffer>, AsyncIterable<JobUpdate> {
  /** The function name the job was submitted to. */
  readonly functionName: string;
  /** The unique id sent with the job ('' when none). */
  readonly unique: string;
  #handle: string | undefined = undefined;
  #server: string | undefined = undefined;
  #state: JobState = 'queued';
  #value: Buffer | undefined = undefined;
  #error: Error | undefined = undefined;
  #result: Deferred<Buffer> | null = null;
  #created: Deferred<string> | null = null;
  #updates: JobUpdate[] | null = null;
  /** `created` not yet read: kept as a flag, so a job nobody iterates allocates no update. */
  #createdUnread = false;
  #waiter: Deferred<IteratorResult<JobUpdate, undefined>> | null = null;
  #streamClosed = false;
  #owner: JobOwner | null = null;
  #timer: NodeJS.Timeout | null = null;
  #signal: AbortSignal | null = null;
  #onAbort: (() => void) | null = null;

  /** @internal Jobs are made by Client.submit. */
  constructor(functionName: string, unique: string) {
    this.functionName = functionName;
    this.unique = unique;
  }

  /** The job handle, once the server has created the job. */
  get handle(): string | undefined {
    return this.#handle;
  }

  /** The `host:port` of the server the job was sent to, once sent. */
  get server(): string | undefined {
    return this.#server;
  }

  get state(): JobState {
    return this.#state;
  }

  /** True once the job completed or failed. */
  get settled(): boolean {
    return this.#state === 'completed' || this.#state === 'failed';
  }

  /** The result (WORK_COMPLETE data). */
  get result(): Promise<Buffer> {
    if (this.#result === null) {
      this.#result = deferred<Buffer>();
      if (this.#state === 'completed') this.#result.resolve(this.#value as Buffer);
      else if (this.#state === 'failed') this.#result.reject(this.#error);
    }
    return this.#result.promise;
  }

  /** Resolves with the handle once the server has accepted the job; rejects if it fails first. */
  get created(): Promise<string> {
    if (this.#created === null) {
      this.#created = deferred<string>();
      if (this.#handle !== undefined) this.#created.resolve(this.#handle);
      else if (this.#state === 'failed') this.#created.reject(this.#error);
    }
    return this.#created.promise;
  }

  // biome-ignore lint/suspicious/noThenProperty: a job is deliberately awaitable for its result.
  then<A = Buffer, B = never>(
    onFulfilled?: ((value: Buffer) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.result.then(onFulfilled, onRejected);
  }

  [Symbol.asyncIterator](): AsyncIterator<JobUpdate, undefined> {
    return {
      next: () => this.#next(),
      return: async () => {
        // Stop listening: drop what is buffered and buffer nothing more.
        this.#updates = null;
        this.#createdUnread = false;
        this.#streamClosed = true;
        return kDone;
      },
    };
  }

  #next(): Promise<IteratorResult<JobUpdate, undefined>> {
    if (this.#createdUnread) {
      this.#createdUnread = false;
      return Promise.resolve({ done: false, value: { type: 'created', handle: this.#handle as string } });
    }
    const updates = this.#updates;
    if (updates !== null && updates.length > 0) {
      return Promise.resolve({ done: false, value: updates.shift() as JobUpdate });
    }
    if (this.#state === 'completed') return Promise.resolve(kDone);
    if (this.#state === 'failed') {
      if (this.#streamClosed) return Promise.resolve(kDone);
      this.#streamClosed = true;
      return Promise.reject(this.#error);
    }
    if (this.#waiter !== null) {
      return Promise.reject(
        new GearmanError(ErrorCode.JOB_STATE, 'a job update stream has one consumer at a time'),
      );
    }
    this.#waiter = deferred();
    return this.#waiter.promise;
  }

  #push(update: JobUpdate): void {
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.resolve({ done: false, value: update });
    } else if (!this.#streamClosed) {
      if (this.#updates === null) this.#updates = [update];
      else this.#updates.push(update);
    }
  }

  /** @internal Arms the caller's timeout and abort signal (only jobs that ask pay for a timer). */
  _arm(timeoutMs: number | undefined, signal: AbortSignal | undefined): void {
    if (timeoutMs !== undefined) {
      this.#timer = setTimeout(() => {
        this._fail(new TimeoutError(`job ${this.#describe()} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    }
    if (signal !== undefined) {
      if (signal.aborted) {
        this._fail(abortError(signal, this.#describe()));
        return;
      }
      this.#signal = signal;
      this.#onAbort = () => this._fail(abortError(signal, this.#describe()));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /** @internal The frame was handed to the connection of `server`. */
  _sent(server: string): void {
    this.#server = server;
  }

  /** @internal JOB_CREATED arrived. */
  _created(handle: string, owner: JobOwner): void {
    if (this.settled) return;
    this.#handle = handle;
    this.#state = 'created';
    this.#owner = owner;
    this.#created?.resolve(handle);
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.resolve({ done: false, value: { type: 'created', handle } });
    } else if (!this.#streamClosed) {
      this.#createdUnread = true;
    }
  }

  /** @internal WORK_STATUS, WORK_DATA or WORK_WARNING arrived. */
  _update(update: JobUpdate): void {
    if (!this.settled) this.#push(update);
  }

  /** @internal WORK_COMPLETE arrived. */
  _complete(value: Buffer): void {
    if (this.settled) return;
    this.#state = 'completed';
    this.#value = value;
    this.#cleanup();
    this.#result?.resolve(value);
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.resolve(kDone);
    }
  }

  /** @internal The job failed, for whatever reason; the first outcome wins. */
  _fail(error: Error): void {
    if (this.settled) return;
    this.#state = 'failed';
    this.#error = error;
    this.#cleanup();
    this.#result?.reject(error);
    if (this.#created !== null && this.#handle === undefined) this.#created.reject(error);
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      this.#streamClosed = true;
      waiter.reject(error);
    }
  }

  #cleanup(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#onAbort !== null) {
      this.#signal?.removeEventListener('abort', this.#onAbort);
      this.#onAbort = null;
      this.#signal = null;
    }
    const owner = this.#owner;
    if (owner !== null) {
      this.#owner = null;
      owner.detach(this);
    }
  }

  #describe(): string {
    return this.#handle ?? `${this.functionName} (not yet created)`;
  }
}

function abortError(signal: AbortSignal, job: string): GearmanError {
  return new GearmanError(ErrorCode.ABORTED, `job ${job} was aborted`, { cause: signal.reason });
}
