import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/cli/control-client.js';
import { tokenMatches } from '../../src/supervisor/control/access.js';
import { ControlError } from '../../src/supervisor/control/control-error.js';
import { ControlServer } from '../../src/supervisor/control/control-server.js';
import type { StatusDocument } from '../../src/supervisor/control/status-document.js';
import { killAll, spawnTracked, stopProcess } from '../helpers/peers.js';
import { type Controlled, call, lanAddress, startControlled } from './control-fixture.js';

const kToken = 'test-token-0123456789abcdef';

let setup: Controlled | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
  await killAll();
});

describe('control API access', () => {
  it('asks for the token on every API route and compares it exactly', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', { token: kToken });
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    for (const [method, route] of [
      ['GET', '/api/status'],
      ['GET', '/api/history'],
      ['GET', '/metrics'],
      ['POST', '/api/functions/echo/pause'],
      ['POST', '/api/drain'],
    ] as const) {
      const missing = await call(setup.base, method, route);
      expect(missing).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
      expect((await call(setup.base, method, route, bearer(`${kToken}x`))).status).toBe(401);
      expect((await call(setup.base, method, route, bearer(kToken.slice(0, -1)))).status).toBe(401);
    }
    expect(setup.supervisor.functions()[0]?.paused).toBe(false);
    expect((await call(setup.base, 'GET', '/api/status', bearer(kToken))).status).toBe(200);
    expect((await call(setup.base, 'POST', '/api/functions/echo/pause', bearer(kToken))).status).toBe(200);
    const res = await fetch(`${setup.base}/api/status`);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="gworker"');
  });

  it('matches tokens only whole, whatever their length', () => {
    expect(tokenMatches(`Bearer ${kToken}`, kToken)).toBe(true);
    expect(tokenMatches(`bearer ${kToken}`, kToken)).toBe(true);
    expect(tokenMatches(kToken, kToken)).toBe(false);
    expect(tokenMatches(undefined, kToken)).toBe(false);
    expect(tokenMatches('Bearer ', kToken)).toBe(false);
    expect(tokenMatches(`Bearer ${kToken} extra`, kToken)).toBe(false);
  });

  it('refuses to answer other hosts without a token', () => {
    expect(
      () => new ControlServer({} as never, { listen: { kind: 'tcp', host: '0.0.0.0', port: 0 } }),
    ).toThrow(TypeError);
    expect(
      () =>
        new ControlServer({} as never, {
          listen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
          allowRemote: true,
        }),
    ).toThrow(/needs a token/);
  });

  it.skipIf(lanAddress === undefined)(
    'refuses a peer on another address unless remote peers are allowed, and then asks for the token',
    async () => {
      // Bound to every interface, but local-only: a connection through the LAN address is not loopback.
      setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', {
        listen: { kind: 'tcp', host: '0.0.0.0', port: 0 },
        allowRemote: false,
      });
      const port = (setup.control.address as { port: number }).port;
      const viaLan = `http://${lanAddress}:${port}`;
      expect(await call(viaLan, 'GET', '/api/status')).toMatchObject({
        status: 403,
        body: { error: { code: 'forbidden_peer' } },
      });
      expect((await fetch(`${viaLan}/`)).status).toBe(403);
      expect((await call(`http://127.0.0.1:${port}`, 'GET', '/api/status?queues=0')).status).toBe(200);
      await setup.close();

      setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', {
        listen: { kind: 'tcp', host: lanAddress as string, port: 0 },
        token: kToken,
      });
      const lan = `http://${lanAddress}:${(setup.control.address as { port: number }).port}`;
      expect((await call(lan, 'GET', '/api/status')).status).toBe(401);
      expect(
        (await call(lan, 'GET', '/api/status', { headers: { authorization: 'Bearer wrong' } })).status,
      ).toBe(401);
      const ok = await call(lan, 'GET', '/api/status?queues=0', {
        headers: { authorization: `Bearer ${kToken}` },
      });
      expect(ok.status).toBe(200);
      expect(ok.body.functions[0].name).toBe('echo');
    },
  );

  it('listens on a Unix socket that only its owner may open, replacing a stale one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-sock-'));
    const socket = path.join(dir, 'control.sock');
    // A socket file left behind by a process that was killed: nothing listens on it.
    const child = spawnTracked(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`,
    ]);
    await new Promise((resolve) => child.stdout?.once('data', resolve));
    await stopProcess(child, 'SIGKILL');
    expect(existsSync(socket)).toBe(true);
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', {
      listen: { kind: 'unix', path: socket },
    });
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const client = new ControlClient({ address: { kind: 'unix', path: socket } });
    const status = await client.get<StatusDocument>('/api/status?queues=0');
    expect(status.functions.map((f) => f.name)).toEqual(['echo']);
    await setup.close();
    setup = undefined;
    expect(existsSync(socket)).toBe(false);
    await expect(client.get('/api/status')).rejects.toMatchObject({ reason: 'unreachable' });
  });

  it('will not take over a socket path that is alive or is not a socket', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-sock-'));
    const file = path.join(dir, 'plain');
    writeFileSync(file, 'data');
    await expect(
      startControlled('  echo: { handler: $FIXTURES/echo.js }\n', { listen: { kind: 'unix', path: file } }),
    ).rejects.toMatchObject({ code: 'EEXIST' });
    expect(existsSync(file)).toBe(true);
    const socket = path.join(dir, 'live.sock');
    const live = net.createServer().listen(socket);
    await new Promise((resolve) => live.once('listening', resolve));
    try {
      await expect(
        startControlled('  echo: { handler: $FIXTURES/echo.js }\n', {
          listen: { kind: 'unix', path: socket },
        }),
      ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      live.close();
    }
  });

  it('reports a refusal to the client as a ControlError with the status and reason', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js }\n', { token: kToken });
    const port = (setup.control.address as { port: number }).port;
    const client = new ControlClient({ address: { kind: 'tcp', host: '127.0.0.1', port } });
    const error = await client.get('/api/status').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ControlError);
    expect(error).toMatchObject({ status: 401, reason: 'unauthorized', code: 'GEARMAN_ERR_CONTROL' });
    const authed = new ControlClient({ address: { kind: 'tcp', host: '127.0.0.1', port }, token: kToken });
    expect((await authed.get<StatusDocument>('/api/status?queues=0')).functions).toHaveLength(1);
  });
});
