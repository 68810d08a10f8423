import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { HandlerPool, type ProgressSink } from '../../src/supervisor/pool/handler-pool.js';
import { runJob } from '../helpers/pool-run.js';

const fixtures = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const pools: HandlerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

function poolFor(file: string, overrides: Partial<ModuleFunctionConfig> = {}): HandlerPool {
  const config: ModuleFunctionConfig = {
    name: path.basename(file, path.extname(file)),
    kind: 'module',
    handler: path.join(fixtures, file),
    export: 'default',
    concurrency: 1,
    payload: 'text',
    exceptions: true,
    jobsPerThread: 1,
    ...overrides,
  };
  const pool = new HandlerPool(config, 1);
  pools.push(pool);
  return pool;
}

const meta = { handle: 'H:test:1', unique: 'u1', functionName: 'f' };

function recordingSink(): ProgressSink & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    status: (n, d) => events.push(`status ${n}/${d}`),
    data: (chunk) => events.push(`data ${Buffer.from(chunk).toString()}`),
    warning: (chunk) => events.push(`warning ${Buffer.from(chunk).toString()}`),
  };
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

describe('HandlerPool', () => {
  it('runs a JavaScript handler in a thread and returns its result', async () => {
    const pool = poolFor('echo.js');
    const outcome = await runJob(pool, meta, Buffer.from('hello'), recordingSink());
    expect(outcome.ok && text(outcome.result)).toBe('hello');
  });

  it('loads a TypeScript handler that imports a sibling .ts file, with no build step', async () => {
    const pool = poolFor('upper.ts');
    await pool.check();
    const outcome = await runJob(pool, meta, Buffer.from('abc'), recordingSink());
    expect(outcome.ok && text(outcome.result)).toBe('ABC:H:test:1');
  });

  it('uses a named export when the manifest asks for one', async () => {
    const pool = poolFor('upper.ts', { export: 'named' });
    const outcome = await runJob(pool, meta, Buffer.from('x'), recordingSink());
    expect(outcome.ok && text(outcome.result)).toBe('named:x');
  });

  it('forwards status, data and warnings in order, all before the result', async () => {
    const pool = poolFor('progress.js');
    const sink = recordingSink();
    const outcome = await runJob(pool, meta, Buffer.from('p'), sink);
    expect(outcome.ok && text(outcome.result)).toBe('done:p');
    expect(sink.events).toEqual([
      'status 1/3',
      'data first ',
      'warning careful',
      'status 2/3',
      'data second',
      'status 3/3',
    ]);
  });

  it('decodes JSON payloads and encodes object results as JSON', async () => {
    const pool = poolFor('json.js', { payload: 'json' });
    const outcome = await runJob(pool, meta, Buffer.from('{"a":2,"b":3}'), recordingSink());
    expect(outcome.ok && JSON.parse(text(outcome.result))).toEqual({ sum: 5, got: { a: 2, b: 3 } });
    const bad = await runJob(pool, meta, Buffer.from('{not json'), recordingSink());
    expect(bad).toMatchObject({
      ok: false,
      reason: 'handler',
      error: { message: expect.stringMatching(/not valid JSON/) },
    });
  });

  it('reports a thrown error as a handler failure and keeps serving', async () => {
    const pool = poolFor('throws.js');
    const outcome = await runJob(pool, meta, Buffer.from('x'), recordingSink());
    expect(outcome).toMatchObject({ ok: false, reason: 'handler', error: { message: 'bad input: x' } });
    const again = await runJob(pool, meta, Buffer.from('y'), recordingSink());
    expect(again).toMatchObject({ ok: false, error: { message: 'bad input: y' } });
  });

  it('fails only the job whose handler calls process.exit, and replaces the thread', async () => {
    const pool = poolFor('exits.js');
    const outcome = await runJob(pool, meta, Buffer.from(''), recordingSink());
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'crash',
      error: { message: expect.stringMatching(/exited/) },
    });
    const again = await runJob(pool, meta, Buffer.from(''), recordingSink());
    expect(again).toMatchObject({ ok: false, reason: 'crash' });
  });

  it('fails a job that runs out of memory with a clear reason', async () => {
    const pool = poolFor('oom.js', { maxMemoryMb: 32 });
    const outcome = await runJob(pool, meta, Buffer.from(''), recordingSink());
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'crash',
      error: { message: expect.stringMatching(/out of memory/) },
    });
  });

  it('ends a handler that ignores its signal after the timeout by ending its thread', async () => {
    const pool = poolFor('spins.js');
    const started = Date.now();
    const outcome = await runJob(pool, meta, Buffer.from(''), recordingSink(), 200);
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'timeout',
      error: { message: 'timed out after 200 ms' },
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('aborts the signal of a handler that times out, which lets it stop by itself', async () => {
    const pool = poolFor('abortable.js');
    const outcome = await runJob(pool, meta, Buffer.from(''), recordingSink(), 100);
    expect(outcome).toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('runs several I/O-bound jobs in one thread at once when jobsPerThread allows', async () => {
    const pool = poolFor('overlap.js', { concurrency: 8, jobsPerThread: 8 });
    expect(pool.threads).toBe(1);
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => runJob(pool, meta, Buffer.from('1000'), recordingSink())),
    );
    const spans = outcomes.map(
      (o) => JSON.parse(o.ok ? text(o.result) : '{}') as { start: number; end: number },
    );
    // Every job started before the first one ended: they ran side by side in one thread.
    expect(Math.max(...spans.map((s) => s.start))).toBeLessThan(Math.min(...spans.map((s) => s.end)));
  });

  it.each([
    ['syntax-error.js', /SyntaxError|Unexpected/],
    ['throws-at-import.js', /missing configuration/],
    ['no-default.js', /no function export "default".*something/],
  ])('rejects %s at check time with HANDLER_LOAD', async (file, reason) => {
    const pool = poolFor(file);
    await expect(pool.check()).rejects.toMatchObject({
      code: ErrorCode.HANDLER_LOAD,
      message: expect.stringMatching(reason),
    });
  });
});
