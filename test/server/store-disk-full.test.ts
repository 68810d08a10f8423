// Issue 10, item 9, on a real full disk: a small tmpfs, filled up by another file. Needs
// the right to mount (root, or CAP_SYS_ADMIN); skipped where mounting is not permitted.
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import { openSqliteStore } from '../../src/server/sqlite-store.js';
import { killAll, spawnTracked } from '../helpers/peers.js';
import { type LogEntry, linesWith, recordingLogger } from '../helpers/recording-logger.js';
import { eventually } from './helpers/conformance.js';
import { startServer } from './helpers/own-server.js';
import { RawClient, submitBackground, texts } from './helpers/raw-client.js';

const bin = fileURLToPath(new URL('../../bin/gworker.js', import.meta.url));

function mount(at: string): void {
  // 2 MiB: the store's 512 KiB done journal, the database, its WAL, and room to fill.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', at], { stdio: 'ignore' });
}

function unmount(at: string): void {
  execFileSync('umount', ['-l', at], { stdio: 'ignore' });
}

/** Whether this process may mount a tmpfs (tried once, on a scratch directory). */
function mayMount(): boolean {
  const at = mkdtempSync(join(tmpdir(), 'gworker-mount-probe-'));
  try {
    mount(at);
    unmount(at);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(at, { recursive: true, force: true });
  }
}

const kNoMount = !mayMount();
const kSkipReason = ' (skipped: mounting a tmpfs is not permitted here)';

let dir = '';
let disk = '';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gworker-disk-full-'));
  disk = join(dir, 'disk');
  mkdirSync(disk);
  if (!kNoMount) mount(disk);
});

afterEach(async () => {
  await killAll();
  if (!kNoMount) unmount(disk);
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a file until the disk has no room left (ENOSPC). */
function fillDisk(): void {
  try {
    writeFileSync(join(disk, 'filler'), Buffer.alloc(4 * 1024 * 1024));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    return;
  }
  throw new Error('the disk did not fill up');
}

function freeDisk(): void {
  rmSync(join(disk, 'filler'));
}

async function complete(worker: RawClient, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    worker.send(PacketType.GRAB_JOB);
    const [handle] = texts(await worker.expect(PacketType.JOB_ASSIGN));
    worker.send(PacketType.WORK_COMPLETE, [handle as string, 'ok']);
  }
  await worker.sync();
}

async function startCli(store: string): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawnTracked(process.execPath, [
    bin,
    'server',
    '--port',
    '0',
    '--store',
    store,
    '--log-level',
    'warn',
  ]);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  await eventually(() => (/listening on \S+:\d+/.test(out) ? true : undefined), 20_000);
  return { child, port: Number(/listening on \S+:(\d+)/.exec(out)?.[1]), output: () => out };
}

describe('the SQLite store on a real full disk', () => {
  it.skipIf(kNoMount)(
    `refuses background submits, runs what it holds, and commits its deletes once space returns${kNoMount ? kSkipReason : ''}`,
    async () => {
      const store = openSqliteStore(join(disk, 'jobs.db'), { synchronous: 'normal' });
      const { server, port } = await startServer({ store });
      const client = await RawClient.connect(port);
      for (let i = 0; i < 5; i++)
        expect(await submitBackground(client, 'disk', `d${i}`, `job ${i}`)).toBe('created');
      fillDisk();
      const worker = await RawClient.connect(port);
      worker.send(PacketType.CAN_DO, ['disk']).send(PacketType.CAN_DO, ['fg']);
      await complete(worker, 5);
      await eventually(() => (server.storeHealth?.writable === false ? true : undefined));
      expect(await submitBackground(client, 'disk', 'refused', 'x')).toBe('QUEUE_ERROR QUEUE_ERROR');
      expect(store.size).toBe(5);
      client.send(PacketType.SUBMIT_JOB, ['fg', '', 'foreground']);
      await client.expect(PacketType.JOB_CREATED);
      await complete(worker, 1);
      await client.expect(PacketType.WORK_COMPLETE);

      freeDisk();
      await eventually(() => (server.storeHealth?.writable === true ? true : undefined), 8_000);
      expect(store.size).toBe(0);
      expect(await submitBackground(client, 'disk', 'after', 'x')).toBe('created');
      await server.close();
    },
  );

  it.skipIf(kNoMount)(
    `closed while the disk is full, it runs none of the completed jobs at the next start${kNoMount ? kSkipReason : ''}`,
    async () => {
      const lines: LogEntry[] = [];
      const path = join(disk, 'jobs.db');
      const first = await startServer({ store: openSqliteStore(path), logger: recordingLogger(lines) });
      const client = await RawClient.connect(first.port);
      for (let i = 0; i < 4; i++)
        expect(await submitBackground(client, 'disk', `c${i}`, `job ${i}`)).toBe('created');
      fillDisk();
      const worker = await RawClient.connect(first.port);
      worker.send(PacketType.CAN_DO, ['disk']);
      await complete(worker, 3);
      await eventually(() => (first.server.storeHealth?.pendingDeletes === 3 ? true : undefined));
      await first.server.close();
      expect(linesWith(lines, 'closing while the job store cannot write')[0]?.obj).toEqual({
        pendingDeletes: 3,
      });
      freeDisk();

      const again: LogEntry[] = [];
      const second = await startServer({ store: openSqliteStore(path), logger: recordingLogger(again) });
      expect(second.server.jobCount).toBe(1);
      expect(linesWith(again, 'not replayed')[0]?.obj).toEqual({ jobs: 3 });
    },
  );

  it.skipIf(kNoMount)(
    `gworker server killed during the outage: the restart runs none of the completed jobs and says so${kNoMount ? kSkipReason : ''}`,
    async () => {
      const path = join(disk, 'jobs.db');
      const first = await startCli(path);
      const client = await RawClient.connect(first.port);
      for (let i = 0; i < 6; i++)
        expect(await submitBackground(client, 'disk', `k${i}`, `job ${i}`)).toBe('created');
      fillDisk();
      const worker = await RawClient.connect(first.port);
      worker.send(PacketType.CAN_DO, ['disk']);
      await complete(worker, 1);
      await eventually(() => (first.output().includes('job store cannot write') ? true : undefined));
      await complete(worker, 4);
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.once('exit', resolve));
      freeDisk();

      const second = await startCli(path);
      await eventually(() => (second.output().includes('not replayed') ? true : undefined));
      expect(second.output()).toMatch(/"jobs":5\b/);
      const admin = await RawClient.connect(second.port);
      expect(await admin.admin('status', 'list')).toEqual(['disk\t1\t0\t0']);
    },
  );
});
