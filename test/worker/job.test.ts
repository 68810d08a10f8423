import { describe, expect, it } from 'vitest';
import { ErrorCode, GearmanError, TimeoutError } from '../../src/errors.js';
import { PacketType } from '../../src/protocol/constants.js';
import { PacketDecoder } from '../../src/protocol/decoder.js';
import type { Packet } from '../../src/protocol/packet.js';
import { Job, type JobHost, type JobOutcome, jobControl } from '../../src/worker/job.js';

/** A host that decodes what the job writes, as the server would read it. */
function recordingHost(): JobHost & { packets: Packet[]; outcomes: JobOutcome[]; down: boolean } {
  const packets: Packet[] = [];
  const decoder = new PacketDecoder(
    (frame) => {
      if (frame.kind === 'packet') packets.push(frame.packet);
    },
    { expect: 'REQ' },
  );
  const host = {
    name: '127.0.0.1:4730',
    packets,
    outcomes: [] as JobOutcome[],
    down: false,
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
