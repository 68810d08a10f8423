import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, ProtocolError } from '../../src/errors.js';
import { DEFAULT_MAX_FRAME_SIZE, HEADER_SIZE, PacketType } from '../../src/protocol/constants.js';
import { PacketDecoder } from '../../src/protocol/decoder.js';
import { encodeRequest, encodeResponse } from '../../src/protocol/encoder.js';
import type { Frame, Packet } from '../../src/protocol/packet.js';
import {
  byteByByte,
  decodeChunks,
  ownChunk,
  plain,
  randomSplit,
  rawFrame,
  seededRng,
  splitAt,
} from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

function packets(frames: readonly Frame[]): Packet[] {
  return frames.map((frame) => {
    if (frame.kind !== 'packet') throw new Error(`expected a packet, got text ${JSON.stringify(frame.line)}`);
    return frame.packet;
  });
}

/** A bare 12-byte header announcing `size` bytes that are never sent. */
function header(magic: number, type: number, size: number): Buffer {
  const buf = rawFrame(magic, type);
  buf.writeUInt32BE(size, 8);
  return buf;
}

const REQ = 0x00524551;
const RES = 0x00524553;

/** What a worker connection sees: the frames, big and small, of a busy afternoon. */
const bigPayload = Buffer.alloc(100_000, 'x');
bigPayload[50_000] = 0; // a NUL inside opaque data must not split the argument
const responseStream = Buffer.concat([
  encodeResponse(PacketType.NOOP),
  encodeResponse(PacketType.JOB_ASSIGN_UNIQ, ['H:vm:1', 'reverse', 'u-1', 'hello']),
  encodeResponse(PacketType.NO_JOB),
  encodeResponse(PacketType.JOB_ASSIGN, ['H:vm:2', 'resize', bigPayload]),
  encodeResponse(PacketType.ECHO_RES, ['']),
  encodeResponse(PacketType.ERROR, ['JOB_NOT_FOUND', 'Job given in work result not found']),
  encodeResponse(PacketType.JOB_ASSIGN_ALL, ['H:vm:3', 'count', '', 'sum', Buffer.from([0, 0, 1, 0])]),
  encodeResponse(PacketType.STATUS_RES, ['H:vm:1', '1', '1', '3', '10']),
  encodeResponse(PacketType.WORK_COMPLETE, ['H:vm:1', 'héllo wörld ✓']),
]);
const expectedResponses = [
  [PacketType.NOOP, []],
  [PacketType.JOB_ASSIGN_UNIQ, ['H:vm:1', 'reverse', 'u-1', 'hello']],
  [PacketType.NO_JOB, []],
  [PacketType.JOB_ASSIGN, ['H:vm:2', 'resize', bigPayload]],
  [PacketType.ECHO_RES, ['']],
  [PacketType.ERROR, ['JOB_NOT_FOUND', 'Job given in work result not found']],
  [PacketType.JOB_ASSIGN_ALL, ['H:vm:3', 'count', '', 'sum', Buffer.from([0, 0, 1, 0])]],
  [PacketType.STATUS_RES, ['H:vm:1', '1', '1', '3', '10']],
  [PacketType.WORK_COMPLETE, ['H:vm:1', 'héllo wörld ✓']],
] as const;

describe('PacketDecoder splitting', () => {
  it('decodes a whole stream into the frames that were encoded', () => {
    const { frames, error } = decodeChunks([ownChunk(responseStream)], { expect: 'RES' });
    expect(error).toBeUndefined();
    const got = packets(frames);
    expect(got.map((p) => p.type)).toEqual(expectedResponses.map(([type]) => type));
    for (const [i, [, args]] of expectedResponses.entries()) {
      const packet = got[i] as Packet;
      expect(packet.magic).toBe('RES');
      expect(packet.args.map((arg) => Buffer.from(arg))).toEqual(args.map((arg) => Buffer.from(arg)));
    }
  });

  it('gives the same frames fed byte by byte as fed whole', () => {
    const whole = decodeChunks([ownChunk(responseStream)], { expect: 'RES' });
    const bytes = decodeChunks(byteByByte(responseStream), { expect: 'RES' });
    expect(bytes.error).toBeUndefined();
    expect(bytes.frames.map(plain)).toEqual(whole.frames.map(plain));
  });

  it('gives the same frames for 200 seeded random splits', () => {
    const whole = decodeChunks([ownChunk(responseStream)], { expect: 'RES' }).frames.map(plain);
    for (let seed = 1; seed <= 200; seed++) {
      const rng = seededRng(seed);
      // Alternate small and large chunk sizes: small ones cut headers, large ones carry several frames.
      const chunks = randomSplit(rng, responseStream, seed % 2 === 0 ? 40 : 40_000);
      const split = decodeChunks(chunks, { expect: 'RES' });
      expect(split.error, `seed ${seed}`).toBeUndefined();
      expect(split.frames.map(plain), `seed ${seed}`).toEqual(whole);
    }
  });

  it('emits a frame as soon as its last byte arrives, not later', () => {
    const frames: Frame[] = [];
    const decoder = new PacketDecoder((frame) => frames.push(frame), { expect: 'REQ' });
    const frame = encodeRequest(PacketType.CAN_DO, ['reverse']);
    decoder.push(ownChunk(frame.subarray(0, frame.length - 1)));
    expect(frames).toHaveLength(0);
    expect(decoder.midFrame).toBe(true);
    decoder.push(ownChunk(frame.subarray(frame.length - 1)));
    expect(frames).toHaveLength(1);
    expect(decoder.midFrame).toBe(false);
  });

  it('reports midFrame while only part of a header is buffered', () => {
    const decoder = new PacketDecoder(() => {}, { expect: 'REQ' });
    expect(decoder.midFrame).toBe(false);
    decoder.push(ownChunk(encodeRequest(PacketType.GRAB_JOB).subarray(0, 5)));
    expect(decoder.midFrame).toBe(true);
  });

  it('ignores empty chunks', () => {
    const frames: Frame[] = [];
    const decoder = new PacketDecoder((frame) => frames.push(frame), { expect: 'REQ' });
    decoder.push(Buffer.alloc(0));
    decoder.push(ownChunk(encodeRequest(PacketType.PRE_SLEEP).subarray(0, 6)));
    decoder.push(Buffer.alloc(0));
    decoder.push(ownChunk(encodeRequest(PacketType.PRE_SLEEP).subarray(6)));
    expect(packets(frames).map((p) => p.type)).toEqual([PacketType.PRE_SLEEP]);
  });
});

describe('PacketDecoder buffers', () => {
  it('hands out views of the chunk for frames that lie whole inside it', () => {
    const chunk = ownChunk(
      Buffer.concat([
        encodeRequest(PacketType.SUBMIT_JOB, ['reverse', 'u1', 'abc']),
        encodeRequest(PacketType.WORK_COMPLETE, ['H:vm:7', 'done']),
      ]),
    );
    const { frames } = decodeChunks([chunk], { expect: 'REQ' });
    const [submit, complete] = packets(frames);
    for (const arg of [...(submit?.args ?? []), ...(complete?.args ?? [])]) {
      expect(arg.buffer).toBe(chunk.buffer);
    }
    // The data argument of the first frame starts right after "reverse\0u1\0" behind its header.
    expect(submit?.args[2]?.byteOffset).toBe(chunk.byteOffset + HEADER_SIZE + 'reverse\0u1\0'.length);
    expect(complete?.args.map(String)).toEqual(['H:vm:7', 'done']);
  });

  it('copies a frame whose body spans chunks exactly once, into a buffer of its own', () => {
    const frame = encodeRequest(PacketType.SUBMIT_JOB, ['reverse', 'u1', Buffer.alloc(10_000, 7)]);
    const chunks = splitAt(frame, [20, 3_000, 9_000]);
    const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
    const { frames } = decodeChunks(chunks, { expect: 'REQ' });
    const [submit] = packets(frames);
    const args = submit?.args ?? [];
    expect(args).toHaveLength(3);
    // One allocation of exactly the body size, and every argument a view of it.
    expect(allocUnsafe.mock.calls).toEqual([[frame.length - HEADER_SIZE]]);
    const body = args[0]?.buffer;
    for (const arg of args) expect(arg.buffer).toBe(body);
    for (const chunk of chunks) expect(chunk.buffer).not.toBe(body);
    expect(args[1]?.byteOffset).toBe((args[0]?.byteOffset ?? 0) + 'reverse\0'.length);
    expect(Buffer.compare(args[2] ?? Buffer.alloc(0), Buffer.alloc(10_000, 7))).toBe(0);
  });

  it('copies nothing when only the header is split and the body arrives whole', () => {
    const frame = encodeRequest(PacketType.CAN_DO, ['reverse']);
    const chunks = splitAt(frame, [5]);
    const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
    const { frames } = decodeChunks(chunks, { expect: 'REQ' });
    expect(allocUnsafe).not.toHaveBeenCalled();
    expect(packets(frames)[0]?.args[0]?.buffer).toBe(chunks[1]?.buffer);
  });

  it('never reuses the buffer of an earlier spanning frame', () => {
    const first = encodeRequest(PacketType.ECHO_REQ, [Buffer.alloc(300, 'a')]);
    const second = encodeRequest(PacketType.ECHO_REQ, [Buffer.alloc(300, 'b')]);
    const frames: Frame[] = [];
    const decoder = new PacketDecoder((frame) => frames.push(frame), { expect: 'REQ' });
    for (const chunk of randomSplit(seededRng(7), Buffer.concat([first, second]), 50)) decoder.push(chunk);
    const [a, b] = packets(frames);
    expect(a?.args[0]?.toString()).toBe('a'.repeat(300));
    expect(b?.args[0]?.toString()).toBe('b'.repeat(300));
  });
});

describe('PacketDecoder text admin lines', () => {
  const adminStream = Buffer.concat([
    Buffer.from('status\r\n'),
    encodeRequest(PacketType.ECHO_REQ, ['ping']),
    Buffer.from('workers\n'),
    Buffer.from('maxqueue reverse 10 20 30\r\n'),
    encodeRequest(PacketType.SUBMIT_JOB, ['reverse', '', 'data']),
    encodeRequest(PacketType.GRAB_JOB),
    Buffer.from('show unique jobs ✓\n'),
    Buffer.from('\r\n'),
    Buffer.from('version\n'),
  ]);
  const expected = [
    { kind: 'text', line: 'status' },
    { kind: 'packet', magic: 'REQ', type: PacketType.ECHO_REQ, args: [Buffer.from('ping').toString('hex')] },
    { kind: 'text', line: 'workers' },
    { kind: 'text', line: 'maxqueue reverse 10 20 30' },
    {
      kind: 'packet',
      magic: 'REQ',
      type: PacketType.SUBMIT_JOB,
      args: ['reverse', '', 'data'].map((arg) => Buffer.from(arg).toString('hex')),
    },
    { kind: 'packet', magic: 'REQ', type: PacketType.GRAB_JOB, args: [] },
    { kind: 'text', line: 'show unique jobs ✓' },
    { kind: 'text', line: '' },
    { kind: 'text', line: 'version' },
  ];

  it('mixes lines ending in \\r\\n or \\n with binary frames on one stream', () => {
    const { frames, error } = decodeChunks([ownChunk(adminStream)], { expect: 'REQ', allowText: true });
    expect(error).toBeUndefined();
    expect(frames.map(plain)).toEqual(expected);
  });

  it('joins lines split across chunks, including inside a multi-byte character', () => {
    const byByte = decodeChunks(byteByByte(adminStream), { expect: 'REQ', allowText: true });
    expect(byByte.error).toBeUndefined();
    expect(byByte.frames.map(plain)).toEqual(expected);
    for (let seed = 1; seed <= 100; seed++) {
      const split = decodeChunks(randomSplit(seededRng(seed), adminStream, 24), {
        expect: 'REQ',
        allowText: true,
      });
      expect(split.frames.map(plain), `seed ${seed}`).toEqual(expected);
    }
  });

  it('keeps a line without its newline buffered until the newline arrives', () => {
    const frames: Frame[] = [];
    const decoder = new PacketDecoder((frame) => frames.push(frame), { expect: 'REQ', allowText: true });
    decoder.push(ownChunk(Buffer.from('stat')));
    decoder.push(ownChunk(Buffer.from('us\r')));
    expect(frames).toHaveLength(0);
    expect(decoder.midFrame).toBe(true);
    decoder.push(ownChunk(Buffer.from('\n')));
    expect(frames.map(plain)).toEqual([{ kind: 'text', line: 'status' }]);
    expect(decoder.midFrame).toBe(false);
  });

  it('accepts a line of exactly maxLineLength bytes', () => {
    const line = 'a'.repeat(100);
    const { frames, error } = decodeChunks([ownChunk(Buffer.from(`${line}\n`))], {
      expect: 'REQ',
      allowText: true,
      maxLineLength: 100,
    });
    expect(error).toBeUndefined();
    expect(frames.map(plain)).toEqual([{ kind: 'text', line }]);
  });

  it('refuses a line of maxLineLength + 1 bytes', () => {
    const { frames, error } = decodeChunks([ownChunk(Buffer.from(`${'a'.repeat(101)}\n`))], {
      expect: 'REQ',
      allowText: true,
      maxLineLength: 100,
    });
    expect(frames).toHaveLength(0);
    expect(error).toMatchObject({ code: ErrorCode.PROTOCOL, offset: 0 });
  });

  it('refuses an over-long line before its newline arrives, at the offset where the line starts', () => {
    const frames: Frame[] = [];
    const decoder = new PacketDecoder((frame) => frames.push(frame), {
      expect: 'REQ',
      allowText: true,
      maxLineLength: 100,
    });
    decoder.push(ownChunk(Buffer.from('version\n')));
    decoder.push(ownChunk(Buffer.from('b'.repeat(60))));
    let error: unknown;
    try {
      decoder.push(ownChunk(Buffer.from('b'.repeat(60))));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe(ErrorCode.PROTOCOL);
    expect((error as ProtocolError).offset).toBe('version\n'.length);
    expect(frames.map(plain)).toEqual([{ kind: 'text', line: 'version' }]);
  });

  it('refuses text at its first byte when text is not allowed', () => {
    // A worker that reached something other than a job server must not wait for 12 bytes that never come.
    const { frames, error } = decodeChunks([ownChunk(Buffer.from('ERR\n'))], { expect: 'RES' });
    expect(frames).toHaveLength(0);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe(ErrorCode.PROTOCOL);
    expect((error as ProtocolError).offset).toBe(0);
    expect((error as ProtocolError).preview).toBe(Buffer.from('ERR\n').toString('hex'));
  });
});

/** Decodes `prefix` then `bad`, whole and byte by byte, and returns the error, checked for sameness. */
function expectRefused(prefix: Buffer, bad: Buffer, options: ConstructorParameters<typeof PacketDecoder>[1]) {
  const stream = Buffer.concat([prefix, bad]);
  const whole = decodeChunks([ownChunk(stream)], options);
  const bytes = decodeChunks(byteByByte(stream), options);
  for (const result of [whole, bytes]) {
    expect(result.error).toBeInstanceOf(ProtocolError);
    expect(result.frames.map(plain)).toEqual(decodeChunks([ownChunk(prefix)], options).frames.map(plain));
  }
  const error = whole.error as ProtocolError;
  const again = bytes.error as ProtocolError;
  expect(again.code).toBe(error.code);
  expect(again.offset).toBe(error.offset);
  expect(again.packetType).toBe(error.packetType);
  expect(error.offset).toBe(prefix.length);
  expect(error.preview).toMatch(/^([0-9a-f]{2})+$/);
  return error;
}

describe('PacketDecoder refusals', () => {
  const prefix = Buffer.concat([
    encodeRequest(PacketType.CAN_DO, ['reverse']),
    encodeRequest(PacketType.PRE_SLEEP),
  ]);

  it('refuses a 4 GiB size field at the header, without allocating', () => {
    const error = expectRefused(prefix, header(REQ, PacketType.SUBMIT_JOB, 0xffffffff), { expect: 'REQ' });
    expect(error.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(error.packetType).toBe(PacketType.SUBMIT_JOB);
    expect(error.preview).toBe(header(REQ, PacketType.SUBMIT_JOB, 0xffffffff).toString('hex'));
    // Again with the allocators watched only while the decoder runs, fed whole and byte by byte.
    const stream = Buffer.concat([prefix, header(REQ, PacketType.SUBMIT_JOB, 0xffffffff)]);
    for (const chunks of [[ownChunk(stream)], byteByByte(stream)]) {
      const decoder = new PacketDecoder(() => {}, { expect: 'REQ' });
      const spies = [
        vi.spyOn(Buffer, 'allocUnsafe'),
        vi.spyOn(Buffer, 'allocUnsafeSlow'),
        vi.spyOn(Buffer, 'alloc'),
      ];
      expect(() => {
        for (const chunk of chunks) decoder.push(chunk);
      }).toThrow(expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }));
      // Byte by byte, the 7-byte body of CAN_DO reverse is collected; nothing bigger may be.
      for (const spy of spies) {
        for (const [size] of spy.mock.calls) expect(size).toBeLessThanOrEqual('reverse'.length);
        spy.mockRestore();
      }
    }
  });

  it('refuses an oversized frame on the twelfth header byte, before any body arrives', () => {
    const frames: Frame[] = [];
    const decoder = new PacketDecoder((frame) => frames.push(frame), { expect: 'RES' });
    const big = header(RES, PacketType.WORK_COMPLETE, DEFAULT_MAX_FRAME_SIZE + 1);
    for (let i = 0; i < HEADER_SIZE - 1; i++) decoder.push(ownChunk(big.subarray(i, i + 1)));
    expect(() => decoder.push(ownChunk(big.subarray(HEADER_SIZE - 1)))).toThrow(
      expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE, offset: 0 }),
    );
    expect(frames).toHaveLength(0);
  });

  it('accepts a frame of exactly maxFrameSize and refuses one byte more', () => {
    const ok = encodeRequest(PacketType.ECHO_REQ, [Buffer.alloc(1000)]);
    const fits = decodeChunks([ownChunk(ok)], { expect: 'REQ', maxFrameSize: 1000 });
    expect(fits.error).toBeUndefined();
    expect(packets(fits.frames)[0]?.args[0]?.length).toBe(1000);
    const tooBig = encodeRequest(PacketType.ECHO_REQ, [Buffer.alloc(1001)]);
    const error = expectRefused(prefix, tooBig, { expect: 'REQ', maxFrameSize: 1000 });
    expect(error.code).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it('refuses a bad magic with the offset and a hex preview of the frame', () => {
    const bad = Buffer.concat([Buffer.from('\0REX'), header(REQ, 1, 0).subarray(4)]);
    const error = expectRefused(prefix, bad, { expect: 'REQ' });
    expect(error.code).toBe(ErrorCode.PROTOCOL);
    expect(error.preview).toBe(bad.toString('hex'));
  });

  it.each([
    ['0', 0],
    ['5 (never assigned)', 5],
    ['43 (past the last)', 43],
    ['0x80000000 (the one that kills gearmand 1.1.20)', 0x80000000],
    ['0xffffffff', 0xffffffff],
  ])('refuses unknown packet type %s', (_label, type) => {
    const error = expectRefused(prefix, header(REQ, type, 0), { expect: 'REQ' });
    expect(error.code).toBe(ErrorCode.PROTOCOL);
    expect(error.packetType).toBe(type);
    expect(error.preview).toBe(header(REQ, type, 0).toString('hex'));
  });

  it('refuses a response where it expects requests, and a request where it expects responses', () => {
    const res = expectRefused(prefix, encodeResponse(PacketType.NOOP), { expect: 'REQ' });
    expect(res.code).toBe(ErrorCode.PROTOCOL);
    const resPrefix = encodeResponse(PacketType.NO_JOB);
    const req = expectRefused(resPrefix, encodeRequest(PacketType.GRAB_JOB), { expect: 'RES' });
    expect(req.code).toBe(ErrorCode.PROTOCOL);
  });

  it('refuses a wrong magic as soon as its fourth byte arrives', () => {
    const frames: Frame[] = [];
    const decoder = new PacketDecoder((frame) => frames.push(frame), { expect: 'RES' });
    decoder.push(ownChunk(Buffer.from('\0RE')));
    expect(() => decoder.push(ownChunk(Buffer.from('Q')))).toThrow(
      expect.objectContaining({ code: ErrorCode.PROTOCOL, offset: 0 }),
    );
  });

  it("accepts both magics when told to expect 'any'", () => {
    const stream = Buffer.concat([
      encodeRequest(PacketType.ECHO_REQ, ['a']),
      encodeResponse(PacketType.ECHO_RES, ['a']),
    ]);
    const { frames, error } = decodeChunks([ownChunk(stream)], { expect: 'any' });
    expect(error).toBeUndefined();
    expect(packets(frames).map((p) => p.magic)).toEqual(['REQ', 'RES']);
  });

  it('refuses a frame with missing arguments, whole or spanning chunks', () => {
    // SUBMIT_JOB needs function\0unique\0data: one NUL is one short.
    const bad = rawFrame(REQ, PacketType.SUBMIT_JOB, 'reverse\0data');
    const error = expectRefused(prefix, bad, { expect: 'REQ' });
    expect(error.code).toBe(ErrorCode.PROTOCOL);
    expect(error.packetType).toBe(PacketType.SUBMIT_JOB);
    expect(error.preview).toBe(bad.toString('hex'));
    const spanning = decodeChunks(splitAt(Buffer.concat([prefix, bad]), [prefix.length + 14]), {
      expect: 'REQ',
    });
    expect(spanning.error).toMatchObject({
      code: ErrorCode.PROTOCOL,
      offset: prefix.length,
      preview: bad.toString('hex'),
    });
    // A frame with one argument and an empty body is fine: the argument is empty.
    const empty = decodeChunks([ownChunk(encodeRequest(PacketType.CAN_DO, ['']))], { expect: 'REQ' });
    expect(packets(empty.frames)[0]?.args.map(String)).toEqual(['']);
  });

  it('refuses all further input after an error, with the same error', () => {
    const frames: Frame[] = [];
    const decoder = new PacketDecoder((frame) => frames.push(frame), { expect: 'REQ' });
    let first: unknown;
    try {
      decoder.push(ownChunk(header(REQ, 0x80000000, 0)));
    } catch (err) {
      first = err;
    }
    expect(first).toBeInstanceOf(ProtocolError);
    expect(() => decoder.push(ownChunk(encodeRequest(PacketType.GRAB_JOB)))).toThrow(first as Error);
    expect(() => decoder.push(Buffer.alloc(0))).toThrow(first as Error);
    expect(frames).toHaveLength(0);
  });

  it('refuses further input after the sink throws, since the rest of the chunk was never read', () => {
    const seen: number[] = [];
    const sinkError = new Error('listener bug');
    const decoder = new PacketDecoder(
      (frame) => {
        if (frame.kind === 'packet') seen.push(frame.packet.type);
        if (seen.length === 1) throw sinkError;
      },
      { expect: 'RES' },
    );
    const stream = Buffer.concat([encodeResponse(PacketType.NOOP), encodeResponse(PacketType.NO_JOB)]);
    expect(() => decoder.push(ownChunk(stream))).toThrow(sinkError);
    expect(() => decoder.push(ownChunk(encodeResponse(PacketType.NOOP)))).toThrow(sinkError);
    expect(seen).toEqual([PacketType.NOOP]);
  });

  it('rejects a maxFrameSize that is not a 32-bit size', () => {
    for (const maxFrameSize of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect(() => new PacketDecoder(() => {}, { expect: 'REQ', maxFrameSize })).toThrow(RangeError);
    }
  });
});
