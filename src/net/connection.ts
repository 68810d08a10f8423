import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { ConnectionError, ErrorCode, type GearmanError, ProtocolError, TimeoutError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import type { Magic } from '../protocol/constants.js';
import { PacketDecoder } from '../protocol/decoder.js';
import type { Frame, Packet } from '../protocol/packet.js';
import { formatServerAddress, type ServerAddress } from './address.js';
import { type BackoffPolicy, exponentialBackoff } from './backoff.js';
import { WriteCoalescer } from './write-coalescer.js';

export interface ConnectionOptions {
  readonly address: ServerAddress;
  /** Give up a connect attempt after this long. @defaultValue 5000 */
  readonly connectTimeoutMs?: number;
  /** TCP keepalive, so a dead peer behind a silent network is noticed. @defaultValue true */
  readonly keepAlive?: boolean;
  /** Idle time before the first keepalive probe. @defaultValue 30000 */
  readonly keepAliveInitialDelayMs?: number;
  /** Reconnect after a drop or a failed attempt, or `false` to stay down. @defaultValue exponential backoff, 100 ms to 10 s */
  readonly reconnect?: BackoffPolicy | false;
  /** Largest frame accepted from the server. */
  readonly maxFrameSize?: number;
  /** Which magic the peer sends. @defaultValue 'RES' (we are a client or worker) */
  readonly expect?: Magic | 'any';
  /** Parse text admin lines too (admin connections). @defaultValue false */
  readonly text?: boolean;
  readonly logger?: Logger;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

export interface ConnectionEvents {
  /** A connection is up; `reconnect` is true for every one after the first. */
  connect: [info: { reconnect: boolean }];
  /** An established connection dropped (never emitted for close()). */
  disconnect: [error: GearmanError];
  /** A reconnect attempt is scheduled. */
  reconnecting: [info: { attempt: number; delayMs: number; error: GearmanError }];
  /** Emitted on every reconnect that succeeds, after `connect`. */
  reconnect: [];
  packet: [packet: Packet];
  line: [line: string];
  /** The peer sent bytes that are not Gearman; the connection is dropped after this. */
  protocolError: [error: ProtocolError];
  drain: [];
  /** close() finished. */
  close: [];
}

const kDefaultConnectTimeoutMs = 5000;

/**
 * The buffer every connection's socket reads into (net.Socket's `onread`). Each read is
 * copied out, to a buffer of its exact size, before the callback returns, so one buffer
 * serves all connections. Reading this way skips the Readable stream machinery (push,
 * 'data', maybeReadMore) that Node otherwise runs on every read: about 1.5-2 us of CPU per
 * read here, a good part of what a round trip costs a client or a worker.
 */
const kReadBuffer = Buffer.allocUnsafe(64 * 1024);

/** Where a socket's reads go: parked until the connection adopts the socket. */
interface ReadTarget {
  push: ((chunk: Buffer) => void) | null;
  early: Buffer[];
}

/**
 * One socket to one job server: TCP or TLS, Nagle off (a reply must not wait for a
 * delayed ACK), keepalive on, writes coalesced per microtask, and reconnect with capped
 * backoff. Frames are decoded incrementally and emitted as `packet` (or `line`) events.
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  readonly address: ServerAddress;
  /** `host:port`, for logs and errors. */
  readonly name: string;
  readonly #options: ConnectionOptions;
  readonly #backoff: BackoffPolicy | false;
  readonly #log: Logger;
  #state: ConnectionState = 'idle';
  #socket: net.Socket | null = null;
  #writer: WriteCoalescer | null = null;
  #connecting: Promise<void> | null = null;
  #everConnected = false;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: ConnectionOptions) {
    super();
    this.#options = options;
    this.address = options.address;
    this.name = formatServerAddress(options.address);
    this.#backoff = options.reconnect === undefined ? exponentialBackoff() : options.reconnect;
    this.#log = (options.logger ?? silentLogger).child({ component: 'connection', server: this.name });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  /** True while the socket's buffer is over its high-water mark; wait for `drain`. */
  get needDrain(): boolean {
    return this.#writer?.needDrain ?? false;
  }

  /** True while frames sent in this tick still wait to be handed to the socket. */
  get writePending(): boolean {
    return this.#writer?.pending ?? false;
  }

  /**
   * Connects now, or returns the attempt under way. Rejects with a ConnectionError if
   * this attempt fails; with reconnect on, further attempts follow in the background.
   */
  connect(): Promise<void> {
    if (this.#state === 'closed') {
      return Promise.reject(new ConnectionError(ErrorCode.CLOSED, 'connection was closed', this.name));
    }
    if (this.#state === 'connected') return Promise.resolve();
    if (this.#connecting) return this.#connecting;
    this.#clearRetry();
    this.#connecting = this.#dial().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  /** Queues one encoded frame; throws CONNECTION_CLOSED when not connected. */
  send(frame: Buffer): void {
    const writer = this.#writer;
    if (writer === null || this.#state !== 'connected') {
      throw new ConnectionError(ErrorCode.CONNECTION_CLOSED, 'not connected', this.name);
    }
    writer.write(frame);
  }

  /** Resolves once the socket accepts writes again (at once if it does now). */
  drained(): Promise<void> {
    if (!this.needDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.off('drain', done);
        this.off('disconnect', done);
        this.off('close', done);
        resolve();
      };
      this.on('drain', done);
      this.on('disconnect', done);
      this.on('close', done);
    });
  }

  /** Flushes queued writes, ends the socket and stops reconnecting. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = new Promise<void>((resolve) => {
      const wasConnected = this.#state === 'connected';
      this.#state = 'closed';
      this.#clearRetry();
      const socket = this.#socket;
      const finish = (): void => {
        this.emit('close');
        resolve();
      };
      if (socket === null || socket.destroyed) {
        finish();
        return;
      }
      if (!wasConnected) {
        // An attempt under way (a server that does not answer, a TLS handshake that hangs)
        // has nothing to flush: end it now rather than after its connect timeout.
        socket.once('close', finish);
        socket.destroy();
        return;
      }
      this.#writer?.flush();
      const force = setTimeout(() => socket.destroy(), 1000);
      force.unref();
      socket.once('close', () => {
        clearTimeout(force);
        finish();
      });
      socket.end();
    });
    return this.#closing;
  }

  /** Drops the socket at once (tests use it to simulate a network failure); reconnect follows. */
  destroy(error?: Error): void {
    this.#socket?.destroy(error);
  }

  #dial(): Promise<void> {
    this.#state = 'connecting';
    const { address } = this;
    const timeoutMs = this.#options.connectTimeoutMs ?? kDefaultConnectTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      let socket: net.Socket;
      const readyEvent = address.tls ? 'secureConnect' : 'connect';
      const reads: ReadTarget = { push: null, early: [] };
      const onread: net.OnReadOpts = {
        buffer: kReadBuffer,
        callback: (nread: number): boolean => {
          const chunk = Buffer.allocUnsafe(nread);
          kReadBuffer.copy(chunk, 0, 0, nread);
          if (reads.push !== null) reads.push(chunk);
          else reads.early.push(chunk);
          return true;
        },
      };
      if (address.tls) {
        const { ca, cert, key, rejectUnauthorized, servername } = address.tls;
        // tls.connect takes `onread` too (Node docs); @types/node lists it for net only.
        const tlsOptions: tls.ConnectionOptions & net.ConnectOpts = {
          host: address.host,
          port: address.port,
          rejectUnauthorized: rejectUnauthorized ?? true,
          onread,
        };
        if (ca !== undefined) tlsOptions.ca = ca as tls.ConnectionOptions['ca'];
        if (cert !== undefined) tlsOptions.cert = cert;
        if (key !== undefined) tlsOptions.key = key;
        const sni = servername ?? (net.isIP(address.host) ? undefined : address.host);
        if (sni !== undefined) tlsOptions.servername = sni;
        socket = tls.connect(tlsOptions);
      } else {
        socket = net.connect({ host: address.host, port: address.port, onread });
      }
      this.#socket = socket;
      const timer = setTimeout(() => {
        socket.destroy(new TimeoutError(`connect to ${this.name} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onFail = (err: Error): void => {
        clearTimeout(timer);
        // A refused connect emits 'error' and then 'close': both land here, and a second
        // pass would schedule a second retry whose timer close() cannot clear (issue 11:
        // the process then lived up to 10 s after "stopped").
        socket.off('error', onFail);
        socket.off('close', onClosedEarly);
        socket.off(readyEvent, onReady);
        socket.destroy();
        const error =
          err instanceof ConnectionError
            ? err
            : new ConnectionError(ErrorCode.CONNECT_FAILED, `cannot connect: ${err.message}`, this.name, {
                cause: err,
              });
        if (this.#socket === socket) this.#socket = null;
        if (this.#state !== 'closed') this.#scheduleRetry(error);
        reject(error);
      };
      const onReady = (): void => {
        clearTimeout(timer);
        socket.off('error', onFail);
        socket.off('close', onClosedEarly);
        if (this.#state === 'closed') {
          socket.destroy();
          reject(new ConnectionError(ErrorCode.CLOSED, 'connection was closed', this.name));
          return;
        }
        this.#adopt(socket, reads);
        resolve();
      };
      const onClosedEarly = (): void => onFail(new Error('socket closed before connecting'));
      socket.once('error', onFail);
      socket.once('close', onClosedEarly);
      socket.once(readyEvent, onReady);
    });
  }

  #adopt(socket: net.Socket, reads: ReadTarget): void {
    socket.setNoDelay(true);
    if (this.#options.keepAlive ?? true) {
      socket.setKeepAlive(true, this.#options.keepAliveInitialDelayMs ?? 30_000);
    }
    const decoder = new PacketDecoder((frame: Frame) => this.#onFrame(frame), {
      expect: this.#options.expect ?? 'RES',
      allowText: this.#options.text ?? false,
      ...(this.#options.maxFrameSize === undefined ? {} : { maxFrameSize: this.#options.maxFrameSize }),
    });
    const writer = new WriteCoalescer(socket, () => this.emit('drain'));
    this.#writer = writer;
    this.#state = 'connected';
    this.#attempt = 0;
    let lastError: GearmanError | null = null;
    reads.push = (chunk: Buffer): void => {
      if (socket.destroyed) return;
      try {
        decoder.push(chunk);
      } catch (err) {
        if (err instanceof ProtocolError) {
          lastError = err;
          this.#log.error({ err }, 'malformed data from server; dropping the connection');
          this.emit('protocolError', err);
        } else {
          // A packet listener threw: a bug on our side, but one connection's bug must not
          // take the process down. The stream position is lost, so drop and reconnect.
          lastError = new ConnectionError(
            ErrorCode.CONNECTION_CLOSED,
            `packet handler failed: ${String(err)}`,
            this.name,
            {
              cause: err,
            },
          );
          this.#log.error({ err }, 'a packet handler threw; dropping the connection');
        }
        socket.destroy();
      }
    };
    socket.on('error', (err) => {
      lastError ??= new ConnectionError(
        ErrorCode.CONNECTION_CLOSED,
        `connection lost: ${err.message}`,
        this.name,
        {
          cause: err,
        },
      );
    });
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = null;
      if (this.#writer === writer) this.#writer = null;
      writer.discard();
      if (this.#state === 'closed') return;
      const error =
        lastError ??
        new ConnectionError(ErrorCode.CONNECTION_CLOSED, 'server closed the connection', this.name);
      this.#log.warn({ err: error }, 'disconnected');
      this.#state = 'idle';
      this.emit('disconnect', error);
      if (this.#state === 'idle') this.#scheduleRetry(error);
    });
    const reconnect = this.#everConnected;
    this.#everConnected = true;
    this.#log.debug({ reconnect }, 'connected');
    this.emit('connect', { reconnect });
    if (reconnect) this.emit('reconnect');
    // Bytes read before the connection was adopted (a TLS record behind the handshake).
    const early = reads.early.splice(0);
    for (const chunk of early) reads.push(chunk);
  }

  #onFrame(frame: Frame): void {
    if (frame.kind === 'packet') this.emit('packet', frame.packet);
    else this.emit('line', frame.line);
  }

  #scheduleRetry(error: GearmanError): void {
    if (this.#backoff === false || this.#state === 'closed') {
      if (this.#state !== 'closed') this.#state = 'idle';
      return;
    }
    const attempt = this.#attempt++;
    const delayMs = this.#backoff(attempt);
    this.#state = 'backoff';
    // One retry timer at a time: close() clears the one it knows of.
    this.#clearRetry();
    this.emit('reconnecting', { attempt: attempt + 1, delayMs, error });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.connect().catch(() => {
        // Failure already scheduled the next attempt.
      });
    }, delayMs);
  }

  #clearRetry(): void {
    if (this.#retryTimer !== null) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
    }
  }
}
