// Issue 10, item 9: with --store on a full disk, deletes could not commit, every job that
// had completed ran again after a restart, and submits kept failing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import { ServerMetrics } from '../../src/server/metrics/server-metrics.js';
import type { GearmanServer } from '../../src/server/server.js';
import { openSqliteStore, type SqliteJobStore } from '../../src/server/sqlite-store.js';
import { kDatabases } from '../../src/server/sqlite-test-access.js';
import { killAll, spawnTracked } from '../helpers/peers.js';
import { type LogEntry, linesWith, recordingLogger } from '../helpers/recording-logger.js';
import { eventually } from './helpers/conformance.js';
import { startServer } from './helpers/own-server.js';
import { parsePromText, sampleValue } from './helpers/prom-text.js';
import { RawClient, submitBackground, texts } from './helpers/raw-client.js';

const kCannotWrite = 'job store cannot write';
const kCanWrite = 'job store can write again';
/** More than a page: an add of it needs a new page, which a full database has not. */
const kBig = 'x'.repeat(16 * 1024);
const fixture = fileURLToPath(new URL('./fixtures/store-server.ts', import.meta.url));

let dir = '';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gworker-store-full-'));
});

afterEach(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

function open(name = 'jobs.db'): SqliteJobStore {
  return openSqliteStore(join(dir, name), { synchronous: 'normal' });
}

/** SQLite refuses to grow the file past its size now: every add that needs a page fails with SQLITE_FULL. */
function fill(store: SqliteJobStore): void {
  const db = kDatabases.get(store);
  if (db === undefined) throw new Error('no database for this store');
  const pages = db.pragma('page_count', { simple: true });
  db.pragma(`max_page_count = ${Number(pages)}`);
}

function makeRoom(store: SqliteJobStore): void {
  kDatabases.get(store)?.pragma('max_page_count = 1073741823');
}

/** Every write fails (SQLITE_READONLY), deletes too, as on a file system remounted read-only. */
function readOnly(store: SqliteJobStore, on: boolean): void {
  kDatabases.get(store)?.pragma(`query_only = ${on ? 'ON' : 'OFF'}`);
}

/** Grabs and completes `count` jobs on `worker` (registered already); returns their data. */
async function complete(worker: RawClient, count: number): Promise<string[]> {
  const done: string[] = [];
  for (let i = 0; i < count; i++) {
    worker.send(PacketType.GRAB_JOB);
    const [handle, , data] = texts(await worker.expect(PacketType.JOB_ASSIGN));
    worker.send(PacketType.WORK_COMPLETE, [handle as string, 'ok']);
    done.push(data as string);
  }
  await worker.sync();
  return done;
}

async function writableAgain(server: GearmanServer): Promise<void> {
  // The retry's backoff stops at 2 s: recovery shows within that and a commit.
  await eventually(() => (server.storeHealth?.writable === true ? true : undefined), 8_000);
}

describe('the SQLite store when it cannot write', () => {
  it('refuses background submits with QUEUE_ERROR while full, logs it once, keeps serving what it holds, and recovers by itself', async () => {
    const lines: LogEntry[] = [];
    const store = open();
    const { server, port } = await startServer({ store, logger: recordingLogger(lines) });
    const client = await RawClient.connect(port);
    for (let i = 0; i < 3; i++)
      expect(await submitBackground(client, 'queued', `q${i}`, `job ${i}`)).toBe('created');

    fill(store);
    for (let i = 0; i < 5; i++) {
      expect(await submitBackground(client, 'late', `l${i}`, kBig)).toBe('QUEUE_ERROR QUEUE_ERROR');
    }
    expect(linesWith(lines, kCannotWrite)).toHaveLength(1);
    expect(linesWith(lines, kCannotWrite)[0]?.obj).toMatchObject({ reason: 'full' });
    expect(server.storeHealth).toMatchObject({ writable: false, refusedSubmits: 5 });
    expect(server.jobCount).toBe(3);
    const metrics = new ServerMetrics(server, { defaultMetrics: false });
    const scrape = async () => parsePromText(await metrics.text());
    expect(sampleValue(await scrape(), 'gworker_server_store_writable')).toBe(0);

    // Foreground jobs never touch the store; the jobs held before the disk filled still run.
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['queued']).send(PacketType.CAN_DO, ['fg']);
    client.send(PacketType.SUBMIT_JOB, ['fg', '', 'foreground']);
    const fgHandle = texts(await client.expect(PacketType.JOB_CREATED))[0];
    expect((await complete(worker, 4)).sort()).toEqual(['foreground', 'job 0', 'job 1', 'job 2']);
    expect(texts(await client.expect(PacketType.WORK_COMPLETE))).toEqual([fgHandle, 'ok']);
    // Deletes need no new page: the retry commits them while adds still cannot.
    await eventually(() => (store.size === 0 && server.storeHealth?.pendingDeletes === 0 ? true : undefined));
    expect(await submitBackground(client, 'late', 'still', kBig)).toBe('QUEUE_ERROR QUEUE_ERROR');
    expect(linesWith(lines, kCannotWrite)).toHaveLength(1);

    makeRoom(store);
    await writableAgain(server);
    expect(linesWith(lines, kCanWrite)).toHaveLength(1);
    expect(linesWith(lines, kCanWrite)[0]?.obj).toMatchObject({ refusedSubmits: 6 });
    expect(await submitBackground(client, 'late', 'after', kBig)).toBe('created');
    expect(store.size).toBe(1);
    expect(sampleValue(await scrape(), 'gworker_server_store_writable')).toBe(1);
  });

  it('retries the deletes of completed jobs until they commit, so a restart runs none of them again', async () => {
    const lines: LogEntry[] = [];
    const store = open();
    const first = await startServer({ store, logger: recordingLogger(lines) });
    const client = await RawClient.connect(first.port);
    for (let i = 0; i < 4; i++)
      expect(await submitBackground(client, 'ro', `r${i}`, `job ${i}`)).toBe('created');
    readOnly(store, true);
    const worker = await RawClient.connect(first.port);
    worker.send(PacketType.CAN_DO, ['ro']);
    expect(await complete(worker, 4)).toHaveLength(4);
    await eventually(() => (first.server.storeHealth?.writable === false ? true : undefined));
    expect(linesWith(lines, kCannotWrite)[0]?.obj).toMatchObject({ reason: 'unwritable' });
    expect(await submitBackground(client, 'ro', 'refused', 'x')).toBe('QUEUE_ERROR QUEUE_ERROR');
    expect(store.size).toBe(4);
    expect(first.server.storeHealth?.pendingDeletes).toBe(4);
    const metrics = new ServerMetrics(first.server, { defaultMetrics: false });
    expect(sampleValue(parsePromText(await metrics.text()), 'gworker_server_store_pending_deletes')).toBe(4);

    readOnly(store, false);
    await writableAgain(first.server);
    expect(store.size).toBe(0);
    expect(first.server.storeHealth?.pendingDeletes).toBe(0);
    await first.server.close();

    const again: LogEntry[] = [];
    const second = await startServer({ store: open(), logger: recordingLogger(again) });
    expect(second.server.jobCount).toBe(0);
    expect(again.filter((line) => line.level === 'warn' || line.level === 'error')).toEqual([]);
  });

  it('after a kill -9 while deletes could not commit, the restart skips the jobs that had completed and says so', async () => {
    const path = join(dir, 'jobs.db');
    const child = spawnTracked(process.execPath, ['--import', 'tsx', fixture, path], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const said = (text: string) => eventually(() => (out.includes(text) ? true : undefined), 20_000);
    await said('listening ');
    const port = Number(/listening (\d+)/.exec(out)?.[1]);
    const client = await RawClient.connect(port);
    for (let i = 0; i < 7; i++)
      expect(await submitBackground(client, 'kill', `k${i}`, `job ${i}`)).toBe('created');
    child.stdin?.write('read-only\n');
    await said('read-only\n');
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['kill']);
    await complete(worker, 1);
    await said(kCannotWrite);
    await complete(worker, 5);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    const lines: LogEntry[] = [];
    const store = open();
    const { server, port: next } = await startServer({ store, logger: recordingLogger(lines) });
    expect(server.jobCount).toBe(1);
    expect(linesWith(lines, 'not replayed')[0]?.obj).toEqual({ jobs: 6 });
    expect(store.size).toBe(1);
    const survivor = await RawClient.connect(next);
    survivor.send(PacketType.CAN_DO, ['kill']);
    expect(await complete(survivor, 1)).toEqual(['job 6']);
  });
});
