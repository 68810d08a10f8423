import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import type { JobUpdate } from '../../src/client/job.js';
import { ErrorCode, JobExceptionError, JobFailedError, ServerError, TimeoutError } from '../../src/errors.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { adminCommand, eventually, functionStatus, startPhpWorker } from './peer-workers.js';

describeWithPeers(['gearmand', 'php'], 'Client with gearmand 1.1.20 and a PHP pecl worker', () => {
  let gearmand: GearmandHandle;
  let tmp: string;
  const clients: Client[] = [];
  const client = (options: ConstructorParameters<typeof Client>[0] = {}): Client => {
    const made = new Client({ servers: [gearmand.address], ...options });
    clients.push(made);
    return made;
  };

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'gworker-client-'));
    gearmand = await startGearmand();
    await startPhpWorker(gearmand.port);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await killAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('runs the seed title job and resolves with the worker result', async () => {
    const c = client();
    expect((await c.run('title', 'hELLO wORLD')).toString()).toBe('Hello World');
    const job = c.submit('title', Buffer.from('sECOND oNE'));
    expect((await job).toString()).toBe('Second One');
    expect(job.state).toBe('completed');
    expect(job.handle).toMatch(/^H:/);
    expect(job.server).toBe(gearmand.address);
  });

  it('delivers created, status, data and warning updates in the order the worker sent them', async () => {
    const job = client().submit('updates', '');
    const seen: string[] = [];
    for await (const update of job) seen.push(describeUpdate(update));
    expect(seen).toEqual([
      `created ${job.handle}`,
      'status 1/2',
      'data x',
      'warning careful',
      'data y',
      'status 2/2',
    ]);
    expect((await job.result).toString()).toBe('done');
  });

  it('keeps updates that arrive before anyone iterates', async () => {
    const job = client().submit('updates', '');
    await job;
    const seen: string[] = [];
    for await (const update of job) seen.push(describeUpdate(update));
    expect(seen).toHaveLength(6);
    expect(seen.slice(1)).toEqual(['status 1/2', 'data x', 'warning careful', 'data y', 'status 2/2']);
  });

  it('keeps many foreground jobs in flight on one connection and matches every result', async () => {
    const c = client();
    const words = Array.from({ length: 200 }, (_, i) => `wORD nUMBER ${i}`);
    const results = await Promise.all(words.map((word) => c.run('title', word)));
    expect(results.map(String)).toEqual(words.map((word) => `Word Number ${word.split(' ')[2]}`));
  });

  it('rejects with JobExceptionError and its payload when the client asked for exceptions', async () => {
    const error = await client()
      .run('boom', 'bad input')
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(JobExceptionError);
    expect((error as JobExceptionError).code).toBe(ErrorCode.JOB_EXCEPTION);
    expect((error as JobExceptionError).payload.toString()).toBe('boom: bad input');
  });

  it('rejects with JobFailedError for an exception when exceptions are off (gearmand sends WORK_FAIL)', async () => {
    const c = client({ exceptions: false });
    const job = c.submit('boom', 'x');
    const error = await job.result.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(JobFailedError);
    expect((error as JobFailedError).jobHandle).toBe(job.handle);
  });

  it('rejects with JobFailedError on WORK_FAIL, and the update stream throws it too', async () => {
    const job = client().submit('fail', 'x');
    await expect(job.result).rejects.toMatchObject({ code: ErrorCode.JOB_FAILED });
    await expect(
      (async () => {
        for await (const _ of job) {
          // drain
        }
      })(),
    ).rejects.toBeInstanceOf(JobFailedError);
  });

  it('coalesces two submits with the same unique: one handle, both get the result', async () => {
    const c = client();
    const first = c.submit('sleep', '300', { unique: 'same-unique' });
    const second = c.submit('sleep', '5', { unique: 'same-unique' });
    const [a, b] = await Promise.all([first.result, second.result]);
    expect(first.handle).toBe(second.handle);
    expect(a.toString()).toBe('slept 300');
    expect(b.toString()).toBe('slept 300');
  });

  it("coalesces identical payloads with the unique '-' and keeps different ones apart", async () => {
    const c = client();
    const jobs = [
      c.submit('sleep', '200', { unique: '-' }),
      c.submit('sleep', '200', { unique: '-' }),
      c.submit('sleep', '201', { unique: '-' }),
    ];
    const results = await Promise.all(jobs.map((job) => job.result));
    expect(jobs[0]?.handle).toBe(jobs[1]?.handle);
    expect(jobs[2]?.handle).not.toBe(jobs[0]?.handle);
    expect(results.map(String)).toEqual(['slept 200', 'slept 200', 'slept 201']);
  });

  it('does not coalesce jobs without a unique', async () => {
    const c = client();
    const jobs = [c.submit('sleep', '50'), c.submit('sleep', '50')];
    await Promise.all(jobs);
    expect(jobs[0]?.handle).not.toBe(jobs[1]?.handle);
  });

  it('reports the status of a running background job by handle and by unique', async () => {
    const c = client();
    const release = path.join(tmp, 'release-status');
    const handle = await c.submitBackground('hold', release, { unique: 'status-probe' });
    const running = await eventually(async () => {
      const status = await c.getStatus(handle);
      return status.running && status.numerator === 1 ? status : undefined;
    });
    expect(running).toEqual({ handle, known: true, running: true, numerator: 1, denominator: 2 });
    const byUnique = await c.getStatusUnique('status-probe');
    expect(byUnique).toEqual({
      unique: 'status-probe',
      known: true,
      running: true,
      numerator: 1,
      denominator: 2,
      waitingClients: 0,
    });
    writeFileSync(release, '');
    const gone = await eventually(async () => {
      const status = await c.getStatus(handle);
      return status.known ? undefined : status;
    });
    expect(gone).toMatchObject({ known: false, running: false });
    expect(await c.getStatusUnique('status-probe')).toMatchObject({ known: false });
  });

  it('counts the clients waiting on a foreground job in GET_STATUS_UNIQUE', async () => {
    const c = client();
    const release = path.join(tmp, 'release-waiting');
    const job = c.submit('hold', release, { unique: 'waited-on' });
    await job.created;
    const status = await eventually(async () => {
      const s = await c.getStatusUnique('waited-on');
      return s.running ? s : undefined;
    });
    expect(status.waitingClients).toBe(1);
    writeFileSync(release, '');
    expect((await job).toString()).toBe('released');
  });

  it('fails a job with TimeoutError after timeoutMs and stays usable', async () => {
    const c = client();
    const started = Date.now();
    const error = await c.run('nobody-serves-this', 'x', { timeoutMs: 300 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe(ErrorCode.TIMEOUT);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await c.run('title', 'aFTER')).toString()).toBe('After');
  });

  it('fails a job whose signal aborts with code ABORTED', async () => {
    const controller = new AbortController();
    const job = client().submit('nobody-serves-this', 'x', { signal: controller.signal });
    await job.created;
    controller.abort(new Error('user gave up'));
    await expect(job.result).rejects.toMatchObject({ code: ErrorCode.ABORTED });
  });

  it('rejects submits over maxqueue with ServerError code QUEUE_FULL', async () => {
    // gearmand applies maxqueue only to a function it already knows, and answers OK either way.
    expect(await adminCommand(gearmand.port, 'create function limited')).toEqual(['OK']);
    expect(await adminCommand(gearmand.port, 'maxqueue limited 1')).toEqual(['OK']);
    const c = client();
    const handle = await c.submitBackground('limited', 'one');
    expect(handle).toMatch(/^H:/);
    const error = await c.submitBackground('limited', 'two').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ code: ErrorCode.QUEUE_FULL, serverCode: 'QUEUE_ERROR' });
    await expect(c.run('limited', 'three')).rejects.toMatchObject({ code: ErrorCode.QUEUE_FULL });
    // The connection is still in step: the next request gets its own answer.
    expect((await c.echo('still here')).toString()).toBe('still here');
    expect((await functionStatus(gearmand.port)).get('limited')?.total).toBe(1);
  });

  it('refuses a unique over 64 bytes and a function name over 512 bytes before sending', async () => {
    const c = client();
    expect(() => c.submit('title', 'x', { unique: 'u'.repeat(65) })).toThrow(RangeError);
    expect(() => c.submit('f'.repeat(513), 'x')).toThrow(RangeError);
    await expect(c.submitBackground('title', 'x', { unique: 'é'.repeat(33) })).rejects.toBeInstanceOf(
      RangeError,
    );
    // The limits themselves are fine.
    const handle = await c.submitBackground('f'.repeat(512), 'x', { unique: 'u'.repeat(64) });
    expect(handle).toMatch(/^H:/);
  });

  it('echoes data and fails everything after close with code CLOSED', async () => {
    const c = client();
    expect((await c.echo(Buffer.from([0, 1, 2, 255]))).equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
    const pending = c.submit('nobody-serves-this', 'x');
    await pending.created;
    await c.close();
    await c.close();
    await expect(pending.result).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await expect(c.run('title', 'x')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await expect(c.submitBackground('title', 'x')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });
});

function describeUpdate(update: JobUpdate): string {
  switch (update.type) {
    case 'created':
      return `created ${update.handle}`;
    case 'status':
      return `status ${update.numerator}/${update.denominator}`;
    default:
      return `${update.type} ${update.data.toString()}`;
  }
}
