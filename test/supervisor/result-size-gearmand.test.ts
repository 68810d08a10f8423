import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import { JobExceptionError, JobFailedError } from '../../src/errors.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import type { JobEndInfo } from '../../src/supervisor/runtime/function-runtime.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';

/**
 * Issue 10 item 3: a result over a job server's frame limit made the server drop the
 * worker's connection and requeue the job, which then ran again and again while its
 * client never got an answer. Here the supervisor fails such a job with the reason, once,
 * and gearmand holds nothing of it afterwards.
 */
describeWithPeers(['gearmand'], 'maxResultSize against gearmand', () => {
  let gearmand: GearmandHandle;
  let supervisor: Supervisor | undefined;
  const clients: Array<Client | AdminClient> = [];
  let dir: string;

  beforeEach(async () => {
    gearmand = await startGearmand();
    dir = mkdtempSync(path.join(tmpdir(), 'gworker-result-size-'));
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await supervisor?.close({ force: true });
    supervisor = undefined;
    await killAll();
  });

  /** Starts a supervisor whose handlers count their runs in `dir/runs` (one line per run). */
  async function startWith(top: string, functions: string): Promise<{ ends: JobEndInfo[] }> {
    const file = path.join(dir, 'gworker.yaml');
    const text = `servers: ["${gearmand.address}"]\nconnections: 1\nshutdownTimeout: 2s\n${top}functions:\n${functions}`;
    writeFileSync(file, text);
    supervisor = new Supervisor(parseManifest(text, file, { env: {} }), { regrabIntervalMs: 500 });
    const ends: JobEndInfo[] = [];
    supervisor.on('jobEnd', (info) => ends.push(info));
    await supervisor.start();
    return { ends };
  }

  function handler(name: string, body: string): string {
    const file = path.join(dir, `${name}.js`);
    const runs = JSON.stringify(path.join(dir, 'runs'));
    writeFileSync(
      file,
      `import { appendFileSync } from 'node:fs';\nexport default async (p, job) => {\n  appendFileSync(${runs}, '${name}\\n');\n${body}\n};\n`,
    );
    return file;
  }

  function runs(): string[] {
    try {
      return readFileSync(path.join(dir, 'runs'), 'utf8').trim().split('\n');
    } catch {
      return [];
    }
  }

  /**
   * How a job ended: its error, or 'completed'. (A result is never handed to expect():
   * a diff of a 32 MiB buffer takes the test process down.)
   */
  function outcome(job: Promise<Buffer>): Promise<unknown> {
    return job.then(
      () => 'completed',
      (err: unknown) => err,
    );
  }

  function client(exceptions = true): Client {
    const c = new Client({ servers: [gearmand.address], exceptions });
    clients.push(c);
    return c;
  }

  /** After a pause in which a requeued job would have run again: what gearmand holds of `fn`. */
  async function heldAfterPause(fn: string): Promise<{ total: number; running: number }> {
    await new Promise((r) => setTimeout(r, 1000));
    const admin = new AdminClient({ server: gearmand.address });
    clients.push(admin);
    const row = (await admin.status()).find((r) => r.function === fn);
    return { total: row?.total ?? 0, running: row?.running ?? 0 };
  }

  it('fails a result over the limit with the reason, once, and gearmand holds nothing of it', async () => {
    const { ends } = await startWith(
      'maxResultSize: 1MiB\n',
      `  big: { handler: ${handler('big', '  return Buffer.alloc(Number(p), 97);')}, payload: text }\n`,
    );
    const reason = 'the result of 2097152 bytes is over maxResultSize (1048576 bytes); the job fails instead';
    const error = await outcome(client().run('big', String(2 * 1024 * 1024)));
    expect(error).toBeInstanceOf(JobExceptionError);
    expect((error as JobExceptionError).payload.toString()).toBe(reason);
    // A client that did not ask for exceptions gets gearmand's WORK_FAIL.
    expect(await outcome(client(false).run('big', String(2 * 1024 * 1024)))).toBeInstanceOf(JobFailedError);
    expect(await heldAfterPause('big')).toEqual({ total: 0, running: 0 });
    expect(runs()).toEqual(['big', 'big']);
    expect(ends.map((e) => [e.result, e.reason])).toEqual([
      ['exception', reason],
      ['exception', reason],
    ]);
    // Under the limit it goes through as before.
    expect((await client().run('big', String(1024 * 1024))).length).toBe(1024 * 1024);
  });

  it('refuses a result over the 32 MiB default', async () => {
    await startWith(
      '',
      `  big: { handler: ${handler('big', '  return Buffer.alloc(Number(p), 97);')}, payload: text }\n`,
    );
    const size = 32 * 1024 * 1024 + 1;
    const error = await outcome(client().run('big', String(size)));
    expect(error).toBeInstanceOf(JobExceptionError);
    expect((error as JobExceptionError).payload.toString()).toBe(
      `the result of ${size} bytes is over maxResultSize (33554432 bytes); the job fails instead`,
    );
    expect(await heldAfterPause('big')).toEqual({ total: 0, running: 0 });
    expect(runs()).toEqual(['big']);
  });

  it('fails the job at a WORK_DATA chunk over the limit, with a function setting over the top-level one', async () => {
    const { ends } = await startWith(
      'maxResultSize: 32MiB\n',
      `  chatty: { handler: ${handler(
        'chatty',
        '  job.data("first");\n  job.data(Buffer.alloc(600 * 1024));\n  await new Promise((r) => setTimeout(r, 200));\n  return "done";',
      )}, maxResultSize: 512KiB, exceptions: false }\n` +
        `  ls: { command: [sh, -c, "head -c 4096 /dev/zero"], maxResultSize: 1000 }\n`,
    );
    const job = client(false).submit('chatty', '');
    const updates: string[] = [];
    const failed = (async () => {
      for await (const update of job) {
        if (update.type === 'data' || update.type === 'warning')
          updates.push(`${update.type} ${update.data}`);
      }
    })();
    await expect(failed).rejects.toBeInstanceOf(JobFailedError);
    const reason =
      'a WORK_DATA chunk of 614400 bytes is over maxResultSize (524288 bytes); the job fails instead';
    await expect(job.result).rejects.toBeInstanceOf(JobFailedError);
    expect(updates).toEqual(['data first', `warning ${reason}`]);
    // A command's stdout counts the same.
    expect(await outcome(client().run('ls', ''))).toBeInstanceOf(JobExceptionError);
    expect(await heldAfterPause('chatty')).toEqual({ total: 0, running: 0 });
    expect(runs()).toEqual(['chatty']);
    // (chatty's end is counted when its handler returns, which may come after ls.)
    expect(ends.map((e) => [e.function, e.result]).sort()).toEqual([
      ['chatty', 'fail'],
      ['ls', 'exception'],
    ]);
  });
});
