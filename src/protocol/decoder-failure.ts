import { ProtocolError, type ProtocolFailure } from '../errors.js';
import { HEADER_SIZE, MAGIC_REQ, MAGIC_RES, type Magic } from './constants.js';

/** How much of the stream an error shows, in bytes, from where the bad frame starts. */
const kPreviewBytes = 32;

/**
 * The ProtocolError for a stream the decoder gives up on: its reason, where the frame
 * started in the stream, and a hex preview of the bytes from `buf[at]` on.
 */
export function protocolFailure(
  reason: ProtocolFailure,
  message: string,
  frameStart: number,
  buf: Buffer,
  at: number,
  packetType?: number,
): ProtocolError {
  const details: { reason: ProtocolFailure; offset: number; packetType?: number; preview: string } = {
    reason,
    offset: frameStart,
    preview: buf.subarray(at, at + kPreviewBytes).toString('hex'),
  };
  if (packetType !== undefined) details.packetType = packetType;
  return new ProtocolError(message, details);
}

/**
 * The start of a frame, header included, for an error preview. The header was valid, so
 * it is rebuilt from what was read rather than kept: the decoder's fast path never copies it.
 */
export function framePreview(magic: Magic, type: number, size: number, data: Buffer): Buffer {
  const frame = Buffer.alloc(HEADER_SIZE + Math.min(data.length, kPreviewBytes - HEADER_SIZE));
  frame.writeUInt32BE(magic === 'REQ' ? MAGIC_REQ : MAGIC_RES, 0);
  frame.writeUInt32BE(type, 4);
  frame.writeUInt32BE(size, 8);
  data.copy(frame, HEADER_SIZE, 0, frame.length - HEADER_SIZE);
  return frame;
}
