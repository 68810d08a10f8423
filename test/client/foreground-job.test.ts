import { afterEach, describe, expect, it, vi } from 'vitest';
import { ForegroundJob, type JobOwner, type JobUpdate } from '../../src/client/job.js';
import { ErrorCode, JobFailedError, TimeoutError } from '../../src/errors.js';

const owner = (): JobOwner & { detached: ForegroundJob[] } => {
  const detached: ForegroundJob[] = [];
  return { detached, detach: (job) => detached.push(job) };
};

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
    const job = new ForegroundJob('fn', '');
    const updates = collect(job);
    job._created('H:x:1', owner());
    job._update({ type: 'status', numerator: 1, denominator: 4 });
    job._update({ type: 'data', data: Buffer.from('part') });
    job._complete(Buffer.from('all'));
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
      const job = new ForegroundJob('fn', '');
      job._fail(new JobFailedError('H:x:2'));
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(unhandled).not.toHaveBeenCalled();
      await expect(job.result).rejects.toBeInstanceOf(JobFailedError);
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('keeps the first outcome and ignores anything after it', async () => {
    const job = new ForegroundJob('fn', '');
    const tracker = owner();
    job._created('H:x:3', tracker);
    job._complete(Buffer.from('first'));
    job._fail(new Error('late'));
    job._complete(Buffer.from('second'));
    job._update({ type: 'data', data: Buffer.from('late data') });
    expect((await job.result).toString()).toBe('first');
    expect(await collect(job)).toEqual([{ type: 'created', handle: 'H:x:3' }]);
    expect(tracker.detached).toEqual([job]);
  });

  it('fails with TimeoutError when its timeout passes, and detaches from its connection', async () => {
    vi.useFakeTimers();
    const job = new ForegroundJob('fn', '');
    const tracker = owner();
    job._arm(500, undefined);
    job._created('H:x:4', tracker);
    const outcome = job.result.catch((err: unknown) => err);
    vi.advanceTimersByTime(499);
    expect(job.settled).toBe(false);
    vi.advanceTimersByTime(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe(ErrorCode.TIMEOUT);
    expect(tracker.detached).toEqual([job]);
  });

  it('clears its timer when it completes first', async () => {
    vi.useFakeTimers();
    const job = new ForegroundJob('fn', '');
    job._arm(500, undefined);
    job._complete(Buffer.from('quick'));
    expect(vi.getTimerCount()).toBe(0);
    expect((await job).toString()).toBe('quick');
  });

  it('fails at once with ABORTED for an already aborted signal', async () => {
    const job = new ForegroundJob('fn', '');
    job._arm(undefined, AbortSignal.abort('no'));
    expect(job.state).toBe('failed');
    await expect(job.result).rejects.toMatchObject({ code: ErrorCode.ABORTED, cause: 'no' });
  });

  it('rejects the created promise when the job fails before the server accepts it', async () => {
    const job = new ForegroundJob('fn', '');
    const created = job.created;
    job._fail(new Error('connection lost'));
    await expect(created).rejects.toThrow('connection lost');
  });

  it('throws the failure from the update stream once, after the buffered updates', async () => {
    const job = new ForegroundJob('fn', '');
    job._created('H:x:5', owner());
    job._update({ type: 'warning', data: Buffer.from('hmm') });
    job._fail(new JobFailedError('H:x:5'));
    const iterator = job[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual({ type: 'created', handle: 'H:x:5' });
    expect((await iterator.next()).value).toEqual({ type: 'warning', data: Buffer.from('hmm') });
    await expect(iterator.next()).rejects.toBeInstanceOf(JobFailedError);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('stops buffering once the consumer breaks out of the stream', async () => {
    const job = new ForegroundJob('fn', '');
    job._created('H:x:6', owner());
    for await (const update of job) {
      expect(update.type).toBe('created');
      break;
    }
    job._update({ type: 'data', data: Buffer.from('unread') });
    job._complete(Buffer.from('done'));
    expect(await collect(job)).toEqual([]);
    expect((await job).toString()).toBe('done');
  });
});
