import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GearmanServerOptions } from '../../src/server/options.js';
import { GearmanServer } from '../../src/server/server.js';
import type { Job } from '../../src/worker/job.js';
import type { JobResult } from '../../src/worker/options.js';
import { Worker } from '../../src/worker/worker.js';
import { type CliRun, runCliCaptured } from '../helpers/run-cli.js';

interface RunOptions {
  /** Standard input: a string, or a stream (closed at once when absent). */
  readonly stdin?: string | Readable;
  /** Pretend stderr is a terminal. */
  readonly tty?: boolean;
}

/** Runs `gworker submit ARGS` in this process with in-memory streams. */
function submit(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  return runCliCaptured(['submit', ...args], {
    ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    ...(options.tty ? { stderrTty: { columns: 100 } } : {}),
  });
}

let server: GearmanServer;
let address: string;
let dir: string;
const workers: Worker[] = [];

async function startServer(options: GearmanServerOptions = {}): Promise<void> {
  server = new GearmanServer({ port: 0, ...options });
  const { port } = await server.listen();
  address = `127.0.0.1:${port}`;
}

/** A worker for `fn` on the test server; `maxJobs` well above the windows tested, so the window is the limit. */
async function startWorker(
  fn: string,
  handler: (job: Job) => JobResult | Promise<JobResult>,
): Promise<Worker> {
  const worker = new Worker({ servers: [address], maxJobs: 128, grab: 'uniq' });
  workers.push(worker);
  worker.register(fn, handler);
  await worker.start();
  return worker;
}

function writeLines(name: string, lines: readonly string[], end = '\n'): string {
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + end);
  return file;
}

interface ResultLine {
  line: number;
  handle: string | null;
  ok: boolean;
  result?: string;
  resultBase64?: string;
  error?: string;
  code?: string;
}

function jsonLines(text: string): ResultLine[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ResultLine);
}

/** The numbers of the summary line. */
function summary(stderr: string): {
  jobs: number;
  failed: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
} {
  const match =
    /gworker submit: (\d+) jobs? done, (\d+) failed, in ([\d.]+) s \(([\d.]+) jobs\/s\); latency p50 ([\d.]+) ms, p99 ([\d.]+) ms\n$/.exec(
      stderr,
    );
  if (match === null) throw new Error(`no summary in ${JSON.stringify(stderr)}`);
  const [, jobs, failed, seconds, rate, p50, p99] = match.map(Number) as number[];
  return {
    jobs: jobs as number,
    failed: failed as number,
    seconds: seconds as number,
    rate: rate as number,
    p50: p50 as number,
    p99: p99 as number,
  };
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gworker-batch-'));
  await startServer();
});

afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.close({ force: true });
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('gworker submit --batch', () => {
  it('runs 1,000 lines with never more than --window jobs at the worker, and writes every result', async () => {
    let running = 0;
    let most = 0;
    await startWorker('upper', async (job) => {
      running++;
      most = Math.max(most, running);
      await sleep(1 + (job.payload.length % 3));
      running--;
      return job.payload.toString().toUpperCase();
    });
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i + 1}`);
    const input = writeLines('in.txt', lines);
    const results = path.join(dir, 'results.jsonl');
    const run = await submit([
      '-f',
      'upper',
      '-s',
      address,
      '--batch',
      input,
      '--window',
      '32',
      '--results',
      results,
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(most).toBeLessThanOrEqual(32);
    // The window is used, not just respected: jobs really ran side by side.
    expect(most).toBeGreaterThan(8);
    const written = jsonLines(readFileSync(results, 'utf8'));
    expect(written).toHaveLength(1000);
    const byLine = new Map(written.map((r) => [r.line, r]));
    for (let i = 1; i <= 1000; i++) {
      expect(byLine.get(i)).toMatchObject({
        ok: true,
        result: `LINE ${i}`,
        handle: expect.stringMatching(/:\d+$/),
      });
    }
    expect(summary(run.stderr)).toMatchObject({ jobs: 1000, failed: 0 });
  });

  it('reads standard input, skipping blank lines unless --keep-empty, and handles CRLF', async () => {
    await startWorker('echo', (job) => `<${job.payload.toString()}>`);
    const input = 'alpha\r\nbeta\n\ngamma';
    const skipped = await submit(
      ['-f', 'echo', '-s', address, '--batch', '-', '--results', '-', '--ordered'],
      {
        stdin: input,
      },
    );
    expect(skipped.code).toBe(0);
    expect(jsonLines(skipped.stdout).map((r) => [r.line, r.result])).toEqual([
      [1, '<alpha>'],
      [2, '<beta>'],
      [4, '<gamma>'],
    ]);
    const kept = await submit(
      ['-f', 'echo', '-s', address, '--batch', '-', '--results', '-', '--ordered', '--keep-empty'],
      { stdin: input },
    );
    expect(jsonLines(kept.stdout).map((r) => [r.line, r.result])).toEqual([
      [1, '<alpha>'],
      [2, '<beta>'],
      [3, '<>'],
      [4, '<gamma>'],
    ]);
    expect(summary(kept.stderr)).toMatchObject({ jobs: 4, failed: 0 });
  });

  it('submits background jobs and prints their handles in input order, to stdout or --output', async () => {
    const input = writeLines(
      'bg.txt',
      Array.from({ length: 50 }, (_, i) => `task-${i}`),
    );
    const run = await submit([
      '-f',
      'later',
      '-s',
      address,
      '--batch',
      input,
      '--background',
      '--window',
      '8',
    ]);
    expect(run.code).toBe(0);
    const handles = run.stdout.trimEnd().split('\n');
    expect(handles).toHaveLength(50);
    expect(new Set(handles).size).toBe(50);
    for (const handle of handles) expect(handle).toMatch(/^H:.+:\d+$/);
    // Handles are numbered as the server created them: input order.
    const numbers = handles.map((h) => Number(h.slice(h.lastIndexOf(':') + 1)));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(server.jobCount).toBe(50);
    expect(server.functionStats().find((f) => f.function === 'later')?.waiting.normal).toBe(50);

    const output = path.join(dir, 'handles.txt');
    const toFile = await submit([
      '-f',
      'later',
      '-s',
      address,
      '--batch',
      input,
      '-b',
      '-p',
      'high',
      '-o',
      output,
    ]);
    expect(toFile.code).toBe(0);
    expect(toFile.stdout).toBe('');
    expect(readFileSync(output, 'utf8').trimEnd().split('\n')).toHaveLength(50);
    expect(server.functionStats().find((f) => f.function === 'later')?.waiting.high).toBe(50);
  });

  it('with --unique-from-line, a rerun joins the jobs already queued instead of adding more', async () => {
    const input = writeLines('u.txt', ['one', 'two', 'three', 'two']);
    const first = await submit(['-f', 'dedupe', '-s', address, '--batch', input, '-b', '--unique-from-line']);
    expect(first.code).toBe(0);
    const handles = first.stdout.trimEnd().split('\n');
    // The repeated line joined the first job of its kind.
    expect(handles[3]).toBe(handles[1]);
    expect(server.jobCount).toBe(3);
    const rerun = await submit(['-f', 'dedupe', '-s', address, '--batch', input, '-b', '--unique-from-line']);
    expect(rerun.stdout.trimEnd().split('\n')).toEqual(handles);
    expect(server.jobCount).toBe(3);
  });

  it('counts failures and exceptions, records why, and exits 1', async () => {
    await startWorker('picky', (job) => {
      const text = job.payload.toString();
      if (text.startsWith('fail')) job.fail();
      else if (text.startsWith('boom')) throw new Error(`cannot do ${text}`);
      else return 'fine';
      return undefined;
    });
    const input = writeLines('mixed.txt', ['ok 1', 'fail 2', 'ok 3', 'boom 4', 'ok 5', 'fail 6']);
    const results = path.join(dir, 'r.jsonl');
    const run = await submit([
      '-f',
      'picky',
      '-s',
      address,
      '--batch',
      input,
      '--results',
      results,
      '--ordered',
    ]);
    expect(run.code).toBe(1);
    expect(summary(run.stderr)).toMatchObject({ jobs: 6, failed: 3 });
    const written = jsonLines(readFileSync(results, 'utf8'));
    expect(written.map((r) => [r.line, r.ok, r.code ?? null])).toEqual([
      [1, true, null],
      [2, false, 'GEARMAN_ERR_JOB_FAILED'],
      [3, true, null],
      [4, false, 'GEARMAN_ERR_JOB_EXCEPTION'],
      [5, true, null],
      [6, false, 'GEARMAN_ERR_JOB_FAILED'],
    ]);
    expect(written[3]?.error).toContain('cannot do boom 4');
    expect(written[1]?.handle).toMatch(/^H:/);
  });

  it('writes results as jobs finish, or in input order with --ordered', async () => {
    // Later lines finish first: line N sleeps (11 - N) * 25 ms.
    await startWorker('slow-first', async (job) => {
      const n = Number(job.payload.toString());
      await sleep((11 - n) * 25);
      return String(n);
    });
    const input = writeLines(
      'order.txt',
      Array.from({ length: 10 }, (_, i) => String(i + 1)),
    );
    const unordered = await submit(['-f', 'slow-first', '-s', address, '--batch', input, '--results', '-']);
    const finishOrder = jsonLines(unordered.stdout).map((r) => r.line);
    expect(finishOrder).toHaveLength(10);
    expect(finishOrder[0]).toBe(10);
    const ordered = await submit([
      '-f',
      'slow-first',
      '-s',
      address,
      '--batch',
      input,
      '--results',
      '-',
      '--ordered',
    ]);
    expect(jsonLines(ordered.stdout).map((r) => [r.line, r.result])).toEqual(
      Array.from({ length: 10 }, (_, i) => [i + 1, String(i + 1)]),
    );
  });

  it('prints plain progress lines every --progress-interval when stderr is not a terminal', async () => {
    await startWorker('tick', async () => {
      await sleep(20);
      return 'x';
    });
    const input = writeLines(
      'p.txt',
      Array.from({ length: 40 }, (_, i) => `t${i}`),
    );
    const run = await submit([
      '-f',
      'tick',
      '-s',
      address,
      '--batch',
      input,
      '--window',
      '2',
      '--progress-interval',
      '100ms',
    ]);
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('\r');
    const progress = run.stderr
      .split('\n')
      .filter((line) => / done, \d+ failed, [\d.]+ jobs\/s, ETA /.test(line));
    // 40 jobs, two at a time, 20 ms each: about 400 ms, so three or more lines.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const line of progress)
      expect(line).toMatch(/^gworker submit: \d+\/~?\d+ done, 0 failed, [\d.]+ jobs\/s, ETA (\?|\d+s)$/);
    // A regular file's size gives the total (estimated while reading, exact once read).
    const counts = progress.map((line) => Number(/: (\d+)\//.exec(line)?.[1]));
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(summary(run.stderr).jobs).toBe(40);
    const quiet = await submit([
      '-f',
      'tick',
      '-s',
      address,
      '--batch',
      input,
      '--window',
      '40',
      '-q',
      '--progress-interval',
      '10ms',
    ]);
    expect(quiet.stderr.split('\n').filter((line) => line !== '')).toHaveLength(1);
  });

  it('redraws one line at most ten times a second on a terminal, then clears it for the summary', async () => {
    await startWorker('tick', async () => {
      await sleep(20);
      return 'x';
    });
    const input = writeLines(
      'tty.txt',
      Array.from({ length: 30 }, (_, i) => `t${i}`),
    );
    const startedAt = Date.now();
    const run = await submit(['-f', 'tick', '-s', address, '--batch', input, '--window', '2'], { tty: true });
    const seconds = (Date.now() - startedAt) / 1000;
    expect(run.code).toBe(0);
    const redraws = run.stderr.split('\r\x1b[2K');
    // Each redraw starts with the clear sequence; the last one clears the line for the summary.
    const frames = redraws.slice(1, -1);
    expect(frames.length).toBeGreaterThanOrEqual(1);
    expect(frames.length).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 1);
    for (const frame of frames) {
      // A frame drawn before the first line was read (a loaded machine) knows no total yet.
      expect(frame).toMatch(
        /^(\[[#.]{24}\] \d+\/~?\d+|0 done) {2}0 failed {2}[\d.]+ jobs\/s {2}ETA (\?|\d+s)$/,
      );
    }
    expect(redraws.at(-1)).toMatch(/^gworker submit: 30 jobs done, 0 failed/);
  });

  it('reports jobs/s and p50/p99 latencies that fit the run', async () => {
    await startWorker('wait', async (job) => {
      // 9 of 10 jobs take ~5 ms, every tenth ~100 ms: p50 near 5, p99 near 100.
      await sleep(Number(job.payload.toString()) % 10 === 0 ? 100 : 5);
      return '';
    });
    const input = writeLines(
      'lat.txt',
      Array.from({ length: 100 }, (_, i) => String(i + 1)),
    );
    const run = await submit(['-f', 'wait', '-s', address, '--batch', input, '--window', '10']);
    const s = summary(run.stderr);
    expect(s).toMatchObject({ jobs: 100, failed: 0 });
    expect(s.p50).toBeGreaterThanOrEqual(4);
    expect(s.p50).toBeLessThan(60);
    expect(s.p99).toBeGreaterThanOrEqual(95);
    expect(s.p99).toBeLessThan(1000);
    // jobs/s is jobs over the run's time (the time is printed rounded to 10 ms).
    expect(s.rate * s.seconds).toBeGreaterThan(100 * 0.9);
    expect(s.rate * s.seconds).toBeLessThan(100 * 1.1);
  });

  it('reads a long input as it goes: lines are read at most a window ahead of the jobs', async () => {
    let produced = 0;
    let handled = 0;
    let mostAhead = 0;
    const total = 5000;
    const lines = Readable.from(
      (function* () {
        for (let i = 0; i < total; i++) {
          produced++;
          mostAhead = Math.max(mostAhead, produced - handled);
          yield `${i}\n`;
        }
      })(),
      { objectMode: false, highWaterMark: 16 },
    );
    await startWorker('count', () => {
      handled++;
      return '';
    });
    const run = await submit(['-f', 'count', '-s', address, '--batch', '-', '--window', '8', '-q'], {
      stdin: lines,
    });
    expect(run.code).toBe(0);
    expect(summary(run.stderr).jobs).toBe(total);
    // Window 8, plus what the streams buffer (16 bytes here, a few lines): never the whole input.
    expect(mostAhead).toBeLessThan(64);
  });

  it('stops after --max-failures, and exits 1 when the server is down or the file is missing', async () => {
    await startWorker('never', (job) => {
      job.fail();
    });
    const input = writeLines(
      'f.txt',
      Array.from({ length: 20 }, (_, i) => `x${i}`),
    );
    const stopped = await submit([
      '-f',
      'never',
      '-s',
      address,
      '--batch',
      input,
      '--window',
      '1',
      '--max-failures',
      '3',
    ]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain(
      'stopped after 3 failures (--max-failures); lines after 3 were not submitted',
    );
    expect(summary(stopped.stderr)).toMatchObject({ jobs: 3, failed: 3 });

    const down = new GearmanServer({ port: 0 });
    const { port } = await down.listen();
    await down.close();
    const unreachable = await submit([
      '-f',
      'x',
      '-s',
      `127.0.0.1:${port}`,
      '--batch',
      input,
      '--results',
      '-',
    ]);
    expect(unreachable.code).toBe(1);
    expect(
      jsonLines(unreachable.stdout).every((r) => r.ok === false && r.code === 'GEARMAN_ERR_NO_SERVERS'),
    ).toBe(true);
    expect(summary(unreachable.stderr)).toMatchObject({ jobs: 20, failed: 20 });

    const missing = await submit(['-f', 'x', '-s', address, '--batch', path.join(dir, 'nope.txt')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ENOENT');
  });

  it('puts the data chunks a worker streams (WORK_DATA) before its result, as gworker submit prints them', async () => {
    await startWorker('stream', (job) => {
      job.data(`${job.payload.toString()}:`);
      job.data('chunk,');
      return 'end';
    });
    const run = await submit(['-f', 'stream', '-s', address, '--batch', '-', '--results', '-', '--ordered'], {
      stdin: 'a\nb\n',
    });
    expect(jsonLines(run.stdout).map((r) => r.result)).toEqual(['a:chunk,end', 'b:chunk,end']);
  });

  it('writes a result that is not UTF-8 as resultBase64', async () => {
    await startWorker('bytes', () => Buffer.from([0xff, 0x00, 0xfe]));
    const run = await submit(['-f', 'bytes', '-s', address, '--batch', '-', '--results', '-'], {
      stdin: 'a\n',
    });
    expect(jsonLines(run.stdout)).toEqual([
      { line: 1, handle: expect.any(String), ok: true, resultBase64: '/wD+' },
    ]);
  });

  it('refuses flags that do not fit together with exit status 2', async () => {
    const input = writeLines('e.txt', ['a']);
    for (const args of [
      ['--batch', input, '--window', '0'],
      ['--batch', input, '--window', 'many'],
      ['--batch', input, '--output', 'h.txt'],
      ['--batch', input, 'payload'],
      ['--batch', input, '--unique', 'u'],
      ['--batch', input, '--status'],
      ['--batch', input, '-b', '--output', '-', '--results', '-'],
      ['--batch', input, '--progress-interval', '0'],
      ['--batch', input, '--max-failures', '0'],
      ['--window', '4', 'payload'],
      ['--ordered', 'payload'],
    ]) {
      const run = await submit(['-f', 'x', '-s', address, ...args]);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
    }
    const help = await submit(['--help']);
    expect(help.code).toBe(0);
    for (const flag of [
      '--batch FILE',
      '--window N',
      '--keep-empty',
      '--unique-from-line',
      '--results FILE',
      '--ordered',
      '--output FILE',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });
});
