import type { Magic } from './constants.js';
import type { Frame, Packet } from './packet.js';

/** What a PacketDecoder accepts, and where its frames go besides the sink (see decoder.ts). */
export interface DecoderOptions {
  /** Which magic the peer must send: servers expect 'REQ', clients and workers 'RES'. */
  readonly expect: Magic | 'any';
  /** Largest data size accepted; bigger frames are refused before anything is buffered. */
  readonly maxFrameSize?: number;
  /**
   * Accept text admin lines (a frame whose first byte is not NUL), as gearmand does on
   * its one port. Off for clients and workers, where text can only mean garbage.
   */
  readonly allowText?: boolean;
  /** Longest admin line accepted, in bytes, counting a `\r` before the `\n`. @defaultValue 65536 */
  readonly maxLineLength?: number;
  /**
   * Receives binary packets unsplit instead of the frame sink (text lines still go to
   * the frame sink): no Packet, argument array or views are made, for a consumer that
   * reads a few arguments in place (the server's submits).
   */
  readonly onPacket?: RawPacketSink;
  /**
   * Frames over maxFrameSize that are read past rather than ending the stream: the frame's
   * size is known from its header, so the stream stays in step without buffering it.
   */
  readonly oversized?: OversizedFrames;
}

/** Which oversized frames are skipped, and who hears of each (see DecoderOptions.oversized). */
export interface OversizedFrames {
  /** Packet types skipped when too large; a too-large frame of another type still ends the stream at its header. */
  readonly types: ReadonlySet<number>;
  /** How much of the frame's data `skipped` gets: enough for its first argument (a job handle). */
  readonly headSize: number;
  /**
   * Called once `headSize` bytes of the data have arrived (valid during the call only);
   * the rest of the frame is then read and dropped. Returning false refuses the frame
   * after all (it holds no job handle, say), with the ProtocolError a frame of another
   * type gets at its header; throwing ends the stream too.
   */
  readonly skipped: (type: Packet['type'], size: number, head: Buffer) => boolean;
}

export type FrameSink = (frame: Frame) => void;

/**
 * A whole binary packet: its data is `bytes[start, end)`, and `nuls[i]` is the position
 * in `bytes` of the NUL that ends argument i, for each argument but the last (the
 * argument count was checked). `bytes` may hold other frames around this one, and
 * `nuls` is reused: both are valid during the call only, unless copied or viewed.
 */
export type RawPacketSink = (
  magic: Magic,
  type: Packet['type'],
  bytes: Buffer,
  start: number,
  end: number,
  nuls: Int32Array,
) => void;
