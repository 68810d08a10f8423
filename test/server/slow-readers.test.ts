// Issue 10, item 7: one client that wrote 5,000 `status` lines and never read stalled the
// whole server for 7 s; frames after its drop were still acted on; and 30 such
// connections, each under the per-connection cap, got the server OOM-killed.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import { encodeRequest } from '../../src/protocol/encoder.js';
import { type LogEntry, recordingLogger } from '../helpers/recording-logger.js';
import { eventually } from './helpers/conformance.js';
import { startServer } from './helpers/own-server.js';
import { RawClient, texts } from './helpers/raw-client.js';

const kMiB = 1024 * 1024;
const sockets: net.Socket[] = [];

/** A connection that sends `bytes` and never reads a byte of what comes back. */
async function nonReader(port: number, bytes?: Buffer): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  if (bytes !== undefined) socket.write(bytes);
  return socket;
}

/** Registers `count` functions with long names, so that every `status` answer is big. */
async function manyFunctions(port: number, count: number): Promise<void> {
  const admin = await RawClient.connect(port);
  const lines = Array.from({ length: count }, (_, i) => `create function ${'f'.repeat(40)}-${i}\r\n`);
  admin.write(lines.join(''));
  for (let i = 0; i < count; i++) await admin.nextFrame();
  admin.close();
}

/**
 * ECHO round trips, one after the other, in ms, slowest first. Before the fix the slowest
 * was 4,447 ms; after it 11-29 ms on a quiet machine.
 */
async function roundTrips(client: RawClient, rounds: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    client.send(PacketType.ECHO_REQ, [`r${i}`]);
    await client.expect(PacketType.ECHO_RES);
    times.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return times.sort((a, b) => b - a);
}

function closeSockets(): void {
  for (const socket of sockets.splice(0)) socket.destroy();
}

describe('a connection that never reads its replies', () => {
  it("holds up no other client's round trip beyond 100 ms, however many status lines it sends", async () => {
    const { port } = await startServer();
    try {
      await manyFunctions(port, 2000); // `status` answers ~100 KB each
      const other = await RawClient.connect(port);
      await roundTrips(other, 3);
      const flood = Buffer.from('status\n'.repeat(5000));
      const measured = roundTrips(other, 40);
      await nonReader(port, flood);
      await nonReader(port, flood);
      const slowestFirst = await measured;
      // The goal is 100 ms. On a loaded 2-core CI machine one round trip in 40 can lose a
      // scheduler slice to the test's own process, so the 100 ms holds for all but the
      // slowest 4 (p90), and even the slowest stays far below the 4.4 s of the stall.
      expect(slowestFirst[4]).toBeLessThan(100);
      expect(slowestFirst[0]).toBeLessThan(500);
    } finally {
      closeSockets();
    }
  });

  it('acts on nothing it sent after it was dropped, not even the rest of that read', async () => {
    const lines: LogEntry[] = [];
    const { server, port } = await startServer({ maxUnsentOutput: kMiB, logger: recordingLogger(lines) });
    try {
      await manyFunctions(port, 300); // `status` answers ~15 KB each
      const submits = Array.from({ length: 100 }, (_, i) =>
        encodeRequest(PacketType.SUBMIT_JOB_BG, ['late', `u${i}`, 'x']),
      );
      await nonReader(port, Buffer.concat([Buffer.from('status\n'.repeat(2000)), ...submits]));
      await eventually(() => (server.connectionCount === 0 ? true : undefined));
      const probe = await RawClient.connect(port);
      await probe.sync();
      expect(server.jobCount).toBe(0);
      const drops = lines.filter((line) => line.msg?.startsWith('dropping a connection'));
      expect(drops).toHaveLength(1);
    } finally {
      closeSockets();
    }
  });

  it('is dropped, largest first, once all of them together hold more than maxUnsentOutput', async () => {
    const lines: LogEntry[] = [];
    const budget = 4 * kMiB;
    const { server, port } = await startServer({
      maxFrameSize: kMiB,
      maxUnsentOutput: budget,
      logger: recordingLogger(lines),
    });
    try {
      const hogs = 3;
      for (let i = 0; i < hogs; i++) {
        await nonReader(port, encodeRequest(PacketType.SUBMIT_JOB, ['stream', `hog${i}`, 'x']));
      }
      // A client that reads gets every byte of its own stream meanwhile.
      const reader = await RawClient.connect(port);
      reader.send(PacketType.SUBMIT_JOB, ['stream', 'reader', 'x']);
      await reader.expect(PacketType.JOB_CREATED);
      const worker = await RawClient.connect(port);
      worker.send(PacketType.CAN_DO, ['stream']);
      const handles: string[] = [];
      for (let i = 0; i <= hogs; i++) {
        worker.send(PacketType.GRAB_JOB_UNIQ);
        const assign = texts(await worker.expect(PacketType.JOB_ASSIGN_UNIQ));
        handles.push(assign[0] as string);
      }
      const chunk = Buffer.alloc(256 * 1024, 0x61);
      let sentPerJob = 0;
      let readerGot = 0;
      // Bounded: 40 MiB per job at most, below the per-connection cap of 64 MiB.
      for (let round = 0; round < 160 && server.connectionCount > 2; round++) {
        for (const handle of handles) worker.send(PacketType.WORK_DATA, [handle, chunk]);
        sentPerJob += chunk.length;
        await worker.sync();
        readerGot += (await reader.quiet(0)).length;
      }
      expect(server.connectionCount).toBe(2); // the reader and the worker
      const drops = lines.filter((line) => line.msg?.includes('over maxUnsentOutput'));
      expect(drops).toHaveLength(hogs);
      for (const drop of drops) expect(drop.obj).toMatchObject({ limitBytes: budget });
      // Dropped long before the per-connection cap: what the kernel holds, and the budget.
      expect(sentPerJob).toBeLessThan(32 * kMiB);
      for (const handle of handles) worker.send(PacketType.WORK_COMPLETE, [handle, 'done']);
      await worker.sync();
      for (
        let packet = await reader.next();
        packet.type !== PacketType.WORK_COMPLETE;
        packet = await reader.next()
      ) {
        expect(packet.type).toBe(PacketType.WORK_DATA);
        readerGot++;
      }
      expect(readerGot).toBe(sentPerJob / chunk.length);
      expect(server.jobCount).toBe(0);
    } finally {
      closeSockets();
    }
  });
});
