import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { HandlerPool, type ProgressSink } from '../../src/supervisor/pool/handler-pool.js';
import { runJob } from '../helpers/pool-run.js';

// How jobs travel to handler threads: in batches over a stream per thread, payloads
// packed into one buffer unless large. These tests check what a user would notice if
// that went wrong: bytes mixed up between jobs, lost jobs, a thread restarted forever.

const fixtures = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const pools: HandlerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

function pool(file: string, overrides: Partial<ModuleFunctionConfig> = {}): HandlerPool {
  const created = new HandlerPool(
    {
      name: path.basename(file, '.js'),
      kind: 'module',
      handler: path.join(fixtures, file),
      export: 'default',
      concurrency: 1,
      payload: 'buffer',
      exceptions: true,
      jobsPerThread: 1,
      ...overrides,
    },
    1,
  );
  pools.push(created);
  return created;
}

const sink: ProgressSink = { status: () => {}, data: () => {}, warning: () => {} };
const meta = (n: number) => ({ handle: `H:test:${n}`, unique: `u${n}`, functionName: 'echo' });

describe('jobs streamed to handler threads', () => {
  it('returns every job its own bytes when small and large payloads share batches', async () => {
    const echo = pool('echo.js', { concurrency: 16, jobsPerThread: 8 });
    await echo.check();
    // Around the 64 KiB line where payloads stop being packed and travel on their own.
    const sizes = [0, 1, 17, 65_535, 65_536, 65_537, 1_000_000, 3, 200_000, 42];
    const payloads = sizes.map((size) => randomBytes(size));
    const outcomes = await Promise.all(payloads.map((payload, i) => runJob(echo, meta(i), payload, sink)));
    outcomes.forEach((outcome, i) => {
      expect(outcome.ok).toBe(true);
      expect(outcome.ok && Buffer.compare(Buffer.from(outcome.result), payloads[i] as Buffer)).toBe(0);
    });
  });

  it('moves a large payload to a thread of its own, and it arrives whole', async () => {
    const echo = pool('echo.js');
    const payload = randomBytes(300_000);
    const expected = Buffer.from(payload);
    const outcome = await runJob(echo, meta(1), payload, sink);
    expect(outcome.ok && Buffer.compare(Buffer.from(outcome.result), expected)).toBe(0);
  });

  it('keeps 2,000 concurrent jobs apart across two threads', async () => {
    const echo = pool('echo.js', { concurrency: 128, jobsPerThread: 64 });
    expect(echo.threads).toBe(2);
    const outcomes = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => runJob(echo, meta(i), Buffer.from(`job-${i}`), sink)),
    );
    const texts = outcomes.map((o) => (o.ok ? Buffer.from(o.result).toString() : `failed: ${o.reason}`));
    expect(texts).toEqual(Array.from({ length: 2000 }, (_, i) => `job-${i}`));
  });

  it("aborts the handler's signal when the job is lost, and takes its answer", async () => {
    const waits = pool('waits-for-abort.js', { payload: 'text' });
    let lose: (reason: unknown) => void = () => {};
    // Lost once the handler says it runs (its status update), not before.
    const started = {
      status: () => lose(new Error('the connection dropped')),
      data: () => {},
      warning: () => {},
    };
    const running = runJob(waits, meta(1), Buffer.from('x'), started, undefined, (listener) => {
      lose = listener;
    });
    const outcome = await running;
    expect(outcome.ok && Buffer.from(outcome.result).toString()).toBe('aborted: the connection dropped');
  });

  it('reports a handler that ends its thread while loading, without restarting it forever', async () => {
    const exits = pool('exits-at-import.js', { concurrency: 2 });
    await expect(exits.check()).rejects.toMatchObject({
      code: ErrorCode.HANDLER_LOAD,
      message: expect.stringMatching(/died while loading/),
    });
    const outcome = await runJob(exits, meta(1), Buffer.from(''), sink);
    expect(outcome).toMatchObject({ ok: false, reason: 'load' });
  });

  it('keeps the answers a thread sent before it died, fails only the job that killed it', async () => {
    const exits = pool('exits-later.js', { concurrency: 4, jobsPerThread: 4, payload: 'text' });
    await exits.check();
    const outcomes = await Promise.all(
      ['1', '2', 'exit', '3'].map((payload, i) => runJob(exits, meta(i), Buffer.from(payload), sink)),
    );
    const summary = outcomes.map((o) => (o.ok ? Buffer.from(o.result).toString() : o.reason));
    expect(summary).toEqual(['ok:1', 'ok:2', 'crash', 'ok:3']);
    // The thread was replaced and serves again.
    const after = await runJob(exits, meta(9), Buffer.from('4'), sink);
    expect(after.ok && Buffer.from(after.result).toString()).toBe('ok:4');
  });

  it('answers a job that arrives in the same turn as close(), then closes', async () => {
    const echo = pool('echo.js', { payload: 'text' });
    await echo.check();
    const closing = echo.close();
    const outcome = await runJob(echo, meta(1), Buffer.from('late'), sink);
    expect(outcome.ok && Buffer.from(outcome.result).toString()).toBe('late');
    await closing;
  });

  it('ends a job sent to a closed pool with a reason instead of leaving it unanswered', async () => {
    const echo = pool('echo.js', { payload: 'text' });
    await echo.check();
    await echo.close();
    const outcome = await runJob(echo, meta(1), Buffer.from('too late'), sink);
    expect(outcome).toMatchObject({ ok: false, error: { message: expect.stringMatching(/stopped/) } });
  });
});
