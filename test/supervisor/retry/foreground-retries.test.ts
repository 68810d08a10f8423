import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../../src/client/client.js';
import type { JobUpdate } from '../../../src/client/job.js';
import { JobExceptionError } from '../../../src/errors.js';
import type { Supervisor } from '../../../src/supervisor/supervisor.js';
import { describeWithPeers, killAll } from '../../helpers/peers.js';
import { embeddedServer, flaky, gearmandServer, RetryScratch, type TestServer } from './retry-fixture.js';

function suite(startServer: () => Promise<TestServer>): void {
  let server: TestServer;
  let scratch: RetryScratch;
  let supervisor: Supervisor | undefined;
  let client: Client | undefined;

  afterEach(async () => {
    await client?.close();
    await supervisor?.close({ force: true });
    await server?.stop();
    await killAll();
    scratch?.remove();
  });

  async function start(fn: string): Promise<Client> {
    server = await startServer();
    scratch = new RetryScratch();
    supervisor = await scratch.supervisor(scratch.manifest(server.address, fn));
    client = new Client({ servers: [server.address] });
    return client;
  }

  async function collect(job: AsyncIterable<JobUpdate>): Promise<string[]> {
    const warnings: string[] = [];
    for await (const update of job) if (update.type === 'warning') warnings.push(update.data.toString());
    return warnings;
  }

  it('retries a foreground job in place and gives the client its result, with a warning per failed attempt', async () => {
    const c = await start(
      `  flaky: { handler: ${flaky}, retry: { attempts: 3, backoff: fixed, delay: 200ms } }\n`,
    );
    const job = c.submit('flaky', scratch.task({ fail: 2 }), { unique: 'fg-1', timeoutMs: 10_000 });
    const warnings = collect(job);
    expect((await job.result).toString()).toBe('ok after 3');
    expect(await warnings).toEqual([
      'attempt 1 of 3 failed (exception): attempt 1 fails; retrying in 200 ms',
      'attempt 2 of 3 failed (exception): attempt 2 fails; retrying in 200 ms',
    ]);
    // In place: one job at the server, the same handle for every attempt.
    const attempts = scratch.attempts();
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(new Set(attempts.map((a) => a.handle)).size).toBe(1);
  }, 20_000);

  it('retries a foreground job without a unique in place too', async () => {
    const c = await start(
      `  flaky: { handler: ${flaky}, retry: { attempts: 2, backoff: fixed, delay: 100ms } }\n`,
    );
    expect((await c.run('flaky', scratch.task({ fail: 1 }), { timeoutMs: 10_000 })).toString()).toBe(
      'ok after 2',
    );
  }, 20_000);

  it('ends a retry waiting in place with its failure when the supervisor stops', async () => {
    const c = await start(
      `  flaky: { handler: ${flaky}, retry: { attempts: 2, backoff: fixed, delay: 30s } }\n`,
    );
    const run = c
      .run('flaky', scratch.task({ fail: 1 }), { unique: 'fg-stop', timeoutMs: 10_000 })
      .catch((e) => e);
    await scratch.waitForAttempts(1);
    await new Promise((r) => setTimeout(r, 200));
    const stopped = Date.now();
    await supervisor?.close();
    const failure = await run;
    expect(Date.now() - stopped).toBeLessThan(5000);
    expect(String((failure as Error).message)).toMatch(/not retried: the supervisor is stopping/);
  }, 20_000);

  it('gives the client the final failure when the attempts run out', async () => {
    const c = await start(
      `  flaky: { handler: ${flaky}, retry: { attempts: 2, backoff: fixed, delay: 100ms } }\n`,
    );
    const failure = await c
      .run('flaky', scratch.task({ fail: 5 }), { unique: 'fg-2', timeoutMs: 10_000 })
      .catch((e) => e);
    expect(failure).toBeInstanceOf(JobExceptionError);
    expect(String((failure as JobExceptionError).message)).toMatch(/attempt 2 fails \(attempt 2 of 2\)/);
    expect(scratch.attempts()).toHaveLength(2);
  }, 20_000);

  it('retries in place only within the job timeout', async () => {
    const c = await start(
      `  flaky: { handler: ${flaky}, timeout: 1s, retry: { attempts: 5, backoff: fixed, delay: 500ms } }\n`,
    );
    const failure = await c
      .run('flaky', scratch.task({ fail: 5, holdMs: 300 }), { unique: 'fg-3', timeoutMs: 10_000 })
      .catch((e) => e);
    expect(failure).toBeInstanceOf(JobExceptionError);
    expect(String((failure as JobExceptionError).message)).toMatch(
      /not retried: its timeout of 1000 ms leaves no time for another attempt/,
    );
    // 300 ms run + 500 ms wait left 200 ms of the 1s for attempt 2, which ran past it;
    // then nothing was left for attempt 3.
    expect(scratch.attempts().map((a) => a.attempt)).toEqual([1, 2]);
  }, 20_000);
}

describe('foreground retries on the embedded server', () => {
  suite(embeddedServer);
});
describeWithPeers(['gearmand'], 'foreground retries on gearmand 1.1.20', () => suite(gearmandServer));
