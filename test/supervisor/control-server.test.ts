import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { type Controlled, call, eventually, type Json, startControlled } from './control-fixture.js';

let setup: Controlled | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

const fn = (body: { functions: Array<{ name: string }> }, name: string) =>
  body.functions.find((f) => f.name === name) as Record<string, Json>;

/** A raw request, for headers fetch will not let a test set (Host). */
function raw(port: number, headers: Record<string, string>): Promise<{ status: number; body: Json }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/api/status?queues=0', headers, agent: false },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('control API', () => {
  it('reports functions, their counters and the job servers, and the numbers follow the jobs', async () => {
    setup = await startControlled(
      '  echo: { handler: $FIXTURES/echo.js, payload: text, concurrency: 2 }\n  boom: { handler: $FIXTURES/throws.js }\n',
    );
    const before = await call(setup.base, 'GET', '/api/status');
    expect(before.status).toBe(200);
    expect(fn(before.body, 'echo')).toMatchObject({
      kind: 'module',
      concurrency: 2,
      running: 0,
      paused: false,
      threads: 2,
      // Checked at start in the one shared thread: none of its own until a job comes.
      threadsStarted: 0,
      threadsIdle: 0,
      generation: 1,
      done: 0,
      queued: 0,
    });
    expect(before.body.servers).toEqual([
      {
        server: setup.gearman,
        adminError: null,
        functions: expect.arrayContaining([
          expect.objectContaining({ function: 'echo', connections: 1, connected: true, reconnects: 0 }),
        ]),
      },
    ]);
    for (let i = 0; i < 3; i++) await setup.client.run('echo', `x${i}`);
    await expect(setup.client.run('boom', 'y')).rejects.toThrow();
    const after = (await call(setup.base, 'GET', '/api/status')).body;
    expect(fn(after, 'echo')).toMatchObject({ done: 3, failed: 0, excepted: 0 });
    expect(fn(after, 'echo').p50Ms).toBeGreaterThan(0);
    expect(fn(after, 'boom')).toMatchObject({ done: 0, excepted: 1 });
    expect(after.pid).toBe(process.pid);
    expect(after.draining).toBe(false);
  });

  it('pauses a function: a submitted job stays queued on the server until resume', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
    const paused = await call(setup.base, 'POST', '/api/functions/echo/pause');
    expect(paused).toMatchObject({ status: 200, body: { name: 'echo', paused: true } });
    await setup.client.submitBackground('echo', 'later');
    const admin = new AdminClient({ server: setup.gearman });
    try {
      await new Promise((resolve) => setTimeout(resolve, 700)); // two re-grab periods: time to take it if it would
      expect((await admin.status()).find((r) => r.function === 'echo')).toMatchObject({
        total: 1,
        running: 0,
      });
      const status = (await call(setup.base, 'GET', '/api/status')).body;
      expect(fn(status, 'echo')).toMatchObject({ paused: true, queued: 1, done: 0 });
      expect(status.servers[0].functions[0].queue).toEqual({ queued: 1, running: 0, workers: 1 });
      expect(await call(setup.base, 'POST', '/api/functions/echo/resume')).toMatchObject({
        status: 200,
        body: { paused: false },
      });
      await eventually(
        async () => fn((await call(setup!.base, 'GET', '/api/status')).body, 'echo').done === 1,
      );
      expect((await admin.status()).find((r) => r.function === 'echo')).toMatchObject({ total: 0 });
    } finally {
      await admin.close();
    }
  });

  it('scales a function: new concurrency, in place (the same generation)', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
    const scaled = await call(setup.base, 'POST', '/api/functions/echo/scale', { body: { concurrency: 3 } });
    expect(scaled).toMatchObject({ status: 200, body: { concurrency: 3, threads: 3, generation: 1 } });
    expect(fn((await call(setup.base, 'GET', '/api/status')).body, 'echo')).toMatchObject({
      concurrency: 3,
      generation: 1,
    });
    expect((await setup.client.run('echo', 'still')).toString()).toBe('still');
  });

  it('answers 400, 404 and 405 for bad commands, unknown functions and routes', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n');
    const scale = (body: unknown) => call(setup!.base, 'POST', '/api/functions/echo/scale', { body });
    for (const body of [{}, { concurrency: 0 }, { concurrency: 1.5 }, { concurrency: '2' }]) {
      expect(await scale(body)).toMatchObject({ status: 400, body: { error: { code: 'bad_concurrency' } } });
    }
    expect(await call(setup.base, 'POST', '/api/functions/nope/pause')).toMatchObject({
      status: 404,
      body: { error: { code: 'unknown_function' } },
    });
    expect(
      await call(setup.base, 'POST', '/api/functions/nope/scale', { body: { concurrency: 2 } }),
    ).toMatchObject({
      status: 404,
    });
    expect((await call(setup.base, 'GET', '/api/nothing')).status).toBe(404);
    expect((await call(setup.base, 'GET', '/api/reload')).status).toBe(405);
    const res = await fetch(`${setup.base}/api/reload`, {
      method: 'POST',
      body: 'x',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
  });

  it('reloads handler code; code that fails to load is rejected and the old code keeps serving', async () => {
    setup = await startControlled(
      '  greet: { handler: $DIR/greet.js, payload: text }\n  ls: { command: [ls] }\n',
      {},
      { 'greet.js': "export default (s) => 'hello ' + s;\n" },
    );
    expect((await setup.client.run('greet', 'a')).toString()).toBe('hello a');
    writeFileSync(path.join(setup.dir, 'greet.js'), "export default (s) => 'hi ' + s;\n");
    const ok = await call(setup.base, 'POST', '/api/reload');
    expect(ok).toMatchObject({
      status: 200,
      body: { ok: true, manifest: null, functions: [{ function: 'greet', ok: true, generation: 2 }] },
    });
    expect((await setup.client.run('greet', 'b')).toString()).toBe('hi b');
    writeFileSync(path.join(setup.dir, 'greet.js'), 'export default (s) => {');
    const rejected = await call(setup.base, 'POST', '/api/reload');
    expect(rejected.status).toBe(422);
    expect(rejected.body.ok).toBe(false);
    expect(rejected.body.functions[0]).toMatchObject({ function: 'greet', ok: false, generation: 2 });
    expect(rejected.body.functions[0].error).toContain('greet.js');
    expect((await setup.client.run('greet', 'c')).toString()).toBe('hi c');
    expect(fn((await call(setup.base, 'GET', '/api/status')).body, 'greet').lastReload).toMatchObject({
      ok: false,
    });
  });

  it('uses the reload callback for the manifest and reports when it is rejected', async () => {
    let calls = 0;
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', {
      reload: async () => (++calls === 1 ? { ok: true } : { ok: false, error: 'functions.echo: bad' }),
    });
    expect(await call(setup.base, 'POST', '/api/reload')).toMatchObject({
      status: 200,
      body: { ok: true, manifest: { ok: true }, functions: [{ function: 'echo', ok: true }] },
    });
    expect(await call(setup.base, 'POST', '/api/reload')).toMatchObject({
      status: 422,
      body: { ok: false, manifest: { ok: false, error: 'functions.echo: bad' }, functions: [] },
    });
  });

  it('drains: calls the owner, shows draining, and refuses further commands', async () => {
    let drains = 0;
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', { drain: () => drains++ });
    expect(await call(setup.base, 'POST', '/api/drain')).toMatchObject({
      status: 202,
      body: { draining: true, shutdownTimeoutMs: 5000 },
    });
    expect((await call(setup.base, 'POST', '/api/drain')).status).toBe(202);
    expect(drains).toBe(1);
    expect((await call(setup.base, 'GET', '/api/status')).body.draining).toBe(true);
    for (const path of ['/api/functions/echo/resume', '/api/functions/echo/pause', '/api/reload']) {
      expect(await call(setup.base, 'POST', path)).toMatchObject({
        status: 409,
        body: { error: { code: 'draining' } },
      });
    }
  });

  it('drains the supervisor itself when no owner takes the drain', async () => {
    setup = await startControlled('  sleeps: { handler: $FIXTURES/sleeps.js, payload: text }\n');
    const job = setup.client.run('sleeps', '300');
    await eventually(() => setup!.supervisor.functions()[0]?.running === 1);
    expect((await call(setup.base, 'POST', '/api/drain')).status).toBe(202);
    expect((await job).toString()).toBe('slept 300');
    expect(setup.supervisor.functions()[0]?.paused).toBe(true);
  });

  it('refuses commands that a web page of another origin could send', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n');
    const form = await fetch(`${setup.base}/api/functions/echo/pause`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    expect(form.status).toBe(415);
    expect(
      await call(setup.base, 'POST', '/api/functions/echo/pause', {
        headers: { origin: 'http://evil.example' },
      }),
    ).toMatchObject({ status: 403, body: { error: { code: 'cross_origin' } } });
    const port = Number(new URL(setup.base).port);
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own name as Host.
    expect(await raw(port, { host: `evil.example:${port}` })).toMatchObject({
      status: 403,
      body: { error: { code: 'bad_host' } },
    });
    expect((await raw(port, { host: `localhost:${port}` })).status).toBe(200);
    expect(setup.supervisor.functions()[0]?.paused).toBe(false);
  });

  it('serves the dashboard files with a strict content security policy', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', {
      token: 'a-long-enough-token-1234',
    });
    const page = await fetch(`${setup.base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script src="app.js"');
    expect((await fetch(`${setup.base}/app.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${setup.base}/style.css`)).status).toBe(200);
  });
});
