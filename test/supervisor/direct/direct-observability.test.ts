import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../../src/client/client.js';
import { GearmanServer } from '../../../src/server/server.js';
import { ControlServer } from '../../../src/supervisor/control/control-server.js';
import { parseManifest } from '../../../src/supervisor/manifest/load.js';
import { Supervisor } from '../../../src/supervisor/supervisor.js';
import { startGearmand } from '../../helpers/gearmand.js';
import { parseMetrics, type Sample, value } from '../../helpers/metrics-text.js';
import { describeWithPeers, killAll } from '../../helpers/peers.js';

const kHandler = `
export default async function (text) {
  if (text === 'boom') throw new TypeError('boom');
  if (text === 'die') process.exit(3);
  if (text.startsWith('sleep')) await new Promise((r) => setTimeout(r, Number(text.slice(5))));
  return text.toUpperCase();
}
`;

/** A job server the test can restart on the same port (queues lost, as in a real restart). */
interface JobServer {
  readonly address: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function embedded(): Promise<JobServer> {
  let server = new GearmanServer({ host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  return {
    address: `127.0.0.1:${port}`,
    restart: async () => {
      await server.close();
      server = new GearmanServer({ host: '127.0.0.1', port });
      await server.listen();
    },
    stop: () => server.close(),
  };
}

async function gearmand(): Promise<JobServer> {
  const handle = await startGearmand();
  return { address: handle.address, restart: () => handle.restart(), stop: () => handle.stop() };
}

interface Running {
  readonly supervisor: Supervisor;
  readonly client: Client;
  readonly base: string;
  readonly server: JobServer;
  readonly dir: string;
}

let running: (Running & { control: ControlServer }) | undefined;

afterEach(async () => {
  await running?.client.close();
  await running?.control.close();
  await running?.supervisor.close({ force: true });
  await running?.server.stop();
  running = undefined;
  await killAll();
});

async function start(server: JobServer, settings: string): Promise<Running> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-direct-obs-'));
  writeFileSync(path.join(dir, 'up.mjs'), kHandler);
  const file = path.join(dir, 'gworker.yaml');
  const text = `servers: ["${server.address}"]\nshutdownTimeout: 5s\nfunctions:\n  up: { handler: ./up.mjs, payload: text, dispatch: thread, ${settings} }\n`;
  writeFileSync(file, text);
  const supervisor = new Supervisor(parseManifest(text, file, { env: {} }), { regrabIntervalMs: 300 });
  await supervisor.start();
  const control = new ControlServer(supervisor, {
    listen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
    metrics: { defaultMetrics: false },
  });
  const address = await control.listen();
  const base = address.kind === 'tcp' ? `http://127.0.0.1:${address.port}` : '';
  const client = new Client({ servers: [server.address] });
  running = { supervisor, client, base, server, dir, control };
  return running;
}

async function scrape(base: string): Promise<Sample[]> {
  return parseMetrics(await (await fetch(`${base}/metrics`)).text()).samples;
}

// biome-ignore lint/suspicious/noExplicitAny: the status document is read by path
async function status(base: string): Promise<any> {
  return (await fetch(`${base}/api/status`)).json();
}

function observability(name: string, jobServer: () => Promise<JobServer>): void {
  const up = { function: 'up' };

  it(`${name}: /metrics and status show its jobs, threads, generation, pause and connections as for a default function`, async () => {
    const { client, base, server, supervisor } = await start(await jobServer(), 'concurrency: 2');
    const connection = { ...up, server: server.address };
    for (let i = 0; i < 3; i++) expect(String(await client.run('up', 'x'))).toBe('X');
    await expect(client.run('up', 'boom')).rejects.toThrow('boom');
    const slow = client.run('up', 'sleep600');
    await expect.poll(() => supervisor.functions()[0]?.running, { timeout: 3000 }).toBe(1);
    // The ended jobs arrive in the threads' batches (every 250 ms).
    let samples: Sample[] = [];
    await expect
      .poll(async () => {
        samples = await scrape(base);
        return value(samples, 'gworker_jobs_total', { ...up, outcome: 'complete' });
      })
      .toBe(3);
    expect(value(samples, 'gworker_jobs_total', { ...up, outcome: 'exception' })).toBe(1);
    expect(value(samples, 'gworker_job_duration_seconds_count', up)).toBe(4);
    expect(value(samples, 'gworker_jobs_in_flight', up)).toBe(1);
    expect(value(samples, 'gworker_function_concurrency', up)).toBe(2);
    expect(value(samples, 'gworker_function_threads', up)).toBe(2);
    expect(value(samples, 'gworker_function_threads_started', up)).toBe(2);
    expect(value(samples, 'gworker_function_threads_idle', up)).toBe(1);
    expect(value(samples, 'gworker_function_generation', up)).toBe(1);
    expect(value(samples, 'gworker_function_paused', up)).toBe(0);
    expect(value(samples, 'gworker_connection_up', connection)).toBe(1);
    expect(value(samples, 'gworker_connection_reconnects_total', connection)).toBe(0);

    const doc = await status(base);
    expect(doc.functions[0]).toMatchObject({ name: 'up', running: 1, threads: 2, threadsIdle: 1 });
    expect(doc.servers).toEqual([
      expect.objectContaining({
        server: server.address,
        functions: [
          expect.objectContaining({ function: 'up', connections: 2, up: 2, connected: true, reconnects: 0 }),
        ],
      }),
    ]);
    // Every function connected: the box is ready (it was not with a dispatch: thread function).
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    // /api/errors has the failure with the handler's error type, as for a default function.
    const errors = await (await fetch(`${base}/api/errors`)).json();
    expect(JSON.stringify(errors)).toContain('TypeError');
    await slow;

    supervisor.pause('up');
    await supervisor.reloadHandlers(['up']);
    const after = await scrape(base);
    expect(value(after, 'gworker_function_paused', up)).toBe(1);
    expect(value(after, 'gworker_function_generation', up)).toBe(2);
    expect(value(after, 'gworker_thread_generations_total', { ...up, cause: 'reload' })).toBe(1);
    expect(value(after, 'gworker_reloads_total', { ...up, result: 'ok' })).toBe(1);
  });

  it(`${name}: a job server restart shows as its connections going down, then up again, with the reconnects counted`, async () => {
    const { client, base, server } = await start(await jobServer(), 'concurrency: 2');
    const connection = { ...up, server: server.address };
    expect(String(await client.run('up', 'a'))).toBe('A');
    // Down: seen as the threads' Workers see their sockets close.
    await server.stop();
    await expect
      .poll(async () => value(await scrape(base), 'gworker_connection_up', connection), { timeout: 5000 })
      .toBe(0);
    const down = await status(base);
    expect(down.servers[0].functions[0]).toMatchObject({ up: 0, connected: false });
    expect(down.servers[0].functions[0].lastError).toEqual(expect.any(String));
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    await server.restart();
    await expect
      .poll(async () => value(await scrape(base), 'gworker_connection_up', connection), { timeout: 10_000 })
      .toBe(1);
    // Each thread holds one connection to the server, and each came back.
    await expect
      .poll(async () => value(await scrape(base), 'gworker_connection_reconnects_total', connection), {
        timeout: 10_000,
      })
      .toBe(2);
    expect((await status(base)).servers[0].functions[0]).toMatchObject({ up: 2, connected: true });
    expect(String(await client.run('up', 'b'))).toBe('B');
  });

  it(`${name}: a thread that dies under a job counts as a restart by cause, and the job once`, async () => {
    const { client, base } = await start(await jobServer(), 'concurrency: 1');
    await expect(client.run('up', 'die')).rejects.toThrow(/not run again/);
    let samples: Sample[] = [];
    await expect
      .poll(async () => {
        samples = await scrape(base);
        return value(samples, 'gworker_thread_restarts_total', { ...up, cause: 'crash' });
      })
      .toBe(1);
    // Counted as the thread died; its requeued job, answered with the crash, is not counted again.
    await new Promise((resolve) => setTimeout(resolve, 400));
    samples = await scrape(base);
    expect(value(samples, 'gworker_jobs_total', { ...up, outcome: 'exception' })).toBe(1);
    expect(String(await client.run('up', 'fine'))).toBe('FINE');
  });
}

describe('dispatch: thread observability on the embedded server', () => {
  observability('embedded server', embedded);
});

describeWithPeers(['gearmand'], 'dispatch: thread observability against gearmand', () => {
  observability('gearmand', gearmand);
});
