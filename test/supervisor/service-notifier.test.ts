// Issue 12: sd_notify for Type=notify, through systemd-notify, into a real AF_UNIX datagram
// socket (test/fixtures/notify-receiver.py binds it, as systemd would).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import type { Logger } from '../../src/log.js';
import { GearmanServer } from '../../src/server/server.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { NotifySender } from '../../src/supervisor/notify/notify-sender.js';
import { ServiceNotifier } from '../../src/supervisor/notify/service-notifier.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { embeddedPort, spawnGworker } from '../helpers/gworker-process.js';
import { type NotifyReceiver, startNotifyReceiver } from '../helpers/notify-receiver.js';
import { describeWithPeers, freePort, killAll } from '../helpers/peers.js';

const echo = new URL('../fixtures/handlers/echo.js', import.meta.url).pathname;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  await killAll();
});

async function receiver(): Promise<NotifyReceiver> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-notify-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const r = await startNotifyReceiver(path.join(dir, 'notify.sock'));
  cleanups.push(() => r.close());
  return r;
}

/** A supervisor running `echo` with `connections` connections to `servers`. */
async function supervisorOn(servers: string[], connections = 2): Promise<Supervisor> {
  const text = `servers: [${servers.map((s) => `"${s}"`).join(', ')}]\nconnections: ${connections}\nshutdownTimeout: 2s\nfunctions:\n  echo: { handler: ${echo} }\n`;
  const supervisor = new Supervisor(parseManifest(text, path.join(tmpdir(), 'gworker.yaml'), { env: {} }));
  cleanups.push(async () => {
    await supervisor.close({ force: true });
  });
  await supervisor.start();
  return supervisor;
}

async function jobServer(): Promise<string> {
  const server = new GearmanServer({ host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  return `127.0.0.1:${port}`;
}

function notifierFor(env: NodeJS.ProcessEnv, readyTimeoutMs = 10_000): ServiceNotifier {
  const notifier = ServiceNotifier.fromEnvironment(env, undefined, { readyTimeoutMs, pollMs: 50 });
  if (notifier === null) throw new Error('no notifier for a set NOTIFY_SOCKET');
  cleanups.push(() => notifier.close());
  return notifier;
}

const asRoot = process.getuid?.() === 0;

describeWithPeers(['python3', 'systemd-notify'], 'sd_notify through systemd-notify', () => {
  it('sends READY=1 with a one-line STATUS once every connection is up, and takes the variables out of the environment', async () => {
    const socket = await receiver();
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: '0', KEEP: 'x' };
    const notifier = notifierFor(env);
    // A command job or a handler must not inherit them and speak for the service.
    expect(env).toEqual({ KEEP: 'x' });
    const gearman = await jobServer();
    notifier.start(await supervisorOn([gearman]));
    const ready = await socket.waitFor((d) => d.message.includes('READY=1'));
    expect(ready.message).toBe('READY=1\nSTATUS=ready: 1 function on 1 job server, all 2 connections up');
    // systemd-notify sends as its parent when it may (root): systemd sees gworker's own PID.
    if (asRoot) expect(ready.pid).toBe(process.pid);
    expect(ServiceNotifier.fromEnvironment({}, undefined)).toBeNull();
  });

  it('sends READY=1 after the bounded wait when a job server stays down, with STATUS naming what is missing', async () => {
    const socket = await receiver();
    const down = `127.0.0.1:${await freePort()}`;
    const notifier = notifierFor({ NOTIFY_SOCKET: socket.path }, 1500);
    const started = Date.now();
    notifier.start(await supervisorOn([down], 1));
    const waiting = await socket.waitFor((d) => d.message.startsWith('STATUS=starting'));
    expect(waiting.message).toBe(`STATUS=starting: waiting for echo: ${down} 0/1 up`);
    const ready = await socket.waitFor((d) => d.message.includes('READY=1'));
    expect(ready.at * 1000 - started).toBeGreaterThanOrEqual(1400);
    expect(ready.message).toBe(`READY=1\nSTATUS=ready, but not connected: echo: ${down} 0/1 up`);
  });

  it('sends RELOADING=1 with MONOTONIC_USEC around a manifest being applied, READY=1 after, and STOPPING=1 on close', async () => {
    const socket = await receiver();
    const gearman = await jobServer();
    const supervisor = await supervisorOn([gearman], 1);
    notifierFor({ NOTIFY_SOCKET: socket.path }).start(supervisor);
    await socket.waitFor((d) => d.message.startsWith('READY=1'));
    const reapply = supervisor.manifest;
    await supervisor.applyManifest({
      ...reapply,
      functions: reapply.functions.map((fn) => ({ ...fn, concurrency: 2 })),
    });
    const reloading = await socket.waitFor((d) => d.message.startsWith('RELOADING=1'));
    const [, usec] =
      /^RELOADING=1\nMONOTONIC_USEC=(\d+)\nSTATUS=reloading the manifest$/.exec(reloading.message) ?? [];
    // The same clock as systemd's (CLOCK_MONOTONIC), read just before sending.
    expect(reloading.monotonicUsec - Number(usec)).toBeGreaterThanOrEqual(0);
    expect(reloading.monotonicUsec - Number(usec)).toBeLessThan(5_000_000);
    const readies = () => socket.datagrams.filter((d) => d.message.startsWith('READY=1'));
    await socket.waitFor((d) => d.message.startsWith('READY=1') && d.at > reloading.at);
    expect(readies()).toHaveLength(2);
    await supervisor.close();
    const stopping = await socket.waitFor((d) => d.message.startsWith('STOPPING=1'));
    expect(stopping.message).toBe('STOPPING=1\nSTATUS=stopping: no new jobs; 0 jobs still running');
    const order = socket.datagrams.map((d) => d.message.split('\n')[0]);
    expect(order.filter((m) => !m?.startsWith('STATUS='))).toEqual([
      'READY=1',
      'RELOADING=1',
      'READY=1',
      'STOPPING=1',
    ]);
  });

  it('pings WATCHDOG=1 every WATCHDOG_USEC/2 from the main loop, and sends none while the loop is blocked', async () => {
    const socket = await receiver();
    const gearman = await jobServer();
    const supervisor = await supervisorOn([gearman], 1);
    notifierFor({
      NOTIFY_SOCKET: socket.path,
      WATCHDOG_USEC: '400000',
      WATCHDOG_PID: String(process.pid),
    }).start(supervisor);
    const pings = () => socket.datagrams.filter((d) => d.message === 'WATCHDOG=1');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const before = pings().length;
    // Every 200 ms: some 6 in 1.2 s; fewer on a loaded machine, never none.
    expect(before).toBeGreaterThanOrEqual(3);
    const blockedAt = Date.now();
    while (Date.now() - blockedAt < 1500) {}
    const unblockedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 800));
    // A helper spawned just before the block may land early in it; none can start during it.
    const during = pings().filter((d) => d.at * 1000 > blockedAt + 300 && d.at * 1000 < unblockedAt);
    expect(during).toEqual([]);
    expect(pings().filter((d) => d.at * 1000 >= unblockedAt).length).toBeGreaterThanOrEqual(1);
  });

  it('sends no WATCHDOG=1 when WATCHDOG_PID names another process', async () => {
    const socket = await receiver();
    const gearman = await jobServer();
    notifierFor({ NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: '200000', WATCHDOG_PID: '1' }).start(
      await supervisorOn([gearman], 1),
    );
    await socket.waitFor((d) => d.message.startsWith('READY=1'));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(socket.datagrams.filter((d) => d.message === 'WATCHDOG=1')).toEqual([]);
  });

  it('gworker start: READY=1, RELOADING=1 and READY=1 on SIGHUP, STOPPING=1 on SIGTERM; command jobs do not inherit NOTIFY_SOCKET', async () => {
    const socket = await receiver();
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-notify-start-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const manifest = path.join(dir, 'gworker.yaml');
    // $$ keeps the manifest's own ${VAR} substitution off: the shell of the job expands it.
    writeFileSync(
      manifest,
      `embeddedServer: 0\ncontrol: false\nfunctions:\n  env: { command: 'echo "$\${NOTIFY_SOCKET:-unset}"' }\n`,
    );
    const proc = spawnGworker(['start', '--no-watch', manifest], { NOTIFY_SOCKET: socket.path });
    const port = await embeddedPort(proc);
    const ready = await socket.waitFor((d) => d.message.startsWith('READY=1'));
    expect(ready.message).toBe('READY=1\nSTATUS=ready: 1 function on 1 job server, all 2 connections up');
    const client = new Client({ servers: [`127.0.0.1:${port}`] });
    cleanups.push(() => client.close());
    expect((await client.run('env', '')).toString().trim()).toBe('unset');
    proc.child.kill('SIGHUP');
    await socket.waitFor((d) => d.message.startsWith('RELOADING=1'));
    await socket.waitFor((d) => d.message.startsWith('READY=1') && d !== ready);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(socket.datagrams.some((d) => d.message.startsWith('STOPPING=1'))).toBe(true);
  });
});

it('says once, and plainly, that systemd will not hear READY=1 when the helper is not installed', async () => {
  const warnings: string[] = [];
  const logger: Logger = {
    trace() {},
    debug() {},
    info() {},
    warn: (obj, msg) => warnings.push(msg ?? String(obj)),
    error() {},
    child: () => logger,
  };
  const sender = new NotifySender({
    socket: '/nonexistent/notify',
    command: 'gworker-no-such-helper',
    logger,
  });
  sender.send(['READY=1']);
  sender.send(['WATCHDOG=1']);
  await sender.flush();
  sender.send(['WATCHDOG=1']);
  await sender.flush();
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(
    /^NOTIFY_SOCKET is set but gworker-no-such-helper is not installed: systemd will not hear READY=1/,
  );
});
