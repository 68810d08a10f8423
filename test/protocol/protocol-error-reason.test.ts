import { describe, expect, it } from 'vitest';
import { ErrorCode, ProtocolError, type ProtocolFailure } from '../../src/errors.js';
import { parseStatus } from '../../src/protocol/admin-replies.js';
import { PacketType } from '../../src/protocol/constants.js';
import { PacketDecoder } from '../../src/protocol/decoder.js';

// Issue 16, item 5: a ProtocolError says what was wrong in `reason`, so that the server's
// ERROR reply (session.ts) switches on it instead of matching the message text.

function header(magic: number, type: number, size: number): Buffer {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt32BE(magic, 0);
  bytes.writeUInt32BE(type, 4);
  bytes.writeUInt32BE(size, 8);
  return bytes;
}

const kReq = 0x00524551;
const kRes = 0x00524553;

/** The ProtocolError a server-side decoder (REQ or text, 1 KiB frames, 100-byte lines) throws on `bytes`. */
function refusal(bytes: Buffer, expect: 'REQ' | 'any' = 'REQ'): ProtocolError {
  const decoder = new PacketDecoder(() => {}, {
    expect,
    allowText: true,
    maxFrameSize: 1024,
    maxLineLength: 100,
    oversized: {
      types: new Set([PacketType.WORK_COMPLETE]),
      headSize: 65,
      // No NUL in reach: not a job handle, so the frame is refused as any oversized one.
      skipped: (_type, _size, head) => head.includes(0),
    },
  });
  try {
    decoder.push(bytes);
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error('the decoder took the bytes');
}

describe('ProtocolError.reason', () => {
  it.each<[string, Buffer, ProtocolFailure, ErrorCode]>([
    ['a frame with bad magic', header(0x00414243, PacketType.ECHO_REQ, 0), 'bad-magic', ErrorCode.PROTOCOL],
    ['a short banner that is no magic', Buffer.from([0, 0x58]), 'bad-magic', ErrorCode.PROTOCOL],
    ['a response on a request stream', header(kRes, PacketType.ECHO_RES, 0), 'bad-magic', ErrorCode.PROTOCOL],
    ['an unknown packet type', header(kReq, 5, 0), 'unknown-type', ErrorCode.PROTOCOL],
    ['a type past every known one', header(kReq, 0x80000000, 0), 'unknown-type', ErrorCode.PROTOCOL],
    [
      'a frame over the limit',
      header(kReq, PacketType.ECHO_REQ, 4096),
      'too-large',
      ErrorCode.FRAME_TOO_LARGE,
    ],
    [
      'an oversized WORK_COMPLETE with no handle in its head',
      Buffer.concat([header(kReq, PacketType.WORK_COMPLETE, 4096), Buffer.alloc(65, 0x61)]),
      'too-large',
      ErrorCode.FRAME_TOO_LARGE,
    ],
    [
      'a packet missing arguments',
      Buffer.concat([header(kReq, PacketType.SUBMIT_JOB, 9), Buffer.from('fn\0unique')]),
      'missing-arguments',
      ErrorCode.PROTOCOL,
    ],
    ['an admin line over the limit', Buffer.from('x'.repeat(200)), 'line-too-long', ErrorCode.PROTOCOL],
  ])('names %s', (_name, bytes, reason, code) => {
    const error = refusal(bytes, reason === 'line-too-long' ? 'any' : 'REQ');
    expect(error.reason).toBe(reason);
    expect(error.code).toBe(code);
  });

  it('names an admin reply that does not parse', () => {
    let error: unknown;
    try {
      parseStatus(['a\t1\t1']);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).reason).toBe('malformed-reply');
    expect((error as ProtocolError).code).toBe(ErrorCode.PROTOCOL);
  });
});
