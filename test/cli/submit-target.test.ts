import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needsFinalNewline } from '../../src/cli/no-worker-hint.js';
import { GearmanServer } from '../../src/server/server.js';
import { Worker } from '../../src/worker/worker.js';
import { runCliCaptured } from '../helpers/run-cli.js';

let server: GearmanServer;
let worker: Worker;
let address: string;

beforeAll(async () => {
  server = new GearmanServer({ host: '127.0.0.1', port: 0 });
  address = `127.0.0.1:${(await server.listen()).port}`;
  worker = new Worker({ servers: [address] });
  worker.register('upper', (job) => job.payload.toString().toUpperCase());
  worker.register('line', (job) => `${job.payload.toString()}\n`);
  worker.register('slow', async () => {
    await sleep(3800);
    return 'late';
  });
  await worker.start();
});
afterAll(async () => {
  await worker.close();
  await server.close();
});

describe('gworker submit finds its server and says when nobody serves the function', () => {
  it('submits to $GWORKER_SERVERS when no --server is given', async () => {
    const env = { GWORKER_SERVERS: `127.0.0.1:1,${address}` };
    expect(await runCliCaptured(['submit', '-f', 'upper', 'x'], { env })).toEqual({
      code: 0,
      stdout: 'X',
      stderr: '',
    });
    const bad = await runCliCaptured(['submit', '-f', 'upper', 'x'], { env: { GWORKER_SERVERS: 'host:0' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^gworker submit: GWORKER_SERVERS: /);
  });

  it('ends the result with a newline on a terminal, and never in a pipe', async () => {
    const terminal = { stdoutTty: { columns: 80 } };
    expect((await runCliCaptured(['submit', '-f', 'upper', '-s', address, 'x'], terminal)).stdout).toBe(
      'X\n',
    );
    expect((await runCliCaptured(['submit', '-f', 'line', '-s', address, 'x'], terminal)).stdout).toBe('x\n');
    expect((await runCliCaptured(['submit', '-f', 'upper', '-s', address, 'x'])).stdout).toBe('X');
    expect(needsFinalNewline(true, undefined)).toBe(false);
    expect(needsFinalNewline(undefined, 0x41)).toBe(false);
  });

  it('hints on stderr after a few seconds when no worker has registered the function, and keeps waiting', async () => {
    const [nobody, busy] = await Promise.all([
      runCliCaptured(['submit', '-f', 'nobody', '-s', address, '--timeout', '5s', 'x']),
      runCliCaptured(['submit', '-f', 'slow', '-s', address, '--timeout', '10s', 'x']),
    ]);
    expect(nobody).toEqual({
      code: 1,
      stdout: '',
      stderr: `gworker submit: no worker has registered nobody on ${address}; still waiting (Ctrl-C to stop)\ngworker submit: job ${
        /job (\S+) timed out/.exec(nobody.stderr)?.[1]
      } timed out after 5000 ms\n`,
    });
    // A function with a worker gets no hint, however long its job takes.
    expect(busy).toEqual({ code: 0, stdout: 'late', stderr: '' });
  }, 20_000);
});
