import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ForegroundJob, foregroundJobOf, type JobUpdate } from '../../src/client/job.js';
import { ForegroundReply } from '../../src/client/job-reply.js';
import type { ReplyLink } from '../../src/client/pending-reply.js';
import { ErrorCode, JobFailedError, TimeoutError } from '../../src/errors.js';
import { PacketType } from '../../src/protocol/constants.js';
import type { Packet } from '../../src/protocol/packet.js';

/** A connection stand-in that records what the job asks of it. */
const owner = (): ReplyLink & { tracked: string[]; detached: ForegroundReply[] } => {
  const tracked: string[] = [];
  const detached: ForegroundReply[] = [];
  return {
    tracked,
    detached,
    track: (handle) => tracked.push(handle),
    detach: (job) => detached.push(job),
    backgroundCreated: () => {},
  };
};

const jobCreated = (handle: string): Packet => ({
  magic: 'RES',
  type: PacketType.JOB_CREATED,
  args: [Buffer.from(handle)],
});

/** A job and the reply that drives it, as Client.submit makes them. */
function newJob(): { job: ForegroundJob; reply: ForegroundReply } {
  const reply = new ForegroundReply('fn');
  return { job: foregroundJobOf(reply, ''), reply };
}

async function collect(job: ForegroundJob): Promise<JobUpdate[]> {
  const seen: JobUpdate[] = [];
  for await (const update of job) seen.push(update);
  return seen;
}

describe('ForegroundJob', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('streams updates to a waiting consumer, then ends when the job completes', async () => {
    const { job, reply } = newJob();
    const updates = collect(job);
    reply.accept(jobCreated('H:x:1'), owner());
    reply.update({ type: 'status', numerator: 1, denominator: 4 });
    reply.update({ type: 'data', data: Buffer.from('part') });
    reply.complete(Buffer.from('all'));
    expect(await updates).toEqual([
      { type: 'created', handle: 'H:x:1' },
      { type: 'status', numerator: 1, denominator: 4 },
      { type: 'data', data: Buffer.from('part') },
    ]);
    expect((await job).toString()).toBe('all');
    expect(job.state).toBe('completed');
  });

  it('creates no result promise until asked, so an unobserved failure is no unhandled rejection', async () => {
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const { job, reply } = newJob();
      reply.fail(new JobFailedError('H:x:2'));
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(unhandled).not.toHaveBeenCalled();
      await expect(job.result).rejects.toBeInstanceOf(JobFailedError);
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('keeps the first outcome and ignores anything after it', async () => {
    const { job, reply } = newJob();
    const tracker = owner();
    reply.accept(jobCreated('H:x:3'), tracker);
    reply.complete(Buffer.from('first'));
    reply.fail(new Error('late'));
    reply.complete(Buffer.from('second'));
    reply.update({ type: 'data', data: Buffer.from('late data') });
    expect((await job.result).toString()).toBe('first');
    expect(await collect(job)).toEqual([{ type: 'created', handle: 'H:x:3' }]);
    expect(tracker.tracked).toEqual(['H:x:3']);
    expect(tracker.detached).toEqual([reply]);
  });

  it('drops a JOB_CREATED that comes after it gave up: its connection does not track it', async () => {
    const { job, reply } = newJob();
    const tracker = owner();
    reply.arm(undefined, AbortSignal.abort('no'));
    reply.accept(jobCreated('H:x:7'), tracker);
    expect(tracker.tracked).toEqual([]);
    expect(job.handle).toBeUndefined();
    await expect(job.created).rejects.toMatchObject({ code: ErrorCode.ABORTED });
  });

  it('fails with TimeoutError when its timeout passes, and detaches from its connection', async () => {
    vi.useFakeTimers();
    const { job, reply } = newJob();
    const tracker = owner();
    reply.arm(500, undefined);
    reply.accept(jobCreated('H:x:4'), tracker);
    const outcome = job.result.catch((err: unknown) => err);
    vi.advanceTimersByTime(499);
    expect(job.settled).toBe(false);
    vi.advanceTimersByTime(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe(ErrorCode.TIMEOUT);
    expect(tracker.detached).toEqual([reply]);
  });

  it('clears its timer when it completes first', async () => {
    vi.useFakeTimers();
    const { job, reply } = newJob();
    reply.arm(500, undefined);
    reply.complete(Buffer.from('quick'));
    expect(vi.getTimerCount()).toBe(0);
    expect((await job).toString()).toBe('quick');
  });

  it('fails at once with ABORTED for an already aborted signal', async () => {
    const { job, reply } = newJob();
    reply.arm(undefined, AbortSignal.abort('no'));
    expect(job.state).toBe('failed');
    await expect(job.result).rejects.toMatchObject({ code: ErrorCode.ABORTED, cause: 'no' });
  });

  it('rejects the created promise when the job fails before the server accepts it', async () => {
    const { job, reply } = newJob();
    const created = job.created;
    reply.fail(new Error('connection lost'));
    await expect(created).rejects.toThrow('connection lost');
  });

  it('throws the failure from the update stream once, after the buffered updates', async () => {
    const { job, reply } = newJob();
    reply.accept(jobCreated('H:x:5'), owner());
    reply.update({ type: 'warning', data: Buffer.from('hmm') });
    reply.fail(new JobFailedError('H:x:5'));
    const iterator = job[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual({ type: 'created', handle: 'H:x:5' });
    expect((await iterator.next()).value).toEqual({ type: 'warning', data: Buffer.from('hmm') });
    await expect(iterator.next()).rejects.toBeInstanceOf(JobFailedError);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('stops buffering once the consumer breaks out of the stream', async () => {
    const { job, reply } = newJob();
    reply.accept(jobCreated('H:x:6'), owner());
    for await (const update of job) {
      expect(update.type).toBe('created');
      break;
    }
    reply.update({ type: 'data', data: Buffer.from('unread') });
    reply.complete(Buffer.from('done'));
    expect(await collect(job)).toEqual([]);
    expect((await job).toString()).toBe('done');
  });
});
