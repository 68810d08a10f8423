import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import { killAll, spawnTracked } from '../helpers/peers.js';
import { runCliCaptured } from '../helpers/run-cli.js';
import { waitForLine } from './helpers/conformance.js';
import { closeAllRawClients, RawClient, texts } from './helpers/raw-client.js';

const bin = fileURLToPath(new URL('../../bin/gworker.js', import.meta.url));

/** Runs `gworker ...` in-process with captured stdout and stderr. */
const run = (...argv: string[]) => runCliCaptured(argv);

/** Starts `gworker server --port 0 ARGS`; resolves once it printed where it listens. */
async function startCli(...args: string[]): Promise<{ child: ChildProcess; port: number; line: string }> {
  const child = spawnTracked(
    process.execPath,
    [bin, 'server', '--port', '0', '--log-level', 'warn', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const line = await waitForLine(child, /^gworker server listening on /, 20_000);
  return { child, port: Number(/:(\d+)$/.exec(line)?.[1]), line };
}

function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

afterEach(async () => {
  closeAllRawClients();
  await killAll();
});

describe('gworker server (arguments)', () => {
  it('prints its usage with --help', async () => {
    const { code, stdout } = await run('server', '--help');
    expect(code).toBe(0);
    expect(stdout).toContain('usage: gworker server');
    for (const flag of [
      '--listen',
      '--port',
      '--job-retries',
      '--worker-wakeup',
      '--exceptions',
      '--round-robin',
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  it('refuses bad arguments with exit status 2', async () => {
    for (const argv of [
      ['--port', 'abc'],
      ['--port', '70000'],
      ['--job-retries', '-1'],
      ['--max-frame-size', '10'],
      ['--log-level', 'loud'],
      ['--job-handle-prefix', ''],
      ['--max-unsent-output', '512KiB'],
      ['--tls-handshake-timeout', '5s'], // without --tls-cert
      ['--max-running', 'resize'],
      ['--max-running', 'resize=two'],
      ['--max-running', '=2'],
      ['--max-running', 'resize=4294967296'],
      ['stray'],
    ]) {
      const { code, stderr } = await run('server', ...argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(stderr).toContain('gworker server:');
    }
  });

  it('caps the running jobs of each function named by --max-running', async () => {
    const { port } = await startCli('--max-running', 'resize=2', '--max-running', 'mail=1');
    const admin = await RawClient.connect(port);
    expect(await admin.admin('show maxrunning', 'list')).toEqual(['resize\t2\t0\t0', 'mail\t1\t0\t0']);
    await admin.send(PacketType.SUBMIT_JOB_BG, ['mail', '', 'a']).expect(PacketType.JOB_CREATED);
    await admin.send(PacketType.SUBMIT_JOB_BG, ['mail', '', 'b']).expect(PacketType.JOB_CREATED);
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['mail']).send(PacketType.GRAB_JOB);
    expect(texts(await worker.expect(PacketType.JOB_ASSIGN))[2]).toBe('a');
    worker.send(PacketType.GRAB_JOB);
    await worker.expect(PacketType.NO_JOB);
  });

  it('exits 1 with one line when it cannot listen', async () => {
    const taken = await startCli();
    const { code, stderr } = await run('server', '--port', String(taken.port), '--log-level', 'silent');
    expect(code).toBe(1);
    expect(stderr).toMatch(/^gworker server: cannot listen: .*EADDRINUSE/);
  });
});

describe('gworker server (a running process)', () => {
  it('says where it listens, serves, and exits 0 on SIGTERM', async () => {
    const { child, port, line } = await startCli('--job-handle-prefix', 'H:cli');
    expect(line).toBe(`gworker server listening on 127.0.0.1:${port}`);
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB_BG, ['f', '', 'x']);
    expect(texts(await client.expect(PacketType.JOB_CREATED))).toEqual(['H:cli:1']);
    child.kill('SIGTERM');
    expect(await exitCode(child)).toBe(0);
    await client.waitClosed();
  });

  it('on SIGUSR1 stops accepting, lets the running job finish, then exits 0', async () => {
    const { child, port } = await startCli();
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB, ['slow', '', 'x']);
    const [handle] = texts(await client.expect(PacketType.JOB_CREATED));
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['slow']).send(PacketType.GRAB_JOB);
    await worker.expect(PacketType.JOB_ASSIGN);
    child.kill('SIGUSR1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(child.exitCode).toBeNull();
    await expect(RawClient.connect(port)).rejects.toThrow();
    worker.send(PacketType.WORK_COMPLETE, [handle as string, 'finished']);
    expect(texts(await client.expect(PacketType.WORK_COMPLETE))).toEqual([handle, 'finished']);
    expect(await exitCode(child)).toBe(0);
  });

  it('passes --job-retries on: the job fails after its worker dies once with --job-retries 1', async () => {
    const { port } = await startCli('--job-retries', '1');
    const client = await RawClient.connect(port);
    client.send(PacketType.SUBMIT_JOB, ['fragile', '', 'x']);
    const [handle] = texts(await client.expect(PacketType.JOB_CREATED));
    const worker = await RawClient.connect(port);
    worker.send(PacketType.CAN_DO, ['fragile']).send(PacketType.GRAB_JOB);
    await worker.expect(PacketType.JOB_ASSIGN);
    worker.close();
    expect(texts(await client.expect(PacketType.WORK_FAIL))).toEqual([handle]);
  });
});
