import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { ErrorCode, type GearmanError } from '../../src/errors.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { type GworkerProcess, spawnGworker } from '../helpers/gworker-process.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';

// Issue 17 end to end: `gworker start` against gearmand 1.1.20, with a handler that
// segfaults in isolation: process beside one that serves on.

const fixtures = fileURLToPath(new URL('../fixtures/handlers/process/', import.meta.url));

/** Gone (or a zombie nobody reaps): it runs no more. */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** The pids of a process's children, from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'latin1')
        .trim()
        .split(/\s+/)
        .filter((s) => s !== '')
        .map(Number),
    );
  } catch {
    return [];
  }
}

/** Polls `read` every 100 ms until `done` holds (or 10 s): the last value read. */
async function until<T>(read: () => T, done: (value: T) => boolean = Boolean): Promise<T> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const value = read();
    if (done(value) || performance.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeWithPeers(['gearmand'], 'gworker start with isolation: process against gearmand', () => {
  let gearmand: GearmandHandle;
  let dir: string;
  let client: Client;
  let gworker: GworkerProcess;

  beforeEach(async () => {
    gearmand = await startGearmand();
    dir = mkdtempSync(path.join(tmpdir(), 'gworker-process-isolation-'));
    for (const name of ['segfaults.js', 'pid.js'])
      copyFileSync(path.join(fixtures, name), path.join(dir, name));
    client = new Client({ servers: [gearmand.address] });
  });

  afterEach(async () => {
    await client.close();
    await killAll();
  });

  it('a segfault fails only its job, naming the signal; the supervisor and the other function serve on', async () => {
    const manifest = path.join(dir, 'gworker.yaml');
    writeFileSync(
      manifest,
      [
        `servers: ["${gearmand.address}"]`,
        'connections: 1',
        'control: false',
        'shutdownTimeout: 5s',
        'functions:',
        '  crash: { handler: ./segfaults.js, isolation: process }',
        '  pid: { handler: ./pid.js, isolation: process, concurrency: 2 }',
        '',
      ].join('\n'),
    );
    gworker = spawnGworker(['start', manifest]);
    await gworker.waitForLog((l) => l.msg === 'gworker started');
    const crashPid = Number((await client.run('crash', 'pid')).toString());
    const otherPid = Number((await client.run('pid', 'log')).toString());
    expect(crashPid).not.toBe(gworker.child.pid);

    const failure = (await client.run('crash', 'go').catch((err: unknown) => err)) as GearmanError;
    expect(failure.code).toBe(ErrorCode.JOB_EXCEPTION);
    expect(failure.message).toContain(`the handler's process (pid ${crashPid}) was killed by SIGSEGV`);

    // The supervisor is alive, the other function's process never noticed, the crashed
    // function runs on a fresh process.
    expect(gworker.child.exitCode).toBeNull();
    expect(Number((await client.run('pid', 'x')).toString())).toBe(otherPid);
    const freshPid = Number((await client.run('crash', 'pid')).toString());
    expect(freshPid).not.toBe(crashPid);

    // What the handler printed is in the supervisor's log, with its pid.
    const line = await gworker.waitForLog((l) => l.msg === 'a line on stdout');
    expect(line).toMatchObject({ function: 'pid', pid: otherPid, stream: 'stdout' });

    // A stop ends the processes with the supervisor.
    gworker.child.kill('SIGTERM');
    expect(await gworker.exited).toBe(0);
    expect(isGone(otherPid) && isGone(freshPid)).toBe(true);
  });

  it('a supervisor killed with SIGKILL leaves no handler process behind, even one stuck in a loop', async () => {
    copyFileSync(path.join(fixtures, 'spins-with-pid.js'), path.join(dir, 'spins-with-pid.js'));
    const manifest = path.join(dir, 'gworker.yaml');
    writeFileSync(
      manifest,
      [
        `servers: ["${gearmand.address}"]`,
        'connections: 1',
        'control: false',
        'functions:',
        '  spin: { handler: ./spins-with-pid.js, isolation: process }',
        '  pid: { handler: ./pid.js, isolation: process }',
        '',
      ].join('\n'),
    );
    gworker = spawnGworker(['start', manifest]);
    await gworker.waitForLog((l) => l.msg === 'gworker started');
    const idlePid = Number((await client.run('pid', 'x')).toString());
    // The spinning handler's first update is its pid: it is in its loop from then on.
    const updates = client.submit('spin', '')[Symbol.asyncIterator]();
    let update = await updates.next();
    while (!update.done && update.value.type !== 'data') update = await updates.next();
    const spinPid = Number(update.done || update.value.type !== 'data' ? 0 : update.value.data.toString());
    const children = childrenOf(gworker.child.pid as number);
    expect(children).toEqual(expect.arrayContaining([idlePid, spinPid]));
    gworker.child.kill('SIGKILL');
    await gworker.exited;
    const left = await until(
      () => children.filter((pid) => !isGone(pid)),
      (pids) => pids.length === 0,
    );
    expect(left).toEqual([]);
  });
});
