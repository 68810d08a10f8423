import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { HandlerPool, type ProgressSink, type RunOutcome } from '../../src/supervisor/pool/handler-pool.js';
import { runJob } from '../helpers/pool-run.js';

// Issue 15, "Threads on demand": a function's threads start when its jobs need them
// and end when idle (minThreads, idleTimeout); a scale resizes the pool in place.
const fixtures = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const pools: HandlerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

function poolFor(file: string, overrides: Partial<ModuleFunctionConfig> = {}): HandlerPool {
  const pool = new HandlerPool(
    {
      name: 'ondemand',
      kind: 'module',
      handler: path.join(fixtures, file),
      export: 'default',
      concurrency: 1,
      payload: 'text',
      exceptions: true,
      jobsPerThread: 1,
      idleTimeoutMs: 200,
      ...overrides,
    },
    1,
  );
  pools.push(pool);
  return pool;
}

const sink: ProgressSink = { status() {}, data() {}, warning() {} };
const meta = (n: number) => ({ handle: `H:test:${n}`, unique: `u${n}`, functionName: 'ondemand' });
const text = (outcome: RunOutcome) => (outcome.ok ? Buffer.from(outcome.result).toString() : outcome.reason);

/** Polls `ready` every 20 ms for at most `ms`; true once it holds. */
async function within(ms: number, ready: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe('threads on demand', () => {
  it('ends a thread idle for idleTimeout, and starts one again for the next job', async () => {
    const pool = poolFor('echo.js', { concurrency: 2 });
    await pool.check();
    // The load check's thread serves until it has been idle for 200 ms.
    expect(pool.threadsStarted).toBe(1);
    expect(await within(5_000, () => pool.threadsStarted === 0)).toBe(true);
    expect(text(await runJob(pool, meta(1), Buffer.from('back'), sink))).toBe('back');
    expect(pool.threadsStarted).toBe(1);
    expect(await within(5_000, () => pool.threadsStarted === 0)).toBe(true);
  });

  it('keeps minThreads running while idle, and ends only the threads beyond them', async () => {
    const pool = poolFor('sleeps.js', { concurrency: 3, minThreads: 1 });
    await pool.check();
    const outcomes = await Promise.all([1, 2, 3].map((n) => runJob(pool, meta(n), Buffer.from('300'), sink)));
    expect(outcomes.map(text)).toEqual(['slept 300', 'slept 300', 'slept 300']);
    expect(await within(5_000, () => pool.threadsStarted === 1)).toBe(true);
    // Well past idleTimeout: the one kept stays, idle.
    await new Promise((r) => setTimeout(r, 600));
    expect({ started: pool.threadsStarted, idle: pool.threadsIdle }).toEqual({ started: 1, idle: 1 });
  });

  it('starts threads for a backlog up to the most, and no more', async () => {
    const pool = poolFor('overlap.js', { concurrency: 3, idleTimeoutMs: 5_000 });
    await pool.check();
    let most = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, pool.threadsStarted);
    }, 10);
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => runJob(pool, meta(i), Buffer.from('150'), sink)),
    );
    clearInterval(sampler);
    const spans = outcomes.map((o) => JSON.parse(text(o)) as { start: number; end: number });
    const widest = Math.max(
      ...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length),
    );
    expect(most).toBe(3);
    expect(widest).toBeLessThanOrEqual(3);
    expect(pool.threadsStarted).toBe(3);
  });

  it('lowers its most threads live: every job held is answered, then one thread serves', async () => {
    const pool = poolFor('overlap.js', { concurrency: 3, idleTimeoutMs: 5_000 });
    await pool.check();
    const first = [1, 2, 3].map((n) => runJob(pool, meta(n), Buffer.from('400'), sink));
    expect(await within(5_000, () => pool.threadsStarted === 3 && pool.threadsIdle === 0)).toBe(true);
    pool.resize(1);
    expect(pool.threads).toBe(1);
    expect((await Promise.all(first)).every((o) => o.ok)).toBe(true);
    expect(await within(5_000, () => pool.threadsStarted === 1)).toBe(true);
    const spans = (await Promise.all([4, 5].map((n) => runJob(pool, meta(n), Buffer.from('100'), sink)))).map(
      (o) => JSON.parse(text(o)) as { start: number; end: number },
    );
    // One thread: the second ran after the first.
    expect(Math.max(spans[0]?.start ?? 0, spans[1]?.start ?? 0)).toBeGreaterThanOrEqual(
      Math.min(spans[0]?.end ?? 0, spans[1]?.end ?? 0),
    );
    expect(pool.threadsStarted).toBe(1);
  });

  it('raises its most threads live: waiting jobs get the new threads', async () => {
    const pool = poolFor('overlap.js', { concurrency: 1, idleTimeoutMs: 5_000 });
    await pool.check();
    const jobs = [1, 2, 3].map((n) => runJob(pool, meta(n), Buffer.from('1000'), sink));
    pool.resize(3);
    const spans = (await Promise.all(jobs)).map((o) => JSON.parse(text(o)) as { start: number; end: number });
    // With one thread they would run one after another; here some run side by side.
    const overlapping = spans.filter((s) => spans.some((o) => o !== s && o.start < s.end && s.start < o.end));
    expect(overlapping.length).toBeGreaterThanOrEqual(2);
    expect(pool.threads).toBe(3);
    expect(pool.threadsStarted).toBeGreaterThanOrEqual(2);
  });

  it('does the same with isolation: process: an idle process exits, a fresh one serves the next job', async () => {
    const pool = poolFor('process/pid.js', { concurrency: 2, isolation: 'process' });
    await pool.check();
    const first = text(await runJob(pool, meta(1), Buffer.from('a'), sink));
    expect(await within(5_000, () => pool.threadsStarted === 0)).toBe(true);
    const second = text(await runJob(pool, meta(2), Buffer.from('b'), sink));
    // Another process: its pid differs.
    expect(second).not.toBe(first);
    expect(pool.threadsStarted).toBe(1);
  });

  it('replaces a thread that crashed only when a job needs one', async () => {
    const pool = poolFor('exits.js', { concurrency: 2 });
    await pool.check();
    const crashed = await runJob(pool, meta(1), Buffer.from('exit'), sink);
    expect(crashed).toMatchObject({ ok: false, reason: 'crash' });
    // Nothing waits: no thread is started for nobody.
    expect(await within(2_000, () => pool.threadsStarted === 0)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(pool.threadsStarted).toBe(0);
  });
});
