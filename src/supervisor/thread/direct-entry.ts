import { parentPort, workerData } from 'node:worker_threads';
import type { Job } from '../../worker/job.js';
import { isThenable } from '../../worker/reply.js';
import { Worker } from '../../worker/worker.js';
import { resultToBytes } from './bytes.js';
import { decodePayload } from './decode-payload.js';
import { DirectBoard, handleHash } from './direct-board.js';
import { DirectJobContext } from './direct-context.js';
import {
  type DirectFailure,
  type DirectThreadData,
  type FromDirectThread,
  kControlCrashes,
  kControlPaused,
  type ToDirectThread,
} from './direct-messages.js';
import { type HandlerFunction, loadHandler } from './load-handler.js';
import type { SerializedError } from './messages.js';
import { ModuleGraph } from './module-graph.js';
import { capThreadOutput } from './output-cap.js';
import { serializeError } from './serialize-error.js';

/** Ended jobs leave in batches: at most this often, or this many jobs. */
const kStatsEveryMs = 250;
const kStatsEveryJobs = 256;

/** Jobs ended since the last batch (the `jobs` message's fields). */
interface EndedJobs {
  handles: string[];
  durationsMs: number[];
  results: number[];
  failures: DirectFailure[];
}

const kResultCode = { complete: 0, fail: 1, exception: 2 } as const;

function noJobs(): EndedJobs {
  return { handles: [], durationsMs: [], results: [], failures: [] };
}

/**
 * A `dispatch: thread` handler thread (supervisor/direct/): it loads the handler, then
 * runs the library's Worker itself, one connection per job server, registered for the
 * one function, and runs every job it grabs here, like a PHP worker process. The main
 * thread only supervises: it reads the DirectBoard when this thread dies or overstays a
 * timeout, and tells it of jobs an earlier thread died running.
 */
class DirectThread {
  readonly #data: DirectThreadData;
  readonly #port: NonNullable<typeof parentPort>;
  readonly #handler: HandlerFunction;
  readonly #board: DirectBoard;
  readonly #crashed: Map<string, string>;
  readonly #workers: Worker[];
  readonly #firstSlot: number;
  readonly #freeSlots: number[] = [];
  readonly #verdicts = new Map<string, (reason: string | null) => void>();
  /** Jobs held across every connection, grabs out included (the gate's count). */
  #held = 0;
  /** The function's control words (thread/direct-messages.ts DirectThreadData.control). */
  readonly #control: Int32Array;
  /** Crashes this thread knows of, to compare with the count the main thread keeps. */
  #crashesHeard: number;
  #stats = noJobs();
  #statsTimer: NodeJS.Timeout | undefined;

  constructor(data: DirectThreadData, port: NonNullable<typeof parentPort>, handler: HandlerFunction) {
    this.#data = data;
    this.#port = port;
    this.#handler = handler;
    this.#board = new DirectBoard(data.board);
    this.#crashed = new Map(data.crashed);
    this.#firstSlot = data.index * data.jobsPerThread;
    for (let i = data.jobsPerThread - 1; i >= 0; i--) this.#freeSlots.push(this.#firstSlot + i);
    // The thread's jobsPerThread slots, over every server, and the function's pause
    // flag, read on every grab (a pause holds at once, with no message to wait for).
    this.#control = new Int32Array(data.control);
    this.#crashesHeard = data.crashesHeard;
    const paused = this.#control;
    const gate = {
      tryReserve: () => {
        if (this.#held >= data.jobsPerThread || Atomics.load(paused, kControlPaused) === 1) return false;
        this.#held++;
        return true;
      },
      release: (fn: string | null) => {
        if (fn === null) this.#held--;
      },
    };
    this.#workers = data.servers.map((server, index) =>
      this.#reportConnection(
        new Worker({
          servers: [server],
          maxJobs: data.jobsPerThread,
          exceptions: data.exceptions,
          maxFrameSize: data.maxFrameSize,
          gate,
          ...(data.clientId === undefined ? {} : { clientId: data.clientId }),
          ...(data.regrabIntervalMs === undefined ? {} : { regrabIntervalMs: data.regrabIntervalMs }),
        }).register(data.functionName, (job) => this.#run(job)),
        index,
      ),
    );
  }

  /** The main thread hears of the connection's state changes (status, /metrics), nothing per job. */
  #reportConnection(worker: Worker, server: number): Worker {
    worker.on('connect', ({ reconnect }) =>
      this.#post({ kind: 'connection', server, up: true, reconnect, error: null }),
    );
    worker.on('disconnect', ({ error }) =>
      this.#post({ kind: 'connection', server, up: false, reconnect: false, error: error.message }),
    );
    worker.on('error', (error) => this.#post({ kind: 'serverError', server, error: error.message }));
    return worker;
  }

  async start(): Promise<void> {
    this.#port.on('message', (message: ToDirectThread) => this.#onMessage(message));
    await Promise.allSettled(this.#workers.map((worker) => worker.start()));
  }

  #onMessage(message: ToDirectThread): void {
    switch (message.kind) {
      case 'crashed':
        this.#crashed.set(message.handle, message.reason);
        this.#crashesHeard++;
        return;
      case 'verdict': {
        const waiting = this.#verdicts.get(message.handle);
        this.#verdicts.delete(message.handle);
        if (message.reason !== null) this.#crashed.set(message.handle, message.reason);
        waiting?.(message.reason);
        return;
      }
      case 'resume':
        for (const worker of this.#workers) worker.refill();
        return;
      case 'stop':
        void this.#stop(message.timeoutMs);
        return;
    }
  }

  async #stop(timeoutMs: number): Promise<void> {
    await Promise.allSettled(this.#workers.map((worker) => worker.close({ timeoutMs })));
    this.#flushStats();
    this.#post({ kind: 'stopped' });
    process.exit(0);
  }

  #run(job: Job): void | Promise<void> {
    const { handle } = job;
    const crash = this.#crashed.get(handle);
    if (crash !== undefined) {
      this.#refuse(job, crash);
      return;
    }
    const hash = handleHash(handle);
    const elsewhere = this.#board.heldElsewhere(
      handle,
      hash,
      this.#firstSlot,
      this.#firstSlot + this.#data.jobsPerThread,
    );
    // A crash recorded that this thread has not heard of yet: the main thread freed the
    // dead thread's slot already, and its 'crashed' message is still on its way here.
    if (elsewhere < 0 && Atomics.load(this.#control, kControlCrashes) === this.#crashesHeard)
      return this.#start(job, hash);
    // The job server offers a job another thread's slot holds (that thread died, or its
    // connection dropped), or one a crash may have held: the main thread knows.
    return new Promise<void>((resolve) => {
      this.#verdicts.set(handle, (reason) => {
        if (reason !== null) this.#refuse(job, reason);
        else {
          const started = this.#start(job, hash);
          if (started !== undefined) {
            started.then(resolve);
            return;
          }
        }
        resolve();
      });
      this.#post({ kind: 'verdict?', handle, slot: elsewhere });
    });
  }

  /**
   * A job an earlier thread died running: answered without running it again. Not counted
   * again: the main thread counted it as it saw that thread die (direct-pool.ts).
   */
  #refuse(job: Job, crash: string): void {
    this.#answerFailure(job, `not run again: its handler thread died running it earlier (${crash})`);
    this.#release();
  }

  /** A job ended: its slot is free for the next grab, on whichever connection has room. */
  #release(): void {
    this.#held--;
    for (const worker of this.#workers) worker.refill();
  }

  #start(job: Job, hash: number): void | Promise<void> {
    const slot = this.#freeSlots.pop() as number;
    this.#board.take(slot, job.handle, hash);
    const started = performance.now();
    const context = new DirectJobContext(job, this.#data.functionName);
    const timeoutMs = this.#data.timeoutMs;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            context.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError'));
          }, timeoutMs);
    let timedOut = false;
    const end = (ok: boolean, value: unknown): void => {
      if (timer !== undefined) clearTimeout(timer);
      this.#board.free(slot);
      this.#freeSlots.push(slot);
      const durationMs = performance.now() - started;
      if (timedOut) {
        this.#failed(job, `timed out after ${timeoutMs} ms`, durationMs, null);
      } else if (ok) {
        let bytes: Uint8Array | null = null;
        try {
          bytes = resultToBytes(value);
        } catch (err) {
          const error = serializeError(err);
          this.#failed(job, error.message, durationMs, error);
        }
        if (bytes !== null) {
          job.complete(bytes);
          this.#count(job.handle, 'complete', durationMs);
        }
      } else {
        const error = serializeError(value);
        this.#failed(job, error.message, durationMs, error);
      }
      this.#release();
    };
    let returned: unknown;
    try {
      returned = this.#handler(decodePayload(job.payload, this.#data.encoding), context);
    } catch (err) {
      end(false, err);
      return;
    }
    if (!isThenable(returned)) {
      end(true, returned);
      return;
    }
    return Promise.resolve(returned).then(
      (value) => end(true, value),
      (err: unknown) => end(false, err),
    );
  }

  /** A job that did not complete: answered, and counted with its reason (and what was thrown). */
  #failed(job: Job, reason: string, durationMs: number, error: SerializedError | null): void {
    const result = this.#answerFailure(job, reason);
    this.#stats.failures.push({ index: this.#stats.handles.length, reason, error });
    this.#count(job.handle, result, durationMs);
  }

  /** As the supervisor fails a job (runtime/job-failure.ts): the reason travels with it. */
  #answerFailure(job: Job, reason: string): 'fail' | 'exception' {
    if (this.#data.exceptions) {
      job.exception(reason);
      return 'exception';
    }
    job.warning(Buffer.from(reason));
    job.fail();
    return 'fail';
  }

  #count(handle: string, result: keyof typeof kResultCode, durationMs: number): void {
    const stats = this.#stats;
    stats.handles.push(handle);
    stats.durationsMs.push(durationMs);
    stats.results.push(kResultCode[result]);
    if (stats.durationsMs.length >= kStatsEveryJobs) this.#flushStats();
    else if (this.#statsTimer === undefined) {
      this.#statsTimer = setTimeout(() => this.#flushStats(), kStatsEveryMs);
      this.#statsTimer.unref();
    }
  }

  #flushStats(): void {
    clearTimeout(this.#statsTimer);
    this.#statsTimer = undefined;
    const stats = this.#stats;
    if (stats.durationsMs.length === 0) return;
    this.#stats = noJobs();
    this.#post({ kind: 'jobs', ...stats });
  }

  #post(message: FromDirectThread): void {
    this.#port.postMessage(message);
  }
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('direct-entry runs only in a handler thread');
  capThreadOutput();
  const data = workerData as DirectThreadData;
  // The same record of what the handler loads as a default function's first thread keeps
  // (thread/module-graph.ts), for the change watcher: one thread per pool pays its hooks thread.
  const graph = data.trackModules ? ModuleGraph.track() : null;
  let handler: HandlerFunction;
  try {
    handler = await loadHandler(data.handler, data.exportName);
  } catch (err) {
    const error = serializeError(err);
    port.postMessage({
      kind: 'loadFailed',
      error,
      ...(graph === null ? {} : { modules: graph.collect() }),
    } satisfies FromDirectThread);
    return;
  }
  const thread = new DirectThread(data, port, handler);
  await thread.start();
  if (graph === null) {
    port.postMessage({ kind: 'ready' } satisfies FromDirectThread);
    return;
  }
  port.postMessage({ kind: 'ready', modules: graph.collect() } satisfies FromDirectThread);
  graph.onLater((files) => port.postMessage({ kind: 'modules', files } satisfies FromDirectThread));
}

void main();
