import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import { JobExceptionError, JobFailedError } from '../../src/errors.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';

const fixtures = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const workers = fileURLToPath(new URL('../../workers/', import.meta.url));

describeWithPeers(['gearmand', 'php'], 'Supervisor against gearmand', () => {
  let gearmand: GearmandHandle;
  let supervisor: Supervisor | undefined;
  let client: Client | undefined;
  let dir: string;

  beforeEach(async () => {
    gearmand = await startGearmand();
    dir = mkdtempSync(path.join(tmpdir(), 'gworker-sup-'));
  });

  afterEach(async () => {
    await client?.close();
    await supervisor?.close({ force: true });
    client = undefined;
    supervisor = undefined;
    await killAll();
  });

  function manifest(functions: string, connections = 1) {
    const file = path.join(dir, 'gworker.yaml');
    const text = `servers: ["${gearmand.address}"]\nconnections: ${connections}\nshutdownTimeout: 5s\nfunctions:\n${functions}`;
    writeFileSync(file, text);
    return parseManifest(text, file, { env: {} });
  }

  async function startWith(functions: string, connections = 1) {
    supervisor = new Supervisor(manifest(functions, connections), { regrabIntervalMs: 500 });
    await supervisor.start();
    client = new Client({ servers: [gearmand.address] });
    return { supervisor, client };
  }

  it("runs the seed's title handler and the ls command", async () => {
    const { client } = await startWith(
      `  title: { handler: ${path.join(workers, 'title.js')}, payload: text, concurrency: 2 }\n  ls: { command: [ls], cwd: ${fixtures} }\n`,
    );
    expect((await client.run('title', 'AlL THE woRLd')).toString()).toBe('All The World');
    const listing = (await client.run('ls', '')).toString();
    expect(listing.split('\n')).toContain('echo.js');
    const title = supervisor?.functions().find((fn) => fn.name === 'title');
    expect(title).toMatchObject({
      kind: 'module',
      concurrency: 2,
      running: 0,
      threads: 2,
      generation: 1,
      done: 1,
      failed: 0,
      excepted: 0,
      connections: [
        { server: gearmand.address, connections: 1, connected: true, up: 1, reconnects: 0, lastError: null },
      ],
    });
    expect(title?.p50Ms).toBeGreaterThan(0);
  });

  it('counts the connections that are up, and none once the job server is gone', async () => {
    const { supervisor: running } = await startWith(
      `  title: { handler: ${path.join(workers, 'title.js')} }\n`,
      2,
    );
    const links = () => running.functions()[0]?.connections[0];
    await waitFor(() => links()?.up === 2);
    expect(links()).toMatchObject({ connections: 2, connected: true, up: 2 });
    await gearmand.stop();
    await waitFor(() => links()?.up === 0);
    expect(links()).toMatchObject({ connections: 2, connected: false, up: 0 });
  });

  it("serves the seed's PHP client through gearmand, with status and data reaching PHP's callbacks", async () => {
    await startWith(
      `  title: { handler: ${path.join(workers, 'title.js')}, payload: text }\n` +
        `  progress: { handler: ${path.join(fixtures, 'progress.js')}, payload: text }\n`,
    );
    const script = path.join(dir, 'client.php');
    writeFileSync(
      script,
      `<?php
$client = new GearmanClient();
$client->addServer('127.0.0.1', ${gearmand.port});
echo $client->doNormal("title", "AlL THE woRLd"), "\\n";
$client->setStatusCallback(function ($task) { echo "status ", $task->taskNumerator(), "/", $task->taskDenominator(), "\\n"; });
$client->setDataCallback(function ($task) { echo "data ", $task->data(), "\\n"; });
$client->setWarningCallback(function ($task) { echo "warning ", $task->data(), "\\n"; });
$client->setCompleteCallback(function ($task) { echo "complete ", $task->data(), "\\n"; });
$client->addTask("progress", "php");
$client->runTasks();
`,
    );
    const { stdout } = await promisify(execFile)('php', [script]);
    expect(stdout.split('\n')).toEqual([
      'All The World',
      'status 1/3',
      'data first ',
      'warning careful',
      'status 2/3',
      'data second',
      'status 3/3',
      'complete done:php',
      '',
    ]);
  });

  it('forwards status, data and warnings from a handler thread to the client in order', async () => {
    const { client } = await startWith(
      `  progress: { handler: ${path.join(fixtures, 'progress.js')}, payload: text }\n`,
    );
    const job = client.submit('progress', 'z');
    const updates: string[] = [];
    for await (const update of job) {
      if (update.type === 'status') updates.push(`status ${update.numerator}/${update.denominator}`);
      else if (update.type !== 'created') updates.push(`${update.type} ${update.data.toString()}`);
    }
    expect((await job.result).toString()).toBe('done:z');
    expect(updates).toEqual([
      'status 1/3',
      'data first ',
      'warning careful',
      'status 2/3',
      'data second',
      'status 3/3',
    ]);
  });

  it('isolates crashes: each failing job fails alone and the function keeps serving', async () => {
    const { client } = await startWith(
      `  throws: { handler: ${path.join(fixtures, 'throws.js')}, payload: text }\n` +
        `  exits: { handler: ${path.join(fixtures, 'exits.js')} }\n` +
        `  oom: { handler: ${path.join(fixtures, 'oom.js')}, maxMemoryMb: 32 }\n` +
        `  spins: { handler: ${path.join(fixtures, 'spins.js')}, timeout: 300ms }\n` +
        `  echo: { handler: ${path.join(fixtures, 'echo.js')}, payload: text }\n`,
    );
    const threadEnds: string[] = [];
    supervisor?.on('jobEnd', (info) => {
      if (info.result !== 'complete') threadEnds.push(`${info.function}:${info.threadEnded ?? 'none'}`);
    });
    await expect(client.run('throws', 'x')).rejects.toMatchObject({
      constructor: JobExceptionError,
      payload: Buffer.from('bad input: x'),
    });
    await expect(client.run('exits', '')).rejects.toBeInstanceOf(JobExceptionError);
    await expect(client.run('oom', '')).rejects.toMatchObject({
      message: expect.stringMatching(/out of memory/),
    });
    await expect(client.run('spins', '')).rejects.toMatchObject({
      message: expect.stringMatching(/timed out/),
    });
    expect((await client.run('echo', 'still here')).toString()).toBe('still here');
    await expect(client.run('exits', '')).rejects.toBeInstanceOf(JobExceptionError);
    // Each failure says whether its thread went down with it, for the restart metrics.
    expect(threadEnds).toEqual(['throws:none', 'exits:crash', 'oom:oom', 'spins:timeout', 'exits:crash']);
  });

  it('sends WORK_FAIL to clients that did not ask for exceptions', async () => {
    const { client: _ } = await startWith(`  throws: { handler: ${path.join(fixtures, 'throws.js')} }\n`);
    const plain = new Client({ servers: [gearmand.address], exceptions: false });
    try {
      await expect(plain.run('throws', 'x')).rejects.toBeInstanceOf(JobFailedError);
    } finally {
      await plain.close();
    }
  });

  it('never holds more jobs of a function than its concurrency', async () => {
    const handler = path.join(dir, 'slow.js');
    writeFileSync(
      handler,
      'export default async () => { await new Promise((r) => setTimeout(r, 40)); return "ok"; };',
    );
    // One connection: gearmand then sees each WORK_COMPLETE before the grab that follows
    // it, so its running count is exactly what this box holds. (With several connections
    // a grab on one may reach gearmand before the completion sent on another.)
    const { client } = await startWith(`  slow: { handler: ${handler}, concurrency: 3 }\n`, 1);
    const admin = new AdminClient({ server: gearmand.address });
    try {
      let sampling = true;
      let maxRunning = 0;
      const sampler = (async () => {
        while (sampling) {
          const row = (await admin.status()).find((r) => r.function === 'slow');
          maxRunning = Math.max(maxRunning, row?.running ?? 0);
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const results = await Promise.all(Array.from({ length: 30 }, () => client.run('slow', '')));
      sampling = false;
      await sampler;
      expect(results.map(String)).toEqual(Array(30).fill('ok'));
      // gearmand counts a job as running from the moment a worker grabbed it: more than 3
      // would mean a job waited on this box for a slot.
      expect(maxRunning).toBe(3);
    } finally {
      await admin.close();
    }
  });

  it('with prefetch, holds one job ready per thread but never runs more than its concurrency', async () => {
    const { client, supervisor: running } = await startWith(
      `  overlap: { handler: ${path.join(fixtures, 'overlap.js')}, concurrency: 2, prefetch: 1 }\n`,
    );
    const admin = new AdminClient({ server: gearmand.address });
    try {
      let sampling = true;
      let maxHeld = 0;
      let maxPrefetched = 0;
      const sampler = (async () => {
        while (sampling) {
          const row = (await admin.status()).find((r) => r.function === 'overlap');
          maxHeld = Math.max(maxHeld, row?.running ?? 0);
          const fn = running.functions()[0];
          maxPrefetched = Math.max(maxPrefetched, fn?.prefetched ?? 0);
          expect(fn?.running ?? 0).toBeLessThanOrEqual(2);
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const results = await Promise.all(Array.from({ length: 16 }, () => client.run('overlap', '60')));
      sampling = false;
      await sampler;
      const spans = results.map((r) => JSON.parse(r.toString()) as { start: number; end: number });
      // Never more than 2 handlers at once: count the spans open at each start.
      const widest = Math.max(
        ...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length),
      );
      expect(widest).toBeLessThanOrEqual(2);
      // gearmand saw this box hold the 2 running and 1 ready per thread, never more.
      expect(maxHeld).toBeGreaterThan(2);
      expect(maxHeld).toBeLessThanOrEqual(4);
      expect(maxPrefetched).toBeGreaterThan(0);
      expect(running.functions()[0]).toMatchObject({ running: 0, prefetched: 0, done: 16 });
    } finally {
      await admin.close();
    }
  });

  it('scales a function live: more slots and threads, no job lost, no new generation', async () => {
    const { supervisor, client } = await startWith(
      `  echo: { handler: ${path.join(fixtures, 'echo.js')}, payload: text }\n`,
    );
    const before = client.run('echo', 'before');
    expect(await supervisor.scale('echo', 4)).toBe(true);
    expect((await before).toString()).toBe('before');
    expect(supervisor.functions()[0]).toMatchObject({ concurrency: 4, threads: 4, generation: 1 });
    expect((await client.run('echo', 'after')).toString()).toBe('after');
    expect(await supervisor.scale('nope', 2)).toBe(false);
    await expect(supervisor.scale('echo', 0)).rejects.toBeInstanceOf(RangeError);
  });

  it('scales down and up while jobs run: every job answered, the same generation', async () => {
    const { supervisor, client } = await startWith(
      `  sleeps: { handler: ${path.join(fixtures, 'sleeps.js')}, payload: text, concurrency: 3 }\n`,
    );
    const jobs = Array.from({ length: 9 }, () => client.run('sleeps', '200'));
    await new Promise((r) => setTimeout(r, 100));
    expect(await supervisor.scale('sleeps', 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(await supervisor.scale('sleeps', 2)).toBe(true);
    const results = await Promise.all(jobs);
    expect(results.map(String)).toEqual(Array.from({ length: 9 }, () => 'slept 200'));
    expect(supervisor.functions()[0]).toMatchObject({ concurrency: 2, threads: 2, generation: 1, done: 9 });
  });

  it('pauses a function: queued jobs wait for resume, running ones finish', async () => {
    const { supervisor, client } = await startWith(
      `  echo: { handler: ${path.join(fixtures, 'echo.js')}, payload: text }\n`,
    );
    // Let the grab sent at connect be answered first: pause() cannot recall a grab on the wire.
    await new Promise((r) => setTimeout(r, 300));
    supervisor.pause('echo');
    const job = client.submit('echo', 'later');
    await job.created;
    await new Promise((r) => setTimeout(r, 300));
    expect(job.settled).toBe(false);
    supervisor.resume('echo');
    expect((await job.result).toString()).toBe('later');
  });
});

/** Polls `check` every 20 ms for up to 10 s (connections come and go asynchronously). */
async function waitFor(check: () => boolean): Promise<void> {
  for (let waited = 0; !check() && waited < 10_000; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
