import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { PacketType } from '../../src/protocol/constants.js';
import { GearmanServer } from '../../src/server/server.js';
import { startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { closeWorkers, deferred, sleep, trackedWorker, waitFor } from './helpers.js';
import { closeServers, connectAsleep, connectAwake, connectBacklog, setup } from './scripted-server.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  await closeWorkers();
  await closeServers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await killAll();
});

describe('PRE_SLEEP with the grab (scripted server)', () => {
  it('after a wake-up from sleep, sends grab and PRE_SLEEP together and ends a job with WORK_COMPLETE alone', async () => {
    const { server, worker } = await setup({ maxJobs: 1 });
    worker.register('echo', (job) => job.payload);
    await connectAwake(server, worker);
    await server.exactly(2);
    expect(server.writes()).toEqual([['GRAB_JOB_ALL', 'PRE_SLEEP']]);

    // The server took the PRE_SLEEP after assigning the job: it will NOOP us, no grab needed.
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'echo', '', 'one']);
    await server.exactly(3);
    expect(server.received[2]).toMatchObject({ type: 'WORK_COMPLETE', args: ['H:x:1', 'one'] });

    server.send(PacketType.NOOP);
    await server.exactly(5);
    // The grab found nothing (the job went to another worker): asleep already, no reply.
    server.send(PacketType.NO_JOB);
    await server.exactly(5);
    server.send(PacketType.NOOP);
    await server.exactly(7);
    expect(server.writes()).toEqual([
      ['GRAB_JOB_ALL', 'PRE_SLEEP'],
      ['WORK_COMPLETE'],
      ['GRAB_JOB_ALL', 'PRE_SLEEP'],
      ['GRAB_JOB_ALL', 'PRE_SLEEP'],
    ]);
  });

  it('switches to plain grabs when a NOOP comes right behind a job, and back after NO_JOB', async () => {
    const { server, worker } = await setup({ maxJobs: 1 });
    worker.register('echo', (job) => job.payload);
    await connectAwake(server, worker);
    await server.exactly(2);
    server.received.length = 0;
    // gearmand answers a PRE_SLEEP with NOOP at once when jobs are queued: a backlog.
    server.sendTogether([[PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'echo', '', 'a']], [PacketType.NOOP]]);
    await server.exactly(2);
    expect(server.writes()).toEqual([['WORK_COMPLETE', 'GRAB_JOB_ALL']]);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:2', 'echo', '', 'b']);
    await server.exactly(4);
    server.send(PacketType.NO_JOB);
    await server.exactly(5);
    server.send(PacketType.NOOP);
    await server.exactly(7);
    expect(server.writes()).toEqual([
      ['WORK_COMPLETE', 'GRAB_JOB_ALL'],
      ['WORK_COMPLETE', 'GRAB_JOB_ALL'],
      ['PRE_SLEEP'],
      ['GRAB_JOB_ALL', 'PRE_SLEEP'],
    ]);
  });

  it('switches to plain grabs when a NOOP comes while a job runs', async () => {
    const { server, worker } = await setup({ maxJobs: 1 });
    const hold = deferred<string>();
    let started = false;
    worker.register('slow', () => {
      started = true;
      return hold.promise;
    });
    await connectAwake(server, worker);
    await server.exactly(2);
    server.received.length = 0;
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'slow', '', '']);
    await waitFor('the handler', () => started);
    server.send(PacketType.NOOP);
    // No slot free: nothing to send until the job ends.
    await server.exactly(0);
    hold.resolve('done');
    await server.exactly(2);
    expect(server.writes()).toEqual([['WORK_COMPLETE', 'GRAB_JOB_ALL']]);
  });

  it('with maxJobs > 1, sleeps behind a batch of grabs and grabs plainly for a NOOP that comes while jobs run', async () => {
    const { server, worker } = await setup({ maxJobs: 3 });
    const hold = deferred<string>();
    worker.register('slow', () => hold.promise);
    await connectAwake(server, worker);
    await server.exactly(4);
    expect(server.writes()).toEqual([['GRAB_JOB_ALL', 'GRAB_JOB_ALL', 'GRAB_JOB_ALL', 'PRE_SLEEP']]);
    server.received.length = 0;
    server.sendTogether([
      [PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'slow', '', '']],
      [PacketType.NO_JOB],
      [PacketType.NO_JOB],
    ]);
    await server.exactly(0);
    // A new job: one runs, so the two free slots grab without PRE_SLEEP...
    server.send(PacketType.NOOP);
    await server.exactly(2);
    expect(server.types()).toEqual(['GRAB_JOB_ALL', 'GRAB_JOB_ALL']);
    // ...and the PRE_SLEEP waits for the last of their answers.
    server.send(PacketType.NO_JOB);
    await server.exactly(2);
    server.send(PacketType.NO_JOB);
    await server.exactly(3);
    // Asleep with PRE_SLEEP: the job that ends sends its result and no grab.
    hold.resolve('done');
    await server.exactly(4);
    expect(server.types()).toEqual(['GRAB_JOB_ALL', 'GRAB_JOB_ALL', 'PRE_SLEEP', 'WORK_COMPLETE']);
  });

  it('takes a NOOP after a batch of grabs that all brought jobs for a backlog, however late it comes', async () => {
    const { server, worker } = await setup({ maxJobs: 3 });
    worker.register('echo', (job) => job.payload);
    await connectAwake(server, worker);
    await server.exactly(4);
    server.received.length = 0;
    for (let i = 1; i <= 3; i++) {
      server.send(PacketType.JOB_ASSIGN_UNIQ, [`H:x:${i}`, 'echo', '', `${i}`]);
      await server.exactly(i);
    }
    // Every grab found a job, so the queue held at least as many: this NOOP says more wait.
    server.send(PacketType.NOOP);
    await server.exactly(6);
    expect(server.types()).toEqual([
      'WORK_COMPLETE',
      'WORK_COMPLETE',
      'WORK_COMPLETE',
      'GRAB_JOB_ALL',
      'GRAB_JOB_ALL',
      'GRAB_JOB_ALL',
    ]);
  });

  it('sends PRE_SLEEP only after the last outstanding grab is answered, in a backlog', async () => {
    const { server, worker } = await setup({ maxJobs: 2 });
    worker.register('echo', (job) => job.payload);
    await connectBacklog(server, worker, 2);
    server.send(PacketType.NO_JOB);
    await server.exactly(0);
    server.send(PacketType.NO_JOB);
    await server.exactly(1);
    expect(server.types()).toEqual(['PRE_SLEEP']);
  });

  it('never sends PRE_SLEEP with a grab while a function has a server-side timeout', async () => {
    const { server, worker } = await setup({ maxJobs: 1 });
    worker.register('timed', (job) => job.payload, { timeoutMs: 5000 });
    await connectAwake(server, worker);
    // gearmand 1.1.20 deletes the connection's CAN_DO_TIMEOUT timer on a PRE_SLEEP that
    // finds the queue empty, even with a job running: the classic sequence keeps it.
    await server.exactly(1);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'timed', '', 'x']);
    await server.exactly(3);
    server.send(PacketType.NO_JOB);
    await server.exactly(4);
    expect(server.writes()).toEqual([['GRAB_JOB_ALL'], ['WORK_COMPLETE', 'GRAB_JOB_ALL'], ['PRE_SLEEP']]);
    server.received.length = 0;
    // Once no timed function is left, PRE_SLEEP goes with the grab again.
    worker.unregister('timed');
    worker.register('plain', () => 'ok');
    await server.exactly(4);
    expect(server.types()).toEqual(['CANT_DO', 'CAN_DO', 'GRAB_JOB_ALL', 'PRE_SLEEP']);
  });

  it('starts every connection with plain grabs: after a reconnect the probe goes alone', async () => {
    const { server, worker } = await setup({ maxJobs: 1, reconnect: () => 20 });
    worker.register('echo', (job) => job.payload);
    await connectAwake(server, worker);
    await server.exactly(2);
    server.received.length = 0;
    server.dropConnection();
    await waitFor('the reconnect', () => server.connections === 2);
    await server.exactly(2);
    expect(server.types()).toEqual(['CAN_DO', 'GRAB_JOB_ALL']);
    server.send(PacketType.NO_JOB);
    await server.exactly(3);
    expect(server.received[2]?.type).toBe('PRE_SLEEP');
  });

  it('keeps waiting for NOOP after a NO_JOB that answers a grab sent with PRE_SLEEP, paused or not', async () => {
    const { server, worker } = await setup({ maxJobs: 1 });
    worker.register('echo', (job) => job.payload);
    await connectAsleep(server, worker);
    server.send(PacketType.NOOP);
    await server.exactly(2);
    worker.pause();
    server.send(PacketType.NO_JOB);
    server.send(PacketType.NOOP);
    await server.exactly(2);
    worker.resume();
    await server.exactly(4);
    expect(server.writes()).toEqual([
      ['GRAB_JOB_ALL', 'PRE_SLEEP'],
      ['GRAB_JOB_ALL', 'PRE_SLEEP'],
    ]);
  });
});

interface Target {
  readonly name: string;
  start(): Promise<string>;
}

const ownServer: Target = {
  name: 'gworker server',
  async start() {
    const server = new GearmanServer({ host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    return `127.0.0.1:${port}`;
  },
};

const gearmand: Target = {
  name: 'gearmand 1.1.20',
  async start() {
    const handle = await startGearmand();
    cleanups.push(() => handle.stop());
    return handle.address;
  },
};

/**
 * Sequential calls (the worker sleeps between them, grabbing with PRE_SLEEP), then a burst
 * (a backlog: plain grabs), then sequential calls again: no call may wait for a NOOP that
 * never comes, on either server.
 */
function wakeupSuite(target: Target): void {
  for (const maxJobs of [1, 3]) {
    it(`serves sequential calls, a burst and sequential calls again (maxJobs ${maxJobs})`, async () => {
      const address = await target.start();
      const worker = trackedWorker({ servers: [address], maxJobs, reconnect: false });
      worker.register('echo', async (job) => {
        if (job.payload.toString().startsWith('burst')) await sleep(1);
        return job.payload;
      });
      await worker.start();
      const client = new Client({ servers: [address], reconnect: false });
      cleanups.push(() => client.close());
      const call = async (payload: string) => {
        const result = await client.run('echo', payload, { timeoutMs: 3000 });
        expect(result.toString()).toBe(payload);
      };
      for (let i = 0; i < 100; i++) await call(`one-${i}`);
      await Promise.all(Array.from({ length: 150 }, (_, i) => call(`burst-${i}`)));
      for (let i = 0; i < 100; i++) await call(`two-${i}`);
      // Idle again: the next job must still find the worker.
      await sleep(50);
      await call('last');
    });
  }

  it('serves jobs of a timed function between sequential calls', async () => {
    const address = await target.start();
    const worker = trackedWorker({ servers: [address], maxJobs: 1, reconnect: false });
    worker.register('timed', (job) => job.payload, { timeoutMs: 10_000 });
    await worker.start();
    const client = new Client({ servers: [address], reconnect: false });
    cleanups.push(() => client.close());
    for (let i = 0; i < 50; i++) {
      const result = await client.run('timed', `t-${i}`, { timeoutMs: 3000 });
      expect(result.toString()).toBe(`t-${i}`);
    }
  });
}

describe(`no lost wakeup: ${ownServer.name}`, () => wakeupSuite(ownServer));
describeWithPeers(['gearmand'], `no lost wakeup: ${gearmand.name}`, () => wakeupSuite(gearmand));
