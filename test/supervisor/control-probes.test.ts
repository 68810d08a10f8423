// Issue 12: /healthz and /readyz on the control API, in the conventions of Kubernetes probes.
import { afterEach, describe, expect, it } from 'vitest';
import { type Controlled, eventually, lanAddress, startControlled } from './control-fixture.js';

const kToken = 'probe-token-0123456789abcdef';

let setup: Controlled | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

async function probe(
  base: string,
  pathname: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${base}${pathname}`, { headers });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('the control API probes', () => {
  it('answer 200 "ok" in plain text without the token on loopback, and list every check with ?verbose', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', { token: kToken });
    // Everything else asks for the token.
    expect((await probe(setup.base, '/api/status')).status).toBe(401);
    expect(await probe(setup.base, '/healthz')).toEqual({
      status: 200,
      type: 'text/plain; charset=utf-8',
      text: 'ok\n',
    });
    await eventually(async () => (await probe(setup?.base ?? '', '/readyz')).status === 200);
    expect((await probe(setup.base, '/readyz')).text).toBe('ok\n');
    expect((await probe(setup.base, '/readyz?verbose')).text).toBe(
      '[+]loop ok\n[+]draining ok\n[+]function:echo ok\nreadyz check passed\n',
    );
    expect((await probe(setup.base, '/healthz?verbose=1')).text).toBe('[+]loop ok\nhealthz check passed\n');
  });

  it('/readyz answers 503 and names the server when a function has no job server', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n');
    await eventually(async () => (await probe(setup?.base ?? '', '/readyz')).status === 200);
    await setup.jobServer.close();
    await eventually(async () => (await probe(setup?.base ?? '', '/readyz')).status === 503);
    const down = await probe(setup.base, '/readyz');
    expect(down.text).toMatch(
      new RegExp(
        `^\\[-\\]function:echo failed: no job server connected \\(${setup.gearman}: .+\\)\\nreadyz check failed\\n$`,
      ),
    );
    // Liveness is not readiness: the process is fine, a restart would not bring the server back.
    expect((await probe(setup.base, '/healthz')).status).toBe(200);
  });

  it('/readyz answers 503 "draining" once a drain began, while /healthz stays 200', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', { drain: () => {} });
    await eventually(async () => (await probe(setup?.base ?? '', '/readyz')).status === 200);
    setup.control.api.drain();
    expect(await probe(setup.base, '/readyz')).toMatchObject({
      status: 503,
      text: '[-]draining failed: draining: no new jobs; running jobs finish, then the process exits\nreadyz check failed\n',
    });
    expect((await probe(setup.base, '/healthz')).status).toBe(200);
  });

  it('/healthz answers 503 after the event loop stalled, and 200 once the stall is out of the window', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', {
      loop: { stallMs: 300, windowMs: 1500, intervalMs: 50 },
    });
    expect((await probe(setup.base, '/healthz')).status).toBe(200);
    // The control server runs on this thread: block it the way a runaway main-thread task would.
    const until = Date.now() + 700;
    while (Date.now() < until) {}
    const stalled = await probe(setup.base, '/healthz');
    expect(stalled.status).toBe(503);
    expect(stalled.text).toMatch(
      /^\[-\]loop failed: the event loop stalled for \d+\.\d s, \d+\.\d s ago\nhealthz check failed\n$/,
    );
    expect((await probe(setup.base, '/readyz')).status).toBe(503);
    await eventually(async () => (await probe(setup?.base ?? '', '/healthz')).status === 200, 4000);
  });

  it.skipIf(lanAddress === undefined)(
    'answer a peer on another host without the token, withholding the reasons the token would show',
    async () => {
      setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', {
        listen: { kind: 'tcp', host: '0.0.0.0', port: 0 },
        token: kToken,
        drain: () => {},
      });
      const lan = `http://${lanAddress}:${(setup.control.address as { port: number }).port}`;
      expect((await probe(lan, '/api/status')).status).toBe(401);
      await eventually(async () => (await probe(lan, '/readyz')).status === 200);
      setup.control.api.drain();
      expect(await probe(lan, '/readyz')).toMatchObject({
        status: 503,
        text: '[-]draining failed: reason withheld\nreadyz check failed\n',
      });
      const withToken = await probe(lan, '/readyz', { authorization: `Bearer ${kToken}` });
      expect(withToken.text).toContain('[-]draining failed: draining: no new jobs');
    },
  );
});
