import { type MessagePort, threadId } from 'node:worker_threads';
import { isThenable } from '../../worker/reply.js';
import { BatchWriter, readBatch } from './batch-codec.js';
import { resultToBytes } from './bytes.js';
import { ThreadJobContext } from './job-context.js';
import { type HandlerFunction, loadHandler } from './load-handler.js';
import {
  type FromThread,
  type StreamEnd,
  type StreamTask,
  serializeError,
  type ToThread,
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
    return { ok: false, error: serializeError(err) };
  }
  return new Promise<StreamEnd>((resolve) => {
    new ThreadJobStream(task, handler, resolve).start();
  });
}

class ThreadJobStream {
  readonly #task: StreamTask;
  readonly #port: MessagePort;
  readonly #handler: HandlerFunction;
  readonly #done: (end: StreamEnd) => void;
  readonly #running = new Map<number, ThreadJobContext>();
  #results = new BatchWriter();
  #flushScheduled = false;
  #closing = false;

  constructor(task: StreamTask, handler: HandlerFunction, ended: (end: StreamEnd) => void) {
    this.#task = task;
    this.#port = task.port;
    this.#handler = handler;
    this.#done = ended;
  }

  start(): void {
    this.#port.on('message', (message: ToThread) => this.#onMessage(message));
    this.#post({ kind: 'ready', threadId });
  }

  #onMessage(message: ToThread): void {
    if (message.kind === 'jobs') {
      readBatch(message.batch, (id, payload, _error, handle, unique) => {
        this.#run(id, handle, unique, payload as Buffer);
      });
    } else if (message.kind === 'abort') {
      this.#running.get(message.id)?.abort(new Error(message.reason));
    } else {
      this.#closing = true;
      this.#maybeEnd();
    }
  }

  #run(id: number, handle: string, unique: string, payload: Buffer): void {
    const context = new ThreadJobContext(id, handle, unique, this.#task.functionName, this.#port);
    this.#running.set(id, context);
    let returned: unknown;
    try {
      returned = this.#handler(this.#decode(payload), context);
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
    // A result is the handler's to give away: a large one that owns its buffer is moved.
    this.#results.add(id, bytes, true);
    this.#ended(id);
  }

  #fail(id: number, err: unknown): void {
    this.#results.addError(id, serializeError(err));
    this.#ended(id);
  }

  #ended(id: number): void {
    this.#running.get(id)?.end();
    this.#running.delete(id);
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

  /** A closing stream ends once its last result has gone. */
  #maybeEnd(): void {
    if (!this.#closing || this.#running.size > 0 || this.#flushScheduled) return;
    this.#port.close();
    this.#done({ ok: true });
  }

  #post(message: FromThread): void {
    this.#port.postMessage(message);
  }
}
