import { type MessagePort, threadId } from 'node:worker_threads';
import { BytePacker, resultToBytes, unpack } from './bytes.js';
import { ThreadJobContext } from './job-context.js';
import { type HandlerFunction, loadHandler } from './load-handler.js';
import {
  type FromThread,
  type StreamEnd,
  type StreamTask,
  serializeError,
  type ToThread,
  type WireJob,
  type WireResult,
} from './messages.js';

/**
 * Serves one function's jobs in this thread until the main thread closes the stream:
 * loads the handler once, runs each job of a batch as it arrives, and sends results back
 * in batches, one message per turn of this thread's event loop.
 */
export async function serveJobStream(task: StreamTask): Promise<StreamEnd> {
  let handler: HandlerFunction;
  try {
    handler = await loadHandler(task.handler, task.exportName);
  } catch (err) {
    task.port.close();
    return { ok: false, error: serializeError(err, true) };
  }
  return new Promise<StreamEnd>((resolve) => {
    new ThreadJobStream(task, handler, resolve).start();
  });
}

class ThreadJobStream {
  readonly #task: StreamTask;
  readonly #port: MessagePort;
  readonly #handler: HandlerFunction;
  readonly #ended: (end: StreamEnd) => void;
  readonly #running = new Map<number, ThreadJobContext>();
  #results: WireResult[] = [];
  #packer = new BytePacker();
  #flushScheduled = false;
  #closing = false;

  constructor(task: StreamTask, handler: HandlerFunction, ended: (end: StreamEnd) => void) {
    this.#task = task;
    this.#port = task.port;
    this.#handler = handler;
    this.#ended = ended;
  }

  start(): void {
    this.#port.on('message', (message: ToThread) => this.#onMessage(message));
    this.#post({ kind: 'ready', threadId });
  }

  #onMessage(message: ToThread): void {
    if (message.kind === 'jobs') {
      for (const job of message.jobs) this.#run(job, message.bytes);
    } else if (message.kind === 'abort') {
      this.#running.get(message.id)?.abort(new Error(message.reason));
    } else {
      this.#closing = true;
      this.#maybeEnd();
    }
  }

  #run(job: WireJob, packed: ArrayBuffer): void {
    const { id } = job;
    const context = new ThreadJobContext(id, job.handle, job.unique, this.#task.functionName, this.#port);
    this.#running.set(id, context);
    let returned: unknown;
    try {
      returned = this.#handler(this.#decode(unpack(job, packed)), context);
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

  #decode(bytes: Buffer): unknown {
    const encoding = this.#task.encoding;
    if (encoding === 'buffer') return bytes;
    const text = bytes.toString('utf8');
    if (encoding === 'text') return text;
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new SyntaxError(`the payload is not valid JSON: ${(err as Error).message}`);
    }
  }

  #complete(id: number, value: unknown): void {
    let bytes: Uint8Array;
    try {
      bytes = resultToBytes(value);
    } catch (err) {
      this.#fail(id, err);
      return;
    }
    const where = this.#packer.place(bytes);
    this.#end(id, { id, ok: true, ...where });
  }

  #fail(id: number, err: unknown): void {
    this.#end(id, { id, ok: false, error: serializeError(err) });
  }

  #end(id: number, result: WireResult): void {
    this.#running.get(id)?.end();
    this.#running.delete(id);
    this.#results.push(result);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // After this turn's other jobs have ended too: one message for all of them.
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#results.length > 0) {
      const bytes = this.#packer.finish();
      const message: FromThread = { kind: 'results', results: this.#results, bytes };
      this.#port.postMessage(message, this.#packer.transfer);
      this.#results = [];
      this.#packer = new BytePacker();
    }
    this.#maybeEnd();
  }

  /** A closing stream ends once its last result has gone. */
  #maybeEnd(): void {
    if (!this.#closing || this.#running.size > 0 || this.#flushScheduled) return;
    this.#port.close();
    this.#ended({ ok: true });
  }

  #post(message: FromThread): void {
    this.#port.postMessage(message);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}
