import { expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { describeWithPeers } from '../helpers/peers.js';
import { eventually, sleep } from './helpers/conformance.js';
import { curl } from './helpers/curl.js';
import { gateway, open, request, worker } from './helpers/http-gateway.js';

describeWithPeers(['curl'], 'HTTP gateway: failures', () => {
  it('maps WORK_FAIL to 502 and WORK_EXCEPTION to 500 with the exception text', async () => {
    const { port, url } = await gateway();
    const w = worker(port);
    w.register('fails', (job) => {
      job.fail();
    });
    w.register('throws', () => {
      throw new Error('disk on fire');
    });
    await w.start();
    const failed = await curl(['--data-binary', 'x', url('/fails')]);
    expect(failed.status).toBe(502);
    expect(failed.headers['x-gearman-command']).toBe('WORK_FAIL');
    expect(failed.headers['x-gearman-job-handle']).toMatch(/^H:t:/);
    const thrown = await curl(['--data-binary', 'x', url('/throws')]);
    expect(thrown.status).toBe(500);
    expect(thrown.headers['x-gearman-command']).toBe('WORK_EXCEPTION');
    expect(thrown.body.toString()).toBe('disk on fire');
  });

  it('cuts a streamed response short when the job fails after its first data chunk', async () => {
    const { port, url } = await gateway();
    const w = worker(port);
    w.register('half', async (job) => {
      job.data('half of it');
      await sleep(100);
      throw new Error('broke');
    });
    await w.start();
    const res = await curl(['--data-binary', 'x', url('/half')]);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('half of it');
    // curl: "transfer closed with outstanding read data remaining" (18).
    expect(res.exitCode).toBe(18);
    await expect(request(url('/half'), { body: 'y' })).rejects.toThrow();
  });

  it('answers 503 when the queue is full', async () => {
    const { url } = await gateway({ maxJobs: 1 });
    const first = await curl(['-H', 'X-Gearman-Background: true', '--data-binary', 'a', url('/full')]);
    expect(first.status).toBe(202);
    const second = await curl(['-H', 'X-Gearman-Background: true', '--data-binary', 'b', url('/full')]);
    expect(second.status).toBe(503);
    expect(second.body.toString()).toBe('the job queue is full\n');
  });

  it('waits for a worker as gearmand does, and answers 504 once X-Gearman-Timeout passes', async () => {
    const { port, url } = await gateway();
    const started = Date.now();
    const res = await curl(['-H', 'X-Gearman-Timeout: 300', '--data-binary', 'x', url('/nobody')]);
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(res.headers['x-gearman-job-handle']).toMatch(/^H:t:/);
    // The job was let go of as a departed client's: a worker never gets it.
    const seen: string[] = [];
    const w = worker(port);
    w.register('nobody', (job) => {
      seen.push(job.payload.toString());
    });
    await w.start();
    const after = await curl(['--data-binary', 'y', url('/nobody')]);
    expect(after.status).toBe(200);
    expect(seen).toEqual(['y']);
  });

  it('lets go of the job of a client that hangs up before the result', async () => {
    const { server, port, url } = await gateway();
    const controller = new AbortController();
    const pending = request(url('/gone'), { body: 'abandoned', signal: controller.signal });
    await eventually(() => (server.jobCount === 1 ? true : undefined));
    controller.abort();
    await expect(pending).rejects.toThrow();
    const admin = new AdminClient({ server: `127.0.0.1:${port}` });
    open.push(admin);
    const jobs = await eventually(async () => {
      const rows = await admin.showJobs();
      return rows[0]?.ignoreJob === true ? rows : undefined;
    });
    expect(jobs).toHaveLength(1);
  });

  it('refuses bad requests: 400 for bad headers and names, 405 for other methods', async () => {
    const { url } = await gateway();
    const cases: Array<[string[], number]> = [
      [['-H', 'X-Gearman-Priority: urgent', '-d', 'x', url('/f')], 400],
      [['-H', 'X-Gearman-Background: maybe', '-d', 'x', url('/f')], 400],
      [['-H', 'X-Gearman-Timeout: soon', '-d', 'x', url('/f')], 400],
      [['-H', `X-Gearman-Unique: ${'u'.repeat(65)}`, '-d', 'x', url('/f')], 400],
      [['-d', 'x', url('/a%00b')], 400],
      [['-d', 'x', url('/a%zz')], 400],
      [['-d', 'x', url(`/${'f'.repeat(513)}`)], 400],
      [['-X', 'DELETE', url('/f')], 405],
      [['-I', url('/f')], 405],
      [['-X', 'POST', url('/')], 405],
    ];
    for (const [args, status] of cases) {
      const res = await curl(args);
      expect({ args, status: res.status }).toEqual({ args, status });
    }
    const method = await curl(['-X', 'DELETE', url('/f')]);
    expect(method.headers.allow).toBe('POST, PUT, GET');
  });
});
