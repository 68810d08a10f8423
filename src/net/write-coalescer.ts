import type { Writable } from 'node:stream';

/** Past this many queued bytes a flush happens at once rather than at the end of the tick. */
const kFlushThreshold = 64 * 1024;
/** Up to this size, queued frames are joined into one buffer (one syscall, one copy). */
const kConcatLimit = 256 * 1024;
/**
 * Flushes are scheduled as reactions to this promise: a plain V8 microtask. Node's
 * queueMicrotask builds an AsyncResource per call for async_hooks (about 4x the cost
 * when warm, far more in code not optimised yet), which a flush does not need.
 */
const kResolved = Promise.resolve();

/**
 * Gathers the frames written during one microtask and hands them to the socket in one
 * write: a worker's WORK_COMPLETE and its next GRAB_JOB leave in one TCP segment, and a
 * burst of submits costs a few syscalls instead of thousands. Tracks the socket's
 * backpressure so callers can wait for 'drain'.
 */
export class WriteCoalescer {
  readonly #stream: Writable;
  readonly #onDrain: () => void;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #scheduled = false;
  #needDrain = false;
  #discarded = false;
  readonly #flushBound = (): void => this.flush();

  constructor(stream: Writable, onDrain: () => void) {
    this.#stream = stream;
    this.#onDrain = onDrain;
    stream.on('drain', () => {
      this.#needDrain = false;
      this.#onDrain();
    });
  }

  get needDrain(): boolean {
    return this.#needDrain;
  }

  /** Frames are queued that the socket has not been handed yet (they leave at the end of this tick). */
  get pending(): boolean {
    return this.#queue.length > 0;
  }

  write(frame: Buffer): void {
    if (this.#discarded) return;
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
    if (this.#queuedBytes >= kFlushThreshold) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      void kResolved.then(this.#flushBound);
    }
  }

  flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    if (queue.length === 0 || this.#discarded) return;
    const bytes = this.#queuedBytes;
    this.#queue = [];
    this.#queuedBytes = 0;
    let accepted: boolean;
    if (queue.length === 1) accepted = this.#stream.write(queue[0]);
    else if (bytes <= kConcatLimit) accepted = this.#stream.write(Buffer.concat(queue, bytes));
    else {
      // Big payloads: let the stream writev them rather than copying megabytes.
      this.#stream.cork();
      accepted = true;
      for (const frame of queue) accepted = this.#stream.write(frame) && accepted;
      this.#stream.uncork();
    }
    if (!accepted) this.#needDrain = true;
  }

  /** The socket is gone: drop what is queued and accept nothing more. */
  discard(): void {
    this.#discarded = true;
    this.#queue = [];
    this.#queuedBytes = 0;
  }
}
