import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, type GearmanError, ServerError } from '../../src/errors.js';
import { PacketType } from '../../src/protocol/constants.js';
import type { GrabGate } from '../../src/worker/grab-gate.js';
import { type Job, jobControl } from '../../src/worker/job.js';
import { closeWorkers, deferred, sleep, waitFor } from './helpers.js';
import { closeServers, connectAwake, connectBacklog, setup } from './scripted-server.js';

afterEach(async () => {
  await closeWorkers();
  await closeServers();
});

describe('grab loop (scripted server)', () => {
  it('sends SET_CLIENT_ID and CAN_DO with a single probe GRAB_JOB_ALL in one write', async () => {
    const { server, worker } = await setup({ clientId: 'box-1', maxJobs: 4 });
    worker.register('resize', () => 'ok');
    await worker.start();
    await server.until('the first grab', (r) => r.length >= 3);
    await sleep(50);
    expect(server.received.map((r) => [r.type, ...r.args])).toEqual([
      ['SET_CLIENT_ID', 'box-1'],
      ['CAN_DO', 'resize'],
      ['GRAB_JOB_ALL'],
    ]);
    expect(new Set(server.received.map((r) => r.chunk)).size).toBe(1);
  });

  it('sleeps after NO_JOB and pipelines maxJobs grabs, with PRE_SLEEP behind them, after NOOP', async () => {
    const { server, worker } = await setup({ maxJobs: 4 });
    worker.register('resize', () => 'ok');
    await worker.start();
    await server.until('the probe grab', (r) => r.length >= 2);
    server.send(PacketType.NO_JOB);
    await server.until('PRE_SLEEP', (r) => r.some((p) => p.type === 'PRE_SLEEP'));
    await sleep(50);
    expect(server.types()).toEqual(['CAN_DO', 'GRAB_JOB_ALL', 'PRE_SLEEP']);
    server.received.length = 0;
    server.send(PacketType.NOOP);
    await server.exactly(5);
    expect(server.writes()).toEqual([
      ['GRAB_JOB_ALL', 'GRAB_JOB_ALL', 'GRAB_JOB_ALL', 'GRAB_JOB_ALL', 'PRE_SLEEP'],
    ]);
  });

  it('writes the WORK_COMPLETE and the next grab together', async () => {
    const { server, worker } = await setup({ maxJobs: 2 });
    worker.register('upper', (job) => job.payload.toString().toUpperCase());
    await connectBacklog(server, worker, 2);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'upper', 'u1', 'abc']);
    await server.until('the reply', (r) => r.length >= 2);
    const [complete, grab] = server.received;
    expect(complete).toMatchObject({ type: 'WORK_COMPLETE', args: ['H:x:1', 'ABC'] });
    expect(grab?.type).toBe('GRAB_JOB_ALL');
    expect(grab?.chunk).toBe(complete?.chunk);
    await server.exactly(2);
  });

  it('frees the slot of a job answered before its handler returns, grabbing in the same write', async () => {
    const { server, worker } = await setup({ maxJobs: 1 });
    const linger = deferred();
    worker.register('early', async (job) => {
      job.complete('done');
      await linger.promise;
    });
    await connectBacklog(server, worker, 1);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'early', '', '']);
    await server.until('the reply', (r) => r.length >= 2);
    const [complete, grab] = server.received;
    expect(complete).toMatchObject({ type: 'WORK_COMPLETE', args: ['H:x:1', 'done'] });
    expect(grab?.type).toBe('GRAB_JOB_ALL');
    expect(grab?.chunk).toBe(complete?.chunk);
    // The handler still runs; the slot went with the final packet, and no more than it.
    await sleep(50);
    expect(server.types()).toEqual(['WORK_COMPLETE', 'GRAB_JOB_ALL']);
    linger.resolve();
    await sleep(50);
    expect(server.types()).toEqual(['WORK_COMPLETE', 'GRAB_JOB_ALL']);
  });

  it('keeps the slot of a lost job until its handler returns', async () => {
    const { server, worker } = await setup({ maxJobs: 1 });
    const linger = deferred();
    let lost: Job | undefined;
    worker.register('stuck', async (job) => {
      lost = job;
      await linger.promise;
    });
    await connectBacklog(server, worker, 1);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'stuck', '', '']);
    await waitFor('the handler', () => lost !== undefined);
    jobControl.abandon(lost as Job, new Error('gone'));
    await sleep(50);
    expect(server.received).toEqual([]);
    linger.resolve();
    await server.exactly(1);
    expect(server.types()).toEqual(['GRAB_JOB_ALL']);
  });

  it('keeps at most maxJobs jobs and grabs in flight', async () => {
    const { server, worker } = await setup({ maxJobs: 3 });
    const gates: Array<() => void> = [];
    worker.register('hold', () => new Promise<string>((resolve) => gates.push(() => resolve('done'))));
    await connectBacklog(server, worker, 3);
    for (let i = 1; i <= 3; i++) server.send(PacketType.JOB_ASSIGN_UNIQ, [`H:x:${i}`, 'hold', '', '']);
    await waitFor('three running handlers', () => gates.length === 3);
    await sleep(50);
    expect(server.received).toEqual([]);
    gates[0]?.();
    await server.exactly(2);
    expect(server.types()).toEqual(['WORK_COMPLETE', 'GRAB_JOB_ALL']);
  });

  it('passes the reducer of JOB_ASSIGN_ALL and the bytes of a plain JOB_ASSIGN', async () => {
    const { server, worker } = await setup({ maxJobs: 2 });
    const seen: Array<[string, string, string]> = [];
    worker.register('map', (job) => {
      seen.push([job.unique, job.reducer, job.payload.toString()]);
    });
    await connectBacklog(server, worker, 2);
    server.send(PacketType.JOB_ASSIGN_ALL, ['H:x:1', 'map', 'u1', 'sum', 'data-1']);
    server.send(PacketType.JOB_ASSIGN, ['H:x:2', 'map', 'data-2']);
    await waitFor('both jobs', () => seen.length === 2);
    expect(seen).toEqual([
      ['u1', 'sum', 'data-1'],
      ['', '', 'data-2'],
    ]);
  });

  it('falls back to GRAB_JOB_UNIQ when the server answers GRAB_JOB_ALL with ERROR', async () => {
    const { server, worker } = await setup({ maxJobs: 2 });
    worker.register('resize', () => 'ok');
    const errors: GearmanError[] = [];
    worker.on('error', (error) => errors.push(error));
    await worker.start();
    await server.until('the probe', (r) => r.some((p) => p.type === 'GRAB_JOB_ALL'));
    server.send(PacketType.ERROR, ['INVALID_COMMAND', 'Command not expected']);
    await server.until('uniq grabs', (r) => r.filter((p) => p.type === 'GRAB_JOB_UNIQ').length === 2);
    await sleep(50);
    expect(server.types()).toEqual(['CAN_DO', 'GRAB_JOB_ALL', 'GRAB_JOB_UNIQ', 'GRAB_JOB_UNIQ']);
    expect(errors).toEqual([]);
  });

  it('reports a late JOB_NOT_FOUND once and carries on without answering it', async () => {
    const { server, worker } = await setup();
    worker.register('resize', () => 'ok');
    const errors: GearmanError[] = [];
    worker.on('error', (error) => errors.push(error));
    await connectAwake(server, worker);
    await server.until('a grab', (r) => r.length === 2);
    server.send(PacketType.ERROR, ['JOB_NOT_FOUND', 'Job given in work result not found']);
    await waitFor('the error event', () => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(ServerError);
    expect((errors[0] as ServerError).serverCode).toBe('JOB_NOT_FOUND');
    await sleep(50);
    expect(server.types()).toEqual(['GRAB_JOB_ALL', 'PRE_SLEEP']);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'resize', '', '']);
    await server.until('the job answered', (r) => r.some((p) => p.type === 'WORK_COMPLETE'));
  });

  it('grabs again on the re-grab timer while asleep, with PRE_SLEEP behind the grab', async () => {
    const { server, worker } = await setup({ regrabIntervalMs: 100 });
    worker.register('epoch', () => 'ok');
    await worker.start();
    await server.until('the probe', (r) => r.length >= 2);
    // The timer can only start once this NO_JOB arrives, so no grab may come before ~100 ms.
    let sentAt = Date.now();
    server.send(PacketType.NO_JOB);
    await server.until('PRE_SLEEP', (r) => r.some((p) => p.type === 'PRE_SLEEP'));
    server.received.length = 0;
    await server.until('a timed grab', (r) => r.length === 2);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(90);
    // The grab ends the sleep on the server, so PRE_SLEEP goes with it: its NO_JOB needs no reply.
    expect(server.writes()).toEqual([['GRAB_JOB_ALL', 'PRE_SLEEP']]);
    sentAt = Date.now();
    server.send(PacketType.NO_JOB);
    await server.until('the next timed grab', (r) => r.length === 4);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(60);
    expect(server.writes()).toEqual([
      ['GRAB_JOB_ALL', 'PRE_SLEEP'],
      ['GRAB_JOB_ALL', 'PRE_SLEEP'],
    ]);
  });

  it('re-grabs on the timer after a job that came while it slept', async () => {
    const { server, worker } = await setup({ regrabIntervalMs: 150 });
    worker.register('epoch', () => 'ok');
    await connectAwake(server, worker);
    // The NOOP just left: the timer starts with the PRE_SLEEP that answers it.
    const wokeAt = Date.now();
    await server.exactly(2);
    // The job answers the grab; the PRE_SLEEP behind it leaves the worker asleep, and an
    // epoch job falling due later brings no NOOP from gearmand 1.1.20.
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'epoch', '', '']);
    await server.until('a timed grab', (r) => r.length === 5);
    expect(Date.now() - wokeAt).toBeGreaterThanOrEqual(140);
    expect(server.types()).toEqual([
      'GRAB_JOB_ALL',
      'PRE_SLEEP',
      'WORK_COMPLETE',
      'GRAB_JOB_ALL',
      'PRE_SLEEP',
    ]);
  });

  it('grabs at once after a registration while asleep (gearmand sends no NOOP for queued jobs)', async () => {
    const { server, worker } = await setup();
    worker.register('a', () => 'ok');
    await connectAwake(server, worker);
    await server.until('a grab and PRE_SLEEP', (r) => r.length === 2);
    // Asleep already (the PRE_SLEEP went with the grab): this NO_JOB needs no reply.
    server.send(PacketType.NO_JOB);
    await sleep(50);
    expect(server.types()).toEqual(['GRAB_JOB_ALL', 'PRE_SLEEP']);
    server.received.length = 0;
    worker.register('b', () => 'ok');
    await server.exactly(3);
    expect(server.received.map((r) => [r.type, ...r.args])).toEqual([
      ['CAN_DO', 'b'],
      ['GRAB_JOB_ALL'],
      ['PRE_SLEEP'],
    ]);
    expect(server.writes()).toHaveLength(1);
  });

  it('fails a job for a function it never registered and reports it', async () => {
    const { server, worker } = await setup();
    worker.register('a', () => 'ok');
    const errors: GearmanError[] = [];
    worker.on('error', (error) => errors.push(error));
    await connectAwake(server, worker);
    await server.until('a grab', (r) => r.length === 2);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:9', 'nobody', '', '']);
    await server.until('WORK_FAIL', (r) => r.some((p) => p.type === 'WORK_FAIL'));
    expect(server.received.find((p) => p.type === 'WORK_FAIL')?.args).toEqual(['H:x:9']);
    expect(errors.map((e) => e.code)).toEqual([ErrorCode.PROTOCOL]);
  });

  it('answers a thrown error with WORK_EXCEPTION, or WORK_FAIL with exceptions off', async () => {
    for (const exceptions of [true, false]) {
      const { server, worker } = await setup({ exceptions });
      worker.register('boom', () => {
        throw new Error('kaput');
      });
      await connectAwake(server, worker);
      await server.until('a grab', (r) => r.length === 2);
      server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'boom', '', '']);
      await server.until('the reply', (r) => r.length >= 3);
      expect(server.received[2]).toMatchObject(
        exceptions
          ? { type: 'WORK_EXCEPTION', args: ['H:x:1', 'kaput'] }
          : { type: 'WORK_FAIL', args: ['H:x:1'] },
      );
    }
  });

  it('sends nothing more when the handler ended the job itself, and refuses a second end', async () => {
    const { server, worker } = await setup();
    let second: unknown;
    worker.register('self', async (job: Job) => {
      job.complete('mine');
      try {
        job.fail();
      } catch (err) {
        second = err;
      }
      return 'ignored';
    });
    await connectBacklog(server, worker, 1);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'self', '', '']);
    await server.until('the next grab', (r) => r.some((p) => p.type === 'GRAB_JOB_ALL'));
    await sleep(50);
    expect(server.received.filter((p) => p.type.startsWith('WORK_'))).toEqual([
      expect.objectContaining({ type: 'WORK_COMPLETE', args: ['H:x:1', 'mine'] }),
    ]);
    expect(second).toMatchObject({ code: ErrorCode.JOB_STATE });
  });

  it('answers a handler result of the wrong type with WORK_EXCEPTION', async () => {
    const { server, worker } = await setup();
    worker.register('bad', () => ({ not: 'bytes' }) as unknown as string);
    await connectAwake(server, worker);
    await server.until('a grab', (r) => r.length === 2);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'bad', '', '']);
    await server.until('the reply', (r) => r.some((p) => p.type === 'WORK_EXCEPTION'));
  });

  it('does not grab while paused and grabs again on resume', async () => {
    const { server, worker } = await setup({ maxJobs: 2 });
    worker.register('a', () => 'ok');
    await worker.start();
    await server.until('the probe', (r) => r.length >= 2);
    server.send(PacketType.NO_JOB);
    await server.until('PRE_SLEEP', (r) => r.some((p) => p.type === 'PRE_SLEEP'));
    worker.pause();
    server.received.length = 0;
    server.send(PacketType.NOOP);
    await sleep(100);
    expect(server.received).toEqual([]);
    worker.resume();
    await server.exactly(3);
    expect(server.writes()).toEqual([['GRAB_JOB_ALL', 'GRAB_JOB_ALL', 'PRE_SLEEP']]);
  });

  it('grabs on resume even while asleep, as it does after a registration', async () => {
    const { server, worker } = await setup({ maxJobs: 2 });
    worker.register('a', () => 'ok');
    await connectAwake(server, worker);
    await server.exactly(3);
    server.sendTogether([[PacketType.NO_JOB], [PacketType.NO_JOB]]);
    worker.pause();
    await sleep(50);
    server.received.length = 0;
    worker.resume();
    await server.exactly(3);
    expect(server.writes()).toEqual([['GRAB_JOB_ALL', 'GRAB_JOB_ALL', 'PRE_SLEEP']]);
  });

  it('asks a shared gate before every grab and returns each reservation', async () => {
    let free = 1;
    const released: Array<string | null> = [];
    const gate: GrabGate = {
      tryReserve: () => {
        if (free === 0) return false;
        free--;
        return true;
      },
      release: (name) => {
        released.push(name);
      },
    };
    const { server, worker } = await setup({ maxJobs: 4, gate });
    const hold = deferred<string>();
    worker.register('a', () => hold.promise);
    await worker.start();
    await server.until('the probe', (r) => r.length >= 2);
    server.send(PacketType.NO_JOB);
    await server.until('PRE_SLEEP', (r) => r.some((p) => p.type === 'PRE_SLEEP'));
    expect(released).toEqual([null]);
    free = 2;
    server.received.length = 0;
    server.send(PacketType.NOOP);
    await server.exactly(3);
    // The gate allowed two of the four grabs; PRE_SLEEP follows them.
    expect(server.types()).toEqual(['GRAB_JOB_ALL', 'GRAB_JOB_ALL', 'PRE_SLEEP']);
    // Jobs wait (the server answers that PRE_SLEEP with NOOP at once): awake again, and
    // the gate has no slot left, so no grab.
    server.send(PacketType.NOOP);
    server.send(PacketType.JOB_ASSIGN_UNIQ, ['H:x:1', 'a', '', '']);
    await waitFor('the release', () => released.length === 2);
    expect(released).toEqual([null, 'a']);
    free = 1;
    worker.refill();
    await sleep(50);
    // maxJobs 4: one running, one outstanding, so room for two, but the gate had one slot.
    expect(server.types()).toEqual(['GRAB_JOB_ALL', 'GRAB_JOB_ALL', 'PRE_SLEEP', 'GRAB_JOB_ALL']);
    expect(free).toBe(0);
    hold.resolve('done');
  });

  it('sends nothing on refill while asleep: the server will NOOP it', async () => {
    let free = 1;
    const gate: GrabGate = {
      tryReserve: () => {
        if (free === 0) return false;
        free--;
        return true;
      },
      release: () => {
        free++;
      },
    };
    const { server, worker } = await setup({ maxJobs: 2, gate });
    worker.register('a', () => 'ok');
    await connectAwake(server, worker);
    await server.exactly(2);
    server.send(PacketType.NO_JOB);
    await waitFor('the release', () => free === 1);
    worker.refill();
    await sleep(50);
    expect(server.types()).toEqual(['GRAB_JOB_ALL', 'PRE_SLEEP']);
  });
});
