import { afterEach, describe, expect, it } from 'vitest';
import { type Controlled, call, startControlled } from './control-fixture.js';

// Issue 17: status and metrics show handler processes like threads.

let setup: Controlled | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

function gauge(text: string, name: string, fn: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{function="${fn}"}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('status and metrics with isolation: process', () => {
  it('the status document says each function isolation; metrics count processes and threads apart', async () => {
    setup = await startControlled(
      [
        '  inproc: { handler: $FIXTURES/process/segfaults.js, isolation: process, concurrency: 2 }',
        '  threaded: { handler: $FIXTURES/echo.js, concurrency: 3 }',
        '  cmd: { command: [cat] }',
        '',
      ].join('\n'),
    );
    const { body } = await call(setup.base, 'GET', '/api/status');
    const byName = new Map((body.functions as { name: string }[]).map((fn) => [fn.name, fn]));
    expect(byName.get('inproc')).toMatchObject({ kind: 'module', isolation: 'process', threads: 2 });
    expect(byName.get('threaded')).toMatchObject({ kind: 'module', isolation: 'thread', threads: 3 });
    expect(byName.get('cmd')).toMatchObject({ kind: 'command', isolation: null, threads: 0 });

    await expect(setup.client.run('inproc', 'crash')).rejects.toThrow(/killed by SIGSEGV/);
    const metrics = await (await fetch(`${setup.base}/metrics`)).text();
    expect(gauge(metrics, 'gworker_function_processes', 'inproc')).toBe(2);
    expect(gauge(metrics, 'gworker_function_threads', 'inproc')).toBe(0);
    expect(gauge(metrics, 'gworker_function_threads', 'threaded')).toBe(3);
    expect(gauge(metrics, 'gworker_function_processes', 'threaded')).toBe(0);
    expect(metrics).toContain('gworker_thread_restarts_total{function="inproc",cause="crash"} 1');
  });
});
