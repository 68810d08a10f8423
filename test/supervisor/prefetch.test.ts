import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { HandlerPool, type RunOutcome } from '../../src/supervisor/pool/handler-pool.js';
import { runJob } from '../helpers/pool-run.js';

// A function's `prefetch`: jobs sent ahead to a thread wait there behind the running
// ones and start the moment one ends. These check what a waiting job must never see:
// running beside the others, a timeout ticking before it starts, being lost with the
// thread ahead of it, or running after its client went away.

const fixtures = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const pools: HandlerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

function poolFor(file: string, overrides: Partial<ModuleFunctionConfig> = {}): HandlerPool {
  const pool = new HandlerPool(
    {
      name: 'prefetching',
      kind: 'module',
      handler: path.join(fixtures, file),
      export: 'default',
      concurrency: 1,
      payload: 'text',
      exceptions: true,
      jobsPerThread: 1,
      prefetch: 2,
      ...overrides,
    },
    1,
  );
  pools.push(pool);
  return pool;
}

const sink = { status: () => {}, data: () => {}, warning: () => {} };
const meta = (n: number) => ({ handle: `H:test:${n}`, unique: `u${n}`, functionName: 'prefetching' });
const text = (outcome: RunOutcome) =>
  outcome.ok ? Buffer.from(outcome.result).toString() : outcome.error.message;

describe('HandlerPool with prefetch', () => {
  it('holds jobs in the thread and runs them one after another, each as the last one ends', async () => {
    const pool = poolFor('overlap.js');
    await pool.check();
    const runs = [1, 2, 3].map((n) => runJob(pool, meta(n), Buffer.from('150'), sink));
    await new Promise(setImmediate);
    // One runs; the other two wait in the thread.
    expect(pool.waiting).toBe(2);
    const spans = (await Promise.all(runs)).map((o) => JSON.parse(text(o)) as { start: number; end: number });
    for (let i = 1; i < spans.length; i++) {
      const [before, after] = [spans[i - 1], spans[i]] as [{ end: number }, { start: number }];
      expect(after.start).toBeGreaterThanOrEqual(before.end);
      // Started by the thread itself, not after a trip through the main thread and back.
      expect(after.start - before.end).toBeLessThan(100);
    }
    expect(pool.waiting).toBe(0);
  });

  it("starts a waiting job's timeout when the job starts, not when it reaches the thread", async () => {
    const pool = poolFor('sleeps.js', { prefetch: 1 });
    await pool.check();
    // Each takes 400 ms of its 600: the second would time out if its clock ran while it waited.
    const outcomes = await Promise.all(
      [1, 2].map((n) => runJob(pool, meta(n), Buffer.from('400'), sink, 600)),
    );
    expect(outcomes.map(text)).toEqual(['slept 400', 'slept 400']);
  });

  it('runs a waiting job on the replacement thread when the thread ahead of it dies', async () => {
    const pool = poolFor('exits-later.js', { prefetch: 1 });
    await pool.check();
    const [dies, waits] = await Promise.all([
      runJob(pool, meta(1), Buffer.from('exit'), sink),
      runJob(pool, meta(2), Buffer.from('b'), sink),
    ]);
    expect(dies).toMatchObject({ ok: false, reason: 'crash' });
    expect(waits.ok && text(waits)).toBe('ok:b');
  });

  it('drops a waiting job whose client went away, without running it', async () => {
    const pool = poolFor('overlap.js', { prefetch: 1 });
    await pool.check();
    const first = runJob(pool, meta(1), Buffer.from('400'), sink);
    let firstDone = false;
    void first.then(() => {
      firstDone = true;
    });
    const lost = runJob(pool, meta(2), Buffer.from('50'), sink, undefined, (listener) => {
      setTimeout(() => listener(new Error('the connection dropped')), 50);
    });
    const dropped = await lost;
    expect(dropped).toMatchObject({
      ok: false,
      error: { name: 'AbortError', message: 'the connection dropped' },
    });
    // Answered as soon as it was dropped, while the job ahead still ran.
    expect(firstDone).toBe(false);
    expect((await first).ok).toBe(true);
  });

  it('spreads jobs over idle threads before stacking them behind busy ones', async () => {
    // Both threads up (minThreads): the rule is about idle threads, not starting ones.
    const pool = poolFor('overlap.js', { concurrency: 2, prefetch: 1, minThreads: 2 });
    await pool.check();
    const spans = (await Promise.all([1, 2].map((n) => runJob(pool, meta(n), Buffer.from('200'), sink)))).map(
      (o) => JSON.parse(text(o)) as { start: number; end: number },
    );
    // Side by side on the two threads, not one behind the other.
    expect(Math.max(...spans.map((s) => s.start))).toBeLessThan(Math.min(...spans.map((s) => s.end)));
  });
});
