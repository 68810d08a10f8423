import type net from 'node:net';
import { ProtocolError, type ProtocolFailure } from '../errors.js';
import type { Logger } from '../log.js';
import { WriteCoalescer } from '../net/write-coalescer.js';
import { MAX_JOB_HANDLE_SIZE, type Magic, PacketType } from '../protocol/constants.js';
import { PacketDecoder } from '../protocol/decoder.js';
import type { Frame } from '../protocol/packet.js';
import { HeldOutput } from './held-output.js';
import type { ServerJob } from './job.js';
import { handleFrame, handleFrameSize, writeHandleFrame } from './job-frames.js';
import type { OutputBudget, OutputHolder } from './output-budget.js';
import type { Ability, Peer, ReplySlot } from './peer.js';
import { errorFrame } from './replies.js';
import { ReplyRun } from './reply-arena.js';
import { ServerRequest } from './request.js';
import { SubmitRecord } from './submit-record.js';

export interface SessionOptions {
  readonly id: number;
  readonly maxFrameSize: number;
  /** The server's --exceptions: the connection starts with exceptions on, as if it had sent OPTION_REQ. */
  readonly exceptions: boolean;
  /** Past this many bytes waiting to be written, the peer is too slow and is dropped. */
  readonly maxOutputBytes: number;
  /** The server-wide bound on unsent output, which this session reports to. */
  readonly budget: OutputBudget;
  readonly logger: Logger;
  /** A binary packet; `packet` is this session's one ServerRequest, refilled for the next packet. */
  readonly onPacket: (session: Session, packet: ServerRequest) => void;
  /** A text admin line, without its line ending. */
  readonly onLine: (session: Session, line: string) => void;
  /**
   * A WORK_* frame over maxFrameSize, read past without being buffered: `handle` is its
   * first argument, `size` the data size its header gave.
   */
  readonly onOversized: (session: Session, type: PacketType, handle: Buffer, size: number) => void;
  readonly onClose: (session: Session) => void;
}

const kEndGraceMs = 1000;
/**
 * Past this many unsent bytes, the session stops reading the peer until its socket
 * drains: a peer that sends requests and never reads the replies is held back by TCP
 * instead of having every request in its read buffer answered at once (5,000 admin
 * `status` lines stalled the whole server for 7 s; issue 10, item 7).
 */
const kPauseReadingBytes = 1024 * 1024;
/**
 * Past this many bytes of output written since its input was last read, a session lets
 * the other connections have a turn (it reads on at setImmediate): one read of 64 KiB
 * can hold 9,000 admin lines, each answered with a `status` of every function, and the
 * kernel takes megabytes before a peer that never reads holds anything back.
 */
const kTurnOutputBytes = 256 * 1024;
/**
 * WORK_* frames whose first argument is a job handle: one over maxFrameSize fails its job
 * instead of ending the connection, which would requeue the job to fail again on the
 * next worker, for ever (issue 10, item 3). WORK_FAIL carries only the handle.
 */
const kOversizedWorkTypes: ReadonlySet<number> = new Set([
  PacketType.WORK_COMPLETE,
  PacketType.WORK_EXCEPTION,
  PacketType.WORK_DATA,
  PacketType.WORK_WARNING,
  PacketType.WORK_STATUS,
]);

/**
 * One accepted connection: it decodes what arrives (binary packets, or text admin lines
 * when the first byte of a frame is not NUL), hands each frame to the server, and
 * writes replies coalesced per tick. It is also the Peer the job engine knows, carrying
 * the connection's protocol state: client id, exceptions option, worker abilities,
 * sleep state, and the jobs it runs or waits for.
 */
export class Session implements Peer, OutputHolder {
  readonly id: number;
  /** The peer's address as gearmand prints it in `workers` (IPv4 without the ::ffff: prefix). */
  readonly ip: string;
  readonly port: number;
  /** SET_CLIENT_ID, as a latin1 string of its bytes; `-` until set. */
  clientId = '-';
  exceptions: boolean;
  readonly running = new Set<ServerJob>();
  readonly waiting = new Set<ServerJob>();
  readonly abilities: Ability[] = [];
  sleeping = false;
  noopSent = false;
  /** The OutputBudget's count for this session. */
  budgeted = 0;

  readonly #socket: net.Socket;
  readonly #writer: WriteCoalescer;
  readonly #decoder: PacketDecoder;
  readonly #request = new ServerRequest();
  /** The one record this connection's submits are read into (see SubmitRecord). */
  readonly submitRecord = new SubmitRecord();
  /** JOB_CREATED replies built in the shared reply arena, handed to the writer once per tick. */
  readonly #replies = new ReplyRun((bytes) => this.#writeOut(bytes));
  #repliesScheduled = false;
  readonly #takeReplies = (): void => {
    this.#repliesScheduled = false;
    if (!this.#closed && !this.#ending) this.#replies.take();
  };
  readonly #options: SessionOptions;
  readonly #log: Logger;
  /** Output held behind deferred replies, or null when nothing is deferred. */
  #held: HeldOutput | null = null;
  readonly #writeHeld = (frame: Buffer): void => this.#write(frame);
  /** Writes the held output up to the first reply still unknown. */
  readonly #release = (): void => {
    if (this.#held?.release(this.#writeHeld) === true) this.#held = null;
  };
  #closed = false;
  /** end() or destroy() was called: nothing more is read or written. */
  #ending = false;
  /** destroy() was called: what the socket still holds is thrown away, not sent. */
  #destroyed = false;
  /** Output written since this session last read its peer (see kTurnOutputBytes). */
  #turnOutput = 0;
  #turnScheduled = false;
  readonly #endTurn = (): void => {
    this.#turnScheduled = false;
    this.#resumeReading();
  };
  /** The last frame was a text line: answer a protocol error in text. */
  #speaksText = false;

  constructor(socket: net.Socket, options: SessionOptions) {
    this.id = options.id;
    this.#socket = socket;
    this.#options = options;
    this.exceptions = options.exceptions;
    const ip = socket.remoteAddress ?? '';
    this.ip = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    this.port = socket.remotePort ?? 0;
    this.#log = options.logger;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    this.#writer = new WriteCoalescer(socket, () => {
      if (this.#ending) return;
      this.#options.budget.report(this);
      this.#resumeReading();
    });
    this.#decoder = new PacketDecoder((frame) => this.#dispatchLine(frame), {
      expect: 'any',
      allowText: true,
      maxFrameSize: options.maxFrameSize,
      onPacket: (magic, type, bytes, start, end, nuls) =>
        this.#dispatchPacket(magic, type, bytes, start, end, nuls),
      oversized: {
        types: kOversizedWorkTypes,
        headSize: MAX_JOB_HANDLE_SIZE + 1,
        skipped: (type, size, head) => this.#onOversized(type, size, head),
      },
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#log.debug({ conn: this.id, err }, 'connection error'));
    socket.on('close', () => this.#onClose());
  }

  /** Bytes written to the socket and not sent yet (none once destroyed: they will never be). */
  get unsentBytes(): number {
    return this.#destroyed ? 0 : this.#socket.writableLength;
  }

  send(frame: Buffer): void {
    if (this.#closed || this.#ending) return;
    if (this.#held !== null) {
      this.#held.push(frame);
      return;
    }
    this.#write(frame);
  }

  sendJobFrame(type: PacketType, job: ServerJob): void {
    if (this.#closed || this.#ending) return;
    if (this.#held !== null) {
      this.#held.push(handleFrame(type, job));
      return;
    }
    const size = handleFrameSize(job);
    const at = this.#replies.append(size);
    writeHandleFrame(this.#replies.buffer, at, type, job, size);
    if (!this.#repliesScheduled) {
      this.#repliesScheduled = true;
      queueMicrotask(this.#takeReplies);
    }
  }

  /** Writes admin reply text (latin1: the bytes of names are kept as they came). */
  sendText(text: string): void {
    this.send(Buffer.from(text, 'latin1'));
  }

  defer(): ReplySlot {
    this.#held ??= new HeldOutput();
    return this.#held.reserve(this.#release);
  }

  #write(frame: Buffer): void {
    if (this.#closed || this.#ending) return;
    // Replies waiting in the arena were sent first.
    if (this.#replies.pending) this.#replies.take();
    this.#writeOut(frame);
  }

  #writeOut(frame: Buffer): void {
    this.#writer.write(frame);
    const unsent = this.#socket.writableLength;
    // A client that sends but never reads must not make the server buffer without end.
    if (unsent > this.#options.maxOutputBytes) {
      this.#log.warn(
        { conn: this.id, peer: `${this.ip}:${this.port}`, bytes: unsent },
        'dropping a connection that does not read its replies',
      );
      this.destroy();
      return;
    }
    this.#turnOutput += frame.length;
    if (unsent > kPauseReadingBytes) {
      // Resumed at 'drain'.
      this.#pauseReading();
    } else if (this.#turnOutput > kTurnOutputBytes && !this.#turnScheduled) {
      this.#turnScheduled = true;
      this.#pauseReading();
      setImmediate(this.#endTurn);
    }
    if (unsent !== this.budgeted) this.#options.budget.report(this);
  }

  #pauseReading(): void {
    if (this.#decoder.paused) return;
    this.#decoder.pause();
    this.#socket.pause();
  }

  /** Reads the peer again (what the decoder kept first), unless its replies still hold it back. */
  #resumeReading(): void {
    if (this.#ending || !this.#decoder.paused) return;
    if (this.#socket.writableLength > kPauseReadingBytes) return;
    this.#turnOutput = 0;
    try {
      this.#decoder.resume();
    } catch (err) {
      this.#onError(err);
    }
    if (!this.#decoder.paused && !this.#ending) this.#socket.resume();
  }

  /** The server-wide budget is spent and this connection holds the most: drop it. */
  dropForBudget(totalBytes: number, limitBytes: number): void {
    this.#log.warn(
      {
        conn: this.id,
        peer: `${this.ip}:${this.port}`,
        bytes: this.#socket.writableLength,
        totalBytes,
        limitBytes,
      },
      "dropping a connection that does not read its replies: the server's unsent output is over maxUnsentOutput",
    );
    this.destroy();
  }

  /** Flushes what is queued, then closes (used for protocol errors and shutdown). */
  end(): void {
    if (this.#closed || this.#ending) return;
    this.#release();
    this.#replies.take();
    this.#ending = true;
    this.#decoder.stop();
    this.#writer.flush();
    this.#socket.end();
    // A peer that never closes its side must not keep the socket forever.
    setTimeout(() => this.#socket.destroy(), kEndGraceMs).unref();
  }

  /**
   * Drops the connection at once. Nothing more is dispatched, not even the rest of the
   * chunk being decoded: 100 SUBMIT_JOB_BG read after a drop became jobs that no
   * JOB_CREATED told anyone about (issue 10, item 7).
   */
  destroy(): void {
    this.#ending = true;
    this.#destroyed = true;
    this.#decoder.stop();
    this.#options.budget.release(this);
    this.#replies.discard();
    this.#writer.discard();
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#turnOutput = 0;
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      this.#onError(err);
    }
  }

  #dispatchPacket(
    magic: Magic,
    type: PacketType,
    bytes: Buffer,
    start: number,
    end: number,
    nuls: Int32Array,
  ): void {
    if (this.#closed || this.#ending) return;
    this.#speaksText = false;
    this.#request.set(magic, type, bytes, start, end, nuls);
    this.#options.onPacket(this, this.#request);
  }

  /** A WORK_* frame over the limit, read past: its job fails (see kOversizedWorkTypes). */
  #onOversized(type: PacketType, size: number, head: Buffer): boolean {
    const nul = head.indexOf(0);
    // No job handle in reach: the frame is garbage, refused as any other oversized one.
    if (nul === -1) return false;
    if (!this.#closed && !this.#ending) this.#options.onOversized(this, type, head.subarray(0, nul), size);
    return true;
  }

  /** The decoder's frame sink: only text lines reach it (packets go to #dispatchPacket). */
  #dispatchLine(frame: Frame): void {
    if (this.#closed || this.#ending || frame.kind !== 'text') return;
    this.#speaksText = true;
    this.#options.onLine(this, frame.line);
  }

  /**
   * Malformed input, or (a bug) a handler that threw: answer with an ERROR packet (or an
   * ERR line to a text speaker), log one line, and close this connection only.
   */
  #onError(err: unknown): void {
    if (this.#closed || this.#ending) return;
    const peer = `${this.ip}:${this.port}`;
    let code = 'UNKNOWN_ERROR';
    let text = 'Internal server error';
    let asText = this.#speaksText;
    if (err instanceof ProtocolError) {
      // The preview starts where decoding failed: a binary frame starts with NUL, a text line cannot.
      asText = err.preview !== '' && !err.preview.startsWith('00');
      code = kProtocolErrorCodes[err.reason];
      text = err.message;
      this.#log.warn(
        { conn: this.id, peer, err, preview: err.preview },
        'protocol error, closing the connection',
      );
    } else {
      this.#log.error({ conn: this.id, peer, err }, 'failed to handle a request, closing the connection');
    }
    // Replies still waiting for the store are dropped with the connection.
    this.#held = null;
    if (asText) this.sendText(`ERR ${code} ${text.replace(/\s+/g, '+')}\r\n`);
    else this.send(errorFrame(code, text));
    this.end();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.budget.release(this);
    this.#replies.discard();
    this.#writer.discard();
    this.#held = null;
    this.#options.onClose(this);
  }
}

/** The gearman_return_t name that fits each decoding failure. */
const kProtocolErrorCodes: Record<ProtocolFailure, string> = {
  'bad-magic': 'INVALID_MAGIC',
  'unknown-type': 'INVALID_COMMAND',
  'too-large': 'ARGUMENT_TOO_LARGE',
  'missing-arguments': 'INVALID_PACKET',
  'line-too-long': 'INVALID_PACKET',
  // A client's parse of an admin reply: never thrown by a server session's decoder.
  'malformed-reply': 'INVALID_PACKET',
};
