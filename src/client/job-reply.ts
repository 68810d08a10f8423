import { ErrorCode, GearmanError, TimeoutError } from '../errors.js';
import { PacketType } from '../protocol/constants.js';
import type { Packet } from '../protocol/packet.js';
import { type Deferred, deferred } from './deferred.js';
import { GiveUp, type GiveUpCause } from './give-up.js';
import type { JobState, JobUpdate } from './job.js';
import type { PendingReply, ReplyLink } from './pending-reply.js';
import { handleOf } from './request.js';

export const kDone: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * A foreground job's state and its controls, kept apart from the public ForegroundJob
 * (which only reads it), so that what the client and its connections call to drive a job
 * never shows in the package's types. It is the job's pending reply until JOB_CREATED,
 * then is tracked by handle on its connection for the WORK_* packets.
 */
export class ForegroundReply implements PendingReply {
  readonly answer = PacketType.JOB_CREATED;
  readonly functionName: string;
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
  #owner: ReplyLink | null = null;
  #wait: GiveUp | null = null;

  constructor(functionName: string) {
    this.functionName = functionName;
  }

  get handle(): string | undefined {
    return this.#handle;
  }

  get server(): string | undefined {
    return this.#server;
  }

  get state(): JobState {
    return this.#state;
  }

  get settled(): boolean {
    return this.#state === 'completed' || this.#state === 'failed';
  }

  get result(): Promise<Buffer> {
    if (this.#result === null) {
      this.#result = deferred<Buffer>();
      if (this.#state === 'completed') this.#result.resolve(this.#value as Buffer);
      else if (this.#state === 'failed') this.#result.reject(this.#error);
    }
    return this.#result.promise;
  }

  get created(): Promise<string> {
    if (this.#created === null) {
      this.#created = deferred<string>();
      if (this.#handle !== undefined) this.#created.resolve(this.#handle);
      else if (this.#state === 'failed') this.#created.reject(this.#error);
    }
    return this.#created.promise;
  }

  /** The update stream's next(). */
  next(): Promise<IteratorResult<JobUpdate, undefined>> {
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

  /** The consumer stopped listening: drop what is buffered and buffer nothing more. */
  closeStream(): void {
    this.#updates = null;
    this.#createdUnread = false;
    this.#streamClosed = true;
  }

  /** Arms the caller's timeout and abort signal (only jobs that ask pay for a timer). */
  arm(timeoutMs: number | undefined, signal: AbortSignal | undefined): void {
    this.#wait = GiveUp.arm(timeoutMs, signal, (cause) => this.#giveUp(cause, timeoutMs, signal));
  }

  sent(server: string): void {
    this.#server = server;
  }

  /** JOB_CREATED arrived: the job is tracked on `link` by its handle from now on. */
  accept(packet: Packet, link: ReplyLink): void {
    if (this.settled) return; // timed out or aborted before the server answered
    const handle = handleOf(packet);
    link.track(handle, this);
    this.#handle = handle;
    this.#state = 'created';
    this.#owner = link;
    this.#created?.resolve(handle);
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.resolve({ done: false, value: { type: 'created', handle } });
    } else if (!this.#streamClosed) {
      this.#createdUnread = true;
    }
  }

  /** WORK_STATUS, WORK_DATA or WORK_WARNING arrived. */
  update(update: JobUpdate): void {
    if (this.settled) return;
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.resolve({ done: false, value: update });
    } else if (!this.#streamClosed) {
      if (this.#updates === null) this.#updates = [update];
      else this.#updates.push(update);
    }
  }

  /** WORK_COMPLETE arrived. */
  complete(value: Buffer): void {
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

  fail(error: Error): void {
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

  #giveUp(cause: GiveUpCause, timeoutMs: number | undefined, signal: AbortSignal | undefined): void {
    const job = this.#handle ?? `${this.functionName} (not yet created)`;
    this.fail(
      cause === 'timeout'
        ? new TimeoutError(`job ${job} timed out after ${timeoutMs} ms`)
        : new GearmanError(ErrorCode.ABORTED, `job ${job} was aborted`, { cause: signal?.reason }),
    );
  }

  #cleanup(): void {
    if (this.#wait !== null) {
      this.#wait.cancel();
      this.#wait = null;
    }
    const owner = this.#owner;
    if (owner !== null) {
      this.#owner = null;
      owner.detach(this);
    }
  }
}
