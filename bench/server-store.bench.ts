/**
 * Background submits per second into a job server with and without a durable store:
 * gworker's server in memory, on SQLite (`--store`, synchronous full and normal), and
 * gearmand 1.1.20 in memory and on its libsqlite3 queue, for comparison.
 *
 *   npx tsx bench/server-store.bench.ts [--jobs N] [--single N] [--runs N]
 *
 * Each run starts a fresh server (and a fresh database file) in its own process, and
 * gworker's Client in this one submits to it: first `--single` jobs one at a time (each
 * awaits its JOB_CREATED before the next is sent: the latency of one commit), then
 * `--jobs` jobs all at once (pipelined: the server commits a tick's worth in one
 * transaction). No worker runs: the jobs stay queued (and stored). Median of the runs.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client } from '../src/client/client.js';
import { freePort, portAccepts } from './lib/ports.js';
import { median } from './lib/stats.js';
import { fmtInt, formatTable } from './lib/table.js';

const bin = fileURLToPath(new URL('../bin/gworker.js', import.meta.url));
const kPayload = 'submit-payload16';

interface Target {
  readonly name: string;
  start(port: number, dir: string): ChildProcess;
}

const gworker = (extra: (dir: string) => string[]) => (port: number, dir: string) =>
  spawn(process.execPath, [bin, 'server', '--port', String(port), '--log-level', 'error', ...extra(dir)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });

const gearmand = (extra: (dir: string) => string[]) => (port: number, dir: string) =>
  spawn(
    'gearmand',
    ['--listen=127.0.0.1', `--port=${port}`, '--log-file=stderr', '--verbose=ERROR', ...extra(dir)],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );

const kTargets: readonly Target[] = [
  { name: 'gworker, memory', start: gworker(() => []) },
  { name: 'gworker, --store (sync full)', start: gworker((dir) => ['--store', join(dir, 'full.db')]) },
  {
    name: 'gworker, --store --store-sync normal',
    start: gworker((dir) => ['--store', join(dir, 'normal.db'), '--store-sync', 'normal']),
  },
  { name: 'gearmand 1.1.20, memory', start: gearmand(() => []) },
  {
    name: 'gearmand 1.1.20, -q libsqlite3',
    start: gearmand((dir) => ['-q', 'libsqlite3', `--libsqlite3-db=${join(dir, 'gearmand.db')}`]),
  },
];

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (await portAccepts(port)) return;
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) before listening`);
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** One fresh server: [one-at-a-time submits/s, pipelined submits/s]. */
async function runOnce(target: Target, single: number, jobs: number): Promise<[number, number]> {
  const dir = mkdtempSync(join(tmpdir(), 'gworker-store-bench-'));
  const port = await freePort();
  const child = target.start(port, dir);
  const client = new Client({ servers: [`127.0.0.1:${port}`] });
  try {
    await waitForPort(port, child);
    for (let i = 0; i < 200; i++) await client.submitBackground('warm', kPayload);
    let started = performance.now();
    for (let i = 0; i < single; i++) await client.submitBackground('single', kPayload);
    const singleRate = single / ((performance.now() - started) / 1000);
    started = performance.now();
    await Promise.all(Array.from({ length: jobs }, () => client.submitBackground('piped', kPayload)));
    const pipedRate = jobs / ((performance.now() - started) / 1000);
    return [singleRate, pipedRate];
  } finally {
    await client.close();
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', default: '20000' },
      single: { type: 'string', default: '3000' },
      runs: { type: 'string', default: '3' },
    },
  });
  const jobs = Number(values.jobs);
  const single = Number(values.single);
  const runs = Number(values.runs);
  let hasGearmand = true;
  try {
    execFileSync('gearmand', ['--version'], { stdio: 'ignore' });
  } catch {
    hasGearmand = false;
  }
  const rows: string[][] = [];
  for (const target of kTargets) {
    if (target.name.startsWith('gearmand') && !hasGearmand) continue;
    const results: Array<[number, number]> = [];
    for (let run = 0; run < runs; run++) results.push(await runOnce(target, single, jobs));
    rows.push([
      target.name,
      '',
      fmtInt(median(results.map((r) => r[0]))),
      fmtInt(median(results.map((r) => r[1]))),
    ]);
    process.stderr.write(`done: ${target.name}\n`);
  }
  console.log(
    `Background submits/s, gworker Client, payload ${kPayload.length} B, ${single} one at a time then ${jobs} pipelined, median of ${runs}\n`,
  );
  console.log(formatTable(['server', '', 'one at a time/s', 'pipelined/s'], rows));
}

await main();
