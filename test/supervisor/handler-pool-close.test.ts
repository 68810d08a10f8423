import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { HandlerPool, type ProgressSink } from '../../src/supervisor/pool/handler-pool.js';

const sleeps = fileURLToPath(new URL('../fixtures/handlers/sleeps.js', import.meta.url));
const pools: HandlerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

const sink: ProgressSink = { status: () => {}, data: () => {}, warning: () => {} };
const meta = { handle: 'H:test:1', unique: '', functionName: 'sleeps' };

describe('HandlerPool.close() (an old generation retiring after a reload)', () => {
  it('lets every running job finish when the threads finish at different times', async () => {
    const config: ModuleFunctionConfig = {
      name: 'sleeps',
      kind: 'module',
      handler: sleeps,
      export: 'default',
      concurrency: 3,
      payload: 'text',
      exceptions: true,
      jobsPerThread: 1,
    };
    const pool = new HandlerPool(config, 1);
    pools.push(pool);
    await pool.check();
    // Three threads, three jobs ending one after another: the first to end must not
    // count as all of them (piscina's own close() once ended the pool there).
    const jobs = ['50', '300', '600'].map((ms) => pool.run(meta, Buffer.from(ms), sink));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pool.close();
    const outcomes = await Promise.all(jobs);
    expect(
      outcomes.map((o) => (o.ok ? Buffer.from(o.result).toString() : `failed: ${o.error.message}`)),
    ).toEqual(['slept 50', 'slept 300', 'slept 600']);
  });
});
