import {
  ARG_COUNT,
  HEADER_SIZE,
  MAGIC_REQ,
  MAGIC_RES,
  type Magic,
  type PacketType,
  packetTypeName,
} from './constants.js';

export type Arg = string | Uint8Array;

const kEmpty: readonly Arg[] = Object.freeze([]);

/**
 * Encodes one frame: sizes it first, then fills a single buffer (no intermediate
 * concatenation). Strings are written as UTF-8. Arguments are joined with NUL; the
 * caller passes exactly the arguments of the type (see ARG_COUNT), the last one being
 * the opaque data.
 *
 * @throws TypeError when the argument count is not the type's, or when an argument other
 * than the last contains a NUL byte. Either would still frame correctly but the peer
 * would split the arguments differently: a function name `a\0b` in SUBMIT_JOB turns
 * into function `a`, unique `b`, and the real unique prefixed to the data.
 */
export function encodePacket(magic: Magic, type: PacketType, args: readonly Arg[] = kEmpty): Buffer {
  const count = args.length;
  if (count !== ARG_COUNT[type]) {
    throw new TypeError(`${packetTypeName(type)} takes ${ARG_COUNT[type]} arguments, got ${count}`);
  }
  let bodySize = count > 0 ? count - 1 : 0; // the NUL separators
  for (let i = 0; i < count; i++) {
    const arg = args[i] as Arg;
    if (i < count - 1 && (typeof arg === 'string' ? arg.includes('\0') : arg.includes(0))) {
      throw new TypeError(`argument ${i + 1} of ${packetTypeName(type)} contains a NUL byte`);
    }
    bodySize += typeof arg === 'string' ? Buffer.byteLength(arg) : arg.byteLength;
  }
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
