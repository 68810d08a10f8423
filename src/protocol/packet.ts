import type { Magic, PacketType } from './constants.js';

/**
 * One binary frame. `args` are views into the received bytes when the frame arrived in
 * one chunk: copy any you keep past the current event if the socket buffer may be reused
 * (Node does not reuse it, so holding them is safe but pins the chunk).
 */
export interface Packet {
  readonly magic: Magic;
  readonly type: PacketType;
  readonly args: readonly Buffer[];
}

/** What the decoder emits: a binary packet, or a text admin line without its line ending. */
export type Frame = { kind: 'packet'; packet: Packet } | { kind: 'text'; line: string };

/** The argument at `index` as UTF-8 text ('' when absent). */
export function argString(packet: Packet, index: number): string {
  const arg = packet.args[index];
  return arg === undefined ? '' : arg.toString('utf8');
}
