import type { JobMeta, SerializedError } from '../thread/messages.js';
import { threadErrorEnd } from './thread-error.js';
import type { ProgressSink, StreamJob, ThreadStream } from './thread-stream.js';
import { WorkerEnded } from './worker-ended.js';

/** Why a handler thread ended under a job: it died, ran out of memory, or was ended for a timeout. */
export type ThreadEndCause = 'crash' | 'oom' | 'timeout';

/** How a job run in a thread ended. */
export type RunOutcome =
  | { readonly ok: true; readonly result: Uint8Array }
  | {
      readonly ok: false;
      /**
       * handler: it threw; load: its module failed; timeout: it ran too long; crash: its
       * thread died; collateral: its thread was ended for another job's timeout (run it
       * again); stopped: it was still running when a shutdown's deadline passed.
       */
      readonly reason: 'handler' | 'load' | 'timeout' | 'crash' | 'collateral' | 'stopped';
      /** Set when the job's thread ended (and was replaced): why. */
      readonly threadEnded?: ThreadEndCause;
      readonly error: SerializedError;
    };

/**
 * Registers a listener called once if the job is lost (its connection dropped): the
 * library Job offers this without an AbortController per job (jobControl.onLost).
 */
export type LossWatch = (listener: (reason: unknown) => void) => void;

/** What a PoolJob needs from its pool: one object per pool, not closures per job. */
export interface PoolJobOwner {
  /** The job ended (before its `done` is called). */
  ended(job: PoolJob): void;
  /** Take the job out of the queue of jobs waiting for a thread. */
  unqueue(job: PoolJob): void;
  /** A job ignored its timeout: end the thread under it. */
  endThread(stream: ThreadStream<PoolJob>): void;
}

/**
 * Time a job gets to return after its signal is aborted, before its thread is ended
 * (in both dispatch modes: direct/timeout-watchdog.ts reads it too).
 */
export const kAbortGraceMs = 1000;

/**
 * One job inside a HandlerPool, from dispatch to its one outcome: it tracks its thread,
 * its timeout (abort first, end the thread after a grace period) and its client going
 * away, and turns whatever happens first into a RunOutcome exactly once.
 */
export class PoolJob implements StreamJob {
  readonly id: number;
  readonly handle: string;
  readonly unique: string;
  readonly attempt: number;
  readonly payload: Uint8Array;
  readonly movable: boolean;
  readonly sink: ProgressSink;
  readonly #owner: PoolJobOwner;
  readonly #done: (outcome: RunOutcome) => void;
  #stream: ThreadStream<PoolJob> | null = null;
  #ended = false;
  #timedOut = false;
  #timeoutMs = 0;
  #timeoutTimer: NodeJS.Timeout | undefined;
  #graceTimer: NodeJS.Timeout | undefined;

  constructor(
    id: number,
    meta: JobMeta,
    payload: Uint8Array,
    sink: ProgressSink,
    movable: boolean,
    owner: PoolJobOwner,
    done: (outcome: RunOutcome) => void,
  ) {
    this.id = id;
    this.handle = meta.handle;
    this.unique = meta.unique;
    this.attempt = meta.attempt ?? 1;
    this.payload = payload;
    this.sink = sink;
    this.movable = movable;
    this.#owner = owner;
    this.#done = done;
  }

  /** Its timeout passed (whatever came after). */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  sendTo(stream: ThreadStream<PoolJob>): void {
    this.#stream = stream;
    stream.send(this);
  }

  /**
   * The thread has started the job (or will, as it arrives): its clock runs from here.
   * Waiting for a thread (one being replaced after a crash, say) or behind another job
   * in one (prefetch) is not the handler's time.
   */
  started(): void {
    if (this.#timeoutMs > 0 && this.#timeoutTimer === undefined) this.#startClock();
  }

  /**
   * Gives the job `ms` once it starts in a thread: then its signal is aborted there,
   * and after a grace period more the pool ends the thread under it.
   */
  setTimeLimit(ms: number): void {
    this.#timeoutMs = ms;
  }

  #startClock(): void {
    const ms = this.#timeoutMs;
    this.#timeoutTimer = setTimeout(() => {
      // The stream the job is on now: a job its dead thread never ran was sent again.
      const stream = this.#stream;
      if (stream === null) return;
      this.#timedOut = true;
      stream.abort(this.id, `timed out after ${ms} ms`);
      this.#graceTimer = setTimeout(() => this.#owner.endThread(stream), kAbortGraceMs);
    }, ms);
  }

  /** The job became useless (its connection dropped): tell the handler through its signal. */
  abandonOn(whenLost: LossWatch): void {
    whenLost((reason) => {
      if (this.#ended) return;
      const why = reason instanceof Error ? reason.message : String(reason ?? 'the job was abandoned');
      if (this.#stream !== null) {
        this.#stream.abort(this.id, why);
        return;
      }
      this.#owner.unqueue(this);
      this.#finish({ ok: false, reason: 'handler', error: { name: 'AbortError', message: why } });
    });
  }

  answered(ok: true, result: Uint8Array): void;
  answered(ok: false, error: SerializedError): void;
  answered(ok: boolean, value: Uint8Array | SerializedError): void {
    if (this.#timedOut) this.#finish(timeoutOutcome(this.#timeoutMs, false));
    else if (ok) this.#finish({ ok: true, result: value as Uint8Array });
    // A thread only answers once its handler has loaded: an error here is the handler's.
    else this.#finish({ ok: false, reason: 'handler', error: value as SerializedError });
  }

  /** Its thread died under it; `onPurpose` when the pool ended it for a timeout. */
  died(error: Error, onPurpose: boolean, maxMemoryMb?: number): void {
    if (this.#timedOut) {
      this.#finish(timeoutOutcome(this.#timeoutMs, onPurpose));
      return;
    }
    if (error instanceof WorkerEnded) {
      // A handler process: its host said how it ended (a signal, an exit code, maxRssMb).
      const { name, message, cause } = error;
      this.#finish({ ok: false, reason: 'crash', error: { name, message }, threadEnded: cause });
      return;
    }
    const { message, cause } = threadErrorEnd(error, maxMemoryMb);
    this.#finish({ ok: false, reason: 'crash', error: { name: error.name, message }, threadEnded: cause });
  }

  /** Its thread was ended because another job on it ran past its timeout. */
  collateral(): void {
    const message = 'its thread was ended because another job on it ran past its timeout';
    this.#finish({ ok: false, reason: 'collateral', error: { name: 'Error', message } });
  }

  /** It was still running (or waiting for a thread) when a shutdown's deadline passed. */
  stopped(message: string): void {
    this.#finish({ ok: false, reason: 'stopped', error: { name: 'Error', message } });
  }

  /** No thread could load the handler to run it. */
  cannotLoad(error: SerializedError): void {
    this.#finish({ ok: false, reason: 'load', error });
  }

  #finish(outcome: RunOutcome): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timeoutTimer);
    clearTimeout(this.#graceTimer);
    this.#owner.ended(this);
    this.#done(outcome);
  }
}

function timeoutOutcome(timeoutMs: number, threadEnded: boolean): RunOutcome {
  const error = { name: 'TimeoutError', message: `timed out after ${timeoutMs} ms` };
  return threadEnded
    ? { ok: false, reason: 'timeout', error, threadEnded: 'timeout' }
    : { ok: false, reason: 'timeout', error };
}
