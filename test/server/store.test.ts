import { describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import { JobPriority } from '../../src/server/job.js';
import { type JobStore, MemoryJobStore, type StoredJob, type StoreKey } from '../../src/server/store.js';
import { eventually } from './helpers/conformance.js';
import { startServer } from './helpers/own-server.js';
import { RawClient, texts } from './helpers/raw-client.js';

/** A durable store in memory whose commits a test can hold back or fail. */
class FakeStore implements JobStore {
  readonly durable = true;
  readonly committed = new Map<StoreKey, StoredJob>();
  flushes = 0;
  closed = 0;
  /** While set, flush() waits for it. */
  gate: Promise<void> | null = null;
  failNext = false;
  #staged: Array<{ key: StoreKey; job: StoredJob | null }> = [];
  #nextKey = 1;

  async replay(restore: (job: StoredJob, key: StoreKey) => void): Promise<void> {
    for (const [key, job] of this.committed) restore(job, key);
  }

  add(job: StoredJob): StoreKey {
    const key = `k${this.#nextKey++}`;
    // A real store writes the bytes out; the server's buffers may be views of a socket chunk.
    const copy = {
      ...job,
      function: Buffer.from(job.function),
      unique: Buffer.from(job.unique),
      data: Buffer.from(job.data),
    };
    this.#staged.push({ key, job: copy });
    return key;
  }

  remove(key: StoreKey): void {
    this.#staged.push({ key, job: null });
  }

  async flush(): Promise<void> {
    this.flushes++;
    const batch = this.#staged.splice(0);
    if (this.gate !== null) await this.gate;
    if (this.failNext) {
      this.failNext = false;
      // JobStore's contract: the removes of a failed flush stay staged.
      this.#staged.unshift(...batch.filter((op) => op.job === null));
      throw new Error('disk full');
    }
    for (const { key, job } of batch) {
      if (job === null) this.committed.delete(key);
      else this.committed.set(key, job);
    }
  }

  async close(): Promise<void> {
    this.closed++;
  }
}

function stored(fn: string, unique: string, data: string, priority: JobPriority, when = 0): StoredJob {
  return {
    function: Buffer.from(fn),
    unique: Buffer.from(unique),
    data: Buffer.from(data),
    reducer: Buffer.alloc(0),
    priority,
    when,
  };
}

describe('a durable job store', () => {
  it('answers a background submit only once the store committed it, and keeps the reply order', async () => {
    const store = new FakeStore();
    let open = (): void => {};
    store.gate = new Promise((resolve) => {
      open = resolve;
    });
    const { port } = await startServer({ store });
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['durable']).send(PacketType.PRE_SLEEP);
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB_BG, ['durable', 'd-1', 'payload']).send(PacketType.ECHO_REQ, ['after']);
    expect(await client.quiet(150)).toEqual([]);
    worker.send(PacketType.GRAB_JOB);
    await worker.expect(PacketType.NO_JOB);
    worker.send(PacketType.PRE_SLEEP);

    open();
    const handle = texts(await client.expect(PacketType.JOB_CREATED))[0];
    expect(texts(await client.expect(PacketType.ECHO_RES))).toEqual(['after']);
    expect([...store.committed.values()].map((job) => job.data.toString())).toEqual(['payload']);
    await worker.expect(PacketType.NOOP);
    worker.send(PacketType.GRAB_JOB);
    expect(texts(await worker.expect(PacketType.JOB_ASSIGN))).toEqual([handle, 'durable', 'payload']);
    worker.send(PacketType.WORK_COMPLETE, [handle as string, 'ok']);
    await eventually(() => (store.committed.size === 0 ? true : undefined));
  });

  it('commits a burst of pipelined submits in a few flushes', async () => {
    const store = new FakeStore();
    const { port } = await startServer({ store });
    const client = await RawClient.connect(port);
    for (let i = 0; i < 500; i++) client.send(PacketType.SUBMIT_JOB_BG, ['burst', `u${i}`, `${i}`]);
    for (let i = 0; i < 500; i++) await client.expect(PacketType.JOB_CREATED);
    expect(store.committed.size).toBe(500);
    expect(store.flushes).toBeLessThanOrEqual(10);
  });

  it('refuses the submits of a failed commit with QUEUE_ERROR and drops their jobs, until a retry commits', async () => {
    const store = new FakeStore();
    store.failNext = true;
    const { server, port } = await startServer({ store });
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB_BG, ['fragile', 'f-1', 'x']);
    expect(texts(await client.expect(PacketType.ERROR))).toEqual(['QUEUE_ERROR', 'QUEUE_ERROR']);
    expect(server.jobCount).toBe(0);
    expect(server.storeHealth?.writable).toBe(false);
    // The server's own retry (a flush, the fake has no probe) ends the outage.
    await eventually(() => (server.storeHealth?.writable === true ? true : undefined));
    client.send(PacketType.SUBMIT_JOB_BG, ['fragile', 'f-1', 'x']);
    await client.expect(PacketType.JOB_CREATED);
    expect(store.committed.size).toBe(1);
  });

  it('never stores foreground jobs, and stores one a background submit joins', async () => {
    const store = new FakeStore();
    const { port } = await startServer({ store });
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB, ['mixed', 'm', 'x']);
    const handle = texts(await client.expect(PacketType.JOB_CREATED))[0];
    expect(store.flushes).toBe(0);
    const other = await RawClient.connect(port);
    other.send(PacketType.SUBMIT_JOB_BG, ['mixed', 'm', 'y']);
    expect(texts(await other.expect(PacketType.JOB_CREATED))[0]).toBe(handle);
    expect([...store.committed.values()].map((job) => job.data.toString())).toEqual(['x']);
  });

  it('replays stored jobs at start, with their priorities and times, and removes them when done', async () => {
    const store = new FakeStore();
    store.committed.set('old-1', stored('replayed', 'r-low', 'low', JobPriority.LOW));
    store.committed.set('old-2', stored('replayed', 'r-high', 'high', JobPriority.HIGH));
    store.committed.set('old-3', stored('replayed', 'r-later', 'later', JobPriority.NORMAL, 4_000_000_000));
    const { server, port } = await startServer({ store });
    expect(server.jobCount).toBe(3);
    const admin = await RawClient.connect(port);
    expect(await admin.admin('prioritystatus', 'list')).toEqual(['replayed\t1\t1\t1\t0']);
    expect((await admin.admin('show jobs', 'list')).every((line) => line.endsWith('\t0\t0\t1'))).toBe(true);
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['replayed']);
    const done: string[] = [];
    for (let i = 0; i < 2; i++) {
      worker.send(PacketType.GRAB_JOB_UNIQ);
      const [handle, , unique] = texts(await worker.expect(PacketType.JOB_ASSIGN_UNIQ));
      done.push(unique as string);
      worker.send(PacketType.WORK_COMPLETE, [handle as string, '']);
    }
    expect(done).toEqual(['r-high', 'r-low']);
    worker.send(PacketType.GRAB_JOB);
    await worker.expect(PacketType.NO_JOB);
    await eventually(() => (store.committed.size === 1 ? true : undefined));
    expect([...store.committed.keys()]).toEqual(['old-3']);
  });

  it('survives a store that throws: the submit is refused, a failed removal is only logged', async () => {
    const store = new FakeStore();
    const errors: string[] = [];
    const logger = {
      trace() {},
      debug() {},
      info() {},
      warn() {},
      error(_obj: unknown, msg?: string) {
        errors.push(msg ?? '');
      },
      child() {
        return logger;
      },
    };
    const add = store.add.bind(store);
    let refuse = true;
    store.add = (job) => {
      if (refuse) throw new Error('cannot write');
      return add(job);
    };
    const { server, port } = await startServer({ store, logger });
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB_BG, ['shaky', 's', 'x']);
    expect(texts(await client.expect(PacketType.ERROR))).toEqual(['QUEUE_ERROR', 'QUEUE_ERROR']);
    expect(server.jobCount).toBe(0);
    refuse = false;
    store.remove = () => {
      throw new Error('cannot delete');
    };
    client.send(PacketType.SUBMIT_JOB_BG, ['shaky', 's', 'x']);
    const handle = texts(await client.expect(PacketType.JOB_CREATED))[0] as string;
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['shaky']).send(PacketType.GRAB_JOB);
    await worker.expect(PacketType.JOB_ASSIGN);
    worker.send(PacketType.WORK_COMPLETE, [handle, '']);
    await worker.sync();
    expect(server.jobCount).toBe(0);
    expect(errors).toEqual(['job store refused a job', 'job store failed to remove a job']);
  });

  it('is closed by the server, after its last flush', async () => {
    const store = new FakeStore();
    const { server, port } = await startServer({ store });
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB_BG, ['f', '', 'x']);
    await client.expect(PacketType.JOB_CREATED);
    await server.close();
    expect(store.closed).toBe(1);
    expect(store.committed.size).toBe(1);
  });

  it('is not asked to add, remove or flush when it is not durable', async () => {
    const store = new MemoryJobStore();
    const calls: string[] = [];
    for (const name of ['add', 'remove', 'flush'] as const) {
      const original = store[name].bind(store) as (...args: unknown[]) => unknown;
      (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        calls.push(name);
        return original(...args);
      };
    }
    const { port } = await startServer({ store });
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB_BG, ['f', '', 'x']);
    await client.expect(PacketType.JOB_CREATED);
    expect(calls).toEqual([]);
  });
});
