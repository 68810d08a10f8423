import { expect, it } from 'vitest';
import { PacketType } from '../../../src/protocol/constants.js';
import { describeConformance, eventually, sleep } from '../helpers/conformance.js';
import { RawClient, texts } from '../helpers/raw-client.js';

/** A connection registered for `functions`: the latest registration is served first. */
async function worker(port: number, ...functions: string[]): Promise<RawClient> {
  const client = await RawClient.connect(port);
  for (const fn of functions) client.send(PacketType.CAN_DO, [fn]);
  return client.sync();
}

async function created(client: RawClient): Promise<string> {
  return texts(await client.expect(PacketType.JOB_CREATED))[0] as string;
}

/** Grabs one job with GRAB_JOB_UNIQ; resolves with [handle, function, unique, data]. */
async function grab(client: RawClient): Promise<string[]> {
  client.send(PacketType.GRAB_JOB_UNIQ);
  return texts(await client.expect(PacketType.JOB_ASSIGN_UNIQ));
}

describeConformance('jobs', [], ({ start }) => {
  it('serves high, then normal, then low jobs of a function, FIFO within each', async () => {
    const server = await start();
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB_LOW_BG, ['prio', 'l1', 'low-1']);
    client.send(PacketType.SUBMIT_JOB_BG, ['prio', 'n1', 'normal-1']);
    client.send(PacketType.SUBMIT_JOB_HIGH_BG, ['prio', 'h1', 'high-1']);
    client.send(PacketType.SUBMIT_JOB_LOW_BG, ['prio', 'l2', 'low-2']);
    client.send(PacketType.SUBMIT_JOB_HIGH_BG, ['prio', 'h2', 'high-2']);
    for (let i = 0; i < 5; i++) await created(client);
    const w = await worker(server.port, 'prio');
    const order: string[] = [];
    for (let i = 0; i < 5; i++) order.push((await grab(w))[3] as string);
    expect(order).toEqual(['high-1', 'high-2', 'normal-1', 'low-1', 'low-2']);
    w.send(PacketType.GRAB_JOB);
    await w.expect(PacketType.NO_JOB);
  });

  it("serves the worker's latest registered function that has a job first, whatever the priority", async () => {
    const server = await start();
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB_HIGH_BG, ['first', '', 'first-high']);
    client.send(PacketType.SUBMIT_JOB_LOW_BG, ['second', '', 'second-low']);
    await created(client);
    await created(client);
    const w = await worker(server.port, 'first', 'second');
    expect((await grab(w))[3]).toBe('second-low');
    expect((await grab(w))[3]).toBe('first-high');
  });

  it('with --round-robin, moves the function that served to the end of the worker list', async () => {
    const server = await start({ roundRobin: true });
    const client = await RawClient.connect(server.port);
    for (const [fn, data] of [
      ['a', 'a1'],
      ['a', 'a2'],
      ['b', 'b1'],
      ['b', 'b2'],
    ]) {
      client.send(PacketType.SUBMIT_JOB_BG, [fn as string, '', data as string]);
      await created(client);
    }
    const w = await worker(server.port, 'a', 'b');
    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push((await grab(w))[3] as string);
    expect(order).toEqual(['b1', 'a1', 'b2', 'a2']);
  });

  it('coalesces submits with the same unique: one job, one handle, every client gets the result', async () => {
    const server = await start();
    const one = await RawClient.connect(server.port);
    const two = await RawClient.connect(server.port);
    const background = await RawClient.connect(server.port);
    one.send(PacketType.SUBMIT_JOB, ['co', 'same', 'first data']);
    const handle = await created(one);
    two.send(PacketType.SUBMIT_JOB_HIGH, ['co', 'same', 'other data']);
    expect(await created(two)).toBe(handle);
    background.send(PacketType.SUBMIT_JOB_BG, ['co', 'same', 'more data']);
    expect(await created(background)).toBe(handle);
    // Another function with the same unique is another job.
    background.send(PacketType.SUBMIT_JOB_BG, ['co-other', 'same', 'x']);
    expect(await created(background)).not.toBe(handle);

    const w = await worker(server.port, 'co');
    expect(await grab(w)).toEqual([handle, 'co', 'same', 'first data']);
    // A submit while the job runs joins it too.
    const late = await RawClient.connect(server.port);
    late.send(PacketType.SUBMIT_JOB, ['co', 'same', 'late']);
    expect(await created(late)).toBe(handle);
    w.send(PacketType.WORK_COMPLETE, [handle, 'result']);
    for (const client of [one, two, late]) {
      expect(texts(await client.expect(PacketType.WORK_COMPLETE))).toEqual([handle, 'result']);
    }
    w.send(PacketType.GRAB_JOB);
    await w.expect(PacketType.NO_JOB);
  });

  it('never coalesces an empty unique, and coalesces `-` on equal payloads only', async () => {
    const server = await start();
    const client = await RawClient.connect(server.port);
    const submit = async (unique: string, data: string): Promise<string> => {
      client.send(PacketType.SUBMIT_JOB_BG, ['dash', unique, data]);
      return created(client);
    };
    const empty1 = await submit('', 'z');
    const empty2 = await submit('', 'z');
    expect(empty2).not.toBe(empty1);
    const dash1 = await submit('-', 'payload');
    expect(await submit('-', 'payload')).toBe(dash1);
    expect(await submit('-', 'other payload')).not.toBe(dash1);
    const blank1 = await submit('-', '');
    expect(await submit('-', '')).not.toBe(blank1);
    const admin = await RawClient.connect(server.port);
    expect((await admin.admin('show unique jobs', 'list')).sort()).toEqual(['', '', '-', '-', '-', '-']);
  });

  it('forwards WORK_STATUS, WORK_DATA and WORK_WARNING to every client and answers GET_STATUS', async () => {
    const server = await start();
    const one = await RawClient.connect(server.port);
    const two = await RawClient.connect(server.port);
    one.send(PacketType.SUBMIT_JOB, ['st', 'status-u', 'x']);
    const handle = await created(one);
    two.send(PacketType.SUBMIT_JOB, ['st', 'status-u', 'x']);
    await created(two);

    two.send(PacketType.GET_STATUS, [handle]);
    expect(texts(await two.expect(PacketType.STATUS_RES))).toEqual([handle, '1', '0', '0', '0']);
    two.send(PacketType.GET_STATUS_UNIQUE, ['status-u']);
    expect(texts(await two.expect(PacketType.STATUS_RES_UNIQUE))).toEqual([
      'status-u',
      '1',
      '0',
      '0',
      '0',
      '2',
    ]);

    const w = await worker(server.port, 'st');
    await grab(w);
    w.send(PacketType.WORK_STATUS, [handle, '3', '10']);
    w.send(PacketType.WORK_DATA, [handle, 'chunk']);
    w.send(PacketType.WORK_WARNING, [handle, 'careful']);
    for (const client of [one, two]) {
      expect(texts(await client.expect(PacketType.WORK_STATUS))).toEqual([handle, '3', '10']);
      expect(texts(await client.expect(PacketType.WORK_DATA))).toEqual([handle, 'chunk']);
      expect(texts(await client.expect(PacketType.WORK_WARNING))).toEqual([handle, 'careful']);
    }
    two.send(PacketType.GET_STATUS, [handle]);
    expect(texts(await two.expect(PacketType.STATUS_RES))).toEqual([handle, '1', '1', '3', '10']);
    two.send(PacketType.GET_STATUS_UNIQUE, ['status-u']);
    expect(texts(await two.expect(PacketType.STATUS_RES_UNIQUE))).toEqual([
      'status-u',
      '1',
      '1',
      '3',
      '10',
      '2',
    ]);

    w.send(PacketType.WORK_COMPLETE, [handle, 'done']);
    await one.expect(PacketType.WORK_COMPLETE);
    await two.expect(PacketType.WORK_COMPLETE);
    two.send(PacketType.GET_STATUS, [handle]);
    expect(texts(await two.expect(PacketType.STATUS_RES))).toEqual([handle, '0', '0', '0', '0']);
    two.send(PacketType.GET_STATUS_UNIQUE, ['status-u']);
    expect(texts(await two.expect(PacketType.STATUS_RES_UNIQUE))).toEqual([
      'status-u',
      '0',
      '0',
      '0',
      '0',
      '0',
    ]);
  });

  it('sends WORK_EXCEPTION to clients that asked with OPTION_REQ and WORK_FAIL to the others', async () => {
    const server = await start();
    const asked = await RawClient.connect(server.port);
    const plain = await RawClient.connect(server.port);
    asked.send(PacketType.OPTION_REQ, ['exceptions']);
    expect(texts(await asked.expect(PacketType.OPTION_RES))).toEqual(['exceptions']);
    asked.send(PacketType.SUBMIT_JOB, ['ex', 'ex-1', 'x']);
    const handle = await created(asked);
    plain.send(PacketType.SUBMIT_JOB, ['ex', 'ex-1', 'x']);
    await created(plain);
    const w = await worker(server.port, 'ex');
    await grab(w);
    w.send(PacketType.WORK_EXCEPTION, [handle, 'it broke']);
    expect(texts(await asked.expect(PacketType.WORK_EXCEPTION))).toEqual([handle, 'it broke']);
    const fail = await plain.expect(PacketType.WORK_FAIL);
    // gearmand 1.1.20 leaves a stray NUL after the handle here; ours does not.
    expect(texts(fail)[0]?.replace(/\0$/, '')).toBe(handle);
    // The exception ended the job: a later WORK_FAIL for it is refused.
    w.send(PacketType.WORK_FAIL, [handle]);
    expect(texts(await w.expect(PacketType.ERROR))).toEqual([
      'JOB_NOT_FOUND',
      'Job given in work result not found',
    ]);
  });

  it('with --exceptions, sends WORK_EXCEPTION to clients that did not ask', async () => {
    const server = await start({ exceptions: true });
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB, ['ex', '', 'x']);
    const handle = await created(client);
    const w = await worker(server.port, 'ex');
    await grab(w);
    w.send(PacketType.WORK_EXCEPTION, [handle, 'oops']);
    expect(texts(await client.expect(PacketType.WORK_EXCEPTION))).toEqual([handle, 'oops']);
  });

  it('runs an epoch job only once its time has come', async () => {
    const server = await start();
    const client = await RawClient.connect(server.port);
    const when = Math.floor(Date.now() / 1000) + 2;
    client.send(PacketType.SUBMIT_JOB_EPOCH, ['later', 'e-1', String(when), 'due']);
    const handle = await created(client);
    const admin = await RawClient.connect(server.port);
    expect(await admin.admin('prioritystatus', 'list')).toEqual(['later\t0\t1\t0\t0']);
    const w = await worker(server.port, 'later');
    w.send(PacketType.GRAB_JOB);
    await w.expect(PacketType.NO_JOB);
    // A time already past, or not a number, means now.
    client.send(PacketType.SUBMIT_JOB_EPOCH, ['later', 'e-2', 'soon', 'now']);
    const now = await created(client);
    expect(await grab(w)).toEqual([now, 'later', 'e-2', 'now']);
    const assigned = await eventually(async () => {
      w.send(PacketType.GRAB_JOB_UNIQ);
      const packet = await w.next();
      return packet.type === PacketType.JOB_ASSIGN_UNIQ ? texts(packet) : undefined;
    }, 5000);
    expect(assigned).toEqual([handle, 'later', 'e-1', 'due']);
    expect(Date.now()).toBeGreaterThanOrEqual(when * 1000);
  });

  it('refuses a submit over the function limit set with maxqueue', async () => {
    const server = await start();
    const admin = await RawClient.connect(server.port);
    // Limits only apply to a function the server knows.
    expect(await admin.admin('maxqueue capped 1')).toEqual(['OK']);
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB_BG, ['capped', '', '1']);
    await created(client);
    client.send(PacketType.SUBMIT_JOB_BG, ['capped', '', '2']);
    await created(client);
    expect(await admin.admin('maxqueue capped 2')).toEqual(['OK']);
    client.send(PacketType.SUBMIT_JOB_HIGH_BG, ['capped', '', '3']);
    expect(texts(await client.expect(PacketType.ERROR))).toEqual(['QUEUE_ERROR', 'Job queue is full']);
    // A coalesced submit creates no job and is not refused.
    client.send(PacketType.SUBMIT_JOB_BG, ['capped', 'u', '4']);
    expect(texts(await client.expect(PacketType.ERROR))).toEqual(['QUEUE_ERROR', 'Job queue is full']);
    // Per priority: HIGH unlimited, NORMAL 2, LOW unlimited.
    expect(await admin.admin('maxqueue capped 0 2 0')).toEqual(['OK']);
    client.send(PacketType.SUBMIT_JOB_HIGH_BG, ['capped', '', 'h']);
    await created(client);
    client.send(PacketType.SUBMIT_JOB_BG, ['capped', '', 'n']);
    expect(texts(await client.expect(PacketType.ERROR))).toEqual(['QUEUE_ERROR', 'Job queue is full']);
    client.send(PacketType.SUBMIT_JOB_LOW_BG, ['capped', '', 'l']);
    await created(client);
    expect(await admin.admin('maxqueue capped -1')).toEqual(['OK']);
    client.send(PacketType.SUBMIT_JOB_BG, ['capped', '', 'n']);
    await created(client);
    expect(await admin.admin('prioritystatus', 'list')).toEqual(['capped\t1\t3\t1\t0']);
  });

  it('wakes every sleeping worker with one NOOP per job arrival until it grabs again', async () => {
    const server = await start();
    const one = await worker(server.port, 'wake');
    const two = await worker(server.port, 'wake');
    const other = await worker(server.port, 'other');
    for (const w of [one, two, other]) await w.send(PacketType.PRE_SLEEP).sync();
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB_BG, ['wake', '', '1']);
    await created(client);
    await one.expect(PacketType.NOOP);
    await two.expect(PacketType.NOOP);
    // No second NOOP before they grab, and none for a worker of another function.
    client.send(PacketType.SUBMIT_JOB_BG, ['wake', '', '2']);
    await created(client);
    expect(await one.quiet(150)).toEqual([]);
    expect(await two.quiet(0)).toEqual([]);
    expect(await other.quiet(0)).toEqual([]);
    // PRE_SLEEP while jobs wait gets a NOOP at once.
    one.send(PacketType.PRE_SLEEP);
    await one.expect(PacketType.NOOP);
  });

  it('with --worker-wakeup 1, wakes one sleeping worker per job', async () => {
    const server = await start({ workerWakeup: 1 });
    const workers = [await worker(server.port, 'wake'), await worker(server.port, 'wake')];
    for (const w of workers) await w.send(PacketType.PRE_SLEEP).sync();
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB_BG, ['wake', '', '1']);
    await created(client);
    const woken = await Promise.all(workers.map((w) => w.quiet(200)));
    expect(woken.flat()).toEqual(['NOOP']);
    client.send(PacketType.SUBMIT_JOB_BG, ['wake', '', '2']);
    await created(client);
    const next = await Promise.all(workers.map((w) => w.quiet(200)));
    expect(next.flat()).toEqual(['NOOP']);
    expect(woken.map((frames) => frames.length)).not.toEqual(next.map((frames) => frames.length));
  });

  it('requeues the job of a worker that disconnects, with one more retry', async () => {
    const server = await start();
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB, ['rq', 'rq-1', 'x']);
    const handle = await created(client);
    const first = await worker(server.port, 'rq');
    await grab(first);
    first.close();
    const admin = await RawClient.connect(server.port);
    await eventually(async () =>
      (await admin.admin('show jobs', 'list')).includes(`${handle}\t1\t0\t0`) ? true : undefined,
    );
    const second = await worker(server.port, 'rq');
    expect(await grab(second)).toEqual([handle, 'rq', 'rq-1', 'x']);
    second.send(PacketType.WORK_COMPLETE, [handle, 'ok']);
    expect(texts(await client.expect(PacketType.WORK_COMPLETE))).toEqual([handle, 'ok']);
  });

  it('drops a foreground job whose clients all left when a worker reaches it', async () => {
    const server = await start();
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB, ['gone', 'g-1', 'x']);
    const handle = await created(client);
    client.close();
    const admin = await RawClient.connect(server.port);
    await eventually(async () =>
      (await admin.admin('show jobs', 'list')).includes(`${handle}\t0\t1\t0`) ? true : undefined,
    );
    const w = await worker(server.port, 'gone');
    w.send(PacketType.GRAB_JOB);
    await w.expect(PacketType.NO_JOB);
    expect(await admin.admin('show jobs', 'list')).toEqual([]);
  });

  it('requeues a job whose CAN_DO_TIMEOUT expires and refuses the late result', async () => {
    const server = await start();
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB, ['slow', 's-1', 'x']);
    const handle = await created(client);
    const w = await RawClient.connect(server.port);
    // 300 ms: gearmand raises anything under a second to one second.
    w.send(PacketType.CAN_DO_TIMEOUT, ['slow', '300']);
    await grab(w);
    const admin = await RawClient.connect(server.port);
    await sleep(600);
    expect(await admin.admin('show jobs', 'list')).toEqual([`${handle}\t0\t0\t0`]);
    await eventually(
      async () =>
        (await admin.admin('show jobs', 'list')).includes(`${handle}\t1\t0\t0`) ? true : undefined,
      3000,
    );
    w.send(PacketType.WORK_COMPLETE, [handle, 'late']);
    expect(texts(await w.expect(PacketType.ERROR))).toEqual([
      'JOB_NOT_FOUND',
      'Job given in work result not found',
    ]);
    expect(await client.quiet(100)).toEqual([]);
    expect(await grab(w)).toEqual([handle, 'slow', 's-1', 'x']);
  });

  it('assigns a reduce job with JOB_ASSIGN_ALL and other jobs with JOB_ASSIGN_UNIQ on GRAB_JOB_ALL', async () => {
    const server = await start();
    const client = await RawClient.connect(server.port);
    // libgearman's framing: function, unique, reducer, an empty aggregator, data.
    const body = Buffer.from('map\0r-1\0reduce\0\0words', 'latin1');
    const header = Buffer.alloc(12);
    header.write('\0REQ', 'latin1');
    header.writeUInt32BE(PacketType.SUBMIT_REDUCE_JOB_BACKGROUND, 4);
    header.writeUInt32BE(body.length, 8);
    client.write(Buffer.concat([header, body]));
    const reduce = await created(client);
    client.send(PacketType.SUBMIT_JOB_BG, ['map', 'plain-1', 'plain']);
    const plain = await created(client);
    const w = await worker(server.port, 'map');
    w.send(PacketType.GRAB_JOB_ALL);
    expect(texts(await w.expect(PacketType.JOB_ASSIGN_ALL))).toEqual([
      reduce,
      'map',
      'r-1',
      'reduce',
      'words',
    ]);
    w.send(PacketType.GRAB_JOB_ALL);
    expect(texts(await w.expect(PacketType.JOB_ASSIGN_UNIQ))).toEqual([plain, 'map', 'plain-1', 'plain']);
  });
});
