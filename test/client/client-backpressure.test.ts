import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { ErrorCode } from '../../src/errors.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { adminCommand, functionStatus } from './peer-workers.js';

describeWithPeers(['gearmand'], 'Client backpressure against gearmand', () => {
  let gearmand: GearmandHandle;
  let client: Client;
  let frozenPid: number | null = null;

  beforeEach(async () => {
    gearmand = await startGearmand();
    client = new Client({ servers: [gearmand.address] });
  });
  afterEach(async () => {
    if (frozenPid !== null) process.kill(frozenPid, 'SIGCONT');
    frozenPid = null;
    await client.close();
    await killAll();
  });

  it('pipelines thousands of background submits on one socket and gets a distinct handle for each', async () => {
    const count = 20_000;
    const submits: Promise<string>[] = [];
    for (let i = 0; i < count; i++) submits.push(client.submitBackground('bulk', `job ${i}`));
    const handles = await Promise.all(submits);
    expect(new Set(handles).size).toBe(count);
    expect((await functionStatus(gearmand.port)).get('bulk')?.total).toBe(count);
  });

  const freeze = async (): Promise<number> => {
    const [pidLine] = await adminCommand(gearmand.port, 'getpid');
    const pid = Number(pidLine?.split(' ')[1]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGSTOP');
    frozenPid = pid;
    // A stop reaches each of gearmand's threads on its own; one still running could
    // answer the next submit. Go on once every thread shows as stopped.
    const deadline = Date.now() + 2000;
    while (!allThreadsStopped(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(allThreadsStopped(pid)).toBe(true);
    return pid;
  };

  it('fails a background submit with TimeoutError or ABORTED when no JOB_CREATED comes', async () => {
    await client.echo('connected');
    const pid = await freeze();
    const started = Date.now();
    await expect(client.submitBackground('late', 'x', { timeoutMs: 200 })).rejects.toMatchObject({
      code: ErrorCode.TIMEOUT,
    });
    expect(Date.now() - started).toBeLessThan(2000);
    const controller = new AbortController();
    const aborted = client.submitBackground('late', 'y', { signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: ErrorCode.ABORTED });
    await expect(client.submitBackground('late', 'z', { signal: AbortSignal.abort() })).rejects.toMatchObject(
      {
        code: ErrorCode.ABORTED,
      },
    );
    process.kill(pid, 'SIGCONT');
    frozenPid = null;
    // The late JOB_CREATED answers are skipped in order; the connection stays in step.
    expect(await client.getStatus(await client.submitBackground('late', 'after'))).toMatchObject({
      known: true,
    });
  });

  it('holds submits back while gearmand does not read, and sends them all once it does', async () => {
    await client.echo('connected');
    // A stopped gearmand reads nothing: the socket fills, then our writes must stop.
    const pid = await freeze();
    const payload = Buffer.alloc(64 * 1024, 0x61);
    const count = 400; // 25.6 MiB, more than the loopback socket buffers take
    const submits: Promise<string>[] = [];
    for (let i = 0; i < count; i++) submits.push(client.submitBackground('big', payload));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(client.backlog).toBeGreaterThan(count / 4);
    let drained = false;
    const drain = client.drained().then(() => {
      drained = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(drained).toBe(false);

    process.kill(pid, 'SIGCONT');
    frozenPid = null;
    const handles = await Promise.all(submits);
    await drain;
    expect(new Set(handles).size).toBe(count);
    expect(client.backlog).toBe(0);
    expect((await functionStatus(gearmand.port)).get('big')?.total).toBe(count);
  });
});

/** Whether every thread of `pid` is stopped (state T in /proc). */
function allThreadsStopped(pid: number): boolean {
  return readdirSync(`/proc/${pid}/task`).every((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
  });
}
