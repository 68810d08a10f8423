// Issue 11, "What the operator reads": the dashboard's last errors, queue depth over time
// and the other workers of each function, as the control API answers them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { ControlApi } from '../../src/supervisor/control/control-api.js';
import { defaultClientId } from '../../src/supervisor/default-client-id.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { Worker } from '../../src/worker/worker.js';
import { startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import {
  type Controlled,
  call,
  eventually,
  fixtures,
  type Json,
  startControlled,
} from './control-fixture.js';

let setup: Controlled | undefined;
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close({ force: true })));
  await setup?.close();
  setup = undefined;
});

async function otherWorker(server: string, clientId: string, fn: string): Promise<Worker> {
  const worker = new Worker({ servers: [server], clientId });
  worker.register(fn, async (job) => job.payload);
  workers.push(worker);
  await worker.start();
  return worker;
}

describe('control API: last errors', () => {
  it('keeps each function’s recent failures with type and message, newest first, bounded per function', async () => {
    setup = await startControlled(
      '  broken: { handler: $FIXTURES/type-error.js, payload: text }\n  echo: { handler: $FIXTURES/echo.js, payload: text }\n',
      { failures: { perFunction: 3, messageChars: 60 } },
    );
    for (const payload of ['p0', 'p1', 'p2', 'p3', 'x'.repeat(100)]) {
      await expect(setup.client.run('broken', payload)).rejects.toThrow();
    }
    await setup.client.run('echo', 'fine');
    const { status, body } = await call(setup.base, 'GET', '/api/errors');
    expect(status).toBe(200);
    expect(body.functions.echo).toEqual({ total: 0, recent: [] });
    const broken = body.functions.broken;
    expect(broken.total).toBe(5);
    expect(broken.recent.map((r: Json) => r.message.slice(0, 32))).toEqual([
      'expected a JSON object, got "xxx',
      'expected a JSON object, got "p3"',
      'expected a JSON object, got "p2"',
    ]);
    expect(broken.recent[0].message).toMatch(
      /^expected a JSON object, got "x{31}… \(70 more characters not kept\)$/,
    );
    expect(broken.recent[1]).toMatchObject({
      function: 'broken',
      kind: 'exception',
      type: 'TypeError',
      generation: 1,
      handle: expect.stringMatching(/^H:/),
    });
    expect(Date.parse(broken.recent[1].at)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('control API: queue depth over time', () => {
  it('samples the job server’s queue into the history while nobody asks for the status', async () => {
    setup = await startControlled('  sleeps: { handler: $FIXTURES/sleeps.js, payload: text }\n', {
      queueSampleMs: 100,
      history: { bucketMs: 200 },
    });
    setup.supervisor.pause('sleeps');
    for (let i = 0; i < 3; i++) await setup.client.submitBackground('sleeps', '10');
    const latest = async () => {
      const { body } = await call(setup?.base ?? '', 'GET', '/api/history');
      const points = body.queues.sleeps as Json[];
      return points.filter((p) => p.queued !== null).at(-1);
    };
    await eventually(async () => (await latest())?.queued === 3, 5000);
    expect((await latest()).running).toBe(0);
    setup.supervisor.resume('sleeps');
    await eventually(async () => (await latest())?.queued === 0, 8000);
  });
});

describe('control API: who serves each function', () => {
  it('lists the supervisor’s own connections and another worker, and caches the answer', async () => {
    setup = await startControlled(
      '  echo: { handler: $FIXTURES/echo.js, payload: text }\n  solo: { handler: $FIXTURES/echo.js, payload: text }\n',
      { workers: { cacheMs: 1000 } },
    );
    await otherWorker(setup.gearman, 'other-box', 'echo');
    let body: Json;
    await eventually(async () => {
      body = (await call(setup?.base ?? '', 'GET', '/api/workers')).body;
      return body.functions.echo.workers.length === 2;
    }, 5000);
    expect(body.clientId).toBe(defaultClientId());
    expect(body.servers).toEqual([{ server: setup.gearman, error: null }]);
    expect(body.functions.echo.workers).toEqual([
      {
        server: setup.gearman,
        fd: expect.any(Number),
        address: '127.0.0.1',
        clientId: body.clientId,
        self: true,
      },
      {
        server: setup.gearman,
        fd: expect.any(Number),
        address: '127.0.0.1',
        clientId: 'other-box',
        self: false,
      },
    ]);
    expect(body.functions.solo).toEqual({
      workers: [expect.objectContaining({ clientId: body.clientId, self: true })],
      more: 0,
    });

    // Within cacheMs the servers are not asked again: a worker that just came is not listed yet.
    await otherWorker(setup.gearman, 'late-box', 'echo');
    const cached = (await call(setup.base, 'GET', '/api/workers')).body;
    expect(cached.fetchedAt).toBe(body.fetchedAt);
    expect(cached.functions.echo.workers).toHaveLength(2);
    await eventually(async () => {
      const fresh = (await call(setup?.base ?? '', 'GET', '/api/workers')).body;
      return fresh.functions.echo.workers.some((w: Json) => w.clientId === 'late-box');
    }, 5000);
  });

  it('lists at most maxPerFunction workers per function, its own first, and says how many more', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n', {
      workers: { cacheMs: 100, maxPerFunction: 2 },
    });
    for (const id of ['box-a', 'box-b', 'box-c']) await otherWorker(setup.gearman, id, 'echo');
    let echo: Json;
    await eventually(async () => {
      echo = (await call(setup?.base ?? '', 'GET', '/api/workers')).body.functions.echo;
      return echo.more === 2;
    }, 5000);
    expect(echo.workers).toHaveLength(2);
    expect(echo.workers[0].self).toBe(true);
  });

  it('names the supervisor gworker-HOST-PID unless the manifest sets a clientId', () => {
    expect(defaultClientId('compute 01', 4242)).toBe('gworker-compute_01-4242');
    expect(defaultClientId('h'.repeat(300), 7)).toBe('gworker-7');
  });
});

describeWithPeers(['gearmand'], 'control API against gearmand: queues and workers', () => {
  afterEach(killAll);

  it('reads the queue history and the workers listing from gearmand 1.1.20', async () => {
    const gearmand = await startGearmand();
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-dash-'));
    const file = path.join(dir, 'gworker.yaml');
    const text = `servers: ["${gearmand.address}"]\nshutdownTimeout: 5s\nfunctions:\n  sleeps: { handler: ${fixtures}sleeps.js, payload: text }\n`;
    writeFileSync(file, text);
    const supervisor = new Supervisor(parseManifest(text, file, { env: {} }), { regrabIntervalMs: 300 });
    const client = new Client({ servers: [gearmand.address] });
    await supervisor.start();
    const api = new ControlApi(supervisor, {
      queueSampleMs: 100,
      history: { bucketMs: 200 },
      metrics: { defaultMetrics: false },
    });
    try {
      await otherWorker(gearmand.address, 'php-box', 'sleeps');
      await eventually(async () => {
        const listed = (await api.workers()).functions.sleeps?.workers ?? [];
        return listed.some((w) => w.self) && listed.some((w) => w.clientId === 'php-box');
      }, 8000);

      supervisor.pause('sleeps');
      await workers.splice(0)[0]?.close();
      for (let i = 0; i < 2; i++) await client.submitBackground('sleeps', '10');
      await eventually(() => api.history().queues.sleeps?.some((p) => p.queued === 2) ?? false, 5000);
    } finally {
      await api.close();
      await client.close();
      await supervisor.close({ force: true });
      await gearmand.stop();
    }
  });
});
