import { describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import { PacketDecoder } from '../../src/protocol/decoder.js';
import { encodeRequest } from '../../src/protocol/encoder.js';
import type { Frame } from '../../src/protocol/packet.js';
import { byteByByte, randomSplit, seededRng } from './helpers.js';

// The decoder's raw sink (`onPacket`, the server's path): packets handed over unsplit,
// as bytes and NUL positions. Whatever the chunking, reading the arguments back from
// them must give exactly what the ordinary frame sink gives.

const stream = Buffer.concat([
  encodeRequest(PacketType.CAN_DO, ['reverse']),
  encodeRequest(PacketType.SUBMIT_JOB_BG, ['reverse', 'u-1', 'payload with \0 NULs \0 inside']),
  encodeRequest(PacketType.SUBMIT_JOB, ['reverse', '', Buffer.alloc(70_000, 7)]),
  encodeRequest(PacketType.GRAB_JOB_ALL, []),
  encodeRequest(PacketType.SUBMIT_JOB_EPOCH, ['later', 'e', '1700000000', '']),
  encodeRequest(PacketType.WORK_COMPLETE, ['H:host:1', 'done']),
]);

type Seen = { type: number; args: string[] };

function viaFrames(chunks: readonly Buffer[]): Seen[] {
  const seen: Seen[] = [];
  const decoder = new PacketDecoder(
    (frame: Frame) => {
      if (frame.kind === 'packet')
        seen.push({ type: frame.packet.type, args: frame.packet.args.map((a) => a.toString('latin1')) });
    },
    { expect: 'REQ' },
  );
  for (const chunk of chunks) decoder.push(chunk);
  return seen;
}

function viaRawSink(chunks: readonly Buffer[]): Seen[] {
  const seen: Seen[] = [];
  const decoder = new PacketDecoder(() => {}, {
    expect: 'REQ',
    onPacket: (_magic, type, bytes, start, end, nuls) => {
      // Valid during the call only: copy the arguments out.
      const args: string[] = [];
      let from = start;
      const count = nulCount(type);
      for (let i = 0; i < count - 1; i++) {
        args.push(bytes.toString('latin1', from, nuls[i]));
        from = (nuls[i] as number) + 1;
      }
      if (count > 0) args.push(bytes.toString('latin1', from, end));
      seen.push({ type, args });
    },
  });
  for (const chunk of chunks) decoder.push(chunk);
  return seen;
}

/** Arguments each packet type of the stream above carries. */
function nulCount(type: number): number {
  const counts: Record<number, number> = {
    [PacketType.CAN_DO]: 1,
    [PacketType.SUBMIT_JOB_BG]: 3,
    [PacketType.SUBMIT_JOB]: 3,
    [PacketType.GRAB_JOB_ALL]: 0,
    [PacketType.SUBMIT_JOB_EPOCH]: 4,
    [PacketType.WORK_COMPLETE]: 2,
  };
  return counts[type] ?? 0;
}

describe('PacketDecoder with a raw packet sink', () => {
  it('gives the same arguments as the frame sink for the stream in one chunk', () => {
    const expected = viaFrames([stream]);
    expect(expected).toHaveLength(6);
    expect(viaRawSink([stream])).toEqual(expected);
  });

  it('gives the same arguments byte by byte and in 200 random splits', () => {
    const expected = viaFrames([stream]);
    expect(viaRawSink(byteByByte(stream))).toEqual(expected);
    const rng = seededRng(42);
    for (let i = 0; i < 200; i++) expect(viaRawSink(randomSplit(rng, stream, 5000))).toEqual(expected);
  });

  it('still hands text admin lines to the frame sink', () => {
    const lines: string[] = [];
    const raw: number[] = [];
    const decoder = new PacketDecoder(
      (frame) => {
        if (frame.kind === 'text') lines.push(frame.line);
      },
      { expect: 'REQ', allowText: true, onPacket: (_m, type) => raw.push(type) },
    );
    decoder.push(Buffer.concat([Buffer.from('status\n'), encodeRequest(PacketType.ECHO_REQ, ['x'])]));
    expect(lines).toEqual(['status']);
    expect(raw).toEqual([PacketType.ECHO_REQ]);
  });
});
