import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { Connection } from '../../src/net/connection.js';
import { PacketType } from '../../src/protocol/constants.js';
import { encodeRequest, encodeResponse } from '../../src/protocol/encoder.js';
import type { Packet } from '../../src/protocol/packet.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A tiny echo peer: answers every ECHO_REQ with ECHO_RES; closes on demand. */
async function startEchoPeer(): Promise<{ port: number; server: net.Server; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 12) {
        const size = pending.readUInt32BE(8);
        if (pending.length < 12 + size) break;
        const body = pending.subarray(12, 12 + size);
        socket.write(encodeResponse(PacketType.ECHO_RES, [body]));
        pending = pending.subarray(12 + size);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, server, sockets };
}

function nextPacket(conn: Connection): Promise<Packet> {
  return new Promise((resolve) => conn.once('packet', resolve));
}

describe('Connection', () => {
  it('sends frames and decodes the replies', async () => {
    const peer = await startEchoPeer();
    const conn = new Connection({ address: { host: '127.0.0.1', port: peer.port }, reconnect: false });
    cleanups.push(() => conn.close());
    await conn.connect();
    const reply = nextPacket(conn);
    conn.send(encodeRequest(PacketType.ECHO_REQ, ['hello']));
    const packet = await reply;
    expect(packet.type).toBe(PacketType.ECHO_RES);
    expect(packet.args[0]?.toString()).toBe('hello');
  });

  it('coalesces frames written in one tick and keeps their order', async () => {
    const peer = await startEchoPeer();
    const conn = new Connection({ address: { host: '127.0.0.1', port: peer.port }, reconnect: false });
    cleanups.push(() => conn.close());
    await conn.connect();
    const seen: string[] = [];
    const all = new Promise<void>((resolve) => {
      conn.on('packet', (p) => {
        seen.push(p.args[0]?.toString() ?? '');
        if (seen.length === 1000) resolve();
      });
    });
    for (let i = 0; i < 1000; i++) conn.send(encodeRequest(PacketType.ECHO_REQ, [String(i)]));
    await all;
    expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
  });

  it('keeps every packet intact across reads, split frames and big ones included', async () => {
    // Every socket reads into one shared buffer and copies each read out: packets kept
    // from earlier reads must not change when later reads arrive.
    const peer = await startEchoPeer();
    const conn = new Connection({ address: { host: '127.0.0.1', port: peer.port }, reconnect: false });
    cleanups.push(() => conn.close());
    await conn.connect();
    const kept: Packet[] = [];
    conn.on('packet', (p) => kept.push(p));
    const payloads = ['first', 'x'.repeat(200_000), 'second', 'y'.repeat(70_000), 'third'];
    for (const payload of payloads) {
      conn.send(encodeRequest(PacketType.ECHO_REQ, [payload]));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const [socket] = [...peer.sockets];
    // A frame cut in two writes, the header and the body's first byte apart from the rest.
    const frame = encodeResponse(PacketType.ECHO_RES, ['split']);
    socket?.write(frame.subarray(0, 13));
    await new Promise((resolve) => setTimeout(resolve, 20));
    socket?.write(frame.subarray(13));
    const deadline = Date.now() + 3000;
    while (kept.length < payloads.length + 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(kept.map((p) => p.args[0]?.toString())).toEqual([...payloads, 'split']);
  });

  it('fails a connect attempt to a closed port with CONNECT_FAILED', async () => {
    const peer = await startEchoPeer();
    const port = peer.port;
    await new Promise<void>((resolve) => peer.server.close(() => resolve()));
    const conn = new Connection({ address: { host: '127.0.0.1', port }, reconnect: false });
    cleanups.push(() => conn.close());
    await expect(conn.connect()).rejects.toMatchObject({ code: ErrorCode.CONNECT_FAILED });
  });

  it('schedules one retry per failed attempt, and close() stops retrying (issue 11)', async () => {
    const peer = await startEchoPeer();
    const port = peer.port;
    await new Promise<void>((resolve) => peer.server.close(() => resolve()));
    const attempts: number[] = [];
    const conn = new Connection({ address: { host: '127.0.0.1', port }, reconnect: () => 60 });
    conn.on('reconnecting', ({ attempt }) => attempts.push(attempt));
    await expect(conn.connect()).rejects.toMatchObject({ code: ErrorCode.CONNECT_FAILED });
    // A refused connect reports 'error' and then 'close': one retry for the two.
    await new Promise((r) => setTimeout(r, 30));
    expect(attempts).toEqual([1]);
    await new Promise((r) => setTimeout(r, 200));
    await conn.close();
    const seen = attempts.length;
    expect(attempts).toEqual(Array.from({ length: seen }, (_, i) => i + 1));
    await new Promise((r) => setTimeout(r, 150));
    expect(attempts.length).toBe(seen);
  });

  it('close() ends a connect attempt under way at once (a TLS handshake that never finishes)', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const accepted = new Set<net.Socket>();
    silent.on('connection', (socket) => accepted.add(socket));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of accepted) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const port = (silent.address() as net.AddressInfo).port;
    const conn = new Connection({
      address: { host: '127.0.0.1', port, tls: { rejectUnauthorized: false } },
      connectTimeoutMs: 10_000,
      reconnect: false,
    });
    const attempt = conn.connect();
    attempt.catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    await conn.close();
    expect(performance.now() - started).toBeLessThan(300);
    await expect(attempt).rejects.toBeInstanceOf(Error);
  });

  it('reports a disconnect and reconnects with backoff', async () => {
    const peer = await startEchoPeer();
    const conn = new Connection({ address: { host: '127.0.0.1', port: peer.port }, reconnect: () => 20 });
    cleanups.push(() => conn.close());
    await conn.connect();
    const disconnected = new Promise((resolve) => conn.once('disconnect', resolve));
    const reconnected = new Promise<{ reconnect: boolean }>((resolve) => conn.once('connect', resolve));
    for (const socket of peer.sockets) socket.destroy();
    expect(await disconnected).toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
    expect(await reconnected).toEqual({ reconnect: true });
    expect(conn.connected).toBe(true);
  });

  it('drops the connection on garbage from the server with a ProtocolError', async () => {
    const server = net.createServer((socket) => socket.write('this is not gearman\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const conn = new Connection({
      address: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
      reconnect: false,
    });
    cleanups.push(() => conn.close());
    const protocolError = new Promise((resolve) => conn.once('protocolError', resolve));
    const disconnected = new Promise((resolve) => conn.once('disconnect', resolve));
    await conn.connect();
    expect(await protocolError).toMatchObject({ code: ErrorCode.PROTOCOL, offset: 0 });
    expect(await disconnected).toMatchObject({ code: ErrorCode.PROTOCOL });
  });

  it('refuses to send after close', async () => {
    const peer = await startEchoPeer();
    const conn = new Connection({ address: { host: '127.0.0.1', port: peer.port }, reconnect: false });
    await conn.connect();
    await conn.close();
    expect(() => conn.send(encodeRequest(PacketType.ECHO_REQ, ['x']))).toThrow(
      expect.objectContaining({ code: ErrorCode.CONNECTION_CLOSED }),
    );
    await expect(conn.connect()).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });
});

describe('Connection robustness', () => {
  it('survives a packet listener that throws: drops the connection instead of crashing', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.write(encodeResponse(PacketType.NOOP));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    );
    const conn = new Connection({
      address: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
      reconnect: false,
    });
    cleanups.push(() => conn.close());
    conn.on('packet', () => {
      throw new Error('listener bug');
    });
    const disconnected = new Promise((resolve) => conn.once('disconnect', resolve));
    await conn.connect();
    expect(await disconnected).toMatchObject({
      code: ErrorCode.CONNECTION_CLOSED,
      message: expect.stringMatching(/listener bug/),
    });
  });
});
