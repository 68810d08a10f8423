import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { PacketType } from '../../../src/protocol/constants.js';
import { collect, spawnTracked } from '../../helpers/peers.js';
import { describeConformance, eventually, waitForLine } from '../helpers/conformance.js';
import { RawClient, texts } from '../helpers/raw-client.js';
import { HANDLE_PREFIX } from '../helpers/targets.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

const workDir = mkdtempSync(path.join(tmpdir(), 'gworker-conformance-'));
writeFileSync(path.join(workDir, 'alpha.txt'), 'alpha\n');
writeFileSync(path.join(workDir, 'beta.txt'), 'beta beta\n');
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Runs gearadmin against the server; resolves with its output lines (a list's `.` dropped). */
async function gearadmin(port: number, ...args: string[]): Promise<{ lines: string[]; stderr: string }> {
  const child = spawnTracked('gearadmin', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { stdout, stderr } = await collect(child);
  const lines = stdout.split('\n').filter((line) => line !== '');
  if (lines.at(-1) === '.') lines.pop();
  return { lines, stderr };
}

describeConformance('the seed PHP worker and client', ['php'], ({ start }) => {
  it('turns "AlL THE woRLd" into "All The World" through the server', async () => {
    const server = await start();
    const worker = spawnTracked('php', [fixture('title-worker.php'), String(server.port)]);
    await waitForLine(worker, /^ready$/);
    const client = spawnTracked('php', [fixture('title-client.php'), String(server.port), 'AlL THE woRLd'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { code, stdout } = await collect(client);
    expect(stdout).toBe('All The World\n');
    expect(code).toBe(0);
  });

  it('fails the job with WORK_FAIL after the second worker crash under --job-retries 2', async () => {
    const server = await start({ jobRetries: 2 });
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB, ['crash', 'crash-1', 'payload']);
    const [handle] = texts(await client.expect(PacketType.JOB_CREATED));
    const admin = await RawClient.connect(server.port);

    const first = spawnTracked('php', [fixture('crash-worker.php'), String(server.port)]);
    expect(await waitForLine(first, /^started /)).toBe(`started ${handle}`);
    first.kill('SIGKILL');
    // Requeued with one retry, and nothing sent to the client yet.
    await eventually(async () => {
      const jobs = await admin.admin('show jobs', 'list');
      return jobs.includes(`${handle}\t1\t0\t0`) ? true : undefined;
    });
    expect(await client.quiet(100)).toEqual([]);

    const second = spawnTracked('php', [fixture('crash-worker.php'), String(server.port)]);
    expect(await waitForLine(second, /^started /)).toBe(`started ${handle}`);
    second.kill('SIGKILL');
    expect(texts(await client.expect(PacketType.WORK_FAIL))).toEqual([handle]);
    expect(await admin.admin('show jobs', 'list')).toEqual([]);
  });
});

describeConformance('the gearman command line tool', ['gearman'], ({ start }) => {
  it('runs `gearman -w -f ls -- ls -lh` for `gearman -f ls < /dev/null`', async () => {
    const server = await start();
    const port = String(server.port);
    const worker = spawnTracked(
      'gearman',
      ['-h', '127.0.0.1', '-p', port, '-w', '-f', 'ls', '--', 'ls', '-lh'],
      {
        cwd: workDir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    expect(worker.pid).toBeGreaterThan(0);
    const client = spawnTracked('gearman', ['-h', '127.0.0.1', '-p', port, '-f', 'ls'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { code, stdout } = await collect(client);
    expect(code).toBe(0);
    expect(stdout).toBe(execFileSync('ls', ['-lh'], { cwd: workDir }).toString());
    expect(stdout).toContain('alpha.txt');
  });
});

describeConformance('gearadmin', ['gearadmin'], ({ start }) => {
  it('reports status, priorities, workers, jobs and uniques, and changes functions and jobs', async () => {
    const server = await start();
    const worker = await RawClient.connect(server.port);
    await worker.send(PacketType.SET_CLIENT_ID, ['worker-1']).send(PacketType.CAN_DO, ['reverse']).sync();
    const client = await RawClient.connect(server.port);
    client.send(PacketType.SUBMIT_JOB_LOW_BG, ['queued', 'u-low', 'l']);
    client.send(PacketType.SUBMIT_JOB_BG, ['queued', 'u-normal', 'n']);
    client.send(PacketType.SUBMIT_JOB_HIGH_BG, ['queued', 'u-high', 'h']);
    client.send(PacketType.SUBMIT_JOB, ['reverse', 'fg-1', 'abc']);
    const handles: string[] = [];
    for (let i = 0; i < 4; i++) handles.push(texts(await client.expect(PacketType.JOB_CREATED))[0] as string);
    expect(handles).toEqual([1, 2, 3, 4].map((n) => `${HANDLE_PREFIX}:${n}`));
    worker.send(PacketType.GRAB_JOB_UNIQ);
    expect(texts(await worker.expect(PacketType.JOB_ASSIGN_UNIQ))).toEqual([
      handles[3],
      'reverse',
      'fg-1',
      'abc',
    ]);

    const port = server.port;
    expect((await gearadmin(port, '--status')).lines.sort()).toEqual(['queued\t3\t0\t0', 'reverse\t1\t1\t1']);
    expect((await gearadmin(port, '--priority-status')).lines.sort()).toEqual([
      'queued\t1\t1\t1\t0',
      'reverse\t0\t0\t0\t1',
    ]);
    // Every connection, clients and gearadmin's own included; the first column is a number.
    const workers = (await gearadmin(port, '--workers')).lines;
    expect(workers.every((line) => /^\d+ /.test(line))).toBe(true);
    expect(workers.map((line) => line.replace(/^\d+ /, '')).sort()).toEqual([
      '127.0.0.1 - :',
      '127.0.0.1 - :',
      '127.0.0.1 worker-1 : reverse',
    ]);
    expect((await gearadmin(port, '--show-jobs')).lines.sort()).toEqual([
      `${handles[0]}\t0\t0\t1`,
      `${handles[1]}\t0\t0\t1`,
      `${handles[2]}\t0\t0\t1`,
      `${handles[3]}\t0\t0\t0`,
    ]);
    expect((await gearadmin(port, '--show-unique-jobs')).lines.sort()).toEqual([
      'fg-1',
      'u-high',
      'u-low',
      'u-normal',
    ]);

    expect((await gearadmin(port, '--cancel-job', handles[0] as string)).lines).toEqual(['OK']);
    expect((await gearadmin(port, '--show-jobs')).lines).toContain(`${handles[0]}\t0\t1\t0`);
    expect((await gearadmin(port, '--cancel-job', `${HANDLE_PREFIX}:999`)).stderr).toContain('UNKNOWN_JOB');

    expect((await gearadmin(port, '--create-function', 'fresh')).lines).toEqual(['OK']);
    expect((await gearadmin(port, '--status')).lines).toContain('fresh\t0\t0\t0');
    expect((await gearadmin(port, '--drop-function', 'fresh')).lines).toEqual(['OK']);
    expect((await gearadmin(port, '--status')).lines.some((line) => line.startsWith('fresh\t'))).toBe(false);
    expect((await gearadmin(port, '--drop-function', 'fresh')).stderr).toContain('function not found');
    expect((await gearadmin(port, '--drop-function', 'reverse')).stderr).toContain(
      'there are still connected workers or executing clients',
    );

    const [pid] = (await gearadmin(port, '--getpid')).lines;
    expect(pid).toMatch(/^\d+$/);
    expect(() => process.kill(Number(pid), 0)).not.toThrow();
    expect((await gearadmin(port, '--server-version')).lines).toEqual([
      expect.stringMatching(/^\d+\.\d+\.\d+\+\w+$/),
    ]);
    expect((await gearadmin(port, '--server-verbose')).lines).toEqual([expect.stringMatching(/^[A-Z]+$/)]);
  });
});
