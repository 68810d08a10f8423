import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { functionStatus, startPhpWorker } from '../client/peer-workers.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { collect, describeWithPeers, freePort, killAll, spawnTracked } from '../helpers/peers.js';
import { runCliCaptured } from '../helpers/run-cli.js';

const bin = fileURLToPath(new URL('../../bin/gworker.js', import.meta.url));

describeWithPeers(['gearmand', 'php'], 'gworker submit', () => {
  let gearmand: GearmandHandle;

  /** Runs the CLI; `stdin` is written and closed (undefined: closed at once, like < /dev/null). */
  const submit = (args: readonly string[], stdin?: string) => {
    const child = spawnTracked(process.execPath, [bin, 'submit', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const result = collect(child);
    child.stdin?.end(stdin ?? '');
    return result;
  };

  beforeAll(async () => {
    gearmand = await startGearmand();
    await startPhpWorker(gearmand.port);
  });
  afterAll(async () => {
    await killAll();
  });

  it('prints the result of a foreground job', async () => {
    const { code, stdout, stderr } = await submit([
      '-f',
      'title',
      '--server',
      gearmand.address,
      'hELLO wORLD',
    ]);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: 'Hello World', stderr: '' });
  });

  it('reads the payload from standard input when none is given, empty included', async () => {
    expect(await submit(['-f', 'title', '-s', gearmand.address], 'fROM sTDIN')).toMatchObject({
      code: 0,
      stdout: 'From Stdin',
    });
    expect(await submit(['-f', 'title', '-s', gearmand.address])).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
  });

  it('prints data chunks as they arrive, then the result, and warnings on stderr', async () => {
    const { code, stdout, stderr } = await submit(['-f', 'updates', '-s', gearmand.address, '--status', '']);
    expect(code).toBe(0);
    expect(stdout).toBe('xydone');
    expect(stderr).toBe('status 1/2\ncareful\nstatus 2/2\n');
  });

  it('writes a data chunk before the job has finished', async () => {
    const release = path.join(tmpdir(), `gworker-release-${process.pid}-${Date.now()}`);
    const child = spawnTracked(
      process.execPath,
      [bin, 'submit', '-f', 'stream', '-s', gearmand.address, release],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const done = collect(child);
    let early = '';
    child.stdout?.on('data', (d: Buffer) => {
      early += d.toString();
    });
    const deadline = Date.now() + 10_000;
    while (!early.includes('chunk-1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(early).toBe('chunk-1\n');
    expect(child.exitCode).toBeNull();
    writeFileSync(release, '');
    try {
      expect(await done).toEqual({ code: 0, stdout: 'chunk-1\nresult\n', stderr: '' });
    } finally {
      rmSync(release, { force: true });
    }
  });

  it('prints the handle of a background job', async () => {
    const { code, stdout } = await submit([
      '-f',
      'queued-only',
      '-s',
      gearmand.address,
      '--background',
      '-p',
      'high',
      'x',
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^H:[^\n]+:\d+\n$/);
    expect((await functionStatus(gearmand.port)).get('queued-only')?.total).toBe(1);
  });

  it('exits 1 with a one-line reason when the job fails or raises an exception', async () => {
    const failed = await submit(['-f', 'fail', '-s', gearmand.address, 'x']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toMatch(/^gworker submit: job H:\S+ failed\n$/);
    const exception = await submit(['-f', 'boom', '-s', gearmand.address, 'line one\nline two']);
    expect(exception.code).toBe(1);
    expect(exception.stderr).toMatch(
      /^gworker submit: job H:\S+ raised an exception: boom: line one line two\n$/,
    );
  });

  it('exits 1 when no server answers, and when the timeout passes', async () => {
    const down = await submit(['-f', 'title', '-s', `127.0.0.1:${await freePort()}`, 'x']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^gworker submit: no job server is reachable[^\n]*\n$/);
    const slow = await submit([
      '-f',
      'nobody-serves-this',
      '-s',
      gearmand.address,
      '--timeout',
      '300ms',
      'x',
    ]);
    expect(slow.code).toBe(1);
    expect(slow.stderr).toMatch(/^gworker submit: job H:\S+ timed out after 300 ms\n$/);
  });

  it('exits 2 on a usage error and 0 for --help', async () => {
    const missing = await submit(['x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--function is required');
    const badPriority = await submit(['-f', 'title', '-p', 'urgent', 'x']);
    expect(badPriority.code).toBe(2);
    const help = await submit(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: gworker submit');
  });
});

/** `gworker submit ARGS` in this process, with `stdin` as its standard input. */
const runInProcess = (args: readonly string[], stdin = '') => runCliCaptured(['submit', ...args], { stdin });

describeWithPeers(['gearmand', 'php'], 'gworker submit in process', () => {
  let gearmand: GearmandHandle;

  beforeAll(async () => {
    gearmand = await startGearmand();
    await startPhpWorker(gearmand.port);
  });
  afterAll(async () => {
    await killAll();
  });

  it('streams data, then the result, with warnings on stderr', async () => {
    expect(await runInProcess(['-f', 'updates', '-s', gearmand.address], '')).toEqual({
      code: 0,
      stdout: 'xydone',
      stderr: 'careful\n',
    });
    expect(
      await runInProcess(['-f', 'title', '-s', gearmand.address, '-u', 'u1', '-p', 'low'], 'pIPED'),
    ).toEqual({
      code: 0,
      stdout: 'Piped',
      stderr: '',
    });
  });

  it('prints a background handle and reports failures in one line', async () => {
    const background = await runInProcess(['-f', 'idle-fn', '-s', gearmand.address, '-b', '-t', '5s', 'x']);
    expect(background.code).toBe(0);
    expect(background.stdout).toMatch(/^H:\S+\n$/);
    const failed = await runInProcess(['-f', 'fail', '-s', gearmand.address, 'x']);
    expect(failed).toMatchObject({ code: 1, stdout: '' });
    expect(failed.stderr).toMatch(/^gworker submit: job \S+ failed\n$/);
  });

  it('rejects bad arguments with exit status 2', async () => {
    for (const args of [
      ['-f', 'x', 'a', 'b'],
      ['-f', 'x', '--timeout', '-1'],
      ['-f', 'x', '-s', 'host:0'],
      ['--bogus'],
    ]) {
      const result = await runInProcess(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^gworker submit: /);
    }
  });
});
