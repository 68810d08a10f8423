import { afterEach, beforeEach, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { eventually, functionStatus, startPhpWorker } from './peer-workers.js';

describeWithPeers(['gearmand', 'php'], 'Client priorities and epoch jobs on gearmand 1.1.20', () => {
  let gearmand: GearmandHandle;
  let client: Client;

  beforeEach(async () => {
    gearmand = await startGearmand();
    client = new Client({ servers: [gearmand.address] });
  });
  afterEach(async () => {
    await client.close();
    await killAll();
  });

  it('runs queued background jobs high first, then normal, then low, FIFO within each', async () => {
    const order: Array<['low' | 'normal' | 'high', string]> = [
      ['low', 'low-1'],
      ['normal', 'normal-1'],
      ['high', 'high-1'],
      ['low', 'low-2'],
      ['normal', 'normal-2'],
      ['high', 'high-2'],
    ];
    for (const [priority, payload] of order) {
      expect(await client.submitBackground('record', payload, { priority })).toMatch(/^H:/);
    }
    expect((await functionStatus(gearmand.port)).get('record')).toEqual({ total: 6, running: 0, workers: 0 });
    // One PHP process runs one job at a time, so the order it prints is the order served.
    const worker = await startPhpWorker(gearmand.port);
    const lines = await eventually(() => (worker.lines().length >= 6 ? worker.lines() : undefined));
    expect(lines).toEqual(['high-1', 'high-2', 'normal-1', 'normal-2', 'low-1', 'low-2']);
  });

  it('runs foreground jobs by priority too', async () => {
    const jobs = [
      client.submit('record', 'low', { priority: 'low' }),
      client.submit('record', 'normal'),
      client.submit('record', 'high', { priority: 'high' }),
    ];
    await Promise.all(jobs.map((job) => job.created));
    const worker = await startPhpWorker(gearmand.port);
    expect((await Promise.all(jobs)).map(String)).toEqual(['low', 'normal', 'high']);
    expect(worker.lines()).toEqual(['high', 'normal', 'low']);
  });

  it('holds an epoch job until its time, then a worker runs it', async () => {
    const worker = await startPhpWorker(gearmand.port);
    const due = Math.ceil(Date.now() / 1000) + 2;
    const handle = await client.submitBackground('stamp', '', { epoch: due });
    expect(handle).toMatch(/^H:/);
    // Well before its time the job is held, although a worker is idle and polling.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(worker.lines()).toEqual([]);
    const [ranAt] = await eventually(() => (worker.lines().length > 0 ? worker.lines() : undefined), 8000);
    expect(Number(ranAt)).toBeGreaterThanOrEqual(due * 1000);
  });

  it('takes a Date as the epoch', async () => {
    const worker = await startPhpWorker(gearmand.port);
    const due = new Date(Date.now() + 1500);
    await client.submitBackground('stamp', '', { epoch: due });
    const [ranAt] = await eventually(() => (worker.lines().length > 0 ? worker.lines() : undefined), 8000);
    expect(Number(ranAt)).toBeGreaterThanOrEqual(Math.floor(due.getTime() / 1000) * 1000);
  });

  it('refuses an epoch job with a priority other than normal', async () => {
    await expect(
      client.submitBackground('stamp', '', { epoch: Date.now() / 1000, priority: 'high' }),
    ).rejects.toBeInstanceOf(TypeError);
  });
});
