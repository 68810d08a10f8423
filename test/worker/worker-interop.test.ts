import { afterEach, expect, it } from 'vitest';
import { ErrorCode, type GearmanError } from '../../src/errors.js';
import type { Job } from '../../src/worker/job.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import {
  adminStatus,
  adminWorkers,
  closeWorkers,
  deferred,
  PHP_DO_NORMAL,
  PHP_TASK_EVENTS,
  parseJsonLines,
  runGearman,
  runPhp,
  sleep,
  trackedWorker,
  waitFor,
} from './helpers.js';

/** PHP's ucwords(strtolower($s)), the seed article's worker. */
function title(text: string): string {
  return text.toLowerCase().replace(/(^|\s)(\S)/g, (_, space: string, c: string) => space + c.toUpperCase());
}

let gearmand: GearmandHandle | undefined;

afterEach(async () => {
  await closeWorkers();
  await gearmand?.stop();
  gearmand = undefined;
  await killAll();
});

async function serve(options: { clientId?: string; exceptions?: boolean; maxJobs?: number } = {}) {
  gearmand = await startGearmand();
  const worker = trackedWorker({ servers: [gearmand.address], ...options });
  return { gd: gearmand, worker };
}

describeWithPeers(['gearmand', 'php'], 'Worker with PHP pecl clients', () => {
  it("serves the seed's title client: doNormal('title', 'AlL THE woRLd')", async () => {
    const { gd, worker } = await serve();
    worker.register('title', (job) => title(job.payload.toString()));
    await worker.start();
    const run = await runPhp(PHP_DO_NORMAL, [gd.port, 'title', 'AlL THE woRLd']);
    expect(JSON.parse(run.stdout)).toEqual({ result: 'All The World', rc: 0 });
  });

  it('delivers status, data and warning in order before the result', async () => {
    const { gd, worker } = await serve();
    worker.register('chatty', async (job) => {
      job.status(1, 3);
      job.data('part-1');
      await sleep(5);
      job.warning('low disk');
      job.status(3, 3);
      return `done:${job.payload.toString()}`;
    });
    await worker.start();
    const run = await runPhp(PHP_TASK_EVENTS, [gd.port, 'chatty', 'p', '1', 5000]);
    const events = parseJsonLines(run.stdout).map(({ handle: _handle, ...rest }) => rest);
    expect(events).toEqual([
      { event: 'status', numerator: 1, denominator: 3 },
      { event: 'data', data: 'part-1' },
      { event: 'warning', data: 'low disk' },
      { event: 'status', numerator: 3, denominator: 3 },
      { event: 'complete', data: 'done:p' },
      { event: 'done', ok: true, rc: 0 },
    ]);
  });

  it('reports a thrown error to a client that enabled exceptions as an exception with its message', async () => {
    const { gd, worker } = await serve();
    worker.register('boom', () => {
      throw new Error('disk on fire');
    });
    await worker.start();
    // pecl's addServer() turns exceptions on by default (OPTION_REQ "exceptions").
    const run = await runPhp(PHP_TASK_EVENTS, [gd.port, 'boom', 'x', '1', 5000]);
    const events = parseJsonLines(run.stdout);
    expect(events[0]).toMatchObject({ event: 'exception', data: 'disk on fire' });
    expect(events.at(-1)).toMatchObject({ event: 'done', ok: true });
  });

  it('fails the job for a client without exceptions when exceptions is off', async () => {
    const { gd, worker } = await serve({ exceptions: false });
    worker.register('boom', () => {
      throw new Error('disk on fire');
    });
    await worker.start();
    const run = await runPhp(PHP_TASK_EVENTS, [gd.port, 'boom', 'x', '0', 5000]);
    expect(parseJsonLines(run.stdout)[0]).toMatchObject({ event: 'fail' });
  });

  it('gearmand 1.1.20 quirk: a WORK_EXCEPTION never reaches a libgearman client without exceptions', async () => {
    // gearmand converts it to WORK_FAIL but keeps the handle's NUL (server.cc
    // _server_queue_work_data, arg_size[0]); libgearman matches a WORK_FAIL's handle by
    // exact length, drops the packet and waits: here until the client's 1.5 s timeout.
    const { gd, worker } = await serve();
    const ended: string[] = [];
    worker.on('job:end', (event) => ended.push(event.outcome));
    worker.register('boom', () => {
      throw new Error('disk on fire');
    });
    await worker.start();
    const run = await runPhp(PHP_TASK_EVENTS, [gd.port, 'boom', 'x', '0', 1500]);
    const events = parseJsonLines(run.stdout);
    expect(events.map((e) => e.event)).toEqual(['done']);
    expect(events[0]).toMatchObject({ rc: 47 }); // GEARMAN_TIMEOUT
    expect(ended).toEqual(['exception']);
  });

  it('sends exactly one terminal packet when a handler ends the job and then returns', async () => {
    const { gd, worker } = await serve();
    const errors: GearmanError[] = [];
    worker.on('error', (error) => errors.push(error));
    let secondCall: unknown;
    worker.register('once', (job: Job) => {
      job.complete('first');
      try {
        job.complete('second');
      } catch (err) {
        secondCall = err;
      }
      return 'from return';
    });
    await worker.start();
    const run = await runPhp(PHP_DO_NORMAL, [gd.port, 'once', 'x']);
    expect(JSON.parse(run.stdout)).toEqual({ result: 'first', rc: 0 });
    expect(secondCall).toMatchObject({ code: ErrorCode.JOB_STATE });
    // A second terminal packet would have drawn ERROR JOB_NOT_FOUND from gearmand.
    await sleep(100);
    expect(errors).toEqual([]);
  });

  it('runs up to maxJobs jobs at once on one connection', async () => {
    const { gd, worker } = await serve({ maxJobs: 4 });
    const gate = deferred();
    let running = 0;
    let peak = 0;
    let finished = 0;
    worker.register('hold', async () => {
      peak = Math.max(peak, ++running);
      await gate.promise;
      running--;
      finished++;
    });
    await worker.start();
    const submit = await runPhp(
      `<?php
$c = new GearmanClient(); $c->addServer('127.0.0.1', (int)$argv[1]);
for ($i = 0; $i < 8; $i++) { $c->doBackground('hold', "job$i"); }
echo "ok\\n";`,
      [gd.port],
    );
    expect(submit.stdout).toBe('ok\n');
    await waitFor('four running jobs', () => running === 4);
    await sleep(200);
    expect(running).toBe(4);
    expect((await adminStatus(gd.port)).get('hold')).toEqual({ total: 8, running: 4, workers: 1 });
    gate.resolve();
    await waitFor('all eight jobs', () => finished === 8);
    expect(peak).toBe(4);
    expect((await adminStatus(gd.port)).get('hold')).toEqual({ total: 0, running: 0, workers: 1 });
  });

  it('wakes from PRE_SLEEP on NOOP quickly, not on the re-grab timer', async () => {
    const { gd, worker } = await serve();
    worker.register('ping', () => 'pong');
    await worker.start();
    await sleep(300); // long asleep by now
    const run = await runPhp(
      `<?php
$c = new GearmanClient(); $c->addServer('127.0.0.1', (int)$argv[1]);
$t = microtime(true);
$r = $c->doNormal('ping', 'x');
echo json_encode(['result' => $r, 'ms' => (microtime(true) - $t) * 1000]), "\\n";`,
      [gd.port],
    );
    const { result, ms } = JSON.parse(run.stdout) as { result: string; ms: number };
    expect(result).toBe('pong');
    // The re-grab timer is 5 s; a NOOP wakeup takes about a millisecond on loopback (the
    // bound leaves room for a loaded machine and still tells the two apart).
    expect(ms).toBeLessThan(2000);
  });
});

describeWithPeers(['gearmand', 'gearman'], 'Worker with the gearman CLI', () => {
  it('answers `gearman -f NAME` with the result on stdout', async () => {
    const { gd, worker } = await serve();
    worker.register('reverse', (job) => Buffer.from(job.payload).reverse());
    await worker.start();
    const run = await runGearman(['-p', String(gd.port), '-f', 'reverse'], 'hello world');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('dlrow olleh');
  });

  it('runs background jobs from `gearman -b` with their payload and unique', async () => {
    const { gd, worker } = await serve();
    const seen: Array<{ handle: string; unique: string; payload: string }> = [];
    worker.register('record', (job) => {
      seen.push({ handle: job.handle, unique: job.unique, payload: job.payload.toString() });
    });
    await worker.start();
    const run = await runGearman(['-p', String(gd.port), '-b', '-u', 'order-42', '-f', 'record'], 'ship it');
    expect(run.code).toBe(0);
    await waitFor('the background job', () => seen.length === 1);
    expect(seen[0]).toMatchObject({ unique: 'order-42', payload: 'ship it' });
    expect(seen[0]?.handle).toMatch(/^H:/);
  });

  it('shows its client id and functions in the `workers` admin output', async () => {
    const { gd, worker } = await serve({ clientId: 'thumbs-7' });
    worker.register('resize', () => 'ok').register('crop', () => 'ok', { timeoutMs: 60_000 });
    await worker.start();
    await waitFor('the registration', async () =>
      (await adminWorkers(gd.port)).some((w) => w.clientId === 'thumbs-7' && w.functions.length === 2),
    );
    const mine = (await adminWorkers(gd.port)).find((w) => w.clientId === 'thumbs-7');
    expect(mine?.functions.sort()).toEqual(['crop', 'resize']);
  });

  it('withdraws every function with resetAbilities()', async () => {
    const { gd, worker } = await serve({ clientId: 'resetter' });
    worker.register('a', () => 'ok').register('b', () => 'ok');
    await worker.start();
    const functionsOf = async () =>
      (await adminWorkers(gd.port)).find((w) => w.clientId === 'resetter')?.functions;
    await waitFor('both functions', async () => (await functionsOf())?.length === 2);
    worker.resetAbilities();
    await waitFor('no functions', async () => (await functionsOf())?.length === 0);
    expect(worker.functions).toEqual([]);
  });

  it('stops getting jobs of an unregistered function and gets them again after register', async () => {
    const { gd, worker } = await serve({ clientId: 'unreg' });
    const ran: string[] = [];
    worker
      .register('keep', () => 'ok')
      .register('drop', (job) => {
        ran.push(job.payload.toString());
      });
    await worker.start();
    expect(worker.unregister('drop')).toBe(true);
    await waitFor('CANT_DO to take effect', async () => {
      const mine = (await adminWorkers(gd.port)).find((w) => w.clientId === 'unreg');
      return mine !== undefined && mine.functions.join() === 'keep';
    });
    const run = await runGearman(['-p', String(gd.port), '-b', '-f', 'drop'], 'late');
    expect(run.code).toBe(0);
    await sleep(300);
    expect(ran).toEqual([]);
    expect((await adminStatus(gd.port)).get('drop')).toEqual({ total: 1, running: 0, workers: 0 });
    // Registering again grabs at once: gearmand sends no NOOP for a job already queued.
    worker.register('drop', (job) => {
      ran.push(job.payload.toString());
    });
    await waitFor('the queued job', () => ran.length === 1, 2000);
    expect(ran).toEqual(['late']);
  });
});
