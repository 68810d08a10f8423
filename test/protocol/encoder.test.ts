import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARG_COUNT,
  HEADER_SIZE,
  isPacketType,
  type Magic,
  PacketType,
  packetTypeName,
} from '../../src/protocol/constants.js';
import { PacketDecoder } from '../../src/protocol/decoder.js';
import { type Arg, encodePacket, encodeRequest, encodeResponse } from '../../src/protocol/encoder.js';
import {
  FRAME_GRAB_JOB,
  FRAME_GRAB_JOB_ALL,
  FRAME_GRAB_JOB_UNIQ,
  FRAME_NO_JOB,
  FRAME_NOOP,
  FRAME_PRE_SLEEP,
  FRAME_RESET_ABILITIES,
} from '../../src/protocol/frames.js';
import type { Packet } from '../../src/protocol/packet.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { byteByByte, decodeChunks, ownChunk } from './helpers.js';

const allTypes = Object.values(PacketType);

function decodeOne(frame: Buffer, chunks: Buffer[] = [ownChunk(frame)]): Packet {
  const { frames, error } = decodeChunks(chunks, { expect: 'any' });
  if (error) throw error;
  expect(frames).toHaveLength(1);
  const [decoded] = frames;
  if (decoded?.kind !== 'packet') throw new Error('expected one packet');
  return decoded.packet;
}

function bytesOf(arg: Arg): Buffer {
  return typeof arg === 'string' ? Buffer.from(arg, 'utf8') : Buffer.from(arg);
}

/** Argument lists for one packet type: every argument empty, and every argument set. */
function argumentSets(type: PacketType): Array<{ label: string; args: Arg[] }> {
  const count = ARG_COUNT[type];
  const index = Array.from({ length: count }, (_, i) => i);
  return [
    { label: 'all empty', args: index.map(() => '') },
    {
      label: 'ASCII, then binary data with NULs last',
      args: index.map((i) => (i === count - 1 ? Buffer.from([0, 1, 0, 0, 255, 0]) : `arg-${i}`)),
    },
    {
      label: 'UTF-8 text',
      args: index.map((i) => (i === count - 1 ? 'données ✓ 🚀 \u0000 end' : `fünction-${i}-日本`)),
    },
    {
      label: 'Uint8Array views with an offset',
      args: index.map((i) => new Uint8Array([9, 9, 65 + i, 66 + i, 9]).subarray(2, 4)),
    },
  ];
}

describe('encoder round trip', () => {
  it('covers every assigned packet type, 1 to 42 without 5', () => {
    expect(allTypes).toHaveLength(41);
    for (let type = 1; type <= 42; type++) expect(isPacketType(type)).toBe(type !== 5);
    for (const type of allTypes) expect(ARG_COUNT[type]).toBeGreaterThanOrEqual(0);
  });

  for (const type of allTypes) {
    for (const magic of ['REQ', 'RES'] as const) {
      it(`${packetTypeName(type)} (${type}) with \\0${magic} decodes to what was encoded`, () => {
        for (const { label, args } of argumentSets(type)) {
          const frame = encodePacket(magic, type, args);
          const expectedBody = args.reduce((n, arg) => n + bytesOf(arg).length, Math.max(0, args.length - 1));
          expect(frame.length, label).toBe(HEADER_SIZE + expectedBody);
          expect(frame.readUInt32BE(8), label).toBe(expectedBody);
          // Whole and byte by byte: the spanning path must agree with the view path.
          for (const packet of [decodeOne(frame), decodeOne(frame, byteByByte(frame))]) {
            expect(packet.magic, label).toBe(magic);
            expect(packet.type, label).toBe(type);
            expect(
              packet.args.map((arg) => Buffer.from(arg)),
              label,
            ).toEqual(args.map(bytesOf));
          }
        }
      });
    }
  }

  it('writes replacement characters for lone surrogates and sizes the frame to match', () => {
    // Buffer.byteLength and Buffer#write must agree, or the frame would end in uninitialised bytes.
    const text = 'a\ud800b\udc00';
    const frame = encodeRequest(PacketType.ECHO_REQ, [text]);
    expect(decodeOne(frame).args[0]).toEqual(Buffer.from(text, 'utf8'));
    expect(frame.readUInt32BE(8)).toBe(Buffer.byteLength(text));
  });

  it('refuses an argument count other than the packet type takes', () => {
    expect(() => encodeRequest(PacketType.SUBMIT_JOB, ['reverse', 'data'])).toThrow(TypeError);
    expect(() => encodeRequest(PacketType.GRAB_JOB, [''])).toThrow(TypeError);
    expect(() => encodeResponse(PacketType.JOB_ASSIGN_UNIQ, ['H:vm:1', 'f', 'u', 'd', 'extra'])).toThrow(
      TypeError,
    );
  });

  it('refuses a NUL inside any argument but the last, where the peer would split it', () => {
    // Function "a\0b" would reach gearmand as function "a", unique "b" and the unique glued to the data.
    expect(() => encodeRequest(PacketType.SUBMIT_JOB, ['a\0b', 'u', 'data'])).toThrow(TypeError);
    expect(() => encodeRequest(PacketType.SUBMIT_JOB, ['fn', Buffer.from([117, 0]), 'data'])).toThrow(
      TypeError,
    );
    expect(() => encodeRequest(PacketType.WORK_STATUS, ['H:vm:1', '1', '2\0'])).not.toThrow();
  });

  it('encodes an argument-less packet when given no argument list', () => {
    expect(encodeRequest(PacketType.GRAB_JOB)).toEqual(encodePacket('REQ', PacketType.GRAB_JOB, []));
    expect(encodeResponse(PacketType.NOOP).length).toBe(HEADER_SIZE);
  });
});

/** Hex of a byte string written the way the PROTOCOL document writes it. */
function hex(...parts: Array<string | number[]>): string {
  return Buffer.concat(
    parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))),
  ).toString('hex');
}

describe('encoder bytes against the PROTOCOL document', () => {
  it('SUBMIT_JOB reverse with an empty unique and data "test"', () => {
    // PROTOCOL, "Binary Protocol" example: \0REQ, 7, 13, reverse\0 \0 test
    const frame = encodeRequest(PacketType.SUBMIT_JOB, ['reverse', '', 'test']);
    expect(frame.toString('hex')).toBe(hex('\0REQ', [0, 0, 0, 7], [0, 0, 0, 13], 'reverse\0\0test'));
  });

  it('JOB_CREATED H:lap:1', () => {
    const frame = encodeResponse(PacketType.JOB_CREATED, ['H:lap:1']);
    expect(frame.toString('hex')).toBe(hex('\0RES', [0, 0, 0, 8], [0, 0, 0, 7], 'H:lap:1'));
  });

  it('WORK_COMPLETE H:lap:1 with data "tset"', () => {
    const request = encodeRequest(PacketType.WORK_COMPLETE, ['H:lap:1', 'tset']);
    expect(request.toString('hex')).toBe(hex('\0REQ', [0, 0, 0, 13], [0, 0, 0, 12], 'H:lap:1\0tset'));
    const response = encodeResponse(PacketType.WORK_COMPLETE, ['H:lap:1', 'tset']);
    expect(response.toString('hex')).toBe(hex('\0RES', [0, 0, 0, 13], [0, 0, 0, 12], 'H:lap:1\0tset'));
  });

  it('CAN_DO_TIMEOUT carries the timeout as decimal ASCII, not binary', () => {
    // gearmand reads it with strtol; a 4-byte binary number reads as 0 (npm gearman's bug).
    const frame = encodeRequest(PacketType.CAN_DO_TIMEOUT, ['resize', String(30_000)]);
    expect(frame.toString('hex')).toBe(hex('\0REQ', [0, 0, 0, 23], [0, 0, 0, 12], 'resize\x0030000'));
  });

  it('writes sizes past 16 bits big-endian', () => {
    const frame = encodeResponse(PacketType.ECHO_RES, [Buffer.alloc(0x012345)]);
    expect(frame.subarray(0, HEADER_SIZE).toString('hex')).toBe('00524553' + '00000011' + '00012345');
  });
});

describe('cached constant frames', () => {
  const cases: Array<[string, Buffer, Magic, PacketType]> = [
    ['FRAME_NOOP', FRAME_NOOP, 'RES', PacketType.NOOP],
    ['FRAME_NO_JOB', FRAME_NO_JOB, 'RES', PacketType.NO_JOB],
    ['FRAME_PRE_SLEEP', FRAME_PRE_SLEEP, 'REQ', PacketType.PRE_SLEEP],
    ['FRAME_GRAB_JOB', FRAME_GRAB_JOB, 'REQ', PacketType.GRAB_JOB],
    ['FRAME_GRAB_JOB_UNIQ', FRAME_GRAB_JOB_UNIQ, 'REQ', PacketType.GRAB_JOB_UNIQ],
    ['FRAME_GRAB_JOB_ALL', FRAME_GRAB_JOB_ALL, 'REQ', PacketType.GRAB_JOB_ALL],
    ['FRAME_RESET_ABILITIES', FRAME_RESET_ABILITIES, 'REQ', PacketType.RESET_ABILITIES],
  ];
  it.each(cases)('%s is the 12-byte header of its packet with size 0', (_name, frame, magic, type) => {
    const magicBytes = magic === 'REQ' ? '00524551' : '00524553';
    expect(frame.toString('hex')).toBe(`${magicBytes}${type.toString(16).padStart(8, '0')}00000000`);
  });
});

/**
 * A raw socket to gearmand that decodes what comes back with our decoder, chunk by
 * chunk as the kernel delivers it.
 */
class RawPeer {
  readonly #socket: net.Socket;
  readonly #packets: Packet[] = [];
  #waiter: (() => void) | null = null;
  #error: unknown = null;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const decoder = new PacketDecoder(
      (frame) => {
        if (frame.kind === 'packet') this.#packets.push(frame.packet);
        this.#waiter?.();
      },
      { expect: 'RES' },
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        this.#error = err;
        this.#waiter?.();
      }
    });
  }

  static connect(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  send(...frames: Buffer[]): void {
    this.#socket.write(Buffer.concat(frames));
  }

  /** The next packet from the server, or a failure after `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    while (this.#packets.length === 0) {
      if (this.#error) throw this.#error;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no packet from gearmand in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = null;
    }
    return this.#packets.shift() as Packet;
  }

  close(): void {
    this.#socket.destroy();
  }
}

describeWithPeers(['gearmand'], 'encoded frames against gearmand 1.1.20', () => {
  let server: GearmandHandle;
  const peers: RawPeer[] = [];
  beforeAll(async () => {
    server = await startGearmand();
  });
  afterAll(async () => {
    for (const peer of peers) peer.close();
    await killAll();
  });

  it('echoes binary data with NULs byte for byte', async () => {
    const peer = await RawPeer.connect(server.port);
    peers.push(peer);
    const data = Buffer.from([0, 1, 2, 0, 0, 255, 0x52, 0]);
    peer.send(encodeRequest(PacketType.ECHO_REQ, [data]));
    const reply = await peer.next();
    expect(reply.type).toBe(PacketType.ECHO_RES);
    expect(reply.args[0]).toEqual(data);
  });

  it('carries a submitted job, unique and NUL-laden data through to a worker unchanged', async () => {
    const client = await RawPeer.connect(server.port);
    const worker = await RawPeer.connect(server.port);
    peers.push(client, worker);
    const data = Buffer.concat([Buffer.from('données ✓\0'), Buffer.from([0, 0, 7])]);
    client.send(encodeRequest(PacketType.SUBMIT_JOB_BG, ['gw-proto-echo', 'unique-1', data]));
    const created = await client.next();
    expect(created.type).toBe(PacketType.JOB_CREATED);
    const handle = created.args[0]?.toString() ?? '';
    expect(handle).toMatch(/^H:/);

    client.send(encodeRequest(PacketType.GET_STATUS_UNIQUE, ['unique-1']));
    const status = await client.next();
    expect(status.type).toBe(PacketType.STATUS_RES_UNIQUE);
    // unique, known, running, numerator, denominator, waiting clients (none: a background job).
    expect(status.args.map(String)).toEqual(['unique-1', '1', '0', '0', '0', '0']);

    worker.send(encodeRequest(PacketType.CAN_DO, ['gw-proto-echo']), encodeRequest(PacketType.GRAB_JOB_UNIQ));
    const assigned = await worker.next();
    expect(assigned.type).toBe(PacketType.JOB_ASSIGN_UNIQ);
    expect(assigned.args.slice(0, 3).map(String)).toEqual([handle, 'gw-proto-echo', 'unique-1']);
    expect(assigned.args[3]).toEqual(data);

    worker.send(encodeRequest(PacketType.WORK_STATUS, [handle, '1', '4']));
    // The two sockets are served by different gearmand I/O threads, so the status may
    // land after the first GET_STATUS: ask again, a bounded number of times.
    let running: string[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      client.send(encodeRequest(PacketType.GET_STATUS, [handle]));
      const reply = await client.next();
      expect(reply.type).toBe(PacketType.STATUS_RES);
      running = reply.args.map(String);
      if (running[3] === '1') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(running).toEqual([handle, '1', '1', '1', '4']);
  });

  it('gets ERROR INVALID_COMMAND for ALL_YOURS, which gearmand does not implement', async () => {
    const peer = await RawPeer.connect(server.port);
    peers.push(peer);
    peer.send(encodeRequest(PacketType.ALL_YOURS));
    const reply = await peer.next();
    expect(reply.type).toBe(PacketType.ERROR);
    expect(reply.args[0]?.toString()).toBe('INVALID_COMMAND');
  });
});
