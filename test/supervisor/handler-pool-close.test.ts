import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { HandlerPool, type ProgressSink } from '../../src/supervisor/pool/handler-pool.js';
import { runJob } from '../helpers/pool-run.js';

const sleeps = fileURLToPath(new URL('../fixtures/handlers/sleeps.js', import.meta.url));
const spins = fileURLToPath(new URL('../fixtures/handlers/spins.js', import.meta.url));
const pools: HandlerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

const sink: ProgressSink = { status: () => {}, data: () => {}, warning: () => {} };
const meta = { handle: 'H:test:1', unique: '', functionName: 'sleeps' };

function config(handler: string, concurrency: number): ModuleFunctionConfig {
  return {
    name: 'sleeps',
    kind: 'module',
    handler,
    export: 'default',
    concurrency,
    payload: 'text',
    exceptions: true,
    jobsPerThread: 1,
  };
}

describe('HandlerPool.close() (an old generation retiring after a reload)', () => {
  it('lets every running job finish when the threads finish at different times', async () => {
    const pool = new HandlerPool(config(sleeps, 3), 1);
    pools.push(pool);
    await pool.check();
    // Three threads, three jobs ending one after another: the first to end must not
    // count as all of them (piscina's own close() once ended the pool there).
    const jobs = ['50', '300', '600'].map((ms) => runJob(pool, meta, Buffer.from(ms), sink));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pool.close();
    const outcomes = await Promise.all(jobs);
    expect(
      outcomes.map((o) => (o.ok ? Buffer.from(o.result).toString() : `failed: ${o.error.message}`)),
    ).toEqual(['slept 50', 'slept 300', 'slept 600']);
  });
});

describe('HandlerPool.close(deadline) (a shutdown, issue 10)', () => {
  it('ends a thread stuck in for(;;) at the deadline; its job ends as stopped', async () => {
    const pool = new HandlerPool(config(spins, 1), 1);
    pools.push(pool);
    await pool.check();
    const job = runJob(pool, meta, Buffer.from(''), sink);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    await pool.close(started + 300);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(await job).toMatchObject({
      ok: false,
      reason: 'stopped',
      error: { message: expect.stringMatching(/shutdown deadline/) },
    });
  });

  it('brings the deadline of a retiring pool closer: a job that ignores its signal is cut short', async () => {
    const pool = new HandlerPool(config(sleeps, 2), 1);
    pools.push(pool);
    await pool.check();
    const quick = runJob(pool, meta, Buffer.from('50'), sink);
    const slow = runJob(pool, meta, Buffer.from('20000'), sink);
    // Retiring after a reload: no deadline, it would wait the whole 20 s.
    const retiring = pool.close();
    await new Promise((resolve) => setTimeout(resolve, 150));
    const started = performance.now();
    await pool.close(started + 200);
    await retiring;
    expect(performance.now() - started).toBeLessThan(3000);
    expect(await quick).toMatchObject({ ok: true });
    expect(await slow).toMatchObject({ ok: false, reason: 'stopped' });
  });
});
