import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ARG_COUNT, PacketType } from '../../src/protocol/constants.js';
import { PacketDecoder } from '../../src/protocol/decoder.js';
import { encodeRequest } from '../../src/protocol/encoder.js';
import { type Rng, randomBytes, randomInt, seededRng } from '../protocol/helpers.js';
import { eventually } from './helpers/conformance.js';
import { startServer } from './helpers/own-server.js';
import { RawClient, texts } from './helpers/raw-client.js';

const kSeed = Number(process.env.GWORKER_FUZZ_SEED ?? 0x6a09e667);
const kConnections = 300;
const kConcurrency = 12;
const kTimeBudgetMs = 12_000;

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
const kTypes = Object.values(PacketType) as PacketType[];
const kWords = [
  'f0',
  'f1',
  'f2',
  'u0',
  'u1',
  '-',
  '',
  'H:t:1',
  'H:t:2',
  'H:t:3',
  'exceptions',
  '1',
  '100',
  '0',
];
const kAdminLines = [
  'status',
  'prioritystatus',
  'workers',
  'show jobs',
  'show unique jobs',
  'cancel job H:t:1',
  'cancel job H:t:2',
  'create function f1',
  'drop function f0',
  'drop function F2',
  'maxqueue f1 3',
  'maxqueue f2 1 0 2',
  'version',
  'getpid',
  'verbose',
  'shutdown',
  'show',
  'a b c d e f g',
];

function frameOf(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.write('\0REQ', 'latin1');
  header.writeUInt32BE(type >>> 0, 4);
  header.writeUInt32BE(body.length, 8);
  return Buffer.concat([header, body]);
}

/** A well-formed request of any type, with arguments drawn from a small pool so that they meet. */
function validRequest(rng: Rng): Buffer {
  const type = pick(rng, kTypes);
  const count = ARG_COUNT[type];
  const args: string[] = [];
  for (let i = 0; i < count; i++)
    args.push(i === count - 1 && rng() < 0.3 ? 'x'.repeat(randomInt(rng, 0, 300)) : pick(rng, kWords));
  return encodeRequest(type, args);
}

/** One connection's bytes: valid requests, admin lines, and every kind of garbage. */
function session(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  const count = randomInt(rng, 1, 25);
  for (let i = 0; i < count; i++) {
    const roll = rng();
    if (roll < 0.55) parts.push(validRequest(rng));
    else if (roll < 0.65) parts.push(Buffer.from(`${pick(rng, kAdminLines)}\r\n`));
    else if (roll < 0.75) {
      const frame = validRequest(rng);
      for (let flips = randomInt(rng, 1, 3); flips > 0; flips--)
        frame[randomInt(rng, 0, frame.length - 1)] = randomInt(rng, 0, 255);
      parts.push(frame);
    } else if (roll < 0.82)
      parts.push(frameOf(randomInt(rng, 0, 0xffffffff), randomBytes(rng, randomInt(rng, 0, 40))));
    else if (roll < 0.88) {
      const frame = validRequest(rng);
      parts.push(frame.subarray(0, randomInt(rng, 1, frame.length)));
    } else if (roll < 0.93) {
      const header = frameOf(pick(rng, kTypes), Buffer.alloc(0));
      header.writeUInt32BE(randomInt(rng, 0x01000000, 0xffffffff), 8);
      parts.push(header);
    } else parts.push(randomBytes(rng, randomInt(rng, 1, 200)));
  }
  return Buffer.concat(parts);
}

/** Writes `bytes` in random pieces, lingers a little (reading whatever comes), then hangs up. */
async function play(port: number, rng: Rng, bytes: Buffer): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('data', () => {});
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('error', () => resolve());
  });
  let at = 0;
  while (at < bytes.length && !socket.destroyed) {
    const size = randomInt(rng, 1, 64);
    socket.write(bytes.subarray(at, at + size));
    at += size;
    if (rng() < 0.2) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await new Promise((resolve) => setTimeout(resolve, randomInt(rng, 0, 30)));
  if (rng() < 0.5) socket.end();
  socket.destroy();
}

describe('the server under random and malformed input', () => {
  it(`survives ${kConnections} fuzzed connections (seed ${kSeed}) and still serves a normal client`, async () => {
    // Protocol errors log at warn; a request that made a handler throw logs at error: a bug.
    const errors: unknown[] = [];
    let warnings = 0;
    const logger = {
      trace() {},
      debug() {},
      info() {},
      warn() {
        warnings++;
      },
      error(obj: unknown) {
        errors.push(obj);
      },
      child() {
        return logger;
      },
    };
    const { server, port } = await startServer({ logger });
    const rng = seededRng(kSeed);
    const scripts = Array.from({ length: kConnections }, () => ({
      bytes: session(rng),
      rng: seededRng(randomInt(rng, 0, 2 ** 31)),
    }));
    const deadline = Date.now() + kTimeBudgetMs;
    let played = 0;
    while (played < scripts.length && Date.now() < deadline) {
      const batch = scripts.slice(played, played + kConcurrency);
      await Promise.all(batch.map(({ bytes, rng: own }) => play(port, own, bytes)));
      played += batch.length;
    }
    expect(played).toBeGreaterThanOrEqual(Math.min(kConnections, 100));
    expect(warnings).toBeGreaterThan(0);
    expect(errors).toEqual([]);

    // Every fuzz connection is gone: no job may still count as running, no worker as registered,
    // and the counters must add up (nothing runs, so every job waits).
    await eventually(() => (server.connectionCount === 0 ? true : undefined));
    expect(server.runningJobCount).toBe(0);
    const admin = await RawClient.connect(port);
    const status = await admin.admin('status', 'list');
    const priorities = await admin.admin('prioritystatus', 'list');
    // Mutated frames make function names with any bytes (a newline splits a line): check the clean rows.
    const rows = (lines: string[], fields: number) =>
      lines
        .map((line) => line.split('\t'))
        .filter((row) => row.length === fields && row.slice(1).every((n) => /^\d+$/.test(n)));
    const waiting = new Map(
      rows(priorities, 5).map(([name, high, normal, low]) => [
        name,
        Number(high) + Number(normal) + Number(low),
      ]),
    );
    // Names are printed up to a NUL, so two functions can share a printed name: skip those.
    const printed = status.map((line) => line.split('\t')[0]);
    const statusRows = rows(status, 4).filter(
      ([name]) => printed.indexOf(name) === printed.lastIndexOf(name),
    );
    expect(statusRows.length).toBeGreaterThan(0);
    for (const [name, total, running, workers] of statusRows) {
      expect({ name, running, workers }).toEqual({ name, running: '0', workers: '0' });
      if (waiting.has(name)) expect(waiting.get(name)).toBe(Number(total));
    }
    expect((await admin.admin('show jobs', 'list')).length).toBe(server.jobCount);

    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB, ['after-fuzz', 'after', 'ping']);
    const handle = texts(await client.expect(PacketType.JOB_CREATED))[0] as string;
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['after-fuzz']).send(PacketType.GRAB_JOB);
    expect(texts(await worker.expect(PacketType.JOB_ASSIGN))).toEqual([handle, 'after-fuzz', 'ping']);
    worker.send(PacketType.WORK_COMPLETE, [handle, 'pong']);
    expect(texts(await client.expect(PacketType.WORK_COMPLETE))).toEqual([handle, 'pong']);
  }, 30_000);
});

describe('the server under a random walk of valid requests', () => {
  it('keeps its books straight and drains every job afterwards (seeded)', async () => {
    const errors: unknown[] = [];
    const logger = {
      trace() {},
      debug() {},
      info() {},
      warn() {},
      error(obj: unknown) {
        errors.push(obj);
      },
      child() {
        return logger;
      },
    };
    const { server, port } = await startServer({ logger, jobRetries: 3 });
    const rng = seededRng(kSeed ^ 0x5bd1e995);
    const functions = ['w0', 'w1', 'w2'];
    const uniques = ['', '', 'a', 'b', 'c', '-'];
    const submits = [
      PacketType.SUBMIT_JOB,
      PacketType.SUBMIT_JOB_BG,
      PacketType.SUBMIT_JOB_HIGH,
      PacketType.SUBMIT_JOB_HIGH_BG,
      PacketType.SUBMIT_JOB_LOW,
      PacketType.SUBMIT_JOB_LOW_BG,
    ];
    const results: readonly PacketType[] = [
      PacketType.WORK_COMPLETE,
      PacketType.WORK_FAIL,
      PacketType.WORK_EXCEPTION,
    ];

    interface Walker {
      socket: net.Socket;
      held: Set<string>;
    }
    const connect = (): Walker => {
      const walker: Walker = { socket: net.connect({ host: '127.0.0.1', port }), held: new Set() };
      const decoder = new PacketDecoder(
        (frame) => {
          if (frame.kind !== 'packet') return;
          const type = frame.packet.type;
          if (
            type === PacketType.JOB_ASSIGN ||
            type === PacketType.JOB_ASSIGN_UNIQ ||
            type === PacketType.JOB_ASSIGN_ALL
          ) {
            walker.held.add(frame.packet.args[0]?.toString('latin1') ?? '');
          }
        },
        { expect: 'RES', allowText: true },
      );
      walker.socket.on('data', (chunk: Buffer) => decoder.push(chunk));
      walker.socket.on('error', () => {});
      return walker;
    };
    const walkers = Array.from({ length: 16 }, connect);
    for (let step = 0; step < 4000; step++) {
      const index = randomInt(rng, 0, walkers.length - 1);
      const walker = walkers[index] as Walker;
      const send = (type: PacketType, args: string[] = []): void => {
        walker.socket.write(encodeRequest(type, args));
      };
      const roll = rng();
      const fn = pick(rng, functions);
      if (roll < 0.3) send(pick(rng, submits), [fn, pick(rng, uniques), `d${randomInt(rng, 0, 5)}`]);
      else if (roll < 0.45)
        send(pick(rng, [PacketType.GRAB_JOB, PacketType.GRAB_JOB_UNIQ, PacketType.GRAB_JOB_ALL]));
      else if (roll < 0.52) send(PacketType.CAN_DO, [fn]);
      else if (roll < 0.54) send(PacketType.CAN_DO_TIMEOUT, [fn, '1000']);
      else if (roll < 0.56) send(PacketType.CANT_DO, [fn]);
      else if (roll < 0.57) send(PacketType.RESET_ABILITIES);
      else if (roll < 0.6) send(PacketType.PRE_SLEEP);
      else if (roll < 0.8 && walker.held.size > 0) {
        const handle = pick(rng, [...walker.held]);
        const type =
          rng() < 0.3
            ? pick(rng, [PacketType.WORK_STATUS, PacketType.WORK_DATA, PacketType.WORK_WARNING])
            : pick(rng, results);
        if (type === PacketType.WORK_STATUS) send(type, [handle, '1', '2']);
        else if (type === PacketType.WORK_FAIL) send(type, [handle]);
        else send(type, [handle, 'r']);
        if (results.includes(type)) walker.held.delete(handle);
      } else if (roll < 0.83) send(PacketType.OPTION_REQ, ['exceptions']);
      else if (roll < 0.86) walker.socket.write(`cancel job H:t:${randomInt(rng, 1, step + 1)}\r\n`);
      else if (roll < 0.87) walker.socket.write(`drop function ${fn}\r\n`);
      else if (roll < 0.9) send(PacketType.GET_STATUS, [`H:t:${randomInt(rng, 1, step + 1)}`]);
      else if (roll < 0.93) {
        walker.socket.destroy();
        walkers[index] = connect();
      }
      if (step % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    for (const walker of walkers) walker.socket.destroy();
    await eventually(() => (server.connectionCount === 0 ? true : undefined));
    expect(errors).toEqual([]);
    expect(server.runningJobCount).toBe(0);

    // A worker for every function takes whatever is left until NO_JOB: nothing may be stuck.
    const drain = await RawClient.connect(port);
    for (const fn of functions) drain.send(PacketType.CAN_DO, [fn]);
    for (let taken = 0; ; taken++) {
      expect(taken).toBeLessThan(10_000);
      drain.send(PacketType.GRAB_JOB);
      const packet = await drain.next();
      if (packet.type === PacketType.NO_JOB) break;
      expect(packet.type).toBe(PacketType.JOB_ASSIGN);
      drain.send(PacketType.WORK_COMPLETE, [texts(packet)[0] as string, '']);
    }
    const admin = await RawClient.connect(port);
    await eventually(
      async () => ((await admin.admin('show jobs', 'list')).length === 0 ? true : undefined),
      2000,
    );
    expect(server.jobCount).toBe(0);
    for (const line of await admin.admin('status', 'list')) expect(line).toMatch(/^w\d\t0\t0\t1$/);
    for (const line of await admin.admin('prioritystatus', 'list')) expect(line).toMatch(/^w\d\t0\t0\t0\t1$/);
  }, 30_000);
});
