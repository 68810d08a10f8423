import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Controlled, eventually, startControlled } from '../control-fixture.js';

let setup: Controlled | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

/** The value of one sample of `/metrics`, found by its name and labels as written. */
async function sample(base: string, line: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('retry metrics', () => {
  it('counts retries by function, cause and way, and dead letters by function and cause', async () => {
    setup = await startControlled(
      '  flaky: { handler: $FIXTURES/flaky.js, retry: { attempts: 2, backoff: fixed, delay: 1s }, deadLetter: flaky.dead }\n',
    );
    const log = path.join(setup.dir, 'attempts.jsonl');
    // Background: attempt 1 fails, its retry goes through the server, attempt 2 fails and is dead-lettered.
    await setup.client.submitBackground('flaky', JSON.stringify({ log, fail: 5 }), { unique: 'bg' });
    // Foreground: attempt 1 fails, attempt 2 runs in place and completes.
    expect(
      (await setup.client.run('flaky', JSON.stringify({ log, fail: 1 }), { unique: 'fg' })).toString(),
    ).toBe('ok after 2');
    const base = setup.base;
    const dead = 'gworker_jobs_dead_lettered_total{function="flaky",cause="exception"}';
    await eventually(async () => (await sample(base, dead)) === 1, 10_000);
    expect(
      await sample(base, 'gworker_job_retries_total{function="flaky",cause="exception",via="server"}'),
    ).toBe(1);
    expect(
      await sample(base, 'gworker_job_retries_total{function="flaky",cause="exception",via="in-place"}'),
    ).toBe(1);
  }, 20_000);
});
