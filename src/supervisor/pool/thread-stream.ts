import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  type TransferListItem,
} from 'node:worker_threads';
import { BatchWriter, readBatch } from '../thread/batch-codec.js';
import type { FromThread, SerializedError, StreamEnd, StreamTask, ToThread } from '../thread/messages.js';

/** Receives a job's progress while it runs. */
export interface ProgressSink {
  status(numerator: number, denominator: number): void;
  data(chunk: Uint8Array): void;
  warning(chunk: Uint8Array): void;
}

/** A job as a stream carries it: what the thread needs, and where its answer goes. */
export interface StreamJob {
  readonly id: number;
  readonly handle: string;
  readonly unique: string;
  /** Which run of the job this is (1 for the first). */
  readonly attempt: number;
  readonly payload: Uint8Array;
  /**
   * The payload's buffer may be moved to the thread (no copy; the view here is left
   * empty). Only when the job can never be sent again.
   */
  readonly movable: boolean;
  readonly sink: ProgressSink;
  /** The thread has started it (its timeout runs from here). Called at most once per send. */
  started(): void;
  /** The thread's answer: the result bytes, or the handler's error. */
  answered(ok: true, result: Uint8Array): void;
  answered(ok: false, error: SerializedError): void;
}

/**
 * How a stream ended, for its pool. Every ending hands back the jobs it had not
 * answered: `jobs` had started in the thread, `unsent` never left this side or never
 * started there (they waited behind others), so they can run elsewhere as they are.
 */
export type StreamEnding<J extends StreamJob = StreamJob> =
  /** Closed on request (its jobs were all answered, unless it was closed early). */
  (
    | { readonly kind: 'closed' }
    /** The handler could not be loaded in the thread (nothing ran). */
    | { readonly kind: 'load'; readonly error: SerializedError }
    /** The thread died (crash, out of memory, ended for a timeout). */
    | { readonly kind: 'died'; readonly error: Error; readonly wasReady: boolean }
  ) & { readonly jobs: J[]; readonly unsent: J[] };

export interface StreamHooks<J extends StreamJob> {
  /** The stream is ready for jobs, or has room again after answering some. */
  room(stream: ThreadStream<J>): void;
  ended(stream: ThreadStream<J>, ending: StreamEnding<J>): void;
  /** A progress sink threw. */
  sinkFailed(err: unknown): void;
  /** The handler threw outside a job's call; `failed` jobs running then failed with it. */
  stray(error: SerializedError, failed: number): void;
  /** Files the thread's handler loaded (only from a stream whose task tracks them). */
  modules?(files: readonly string[]): void;
}

export type StreamTaskBase = Omit<StreamTask, 'kind' | 'port' | 'trackModules'>;

/**
 * Where stream tasks run: piscina threads (pool/thread-host.ts) or child processes
 * (process/process-host.ts). The stream neither knows nor cares which.
 */
export interface StreamHost {
  /** Starts a stream task on a worker of its own; `transfer` holds the task's port. */
  run(task: StreamTask, transfer: TransferListItem[]): StreamRun;
}

/** One stream task running on a worker. */
export interface StreamRun {
  /** Settles as the task ends: its StreamEnd, or rejected with why its worker died. */
  readonly ended: Promise<StreamEnd>;
  /** Ends the worker at once (a job ignored its timeout); `workerId` came with 'ready'. */
  terminate(workerId: number): boolean;
}

/**
 * The main thread's end of one handler thread's job stream (see thread/messages.ts):
 * jobs sent during one turn of the event loop leave as one message; results arrive the
 * same way and go to their jobs.
 */
export class ThreadStream<J extends StreamJob = StreamJob> {
  readonly #port: MessagePort;
  readonly #hooks: StreamHooks<J>;
  readonly #run: StreamRun;
  /** Jobs sent to the thread and not answered yet. */
  readonly jobs = new Map<number, J>();
  /**
   * Of those, the ones the thread has not started: it runs `jobsAtOnce` at a time, the
   * others wait there in the order sent (only with prefetch). Kept here as the thread
   * keeps them, so a job's timeout starts when the job does.
   */
  readonly #notStarted: J[] = [];
  readonly #jobsAtOnce: number;
  /** Most jobs the stream holds at once: jobsAtOnce plus those sent ahead (prefetch). */
  readonly #capacity: number;
  #runningCount = 0;
  #outbox: J[] = [];
  #flushScheduled = false;
  #ready = false;
  #threadId = -1;
  /** The thread was ended on purpose for a job's timeout. */
  #terminating = false;
  #closing = false;
  #sent = 0;
  /** Settles once the stream task has ended, however it ended. */
  readonly settled: Promise<void>;

  constructor(host: StreamHost, base: StreamTaskBase, hooks: StreamHooks<J>, trackModules = false) {
    this.#hooks = hooks;
    this.#jobsAtOnce = base.jobsAtOnce;
    this.#capacity = base.jobsAtOnce + base.prefetch;
    const channel = new MessageChannel();
    this.#port = channel.port1;
    this.#port.on('message', (message: FromThread) => this.#onMessage(message));
    const task: StreamTask = { kind: 'stream', port: channel.port2, ...base, trackModules };
    this.#run = host.run(task, [channel.port2]);
    this.settled = this.#run.ended.then(
      (end: StreamEnd) => this.#onTaskEnd(end, null),
      (err: Error) => this.#onTaskEnd(null, err),
    );
  }

  /** Ready, and neither closing nor being ended: new jobs may come. */
  get accepting(): boolean {
    return this.#ready && !this.#closing && !this.#terminating;
  }

  /** The thread was ended on purpose because one of its jobs ignored its timeout. */
  get terminating(): boolean {
    return this.#terminating;
  }

  /** Jobs sent ahead, waiting in the thread for a running one to end. */
  get waiting(): number {
    return this.#notStarted.length;
  }

  /** Jobs sent to this stream so far (maxJobsPerProcess counts them). */
  get sent(): number {
    return this.#sent;
  }

  /** The worker's id as its 'ready' gave it: a thread id, or a process id. */
  get workerId(): number {
    return this.#threadId;
  }

  /**
   * Queues a job for the thread; it leaves with the others of this turn, or at once when
   * the stream is full with it: no other job can join it then, and waiting for the turn
   * to end only delays it (with the default jobsPerThread 1 every job is such; issue 13).
   */
  send(job: J): void {
    this.#sent++;
    this.jobs.set(job.id, job);
    if (this.#runningCount < this.#jobsAtOnce) {
      this.#runningCount++;
      job.started();
    } else {
      this.#notStarted.push(job);
    }
    this.#outbox.push(job);
    if (this.jobs.size >= this.#capacity) {
      this.#flush();
      return;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  /** Aborts a running job's signal in the thread. */
  abort(id: number, reason: string): void {
    // The job may still wait in the outbox: it must reach the thread before its abort.
    this.#flush();
    this.#post({ kind: 'abort', id, reason });
  }

  /**
   * Asks the thread to finish its jobs and end the stream task. Jobs queued this turn
   * leave first: the port keeps order, so the thread runs them before it closes.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#flush();
    this.#post({ kind: 'close' });
  }

  /** Ends the thread at once (a job ignored its timeout); its jobs die with it. */
  terminate(): boolean {
    if (this.#threadId === -1 || !this.#run.terminate(this.#threadId)) return false;
    this.#terminating = true;
    return true;
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#outbox;
    if (batch.length === 0) return;
    this.#outbox = [];
    const writer = new BatchWriter();
    for (const job of batch)
      writer.addJob(job.id, job.handle, job.unique, job.attempt, job.payload, job.movable);
    const { batch: wire, transfer } = writer.finish();
    this.#post({ kind: 'jobs', batch: wire }, transfer);
  }

  #post(message: ToThread, transfer?: ArrayBuffer[]): void {
    try {
      this.#port.postMessage(message, transfer);
    } catch {
      // The port closed: the stream has ended and its jobs were settled by #onTaskEnd.
    }
  }

  #onMessage(message: FromThread): void {
    switch (message.kind) {
      case 'results': {
        readBatch(message.batch, (id, bytes, error) => {
          const job = this.jobs.get(id);
          if (job === undefined) return;
          this.jobs.delete(id);
          this.#forget(job);
          if (bytes !== null) job.answered(true, bytes);
          else job.answered(false, error as SerializedError);
        });
        this.#startWaiting();
        this.#hooks.room(this);
        return;
      }
      case 'stray':
        this.#hooks.stray(message.error, message.failed);
        return;
      case 'ready':
        this.#ready = true;
        this.#threadId = message.threadId;
        if (message.modules !== undefined) this.#hooks.modules?.(message.modules);
        this.#hooks.room(this);
        return;
      case 'modules':
        this.#hooks.modules?.(message.files);
        return;
      default: {
        const job = this.jobs.get(message.id);
        if (job === undefined) return;
        try {
          if (message.kind === 'status') job.sink.status(message.numerator, message.denominator);
          else if (message.kind === 'data') job.sink.data(message.chunk);
          else job.sink.warning(message.chunk);
        } catch (err) {
          this.#hooks.sinkFailed(err);
        }
      }
    }
  }

  /** An answered job leaves the running ones, or the waiting ones if it never started (aborted). */
  #forget(job: J): void {
    const at = this.#notStarted.indexOf(job);
    if (at >= 0) this.#notStarted.splice(at, 1);
    else this.#runningCount--;
  }

  /** As the thread does when jobs end: the oldest waiting ones start. */
  #startWaiting(): void {
    while (this.#runningCount < this.#jobsAtOnce && this.#notStarted.length > 0) {
      this.#runningCount++;
      (this.#notStarted.shift() as J).started();
    }
  }

  #onTaskEnd(end: StreamEnd | null, err: Error | null): void {
    // Messages the thread sent before it ended may still wait in the port, and the task's
    // end came on piscina's own channel: take them first, so no answered job is lost.
    for (
      let next = receiveMessageOnPort(this.#port);
      next !== undefined;
      next = receiveMessageOnPort(this.#port)
    ) {
      this.#onMessage(next.message as FromThread);
    }
    this.#port.close();
    this.#ready = false;
    // Jobs that never started here run elsewhere as they are; so do those never sent.
    // (A job sent this turn may be in both: the Set keeps it once, oldest first.)
    const unsent = [...new Set([...this.#notStarted, ...this.#outbox])];
    this.#notStarted.length = 0;
    this.#runningCount = 0;
    this.#outbox = [];
    for (const job of unsent) this.jobs.delete(job.id);
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    if (err !== null) {
      this.#hooks.ended(this, { kind: 'died', error: err, wasReady: this.#threadId !== -1, jobs, unsent });
    } else if (end !== null && !end.ok) {
      if (end.modules !== undefined) this.#hooks.modules?.(end.modules);
      this.#hooks.ended(this, { kind: 'load', error: end.error, jobs, unsent });
    } else {
      this.#hooks.ended(this, { kind: 'closed', jobs, unsent });
    }
  }
}
