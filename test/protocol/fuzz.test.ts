import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, ProtocolError } from '../../src/errors.js';
import { ARG_COUNT, HEADER_SIZE, type Magic, PacketType } from '../../src/protocol/constants.js';
import { type DecoderOptions, PacketDecoder } from '../../src/protocol/decoder.js';
import { type Arg, encodePacket } from '../../src/protocol/encoder.js';
import type { Frame } from '../../src/protocol/packet.js';
import { ownChunk, plain, type Rng, randomBytes, randomInt, randomSplit, seededRng } from './helpers.js';

const SEED = 0x6765_6172; // "gear"
const ITERATIONS = 20_000;
const MAX_FRAME_SIZE = 2048;
const MAX_LINE_LENGTH = 256;
const allTypes = Object.values(PacketType);

/**
 * Watches Buffer's allocators while the decoder runs: the decoder may allocate only a
 * body it has accepted (at most MAX_FRAME_SIZE) or a text line (at most MAX_LINE_LENGTH).
 * A hand-rolled wrapper rather than vi.spyOn, because a spy would record every call of
 * 20,000 iterations.
 */
let watching = false;
let largestAllocation = 0;
const originals = {
  alloc: Buffer.alloc,
  allocUnsafe: Buffer.allocUnsafe,
  allocUnsafeSlow: Buffer.allocUnsafeSlow,
};
beforeAll(() => {
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const original = originals[name] as (size: number, ...rest: unknown[]) => Buffer;
    Object.defineProperty(Buffer, name, {
      configurable: true,
      writable: true,
      value: (size: number, ...rest: unknown[]) => {
        if (watching && size > largestAllocation) largestAllocation = size;
        return original.call(Buffer, size, ...rest);
      },
    });
  }
});
afterAll(() => {
  Object.assign(Buffer, originals);
});

/** Only the last argument (the opaque data) may hold NUL bytes; the others are made NUL-free. */
function randomArg(rng: Rng, last: boolean): Arg {
  const roll = rng();
  if (roll < 0.2) return '';
  if (roll < 0.6) return `fn-${randomInt(rng, 0, 999)}`;
  const bytes = randomBytes(rng, randomInt(rng, 0, rng() < 0.1 ? 3000 : 40));
  if (!last) for (let i = 0; i < bytes.length; i++) bytes[i] ||= 1;
  return bytes;
}

function validFrame(rng: Rng, magic: Magic): Buffer {
  const type = allTypes[randomInt(rng, 0, allTypes.length - 1)] as PacketType;
  const count = ARG_COUNT[type];
  const args = Array.from({ length: count }, (_, i) => randomArg(rng, i === count - 1));
  return encodePacket(magic, type, args);
}

/** A header that is valid except, maybe, in one field: the decoder's interesting edge. */
function nearHeader(rng: Rng): Buffer {
  const buf = Buffer.alloc(HEADER_SIZE);
  buf.writeUInt32BE(rng() < 0.8 ? 0x00524551 + (rng() < 0.5 ? 2 : 0) : randomInt(rng, 0, 0xffffffff), 0);
  const typeRoll = rng();
  const type =
    typeRoll < 0.5
      ? (allTypes[randomInt(rng, 0, allTypes.length - 1)] as number)
      : typeRoll < 0.8
        ? [0, 5, 43, 0x80000000, 0xffffffff][randomInt(rng, 0, 4)]
        : randomInt(rng, 0, 0xffffffff);
  buf.writeUInt32BE(type ?? 0, 4);
  const sizeRoll = rng();
  const size =
    sizeRoll < 0.5
      ? randomInt(rng, 0, 64)
      : sizeRoll < 0.7
        ? MAX_FRAME_SIZE + randomInt(rng, -1, 1)
        : randomInt(rng, 0, 0xffffffff);
  buf.writeUInt32BE(size, 8);
  return buf;
}

function mutate(rng: Rng, input: Buffer): Buffer {
  const out = Buffer.from(input);
  switch (randomInt(rng, 0, 4)) {
    case 0: // flip a few bytes
      for (let n = randomInt(rng, 1, 4); n > 0 && out.length > 0; n--) {
        out[randomInt(rng, 0, out.length - 1)] = randomInt(rng, 0, 255);
      }
      return out;
    case 1: // truncate
      return out.subarray(0, randomInt(rng, 0, out.length));
    case 2: {
      // splice random bytes in
      const at = randomInt(rng, 0, out.length);
      return Buffer.concat([out.subarray(0, at), randomBytes(rng, randomInt(rng, 1, 16)), out.subarray(at)]);
    }
    case 3: {
      // cut a piece out
      const from = randomInt(rng, 0, out.length);
      return Buffer.concat([out.subarray(0, from), out.subarray(randomInt(rng, from, out.length))]);
    }
    default: // overwrite a header-shaped stretch
      return Buffer.concat([out.subarray(0, randomInt(rng, 0, out.length)), nearHeader(rng)]);
  }
}

function randomInput(rng: Rng, magic: Magic): Buffer {
  const roll = rng();
  if (roll < 0.15) return randomBytes(rng, randomInt(rng, 0, 80));
  if (roll < 0.3) return Buffer.concat([nearHeader(rng), randomBytes(rng, randomInt(rng, 0, 80))]);
  const frames = Array.from({ length: randomInt(rng, 1, 4) }, () =>
    rng() < 0.15 ? Buffer.from(rng() < 0.5 ? 'status\r\n' : 'workers\n') : validFrame(rng, magic),
  );
  const stream = Buffer.concat(frames);
  return roll < 0.4 ? stream : mutate(rng, stream);
}

function randomOptions(rng: Rng): DecoderOptions {
  const expect = (['REQ', 'RES', 'any'] as const)[randomInt(rng, 0, 2)] ?? 'any';
  return { expect, allowText: rng() < 0.5, maxFrameSize: MAX_FRAME_SIZE, maxLineLength: MAX_LINE_LENGTH };
}

const kValidGrab = ownChunk(encodePacket('REQ', PacketType.GRAB_JOB));

interface Outcome {
  frames: Frame[];
  error: ProtocolError | undefined;
}

/**
 * Pushes the chunks, stopping at the first error. The sink guards against a decoder
 * that loops: every frame consumes at least one byte, so more frames than bytes means
 * it is replaying input.
 */
function run(chunks: readonly Buffer[], options: DecoderOptions, inputLength: number): Outcome {
  const frames: Frame[] = [];
  const decoder = new PacketDecoder((frame) => {
    frames.push(frame);
    if (frames.length > inputLength) throw new Error('decoder emitted more frames than input bytes');
  }, options);
  watching = true;
  try {
    for (const chunk of chunks) decoder.push(chunk);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    // A failed decoder must stay failed, whatever comes next.
    let again: unknown;
    try {
      decoder.push(kValidGrab);
    } catch (err) {
      again = err;
    }
    if (again !== error) expect.fail(`a failed decoder accepted more input (${String(again)})`);
    return { frames, error };
  } finally {
    watching = false;
  }
  return { frames, error: undefined };
}

function sameFrame(a: Frame | undefined, b: Frame | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.kind === 'text' || b.kind === 'text')
    return a.kind === 'text' && b.kind === 'text' && a.line === b.line;
  const [p, q] = [a.packet, b.packet];
  return (
    p.magic === q.magic &&
    p.type === q.type &&
    p.args.length === q.args.length &&
    p.args.every((arg, i) => arg.equals(q.args[i] as Buffer))
  );
}

/** What is wrong with a decoded frame, or undefined. Plain checks: expect() per frame is too slow here. */
function frameProblem(frame: Frame, options: DecoderOptions): string | undefined {
  if (frame.kind === 'text') {
    if (!options.allowText) return 'text line from a decoder that does not allow text';
    if (frame.line.includes('\n')) return 'text line containing a newline';
    // Invalid UTF-8 turns into U+FFFD, 3 bytes per input byte at most.
    if (Buffer.byteLength(frame.line) > MAX_LINE_LENGTH * 3) return 'text line over the limit';
    return undefined;
  }
  const { magic, type, args } = frame.packet;
  if (options.expect !== 'any' && magic !== options.expect) return `magic ${magic}`;
  if (args.length !== ARG_COUNT[type]) return `${args.length} arguments for type ${type}`;
  const size = args.reduce((n, arg) => n + arg.length, Math.max(0, args.length - 1));
  if (size > MAX_FRAME_SIZE) return `frame of ${size} bytes`;
  // Only the last argument, the opaque data, may contain NUL.
  if (args.slice(0, -1).some((arg) => arg.includes(0))) return 'NUL inside a leading argument';
  return undefined;
}

describe('decoder fuzz', () => {
  it(`survives ${ITERATIONS} random and mutated inputs with seed ${SEED}`, () => {
    const rng = seededRng(SEED);
    let framesSeen = 0;
    let errorsSeen = 0;
    const codes = new Set<string>();
    largestAllocation = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const options = randomOptions(rng);
      const input = randomInput(
        rng,
        options.expect === 'any' ? (rng() < 0.5 ? 'REQ' : 'RES') : options.expect,
      );
      const whole = run([ownChunk(input)], options, input.length);
      const split = run(randomSplit(rng, input, 48), options, input.length);
      const context = `iteration ${i}, input ${input.toString('hex')}`;
      // Any split of the stream gives the same frames and, if it fails, fails at the same frame.
      if (
        split.frames.length !== whole.frames.length ||
        !split.frames.every((frame, n) => sameFrame(frame, whole.frames[n]))
      ) {
        expect(split.frames.map(plain), context).toEqual(whole.frames.map(plain));
      }
      if (split.error?.code !== whole.error?.code || split.error?.offset !== whole.error?.offset) {
        expect([split.error?.code, split.error?.offset], context).toEqual([
          whole.error?.code,
          whole.error?.offset,
        ]);
      }
      for (const frame of whole.frames) {
        const problem = frameProblem(frame, options);
        if (problem) expect.fail(`${context}: ${problem}`);
      }
      if (whole.error) {
        errorsSeen++;
        codes.add(whole.error.code);
        const { offset, preview } = whole.error;
        if (!(offset >= 0 && offset < input.length) || !/^([0-9a-f]{2})+$/.test(preview)) {
          expect.fail(`${context}: offset ${offset}, preview ${JSON.stringify(preview)}`);
        }
      }
      framesSeen += whole.frames.length;
    }
    expect(largestAllocation).toBeLessThanOrEqual(Math.max(MAX_FRAME_SIZE, MAX_LINE_LENGTH));
    // The generator must exercise both outcomes, or the loop proves nothing.
    expect(framesSeen).toBeGreaterThan(ITERATIONS / 2);
    expect(errorsSeen).toBeGreaterThan(ITERATIONS / 10);
    expect([...codes].sort()).toEqual([ErrorCode.FRAME_TOO_LARGE, ErrorCode.PROTOCOL].sort());
  });
});
