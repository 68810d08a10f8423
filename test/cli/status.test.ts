import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runCliCaptured as cli } from '../helpers/run-cli.js';
import { type Controlled, eventually, startControlled } from '../supervisor/control-fixture.js';

let setup: Controlled | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

const controlArg = (s: Controlled) => ['--control', String((s.control.address as { port: number }).port)];

/** The table rows of `text` that start with `first`, split into cells. */
function row(text: string, first: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith(`${first} `));
  if (line === undefined) throw new Error(`no row for ${first} in:\n${text}`);
  return line.trim().split(/\s{2,}/);
}

describe('gworker status', () => {
  it('prints functions and servers as tables, with the job servers queue depths', async () => {
    setup = await startControlled(
      '  echo: { handler: $FIXTURES/echo.js, payload: text, concurrency: 2 }\n  sleeps: { handler: $FIXTURES/sleeps.js, payload: text }\n',
    );
    for (let i = 0; i < 3; i++) await setup.client.run('echo', 'x');
    await cli(['pause', 'sleeps', ...controlArg(setup)]);
    await setup.client.submitBackground('sleeps', '10');
    await setup.client.submitBackground('sleeps', '10');
    const { code, stdout, stderr } = await cli(['status', ...controlArg(setup)]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(
      new RegExp(`^supervisor pid ${process.pid}, up \\d+s, manifest .*gworker\\.yaml\\n\\n`),
    );
    expect(row(stdout, 'FUNCTION')).toEqual([
      'FUNCTION',
      'KIND',
      'STATE',
      'CONC',
      'BUSY',
      'QUEUED',
      'THREADS',
      'GEN',
      'DONE',
      'FAILED',
      'EXCEPT',
      'JOBS/S',
      'P50',
      'P95',
      'P99',
      'SCALE',
    ]);
    const echo = row(stdout, 'echo');
    expect(echo.slice(0, 11)).toEqual(['echo', 'module', 'active', '2', '0', '0', '2', '1', '3', '0', '0']);
    expect(echo[12]).toMatch(/ms$/);
    expect(row(stdout, 'sleeps').slice(0, 9)).toEqual([
      'sleeps',
      'module',
      'paused',
      '1',
      '0',
      '2',
      '1',
      '1',
      '0',
    ]);
    expect(row(stdout, setup.gearman)).toEqual([
      setup.gearman,
      'echo',
      '1',
      'connected',
      '0',
      '0',
      '0',
      '1',
      '-',
    ]);
    const sleepsRow = stdout.split('\n').find((l) => l.startsWith(setup!.gearman) && l.includes('sleeps'));
    expect(sleepsRow?.trim().split(/\s+/)).toEqual([
      setup.gearman,
      'sleeps',
      '1',
      'connected',
      '0',
      '2',
      '0',
      '1',
      '-',
    ]);
  });

  it('prints the same snapshot as JSON, and leaves the queues out when asked', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
    await setup.client.run('echo', 'x');
    const json = JSON.parse((await cli(['status', '--json', ...controlArg(setup)])).stdout);
    expect(json).toMatchObject({
      pid: process.pid,
      draining: false,
      functions: [{ name: 'echo', done: 1, queued: 0, concurrency: 1 }],
      servers: [
        { server: setup.gearman, adminError: null, functions: [{ function: 'echo', queue: { queued: 0 } }] },
      ],
    });
    const bare = JSON.parse((await cli(['status', '--json', '--no-queues', ...controlArg(setup)])).stdout);
    expect(bare.functions[0].queued).toBeNull();
    expect(bare.servers[0].functions[0].queue).toBeNull();
  });

  it('shows jobs taken ahead with prefetch next to the busy slots', async () => {
    setup = await startControlled(
      '  sleeps: { handler: $FIXTURES/sleeps.js, payload: text, concurrency: 1, prefetch: 1 }\n',
    );
    for (let i = 0; i < 3; i++) await setup.client.submitBackground('sleeps', '1500');
    await eventually(() => setup?.supervisor.functions()[0]?.prefetched === 1);
    const { stdout } = await cli(['status', '--no-queues', ...controlArg(setup)]);
    // One running, one ready behind it in the thread; the third waits on the job server.
    expect(row(stdout, 'sleeps').slice(0, 5)).toEqual(['sleeps', 'module', 'active', '1', '1+1']);
    const json = JSON.parse((await cli(['status', '--json', '--no-queues', ...controlArg(setup)])).stdout);
    expect(json.functions[0]).toMatchObject({ name: 'sleeps', running: 1, prefetched: 1 });
  });

  it('shows the last reload of each function, and a rejected one with its error', async () => {
    setup = await startControlled(
      '  echo: { handler: $FIXTURES/echo.js, payload: text }\n  greet: { handler: $DIR/greet.js }\n',
      {},
      { 'greet.js': 'export default (s) => s;\n' },
    );
    // A scale resizes in place (no reload): reload echo's code for a new generation.
    await setup.supervisor.reloadHandlers(['echo']);
    writeFileSync(path.join(setup.dir, 'greet.js'), 'export default (s) => {');
    await setup.supervisor.reloadHandlers(['greet']);
    const { stdout } = await cli(['status', '--no-queues', ...controlArg(setup)]);
    const reloads = stdout.slice(stdout.indexOf('\nlast reloads:\n'));
    expect(reloads).toMatch(/\n {2}echo: \S+ generation 2\n/);
    expect(reloads).toMatch(/\n {2}greet: \S+ rejected, generation 1 keeps serving: cannot load .*greet\.js/);
  });

  it('names a job server whose queue depths it could not get, and shows its connections down', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
    await setup.jobServer.close();
    await eventually(() => setup?.supervisor.functions()[0]?.connections[0]?.connected === false);
    const { code, stdout } = await cli(['status', ...controlArg(setup)]);
    expect(code).toBe(0);
    expect(row(stdout, 'echo')[5]).toBe('-');
    const server = row(stdout, setup.gearman);
    expect(server.slice(0, 8)).toEqual([setup.gearman, 'echo', '1', 'down', '0', '-', '-', '-']);
    expect(stdout).toMatch(new RegExp(`\\nqueue depths of ${setup.gearman} unknown: .+\\n`));
  });
});

describe('gworker top', () => {
  it('redraws the snapshot every interval and stops after -n refreshes', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
    const running = cli(['top', '--interval', '200ms', '-n', '3', ...controlArg(setup)]);
    await setup.client.run('echo', 'x');
    const { code, stdout } = await running;
    expect(code).toBe(0);
    const frames = stdout.split(/^gworker top — /m).slice(1);
    expect(frames).toHaveLength(3);
    expect(frames[0]).toMatch(/^127\.0\.0\.1:\d+ — \d\d:\d\d:\d\d — q to quit\n/);
    expect(row(frames[2] as string, 'echo')[8]).toBe('1');
  });

  it('quits when q is typed', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
    const stdin = new PassThrough();
    const started = Date.now();
    const running = cli(['top', '--interval', '100ms', ...controlArg(setup)], { stdin });
    await eventually(() => Date.now() - started > 400);
    stdin.write('q');
    const { code, stdout } = await running;
    expect(code).toBe(0);
    expect(stdout.split(/^gworker top — /m).length - 1).toBeGreaterThanOrEqual(2);
  });

  it('keeps going with the error on screen when the supervisor stops answering', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
    const args = controlArg(setup);
    const running = cli(['top', '--interval', '150ms', '-n', '6', ...args]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await setup.control.close();
    const { code, stdout } = await running;
    expect(code).toBe(0);
    expect(stdout).toContain(`no supervisor answers on 127.0.0.1:${args[1]}: ECONNREFUSED`);
  });

  it('fails at once when the first request fails', async () => {
    const result = await cli(['top', '--control', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no supervisor answers on 127.0.0.1:1');
  });
});
