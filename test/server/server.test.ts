import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import { GearmanServer } from '../../src/server/server.js';
import { eventually, sleep } from './helpers/conformance.js';
import { startServer } from './helpers/own-server.js';
import { RawClient, describe as show, texts } from './helpers/raw-client.js';

async function created(client: RawClient): Promise<string> {
  return texts(await client.expect(PacketType.JOB_CREATED))[0] as string;
}

function connectFails(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.once('close', () => resolve(true));
      socket.once('data', () => resolve(false));
    });
    socket.once('error', () => resolve(true));
  });
}

describe('GearmanServer lifecycle', () => {
  it('listens on 127.0.0.1 by default, on a free port when asked for port 0', async () => {
    const { server, port } = await startServer();
    expect(port).toBeGreaterThan(0);
    expect(server.address).toEqual({ host: '127.0.0.1', port });
    expect(await server.listen()).toEqual({ host: '127.0.0.1', port });
  });

  it('frees its port on close, and close is idempotent', async () => {
    const server = new GearmanServer({ port: 0 });
    const { port } = await server.listen();
    const client = await RawClient.connect(port);
    await Promise.all([server.close(), server.close()]);
    await server.closed;
    await client.waitClosed();
    expect(server.address).toBeNull();
    expect(await connectFails(port)).toBe(true);
  });

  it('refuses bad options up front', () => {
    expect(() => new GearmanServer({ port: 70000 })).toThrow(RangeError);
    expect(() => new GearmanServer({ jobRetries: -1 })).toThrow(/jobRetries/);
    expect(() => new GearmanServer({ maxFrameSize: 10 })).toThrow(/maxFrameSize/);
    expect(() => new GearmanServer({ logLevel: 'loud' })).toThrow(/logLevel/);
    expect(() => new GearmanServer({ jobHandlePrefix: 'x'.repeat(60) })).toThrow(/jobHandlePrefix/);
  });

  it('rejects listen() when the port is taken', async () => {
    const { port } = await startServer();
    const second = new GearmanServer({ port });
    await expect(second.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await second.close();
  });

  it('closes gracefully: no new connections or jobs, running jobs finish, then it closes', async () => {
    const { server, port } = await startServer();
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB, ['work', '', 'one']);
    const running = await created(client);
    client.send(PacketType.SUBMIT_JOB, ['work', '', 'two']);
    await created(client);
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['work']).send(PacketType.GRAB_JOB);
    await worker.expect(PacketType.JOB_ASSIGN);

    let closed = false;
    const closing = server.close({ graceful: true }).then(() => {
      closed = true;
    });
    await sleep(100);
    expect(closed).toBe(false);
    expect(await connectFails(port)).toBe(true);
    worker.send(PacketType.GRAB_JOB);
    await worker.expect(PacketType.NO_JOB);
    worker.send(PacketType.WORK_COMPLETE, [running, 'done']);
    expect(texts(await client.expect(PacketType.WORK_COMPLETE))).toEqual([running, 'done']);
    await closing;
    expect(closed).toBe(true);
    await client.waitClosed();
  });

  it('gives up waiting for running jobs after timeoutMs, or when close() is called again', async () => {
    const { server, port } = await startServer();
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB_BG, ['work', '', 'x']);
    await created(client);
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['work']).send(PacketType.GRAB_JOB);
    await worker.expect(PacketType.JOB_ASSIGN);
    const started = Date.now();
    await server.close({ graceful: true, timeoutMs: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);

    const second = await startServer();
    const c2 = await RawClient.connect(second.port);
    c2.send(PacketType.SUBMIT_JOB_BG, ['work', '', 'x']);
    await created(c2);
    const w2 = await RawClient.connect(second.port);
    w2.send(PacketType.CAN_DO, ['work']).send(PacketType.GRAB_JOB);
    await w2.expect(PacketType.JOB_ASSIGN);
    const graceful = second.server.close({ graceful: true });
    await sleep(50);
    await second.server.close();
    await graceful;
  });
});

describe('GearmanServer beyond gearmand 1.1', () => {
  it('wakes a sleeping worker when an epoch job falls due, not before', async () => {
    const { port } = await startServer();
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['later']).send(PacketType.PRE_SLEEP);
    const client = await RawClient.connect(port);
    // At least 1.5 s ahead: a due time a few ms away (a submit near a second boundary)
    // would wake the worker before the quiet period below begins.
    const when = Math.ceil((Date.now() + 1500) / 1000);
    client.send(PacketType.SUBMIT_JOB_EPOCH, ['later', 'e', String(when), 'due']);
    const handle = await created(client);
    // gearmand 1.1 sends a NOOP now (the worker finds nothing) and none when it is due.
    expect(await worker.quiet(Math.max(when * 1000 - Date.now() - 100, 0))).toEqual([]);
    await worker.expect(PacketType.NOOP, 2000);
    expect(Date.now()).toBeGreaterThanOrEqual(when * 1000);
    worker.send(PacketType.GRAB_JOB_UNIQ);
    expect(texts(await worker.expect(PacketType.JOB_ASSIGN_UNIQ))).toEqual([handle, 'later', 'e', 'due']);
  });

  it('with globalPriority, serves a HIGH job of any function before a LOW one (gearmand 2.0)', async () => {
    const { port } = await startServer({ globalPriority: true });
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB_HIGH_BG, ['first', '', 'first-high']);
    client.send(PacketType.SUBMIT_JOB_LOW_BG, ['second', '', 'second-low']);
    client.send(PacketType.SUBMIT_JOB_BG, ['second', '', 'second-normal']);
    for (let i = 0; i < 3; i++) await created(client);
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['first']).send(PacketType.CAN_DO, ['second']);
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      worker.send(PacketType.GRAB_JOB);
      order.push(texts(await worker.expect(PacketType.JOB_ASSIGN))[2] as string);
    }
    expect(order).toEqual(['first-high', 'second-normal', 'second-low']);
  });

  it('keeps a job a background submit joined when its foreground clients leave', async () => {
    const { port } = await startServer();
    const foreground = await RawClient.connect(port);
    foreground.send(PacketType.SUBMIT_JOB, ['keep', 'k', 'x']);
    const handle = await created(foreground);
    const background = await RawClient.connect(port);
    background.send(PacketType.SUBMIT_JOB_BG, ['keep', 'k', 'y']);
    expect(await created(background)).toBe(handle);
    foreground.close();
    await sleep(50);
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['keep']).send(PacketType.GRAB_JOB);
    expect(texts(await worker.expect(PacketType.JOB_ASSIGN))).toEqual([handle, 'keep', 'x']);
  });

  it('does not let a new submit join a job that was abandoned or cancelled', async () => {
    const { port } = await startServer();
    const first = await RawClient.connect(port);
    first.send(PacketType.SUBMIT_JOB, ['fresh', 'same', 'x']);
    const abandoned = await created(first);
    first.close();
    await sleep(50);
    const second = await RawClient.connect(port);
    second.send(PacketType.SUBMIT_JOB, ['fresh', 'same', 'x']);
    const handle = await created(second);
    expect(handle).not.toBe(abandoned);
    const admin = await RawClient.connect(port);
    expect(await admin.admin(`cancel job ${handle}`)).toEqual(['OK']);
    expect(texts(await second.expect(PacketType.WORK_FAIL))).toEqual([handle]);
    second.send(PacketType.SUBMIT_JOB, ['fresh', 'same', 'x']);
    const third = await created(second);
    expect([abandoned, handle]).not.toContain(third);
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['fresh']).send(PacketType.GRAB_JOB);
    expect(texts(await worker.expect(PacketType.JOB_ASSIGN))[0]).toBe(third);
  });

  it('fails the waiting clients of a dropped function', async () => {
    const { port } = await startServer();
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB, ['doomed', '', 'x']);
    const handle = await created(client);
    const admin = await RawClient.connect(port);
    expect(await admin.admin('drop function DOOMED')).toEqual(['OK']);
    expect(texts(await client.expect(PacketType.WORK_FAIL))).toEqual([handle]);
    expect(await admin.admin('show jobs', 'list')).toEqual([]);
    expect(await admin.admin('status', 'list')).toEqual([]);
  });

  it('counts a repeated CAN_DO once (gearmand counts it twice)', async () => {
    const { port } = await startServer();
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['twice']).send(PacketType.CAN_DO, ['twice']);
    const admin = await RawClient.connect(port);
    expect(await admin.admin('status', 'list')).toEqual(['twice\t0\t0\t1']);
  });
});

describe('GearmanServer limits and bad input', () => {
  it('refuses an oversized frame from its header, before its body arrives, and serves others on', async () => {
    const { server, port } = await startServer({ maxFrameSize: 1024 });
    const bad = await RawClient.connect(port);
    const header = Buffer.alloc(12);
    header.write('\0REQ', 'latin1');
    header.writeUInt32BE(PacketType.SUBMIT_JOB_BG, 4);
    header.writeUInt32BE(10 * 1024 * 1024, 8);
    bad.write(header);
    const error = await bad.expect(PacketType.ERROR);
    expect(texts(error)[0]).toBe('ARGUMENT_TOO_LARGE');
    await bad.waitClosed();
    const good = await RawClient.connect(port);
    good.send(PacketType.SUBMIT_JOB_BG, ['f', '', 'x'.repeat(1000)]);
    await created(good);
    expect(server.jobCount).toBe(1);
  });

  it('answers a packet type of 0x80000000 or more with an ERROR and closes only that connection', async () => {
    const { port } = await startServer();
    const other = await RawClient.connect(port);
    for (const type of [0x80000000, 0xffffffff, 43, 0]) {
      const bad = await RawClient.connect(port);
      const frame = Buffer.alloc(12);
      frame.write('\0REQ', 'latin1');
      frame.writeUInt32BE(type, 4);
      bad.write(frame);
      expect(show(await bad.expect(PacketType.ERROR))).toMatch(
        /^ERROR INVALID_COMMAND\\0unknown packet type/,
      );
      await bad.waitClosed();
    }
    other.send(PacketType.ECHO_REQ, ['alive']);
    expect(texts(await other.expect(PacketType.ECHO_RES))).toEqual(['alive']);
  });

  it('closes a connection that sends a frame without its arguments, or a bad magic', async () => {
    const { port } = await startServer();
    const missing = await RawClient.connect(port);
    const frame = Buffer.alloc(13);
    frame.write('\0REQ', 'latin1');
    frame.writeUInt32BE(PacketType.SUBMIT_JOB, 4);
    frame.writeUInt32BE(1, 8);
    frame.write('f', 12);
    missing.write(frame);
    expect(texts(await missing.expect(PacketType.ERROR))[0]).toBe('INVALID_PACKET');
    await missing.waitClosed();
    const magic = await RawClient.connect(port);
    magic.write(Buffer.from('\0REZ\0\0\0\x10\0\0\0\0', 'latin1'));
    expect(texts(await magic.expect(PacketType.ERROR))[0]).toBe('INVALID_MAGIC');
    await magic.waitClosed();
  });

  it('answers an admin line of more than five words with ERR and closes', async () => {
    const { port } = await startServer();
    const admin = await RawClient.connect(port);
    expect((await admin.admin('maxqueue f 1 2 3 4'))[0]).toMatch(/^ERR INVALID_ARGUMENTS /);
    await admin.waitClosed();
  });

  it('drops a client that does not read its replies once 64 MiB wait for it, and serves on', async () => {
    // The limit is 64 MiB or two frames, whichever is more.
    const { server, port } = await startServer({ maxFrameSize: 2 * 1024 * 1024 });
    const reader = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => reader.once('connect', resolve));
    reader.on('error', () => {});
    const frame = Buffer.alloc(12 + 'flood\0\0x'.length);
    frame.write('\0REQ', 'latin1');
    frame.writeUInt32BE(PacketType.SUBMIT_JOB, 4);
    frame.writeUInt32BE(8, 8);
    frame.write('flood\0\0x', 12, 'latin1');
    reader.write(frame);
    reader.pause();
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['flood']).send(PacketType.GRAB_JOB);
    const [handle] = texts(await worker.expect(PacketType.JOB_ASSIGN));
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 150 && !reader.destroyed; i++) {
      worker.send(PacketType.WORK_DATA, [handle as string, chunk]);
      await worker.sync();
      if (server.connectionCount < 2) break;
    }
    // The paused reader cannot see its end; the server's count shows the drop.
    await eventually(() => (server.connectionCount === 1 ? true : undefined));
    reader.destroy();
    worker.send(PacketType.WORK_COMPLETE, [handle as string, 'done']);
    await worker.sync();
    expect(server.jobCount).toBe(0);
  });

  it('closes connections past maxConnections at once', async () => {
    const { server, port } = await startServer({ maxConnections: 2 });
    const one = await RawClient.connect(port);
    const two = await RawClient.connect(port);
    await eventually(() => (server.connectionCount === 2 ? true : undefined));
    const three = await RawClient.connect(port);
    await three.waitClosed();
    one.send(PacketType.ECHO_REQ, ['1']);
    await one.expect(PacketType.ECHO_RES);
    two.close();
    await eventually(() => (server.connectionCount === 1 ? true : undefined));
    const four = await RawClient.connect(port);
    four.send(PacketType.ECHO_REQ, ['4']);
    await four.expect(PacketType.ECHO_RES);
  });

  it('refuses submits past maxJobs with QUEUE_ERROR', async () => {
    const { port } = await startServer({ maxJobs: 2 });
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB_BG, ['a', 'ua', '1']).send(PacketType.SUBMIT_JOB_BG, ['b', '', '2']);
    const first = await created(client);
    await created(client);
    client.send(PacketType.SUBMIT_JOB_BG, ['c', '', '3']);
    expect(texts(await client.expect(PacketType.ERROR))).toEqual(['QUEUE_ERROR', 'Job queue is full']);
    // Joining an existing job creates none and is allowed.
    client.send(PacketType.SUBMIT_JOB, ['a', 'ua', 'again']);
    expect(await created(client)).toBe(first);
  });
});
