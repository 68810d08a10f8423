import { readFileSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { renderStatus } from '../../src/cli/commands/status.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { type Controlled, call, eventually, startControlled } from './control-fixture.js';

let setup: Controlled | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

/** The value of one sample line of Prometheus text, e.g. `gworker_box_slots` or `x{function="a"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

it('shows the box budget and a rate limit that was hit in status, the status table and metrics', async () => {
  // The fixture writes function lines last; a line at column 0 goes back to the top level.
  setup = await startControlled(
    '  paced: { handler: $FIXTURES/echo.js, payload: text, concurrency: 2, rateLimit: { jobs: 2, per: 1m } }\n' +
      'box: { slots: 2, cpuSlots: 1 }\n',
  );
  const { client, supervisor } = setup;
  expect((await client.run('paced', 'one')).toString()).toBe('one');
  expect((await client.run('paced', 'two')).toString()).toBe('two');
  // The third waits at the job server for the minute's window: the limit holds it back.
  const third = client.run('paced', 'three').catch(() => null);
  await eventually(() => supervisor.functions()[0]?.rateLimit?.throttled === true);
  const status = (await call(setup.base, 'GET', '/api/status')).body;
  expect(status.box).toMatchObject({ slots: 2, used: 0, cpuSlots: 1, cpuUsed: 0, memory: null });
  expect(status.functions[0]).toMatchObject({
    name: 'paced',
    weight: 1,
    done: 2,
    rateLimit: { jobs: 2, perMs: 60_000, throttled: true, hits: 1 },
  });
  expect(renderStatus(status)).toContain('box: 0/2 slots used, CPU-bound 0/1');
  const metrics = await (await fetch(`${setup.base}/metrics`)).text();
  expect(sample(metrics, 'gworker_box_slots')).toBe(2);
  expect(sample(metrics, 'gworker_box_slots_used')).toBe(0);
  expect(sample(metrics, 'gworker_box_cpu_slots')).toBe(1);
  expect(sample(metrics, 'gworker_rate_limit_hits_total{function="paced"}')).toBe(1);
  expect(sample(metrics, 'gworker_rate_limited_seconds_total{function="paced"}')).toBeGreaterThan(0);
  expect(sample(metrics, 'gworker_box_memory_over')).toBe(0);
  expect(sample(metrics, 'gworker_box_resident_bytes')).toBeGreaterThan(20 * 1024 * 1024);
  await setup.close();
  setup = undefined;
  await third;
});

it('applies a changed weight, cpu and rateLimit on reload without a new thread generation', async () => {
  setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
  const { supervisor } = setup;
  expect(supervisor.functions()[0]).toMatchObject({ weight: 1, rateLimit: null, generation: 1 });
  const next = parseManifest(
    readFileSync(supervisor.manifest.file, 'utf8').replace(
      'payload: text }',
      'payload: text, weight: 5, cpu: true, rateLimit: { jobs: 1, per: 1m } }',
    ),
    supervisor.manifest.file,
    { env: {} },
  );
  await supervisor.applyManifest(next);
  expect(supervisor.functions()[0]).toMatchObject({
    weight: 5,
    rateLimit: { jobs: 1, perMs: 60_000, hits: 0 },
    generation: 1,
  });
  expect((await setup.client.run('echo', 'a')).toString()).toBe('a');
  expect(supervisor.boxStatus().cpuUsed).toBe(0);
  // The one job of the minute ran: the next waits, held back by the limit.
  await eventually(() => supervisor.bindings()[0]?.gate.rateLimit?.snapshot().throttled === true);
});
