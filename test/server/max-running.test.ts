import { describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import { GearmanServer } from '../../src/server/server.js';
import { type LogEntry, linesWith, recordingLogger } from '../helpers/recording-logger.js';
import { startServer } from './helpers/own-server.js';
import { RawClient, submitBackground, texts } from './helpers/raw-client.js';

/** A raw worker that registered `functions` (and synced, so its CAN_DOs are in). */
async function rawWorker(port: number, ...functions: string[]): Promise<RawClient> {
  const worker = await RawClient.connect(port);
  for (const fn of functions) worker.send(PacketType.CAN_DO, [fn]);
  return worker.sync();
}

/** GRAB_JOB: the job's handle and workload, or null for NO_JOB. */
async function grab(worker: RawClient): Promise<[handle: string, data: string] | null> {
  worker.send(PacketType.GRAB_JOB);
  const packet = await worker.next();
  if (packet.type === PacketType.NO_JOB) return null;
  if (packet.type !== PacketType.JOB_ASSIGN)
    throw new Error(`expected JOB_ASSIGN or NO_JOB, got ${packet.type}`);
  const [handle, fn, data] = texts(packet);
  return [handle as string, `${fn}:${data}`];
}

/** PRE_SLEEP, then the proof that the server has read it and sent no NOOP for it. */
async function sleepUnwoken(worker: RawClient): Promise<void> {
  worker.send(PacketType.PRE_SLEEP);
  await worker.sync();
  expect(await worker.quiet(100)).toEqual([]);
}

async function submitAll(port: number, jobs: ReadonlyArray<[fn: string, data: string]>): Promise<RawClient> {
  const client = await RawClient.connect(port);
  for (const [fn, data] of jobs) expect(await submitBackground(client, fn, '', data)).toBe('created');
  return client;
}

describe('maxrunning: a cap on the jobs of a function running at once', () => {
  it('hands a capped job to no worker until a running one ends, then NOOPs a sleeper', async () => {
    const { port } = await startServer({ maxRunning: { capped: 1 } });
    const client = await submitAll(port, [
      ['capped', 'a'],
      ['capped', 'b'],
    ]);
    const first = await rawWorker(port, 'capped');
    const second = await rawWorker(port, 'capped');
    const running = await grab(first);
    expect(running?.[1]).toBe('capped:a');
    expect(await grab(second)).toBeNull();
    await sleepUnwoken(second);
    // A new job while the function is at its cap wakes nobody: it could not start.
    expect(await submitBackground(client, 'capped', '', 'c')).toBe('created');
    expect(await second.quiet(100)).toEqual([]);

    first.send(PacketType.WORK_COMPLETE, [running?.[0] as string, 'ok']);
    await second.expect(PacketType.NOOP);
    expect((await grab(second))?.[1]).toBe('capped:b');
  });

  it('gives a worker at the cap a job of another function it can do, and keeps priority order', async () => {
    const { port } = await startServer({ maxRunning: { capped: 1 } });
    const client = await submitAll(port, [
      ['capped', 'first'],
      ['other', 'x'],
    ]);
    client.send(PacketType.SUBMIT_JOB_LOW_BG, ['capped', '', 'low']);
    await client.expect(PacketType.JOB_CREATED);
    client.send(PacketType.SUBMIT_JOB_HIGH_BG, ['capped', '', 'high']);
    await client.expect(PacketType.JOB_CREATED);
    const first = await rawWorker(port, 'capped');
    // CAN_DO order: the latest registration is served first, so `capped` comes first here.
    const both = await rawWorker(port, 'other', 'capped');
    const running = await grab(first);
    expect(running?.[1]).toBe('capped:high');
    expect((await grab(both))?.[1]).toBe('other:x');
    expect(await grab(both)).toBeNull();

    first.send(PacketType.WORK_COMPLETE, [running?.[0] as string, 'ok']);
    await first.sync();
    expect((await grab(both))?.[1]).toBe('capped:first');
    expect(await grab(first)).toBeNull();
  });

  it('passes over a capped function with --global-priority too', async () => {
    const { port } = await startServer({ globalPriority: true, maxRunning: { capped: 1 } });
    const client = await RawClient.connect(port);
    for (const fn of ['capped', 'capped']) {
      client.send(PacketType.SUBMIT_JOB_HIGH_BG, [fn, '', 'high']);
      await client.expect(PacketType.JOB_CREATED);
    }
    client.send(PacketType.SUBMIT_JOB_LOW_BG, ['other', '', 'low']);
    await client.expect(PacketType.JOB_CREATED);
    const worker = await rawWorker(port, 'other', 'capped');
    expect((await grab(worker))?.[1]).toBe('capped:high');
    // The second HIGH job of `capped` would come first, but the cap holds it back.
    expect((await grab(worker))?.[1]).toBe('other:low');
    expect(await grab(worker)).toBeNull();
  });

  it('wakes sleepers when the cap is raised or removed at runtime, and `show maxrunning` lists it', async () => {
    const { port } = await startServer();
    const admin = await RawClient.connect(port);
    expect(await admin.admin('maxrunning capped 1')).toEqual(['OK']);
    await submitAll(port, [
      ['capped', '1'],
      ['capped', '2'],
      ['capped', '3'],
      ['capped', '4'],
    ]);
    const workers = await Promise.all([1, 2, 3, 4].map(() => rawWorker(port, 'capped')));
    const [w1, w2, w3, w4] = workers as [RawClient, RawClient, RawClient, RawClient];
    expect((await grab(w1))?.[1]).toBe('capped:1');
    for (const worker of [w2, w3, w4]) {
      expect(await grab(worker)).toBeNull();
      await sleepUnwoken(worker);
    }
    expect(await admin.admin('show maxrunning', 'list')).toEqual(['capped\t1\t1\t3']);

    expect(await admin.admin('MAXRUNNING capped 2')).toEqual(['OK']);
    // One slot more: one sleeper is woken, not every one.
    await w2.expect(PacketType.NOOP);
    expect(await w3.quiet(100)).toEqual([]);
    expect(await w4.quiet(0)).toEqual([]);
    expect((await grab(w2))?.[1]).toBe('capped:2');

    expect(await admin.admin('maxrunning capped')).toEqual(['OK']);
    await w3.expect(PacketType.NOOP);
    await w4.expect(PacketType.NOOP);
    expect((await grab(w3))?.[1]).toBe('capped:3');
    expect((await grab(w4))?.[1]).toBe('capped:4');
    expect(await admin.admin('show maxrunning', 'list')).toEqual([]);
    // `status` keeps gearmand's four columns.
    expect(await admin.admin('status', 'list')).toEqual(['capped\t4\t4\t4']);
  });

  it('frees the slot of a worker that dies with a capped job: the job goes to a sleeper', async () => {
    const { port } = await startServer({ maxRunning: { capped: 1 } });
    await submitAll(port, [
      ['capped', 'first'],
      ['capped', 'second'],
    ]);
    const doomed = await rawWorker(port, 'capped');
    const sleeper = await rawWorker(port, 'capped');
    expect((await grab(doomed))?.[1]).toBe('capped:first');
    expect(await grab(sleeper)).toBeNull();
    await sleepUnwoken(sleeper);

    doomed.close();
    await sleeper.expect(PacketType.NOOP);
    // The requeued job comes first, and it takes the one slot again.
    expect((await grab(sleeper))?.[1]).toBe('capped:first');
    expect(await grab(sleeper)).toBeNull();
  });

  it('lets running jobs finish when the cap is lowered under their count, and hands out none meanwhile', async () => {
    const { port } = await startServer();
    await submitAll(port, [
      ['capped', '1'],
      ['capped', '2'],
      ['capped', '3'],
    ]);
    const [w1, w2, w3] = (await Promise.all([1, 2, 3].map(() => rawWorker(port, 'capped')))) as [
      RawClient,
      RawClient,
      RawClient,
    ];
    const one = await grab(w1);
    const two = await grab(w2);
    const admin = await RawClient.connect(port);
    expect(await admin.admin('maxrunning capped 1')).toEqual(['OK']);
    expect(await grab(w3)).toBeNull();
    await sleepUnwoken(w3);
    w1.send(PacketType.WORK_COMPLETE, [one?.[0] as string, 'ok']);
    await w1.sync();
    // Two ran, the cap is one: the first to end frees no slot.
    expect(await w3.quiet(100)).toEqual([]);
    w2.send(PacketType.WORK_COMPLETE, [two?.[0] as string, 'ok']);
    await w3.expect(PacketType.NOOP);
    expect((await grab(w3))?.[1]).toBe('capped:3');
  });

  it('holds a cap set before the function is known, and after `drop function`', async () => {
    const { port } = await startServer();
    const admin = await RawClient.connect(port);
    expect(await admin.admin('maxrunning later 1')).toEqual(['OK']);
    expect(await admin.admin('status', 'list')).toEqual([]);
    expect(await admin.admin('show maxrunning', 'list')).toEqual(['later\t1\t0\t0']);
    expect(await admin.admin('create function later')).toEqual(['OK']);
    expect(await admin.admin('drop function later')).toEqual(['OK']);
    await submitAll(port, [
      ['later', 'a'],
      ['later', 'b'],
    ]);
    const [w1, w2] = (await Promise.all([1, 2].map(() => rawWorker(port, 'later')))) as [
      RawClient,
      RawClient,
    ];
    expect((await grab(w1))?.[1]).toBe('later:a');
    expect(await grab(w2)).toBeNull();
  });

  it('says once in the log that the cap holds jobs back, not once per job', async () => {
    const lines: LogEntry[] = [];
    const { port } = await startServer({ maxRunning: { capped: 1 }, logger: recordingLogger(lines) });
    const client = await submitAll(port, [['capped', 'a']]);
    const worker = await rawWorker(port, 'capped');
    await grab(worker);
    expect(linesWith(lines, 'maxrunning cap')).toEqual([]);
    for (const data of ['b', 'c', 'd'])
      expect(await submitBackground(client, 'capped', '', data)).toBe('created');
    expect(linesWith(lines, 'maxrunning cap')).toEqual([
      {
        level: 'info',
        obj: { function: 'capped', maxRunning: 1, running: 1, waiting: 1 },
        msg: 'jobs wait: the function runs as many jobs as its maxrunning cap allows',
      },
    ]);
  });

  it('refuses a malformed maxrunning with an ERR line and changes nothing', async () => {
    const { port } = await startServer({ maxRunning: { capped: 3 } });
    const admin = await RawClient.connect(port);
    expect(await admin.admin('maxrunning')).toEqual([
      'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxrunning',
    ]);
    const usage =
      'ERR INVALID_ARGUMENTS Usage:+maxrunning+FUNCTION+[N],+N+a+whole+number+from+0+(no+cap)+to+4294967295';
    for (const line of [
      'maxrunning capped two',
      'maxrunning capped -1',
      'maxrunning capped 4294967296',
      'maxrunning capped 1 2',
    ])
      expect(await admin.admin(line)).toEqual([usage]);
    expect(await admin.admin('show maxrunning', 'list')).toEqual(['capped\t3\t0\t0']);
  });

  it('checks the maxRunning option and setMaxRunning up front', async () => {
    expect(() => new GearmanServer({ maxRunning: { f: -1 } })).toThrow(RangeError);
    expect(() => new GearmanServer({ maxRunning: { f: 1.5 } })).toThrow(/maxRunning\["f"\]/);
    expect(() => new GearmanServer({ maxRunning: { '': 1 } })).toThrow(RangeError);
    const { server, port } = await startServer();
    expect(() => server.setMaxRunning('f', 2 ** 32)).toThrow(RangeError);
    server.setMaxRunning('café', 2);
    const admin = await RawClient.connect(port);
    expect(await admin.admin('show maxrunning', 'list')).toEqual(['café\t2\t0\t0']);
  });
});
