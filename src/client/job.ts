import { type ForegroundReply, kDone } from './job-reply.js';

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

/**
 * Makes the public face of a job the client drives through `reply`: the one way to build
 * a ForegroundJob, set in its static block (as the worker's Job hands out `jobControl`),
 * so that no control of the job is a member of its public type.
 */
export let foregroundJobOf: (reply: ForegroundReply, unique: string) => ForegroundJob;

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
  /** The job's state and controls: the client drives it, this object only reads it. */
  readonly #reply: ForegroundReply;

  static {
    foregroundJobOf = (reply, unique) => new ForegroundJob(reply, unique);
  }

  /** Jobs are made by Client.submit. */
  private constructor(reply: ForegroundReply, unique: string) {
    this.functionName = reply.functionName;
    this.unique = unique;
    this.#reply = reply;
  }

  /** The job handle, once the server has created the job. */
  get handle(): string | undefined {
    return this.#reply.handle;
  }

  /** The `host:port` of the server the job was sent to, once sent. */
  get server(): string | undefined {
    return this.#reply.server;
  }

  get state(): JobState {
    return this.#reply.state;
  }

  /** True once the job completed or failed. */
  get settled(): boolean {
    return this.#reply.settled;
  }

  /** The result (WORK_COMPLETE data). */
  get result(): Promise<Buffer> {
    return this.#reply.result;
  }

  /** Resolves with the handle once the server has accepted the job; rejects if it fails first. */
  get created(): Promise<string> {
    return this.#reply.created;
  }

  // biome-ignore lint/suspicious/noThenProperty: a job is deliberately awaitable for its result.
  then<A = Buffer, B = never>(
    onFulfilled?: ((value: Buffer) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#reply.result.then(onFulfilled, onRejected);
  }

  [Symbol.asyncIterator](): AsyncIterator<JobUpdate, undefined> {
    const reply = this.#reply;
    return {
      next: () => reply.next(),
      return: async () => {
        reply.closeStream();
        return kDone;
      },
    };
  }
}
