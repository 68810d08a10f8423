// Issue 10, item 3: a result over the server's frame limit failed the connection, so the
// job was requeued, ran again, failed again: 37 runs in 25 s and no answer to the client.
import { describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { ErrorCode, JobExceptionError, JobFailedError } from '../../src/errors.js';
import { PacketType } from '../../src/protocol/constants.js';
import { type LogEntry, recordingLogger } from '../helpers/recording-logger.js';
import { eventually } from './helpers/conformance.js';
import { startServer } from './helpers/own-server.js';
import { RawClient, texts } from './helpers/raw-client.js';

const kLimit = 1024 * 1024;

/** A frame's header for `type` with `size` bytes of data (what follows is up to the caller). */
function header(type: PacketType, size: number): Buffer {
  const bytes = Buffer.alloc(12);
  bytes.write('\0REQ', 'latin1');
  bytes.writeUInt32BE(type, 4);
  bytes.writeUInt32BE(size, 8);
  return bytes;
}

/** Sends `type` for `handle` with `size` bytes of data in total, in 64 KiB pieces. */
function sendOversized(worker: RawClient, type: PacketType, handle: string, size: number): void {
  worker.write(header(type, size));
  worker.write(Buffer.from(`${handle}\0`, 'latin1'));
  const piece = Buffer.alloc(64 * 1024, 0x78);
  for (let left = size - handle.length - 1; left > 0; left -= piece.length) {
    worker.write(left >= piece.length ? piece : piece.subarray(0, left));
  }
}

async function statusLines(port: number): Promise<string[]> {
  const admin = await RawClient.connect(port);
  const lines = await admin.admin('status', 'list');
  admin.close();
  return lines;
}

describe('a WORK_* frame over maxFrameSize', () => {
  it.each([
    ['WORK_COMPLETE', PacketType.WORK_COMPLETE],
    ['WORK_DATA', PacketType.WORK_DATA],
  ] as const)(
    '%s fails its job once, without a requeue, and the worker keeps its connection',
    async (_name, type) => {
      const lines: LogEntry[] = [];
      const { port } = await startServer({ maxFrameSize: kLimit, logger: recordingLogger(lines) });
      const client = new Client({ servers: [{ host: '127.0.0.1', port }], exceptions: false });
      try {
        const worker = await RawClient.connect(port);
        worker.send(PacketType.CAN_DO, ['big']);
        await worker.sync();
        const result = client.run('big', 'payload');
        result.catch(() => {});
        worker.send(PacketType.GRAB_JOB);
        let assign = await worker.next();
        while (assign.type === PacketType.NO_JOB || assign.type === PacketType.NOOP) {
          worker.send(PacketType.GRAB_JOB);
          assign = await worker.next();
        }
        expect(assign.type).toBe(PacketType.JOB_ASSIGN);
        const [handle] = texts(assign) as [string];
        sendOversized(worker, type, handle, 3 * kLimit);

        await expect(result).rejects.toBeInstanceOf(JobFailedError);
        const [code, text] = texts(await worker.expect(PacketType.ERROR));
        expect(code).toBe('ARGUMENT_TOO_LARGE');
        expect(text).toContain(`job ${handle} failed`);
        // The connection read past the frame and is still in step.
        await worker.sync();
        // Not requeued: the worker's next grab finds nothing, and status shows nothing queued or running.
        worker.send(PacketType.GRAB_JOB);
        await worker.expect(PacketType.NO_JOB);
        expect(await statusLines(port)).toEqual(['big\t0\t0\t1']);
        const warnings = lines.filter((line) => line.level === 'warn');
        expect(warnings).toHaveLength(1);
        expect(warnings[0]?.obj).toMatchObject({
          jobHandle: handle,
          bytes: 3 * kLimit,
          maxFrameSize: kLimit,
        });
      } finally {
        await client.close();
      }
    },
  );

  it('reaches a client that asked for exceptions as WORK_EXCEPTION with the reason', async () => {
    const { port } = await startServer({ maxFrameSize: kLimit });
    const client = new Client({ servers: [{ host: '127.0.0.1', port }] });
    try {
      const worker = await RawClient.connect(port);
      worker.send(PacketType.CAN_DO, ['big']);
      await worker.sync();
      const result = client.run('big', 'payload');
      result.catch(() => {});
      await eventually(async () => ((await statusLines(port))[0] === 'big\t1\t0\t1' ? true : undefined));
      worker.send(PacketType.GRAB_JOB);
      const [handle] = texts(await worker.expect(PacketType.JOB_ASSIGN)) as [string];
      sendOversized(worker, PacketType.WORK_COMPLETE, handle, 2 * kLimit);
      const err = await result.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(JobExceptionError);
      expect((err as JobExceptionError).code).toBe(ErrorCode.JOB_EXCEPTION);
      expect((err as JobExceptionError).payload.toString()).toBe(
        `gworker server: WORK_COMPLETE of ${2 * kLimit} bytes exceeds the server's limit of ${kLimit} (maxFrameSize)`,
      );
      await worker.sync();
      expect(await statusLines(port)).toEqual(['big\t0\t0\t1']);
    } finally {
      await client.close();
    }
  });

  it('for a job the connection does not run gets an ERROR and changes nothing', async () => {
    const { port, server } = await startServer({ maxFrameSize: kLimit });
    const worker = await RawClient.connect(port);
    sendOversized(worker, PacketType.WORK_COMPLETE, 'H:t:99', 2 * kLimit);
    expect(texts(await worker.expect(PacketType.ERROR))[0]).toBe('ARGUMENT_TOO_LARGE');
    await worker.sync();
    expect(server.jobCount).toBe(0);
  });

  it('without a job handle in its first 65 bytes still ends the connection, as other oversized frames do', async () => {
    const { port } = await startServer({ maxFrameSize: kLimit });
    const worker = await RawClient.connect(port);
    worker.write(header(PacketType.WORK_COMPLETE, 2 * kLimit));
    worker.write(Buffer.alloc(100, 0x41));
    expect(texts(await worker.expect(PacketType.ERROR))[0]).toBe('ARGUMENT_TOO_LARGE');
    await worker.waitClosed();
  });
});
