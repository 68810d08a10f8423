import { afterEach, describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import type { GrabGate } from '../../src/worker/grab-gate.js';
import { closeWorkers, sleep, waitFor } from './helpers.js';
import { closeServers, connectBacklog, setup } from './scripted-server.js';

afterEach(async () => {
  await closeWorkers();
  await closeServers();
});

// Issue 16 item 3: GrabScheduler alone decides when to grab, on each event it is told of.
describe('grab decisions on the events of one connection (scripted server)', () => {
  it('refills the slot of a job nobody here runs in the same write as its WORK_FAIL', async () => {
    const { server, worker } = await setup({ maxJobs: 1 });
    worker.on('error', () => {});
    await connectBacklog(server, worker, 1);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:7', 'nobody', '', '']);
    await server.exactly(2);
    expect(server.writes()).toEqual([['WORK_FAIL', 'GRAB_JOB_ALL']]);
  });

  it('grabs for new slots as soon as maxJobs rises, and for no freed one while it is lower', async () => {
    const { server, worker } = await setup({ maxJobs: 1 });
    const ends: Array<() => void> = [];
    worker.register('hold', () => new Promise<string>((resolve) => ends.push(() => resolve('done'))));
    await connectBacklog(server, worker, 1);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'hold', '', '']);
    await waitFor('the handler', () => ends.length === 1);
    worker.setMaxJobs(3);
    await server.exactly(2);
    expect(server.writes()).toEqual([['GRAB_JOB_ALL', 'GRAB_JOB_ALL']]);
    server.received.length = 0;
    server.sendTogether([
      [PacketType.JOB_ASSIGN_UNIQ, ['H:x:2', 'hold', '', '']],
      [PacketType.JOB_ASSIGN_UNIQ, ['H:x:3', 'hold', '', '']],
    ]);
    await waitFor('three handlers', () => ends.length === 3);
    worker.setMaxJobs(2);
    ends[0]?.();
    await sleep(50);
    // Two still run: at the new limit, so the freed slot is not grabbed for.
    expect(server.types()).toEqual(['WORK_COMPLETE']);
    ends[1]?.();
    await server.exactly(3);
    expect(server.types()).toEqual(['WORK_COMPLETE', 'WORK_COMPLETE', 'GRAB_JOB_ALL']);
  });

  it('holds its grab while the socket is full and sends it once the socket drains', async () => {
    // A gate that only counts: every grab the worker decides on asks it first.
    let asked = 0;
    const gate: GrabGate = {
      tryReserve: () => {
        asked++;
        return true;
      },
      release: () => {},
    };
    const { server, worker } = await setup({ maxJobs: 1, gate });
    const big = Buffer.alloc(16 * 1024 * 1024, 'r');
    worker.register('big', () => big);
    await connectBacklog(server, worker, 1);
    server.pauseReading();
    const before = asked;
    let ended = 0;
    worker.on('job:end', () => ended++);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'big', '', '']);
    await waitFor('the job to end', () => ended === 1);
    await sleep(100);
    expect(asked).toBe(before);
    server.resumeReading();
    await server.until('the grab', (r) => r.length >= 2);
    await sleep(50);
    expect(server.types()).toEqual(['WORK_COMPLETE', 'GRAB_JOB_ALL']);
    expect(asked).toBe(before + 1);
  });
});
