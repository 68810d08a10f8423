import { afterEach, describe, expect, it } from 'vitest';
import { Worker } from '../../src/worker/worker.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { runCliCaptured } from '../helpers/run-cli.js';
import { embeddedServer, gearmandServer, type TestServer } from '../supervisor/retry/retry-fixture.js';

function suite(startServer: () => Promise<TestServer>): void {
  let server: TestServer | undefined;
  let worker: Worker | undefined;

  afterEach(async () => {
    await worker?.close({ force: true });
    await server?.stop();
    await killAll();
    worker = undefined;
  });

  /** A worker that re-grabs every 200 ms (gearmand 1.1.x never wakes it for a due epoch job). */
  async function startWorker(address: string): Promise<Array<{ payload: string; at: number }>> {
    const seen: Array<{ payload: string; at: number }> = [];
    worker = new Worker({ servers: [address], regrabIntervalMs: 200 });
    worker.register('later', (job) => {
      seen.push({ payload: job.payload.toString(), at: Date.now() });
      return '';
    });
    await worker.start();
    return seen;
  }

  async function until(check: () => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  it('holds a job sent with --in until its time (SUBMIT_JOB_EPOCH)', async () => {
    server = await startServer();
    const seen = await startWorker(server.address);
    const sent = Date.now();
    const run = await runCliCaptured([
      'submit',
      '-f',
      'later',
      '-b',
      '--in',
      '2s',
      '-s',
      server.address,
      'soon',
    ]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^H:\S+\n$/);
    await until(() => seen.length > 0, 10_000);
    expect(seen.map((s) => s.payload)).toEqual(['soon']);
    expect((seen[0] as { at: number }).at - sent).toBeGreaterThanOrEqual(1900);
  }, 20_000);

  it('holds a job sent with --at an ISO 8601 time or epoch seconds', async () => {
    server = await startServer();
    const seen = await startWorker(server.address);
    const sent = Date.now();
    const iso = new Date(sent + 2000).toISOString();
    const seconds = String(Math.ceil((sent + 2000) / 1000));
    for (const [at, payload] of [
      [iso, 'iso'],
      [seconds, 'epoch'],
    ] as const) {
      expect(
        (await runCliCaptured(['submit', '-f', 'later', '-b', '--at', at, '-s', server.address, payload]))
          .code,
      ).toBe(0);
    }
    await until(() => seen.length > 1, 10_000);
    expect(seen.map((s) => s.payload).sort()).toEqual(['epoch', 'iso']);
    expect(seen.every((s) => s.at - sent >= 1500)).toBe(true);
  }, 20_000);
}

describe('gworker submit --at and --in on the embedded server', () => suite(embeddedServer));
describeWithPeers(['gearmand'], 'gworker submit --at and --in on gearmand 1.1.20', () =>
  suite(gearmandServer),
);

describe('gworker submit --at and --in refusals', () => {
  it.each([
    [['--in', '5s'], '--in needs --background'],
    [['-b', '--at', '2026-13-40T99:00:00Z'], '--at: expected an ISO 8601 time'],
    [['-b', '--at', 'tomorrow'], '--at: expected an ISO 8601 time'],
    [['-b', '--in', '30'], '--in: add a unit: 30s or 30ms'],
    [['-b', '--in', '5s', '--at', '1798135200'], 'give --at or --in, not both'],
    [['-b', '--in', '5s', '-p', 'high'], 'leave out --priority'],
  ])('refuses %j', async (flags, message) => {
    const run = await runCliCaptured(['submit', '-f', 'later', ...flags, '-s', '127.0.0.1:1', 'x']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });
});
