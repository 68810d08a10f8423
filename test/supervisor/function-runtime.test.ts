import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { FunctionConfig, ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { FunctionRuntime } from '../../src/supervisor/runtime/function-runtime.js';
import { fakeJob } from '../helpers/fake-job.js';

const runtimes: FunctionRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.destroy()));
});

function moduleConfig(handler: string, overrides: Partial<ModuleFunctionConfig> = {}): ModuleFunctionConfig {
  return {
    name: 'f',
    kind: 'module',
    handler,
    export: 'default',
    concurrency: 2,
    payload: 'text',
    exceptions: true,
    jobsPerThread: 1,
    ...overrides,
  };
}

function start(config: FunctionConfig): Promise<FunctionRuntime> {
  const runtime = new FunctionRuntime(config);
  runtimes.push(runtime);
  return runtime.start().then(() => runtime);
}

function handlerFile(body: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-rt-'));
  const file = path.join(dir, 'handler.js');
  writeFileSync(file, body);
  return file;
}

describe('FunctionRuntime', () => {
  it('sends exactly one WORK_COMPLETE with the result', async () => {
    const runtime = await start(moduleConfig(handlerFile("export default (p) => 'v1:' + p;")));
    const job = fakeJob('x');
    await runtime.run(job);
    expect(job.sent).toEqual(['complete v1:x']);
  });

  it('turns a thrown error into one WORK_EXCEPTION with the message', async () => {
    const runtime = await start(
      moduleConfig(handlerFile('export default () => { throw new Error("nope"); };')),
    );
    const job = fakeJob('x');
    await runtime.run(job);
    expect(job.sent).toEqual(['exception nope']);
  });

  it('with exceptions off, sends the reason as a warning and then one WORK_FAIL', async () => {
    const runtime = await start(
      moduleConfig(handlerFile('export default () => { throw new Error("nope"); };'), { exceptions: false }),
    );
    const job = fakeJob('x');
    await runtime.run(job);
    expect(job.sent).toEqual(['warning nope', 'fail']);
  });

  it('fails a command that exits non-zero with a warning saying why, then WORK_FAIL', async () => {
    const runtime = await start({
      name: 'f',
      kind: 'command',
      command: ['/bin/sh', '-c', 'echo oops >&2; exit 2'],
      cwd: tmpdir(),
      env: {},
      output: 'result',
      concurrency: 1,
      payload: 'buffer',
      exceptions: true,
    });
    const job = fakeJob('');
    await runtime.run(job);
    expect(job.sent).toEqual(['warning /bin/sh exited with code 2: oops', 'fail']);
  });

  // Issue 10 item 3: a result over the job server's frame limit made the server drop the
  // connection and requeue the job, which then ran again and again.
  it('fails a job whose result is over maxResultSize with the reason, instead of sending it', async () => {
    const runtime = await start(
      moduleConfig(handlerFile('export default (p) => "x".repeat(Number(p));'), { maxResultSize: 1000 }),
    );
    const ends: unknown[] = [];
    runtime.on('jobEnd', (info) => ends.push(info));
    const fits = fakeJob('1000', 'H:t:fits');
    await runtime.run(fits);
    expect(fits.sent).toEqual([`complete ${'x'.repeat(1000)}`]);
    const big = fakeJob('1001', 'H:t:big');
    await runtime.run(big);
    const reason = 'the result of 1001 bytes is over maxResultSize (1000 bytes); the job fails instead';
    expect(big.sent).toEqual([`exception ${reason}`]);
    expect(ends[1]).toMatchObject({ handle: 'H:t:big', result: 'exception', reason });
  });

  it("fails a command's oversized stdout the same way: with exceptions off, a warning and WORK_FAIL", async () => {
    const runtime = await start({
      name: 'f',
      kind: 'command',
      command: ['/bin/sh', '-c', 'head -c 5000 /dev/zero'],
      cwd: tmpdir(),
      env: {},
      output: 'result',
      concurrency: 1,
      payload: 'buffer',
      exceptions: false,
      maxResultSize: 4096,
    });
    const job = fakeJob('');
    await runtime.run(job);
    expect(job.sent).toEqual([
      'warning the result of 5000 bytes is over maxResultSize (4096 bytes); the job fails instead',
      'fail',
    ]);
  });

  it('fails the job at a WORK_DATA chunk over maxResultSize, aborts the handler and sends nothing after', async () => {
    const runtime = await start(
      moduleConfig(
        handlerFile(`export default async (p, job) => {
  job.data("small");
  job.data("y".repeat(2000));
  await new Promise((resolve) => {
    if (job.signal.aborted) resolve();
    job.signal.addEventListener("abort", resolve);
    setTimeout(resolve, 5000);
  });
  job.warning("after");
  return job.signal.aborted ? "stopped" : "ran on";
};`),
        { maxResultSize: 1000 },
      ),
    );
    const job = fakeJob('');
    const started = Date.now();
    await runtime.run(job);
    expect(job.sent).toEqual([
      'data small',
      'exception a WORK_DATA chunk of 2000 bytes is over maxResultSize (1000 bytes); the job fails instead',
    ]);
    // The abort reached the handler: it returned long before its 5 s wait ran out.
    expect(Date.now() - started).toBeLessThan(4000);
    expect(runtime.running).toBe(0);
  });

  it('reloads: running jobs finish on the old code, new jobs run the new code', async () => {
    const file = handlerFile(
      'export default async (p) => { await new Promise((r) => setTimeout(r, Number(p))); return "v1"; };',
    );
    const runtime = await start(moduleConfig(file));
    const slow = fakeJob('600', 'H:t:slow');
    const running = runtime.run(slow);
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(file, 'export default async () => "v2";');
    await runtime.reload();
    expect(runtime.generation).toBe(2);
    const fresh = fakeJob('0', 'H:t:fresh');
    await runtime.run(fresh);
    expect(fresh.sent).toEqual(['complete v2']);
    await running;
    expect(slow.sent).toEqual(['complete v1']);
  });

  it('keeps the old generation serving when the new code does not load', async () => {
    const file = handlerFile('export default () => "good";');
    const runtime = await start(moduleConfig(file));
    writeFileSync(file, 'export default () => {{{');
    await expect(runtime.reload()).rejects.toMatchObject({ code: ErrorCode.HANDLER_LOAD });
    expect(runtime.generation).toBe(1);
    const job = fakeJob('');
    await runtime.run(job);
    expect(job.sent).toEqual(['complete good']);
  });

  it('refuses to start a function whose handler has no usable export', async () => {
    const runtime = new FunctionRuntime(moduleConfig(handlerFile('export const other = 1;')));
    runtimes.push(runtime);
    await expect(runtime.start()).rejects.toMatchObject({ code: ErrorCode.HANDLER_LOAD });
  });

  it('ends a shared thread whose job ignores its timeout, and runs the jobs it shared the thread with again', async () => {
    const fixture = new URL('../fixtures/handlers/mixed.js', import.meta.url).pathname;
    const runtime = await start(moduleConfig(fixture, { concurrency: 4, jobsPerThread: 4, timeoutMs: 3000 }));
    const spinner = fakeJob('spin', 'H:t:spin');
    const started = Date.now();
    const spinning = runtime.run(spinner);
    // Arrives while the thread spins. The thread ends at 3 s + 1 s grace; this job's own
    // deadline is 2.5 s + 3 s, so (with 1.5 s to spare on a loaded machine) it goes down
    // only as collateral, and must run again rather than fail.
    await new Promise((r) => setTimeout(r, 2500));
    const polite = fakeJob('polite', 'H:t:polite');
    const politeRun = runtime.run(polite);
    await spinning;
    expect(spinner.sent).toEqual(['exception timed out after 3000 ms']);
    expect(Date.now() - started).toBeLessThan(10_000);
    await politeRun;
    expect(polite.sent).toEqual(['complete ok:polite']);
  });

  it('recycles its threads after maxJobsPerThread jobs per thread', async () => {
    const file = handlerFile(
      'import { threadId } from "node:worker_threads"; export default () => String(threadId);',
    );
    const runtime = await start(moduleConfig(file, { concurrency: 1, maxJobsPerThread: 2 }));
    const threads: string[] = [];
    for (let i = 0; i < 4; i++) {
      const recycled = i === 2 ? new Promise((r) => runtime.once('generation', r)) : null;
      if (recycled) await recycled;
      const job = fakeJob('');
      await runtime.run(job);
      threads.push(job.sent[0] ?? '');
    }
    expect(threads[0]).toBe(threads[1]);
    expect(threads[2]).not.toBe(threads[1]);
    expect(threads[3]).toBe(threads[2]);
    expect(runtime.generation).toBe(2);
  });
});
