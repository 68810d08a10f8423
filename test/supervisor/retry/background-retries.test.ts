import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../../src/client/admin-client.js';
import { Client } from '../../../src/client/client.js';
import type { FunctionConfig } from '../../../src/supervisor/manifest/types.js';
import { wrapPayload } from '../../../src/supervisor/retry/carrier.js';
import { RetryService } from '../../../src/supervisor/retry/retry-service.js';
import { type InnerJob, TrackedJob } from '../../../src/supervisor/retry/tracked-job.js';
import type { JobEndInfo } from '../../../src/supervisor/runtime/function-runtime.js';
import type { Supervisor } from '../../../src/supervisor/supervisor.js';
import { describeWithPeers, killAll } from '../../helpers/peers.js';
import {
  embeddedServer,
  eventually,
  flaky,
  gearmandServer,
  RetryScratch,
  type TestServer,
} from './retry-fixture.js';

const retry = 'retry: { attempts: 3, backoff: fixed, delay: 1s }';

function suite(startServer: () => Promise<TestServer>): void {
  let server: TestServer;
  let scratch: RetryScratch;
  const supervisors: Supervisor[] = [];
  const clients: Array<Client | AdminClient> = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    for (const supervisor of supervisors.splice(0)) await supervisor.close({ force: true });
    await server?.stop();
    await killAll();
    scratch?.remove();
  });

  async function start(fn = `  flaky: { handler: ${flaky}, ${retry} }\n`): Promise<Supervisor> {
    server = await startServer();
    scratch = new RetryScratch();
    const supervisor = await scratch.supervisor(scratch.manifest(server.address, fn));
    supervisors.push(supervisor);
    return supervisor;
  }

  function client(): Client {
    const c = new Client({ servers: [server.address] });
    clients.push(c);
    return c;
  }

  it('retries a background job that fails twice through the job server, as epoch jobs, until it succeeds', async () => {
    const supervisor = await start();
    const ends: JobEndInfo[] = [];
    supervisor.on('jobEnd', (info) => ends.push(info));
    const admin = new AdminClient({ server: server.address });
    clients.push(admin);
    await client().submitBackground('flaky', scratch.task({ fail: 2 }), { unique: 'order-17' });
    // While the retry waits for its time, the server holds it queued and nobody runs it.
    expect(
      await eventually(async () => {
        const row = (await admin.status()).find((s) => s.function === 'flaky');
        return scratch.attempts().length === 1 && row?.total === 1 && row.running === 0;
      }),
    ).toBe(true);
    expect(await eventually(() => ends.some((end) => end.result === 'complete'), 15_000)).toBe(true);
    const attempts = scratch.attempts();
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    // The handler sees the unique first submitted; each attempt is a new job at the server.
    expect(attempts.every((a) => a.unique === 'order-17')).toBe(true);
    expect(new Set(attempts.map((a) => a.handle)).size).toBe(3);
    // The epoch waits: each retry ran no earlier than its 1s delay after the failure.
    for (let i = 1; i < attempts.length; i++) {
      expect(
        (attempts[i] as { at: number }).at - (attempts[i - 1] as { at: number }).at,
      ).toBeGreaterThanOrEqual(900);
    }
    expect(ends.map((end) => end.result)).toEqual(['exception', 'exception', 'complete']);
    expect(ends[0]?.reason).toMatch(/attempt 1 fails \(attempt 1 of 3; retry H:\S+ due at /);
  }, 30_000);

  it('counts a thread that exits and a timeout as attempts', async () => {
    await start(
      `  flaky: { handler: ${flaky}, timeout: 500ms, retry: { attempts: 2, backoff: fixed, delay: 1s, on: [crash, timeout] } }\n`,
    );
    const c = client();
    await c.submitBackground('flaky', scratch.task({ fail: 1, how: 'exit', tag: 'exit' }), {
      unique: 'exits',
    });
    await c.submitBackground('flaky', scratch.task({ fail: 1, how: 'hang', tag: 'hang' }), {
      unique: 'hangs',
    });
    const attempts = await scratch.waitForAttempts(4, 15_000);
    expect(attempts.filter((a) => a.unique === 'exits').map((a) => a.attempt)).toEqual([1, 2]);
    expect(attempts.filter((a) => a.unique === 'hangs').map((a) => a.attempt)).toEqual([1, 2]);
  }, 30_000);

  it('does not retry an error marked permanent', async () => {
    const supervisor = await start();
    const ends: JobEndInfo[] = [];
    supervisor.on('jobEnd', (info) => ends.push(info));
    await client().submitBackground('flaky', scratch.task({ fail: 3, how: 'permanent' }), { unique: 'p' });
    expect(await eventually(() => ends.length === 1)).toBe(true);
    expect(ends[0]?.reason).toMatch(/no point trying again \(attempt 1 of 3; permanent: not retried\)/);
    await new Promise((r) => setTimeout(r, 2000));
    expect(scratch.attempts()).toHaveLength(1);
  }, 30_000);

  it('retries coalesced submits once', async () => {
    await start();
    const c = client();
    const task = scratch.task({ fail: 1, holdMs: 300 });
    await Promise.all([
      c.submitBackground('flaky', task, { unique: 'same' }),
      c.submitBackground('flaky', task, { unique: 'same' }),
    ]);
    const attempts = await scratch.waitForAttempts(2);
    await new Promise((r) => setTimeout(r, 2500));
    expect(scratch.attempts().map((a) => a.attempt)).toEqual([1, 2]);
    expect(attempts.every((a) => a.unique === 'same')).toBe(true);
  }, 30_000);

  it('makes one job at the server of a retry submitted twice (the original requeued and failed again)', async () => {
    await start();
    const [host, port] = server.address.split(':') as [string, string];
    const config = (supervisors[0] as Supervisor).manifest.functions[0] as FunctionConfig;
    const service = new RetryService();
    const failed = async (): Promise<void> => {
      const job = new TrackedJob(
        fakeJob('H:test:1', 'twice'),
        config,
        { host, port: Number(port), connections: 1 },
        service,
      );
      await job.afterFailure({ reason: 'handler', error: { name: 'Error', message: 'boom' } });
    };
    try {
      // The supervisor's own connection must not take the retry meanwhile: its delay is 1s.
      await failed();
      await failed();
      const admin = new AdminClient({ server: server.address });
      clients.push(admin);
      expect((await admin.status()).find((s) => s.function === 'flaky')?.total).toBe(1);
    } finally {
      await service.close();
    }
  });

  it('loses no retry when the supervisor restarts between attempts: it waits at the job server', async () => {
    const first = await start(
      `  flaky: { handler: ${flaky}, retry: { attempts: 2, backoff: fixed, delay: 2s } }\n`,
    );
    const ended = new Promise<JobEndInfo>((resolve) => first.once('jobEnd', resolve));
    await client().submitBackground('flaky', scratch.task({ fail: 1 }), { unique: 'survives' });
    expect((await ended).reason).toMatch(/retry H:/);
    await first.close();
    const second = await scratch.supervisor(
      scratch.manifest(
        server.address,
        `  flaky: { handler: ${flaky}, retry: { attempts: 2, backoff: fixed, delay: 2s } }\n`,
      ),
    );
    supervisors.push(second);
    const attempts = await scratch.waitForAttempts(2, 15_000);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2]);
  }, 30_000);
}

/** A job as the worker library hands it over, answering every call with true. */
function fakeJob(handle: string, unique: string): InnerJob {
  const ok = () => true;
  return {
    handle,
    unique,
    functionName: 'flaky',
    // Arrived as a retry (attempt 2): known to be a background job.
    payload: wrapPayload(
      { attempt: 2, unique, key: 'k', firstFailedAt: Date.now(), errors: [] },
      Buffer.from('{}'),
    ),
    signal: new AbortController().signal,
    status: ok,
    data: ok,
    warning: ok,
    complete: ok,
    fail: ok,
    exception: ok,
  };
}

describe('background retries on the embedded server', () => suite(embeddedServer));
describeWithPeers(['gearmand'], 'background retries on gearmand 1.1.20', () => suite(gearmandServer));
