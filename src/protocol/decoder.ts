import type { ProtocolFailure } from '../errors.js';
import { nulAt, uint32 } from './bytes.js';
import {
  ARG_COUNT,
  DEFAULT_MAX_FRAME_SIZE,
  HEADER_SIZE,
  isPacketType,
  MAGIC_REQ,
  MAGIC_RES,
  type Magic,
  packetTypeName,
} from './constants.js';
import { framePreview, protocolFailure } from './decoder-failure.js';
import type { DecoderOptions, FrameSink, OversizedFrames, RawPacketSink } from './decoder-options.js';
import type { Packet } from './packet.js';

export type { DecoderOptions, FrameSink, OversizedFrames, RawPacketSink } from './decoder-options.js';

/** An oversized frame being read past: its type, size, the head collected so far, and the bytes still to come. */
interface Skip {
  readonly type: Packet['type'];
  readonly size: number;
  readonly head: Buffer;
  headFill: number;
  left: number;
}

const kNewline = 0x0a;
/** `\0RE`, the bytes both magics start with, and the fourth byte of each. */
const kMagicPrefix = [0x00, 0x52, 0x45] as const;
const kMagicReq = 0x51;
const kMagicRes = 0x53;

/**
 * Incremental decoder: push() chunks as they arrive and it hands whole frames to the
 * sink, the same frames for any split of the stream. A frame that lies whole inside one
 * chunk is emitted as views (subarray) of that chunk; a frame that spans chunks is
 * collected into one buffer of its exact size and copied once. After a ProtocolError the
 * stream cannot be resynchronised, so the decoder refuses further input. The same holds
 * when the sink throws: the rest of that chunk was never consumed, and decoding on from
 * the next chunk would read frames out of the middle of the stream.
 */
export class PacketDecoder {
  readonly #sink: FrameSink;
  readonly #expect: Magic | 'any';
  readonly #maxFrameSize: number;
  readonly #allowText: boolean;
  readonly #maxLineLength: number;
  readonly #onPacket: RawPacketSink | null;
  /** Where the arguments of the packet being emitted end (a packet has at most 8 arguments). */
  readonly #nuls = new Int32Array(8);

  /** Bytes of the stream consumed so far: frame offsets in errors count from here. */
  #streamOffset = 0;
  readonly #header = Buffer.alloc(HEADER_SIZE);
  #headerFill = 0;
  #frameStart = 0;
  #magic: Magic = 'REQ';
  #type = 0;
  #body: Buffer | null = null;
  #bodyFill = 0;
  #textParts: Buffer[] | null = null;
  #textLength = 0;
  /** The error that ended the stream, rethrown by every later push(). */
  #failed: { error: unknown } | null = null;
  readonly #oversized: OversizedFrames | null;
  /** The oversized frame being read past, or null. */
  #skip: Skip | null = null;
  /** pause() was called: what is left of the input waits in #waiting. */
  #paused = false;
  #waiting: Buffer[] = [];
  /** stop() was called: nothing more is decoded. */
  #stopped = false;

  constructor(sink: FrameSink, options: DecoderOptions) {
    this.#sink = sink;
    this.#expect = options.expect;
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#allowText = options.allowText ?? false;
    this.#maxLineLength = options.maxLineLength ?? 65536;
    this.#onPacket = options.onPacket ?? null;
    this.#oversized = options.oversized ?? null;
    if (!Number.isInteger(this.#maxFrameSize) || this.#maxFrameSize < 0 || this.#maxFrameSize > 0xffffffff) {
      throw new RangeError(`maxFrameSize must be an integer from 0 to 4294967295, got ${this.#maxFrameSize}`);
    }
  }

  /** True while part of a frame is buffered (a clean close here means a cut-off frame). */
  get midFrame(): boolean {
    return this.#headerFill > 0 || this.#body !== null || this.#textParts !== null || this.#skip !== null;
  }

  /** True between pause() and resume(). */
  get paused(): boolean {
    return this.#paused;
  }

  push(chunk: Buffer): void {
    if (this.#failed) throw this.#failed.error;
    if (this.#stopped) return;
    if (this.#paused) {
      this.#waiting.push(chunk);
      return;
    }
    this.#guarded(chunk);
  }

  /**
   * Stops after the frame being emitted (call it from a sink): the rest of the chunk, and
   * whatever is pushed meanwhile, is kept and decoded by resume(). For a consumer that
   * must stop reading a peer for a while (its replies are not being read) without
   * handling the frames it already received.
   */
  pause(): void {
    this.#paused = true;
  }

  /** Decodes what pause() kept, in order, then goes on with push(); throws as push() does. */
  resume(): void {
    if (!this.#paused || this.#stopped) return;
    if (this.#failed) throw this.#failed.error;
    this.#paused = false;
    while (this.#waiting.length > 0 && !this.#paused && !this.#stopped) {
      this.#guarded(this.#waiting.shift() as Buffer);
    }
  }

  /**
   * Ends decoding for good (call it from a sink, or any time): nothing after the frame
   * being emitted is decoded, not even the rest of its chunk. For a connection closed in
   * the middle of a burst of frames: the frames after that point must not be acted on.
   */
  stop(): void {
    this.#stopped = true;
    this.#waiting = [];
  }

  #guarded(chunk: Buffer): void {
    try {
      this.#consume(chunk);
    } catch (err) {
      this.#failed = { error: err };
      throw err;
    }
  }

  #consume(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.#paused || this.#stopped) {
        if (this.#paused && !this.#stopped) this.#waiting.unshift(chunk.subarray(pos));
        break;
      }
      if (this.#skip !== null) {
        pos = this.#fillSkip(chunk, pos);
        continue;
      }
      if (this.#body !== null) {
        pos = this.#fillBody(chunk, pos);
        continue;
      }
      if (this.#textParts !== null) {
        pos = this.#fillText(chunk, pos);
        continue;
      }
      if (this.#headerFill === 0) {
        this.#frameStart = this.#streamOffset + pos;
        if (chunk[pos] !== 0 && this.#allowText) {
          this.#textParts = [];
          this.#textLength = 0;
          continue;
        }
        if (end - pos >= HEADER_SIZE) {
          // Fast path: the header is whole in this chunk.
          const size = this.#readHeader(chunk, pos);
          pos = this.#startData(chunk, pos + HEADER_SIZE, size);
          continue;
        }
      }
      const take = Math.min(HEADER_SIZE - this.#headerFill, end - pos);
      chunk.copy(this.#header, this.#headerFill, pos, pos + take);
      this.#checkMagicPrefix(this.#headerFill, this.#headerFill + take);
      this.#headerFill += take;
      pos += take;
      if (this.#headerFill === HEADER_SIZE) {
        this.#headerFill = 0;
        const size = this.#readHeader(this.#header, 0);
        pos = this.#startData(chunk, pos, size);
      }
    }
    this.#streamOffset += pos;
  }

  /** After a header: emits the packet when its data is whole at `pos`, or starts collecting (or skipping) it. */
  #startData(chunk: Buffer, pos: number, size: number): number {
    if (size > this.#maxFrameSize) {
      const head = Math.min(size, (this.#oversized as OversizedFrames).headSize);
      this.#skip = {
        type: this.#type as Packet['type'],
        size,
        head: Buffer.alloc(head),
        headFill: 0,
        left: size,
      };
      return pos;
    }
    if (chunk.length - pos >= size) {
      this.#emitPacket(chunk, pos, pos + size);
      return pos + size;
    }
    this.#startBody(size);
    return pos;
  }

  /** Reads past an oversized frame: its head goes to `oversized.skipped`, the rest nowhere. */
  #fillSkip(chunk: Buffer, pos: number): number {
    const skip = this.#skip as Skip;
    let at = pos;
    if (skip.headFill < skip.head.length) {
      const take = Math.min(skip.head.length - skip.headFill, chunk.length - at);
      chunk.copy(skip.head, skip.headFill, at, at + take);
      skip.headFill += take;
      skip.left -= take;
      at += take;
      if (
        skip.headFill === skip.head.length &&
        !(this.#oversized as OversizedFrames).skipped(skip.type, skip.size, skip.head)
      ) {
        this.#fail(
          'too-large',
          this.#tooLarge(skip.type, skip.size),
          this.#frameForPreview(skip.head, skip.size),
          0,
          skip.type,
        );
      }
    }
    const drop = Math.min(skip.left, chunk.length - at);
    skip.left -= drop;
    at += drop;
    if (skip.left === 0) this.#skip = null;
    return at;
  }

  /**
   * Checks the magic bytes of a partial header as they arrive. Without this, a peer
   * that is not a Gearman server and sends a short banner or error line (fewer than 12
   * bytes) and then waits would leave the connection stuck forever, mid-header.
   */
  #checkMagicPrefix(from: number, to: number): void {
    const header = this.#header;
    for (let i = from; i < to && i < 4; i++) {
      const byte = header[i];
      const ok =
        i < 3
          ? byte === kMagicPrefix[i]
          : (byte === kMagicReq && this.#expect !== 'RES') || (byte === kMagicRes && this.#expect !== 'REQ');
      if (!ok) {
        const magic = header.subarray(0, i + 1).toString('hex');
        this.#fail(
          'bad-magic',
          `bad magic 0x${magic}…, expected \\0${this.#expect === 'any' ? 'REQ or \\0RES' : this.#expect}`,
          header.subarray(0, to),
          0,
        );
      }
    }
  }

  /** Validates a header and returns its data size; throws before anything is allocated. */
  #readHeader(buf: Buffer, at: number): number {
    const magic = uint32(buf, at);
    if (magic === MAGIC_REQ) this.#magic = 'REQ';
    else if (magic === MAGIC_RES) this.#magic = 'RES';
    else this.#fail('bad-magic', `bad magic 0x${magic.toString(16).padStart(8, '0')}`, buf, at);
    if (this.#expect !== 'any' && this.#magic !== this.#expect) {
      this.#fail('bad-magic', `unexpected magic \\0${this.#magic}, expected \\0${this.#expect}`, buf, at);
    }
    const type = uint32(buf, at + 4);
    if (!isPacketType(type)) this.#fail('unknown-type', `unknown packet type ${type}`, buf, at, type);
    this.#type = type;
    const size = uint32(buf, at + 8);
    if (size > this.#maxFrameSize && this.#oversized?.types.has(type) !== true) {
      this.#fail('too-large', this.#tooLarge(type, size), buf, at, type);
    }
    return size;
  }

  #tooLarge(type: number, size: number): string {
    return `${packetTypeName(type)} frame of ${size} bytes exceeds the limit of ${this.#maxFrameSize}`;
  }

  #startBody(size: number): void {
    this.#body = Buffer.allocUnsafe(size);
    this.#bodyFill = 0;
  }

  #fillBody(chunk: Buffer, pos: number): number {
    const body = this.#body as Buffer;
    const take = Math.min(body.length - this.#bodyFill, chunk.length - pos);
    chunk.copy(body, this.#bodyFill, pos, pos + take);
    this.#bodyFill += take;
    if (this.#bodyFill === body.length) {
      this.#body = null;
      this.#emitPacket(body, 0, body.length);
    }
    return pos + take;
  }

  #fillText(chunk: Buffer, pos: number): number {
    const parts = this.#textParts as Buffer[];
    const newline = chunk.indexOf(kNewline, pos);
    const stop = newline === -1 ? chunk.length : newline;
    this.#textLength += stop - pos;
    if (this.#textLength > this.#maxLineLength) {
      this.#fail('line-too-long', `admin line longer than ${this.#maxLineLength} bytes`, chunk, pos);
    }
    if (stop > pos) parts.push(chunk.subarray(pos, stop));
    if (newline === -1) return chunk.length;
    this.#textParts = null;
    let line = (parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)).toString('utf8');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    this.#sink({ kind: 'text', line });
    return newline + 1;
  }

  /** Emits the packet whose data is `bytes[start, end)`, split unless a raw sink takes it. */
  #emitPacket(bytes: Buffer, start: number, end: number): void {
    const type = this.#type as Packet['type'];
    const count = ARG_COUNT[type];
    const nuls = this.#nuls;
    let from = start;
    for (let i = 1; i < count; i++) {
      const nul = nulAt(bytes, from, end);
      if (nul === -1) {
        this.#fail(
          'missing-arguments',
          `${packetTypeName(type)} needs ${count} arguments, found ${i}`,
          this.#frameForPreview(bytes.subarray(start, end)),
          0,
          type,
        );
      }
      nuls[i - 1] = nul;
      from = nul + 1;
    }
    if (this.#onPacket !== null) {
      this.#onPacket(this.#magic, type, bytes, start, end, nuls);
      return;
    }
    const args: Buffer[] = new Array(count);
    from = start;
    for (let i = 0; i < count - 1; i++) {
      const nul = nuls[i] as number;
      args[i] = bytes.subarray(from, nul);
      from = nul + 1;
    }
    if (count > 0) args[count - 1] = bytes.subarray(from, end);
    this.#sink({ kind: 'packet', packet: { magic: this.#magic, type, args } });
  }

  /** The start of the frame, header included, for an error preview (see framePreview). */
  #frameForPreview(data: Buffer, size = data.length): Buffer {
    return framePreview(this.#magic, this.#type, size, data);
  }

  #fail(reason: ProtocolFailure, message: string, buf: Buffer, at: number, packetType?: number): never {
    throw protocolFailure(reason, message, this.#frameStart, buf, at, packetType);
  }
}
