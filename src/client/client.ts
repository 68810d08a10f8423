import { ConnectionError, ErrorCode, type GearmanError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { formatServerAddress, parseServerAddress, type ServerAddress } from '../net/address.js';
import { Connection } from '../net/connection.js';
import { PacketType } from '../protocol/constants.js';
import { encodeRequest } from '../protocol/encoder.js';
import { type ClientOptions, checkClientOptions, type ServerOption } from './client-options.js';
import { type ForegroundJob, foregroundJobOf } from './job.js';
import { ForegroundReply } from './job-reply.js';
import type { PendingReply } from './pending-reply.js';
import {
  type JobStatus,
  onBackgroundCreated,
  parseEcho,
  parseJobCreated,
  parseStatus,
  parseUniqueStatus,
  Request,
  type UniqueJobStatus,
} from './request.js';
import { type Outgoing, ServerLink } from './server-link.js';
import { serverIndexForUnique } from './server-picker.js';
import {
  type BackgroundOptions,
  checkFunctionName,
  checkPayload,
  checkTimeout,
  checkUnique,
  epochSeconds,
  type SubmitOptions,
  submitPacketType,
} from './submit-options.js';

const kNoOptions = Object.freeze({});
/** Handles of background jobs whose server we remember for getStatus; oldest forgotten first. */
const kOwnerMemory = 10_000;

/**
 * A Gearman client: submits foreground and background jobs, asks for job status, over one
 * connection per server (opened on first use, reconnected after a drop). Any number of
 * jobs may be in flight on a connection; writes are coalesced and held back while the
 * socket is over its high-water mark.
 *
 * Server choice: a job with a unique id goes to server `FNV-1a-32(unique) mod n` (for the
 * unique `-`, the hash of the payload), the same in every gworker client with the same
 * server list; a job without a unique goes round-robin. A server that is down (its
 * connect failed, or it is waiting to reconnect) is skipped for the next in list order;
 * if all are down each is tried once more, then the job fails with a ConnectionError
 * code GEARMAN_ERR_NO_SERVERS. Jobs already sent when a connection drops fail at once
 * with GEARMAN_ERR_CONNECTION_CLOSED: they are not resent, since the server may have
 * created them.
 */
export class Client {
  /** The servers, as `host:port`, in the order given. */
  readonly servers: readonly string[];
  readonly #links: ServerLink[];
  readonly #log: Logger;
  #roundRobin = 0;
  #closing: Promise<void> | null = null;
  readonly #owners = new Map<string, ServerLink>();

  constructor(options: ClientOptions = {}) {
    const addresses = checkClientOptions(options);
    const maxFrameSize = options.maxFrameSize;
    this.#log = (options.logger ?? silentLogger).child({ component: 'client' });
    const exceptions = options.exceptions ?? true;
    this.servers = Object.freeze(addresses.map(formatServerAddress));
    const linkOptions = {
      exceptions,
      logger: this.#log,
      reroute: (items: Outgoing[], error: GearmanError) => this.#reroute(items, error),
      backgroundCreated: (handle: string, link: ServerLink) => this.#remember(handle, link),
    };
    this.#links = addresses.map((address) => {
      const connection = new Connection({
        address,
        logger: options.logger ?? silentLogger,
        ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
        ...(options.reconnect === undefined ? {} : { reconnect: options.reconnect }),
        ...(maxFrameSize === undefined ? {} : { maxFrameSize }),
      });
      return new ServerLink(connection, linkOptions);
    });
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closing !== null;
  }

  /**
   * Frames held back because their socket is over its high-water mark or not yet
   * connected; see drained().
   */
  get backlog(): number {
    let count = 0;
    for (const link of this.#links) count += link.backlog;
    return count;
  }

  /**
   * Connects to every server now instead of on first use. Resolves once at least one is
   * up; rejects with NO_SERVERS if none is.
   */
  async connect(): Promise<void> {
    if (this.closed) throw closedError();
    const results = await Promise.allSettled(this.#links.map((link) => link.connection.connect()));
    if (results.some((result) => result.status === 'fulfilled')) return;
    const first = results[0] as PromiseRejectedResult;
    throw new ConnectionError(ErrorCode.NO_SERVERS, 'no job server is reachable', undefined, {
      cause: first.reason,
    });
  }

  /**
   * Submits a foreground job and returns it at once: await it (or `job.result`) for the
   * result, iterate it for live status, data and warning updates (see ForegroundJob).
   * Throws a TypeError or RangeError for bad arguments (a function name over 512 bytes, a
   * unique over 64 bytes) before anything is sent.
   */
  submit(fn: string, payload: string | Uint8Array, options: SubmitOptions = kNoOptions): ForegroundJob {
    checkFunctionName(fn);
    checkPayload(payload);
    const unique = options.unique ?? '';
    if (unique !== '') checkUnique(unique);
    const type = submitPacketType(options.priority, false);
    checkTimeout(options.timeoutMs);
    const reply = new ForegroundReply(fn);
    const job = foregroundJobOf(reply, unique);
    if (this.#closing !== null) {
      reply.fail(closedError());
      return job;
    }
    if (options.timeoutMs !== undefined || options.signal !== undefined) {
      reply.arm(options.timeoutMs, options.signal);
      if (reply.settled) return job; // the signal was already aborted
    }
    this.#route(
      encodeRequest(type, [fn, unique, payload]),
      reply,
      this.#startFor(unique, payload),
      0,
      undefined,
    );
    return job;
  }

  /** Submits a foreground job and resolves with its result; the simple case of submit(). */
  run(fn: string, payload: string | Uint8Array, options?: SubmitOptions): Promise<Buffer> {
    try {
      return this.submit(fn, payload, options).result;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Submits a background job (SUBMIT_JOB_BG, _HIGH_BG, _LOW_BG, or SUBMIT_JOB_EPOCH with
   * `epoch`) and resolves with its handle once the server has queued it. Rejects with a
   * ServerError code GEARMAN_ERR_QUEUE_FULL when the function's queue is at its maxqueue.
   */
  submitBackground(
    fn: string,
    payload: string | Uint8Array,
    options: BackgroundOptions = kNoOptions,
  ): Promise<string> {
    let frame: Buffer;
    let unique: string;
    try {
      checkFunctionName(fn);
      checkPayload(payload);
      unique = options.unique ?? '';
      if (unique !== '') checkUnique(unique);
      checkTimeout(options.timeoutMs);
      if (options.epoch !== undefined) {
        if (options.priority !== undefined && options.priority !== 'normal') {
          throw new TypeError('epoch jobs have normal priority; leave priority out');
        }
        frame = encodeRequest(PacketType.SUBMIT_JOB_EPOCH, [
          fn,
          unique,
          epochSeconds(options.epoch),
          payload,
        ]);
      } else {
        frame = encodeRequest(submitPacketType(options.priority, true), [fn, unique, payload]);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#closing !== null) return Promise.reject(closedError());
    const request = new Request<string>(PacketType.JOB_CREATED, parseJobCreated, onBackgroundCreated);
    if (options.timeoutMs !== undefined || options.signal !== undefined) {
      request.arm(options.timeoutMs, options.signal, `background submit to ${fn}`);
      if (request.settled) return request.promise; // the signal was already aborted: send nothing
    }
    this.#route(frame, request, this.#startFor(unique, payload), 0, undefined);
    return request.promise;
  }

  /**
   * Asks for a job's status (GET_STATUS). The request goes to `server` if given, else to
   * the server that created the job when this client submitted it (it remembers the last
   * 10,000 background handles), else to every server, answering with the one that knows it.
   */
  getStatus(handle: string, options: ServerOption = kNoOptions): Promise<JobStatus> {
    if (typeof handle !== 'string' || handle === '')
      return Promise.reject(new TypeError('handle must be a non-empty string'));
    const frame = encodeRequest(PacketType.GET_STATUS, [handle]);
    let link: ServerLink | undefined;
    try {
      link = options.server === undefined ? this.#ownerOf(handle) : this.#linkFor(options.server);
    } catch (err) {
      return Promise.reject(err);
    }
    if (link !== undefined) return this.#ask(link, frame, new Request(PacketType.STATUS_RES, parseStatus));
    const asks = this.#links.map((each) =>
      this.#ask(each, frame, new Request(PacketType.STATUS_RES, parseStatus)).catch(
        (err: unknown) => err as Error,
      ),
    );
    return Promise.all(asks).then((results) => {
      const answers = results.filter((result): result is JobStatus => !(result instanceof Error));
      const answer = answers.find((status) => status.known) ?? answers[0];
      if (answer !== undefined) return answer;
      throw new ConnectionError(ErrorCode.NO_SERVERS, 'no job server is reachable', undefined, {
        cause: results[0],
      });
    });
  }

  /**
   * Asks for the status of the job with this unique id (GET_STATUS_UNIQUE), on the server
   * the unique hashes to (with the same failover as submits) or on `server`.
   */
  getStatusUnique(unique: string, options: ServerOption = kNoOptions): Promise<UniqueJobStatus> {
    try {
      checkUnique(unique);
      if (unique === '') throw new TypeError('unique must not be empty');
      const frame = encodeRequest(PacketType.GET_STATUS_UNIQUE, [unique]);
      const request = new Request(PacketType.STATUS_RES_UNIQUE, parseUniqueStatus);
      if (options.server !== undefined) return this.#ask(this.#linkFor(options.server), frame, request);
      if (this.#closing !== null) throw closedError();
      this.#route(frame, request, serverIndexForUnique(unique, '', this.#links.length), 0, undefined);
      return request.promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sends ECHO_REQ and resolves with what the server echoed. */
  echo(data: string | Uint8Array, options: ServerOption = kNoOptions): Promise<Buffer> {
    try {
      checkPayload(data);
      const frame = encodeRequest(PacketType.ECHO_REQ, [data]);
      const request = new Request(PacketType.ECHO_RES, parseEcho);
      if (options.server !== undefined) return this.#ask(this.#linkFor(options.server), frame, request);
      if (this.#closing !== null) throw closedError();
      this.#route(frame, request, this.#startFor('', data), 0, undefined);
      return request.promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Resolves once no server has frames held back (every submit written and every socket
   * under its high-water mark). A producer submitting in bulk can await this between
   * batches to keep memory bounded.
   */
  async drained(): Promise<void> {
    await Promise.all(this.#links.map((link) => link.drained()));
  }

  /**
   * Closes every connection. Jobs and requests still pending fail with a ConnectionError
   * code GEARMAN_ERR_CLOSED; later calls fail the same way. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing === null) {
      const error = closedError();
      this.#closing = Promise.all(this.#links.map((link) => link.close(error))).then(() => undefined);
    }
    return this.#closing;
  }

  #startFor(unique: string, payload: string | Uint8Array): number {
    const count = this.#links.length;
    if (count === 1) return 0;
    if (unique !== '') return serverIndexForUnique(unique, payload, count);
    const start = this.#roundRobin;
    this.#roundRobin = (start + 1) % count;
    return start;
  }

  /**
   * Sends to the first server, from `start + pos` in list order, that is not known to be
   * down; if all the rest are down, tries the next one anyway (it may be back).
   */
  #route(
    frame: Buffer,
    reply: PendingReply,
    start: number,
    pos: number,
    lastError: GearmanError | undefined,
  ): void {
    if (this.#closing !== null) {
      reply.fail(closedError());
      return;
    }
    const links = this.#links;
    const count = links.length;
    for (let i = pos; i < count; i++) {
      const link = links[(start + i) % count] as ServerLink;
      if (!link.down) {
        link.enqueue(frame, reply, start, i);
        return;
      }
    }
    if (pos < count) {
      (links[(start + pos) % count] as ServerLink).enqueue(frame, reply, start, pos);
      return;
    }
    reply.fail(
      new ConnectionError(
        ErrorCode.NO_SERVERS,
        `no job server is reachable (tried ${count})${lastError ? `: ${lastError.message}` : ''}`,
        undefined,
        { cause: lastError },
      ),
    );
  }

  #reroute(items: Outgoing[], error: GearmanError): void {
    for (const item of items) {
      if (item.start < 0) item.reply.fail(error);
      else this.#route(item.frame, item.reply, item.start, item.pos + 1, error);
    }
  }

  /** A request for one given server: no failover. */
  #ask<T>(link: ServerLink, frame: Buffer, request: Request<T>): Promise<T> {
    if (this.#closing !== null) return Promise.reject(closedError());
    link.enqueue(frame, request, -1, 0);
    return request.promise;
  }

  #remember(handle: string, link: ServerLink): void {
    if (this.#links.length === 1) return; // nothing to choose between
    const owners = this.#owners;
    owners.delete(handle); // re-insert as the newest (gearmand reuses handles after a restart)
    owners.set(handle, link);
    if (owners.size > kOwnerMemory) owners.delete(owners.keys().next().value as string);
  }

  #ownerOf(handle: string): ServerLink | undefined {
    if (this.#links.length === 1) return this.#links[0];
    return this.#owners.get(handle) ?? this.#links.find((link) => link.tracks(handle));
  }

  #linkFor(server: string | ServerAddress): ServerLink {
    const name = formatServerAddress(parseServerAddress(server));
    const link = this.#links.find((each) => each.name === name);
    if (link === undefined) throw new RangeError(`${name} is not one of this client's servers`);
    return link;
  }
}

function closedError(): ConnectionError {
  return new ConnectionError(ErrorCode.CLOSED, 'client was closed');
}
