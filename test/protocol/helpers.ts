import { type DecoderOptions, PacketDecoder } from '../../src/protocol/decoder.js';
import type { Frame } from '../../src/protocol/packet.js';

/**
 * A frame built by hand, for frames the encoder refuses to build (missing arguments,
 * unknown types): any magic number, type and body.
 */
export function rawFrame(magic: number, type: number, body: Uint8Array | string = ''): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const frame = Buffer.alloc(12 + data.byteLength);
  frame.writeUInt32BE(magic, 0);
  frame.writeUInt32BE(type, 4);
  frame.writeUInt32BE(data.byteLength, 8);
  frame.set(data, 12);
  return frame;
}

/** A source of uniform numbers in [0, 1): the same seed always gives the same sequence. */
export type Rng = () => number;

/**
 * mulberry32: a tiny 32-bit PRNG. Tests need reproducible randomness (a failing seed
 * must fail again), which Math.random cannot give.
 */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max], both ends included. */
export function randomInt(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

export function randomBytes(rng: Rng, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(rng() * 256);
  return out;
}

/**
 * A copy of `bytes` in an ArrayBuffer of its own. Small Buffer.from/allocUnsafe results
 * share Node's 8 KiB pool, so "same ArrayBuffer" assertions need unpooled chunks to mean
 * anything; Buffer.alloc never uses the pool.
 */
export function ownChunk(bytes: Uint8Array): Buffer {
  const chunk = Buffer.alloc(bytes.byteLength);
  chunk.set(bytes);
  return chunk;
}

/** Cuts `stream` at the given offsets (sorted, inside the stream) into unpooled chunks. */
export function splitAt(stream: Uint8Array, cuts: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, stream.byteLength]) {
    chunks.push(ownChunk(stream.subarray(start, cut)));
    start = cut;
  }
  return chunks;
}

/** Every single byte as its own chunk. */
export function byteByByte(stream: Uint8Array): Buffer[] {
  return Array.from({ length: stream.byteLength }, (_, i) => ownChunk(stream.subarray(i, i + 1)));
}

/**
 * Cuts `stream` at random places. Chunk lengths are drawn from a wide range so that
 * both tiny pieces (inside a header) and big ones (many frames at once) occur; empty
 * chunks are included now and then because sockets can deliver them.
 */
export function randomSplit(rng: Rng, stream: Uint8Array, maxChunk = 64): Buffer[] {
  const chunks: Buffer[] = [];
  let pos = 0;
  while (pos < stream.byteLength) {
    const roll = rng();
    const length = roll < 0.05 ? 0 : roll < 0.5 ? randomInt(rng, 1, 13) : randomInt(rng, 1, maxChunk);
    chunks.push(ownChunk(stream.subarray(pos, pos + length)));
    pos += length;
  }
  return chunks;
}

/** A frame reduced to plain data, so that frames from different splits compare with toEqual. */
export type PlainFrame =
  | { kind: 'packet'; magic: string; type: number; args: string[] }
  | { kind: 'text'; line: string };

export function plain(frame: Frame): PlainFrame {
  if (frame.kind === 'text') return { kind: 'text', line: frame.line };
  const { magic, type, args } = frame.packet;
  return { kind: 'packet', magic, type, args: args.map((arg) => arg.toString('hex')) };
}

export interface DecodeResult {
  frames: Frame[];
  error: unknown;
}

/**
 * Pushes `chunks` into a fresh decoder until the first error, collecting the frames
 * emitted before it.
 */
export function decodeChunks(chunks: readonly Buffer[], options: DecoderOptions): DecodeResult {
  const frames: Frame[] = [];
  const decoder = new PacketDecoder((frame) => frames.push(frame), options);
  try {
    for (const chunk of chunks) decoder.push(chunk);
  } catch (error) {
    return { frames, error };
  }
  return { frames, error: undefined };
}
