import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { GearmanServer } from '../../src/server/server.js';
import { Worker } from '../../src/worker/worker.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('Worker with GRAB_JOB_ALL (the default)', () => {
  it('uses all of maxJobs from the first job on, not only after the first job ends', async () => {
    const server = new GearmanServer({ host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    const client = new Client({ servers: [`127.0.0.1:${port}`] });
    cleanups.push(() => client.close());
    for (let i = 0; i < 3; i++) await client.submitBackground('hold', String(i));
    let running = 0;
    let peak = 0;
    const worker = new Worker({ servers: [`127.0.0.1:${port}`], maxJobs: 3 });
    cleanups.push(() => worker.close({ force: true }));
    const allStarted = new Promise<void>((resolve) => {
      let started = 0;
      worker.register('hold', async () => {
        running++;
        peak = Math.max(peak, running);
        if (++started === 3) resolve();
        await new Promise((r) => setTimeout(r, 500));
        running--;
      });
    });
    await worker.start();
    await allStarted;
    expect(peak).toBe(3);
  });
});
