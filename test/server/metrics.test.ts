import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { MetricsEndpoint } from '../../src/server/metrics/metrics-endpoint.js';
import { ServerMetrics } from '../../src/server/metrics/server-metrics.js';
import type { GearmanServerOptions } from '../../src/server/options.js';
import { GearmanServer } from '../../src/server/server.js';
import { SqliteJobStore } from '../../src/server/sqlite-store.js';
import { Worker } from '../../src/worker/worker.js';
import { killAll, spawnTracked } from '../helpers/peers.js';
import { runCliCaptured } from '../helpers/run-cli.js';
import { eventually, waitForLine } from './helpers/conformance.js';
import { parsePromText, type Sample, sampleValue } from './helpers/prom-text.js';

const bin = fileURLToPath(new URL('../../bin/gworker.js', import.meta.url));

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await killAll();
});

interface Running {
  readonly server: GearmanServer;
  readonly address: string;
  readonly endpoint: MetricsEndpoint;
  scrape(): Promise<Sample[]>;
}

async function start(options: GearmanServerOptions = {}): Promise<Running> {
  const server = new GearmanServer({ port: 0, ...options });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  // No process metrics: the test reads the server's own, and a scrape stays small.
  const endpoint = new MetricsEndpoint(new ServerMetrics(server, { defaultMetrics: false }), { port: 0 });
  await endpoint.listen();
  cleanups.push(() => endpoint.close());
  const url = endpoint.url as string;
  return {
    server,
    address: `127.0.0.1:${port}`,
    endpoint,
    scrape: async () => {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      return parsePromText(await res.text());
    },
  };
}

function client(address: string): Client {
  const c = new Client({ servers: [address] });
  cleanups.push(() => c.close());
  return c;
}

describe('server metrics', () => {
  it('report queue depths, running jobs, workers, connections and outcomes as jobs move', async () => {
    const { address, scrape } = await start();
    const submitter = client(address);
    for (const [payload, priority] of [
      ['ok', 'high'],
      ['fail', 'normal'],
      ['boom', 'low'],
      ['ok', 'normal'],
    ] as const) {
      await submitter.submitBackground('resize', payload, { priority });
    }
    let samples = await scrape();
    const queued = (priority: string) =>
      sampleValue(samples, 'gworker_server_queued_jobs', { function: 'resize', priority });
    expect([queued('high'), queued('normal'), queued('low')]).toEqual([1, 2, 1]);
    expect(sampleValue(samples, 'gworker_server_jobs_submitted_total', { function: 'resize' })).toBe(4);
    expect(sampleValue(samples, 'gworker_server_workers', { function: 'resize' })).toBe(0);
    expect(sampleValue(samples, 'gworker_server_running_jobs', { function: 'resize' })).toBe(0);
    expect(sampleValue(samples, 'gworker_server_jobs')).toBe(4);
    expect(sampleValue(samples, 'gworker_server_connections', { kind: 'client' })).toBe(1);
    expect(sampleValue(samples, 'gworker_server_connections', { kind: 'worker' })).toBe(0);
    expect(sampleValue(samples, 'gworker_server_connections_total')).toBe(1);

    // Two jobs held running by the worker, two still queued.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // GRAB_JOB_UNIQ: with the default GRAB_JOB_ALL the worker grabs one job at a time until
    // the server has answered its first grab, and the first job here never ends until released.
    const worker = new Worker({ servers: [address], maxJobs: 2, grab: 'uniq' });
    cleanups.push(() => worker.close({ force: true }));
    worker.register('resize', async (job) => {
      await gate;
      const payload = job.payload.toString();
      if (payload === 'fail') job.fail();
      else if (payload === 'boom') throw new Error('boom');
      else return 'done';
      return undefined;
    });
    await worker.start();
    await eventually(() => (worker.running === 2 ? true : undefined));
    samples = await scrape();
    expect(sampleValue(samples, 'gworker_server_running_jobs', { function: 'resize' })).toBe(2);
    expect((queued('high') ?? 0) + (queued('normal') ?? 0) + (queued('low') ?? 0)).toBe(2);
    expect(sampleValue(samples, 'gworker_server_workers', { function: 'resize' })).toBe(1);
    expect(sampleValue(samples, 'gworker_server_connections', { kind: 'worker' })).toBe(1);
    expect(sampleValue(samples, 'gworker_server_connections', { kind: 'client' })).toBe(1);

    release();
    await eventually(async () => {
      const now = await scrape();
      return sampleValue(now, 'gworker_server_jobs') === 0 ? now : undefined;
    }).then((now) => {
      samples = now;
    });
    const ended = (outcome: string) =>
      sampleValue(samples, 'gworker_server_jobs_total', { function: 'resize', outcome });
    expect([ended('complete'), ended('fail'), ended('exception')]).toEqual([2, 1, 1]);
    expect([queued('high'), queued('normal'), queued('low')]).toEqual([0, 0, 0]);
    expect(sampleValue(samples, 'gworker_server_running_jobs', { function: 'resize' })).toBe(0);
    expect(sampleValue(samples, 'gworker_server_jobs_rejected_total', { function: 'resize' })).toBe(0);
  });

  it('count foreground submits, refusals of a full server, and function names as UTF-8', async () => {
    const { address, scrape } = await start({ maxJobs: 1 });
    const submitter = client(address);
    await submitter.submitBackground('café', 'a');
    await expect(submitter.submitBackground('café', 'b')).rejects.toMatchObject({
      code: 'GEARMAN_ERR_QUEUE_FULL',
    });
    const samples = await scrape();
    expect(sampleValue(samples, 'gworker_server_jobs_submitted_total', { function: 'café' })).toBe(2);
    expect(sampleValue(samples, 'gworker_server_jobs_rejected_total', { function: 'café' })).toBe(1);
    expect(sampleValue(samples, 'gworker_server_queued_jobs', { function: 'café', priority: 'normal' })).toBe(
      1,
    );
  });

  it('report result cache hits and misses', async () => {
    const { address, scrape } = await start({ resultCache: { ttlMs: 60_000 } });
    const worker = new Worker({ servers: [address] });
    cleanups.push(() => worker.close({ force: true }));
    worker.register('square', (job) => String(Number(job.payload.toString()) ** 2));
    await worker.start();
    const submitter = client(address);
    expect((await submitter.run('square', '7', { unique: 'seven' })).toString()).toBe('49');
    expect((await submitter.run('square', '7', { unique: 'seven' })).toString()).toBe('49');
    const samples = await scrape();
    expect(sampleValue(samples, 'gworker_server_result_cache_misses_total')).toBe(1);
    expect(sampleValue(samples, 'gworker_server_result_cache_hits_total')).toBe(1);
    expect(sampleValue(samples, 'gworker_server_result_cache_entries')).toBe(1);
    // The cache hit is a submit too, but no worker ran it.
    expect(sampleValue(samples, 'gworker_server_jobs_submitted_total', { function: 'square' })).toBe(2);
    expect(
      sampleValue(samples, 'gworker_server_jobs_total', { function: 'square', outcome: 'complete' }),
    ).toBe(1);
  });

  it('report the jobs held in a durable store, and no such metric without one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-metrics-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const durable = await start({ store: new SqliteJobStore(path.join(dir, 'jobs.db')) });
    const submitter = client(durable.address);
    await submitter.submitBackground('later', 'x');
    await submitter.submitBackground('later', 'y');
    expect(sampleValue(await durable.scrape(), 'gworker_server_stored_jobs')).toBe(2);

    const memory = await start();
    expect(sampleValue(await memory.scrape(), 'gworker_server_stored_jobs')).toBeUndefined();
  });

  it('report each maxrunning cap, and no series for a function without one', async () => {
    const { server, address, scrape } = await start({ maxRunning: { resize: 2 } });
    const submitter = client(address);
    await submitter.submitBackground('resize', 'x');
    await submitter.submitBackground('mail', 'y');
    let samples = await scrape();
    expect(sampleValue(samples, 'gworker_server_max_running', { function: 'resize' })).toBe(2);
    expect(sampleValue(samples, 'gworker_server_max_running', { function: 'mail' })).toBeUndefined();
    expect(server.functionStats().map((fn) => [fn.function, fn.maxRunning])).toEqual([
      ['resize', 2],
      ['mail', 0],
    ]);
    server.setMaxRunning('resize', 0);
    samples = await scrape();
    expect(sampleValue(samples, 'gworker_server_max_running', { function: 'resize' })).toBeUndefined();
  });

  it('listens on loopback by default and answers only GET and HEAD /metrics', async () => {
    const { endpoint } = await start();
    const address = endpoint.address;
    expect(address?.host).toBe('127.0.0.1');
    const port = address?.port as number;
    // From an address of this machine that is not loopback, nothing listens.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((info) => info !== undefined && info.family === 'IPv4' && !info.internal);
    if (external !== undefined) {
      const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
        const socket = net.connect({ host: external.address, port });
        socket.once('connect', () => {
          socket.destroy();
          resolve(null);
        });
        socket.once('error', (err) => resolve(err));
      });
      expect(error?.code).toBe('ECONNREFUSED');
    }
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('includes the process metrics unless asked not to', async () => {
    const server = new GearmanServer({ port: 0 });
    await server.listen();
    cleanups.push(() => server.close());
    const text = await new ServerMetrics(server).text();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('gworker_server_connections');
  });
});

describe('gworker server --metrics-port', () => {
  const run = (...argv: string[]) => runCliCaptured(argv);

  it('documents the flags and refuses bad values with exit status 2', async () => {
    const help = await run('server', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--metrics-port N');
    expect(help.stdout).toContain('--metrics-host HOST');
    for (const argv of [
      ['--metrics-port', 'abc'],
      ['--metrics-port', '70000'],
      ['--metrics-host', '127.0.0.1'],
      ['--metrics-port', '0', '--metrics-host', ''],
    ]) {
      const { code, stderr } = await run('server', '--port', '0', ...argv);
      expect({ argv, code }).toEqual({ argv, code: 2 });
      expect(stderr).toContain('--metrics-');
    }
  });

  it('serves the metrics of the running server on loopback and stops with it', async () => {
    const child: ChildProcess = spawnTracked(
      process.execPath,
      [bin, 'server', '--port', '0', '--metrics-port', '0', '--log-level', 'warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const listening = waitForLine(child, /^gworker server listening on /, 20_000);
    const line = await waitForLine(child, /^gworker server metrics on /, 20_000);
    const port = Number(/:(\d+)$/.exec(await listening)?.[1]);
    const url = line.slice('gworker server metrics on '.length);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const submitter = client(`127.0.0.1:${port}`);
    await submitter.submitBackground('thumbnail', 'a.png');
    const samples = parsePromText(await (await fetch(url)).text());
    expect(sampleValue(samples, 'gworker_server_jobs_submitted_total', { function: 'thumbnail' })).toBe(1);
    expect(
      sampleValue(samples, 'gworker_server_queued_jobs', { function: 'thumbnail', priority: 'normal' }),
    ).toBe(1);
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });

  it('exits 1 when the metrics port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const taken = (blocker.address() as net.AddressInfo).port;
    const child = spawnTracked(
      process.execPath,
      [bin, 'server', '--port', '0', '--metrics-port', String(taken), '--log-level', 'warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toContain('cannot serve metrics');
  });
});
