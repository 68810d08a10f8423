import { HEADER_SIZE, MAGIC_REQ, MAGIC_RES, type Magic, type PacketType } from './constants.js';

export type Arg = string | Uint8Array;

const kEmpty: readonly Arg[] = Object.freeze([]);

/**
 * Encodes one frame: sizes it first, then fills a single buffer (no intermediate
 * concatenation). Strings are written as UTF-8. Arguments are joined with NUL; the
 * caller passes exactly the arguments of the type (see ARG_COUNT), the last one being
 * the opaque data.
 */
export function encodePacket(magic: Magic, type: PacketType, args: readonly Arg[] = kEmpty): Buffer {
  let bodySize = args.length > 0 ? args.length - 1 : 0; // the NUL separators
  for (const arg of args) bodySize += typeof arg === 'string' ? Buffer.byteLength(arg) : arg.byteLength;
  const frame = Buffer.allocUnsafe(HEADER_SIZE + bodySize);
  frame.writeUInt32BE(magic === 'REQ' ? MAGIC_REQ : MAGIC_RES, 0);
  frame.writeUInt32BE(type, 4);
  frame.writeUInt32BE(bodySize, 8);
  let offset = HEADER_SIZE;
  for (let i = 0; i < args.length; i++) {
    if (i > 0) frame[offset++] = 0;
    const arg = args[i] as Arg;
    if (typeof arg === 'string') offset += frame.write(arg, offset, 'utf8');
    else {
      frame.set(arg, offset);
      offset += arg.byteLength;
    }
  }
  return frame;
}

/** A request frame (client or worker to server). */
export function encodeRequest(type: PacketType, args?: readonly Arg[]): Buffer {
  return encodePacket('REQ', type, args);
}

/** A response frame (server to client or worker). */
export function encodeResponse(type: PacketType, args?: readonly Arg[]): Buffer {
  return encodePacket('RES', type, args);
}
