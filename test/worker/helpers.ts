import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkerOptions } from '../../src/worker/options.js';
import { Worker } from '../../src/worker/worker.js';
import { collect, spawnTracked } from '../helpers/peers.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const scriptDir = mkdtempSync(join(tmpdir(), 'gworker-worker-test-'));
process.once('exit', () => rmSync(scriptDir, { recursive: true, force: true }));
let scriptCount = 0;

/** Runs a PHP script (source text) with `args`; the pecl gearman extension is loaded. */
export function runPhp(source: string, args: readonly (string | number)[]): Promise<RunResult> {
  const file = join(scriptDir, `script-${++scriptCount}.php`);
  writeFileSync(file, source);
  return collect(spawnTracked('php', [file, ...args.map(String)]));
}

/** Runs the `gearman` CLI with `input` on stdin. */
export function runGearman(args: readonly string[], input = ''): Promise<RunResult> {
  const child = spawnTracked('gearman', args);
  const done = collect(child);
  child.stdin?.end(input);
  return done;
}

/** Sends one text admin command and returns the reply lines up to (not including) the final `.`. */
export function adminCommand(port: number, command: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`admin "${command}" got no complete reply: ${JSON.stringify(text)}`));
    }, 5000);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text === '.\n' || text.endsWith('\n.\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text.split('\n').slice(0, -2));
      }
    });
    socket.write(`${command}\n`);
  });
}

/** `workers` output as {clientId, functions} per connection. */
export async function adminWorkers(port: number): Promise<Array<{ clientId: string; functions: string[] }>> {
  const lines = await adminCommand(port, 'workers');
  return lines.map((line) => {
    const [left, right = ''] = line.split(' : ');
    const clientId = (left ?? '').trim().split(/\s+/)[2] ?? '';
    return { clientId, functions: right.trim() === '' ? [] : right.trim().split(/\s+/) };
  });
}

/** `status` output as function → {total, running, workers}. */
export async function adminStatus(
  port: number,
): Promise<Map<string, { total: number; running: number; workers: number }>> {
  const lines = await adminCommand(port, 'status');
  const status = new Map<string, { total: number; running: number; workers: number }>();
  for (const line of lines) {
    const [name = '', total, running, workers] = line.split('\t');
    status.set(name, { total: Number(total), running: Number(running), workers: Number(workers) });
  }
  return status;
}

/** Polls `check` every 20 ms until it holds, failing after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise with its resolve function, for handlers that wait on the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const liveWorkers = new Set<Worker>();

/** A Worker that closeWorkers() force-closes (call it in afterEach). */
export function trackedWorker(options: WorkerOptions): Worker {
  const worker = new Worker(options);
  liveWorkers.add(worker);
  return worker;
}

export async function closeWorkers(): Promise<void> {
  const workers = [...liveWorkers];
  liveWorkers.clear();
  await Promise.all(workers.map((worker) => worker.close({ force: true })));
}

/** The PHP client of the seed article, with the port and function as arguments. */
export const PHP_DO_NORMAL = `<?php
$client = new GearmanClient();
$client->addServer('127.0.0.1', (int)$argv[1]);
$result = $client->doNormal($argv[2], $argv[3]);
echo json_encode(['result' => $result, 'rc' => $client->returnCode()]), "\\n";
`;

/**
 * A PHP client that runs one task with every callback set and prints one JSON line per
 * event. argv: port, function, payload, exceptions (1 = on: addServer's default plus an
 * exception callback; 0 = off), timeout in ms.
 */
export const PHP_TASK_EVENTS = `<?php
$client = new GearmanClient();
$client->addServer('127.0.0.1', (int)$argv[1], $argv[4] === '1');
$client->setTimeout((int)$argv[5]);
$say = function ($event, $task, $extra = []) {
  echo json_encode(array_merge(['event' => $event, 'handle' => $task->jobHandle()], $extra)), "\\n";
};
$client->setStatusCallback(function ($t) use ($say) {
  $say('status', $t, ['numerator' => $t->taskNumerator(), 'denominator' => $t->taskDenominator()]);
});
$client->setDataCallback(function ($t) use ($say) { $say('data', $t, ['data' => $t->data()]); });
$client->setWarningCallback(function ($t) use ($say) { $say('warning', $t, ['data' => $t->data()]); });
$client->setCompleteCallback(function ($t) use ($say) { $say('complete', $t, ['data' => $t->data()]); });
// Setting an exception callback makes pecl ask for exceptions too: only with argv[4] = 1.
if ($argv[4] === '1') {
  $client->setExceptionCallback(function ($t) use ($say) { $say('exception', $t, ['data' => $t->data()]); });
}
$client->setFailCallback(function ($t) use ($say) { $say('fail', $t); });
$client->addTask($argv[2], $argv[3]);
$ok = @$client->runTasks();
echo json_encode(['event' => 'done', 'ok' => $ok, 'rc' => $client->returnCode()]), "\\n";
`;

/** Submits background jobs: argv port, function, count, payload prefix. Prints the handles. */
export const PHP_SUBMIT_BACKGROUND = `<?php
$client = new GearmanClient();
$client->addServer('127.0.0.1', (int)$argv[1]);
for ($i = 0; $i < (int)$argv[3]; $i++) {
  echo $client->doBackground($argv[2], $argv[4] . $i), "\\n";
}
`;

export function parseJsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
