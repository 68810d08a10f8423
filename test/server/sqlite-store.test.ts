import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, JobStoreError } from '../../src/errors.js';
import { PacketType } from '../../src/protocol/constants.js';
import { JobPriority } from '../../src/server/job.js';
import { SCHEMA_VERSION } from '../../src/server/sqlite-schema.js';
import { openSqliteStore, type SqliteJobStore } from '../../src/server/sqlite-store.js';
import type { StoredJob, StoreKey } from '../../src/server/store.js';
import { startServer } from './helpers/own-server.js';
import { RawClient, texts } from './helpers/raw-client.js';

let dir = '';
const stores: SqliteJobStore[] = [];

function open(name = 'jobs.db', sync: 'full' | 'normal' = 'full'): SqliteJobStore {
  const store = openSqliteStore(join(dir, name), { synchronous: sync, busyTimeoutMs: 50 });
  stores.push(store);
  return store;
}

function job(fn: string, unique: string, data: string, priority: JobPriority = JobPriority.NORMAL, when = 0) {
  return {
    function: Buffer.from(fn),
    unique: Buffer.from(unique),
    data: Buffer.from(data),
    reducer: Buffer.alloc(0),
    priority,
    when,
  } satisfies StoredJob;
}

async function replayed(store: SqliteJobStore): Promise<Array<{ key: StoreKey; job: StoredJob }>> {
  const out: Array<{ key: StoreKey; job: StoredJob }> = [];
  await store.replay((stored, key) => out.push({ key, job: stored }));
  return out;
}

function storeErrorOf(fn: () => unknown): JobStoreError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(JobStoreError);
    return err as JobStoreError;
  }
  throw new Error('expected a JobStoreError');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gworker-sqlite-'));
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('the SQLite job store', () => {
  it('keeps committed jobs across a reopen, in the order they were added, bytes intact', async () => {
    const store = open();
    const binary = Buffer.from([0, 1, 2, 255, 0]);
    store.add(job('resize', 'u-1', 'first', JobPriority.LOW));
    store.add({ ...job('résumé', '', '', JobPriority.HIGH, 4_000_000_000), data: binary });
    store.add({ ...job('reduce', 'u-3', 'third'), reducer: Buffer.from('sum') });
    await store.flush();
    await store.close();

    const again = open();
    const rows = await replayed(again);
    expect(rows.map((row) => row.job.function.toString())).toEqual(['resize', 'résumé', 'reduce']);
    expect(rows[0]?.job).toMatchObject({ priority: JobPriority.LOW, when: 0 });
    expect(rows[0]?.job.unique.toString()).toBe('u-1');
    expect(rows[1]?.job).toMatchObject({ priority: JobPriority.HIGH, when: 4_000_000_000 });
    expect(rows[1]?.job.data.equals(binary)).toBe(true);
    expect(rows[1]?.job.unique.length).toBe(0);
    expect(rows[2]?.job.reducer.toString()).toBe('sum');
    expect(again.size).toBe(3);
  });

  it('writes nothing until flush, and forgets a job added and removed before it', async () => {
    const store = open();
    const kept = store.add(job('f', 'a', '1'));
    const dropped = store.add(job('f', 'b', '2'));
    expect(store.size).toBe(0);
    store.remove(dropped);
    await store.flush();
    expect(store.size).toBe(1);
    store.remove(kept);
    expect(store.size).toBe(1);
    await store.flush();
    expect(store.size).toBe(0);
  });

  it('gives new jobs keys after the replayed ones, so the order holds over restarts', async () => {
    const store = open();
    const first = store.add(job('f', 'a', 'old'));
    await store.flush();
    await store.close();
    const again = open();
    const [row] = await replayed(again);
    expect(row?.key).toBe(first);
    const second = again.add(job('f', 'b', 'new'));
    expect(Number(second)).toBeGreaterThan(Number(first));
    await again.flush();
    await again.close();
    expect((await replayed(open())).map((r) => r.job.data.toString())).toEqual(['old', 'new']);
  });

  it('commits removes staged during the replay (duplicates the server dropped)', async () => {
    const store = open();
    store.add(job('f', 'same', '1'));
    store.add(job('f', 'same', '2'));
    await store.flush();
    await store.close();
    const again = open();
    let seen = 0;
    await again.replay((_job, key) => {
      if (seen++ === 1) again.remove(key);
    });
    expect(again.size).toBe(1);
  });

  it('records its schema version in a meta table', async () => {
    const store = open();
    await store.close();
    const db = new Database(join(dir, 'jobs.db'), { readonly: true });
    const version = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get();
    db.close();
    expect(version).toBe(String(SCHEMA_VERSION));
  });

  it('refuses a file that is not a database', () => {
    writeFileSync(join(dir, 'garbage.db'), 'not a database, '.repeat(200));
    const err = storeErrorOf(() => open('garbage.db'));
    expect(err.code).toBe(ErrorCode.STORE);
    expect(err.reason).toBe('corrupt');
    expect(err.path).toBe(join(dir, 'garbage.db'));
  });

  it('refuses a database of someone else', () => {
    const db = new Database(join(dir, 'other.db'));
    db.exec('CREATE TABLE users (id INTEGER)');
    db.close();
    expect(storeErrorOf(() => open('other.db')).reason).toBe('corrupt');
  });

  it('refuses a store written by a newer schema', async () => {
    await open('new.db').close();
    const db = new Database(join(dir, 'new.db'));
    db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION + 1));
    db.close();
    expect(storeErrorOf(() => open('new.db')).reason).toBe('version');
  });

  it('refuses a store another process (or store) holds', () => {
    open('held.db');
    const err = storeErrorOf(() => open('held.db'));
    expect(err.reason).toBe('locked');
    expect(err.message).toContain('another');
  });

  it('refuses a path it cannot create', () => {
    expect(storeErrorOf(() => open(join('missing', 'dir', 'jobs.db'))).reason).toBe('unwritable');
    expect(storeErrorOf(() => openSqliteStore(dir)).reason).toBe('unwritable');
  });

  it('rejects a failed commit with a typed error, drops its adds and retries its removes', async () => {
    const store = open();
    const kept = store.add(job('f', 'a', '1'));
    await store.flush();
    store.remove(kept);
    // A priority the schema's CHECK refuses makes the whole transaction fail.
    store.add({ ...job('f', 'b', '2'), priority: 7 as JobPriority });
    await expect(store.flush()).rejects.toMatchObject({ code: ErrorCode.STORE, reason: 'io' });
    expect(store.size).toBe(1);
    await store.flush();
    expect(store.size).toBe(0);
    await store.close();
    expect(await replayed(open())).toEqual([]);
  });

  it('rejects a flush on a closed store with a typed error', async () => {
    const store = open();
    await store.close();
    await expect(store.flush()).rejects.toMatchObject({ code: ErrorCode.STORE });
    expect(() => store.add(job('f', '', ''))).toThrow(JobStoreError);
  });

  it('checks its options', () => {
    expect(() => openSqliteStore(join(dir, 'x.db'), { synchronous: 'off' as 'full' })).toThrow(TypeError);
    expect(() => openSqliteStore(join(dir, 'x.db'), { busyTimeoutMs: -1 })).toThrow(RangeError);
  });
});

describe('a server on the SQLite store', () => {
  it('stores background jobs only, removes them when they end, and replays them at the next start', async () => {
    const path = join(dir, 'server.db');
    const store = openSqliteStore(path);
    const first = await startServer({ store });
    const client = await RawClient.connect(first.port);
    client.send(PacketType.SUBMIT_JOB_LOW_BG, ['sq', 'low', 'l']);
    client.send(PacketType.SUBMIT_JOB_BG, ['sq', 'normal', 'n']);
    client.send(PacketType.SUBMIT_JOB_HIGH_BG, ['sq', 'high', 'h']);
    client.send(PacketType.SUBMIT_JOB, ['sq', 'fg', 'f']);
    for (let i = 0; i < 4; i++) await client.expect(PacketType.JOB_CREATED);
    expect(store.size).toBe(3);

    const worker = await RawClient.connect(first.port);
    worker.send(PacketType.CAN_DO, ['sq']).send(PacketType.GRAB_JOB_UNIQ);
    const [handle, , unique] = texts(await worker.expect(PacketType.JOB_ASSIGN_UNIQ));
    expect(unique).toBe('high');
    worker.send(PacketType.WORK_COMPLETE, [handle as string, 'done']);
    await worker.sync();
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.size).toBe(2);
    await first.server.close();

    const second = await startServer({ store: openSqliteStore(path) });
    expect(second.server.jobCount).toBe(2);
    const drain = await RawClient.connect(second.port);
    drain.send(PacketType.CAN_DO, ['sq']);
    const order: string[] = [];
    for (let i = 0; i < 2; i++) {
      drain.send(PacketType.GRAB_JOB_UNIQ);
      const [h, , u] = texts(await drain.expect(PacketType.JOB_ASSIGN_UNIQ));
      order.push(u as string);
      drain.send(PacketType.WORK_FAIL, [h as string]);
    }
    expect(order).toEqual(['normal', 'low']);
    await drain.sync();
    await second.server.close();
    const third = openSqliteStore(path);
    stores.push(third);
    expect(third.size).toBe(0);
  });
});
