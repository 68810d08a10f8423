import { type MessagePort, receiveMessageOnPort, threadId } from 'node:worker_threads';
import { isThenable } from '../../worker/reply.js';
import { BatchWriter, readBatch } from './batch-codec.js';
import { resultToBytes } from './bytes.js';
import { decodePayload } from './decode-payload.js';
import { ThreadJobContext } from './job-context.js';
import { type HandlerFunction, loadHandler } from './load-handler.js';
import type { FromThread, StreamEnd, StreamTask, ToThread } from './messages.js';
import { ModuleGraph } from './module-graph.js';
import { serializeError } from './serialize-error.js';

/** The stream this thread serves: the one stray errors are reported on. */
let current: ThreadJobStream | null = null;
let strayWatch = false;

/**
 * Errors a handler throws outside a job's call (a timer that fires after its job
 * returned, a promise nobody awaited) used to end the thread without a word. They go to
 * the stream, which reports them; the thread serves on.
 */
function watchStrayErrors(): void {
  if (strayWatch) return;
  strayWatch = true;
  const onStray = (err: unknown): void => {
    if (current !== null) current.stray(err);
    else process.stderr.write(`gworker: a handler error outside any job stream: ${String(err)}\n`);
  };
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
}

/**
 * Serves one function's jobs in this thread until the main thread closes the stream:
 * loads the handler once, runs up to `jobsAtOnce` jobs at a time in the order they
 * arrived (the main thread sends more only with prefetch), and sends results back in
 * batches, one message per turn of this thread's event loop.
 */
export async function serveJobStream(task: StreamTask): Promise<StreamEnd> {
  const graph = task.trackModules ? ModuleGraph.track() : null;
  let handler: HandlerFunction;
  try {
    handler = await loadHandler(task.handler, task.exportName);
  } catch (err) {
    task.port.close();
    const error = serializeError(err);
    return graph === null ? { ok: false, error } : { ok: false, error, modules: graph.collect() };
  }
  watchStrayErrors();
  return new Promise<StreamEnd>((resolve) => {
    current = new ThreadJobStream(task, handler, (end) => {
      current = null;
      resolve(end);
    });
    current.start(graph);
  });
}

class ThreadJobStream {
  readonly #task: StreamTask;
  readonly #port: MessagePort;
  readonly #handler: HandlerFunction;
  readonly #done: (end: StreamEnd) => void;
  readonly #running = new Map<number, ThreadJobContext>();
  /** Jobs that arrived while `jobsAtOnce` ran (only with prefetch), oldest first. */
  readonly #waiting: WaitingJob[] = [];
  #results = new BatchWriter();
  #flushScheduled = false;
  /** At most one job at a time here (jobsAtOnce + prefetch = 1): see #onMessage. */
  readonly #answerInMessage: boolean;
  /** Inside #onMessage with #answerInMessage: results leave as it returns. */
  #inMessage = false;
  #closing = false;

  constructor(task: StreamTask, handler: HandlerFunction, ended: (end: StreamEnd) => void) {
    this.#task = task;
    this.#port = task.port;
    this.#handler = handler;
    this.#done = ended;
    this.#answerInMessage = task.jobsAtOnce + task.prefetch === 1;
  }

  start(graph: ModuleGraph | null): void {
    this.#port.on('message', (message: ToThread) => this.#onMessage(message));
    if (graph === null) {
      this.#post({ kind: 'ready', threadId });
      return;
    }
    this.#post({ kind: 'ready', threadId, modules: graph.collect() });
    graph.onLater((files) => this.#post({ kind: 'modules', files }));
  }

  /**
   * The handler threw outside a job's call. Jobs running now may be the ones whose
   * callback threw, and would then never end: they fail with the error (whatever they
   * return later is dropped). With none running it is reported as a stray error.
   */
  stray(err: unknown): void {
    const error = serializeError(err);
    const running = [...this.#running.keys()];
    for (const id of running) this.#fail(id, err);
    this.#post({ kind: 'stray', error, failed: running.length });
  }

  /**
   * A thread that holds one job at most (jobsPerThread 1, no prefetch: the default)
   * answers a synchronous handler's job as its message returns, not a turn later: no
   * other result could join that batch (issue 13). A thread that holds more keeps
   * batching per turn, so that jobs of several messages read in one go answer in one.
   */
  #onMessage(message: ToThread): void {
    if (!this.#answerInMessage) {
      this.#take(message);
      this.#startWaiting();
      return;
    }
    this.#inMessage = true;
    try {
      this.#take(message);
      this.#startWaiting();
    } finally {
      this.#inMessage = false;
    }
    if (this.#results.size > 0) this.#flush();
  }

  /** Takes in a message; jobs join the queue (#startWaiting runs them). */
  #take(message: ToThread): void {
    if (message.kind === 'jobs') {
      readBatch(message.batch, (id, payload, _error, handle, unique, attempt) => {
        this.#waiting.push({ id, handle, unique, attempt, payload: payload as Buffer });
      });
    } else if (message.kind === 'abort') {
      this.#abort(message.id, message.reason);
    } else {
      this.#closing = true;
      this.#maybeEnd();
    }
  }

  #abort(id: number, reason: string): void {
    const running = this.#running.get(id);
    if (running !== undefined) {
      running.abort(new Error(reason));
      return;
    }
    const at = this.#waiting.findIndex((job) => job.id === id);
    if (at < 0) return;
    // Never started: answer it now, so the main thread can let its slot go.
    this.#waiting.splice(at, 1);
    this.#results.addError(id, { name: 'AbortError', message: reason });
    this.#scheduleFlush();
  }

  #startWaiting(): void {
    while (this.#waiting.length > 0 && this.#running.size < this.#task.jobsAtOnce) {
      const job = this.#waiting.shift() as WaitingJob;
      this.#run(job);
    }
  }

  #run(job: WaitingJob): void {
    const { id, handle, unique, attempt, payload } = job;
    const context = new ThreadJobContext(id, handle, unique, attempt, this.#task.functionName, this.#port);
    this.#running.set(id, context);
    const handler = this.#handler;
    let returned: unknown;
    try {
      // Called as a plain function: `this` in a handler is not the stream.
      returned = handler(decodePayload(payload, this.#task.encoding), context);
    } catch (err) {
      this.#fail(id, err);
      return;
    }
    // Synchronous handlers end here, without a promise: most tiny jobs are such.
    if (isThenable(returned)) {
      returned.then(
        (value) => this.#complete(id, value),
        (err: unknown) => this.#fail(id, err),
      );
    } else {
      this.#complete(id, returned);
    }
  }

  #complete(id: number, value: unknown): void {
    // Failed already by a stray error while it ran.
    if (!this.#running.has(id)) return;
    let bytes: Uint8Array;
    try {
      bytes = resultToBytes(value);
    } catch (err) {
      this.#fail(id, err);
      return;
    }
    // A result is the handler's to give away: a large one that owns its buffer is moved.
    this.#results.add(id, bytes, true);
    this.#ended(id);
  }

  #fail(id: number, err: unknown): void {
    if (!this.#running.has(id)) return;
    this.#results.addError(id, serializeError(err));
    this.#ended(id);
  }

  #ended(id: number): void {
    this.#running.get(id)?.end();
    this.#running.delete(id);
    if (this.#task.prefetch > 0 && this.#nextIsReady()) {
      // The next job is here already: its predecessor's result leaves first, then it
      // starts, after this turn (an abort queued behind it still gets its say).
      this.#flush();
      setImmediate(() => this.#startWaiting());
      return;
    }
    this.#scheduleFlush();
  }

  /**
   * Whether a waiting job can start now. Jobs sent ahead may still sit on the port (a
   * synchronous handler kept this thread from reading it): take them in first, rather
   * than after a turn of the event loop.
   */
  #nextIsReady(): boolean {
    if (this.#running.size >= this.#task.jobsAtOnce) return false;
    while (this.#waiting.length === 0) {
      const next = receiveMessageOnPort(this.#port);
      if (next === undefined) return false;
      this.#take(next.message as ToThread);
    }
    return true;
  }

  #scheduleFlush(): void {
    if (this.#inMessage) return;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // After this turn's other jobs have ended too: one message for all of them.
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#results.size > 0) {
      const { batch, transfer } = this.#results.finish();
      this.#results = new BatchWriter();
      const message: FromThread = { kind: 'results', batch };
      this.#port.postMessage(message, transfer);
    }
    this.#maybeEnd();
  }

  /** A closing stream ends once its last job has run and its result has gone. */
  #maybeEnd(): void {
    if (!this.#closing || this.#running.size > 0 || this.#waiting.length > 0) return;
    // A result not sent yet (a close read from the port while a job was ending) goes first.
    if (this.#flushScheduled || this.#results.size > 0) return;
    this.#port.close();
    this.#done({ ok: true });
  }

  #post(message: FromThread): void {
    this.#port.postMessage(message);
  }
}

interface WaitingJob {
  readonly id: number;
  readonly handle: string;
  readonly unique: string;
  readonly attempt: number;
  readonly payload: Buffer;
}
