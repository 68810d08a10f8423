import { afterEach, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { JobExceptionError, JobFailedError } from '../../src/errors.js';
import type { JobEndEvent } from '../../src/worker/options.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { adminStatus, closeWorkers, sleep, trackedWorker } from './helpers.js';

let gearmand: GearmandHandle | undefined;
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await closeWorkers();
  await gearmand?.stop();
  gearmand = undefined;
  await killAll();
});

// Issue 10 item 3: a result over a job server's frame limit made it drop the worker's
// connection and requeue the job, which then ran again and again.
describeWithPeers(['gearmand'], "Worker: a result over the connection's frame limit", () => {
  it('is not sent: the job fails with the reason, once, and gearmand holds nothing of it', async () => {
    gearmand = await startGearmand();
    const worker = trackedWorker({ servers: [gearmand.address], maxFrameSize: 1024 * 1024 });
    let runs = 0;
    worker.register('big', (job) => {
      runs++;
      return Buffer.alloc(Number(job.payload.toString()), 97);
    });
    const ends: JobEndEvent[] = [];
    worker.on('job:end', (end) => ends.push(end));
    await worker.start();
    const client = new Client({ servers: [gearmand.address] });
    clients.push(client);
    const error = await client.run('big', String(2 * 1024 * 1024)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(JobExceptionError);
    expect((error as JobExceptionError).payload.toString()).toMatch(
      /^WORK_COMPLETE of 209\d{4} bytes for job H:\S+ is over the connection's frame limit of 1048576 bytes \(maxFrameSize\); the job fails instead$/,
    );
    // Time for a requeued job to come back: it does not.
    await sleep(1000);
    expect(runs).toBe(1);
    expect(ends.map((e) => e.outcome)).toEqual(['exception']);
    expect((await adminStatus(gearmand.port)).get('big')).toMatchObject({ total: 0, running: 0 });
    // With exceptions off the client gets a plain WORK_FAIL; a result that fits goes through.
    const plain = trackedWorker({
      servers: [gearmand.address],
      maxFrameSize: 1024 * 1024,
      exceptions: false,
    });
    plain.register('big-plain', (job) => Buffer.alloc(Number(job.payload.toString()), 98));
    await plain.start();
    await expect(client.run('big-plain', String(2 * 1024 * 1024))).rejects.toBeInstanceOf(JobFailedError);
    expect((await client.run('big-plain', String(1024 * 1024 - 100))).length).toBe(1024 * 1024 - 100);
  });
});
