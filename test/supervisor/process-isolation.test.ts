import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, type GearmanError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { FunctionConfig, ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { FunctionRuntime, type JobEndInfo } from '../../src/supervisor/runtime/function-runtime.js';
import { fakeJob } from '../helpers/fake-job.js';

// Issue 17: `isolation: process` runs a module function's handler in child processes,
// which contain what threads cannot: native crashes (SIGSEGV, SIGABRT), memory outside
// the V8 heap (maxRssMb), process-wide state (chdir), and whatever a handler starts.

const fixtures = fileURLToPath(new URL('../fixtures/handlers/process/', import.meta.url));
const threadFixtures = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const runtimes: FunctionRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.destroy()));
});

function processConfig(handler: string, overrides: Partial<ModuleFunctionConfig> = {}): ModuleFunctionConfig {
  return {
    name: path.basename(handler, path.extname(handler)),
    kind: 'module',
    handler: path.isAbsolute(handler) ? handler : path.join(fixtures, handler),
    export: 'default',
    concurrency: 1,
    payload: 'text',
    exceptions: true,
    jobsPerThread: 1,
    isolation: 'process',
    ...overrides,
  };
}

async function start(config: FunctionConfig, logger?: Logger): Promise<FunctionRuntime> {
  const runtime = new FunctionRuntime(config, logger);
  runtimes.push(runtime);
  await runtime.start();
  return runtime;
}

/** Runs one job; returns what was sent for it and how it ended. */
async function run(runtime: FunctionRuntime, payload: string) {
  const job = fakeJob(payload);
  let info: JobEndInfo | undefined;
  const onEnd = (end: JobEndInfo) => {
    info = end;
  };
  runtime.on('jobEnd', onEnd);
  await runtime.run(job);
  runtime.off('jobEnd', onEnd);
  return { sent: job.sent, info: info as JobEndInfo, last: job.sent.at(-1) ?? '' };
}

/** The pid a fixture reports for the payload "pid". */
async function pidOf(runtime: FunctionRuntime): Promise<number> {
  const { last } = await run(runtime, 'pid');
  expect(last).toMatch(/^complete \d+$/);
  return Number(last.slice('complete '.length));
}

/** Gone, or a zombie nobody reaps (a container's init may not): either way it runs no more. */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return / [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\)/, ''));
  } catch {
    return true;
  }
}

async function until(check: () => boolean, ms = 5_000): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

function recordingLogger(): Logger & {
  lines: { level: string; msg: string; fields: Record<string, unknown> }[];
} {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at =
      (level: string) =>
      (obj: unknown, msg?: string): void => {
        lines.push({ level, msg: msg ?? '', fields: { ...bindings, ...(obj as Record<string, unknown>) } });
      };
    return {
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return Object.assign(make({}), { lines });
}

describe('isolation: process', () => {
  it('offers the handler API in a child process: progress, the result, and a throw', async () => {
    const runtime = await start(processConfig('pid.js'));
    const done = await run(runtime, 'x');
    expect(done.sent.slice(0, 3)).toEqual(['status 1/2', 'data data for H:t:1', 'warning a warning']);
    const pid = Number(done.last.slice('complete '.length));
    expect(pid).toBeGreaterThan(0);
    expect(pid).not.toBe(process.pid);
    expect((await run(runtime, 'throw')).last).toBe('exception thrown in a process');
    expect((await run(runtime, 'binary')).last).toBe(`complete ${Buffer.from([0, 1, 2, 255])}`);
    expect(runtime.threads).toBe(1);
  });

  it('passes large payloads and results through the IPC channel intact', async () => {
    const runtime = await start(processConfig(path.join(threadFixtures, 'echo.js'), { payload: 'buffer' }));
    const payload = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4096) payload[i] = i % 251;
    // The payload's buffer moves on its way (as to a thread): compare with a copy.
    const expected = Buffer.from(payload);
    let result: Buffer | undefined;
    const complete = (r: Uint8Array): boolean => {
      result = Buffer.from(r);
      return true;
    };
    await runtime.run({ ...fakeJob(''), payload, complete });
    expect(result?.length).toBe(expected.length);
    expect(result?.equals(expected)).toBe(true);
  });

  for (const [fixture, signal] of [
    ['aborts.js', 'SIGABRT'],
    ['segfaults.js', 'SIGSEGV'],
  ] as const) {
    it(`a handler that dies of ${signal} fails only its job, naming the signal; the next runs on a fresh process`, async () => {
      const crashing = await start(processConfig(fixture));
      const other = await start(processConfig('pid.js'));
      const before = await pidOf(crashing);
      const otherPid = await pidOf(other);
      const crashed = await run(crashing, 'crash');
      expect(crashed.last).toMatch(
        new RegExp(`^exception the handler's process \\(pid ${before}\\) was killed by ${signal}`),
      );
      expect(crashed.info.threadEnded).toBe('crash');
      expect(crashed.sent).toHaveLength(1);
      const after = await pidOf(crashing);
      expect(after).not.toBe(before);
      // The other function's process never noticed.
      expect(await pidOf(other)).toBe(otherPid);
    });
  }

  it('a handler that exits fails its job naming the exit code, and the next job runs', async () => {
    const runtime = await start(processConfig(path.join(threadFixtures, 'exits.js')));
    const done = await run(runtime, '');
    expect(done.last).toMatch(/^exception the handler's process \(pid \d+\) exited with code 3$/);
    expect((await run(runtime, '')).last).toMatch(/exited with code 3$/);
  });

  it.each([
    ['syntax-error.js', /cannot load .*syntax-error\.js:\d+:\d+: SyntaxError/],
    [
      'throws-at-import.js',
      /cannot load .*throws-at-import\.js:\d+:\d+: cannot start: missing configuration/,
    ],
    [
      'exits-at-import.js',
      /cannot load .*exits-at-import\.js: the handler's process \(pid \d+\) exited with code 4 while loading/,
    ],
  ])('refuses code that cannot load in a process (%s), with where', async (fixture, reason) => {
    const runtime = new FunctionRuntime(processConfig(path.join(threadFixtures, fixture)));
    runtimes.push(runtime);
    const err = (await runtime.start().catch((e: unknown) => e)) as GearmanError;
    expect(err.code).toBe(ErrorCode.HANDLER_LOAD);
    expect(err.message).toMatch(reason);
  });

  it('aborts the signal of a job whose client went away', async () => {
    const runtime = await start(processConfig(path.join(threadFixtures, 'waits-for-abort.js')));
    const job = fakeJob('');
    let lose: (reason: unknown) => void = () => {};
    const running = runtime.run(job, (listener) => {
      lose = listener;
    });
    expect(await until(() => job.sent.length > 0)).toBe(true);
    lose(new Error('the connection closed'));
    await running;
    expect(job.sent.at(-1)).toMatch(/the connection closed/);
  });

  it('ends a process whose resident set passes maxRssMb: its job fails naming the limit, the next gets a fresh process', async () => {
    const runtime = await start(processConfig('hoards-buffers.js', { maxRssMb: 160, timeoutMs: 15_000 }));
    const before = await pidOf(runtime);
    const over = await run(runtime, 'hoard');
    expect(over.last).toMatch(
      /^exception the handler's process \(pid \d+\) was ended: its resident set reached \d+ MB, past maxRssMb 160 MB$/,
    );
    expect(over.info.threadEnded).toBe('oom');
    expect(await pidOf(runtime)).not.toBe(before);
  });

  it('lets a handler change its working directory, which threads refuse, without moving the supervisor', async () => {
    const cwd = process.cwd();
    const target = mkdtempSync(path.join(tmpdir(), 'gworker-chdir-'));
    const runtime = await start(processConfig('changes-dir.js'));
    const done = await run(runtime, target);
    const answer = JSON.parse(done.last.slice('complete '.length)) as { pid: number; cwd: string };
    expect(answer.cwd).toBe(target);
    expect(answer.pid).not.toBe(process.pid);
    expect(process.cwd()).toBe(cwd);
    const threaded = await start(processConfig('changes-dir.js', { isolation: 'thread', name: 'threaded' }));
    expect((await run(threaded, target)).last).toMatch(/^exception .*chdir/);
  });

  it('ends the whole process group on a timeout: what the handler started is gone too', async () => {
    const runtime = await start(processConfig('spawns-sleeper.js', { timeoutMs: 300 }));
    const done = await run(runtime, '');
    expect(done.last).toBe('exception timed out after 300 ms');
    expect(done.info.threadEnded).toBe('timeout');
    const grandchild = Number((done.sent.find((s) => s.startsWith('data ')) ?? '').slice('data '.length));
    expect(grandchild).toBeGreaterThan(0);
    expect(await until(() => isGone(grandchild))).toBe(true);
  });

  it('loads a TypeScript handler in the process', async () => {
    const runtime = await start(processConfig('shout-pid.ts'));
    const { last } = await run(runtime, 'abc');
    expect(last).toMatch(/^complete ABC:H:t:1:\d+$/);
    expect(last.endsWith(`:${process.pid}`)).toBe(false);
  });

  it('replaces a process after maxJobsPerProcess jobs', async () => {
    const runtime = await start(processConfig('pid.js', { maxJobsPerProcess: 2 }));
    const pids = [];
    for (let i = 0; i < 5; i++) pids.push(await pidOf(runtime));
    expect(pids[0]).toBe(pids[1]);
    expect(pids[2]).not.toBe(pids[1]);
    expect(pids[2]).toBe(pids[3]);
    expect(pids[4]).not.toBe(pids[3]);
  });

  it('runs several jobs at once in one process with jobsPerThread', async () => {
    const runtime = await start(
      processConfig(path.join(threadFixtures, 'sleeps.js'), { concurrency: 4, jobsPerThread: 4 }),
    );
    expect(runtime.threads).toBe(1);
    const started = performance.now();
    const results = await Promise.all([1, 2, 3, 4].map(() => run(runtime, '400')));
    expect(results.map((r) => r.last)).toEqual(Array(4).fill('complete slept 400'));
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('supports prefetch: a process holds the next job while it runs one', async () => {
    const runtime = await start(processConfig(path.join(threadFixtures, 'sleeps.js'), { prefetch: 1 }));
    const jobs = [run(runtime, '400'), run(runtime, '400')];
    expect(await until(() => runtime.waiting === 1)).toBe(true);
    expect((await Promise.all(jobs)).map((j) => j.last)).toEqual([
      'complete slept 400',
      'complete slept 400',
    ]);
    expect(runtime.waiting).toBe(0);
  });

  it('hot reload by generation: running jobs finish on the old processes, new ones load the new code', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-proc-reload-'));
    const file = path.join(dir, 'handler.js');
    const version = (v: string) =>
      `import { wait } from './helper.js';\nexport default async (p) => { await wait(Number(p)); return '${v}:' + process.pid; };\n`;
    writeFileSync(
      path.join(dir, 'helper.js'),
      'export const wait = (ms) => new Promise((r) => setTimeout(r, ms));\n',
    );
    writeFileSync(file, version('v1'));
    // Both processes up before the change: a process started on demand after it would
    // load the new code (docs/manifest.md, minThreads), which is not what this pins.
    const runtime = await start(processConfig(file, { concurrency: 2, minThreads: 2 }));
    // The change watcher follows what the process loaded, as for a thread.
    expect(runtime.codeFiles).toContain(path.join(dir, 'helper.js'));
    const inFlight = [run(runtime, '600'), run(runtime, '600')];
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(file, version('v2'));
    await runtime.reload();
    const after = await run(runtime, '0');
    const old = await Promise.all(inFlight);
    expect(old.map((r) => r.last.split(':')[0])).toEqual(['complete v1', 'complete v1']);
    expect(after.last.split(':')[0]).toBe('complete v2');
    expect(runtime.generation).toBe(2);
  });

  it('a shutdown deadline ends the processes under their jobs, within it', async () => {
    const runtime = await start(processConfig('spins-with-pid.js'));
    const job = fakeJob('');
    const running = runtime.run(job);
    // Sent before a loop that never yields, and still here: progress leaves at once.
    expect(await until(() => job.sent.length > 0)).toBe(true);
    const pid = Number((job.sent[0] as string).slice('data '.length));
    const started = performance.now();
    await runtime.close(performance.now() + 500);
    expect(performance.now() - started).toBeLessThan(2_500);
    await running;
    expect(job.sent.at(-1)).toMatch(/^exception still running when the shutdown deadline passed/);
    expect(isGone(pid)).toBe(true);
  });

  it('a graceful shutdown lets the processes finish their jobs, then they exit', async () => {
    const runtime = await start(processConfig(path.join(threadFixtures, 'sleeps.js'), { concurrency: 2 }));
    const jobs = [run(runtime, '300'), run(runtime, '300')];
    await new Promise((r) => setTimeout(r, 100));
    await runtime.close(performance.now() + 5_000);
    expect((await Promise.all(jobs)).map((j) => j.last)).toEqual([
      'complete slept 300',
      'complete slept 300',
    ]);
  });

  it('logs what a process writes, bounded: past the bound lines are dropped with a counted warning', async () => {
    const log = recordingLogger();
    const runtime = await start(processConfig('pid.js'), log);
    const dropped: number[] = [];
    runtime.on('outputDropped', ({ bytes }) => dropped.push(bytes));
    const pid = Number((await run(runtime, 'log')).last.slice('complete '.length));
    await run(runtime, 'flood');
    await runtime.close();
    const fromIt = log.lines.filter((l) => l.fields.pid === pid);
    expect(fromIt).toContainEqual(expect.objectContaining({ level: 'info', msg: 'a line on stdout' }));
    expect(fromIt).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'a line on stderr' }));
    const logged = fromIt.filter((l) => /^line \d+$/.test(l.msg)).length;
    expect(logged).toBeGreaterThan(0);
    // 100 lines a second: the flood takes a few seconds at most on a loaded machine.
    expect(logged).toBeLessThanOrEqual(500);
    const warnings = fromIt.filter((l) => l.msg.startsWith('handler output dropped:'));
    const droppedLines = warnings.reduce((sum, l) => sum + (l.fields.droppedLines as number), 0);
    // Every line is either logged or counted as dropped.
    expect(droppedLines).toBe(5000 - logged);
    expect(dropped).toHaveLength(warnings.length);
  });
});
