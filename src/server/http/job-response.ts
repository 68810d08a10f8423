import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import type { JobEvents } from './job-peer.js';

export interface JobResponseOptions {
  readonly background: boolean;
  /** X-Gearman-Timeout; 0 for none. */
  readonly timeoutMs: number;
  /** A client that leaves more than this unread is dropped (as a binary one is). */
  readonly maxOutputBytes: number;
  /** The Server header, e.g. `Gearman/0.1.0+gworker` (gearmand sends `Gearman/1.1.20+ds`). */
  readonly serverName: string;
  readonly log: Logger;
  /**
   * The response is over. `detach` is true when the job may still list this request
   * as a client (timeout, the client left, shutdown): the gateway then lets it go.
   */
  readonly onDone: (response: JobResponse, detach: boolean) => void;
}

type State = 'waiting' | 'streaming' | 'done';

const kTextType = 'text/plain; charset=utf-8';
const kResultType = 'application/octet-stream';

/**
 * The HTTP answer to one job. The status line cannot be taken back once sent, so it
 * waits for the first WORK_DATA or the end of the job:
 *
 * - a job that completes with no data first: 200 with Content-Length and the result;
 * - WORK_DATA first (HTTP/1.1): 200 at once, a chunked body with each data chunk as it
 *   arrives, then the WORK_COMPLETE data, then the trailer
 *   `X-Gearman-Command: WORK_COMPLETE`. A failure after that point cannot change the
 *   status: the connection is closed without the last chunk, which every HTTP client
 *   reports as a truncated body;
 * - WORK_DATA first (HTTP/1.0, no chunked encoding and no way to flag a truncated body):
 *   the chunks are kept and sent with the result, so a failure still gets its 5xx;
 * - WORK_FAIL: 502; WORK_EXCEPTION: 500 with the exception text; ERROR QUEUE_ERROR
 *   "Job queue is full": 503; X-Gearman-Timeout passed: 504;
 * - a background job: 202 once JOB_CREATED (after the store write, with a durable store).
 */
export class JobResponse implements JobEvents {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #options: JobResponseOptions;
  readonly #chunked: boolean;
  #state: State = 'waiting';
  #handle: string | null = null;
  /** Data chunks kept for an HTTP/1.0 client. */
  #kept: Buffer[] = [];
  #keptBytes = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(req: IncomingMessage, res: ServerResponse, options: JobResponseOptions) {
    this.#req = req;
    this.#res = res;
    this.#options = options;
    this.#chunked = req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1);
    if (options.timeoutMs > 0) this.#timer = setTimeout(() => this.#timedOut(), options.timeoutMs);
    res.once('close', () => {
      if (this.#state !== 'done') this.#finish(true);
    });
  }

  get done(): boolean {
    return this.#state === 'done';
  }

  /** The job handle, once JOB_CREATED came. */
  get handle(): string | null {
    return this.#handle;
  }

  created(handle: string): void {
    if (this.#state !== 'waiting') return;
    this.#handle = handle;
    if (this.#options.background) {
      this.#reply(202, `${handle}\n`, kTextType, { 'X-Gearman-Command': 'JOB_CREATED' }, false);
    }
  }

  data(chunk: Buffer): void {
    if (this.#state === 'done' || chunk.length === 0) return;
    if (!this.#chunked) {
      this.#keptBytes += chunk.length;
      if (this.#keptBytes > this.#options.maxOutputBytes)
        this.#abort('the result is too large to keep for an HTTP/1.0 client');
      else this.#kept.push(chunk);
      return;
    }
    if (this.#state === 'waiting') {
      this.#state = 'streaming';
      this.#res.writeHead(200, {
        ...this.#headers(),
        'Content-Type': kResultType,
        Trailer: 'X-Gearman-Command',
      });
    }
    this.#write(chunk);
  }

  complete(result: Buffer): void {
    if (this.#state === 'done') return;
    if (this.#state === 'streaming') {
      if (result.length > 0) this.#write(result);
      if (this.#state !== 'streaming') return;
      this.#res.addTrailers({ 'X-Gearman-Command': 'WORK_COMPLETE' });
      this.#res.end();
      this.#finish(false);
      return;
    }
    const body = this.#kept.length === 0 ? result : Buffer.concat([...this.#kept, result]);
    this.#kept = [];
    this.#reply(200, body, kResultType, { 'X-Gearman-Command': 'WORK_COMPLETE' }, false);
  }

  failed(): void {
    this.#failure(502, 'the job failed (WORK_FAIL)\n', 'WORK_FAIL');
  }

  exception(payload: Buffer): void {
    this.#failure(500, payload, 'WORK_EXCEPTION');
  }

  error(code: string, text: string): void {
    if (code === 'QUEUE_ERROR' && text === 'Job queue is full') {
      this.#failure(503, 'the job queue is full\n', 'ERROR');
    } else {
      this.#failure(500, `server error ${code}: ${text}\n`, 'ERROR');
    }
  }

  /** The server is closing and the job has not finished. */
  shutdown(): void {
    this.#failure(503, 'the server is shutting down\n', null, true);
  }

  #timedOut(): void {
    this.#timer = null;
    this.#failure(504, `no result within ${this.#options.timeoutMs} ms (X-Gearman-Timeout)\n`, null, true);
  }

  #failure(status: number, body: string | Buffer, command: string | null, detach = false): void {
    if (this.#state === 'done') return;
    if (this.#state === 'streaming') {
      this.#abort(`the job ended with ${command ?? status} after its data was streamed`, detach);
      return;
    }
    this.#kept = [];
    // Every failure body is text: a reason, or the worker's exception message.
    this.#reply(status, body, kTextType, command === null ? {} : { 'X-Gearman-Command': command }, detach);
  }

  #headers(): OutgoingHttpHeaders {
    const headers: OutgoingHttpHeaders = { Server: this.#options.serverName };
    if (this.#handle !== null) headers['X-Gearman-Job-Handle'] = this.#handle;
    return headers;
  }

  #reply(
    status: number,
    body: string | Buffer,
    type: string,
    extra: OutgoingHttpHeaders,
    detach: boolean,
  ): void {
    this.#res.writeHead(status, {
      ...this.#headers(),
      ...extra,
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
    });
    this.#res.end(body);
    this.#finish(detach);
  }

  #write(chunk: Buffer): void {
    this.#res.write(chunk);
    if (this.#res.writableLength > this.#options.maxOutputBytes) {
      this.#abort('the client does not read its response');
    }
  }

  /** Closes the connection mid-response: the client sees a truncated body, never a success. */
  #abort(why: string, detach = true): void {
    this.#options.log.warn(
      { jobHandle: this.#handle, peer: this.#req.socket.remoteAddress, why },
      'closing an HTTP response before its end',
    );
    this.#res.destroy();
    this.#finish(detach);
  }

  #finish(detach: boolean): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#options.onDone(this, detach);
  }
}
