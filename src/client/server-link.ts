import {
  ConnectionError,
  ErrorCode,
  type GearmanError,
  JobExceptionError,
  JobFailedError,
  ServerError,
} from '../errors.js';
import type { Logger } from '../log.js';
import type { Connection } from '../net/connection.js';
import { PacketType, packetTypeName } from '../protocol/constants.js';
import { encodeRequest } from '../protocol/encoder.js';
import type { Packet } from '../protocol/packet.js';
import { type Deferred, deferred } from './deferred.js';
import type { ForegroundReply } from './job-reply.js';
import type { PendingReply, ReplyLink } from './pending-reply.js';
import { Queue } from './queue.js';
import { handleOf, parseOption, Request } from './request.js';

/** A frame not yet written, with where it is in its failover walk (see Client). */
export interface Outgoing {
  readonly frame: Buffer;
  readonly reply: PendingReply;
  /** Index of the first server tried, or -1 for a request pinned to one server. */
  readonly start: number;
  /** How far along the server list (from `start`) this link is. */
  readonly pos: number;
}

export interface ServerLinkOptions {
  /** Send OPTION_REQ exceptions on every connection. */
  readonly exceptions: boolean;
  readonly logger: Logger;
  /** Frames that could not be written here (connect failed, connection lost before sending). */
  readonly reroute: (items: Outgoing[], error: GearmanError) => void;
  /** A background job was created here: the client remembers the owner for GET_STATUS. */
  readonly backgroundCreated: (handle: string, link: ServerLink) => void;
}

const kOptionExceptions = encodeRequest(PacketType.OPTION_REQ, ['exceptions']);
/** Results this small are copied out of the socket chunk rather than pinning the whole chunk. */
const kCopyBelow = 64 * 1024;

/** Data arg of a WORK_* packet, copied when it is a small view into a larger socket chunk. */
function dataOf(packet: Packet, index: number): Buffer {
  const view = packet.args[index] as Buffer;
  return view.length < kCopyBelow && view.buffer.byteLength !== view.length ? Buffer.from(view) : view;
}

/**
 * The client's side of one server: its Connection, the requests waiting for their reply
 * in the order sent (gearmand answers a connection's requests in order, so JOB_CREATED
 * belongs to the oldest submit), the created foreground jobs by handle, and a backlog of
 * frames held back while the socket is not connected or is over its high-water mark.
 */
export class ServerLink implements ReplyLink {
  readonly connection: Connection;
  readonly name: string;
  readonly #options: ServerLinkOptions;
  readonly #log: Logger;
  readonly #replies = new Queue<PendingReply>();
  readonly #jobs = new Map<string, ForegroundReply | ForegroundReply[]>();
  readonly #backlog = new Queue<Outgoing>();
  /** The last connect attempt failed (or the connection dropped) and none has succeeded since. */
  #failed = false;
  #closed = false;
  #drainWaiter: Deferred<void> | null = null;

  constructor(connection: Connection, options: ServerLinkOptions) {
    this.connection = connection;
    this.name = connection.name;
    this.#options = options;
    this.#log = options.logger;
    connection.on('connect', () => this.#onConnect());
    connection.on('disconnect', (error) => this.#onDisconnect(error));
    connection.on('packet', (packet) => this.#onPacket(packet));
    connection.on('drain', () => this.#flush());
    // A failed attempt, ours or the connection's own retry: what waits here fails over.
    connection.on('reconnecting', ({ error }) => this.#onConnectFailed(error));
  }

  /** Known to be down: waiting to reconnect, or the last attempt failed. */
  get down(): boolean {
    const state = this.connection.state;
    return state === 'backoff' || state === 'closed' || (state === 'idle' && this.#failed);
  }

  /** Frames held back here, not yet handed to the socket. */
  get backlog(): number {
    return this.#backlog.length;
  }

  /** True while a foreground job with this handle is pending here. */
  tracks(handle: string): boolean {
    return this.#jobs.has(handle);
  }

  /** Sends a frame now if the socket takes it, else holds it back and (re)connects as needed. */
  enqueue(frame: Buffer, reply: PendingReply, start: number, pos: number): void {
    reply.sent(this.name);
    const conn = this.connection;
    if (this.#backlog.length === 0 && !conn.needDrain && conn.connected) {
      conn.send(frame);
      this.#replies.push(reply);
      return;
    }
    this.#backlog.push({ frame, reply, start, pos });
    if (!conn.connected && conn.state !== 'connecting') this.#dial();
  }

  /** Resolves once nothing is held back here (all written, socket under its high-water mark). */
  drained(): Promise<void> {
    if (this.#backlog.length === 0 && !this.connection.needDrain) return Promise.resolve();
    this.#drainWaiter ??= deferred<void>();
    return this.#drainWaiter.promise;
  }

  track(handle: string, job: ForegroundReply): void {
    const existing = this.#jobs.get(handle);
    // Unique coalescing: a second submit can get the handle of a job we already track.
    if (existing === undefined) this.#jobs.set(handle, job);
    else if (Array.isArray(existing)) existing.push(job);
    else this.#jobs.set(handle, [existing, job]);
  }

  backgroundCreated(handle: string): void {
    this.#options.backgroundCreated(handle, this);
  }

  /** Stops tracking a job that ended on its own (timeout, abort). */
  detach(job: ForegroundReply): void {
    const handle = job.handle;
    if (handle === undefined) return;
    const entry = this.#jobs.get(handle);
    if (entry === job) this.#jobs.delete(handle);
    else if (Array.isArray(entry)) {
      const rest = entry.filter((other) => other !== job);
      if (rest.length === 0) this.#jobs.delete(handle);
      else this.#jobs.set(handle, rest.length === 1 ? (rest[0] as ForegroundReply) : rest);
    }
  }

  /** Fails everything pending here with `error` and closes the connection. */
  async close(error: GearmanError): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(error, true);
    this.#resolveDrain();
    await this.connection.close();
  }

  #dial(): void {
    this.connection.connect().then(
      () => {
        this.#failed = false;
      },
      (error: GearmanError) => this.#onConnectFailed(error),
    );
  }

  #onConnectFailed(error: GearmanError): void {
    this.#failed = true;
    if (this.#closed) return;
    const items = this.#takeBacklog();
    if (items.length === 0) return;
    this.#log.debug(
      { err: error, server: this.name, jobs: items.length },
      'server unreachable; failing over',
    );
    this.#options.reroute(items, error);
  }

  #onConnect(): void {
    this.#failed = false;
    if (this.#options.exceptions) {
      // Before any submit, so every job on this connection may get WORK_EXCEPTION.
      const request = new Request<string>(PacketType.OPTION_RES, parseOption);
      request.promise.catch((err: unknown) => {
        // A lost connection fails it too; only a refusal is worth a warning.
        if (err instanceof ServerError) {
          this.#log.warn({ err, server: this.name }, 'server refused OPTION_REQ exceptions');
        }
      });
      this.connection.send(kOptionExceptions);
      this.#replies.push(request);
    }
    this.#flush();
  }

  #onDisconnect(cause: GearmanError): void {
    this.#failed = true;
    // Jobs already sent cannot be resent safely (the server may have created them): they
    // fail now rather than hang. Frames never written fail over to the next server.
    const error = new ConnectionError(
      ErrorCode.CONNECTION_CLOSED,
      `connection lost while waiting: ${cause.message}`,
      this.name,
      { cause },
    );
    this.#failAll(error, false);
    const items = this.#takeBacklog();
    if (items.length > 0) this.#options.reroute(items, cause);
  }

  #failAll(error: GearmanError, includeBacklog: boolean): void {
    for (const reply of this.#replies.takeAll()) reply.fail(error);
    const jobs = [...this.#jobs.values()];
    this.#jobs.clear();
    for (const entry of jobs) {
      if (Array.isArray(entry)) for (const job of entry) job.fail(error);
      else entry.fail(error);
    }
    if (includeBacklog) for (const item of this.#takeBacklog()) item.reply.fail(error);
  }

  #takeBacklog(): Outgoing[] {
    return this.#backlog.takeAll().filter((item) => !item.reply.settled);
  }

  /** Writes held-back frames until the socket pushes back again. */
  #flush(): void {
    const conn = this.connection;
    const backlog = this.#backlog;
    while (backlog.length > 0 && conn.connected && !conn.needDrain) {
      const item = backlog.shift() as Outgoing;
      if (item.reply.settled) continue; // timed out or aborted while held back
      conn.send(item.frame);
      this.#replies.push(item.reply);
    }
    if (backlog.length === 0 && !conn.needDrain) this.#resolveDrain();
  }

  #resolveDrain(): void {
    const waiter = this.#drainWaiter;
    if (waiter !== null) {
      this.#drainWaiter = null;
      waiter.resolve();
    }
  }

  #onPacket(packet: Packet): void {
    switch (packet.type) {
      case PacketType.JOB_CREATED:
      case PacketType.STATUS_RES:
      case PacketType.STATUS_RES_UNIQUE:
      case PacketType.ECHO_RES:
      case PacketType.OPTION_RES: {
        // The oldest request waiting here is the one answered; a reply that settled early
        // (timed out, aborted) still takes its answer, and drops it.
        const reply = this.#replies.shift();
        if (reply !== undefined && reply.answer === packet.type) reply.accept(packet, this);
        else this.#desync(packet, reply);
        return;
      }
      case PacketType.WORK_COMPLETE:
        this.#finish(packet, null);
        return;
      case PacketType.WORK_FAIL:
        this.#finish(packet, 'fail');
        return;
      case PacketType.WORK_EXCEPTION:
        this.#finish(packet, 'exception');
        return;
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING:
      case PacketType.WORK_STATUS:
        this.#update(packet);
        return;
      case PacketType.ERROR: {
        const code = (packet.args[0] as Buffer).toString('utf8');
        const text = (packet.args[1] as Buffer).toString('utf8');
        const reply = this.#replies.shift();
        if (reply === undefined) {
          this.#log.warn({ server: this.name, code, text }, 'unsolicited ERROR from server');
          return;
        }
        reply.fail(new ServerError(code, text));
        return;
      }
      default:
        this.#log.debug(
          { server: this.name, type: packetTypeName(packet.type) },
          'ignoring unexpected packet',
        );
    }
  }

  #update(packet: Packet): void {
    const entry = this.#jobs.get(handleOf(packet));
    if (entry === undefined) return;
    const update =
      packet.type === PacketType.WORK_STATUS
        ? {
            type: 'status' as const,
            numerator: Number((packet.args[1] as Buffer).toString('latin1')),
            denominator: Number((packet.args[2] as Buffer).toString('latin1')),
          }
        : {
            type: packet.type === PacketType.WORK_DATA ? ('data' as const) : ('warning' as const),
            data: dataOf(packet, 1),
          };
    if (Array.isArray(entry)) for (const job of entry) job.update(update);
    else entry.update(update);
  }

  #finish(packet: Packet, failure: 'fail' | 'exception' | null): void {
    const handle = handleOf(packet);
    const entry = this.#jobs.get(handle);
    if (entry === undefined) return;
    this.#jobs.delete(handle);
    if (failure === null) {
      const data = dataOf(packet, 1);
      if (Array.isArray(entry)) for (const job of entry) job.complete(data);
      else entry.complete(data);
      return;
    }
    const error =
      failure === 'fail' ? new JobFailedError(handle) : new JobExceptionError(handle, dataOf(packet, 1));
    if (Array.isArray(entry)) for (const job of entry) job.fail(error);
    else entry.fail(error);
  }

  /** A reply that matches nothing we sent: the stream cannot be trusted any more. */
  #desync(packet: Packet, reply: PendingReply | undefined): void {
    this.#log.error(
      {
        server: this.name,
        type: packetTypeName(packet.type),
        expected: reply === undefined ? 'nothing' : packetTypeName(reply.answer),
      },
      'reply does not match the request it answers; dropping the connection',
    );
    if (reply !== undefined) {
      reply.fail(
        new ConnectionError(
          ErrorCode.PROTOCOL,
          `unexpected ${packetTypeName(packet.type)} from server`,
          this.name,
        ),
      );
    }
    this.connection.destroy();
  }
}
