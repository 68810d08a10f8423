import { DEFAULT_MAX_FRAME_SIZE } from '../../protocol/constants.js';
import type { FunctionConfig, ServerConfig } from '../manifest/types.js';
import type { RunnableJob } from '../runtime/runnable-job.js';
import { kOwnBufferBytes } from '../thread/bytes.js';
import type { SerializedError } from '../thread/messages.js';
import {
  type CarriedError,
  type Carrier,
  carriedError,
  deadLetterUnique,
  jobKey,
  retryUnique,
  unwrapPayload,
  wrapPayload,
} from './carrier.js';
import { deadLetterDocument } from './dead-letter.js';
import { type RetryCause, retryDelayMs, shouldRetry } from './policy.js';
import type { RetryService } from './retry-service.js';

/** The parts of a job a tracked job passes on: the runtime's RunnableJob. */
export type InnerJob = RunnableJob;

/** How an attempt that did not complete ended (a RunOutcome that is not ok). */
export interface FailedRun {
  readonly reason: 'handler' | 'load' | 'timeout' | 'crash' | 'collateral' | 'stopped';
  readonly error: SerializedError;
}

/** After a failed attempt: run it again here (with this much time), or end the job now. */
export type NextStep =
  | { readonly kind: 'again'; readonly timeoutMs: number | undefined }
  | { readonly kind: 'end'; readonly note?: string };

/** An attempt in place needs at least this long, or it is not made. */
const kMinAttemptMs = 100;
/** Room in a frame for the function name, unique and epoch beside the wrapped payload. */
const kFrameOverhead = 1024;

/**
 * A job whose function retries or dead-letters, or that arrived as a retry: it unwraps
 * the carrier (the handler sees the payload and unique as first submitted, and its
 * attempt), and after a failed attempt decides what comes next (docs/retries.md):
 * another run here while a client waits, a retry at the job server as an epoch job, or
 * the end, with a dead letter when the function names one. Jobs of other functions
 * skip all this: trackJob gives them back as they are.
 */
export class TrackedJob implements InnerJob {
  attempt: number;
  readonly unique: string;
  readonly payload: Uint8Array;
  readonly #job: InnerJob;
  readonly #config: FunctionConfig;
  readonly #server: ServerConfig | undefined;
  readonly #service: RetryService | undefined;
  readonly #carrier: Carrier | null;
  readonly #errors: CarriedError[];
  /** performance.now() of the first attempt here: in-place retries share the timeout. */
  readonly #startedAt = performance.now();

  constructor(
    job: InnerJob,
    config: FunctionConfig,
    server: ServerConfig | undefined,
    service: RetryService | undefined,
  ) {
    this.#job = job;
    this.#config = config;
    this.#server = server;
    this.#service = service;
    const unwrapped = unwrapPayload(job.payload);
    this.#carrier = unwrapped?.carrier ?? null;
    this.attempt = this.#carrier?.attempt ?? 1;
    this.unique = this.#carrier?.unique ?? job.unique;
    this.#errors = [...(this.#carrier?.errors ?? [])];
    this.payload = keepable(unwrapped?.payload ?? job.payload);
  }

  get handle(): string {
    return this.#job.handle;
  }
  get functionName(): string {
    return this.#job.functionName;
  }
  get signal(): AbortSignal {
    return this.#job.signal;
  }
  status(numerator: number, denominator: number): boolean {
    return this.#job.status(numerator, denominator);
  }
  data(chunk: Uint8Array): boolean {
    return this.#job.data(chunk);
  }
  warning(chunk: Uint8Array): boolean {
    return this.#job.warning(chunk);
  }
  complete(result: Uint8Array): boolean {
    return this.#job.complete(result);
  }
  fail(): boolean {
    return this.#job.fail();
  }
  exception(payload: string): boolean {
    return this.#job.exception(payload);
  }

  /** Decides what follows a failed attempt; never rejects. */
  async afterFailure(run: FailedRun): Promise<NextStep> {
    const cause = causeOf(run, this.#config);
    // A shutdown cut it short, or its connection is gone: the server requeues the job.
    if (cause === null || this.#job.signal.aborted) return { kind: 'end' };
    const service = this.#service;
    this.#errors.push(
      carriedError({
        attempt: this.attempt,
        cause,
        name: run.error.name,
        message: run.error.message,
        ...(run.error.stack === undefined ? {} : { stack: run.error.stack }),
        at: Date.now(),
        box: service?.box ?? '',
      }),
    );
    const policy = this.#config.retry;
    const of = `attempt ${this.attempt} of ${policy?.attempts ?? 1}`;
    let note = policy === undefined ? undefined : of;
    if (run.error.permanent === true) {
      note = `${of}; permanent: not retried`;
    } else if (service !== undefined && policy !== undefined && shouldRetry(policy, cause, this.attempt)) {
      const delayMs = retryDelayMs(policy, this.attempt + 1);
      const step = await this.#retry(service, cause, delayMs, of);
      // A string: no retry could be made, and says why; the failure is final.
      if (typeof step !== 'string') return step;
      note = step;
    }
    const ending = await this.#deadLetter(cause, note);
    this.#record(run, ending.note);
    return { kind: 'end', ...ending };
  }

  /** The final failure goes into the box's failure records, when it keeps them. */
  #record(run: FailedRun, note: string | undefined): void {
    const service = this.#service;
    if (service?.failures == null) return;
    service.recordFailure({
      function: this.functionName,
      unique: this.unique,
      handle: this.handle,
      server: this.#server === undefined ? '' : `${this.#server.host}:${this.#server.port}`,
      payload: this.payload,
      attempts: this.attempt,
      errors: this.#errors,
      reason: note === undefined ? run.error.message : `${run.error.message} (${note})`,
      box: service.box,
    });
  }

  /** The retry itself, or why none could be made. */
  async #retry(
    service: RetryService,
    cause: RetryCause,
    delayMs: number,
    of: string,
  ): Promise<NextStep | string> {
    const server = this.#server;
    if (server === undefined) return this.#inPlace(service, cause, delayMs, of);
    // A retry's own retries go the same way: it was submitted in the background. Else the
    // server says whether a client waits; when it cannot tell, running again here is safe
    // either way (a background job only holds its slot longer).
    const background =
      this.#carrier !== null || (await service.waitingClients(server, this.#job.unique)) === 0;
    return background
      ? this.#resubmit(service, server, cause, delayMs, of)
      : this.#inPlace(service, cause, delayMs, of);
  }

  /** Background: the next attempt waits at the job server, due after the delay. */
  async #resubmit(
    service: RetryService,
    server: ServerConfig,
    cause: RetryCause,
    delayMs: number,
    of: string,
  ): Promise<NextStep | string> {
    const next = this.attempt + 1;
    const carrier: Carrier = {
      attempt: next,
      unique: this.unique,
      key: this.#key(),
      firstFailedAt: (this.#errors[0] as CarriedError).at,
      errors: this.#errors,
    };
    const wrapped = wrapPayload(carrier, this.payload);
    if (wrapped.byteLength + kFrameOverhead > DEFAULT_MAX_FRAME_SIZE) {
      return `${of}; not retried: the payload wrapped for a retry is ${wrapped.byteLength} bytes, past the ${DEFAULT_MAX_FRAME_SIZE}-byte frame limit`;
    }
    const due = Date.now() + delayMs;
    try {
      const handle = await service.submitAt(
        server,
        this.functionName,
        retryUnique(this.unique, carrier.key, next),
        wrapped,
        due,
      );
      service.emit('retry', { function: this.functionName, cause, via: 'server' });
      return { kind: 'end', note: `${of}; retry ${handle} due at ${new Date(due).toISOString()}` };
    } catch (err) {
      return `${of}; not retried: the retry could not be submitted: ${(err as Error).message}`;
    }
  }

  /** Foreground (or unknown): run again on this box while the client waits, within the timeout. */
  async #inPlace(
    service: RetryService,
    cause: RetryCause,
    delayMs: number,
    of: string,
  ): Promise<NextStep | string> {
    const timeoutMs = this.#config.timeoutMs;
    let left: number | undefined;
    if (timeoutMs !== undefined) {
      left = this.#startedAt + timeoutMs - performance.now() - delayMs;
      if (left < kMinAttemptMs) {
        return `${of}; not retried: its timeout of ${timeoutMs} ms leaves no time for another attempt`;
      }
    }
    const last = this.#errors[this.#errors.length - 1] as CarriedError;
    this.#job.warning(Buffer.from(`${of} failed (${cause}): ${last.message}; retrying in ${delayMs} ms`));
    const stop = AbortSignal.any([service.stopping, this.#job.signal]);
    if (!(await sleep(delayMs, stop))) {
      // Its connection is gone: the server requeues it, no dead letter.
      if (this.#job.signal.aborted) return { kind: 'end' };
      return `${of}; not retried: the supervisor is stopping`;
    }
    this.attempt++;
    service.emit('retry', { function: this.functionName, cause, via: 'in-place' });
    return { kind: 'again', timeoutMs: left === undefined ? undefined : Math.round(left) };
  }

  /** The final failure goes to the dead-letter function, if the function names one. */
  async #deadLetter(cause: RetryCause, note: string | undefined): Promise<{ note?: string }> {
    const target = this.#config.deadLetter;
    const service = this.#service;
    if (target === undefined || service === undefined || this.#server === undefined) {
      return note === undefined ? {} : { note };
    }
    const server = this.#server;
    const document = deadLetterDocument({
      function: this.functionName,
      unique: this.unique,
      handle: this.handle,
      server: `${server.host}:${server.port}`,
      payload: this.payload,
      attempts: this.attempt,
      errors: this.#errors,
      clientId: service.clientId,
      hostname: service.hostname,
    });
    const prefix = note === undefined ? '' : `${note}; `;
    try {
      const body = Buffer.from(JSON.stringify(document), 'utf8');
      await service.submitNow(server, target, deadLetterUnique(this.unique, this.#key()), body);
      service.emit('deadLetter', { function: this.functionName, cause, deadLetter: target });
      return { note: `${prefix}dead letter sent to ${target}` };
    } catch (err) {
      return {
        note: `${prefix}the dead letter to ${target} could not be submitted: ${(err as Error).message}`,
      };
    }
  }

  #key(): string {
    if (this.#carrier !== null) return this.#carrier.key;
    const server = this.#server === undefined ? '' : `${this.#server.host}:${this.#server.port}`;
    return jobKey(server, this.#job.handle, this.#job.unique);
  }
}

/**
 * The job as the runtime should run it: tracked when its function retries or
 * dead-letters, when the box keeps failure records, or when it arrived as a retry;
 * else the job itself, at no cost.
 */
export function trackJob<J extends InnerJob>(
  job: J,
  config: FunctionConfig,
  server: ServerConfig | undefined,
  service: RetryService | undefined,
): J | TrackedJob {
  const carried = job.payload.byteLength > 0 && job.payload[0] === 0;
  // With failure records, every job's final failure is kept, whatever its function says.
  const wanted = config.retry !== undefined || config.deadLetter !== undefined || service?.failures != null;
  if (!wanted && !carried) return job;
  const tracked = new TrackedJob(job, config, server, service);
  // A payload starting with NUL that is no carrier, on a function that neither retries nor dead-letters.
  return !wanted && tracked.attempt === 1 ? job : tracked;
}

/** What the manifest's `retry.on` calls this ending; null for endings that are no failure of the job. */
function causeOf(run: FailedRun, config: FunctionConfig): RetryCause | null {
  switch (run.reason) {
    case 'handler':
      return config.kind === 'command' ? 'fail' : 'exception';
    case 'load':
      return 'exception';
    case 'timeout':
      return 'timeout';
    case 'crash':
      return 'crash';
    default:
      return null;
  }
}

/**
 * A pool moves a large payload that owns its buffer into the thread, which leaves the
 * view here empty; a tracked job needs its payload after the attempt (for another one,
 * a retry or a dead letter), so such a payload is kept as a view of a slightly larger
 * buffer, which the pool copies instead.
 */
function keepable(payload: Uint8Array): Uint8Array {
  if (
    payload.byteLength < kOwnBufferBytes ||
    payload.byteOffset !== 0 ||
    payload.byteLength !== payload.buffer.byteLength
  )
    return payload;
  const room = new Uint8Array(payload.byteLength + 1);
  room.set(payload);
  return room.subarray(0, payload.byteLength);
}

/** Resolves true after `ms`, false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
