import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { ErrorCode, TimeoutError } from '../../src/errors.js';
import { PacketType } from '../../src/protocol/constants.js';
import { encodeRequest } from '../../src/protocol/encoder.js';
import type { Job } from '../../src/worker/job.js';
import type { JobEndEvent } from '../../src/worker/options.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import {
  adminStatus,
  adminWorkers,
  closeWorkers,
  deferred,
  PHP_DO_NORMAL,
  runGearman,
  runPhp,
  sleep,
  trackedWorker,
  waitFor,
} from './helpers.js';

const servers: GearmandHandle[] = [];

afterEach(async () => {
  await closeWorkers();
  await Promise.all(servers.splice(0).map((gd) => gd.stop()));
  await killAll();
});

async function gearmand(): Promise<GearmandHandle> {
  const gd = await startGearmand();
  servers.push(gd);
  return gd;
}

/** A handler that holds its job until the job's signal aborts; records what it saw. */
function holdUntilAborted(seen: Array<{ handle: string; reason: unknown }>, started?: (job: Job) => void) {
  return (job: Job) =>
    new Promise<string>((resolve) => {
      started?.(job);
      job.signal.addEventListener('abort', () => {
        seen.push({ handle: job.handle, reason: job.signal.reason });
        resolve('too late');
      });
    });
}

/** SUBMIT_JOB_EPOCH over a raw socket (neither pecl nor the CLI can send it); resolves on JOB_CREATED. */
function submitEpoch(port: number, fn: string, epochSeconds: number, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      socket.destroy();
      if (chunk.readUInt32BE(4) === PacketType.JOB_CREATED) resolve();
      else reject(new Error(`expected JOB_CREATED, got packet type ${chunk.readUInt32BE(4)}`));
    });
    socket.write(encodeRequest(PacketType.SUBMIT_JOB_EPOCH, [fn, '', String(epochSeconds), data]));
  });
}

describeWithPeers(['gearmand', 'gearman', 'php'], 'Worker lifecycle against gearmand', () => {
  it('registers CAN_DO_TIMEOUT in ms: gearmand requeues an overdue job to a second worker', async () => {
    const gd = await gearmand();
    const aborted: Array<{ handle: string; reason: unknown }> = [];
    const firstErrors: unknown[] = [];
    const release = deferred();
    const first = trackedWorker({ servers: [gd.address] });
    first.on('error', (error) => firstErrors.push(error));
    // Ignores its signal and keeps its one slot busy, so the requeued job must go elsewhere.
    first.register(
      'slow',
      async (job) => {
        job.signal.addEventListener('abort', () =>
          aborted.push({ handle: job.handle, reason: job.signal.reason }),
        );
        await release.promise;
        return 'late result';
      },
      { timeoutMs: 500 },
    );
    await first.start();
    const submit = await runGearman(['-p', String(gd.port), '-b', '-f', 'slow'], 'work');
    expect(submit.code).toBe(0);
    await waitFor('the first worker to take the job', () => first.running === 1);
    const startedAt = Date.now();

    const secondGot: string[] = [];
    // A short re-grab: under heavy load a NOOP after gearmand's requeue was seen to go
    // missing once; the timer makes the test about the requeue, not about that wakeup.
    const second = trackedWorker({ servers: [gd.address], regrabIntervalMs: 300 });
    second.register('slow', (job) => {
      secondGot.push(job.handle);
      return 'on time';
    });
    await second.start();
    // gearmand 1.1.20 raises timeouts under 1000 ms to 1000 ms (connection.cc).
    // Read as seconds, 500 would leave the job with the first worker for minutes.
    await waitFor('the requeued job on the second worker', () => secondGot.length === 1, 5000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(400);
    expect(aborted).toHaveLength(1);
    expect(aborted[0]?.handle).toBe(secondGot[0]);
    expect(aborted[0]?.reason).toBeInstanceOf(TimeoutError);
    // The first worker's late result is not sent: no ERROR JOB_NOT_FOUND comes back.
    release.resolve();
    await waitFor('the first handler to return', () => first.running === 0);
    await sleep(100);
    expect(firstErrors).toEqual([]);
    expect((await adminStatus(gd.port)).get('slow')).toMatchObject({ total: 0, running: 0 });
  });

  it('after a gearmand restart mid-work, reconnects, replays its registrations and serves again', async () => {
    const gd = await gearmand();
    const worker = trackedWorker({
      servers: [gd.address],
      clientId: 'survivor',
      reconnect: () => 50,
    });
    const aborted: Array<{ handle: string; reason: unknown }> = [];
    const ended: JobEndEvent[] = [];
    worker.on('job:end', (event) => ended.push(event));
    const reconnected = deferred();
    worker.on('reconnect', () => reconnected.resolve());
    worker
      .register('hold', holdUntilAborted(aborted))
      .register('upper', (job) => job.payload.toString().toUpperCase(), { timeoutMs: 30_000 });
    await worker.start();
    await runGearman(['-p', String(gd.port), '-b', '-f', 'hold'], 'in flight');
    await waitFor('the held job', () => worker.running === 1);

    await gd.restart();
    await waitFor('the abort of the job in flight', () => aborted.length === 1);
    expect(aborted[0]?.reason).toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
    await reconnected.promise;
    await waitFor('the replayed registrations', async () => {
      const mine = (await adminWorkers(gd.port)).find((w) => w.clientId === 'survivor');
      return mine?.functions.sort().join() === 'hold,upper';
    });
    const run = await runGearman(['-p', String(gd.port), '-f', 'upper'], 'back again');
    expect(run.stdout).toBe('BACK AGAIN');
    expect(ended.map((e) => [e.functionName, e.outcome])).toEqual([
      ['hold', 'lost'],
      ['upper', 'complete'],
    ]);
  });

  it('aborts the signal of a job whose connection drops and sends nothing for it', async () => {
    const gd = await gearmand();
    const worker = trackedWorker({ servers: [gd.address], reconnect: false });
    const aborted: Array<{ handle: string; reason: unknown }> = [];
    const disconnected = deferred<string>();
    worker.on('disconnect', ({ server }) => disconnected.resolve(server));
    worker.register('hold', holdUntilAborted(aborted));
    await worker.start();
    await runGearman(['-p', String(gd.port), '-b', '-f', 'hold'], 'x');
    await waitFor('the held job', () => worker.running === 1);
    await gd.stop('SIGKILL');
    expect(await disconnected.promise).toBe(gd.address);
    await waitFor('the abort', () => aborted.length === 1);
    expect(aborted[0]?.reason).toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
    await waitFor('the handler to return', () => worker.running === 0);
  });

  it('close() lets running jobs finish and answer, and grabs nothing more', async () => {
    const gd = await gearmand();
    const worker = trackedWorker({ servers: [gd.address], maxJobs: 2 });
    const started = deferred();
    worker.register('finish', async (job) => {
      started.resolve();
      await sleep(300);
      return `finished ${job.payload.toString()}`;
    });
    await worker.start();
    const client = runPhp(PHP_DO_NORMAL, [gd.port, 'finish', 'job-1']);
    await started.promise;
    const closing = worker.close({ timeoutMs: 5000 });
    const later = await runGearman(['-p', String(gd.port), '-b', '-f', 'finish'], 'job-2');
    expect(later.code).toBe(0);
    await closing;
    expect(JSON.parse((await client).stdout)).toEqual({ result: 'finished job-1', rc: 0 });
    expect((await adminStatus(gd.port)).get('finish')).toEqual({ total: 1, running: 0, workers: 0 });
    expect(worker.close()).toBe(closing);
  });

  it('close() aborts jobs still running after its timeout, and gearmand requeues them', async () => {
    const gd = await gearmand();
    const worker = trackedWorker({ servers: [gd.address] });
    const aborted: Array<{ handle: string; reason: unknown }> = [];
    worker.register('stuck', holdUntilAborted(aborted));
    await worker.start();
    await runGearman(['-p', String(gd.port), '-b', '-f', 'stuck'], 'x');
    await waitFor('the stuck job', () => worker.running === 1);
    const t0 = Date.now();
    await worker.close({ timeoutMs: 200 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(aborted[0]?.reason).toMatchObject({ code: ErrorCode.CLOSED });
    await waitFor('the requeue', async () => {
      const status = (await adminStatus(gd.port)).get('stuck');
      return status?.total === 1 && status.running === 0;
    });
    const next: string[] = [];
    const other = trackedWorker({ servers: [gd.address] });
    other.register('stuck', (job) => {
      next.push(job.payload.toString());
    });
    await other.start();
    await waitFor('the requeued job elsewhere', () => next.length === 1);
  });

  it('serves two gearmand servers at once with one client id', async () => {
    const [a, b] = [await gearmand(), await gearmand()];
    const worker = trackedWorker({ servers: [a.address, b.address], clientId: 'both' });
    const served: string[] = [];
    worker.register('where', (job) => {
      served.push(job.server);
      return job.server;
    });
    await worker.start();
    const [fromA, fromB] = await Promise.all([
      runGearman(['-p', String(a.port), '-f', 'where'], 'x'),
      runGearman(['-p', String(b.port), '-f', 'where'], 'x'),
    ]);
    expect(fromA.stdout).toBe(a.address);
    expect(fromB.stdout).toBe(b.address);
    expect(served.sort()).toEqual([a.address, b.address].sort());
    for (const gd of [a, b]) {
      expect((await adminWorkers(gd.port)).find((w) => w.clientId === 'both')?.functions).toEqual(['where']);
    }
  });

  it('keeps serving one server while the other is down, and picks it up when it comes back', async () => {
    const [a, b] = [await gearmand(), await gearmand()];
    await b.stop();
    const worker = trackedWorker({ servers: [a.address, b.address], reconnect: () => 50 });
    worker.register('echo', (job) => job.payload);
    await worker.start();
    expect((await runGearman(['-p', String(a.port), '-f', 'echo'], 'one')).stdout).toBe('one');
    const connectedB = deferred();
    worker.on('connect', ({ server }) => {
      if (server === b.address) connectedB.resolve();
    });
    await b.restart();
    await connectedB.promise;
    expect((await runGearman(['-p', String(b.port), '-f', 'echo'], 'two')).stdout).toBe('two');
  });

  it('runs an epoch job that falls due while it sleeps, thanks to the re-grab timer', async () => {
    // gearmand 1.1.x sends no NOOP when an epoch job falls due (fixed in 2.0.0, ccd32d06).
    const gd = await gearmand();
    const worker = trackedWorker({ servers: [gd.address], regrabIntervalMs: 250 });
    const ran: number[] = [];
    worker.register('later', () => {
      ran.push(Date.now());
    });
    await worker.start();
    await sleep(100);
    const due = Math.floor(Date.now() / 1000) + 1;
    await submitEpoch(gd.port, 'later', due, 'tick');
    await waitFor('the epoch job', () => ran.length === 1, 4000);
    expect(ran[0]).toBeGreaterThanOrEqual(due * 1000);
  });

  it('pause() stops taking jobs while running ones finish; resume() takes them again', async () => {
    const gd = await gearmand();
    const worker = trackedWorker({ servers: [gd.address] });
    const ran: string[] = [];
    worker.register('task', (job) => {
      ran.push(job.payload.toString());
    });
    await worker.start();
    // Let the first grab be answered (NO_JOB): a grab already on the wire when pause() is
    // called may still bring a job, as documented.
    await sleep(200);
    worker.pause();
    await runGearman(['-p', String(gd.port), '-b', '-f', 'task'], 'while paused');
    await sleep(300);
    expect(ran).toEqual([]);
    worker.resume();
    await waitFor('the job after resume', () => ran.length === 1);
  });
});
