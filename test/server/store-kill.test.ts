import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import type { Priority } from '../../src/client/submit-options.js';
import { Worker } from '../../src/worker/worker.js';
import { killAll, spawnTracked, stopProcess } from '../helpers/peers.js';
import { eventually, waitForLine } from './helpers/conformance.js';
import { closeAllRawClients, RawClient } from './helpers/raw-client.js';

const bin = fileURLToPath(new URL('../../bin/gworker.js', import.meta.url));
const kJobs = 2000;
/** Submits in flight at once: enough that a kill always lands among unanswered ones. */
const kWindow = 64;
const kPriorities: readonly Priority[] = ['high', 'normal', 'low'];
const kRank: Record<Priority, number> = { high: 0, normal: 1, low: 2 };

/** mulberry32: a small seeded PRNG, so a failing run can be repeated with its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function startServer(store: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnTracked(
    process.execPath,
    [bin, 'server', '--port', '0', '--store', store, '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const line = await waitForLine(child, /^gworker server listening on /, 20_000);
  return { child, port: Number(/:(\d+)$/.exec(line)?.[1]) };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

interface Submitted {
  readonly index: number;
  readonly priority: Priority;
}

/**
 * Submits kJobs background jobs, kWindow at a time, and SIGKILLs the server once `killAt`
 * of them were acknowledged, while the rest are on the wire or not yet sent.
 */
async function submitUntilKilled(port: number, child: ChildProcess, killAt: number): Promise<Set<number>> {
  const client = new Client({ servers: [`127.0.0.1:${port}`], reconnect: false });
  const acknowledged = new Set<number>();
  let next = 0;
  let killed = false;
  const lane = async (): Promise<void> => {
    while (next < kJobs && !killed) {
      const index = next++;
      const priority = kPriorities[index % 3] as Priority;
      try {
        await client.submitBackground('durable', String(index), { unique: `job-${index}`, priority });
      } catch {
        return; // the server is gone
      }
      acknowledged.add(index);
      if (acknowledged.size === killAt && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: kWindow }, lane));
  await client.close();
  return acknowledged;
}

/** Runs every job the server holds, one at a time, and returns them in the order they ran. */
async function drain(port: number): Promise<Submitted[]> {
  const ran: Submitted[] = [];
  const mismatched: string[] = [];
  const worker = new Worker({ servers: [`127.0.0.1:${port}`], maxJobs: 1 });
  worker.register('durable', (job) => {
    const index = Number(job.payload.toString());
    // Checked after the drain: a throw here would only become a WORK_EXCEPTION.
    if (job.unique !== `job-${index}`) mismatched.push(`${job.unique} carried payload ${index}`);
    ran.push({ index, priority: kPriorities[index % 3] as Priority });
    return '';
  });
  await worker.start();
  const admin = await RawClient.connect(port);
  await eventually(async () => {
    const status = await admin.admin('status', 'list');
    return status.every((line) => /\t0\t0\t\d+$/.test(line)) ? true : undefined;
  }, 60_000);
  await worker.close();
  expect(mismatched).toEqual([]);
  return ran;
}

let dir = '';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gworker-kill-'));
});

afterEach(async () => {
  closeAllRawClients();
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('gworker server --store under kill -9', () => {
  const seed = Number(process.env.GWORKER_TEST_SEED ?? 20_240_611);

  it(`loses no acknowledged background job, replays in order and priority, and forgets what ran (seed ${seed})`, async () => {
    const store = join(dir, 'jobs.db');
    const rand = random(seed);
    const killAt = 200 + Math.floor(rand() * (kJobs - 400));

    const first = await startServer(store);
    const acknowledged = await submitUntilKilled(first.port, first.child, killAt);
    await exited(first.child);
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(acknowledged.size).toBeGreaterThanOrEqual(killAt);
    expect(acknowledged.size).toBeLessThan(kJobs);

    const second = await startServer(store);
    const ran = await drain(second.port);
    const ranIndexes = new Set(ran.map((job) => job.index));
    if (process.env.GWORKER_TEST_VERBOSE)
      console.log({ seed, killAt, acknowledged: acknowledged.size, ran: ran.length });
    const lost = [...acknowledged].filter((index) => !ranIndexes.has(index));
    expect(lost, `acknowledged jobs that did not run (killed after ${killAt} acks)`).toEqual([]);
    expect(ran.length, 'each job ran once').toBe(ranIndexes.size);
    // gearmand's order for one function: every HIGH job, then NORMAL, then LOW, each in submit order.
    const expected = [...ran].sort((a, b) => kRank[a.priority] - kRank[b.priority] || a.index - b.index);
    expect(ran.map((job) => job.index)).toEqual(expected.map((job) => job.index));
    await stopProcess(second.child, 'SIGTERM');

    const rows = new Database(store, { readonly: true });
    const left = rows.prepare('SELECT count(*) FROM jobs').pluck().get();
    rows.close();
    expect(left).toBe(0);
    const third = await startServer(store);
    const admin = await RawClient.connect(third.port);
    expect(await admin.admin('status', 'list')).toEqual([]);
  }, 120_000);
});
