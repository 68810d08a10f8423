import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnTracked } from '../helpers/peers.js';

/**
 * A PHP pecl worker (one process runs one job at a time) with the functions the client
 * tests need. It polls every 250 ms (setTimeout) so it also re-grabs epoch jobs that
 * gearmand 1.1.x does not wake it for.
 */
const kWorkerScript = String.raw`<?php
$w = new GearmanWorker();
$w->addServer('127.0.0.1', (int)$argv[1]);
$w->setTimeout(250);
// The seed's worker.
$w->addFunction('title', function ($job) { return ucwords(strtolower($job->workload())); });
$w->addFunction('updates', function ($job) {
  $job->sendStatus(1, 2);
  $job->sendData('x');
  $job->sendWarning('careful');
  $job->sendData('y');
  $job->sendStatus(2, 2);
  return 'done';
});
$w->addFunction('boom', function ($job) {
  $job->sendException('boom: ' . $job->workload());
  $job->setReturn(GEARMAN_WORK_EXCEPTION);
  return '';
});
$w->addFunction('fail', function ($job) { $job->setReturn(GEARMAN_WORK_FAIL); return ''; });
// Sleeps the number of milliseconds in the payload, then echoes it.
$w->addFunction('sleep', function ($job) { usleep(1000 * (int)$job->workload()); return 'slept ' . $job->workload(); });
// Prints the payload (one line) so a test sees the order jobs ran in.
$w->addFunction('record', function ($job) { echo $job->workload(), "\n"; fflush(STDOUT); return $job->workload(); });
// Reports 1/2, then waits (at most 15 s) until the file named by the payload exists.
$w->addFunction('hold', function ($job) {
  $job->sendStatus(1, 2);
  for ($i = 0; $i < 300 && !file_exists($job->workload()); $i++) usleep(50000);
  return 'released';
});
// Sends one data chunk, then waits (at most 15 s) for the file named by the payload.
$w->addFunction('stream', function ($job) {
  $job->sendData("chunk-1\n");
  for ($i = 0; $i < 300 && !file_exists($job->workload()); $i++) usleep(50000);
  return "result\n";
});
// When it ran, as Unix time in milliseconds.
$w->addFunction('stamp', function ($job) { echo (int)(microtime(true) * 1000), "\n"; fflush(STDOUT); return ''; });
while (true) {
  $w->work();
  $rc = $w->returnCode();
  if ($rc != GEARMAN_SUCCESS && $rc != GEARMAN_TIMEOUT && $rc != GEARMAN_WORK_EXCEPTION && $rc != GEARMAN_WORK_FAIL
      && $rc != GEARMAN_NO_ACTIVE_FDS && $rc != GEARMAN_IO_WAIT && $rc != GEARMAN_NO_JOBS) {
    fwrite(STDERR, "work: " . $w->error() . "\n");
    usleep(100000);
  }
}
`;

let scriptDir: string | null = null;

function scriptPath(): string {
  if (scriptDir === null) {
    scriptDir = mkdtempSync(path.join(tmpdir(), 'gworker-php-'));
    writeFileSync(path.join(scriptDir, 'worker.php'), kWorkerScript);
    process.once('exit', () => {
      if (scriptDir !== null) rmSync(scriptDir, { recursive: true, force: true });
    });
  }
  return path.join(scriptDir, 'worker.php');
}

export interface PhpWorker {
  readonly child: ChildProcess;
  /** Lines the worker printed so far (the `record` and `stamp` functions print). */
  lines(): string[];
}

/** Starts a PHP worker on `port` and waits until gearmand lists it for `title`. */
export async function startPhpWorker(port: number): Promise<PhpWorker> {
  const child = spawnTracked('php', [scriptPath(), String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', () => {});
  await waitForWorkers(port, 'title', 1);
  return { child, lines: () => out.split('\n').filter((line) => line !== '') };
}

/**
 * Sends one admin line and collects the reply up to the `.` line (or one line for OK/ERR).
 * Ends it with CRLF: gearmand 1.1.20's `create function` drops the name's last character
 * when the line ends in a bare LF.
 */
export function adminCommand(port: number, line: string, timeoutMs = 5000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`admin "${line}" timed out`));
    }, timeoutMs);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const lines = text.split(/\r?\n/);
      const complete = lines.slice(0, -1);
      const first = complete[0];
      const done =
        first !== undefined && (first.startsWith('OK') || first.startsWith('ERR') || complete.includes('.'));
      if (done) {
        clearTimeout(timer);
        socket.destroy();
        resolve(
          first.startsWith('OK') || first.startsWith('ERR')
            ? [first]
            : complete.slice(0, complete.indexOf('.')),
        );
      }
    });
  });
}

export interface FunctionStatus {
  readonly total: number;
  readonly running: number;
  readonly workers: number;
}

/** gearmand's `status`, by function. */
export async function functionStatus(port: number): Promise<Map<string, FunctionStatus>> {
  const rows = await adminCommand(port, 'status');
  const result = new Map<string, FunctionStatus>();
  for (const row of rows) {
    const [name, total, running, workers] = row.split('\t');
    if (name !== undefined)
      result.set(name, { total: Number(total), running: Number(running), workers: Number(workers) });
  }
  return result;
}

/** Polls `status` until `fn` has at least `count` workers (bounded: 10 s). */
export async function waitForWorkers(port: number, fn: string, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const status = (await functionStatus(port)).get(fn);
    if (status !== undefined && status.workers >= count) return;
    if (Date.now() > deadline) throw new Error(`no worker for ${fn} after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls until `check` passes (bounded), for states reached asynchronously. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
