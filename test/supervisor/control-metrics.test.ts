import { afterEach, describe, expect, it } from 'vitest';
import { parseMetrics, value } from '../helpers/metrics-text.js';
import { type Controlled, call, eventually, startControlled } from './control-fixture.js';

let setup: Controlled | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

async function scrape(base: string) {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

describe('control API metrics', () => {
  it('counts jobs by function and outcome, and their run times, as jobs end', async () => {
    setup = await startControlled(
      '  echo: { handler: $FIXTURES/echo.js, payload: text }\n  boom: { handler: $FIXTURES/throws.js }\n',
    );
    const first = await scrape(setup.base);
    expect(first.types.get('gworker_jobs_total')).toBe('counter');
    expect(first.types.get('gworker_job_duration_seconds')).toBe('histogram');
    expect(
      value(first.samples, 'gworker_jobs_total', { function: 'echo', outcome: 'complete' }),
    ).toBeUndefined();
    for (let i = 0; i < 4; i++) await setup.client.run('echo', 'x');
    await expect(setup.client.run('boom', 'y')).rejects.toThrow();
    const { samples } = await scrape(setup.base);
    expect(value(samples, 'gworker_jobs_total', { function: 'echo', outcome: 'complete' })).toBe(4);
    expect(value(samples, 'gworker_jobs_total', { function: 'boom', outcome: 'exception' })).toBe(1);
    expect(value(samples, 'gworker_job_duration_seconds_count', { function: 'echo' })).toBe(4);
    expect(value(samples, 'gworker_job_duration_seconds_bucket', { function: 'echo', le: '+Inf' })).toBe(4);
    expect(value(samples, 'gworker_job_duration_seconds_sum', { function: 'echo' })).toBeGreaterThan(0);
    await setup.client.run('echo', 'one more');
    const again = await scrape(setup.base);
    expect(value(again.samples, 'gworker_jobs_total', { function: 'echo', outcome: 'complete' })).toBe(5);
  });

  it('reports in-flight jobs, slots, pause, threads, generations, reloads and connections', async () => {
    setup = await startControlled(
      '  sleeps: { handler: $FIXTURES/sleeps.js, payload: text, concurrency: 2 }\n',
    );
    const job = setup.client.run('sleeps', '600');
    await eventually(() => setup?.supervisor.functions()[0]?.running === 1);
    const busy = (await scrape(setup.base)).samples;
    const sleeps = { function: 'sleeps' };
    expect(value(busy, 'gworker_jobs_in_flight', sleeps)).toBe(1);
    expect(value(busy, 'gworker_function_concurrency', sleeps)).toBe(2);
    expect(value(busy, 'gworker_function_threads', sleeps)).toBe(2);
    // One job: the load check's thread runs it, the second thread has not started.
    expect(value(busy, 'gworker_function_threads_started', sleeps)).toBe(1);
    expect(value(busy, 'gworker_function_threads_idle', sleeps)).toBe(0);
    expect(value(busy, 'gworker_function_paused', sleeps)).toBe(0);
    expect(value(busy, 'gworker_connection_up', { ...sleeps, server: setup.gearman })).toBe(1);
    expect(value(busy, 'gworker_connection_reconnects_total', { ...sleeps, server: setup.gearman })).toBe(0);
    await job;
    await call(setup.base, 'POST', '/api/functions/sleeps/pause');
    await call(setup.base, 'POST', '/api/functions/sleeps/scale', { body: { concurrency: 3 } });
    await call(setup.base, 'GET', '/api/status');
    const after = (await scrape(setup.base)).samples;
    expect(value(after, 'gworker_jobs_in_flight', sleeps)).toBe(0);
    expect(value(after, 'gworker_function_paused', sleeps)).toBe(1);
    expect(value(after, 'gworker_function_concurrency', sleeps)).toBe(3);
    expect(value(after, 'gworker_function_threads', sleeps)).toBe(3);
    expect(value(after, 'gworker_function_threads_started', sleeps)).toBe(1);
    expect(value(after, 'gworker_function_threads_idle', sleeps)).toBe(1);
    // A scale resizes the serving generation: no reload, no new generation.
    expect(value(after, 'gworker_function_generation', sleeps)).toBe(1);
    expect(value(after, 'gworker_function_queued_jobs', sleeps)).toBe(0);
  });

  it('shows a range’s min and max, counts changes of slots by who made them, and reads the queue for a scrape', async () => {
    setup = await startControlled(
      '  sleeps: { handler: $FIXTURES/sleeps.js, payload: text, concurrency: { min: 1, max: 3 } }\n  echo: { handler: $FIXTURES/echo.js }\n',
    );
    const sleeps = { function: 'sleeps' };
    const first = (await scrape(setup.base)).samples;
    expect(value(first, 'gworker_function_concurrency', sleeps)).toBe(1);
    expect(value(first, 'gworker_function_concurrency_min', sleeps)).toBe(1);
    expect(value(first, 'gworker_function_concurrency_max', sleeps)).toBe(3);
    expect(value(first, 'gworker_function_concurrency_max', { function: 'echo' })).toBeUndefined();
    await call(setup.base, 'POST', '/api/functions/sleeps/pause');
    await call(setup.base, 'POST', '/api/functions/sleeps/scale', { body: { concurrency: 2 } });
    for (let i = 0; i < 2; i++) await setup.client.submitBackground('sleeps', '10');
    // No status asked for: the scrape itself samples the job server when nothing is fresh.
    let after = (await scrape(setup.base)).samples;
    await eventually(async () => {
      after = (await scrape(setup?.base ?? '')).samples;
      return value(after, 'gworker_function_queued_jobs', sleeps) === 2;
    }, 5000);
    expect(value(after, 'gworker_function_concurrency', sleeps)).toBe(2);
    expect(
      value(after, 'gworker_concurrency_changes_total', { ...sleeps, by: 'manual', direction: 'up' }),
    ).toBe(1);
    // A manual value holds: jobs wait, and the autoscaler leaves it alone.
    expect(
      value(after, 'gworker_concurrency_changes_total', { ...sleeps, by: 'autoscaler' }),
    ).toBeUndefined();
  });

  it('adds Node process metrics unless turned off', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', { metrics: {} });
    const { samples } = await scrape(setup.base);
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
  });
});

describe('control API metrics: thread restarts', () => {
  it('counts handler threads that died under a job, by cause', async () => {
    setup = await startControlled('  exits: { handler: $FIXTURES/exits.js }\n');
    await expect(setup.client.run('exits', '')).rejects.toThrow();
    await expect(setup.client.run('exits', '')).rejects.toThrow();
    const { samples, types } = await scrape(setup.base);
    expect(types.get('gworker_thread_restarts_total')).toBe('counter');
    expect(value(samples, 'gworker_thread_restarts_total', { function: 'exits', cause: 'crash' })).toBe(2);
  });
});
