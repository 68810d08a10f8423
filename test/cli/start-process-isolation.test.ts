import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
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
});
