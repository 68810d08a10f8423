import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { GearmanServer } from '../../src/server/server.js';
import { QueueSampler } from '../../src/supervisor/capacity/queue-sampler.js';

// Issue 15: one sampler of the job servers' queues, running only while someone needs it.

let sampler: QueueSampler | undefined;
let server: GearmanServer | undefined;
afterEach(async () => {
  await sampler?.close();
  await server?.close();
  sampler = server = undefined;
});

/** A sampler of one real job server, counting the samples its listeners get. */
async function counted(watchWindowMs: number): Promise<{ sampler: QueueSampler; samples: () => number }> {
  server = new GearmanServer({ host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  sampler = new QueueSampler({
    servers: () => new Map([[`127.0.0.1:${port}`, { host: '127.0.0.1', port }]]),
    watchWindowMs,
  });
  let samples = 0;
  sampler.onSample((sample) => {
    expect([...sample.values()].every((probe) => probe.ok)).toBe(true);
    samples++;
  });
  return { sampler, samples: () => samples };
}

describe('the queue sampler', () => {
  it('asks no job server while nobody looks and nothing autoscales', async () => {
    const { sampler, samples } = await counted(60_000);
    expect(sampler.intervalMs).toBeNull();
    await sleep(400);
    expect(samples()).toBe(0);
  });

  it('samples at the autoscaler interval while a function autoscales, and stops when none does', async () => {
    const { sampler, samples } = await counted(60_000);
    sampler.setAutoscaleInterval(50);
    await sleep(600);
    const during = samples();
    expect(during).toBeGreaterThanOrEqual(4);
    expect(during).toBeLessThanOrEqual(13);
    sampler.setAutoscaleInterval(null);
    await sleep(300);
    expect(samples()).toBeLessThanOrEqual(during + 1);
  });

  it('samples at the watch interval for a window after someone looked, then stops', async () => {
    const { sampler, samples } = await counted(500);
    sampler.watch(50);
    expect(sampler.intervalMs).toBe(50);
    await sleep(400);
    expect(samples()).toBeGreaterThanOrEqual(3);
    await sleep(600);
    expect(sampler.intervalMs).toBeNull();
    const after = samples();
    await sleep(300);
    expect(samples()).toBe(after);
  });

  it('feeds a probe asked for directly to every listener, and joins one already on the wire', async () => {
    const { sampler, samples } = await counted(60_000);
    const [a, b] = await Promise.all([sampler.sample(), sampler.sample()]);
    expect(a).toBe(b);
    expect(samples()).toBe(1);
    await sampler.refresh(60_000);
    expect(samples()).toBe(1);
  });
});
