import { describe, expect, it } from 'vitest';
import { ErrorCode, GearmanError, TimeoutError } from '../../src/errors.js';
import { PacketType } from '../../src/protocol/constants.js';
import { PacketDecoder } from '../../src/protocol/decoder.js';
import type { Packet } from '../../src/protocol/packet.js';
import { Job, type JobHost, type JobOutcome, jobControl } from '../../src/worker/job.js';

/** A host that decodes what the job writes, as the server would read it. */
function recordingHost(
  limits: { maxFrameSize?: number; exceptions?: boolean } = {},
): JobHost & { packets: Packet[]; outcomes: JobOutcome[]; down: boolean; refused: string[] } {
  const packets: Packet[] = [];
  const decoder = new PacketDecoder(
    (frame) => {
      if (frame.kind === 'packet') packets.push(frame.packet);
    },
    { expect: 'REQ' },
  );
  const host = {
    name: '127.0.0.1:4730',
    maxFrameSize: limits.maxFrameSize ?? 64 * 1024 * 1024,
    exceptions: limits.exceptions ?? true,
    packets,
    outcomes: [] as JobOutcome[],
    refused: [] as string[],
    down: false,
    frameRefused(_job: Job, error: GearmanError, bytes: number) {
      host.refused.push(`${error.code} ${bytes}`);
    },
    writeJobFrame(frame: Buffer) {
      if (host.down) throw new GearmanError(ErrorCode.CONNECTION_CLOSED, 'not connected');
      decoder.push(frame);
    },
    jobEnded(_job: Job, outcome: JobOutcome) {
      host.outcomes.push(outcome);
    },
  };
  return host;
}

function makeJob(host: JobHost, reducer?: string): Job {
  return new Job(
    host,
    Buffer.from('H:box:7'),
    'resize',
    Buffer.from('uniq-1'),
    reducer === undefined ? undefined : Buffer.from(reducer),
    Buffer.from('payload'),
  );
}

function strings(packet: Packet): string[] {
  return packet.args.map((arg) => arg.toString('utf8'));
}

describe('Job', () => {
  it('exposes the assignment: handle, function, unique, reducer, payload and server', () => {
    const host = recordingHost();
    const job = makeJob(host, 'sum');
    expect(job.handle).toBe('H:box:7');
    expect(job.functionName).toBe('resize');
    expect(job.unique).toBe('uniq-1');
    expect(job.reducer).toBe('sum');
    expect(job.payload.toString()).toBe('payload');
    expect(job.server).toBe('127.0.0.1:4730');
    expect(makeJob(host).reducer).toBe('');
  });

  it('sends status, data and warning with the handle, then one WORK_COMPLETE', () => {
    const host = recordingHost();
    const job = makeJob(host);
    expect(job.status(3, 10)).toBe(true);
    expect(job.data(Buffer.from([0, 1, 2]))).toBe(true);
    expect(job.warning('careful')).toBe(true);
    expect(job.complete('done')).toBe(true);
    expect(host.packets.map((p) => p.type)).toEqual([
      PacketType.WORK_STATUS,
      PacketType.WORK_DATA,
      PacketType.WORK_WARNING,
      PacketType.WORK_COMPLETE,
    ]);
    expect(strings(host.packets[0] as Packet)).toEqual(['H:box:7', '3', '10']);
    expect([...(host.packets[1]?.args[1] ?? [])]).toEqual([0, 1, 2]);
    expect(strings(host.packets[2] as Packet)).toEqual(['H:box:7', 'careful']);
    expect(strings(host.packets[3] as Packet)).toEqual(['H:box:7', 'done']);
    expect(host.outcomes).toEqual(['complete']);
    expect(job.ended).toBe(true);
  });

  it('sends WORK_FAIL with the handle only and WORK_EXCEPTION with the payload', () => {
    const host = recordingHost();
    makeJob(host).fail();
    makeJob(host).exception('boom');
    expect(host.packets.map((p) => p.type)).toEqual([PacketType.WORK_FAIL, PacketType.WORK_EXCEPTION]);
    expect(strings(host.packets[0] as Packet)).toEqual(['H:box:7']);
    expect(strings(host.packets[1] as Packet)).toEqual(['H:box:7', 'boom']);
    expect(host.outcomes).toEqual(['fail', 'exception']);
  });

  it('refuses a second terminal packet and any update after the end with JOB_STATE', () => {
    const host = recordingHost();
    const job = makeJob(host);
    job.complete('first');
    for (const call of [
      () => job.complete('second'),
      () => job.fail(),
      () => job.exception('late'),
      () => job.status(1, 2),
      () => job.data('more'),
      () => job.warning('more'),
    ]) {
      expect(call).toThrow(expect.objectContaining({ code: ErrorCode.JOB_STATE }));
    }
    expect(host.packets).toHaveLength(1);
    expect(host.outcomes).toEqual(['complete']);
  });

  // Issue 10 item 3: a result over a server's frame limit made it drop the connection and
  // requeue the job, which then ran again and again.
  it('fails a job whose result is over the frame limit, once, instead of sending it', () => {
    // 'H:box:7' + NUL leaves 292 bytes of the 300 for the result.
    const host = recordingHost({ maxFrameSize: 300 });
    const job = makeJob(host);
    let aborted: unknown;
    job.signal.addEventListener('abort', () => {
      aborted = job.signal.reason;
    });
    expect(job.complete('x'.repeat(293))).toBe(false);
    expect(host.packets.map((p) => p.type)).toEqual([PacketType.WORK_EXCEPTION]);
    expect(strings(host.packets[0] as Packet)[1]).toMatch(
      /WORK_COMPLETE of 301 bytes for job H:box:7 is over the connection's frame limit of 300 bytes/,
    );
    expect(host.outcomes).toEqual(['exception']);
    expect(host.refused).toEqual([`${ErrorCode.FRAME_TOO_LARGE} 301`]);
    expect(aborted).toMatchObject({ code: ErrorCode.FRAME_TOO_LARGE });
    // Multi-byte text is counted in bytes: 98 x 3 bytes = 294 is over, 97 x 3 = 291 is not.
    const host2 = recordingHost({ maxFrameSize: 300, exceptions: false });
    expect(makeJob(host2).complete('€'.repeat(97))).toBe(true);
    expect(makeJob(host2).complete('€'.repeat(98))).toBe(false);
    expect(host2.packets.map((p) => p.type)).toEqual([PacketType.WORK_COMPLETE, PacketType.WORK_FAIL]);
    expect(strings(host2.packets[1] as Packet)).toEqual(['H:box:7']);
    expect(host2.outcomes).toEqual(['complete', 'fail']);
  });

  it('fails the job on a WORK_DATA or WORK_WARNING chunk over the limit; later calls send nothing', () => {
    const host = recordingHost({ maxFrameSize: 300 });
    const job = makeJob(host);
    expect(job.data('small')).toBe(true);
    expect(job.warning(Buffer.alloc(293))).toBe(false);
    expect(job.data('more')).toBe(false);
    expect(job.status(1, 2)).toBe(false);
    expect(job.complete('done')).toBe(false);
    expect(host.packets.map((p) => p.type)).toEqual([PacketType.WORK_DATA, PacketType.WORK_EXCEPTION]);
    expect(strings(host.packets[1] as Packet)[1]).toMatch(/^WORK_WARNING of 301 bytes/);
    expect(host.outcomes).toEqual(['exception']);
    expect(job.signal.aborted).toBe(true);
    // An exception payload over the limit is refused the same way: the reason goes instead.
    const big = makeJob(host);
    expect(big.exception('e'.repeat(300))).toBe(false);
    expect(strings(host.packets[2] as Packet)[1]).toMatch(/^WORK_EXCEPTION of 308 bytes/);
    // A limit too small for the reason itself: a bare WORK_FAIL.
    const tiny = recordingHost({ maxFrameSize: 50 });
    expect(makeJob(tiny).complete('x'.repeat(50))).toBe(false);
    expect(tiny.packets.map((p) => p.type)).toEqual([PacketType.WORK_FAIL]);
    expect(tiny.outcomes).toEqual(['fail']);
  });

  it('checks status numbers against the uint32 gearmand parses them into', () => {
    const job = makeJob(recordingHost());
    expect(() => job.status(-1, 2)).toThrow(RangeError);
    expect(() => job.status(1.5, 2)).toThrow(RangeError);
    expect(() => job.status(1, 2 ** 32)).toThrow(RangeError);
  });

  it('when lost, aborts its signal with the reason, sends nothing and returns false', () => {
    const host = recordingHost();
    const job = makeJob(host);
    const signal = job.signal;
    expect(signal.aborted).toBe(false);
    const reason = new GearmanError(ErrorCode.CONNECTION_CLOSED, 'gone');
    jobControl.abandon(job, reason);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(job.status(1, 2)).toBe(false);
    expect(job.complete('late')).toBe(false);
    expect(() => job.complete('again')).toThrow(expect.objectContaining({ code: ErrorCode.JOB_STATE }));
    expect(host.packets).toHaveLength(0);
    expect(host.outcomes).toEqual(['lost']);
  });

  it('hands out an already aborted signal when first asked after the loss', () => {
    const job = makeJob(recordingHost());
    jobControl.abandon(job, new Error('gone'));
    expect(job.signal.aborted).toBe(true);
  });

  it('reports the job lost when its connection is down at the terminal call', () => {
    const host = recordingHost();
    const job = makeJob(host);
    host.down = true;
    expect(job.complete('x')).toBe(false);
    expect(job.signal.aborted).toBe(true);
    expect(host.outcomes).toEqual(['lost']);
  });

  it('abandons the job with a TimeoutError when its timeout passes first', async () => {
    const host = recordingHost();
    const job = makeJob(host);
    jobControl.armTimeout(job, 30);
    const aborted = new Promise<unknown>((resolve) => {
      job.signal.addEventListener('abort', () => resolve(job.signal.reason));
    });
    expect(await aborted).toBeInstanceOf(TimeoutError);
    expect(host.outcomes).toEqual(['lost']);
    expect(job.complete('late')).toBe(false);
    expect(host.packets).toHaveLength(0);
  });

  it('does not time out a job that ended in time', async () => {
    const host = recordingHost();
    const job = makeJob(host);
    jobControl.armTimeout(job, 20);
    job.complete('quick');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(job.signal.aborted).toBe(false);
    expect(host.outcomes).toEqual(['complete']);
  });
});
