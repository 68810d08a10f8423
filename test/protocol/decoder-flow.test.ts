import { describe, expect, it } from 'vitest';
import { ErrorCode, ProtocolError } from '../../src/errors.js';
import { PacketType } from '../../src/protocol/constants.js';
import { PacketDecoder } from '../../src/protocol/decoder.js';
import { encodeRequest } from '../../src/protocol/encoder.js';
import type { Frame } from '../../src/protocol/packet.js';
import { byteByByte, randomSplit, rawFrame, seededRng } from './helpers.js';

// What the server's sessions need beyond decoding (issue 10, items 3 and 7): stop at once
// (a dropped connection acts on nothing after the drop), pause and resume (a peer whose
// replies are not read is not read either), and oversized WORK_* frames read past.

const kMagicReq = 0x00524551;
const kLimit = 1024;

function describeFrame(frame: Frame): string {
  if (frame.kind === 'text') return `TEXT ${frame.line}`;
  return `${frame.packet.type} ${frame.packet.args.map((a) => a.toString('latin1')).join('|')}`;
}

const echoes = Buffer.concat(
  Array.from({ length: 20 }, (_, i) => encodeRequest(PacketType.ECHO_REQ, [`e${i}`])),
);

describe('PacketDecoder.stop()', () => {
  it('decodes nothing after the frame being emitted, not even the rest of its chunk', () => {
    const seen: string[] = [];
    const decoder = new PacketDecoder(
      (frame) => {
        seen.push(describeFrame(frame));
        if (seen.length === 3) decoder.stop();
      },
      { expect: 'REQ' },
    );
    decoder.push(echoes);
    decoder.push(echoes);
    expect(seen).toEqual([
      `${PacketType.ECHO_REQ} e0`,
      `${PacketType.ECHO_REQ} e1`,
      `${PacketType.ECHO_REQ} e2`,
    ]);
  });
});

describe('PacketDecoder.pause() and resume()', () => {
  it.each([
    ['whole', (bytes: Buffer) => [bytes]],
    ['byte by byte', byteByByte],
    ['in random splits', (bytes: Buffer) => randomSplit(seededRng(7), bytes)],
  ])('hands over every frame once, in order, however often it is paused (%s)', (_name, split) => {
    const stream = Buffer.concat([echoes, Buffer.from('status\r\nversion\n'), echoes]);
    const seen: string[] = [];
    const decoder = new PacketDecoder(
      (frame) => {
        seen.push(describeFrame(frame));
        decoder.pause();
      },
      { expect: 'REQ', allowText: true },
    );
    for (const chunk of split(stream)) decoder.push(chunk);
    for (let i = 0; i < 100 && decoder.paused; i++) decoder.resume();
    const all: string[] = [];
    new PacketDecoder((frame) => all.push(describeFrame(frame)), { expect: 'REQ', allowText: true }).push(
      stream,
    );
    expect(all).toHaveLength(42);
    expect(seen).toEqual(all);
  });
});

describe('oversized frames of the types in `oversized`', () => {
  function decoderFor(seen: string[]): PacketDecoder {
    return new PacketDecoder((frame) => seen.push(describeFrame(frame)), {
      expect: 'REQ',
      maxFrameSize: kLimit,
      oversized: {
        types: new Set([PacketType.WORK_COMPLETE]),
        headSize: 65,
        skipped: (type, size, head) => {
          const nul = head.indexOf(0);
          if (nul === -1) return false;
          seen.push(`skipped ${type} ${size} ${head.subarray(0, nul).toString('latin1')}`);
          return true;
        },
      },
    });
  }

  it.each([
    ['whole', (bytes: Buffer) => [bytes]],
    ['byte by byte', byteByByte],
    ['in random splits', (bytes: Buffer) => randomSplit(seededRng(11), bytes)],
  ])('are read past without being buffered, and the stream stays in step (%s)', (_name, split) => {
    const big = encodeRequest(PacketType.WORK_COMPLETE, ['H:x:1', Buffer.alloc(5000, 0x61)]);
    const stream = Buffer.concat([
      encodeRequest(PacketType.ECHO_REQ, ['a']),
      big,
      encodeRequest(PacketType.ECHO_REQ, ['b']),
    ]);
    const seen: string[] = [];
    const decoder = decoderFor(seen);
    for (const chunk of split(stream)) decoder.push(chunk);
    expect(seen).toEqual([
      `${PacketType.ECHO_REQ} a`,
      `skipped ${PacketType.WORK_COMPLETE} ${big.length - 12} H:x:1`,
      `${PacketType.ECHO_REQ} b`,
    ]);
    expect(decoder.midFrame).toBe(false);
  });

  it('end the stream when the sink refuses them, and at the header for other types', () => {
    const noHandle = rawFrame(kMagicReq, PacketType.WORK_COMPLETE, Buffer.alloc(2000, 0x61));
    expect(() => decoderFor([]).push(noHandle)).toThrow(
      expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE, packetType: PacketType.WORK_COMPLETE }),
    );
    const header = rawFrame(kMagicReq, PacketType.SUBMIT_JOB).subarray(0, 12);
    header.writeUInt32BE(kLimit + 1, 8);
    const decoder = decoderFor([]);
    expect(() => decoder.push(header)).toThrow(ProtocolError);
  });
});
