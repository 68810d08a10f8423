import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitForWorkers } from '../client/peer-workers.js';
import { startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, freePort, killAll, spawnTracked, waitForPort } from '../helpers/peers.js';
import { curl } from './helpers/curl.js';
import { startServer } from './helpers/own-server.js';

const workerScript = fileURLToPath(new URL('./fixtures/http-worker.php', import.meta.url));

interface Gateway {
  /** The job server's port (for the worker). */
  readonly port: number;
  readonly url: (path: string) => string;
}

/** gearmand 1.1.20 with its HTTP plugin (`-r http`), or gworker's server with its gateway. */
const targets: ReadonlyArray<{ name: string; start(): Promise<Gateway> }> = [
  {
    name: 'gearmand 1.1.20 -r http',
    async start() {
      const httpPort = await freePort();
      const gearmand = await startGearmand(['-r', 'http', `--http-port=${httpPort}`]);
      await waitForPort(httpPort);
      return { port: gearmand.port, url: (path) => `http://127.0.0.1:${httpPort}${path}` };
    },
  },
  {
    name: 'gworker server',
    async start() {
      const { server, port } = await startServer({ httpPort: 0 });
      return { port, url: (path) => `http://127.0.0.1:${server.httpAddress?.port}${path}` };
    },
  },
];

/** The PHP pecl worker of the fixture, registered before this resolves. */
async function phpWorker(port: number): Promise<void> {
  spawnTracked('php', [workerScript, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForWorkers(port, 'chunks', 1);
}

afterEach(async () => {
  await killAll();
});

describeWithPeers(['gearmand', 'php', 'curl'], 'HTTP gateway against gearmand 1.1.20 -r http', () => {
  for (const target of targets) {
    describe(target.name, () => {
      it('answers a foreground POST with the result, the handle and WORK_COMPLETE', async () => {
        const gateway = await target.start();
        await phpWorker(gateway.port);
        const res = await curl(['--data-binary', 'hELLO wORLD', gateway.url('/title')]);
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe('Hello World');
        expect(res.headers['x-gearman-job-handle']).toMatch(/^H:[^:]+:\d+$/);
        expect(res.headers['x-gearman-command']).toBe('WORK_COMPLETE');
        expect(res.headers.server).toMatch(/^Gearman\//);
      });

      it('answers a background POST with the handle and JOB_CREATED', async () => {
        const gateway = await target.start();
        const res = await curl([
          '-H',
          'X-Gearman-Background: true',
          '--data-binary',
          'x',
          gateway.url('/title'),
        ]);
        expect(res.headers['x-gearman-command']).toBe('JOB_CREATED');
        expect(res.headers['x-gearman-job-handle']).toMatch(/^H:[^:]+:\d+$/);
        // gearmand answers 200; gworker answers 202 Accepted, which is what it is.
        expect(res.status).toBe(target.name.startsWith('gearmand') ? 200 : 202);
      });
    });
  }

  it('delivers the WORK_DATA chunks that gearmand 1.1.20 loses', async () => {
    const [gearmand, ours] = (await Promise.all(targets.map((target) => target.start()))) as [
      Gateway,
      Gateway,
    ];
    await Promise.all([phpWorker(gearmand.port), phpWorker(ours.port)]);
    // gearmand 1.1.20 sends no status line at all for such a job: curl refuses the answer.
    const theirs = await curl(['--max-time', '5', '--data-binary', 'x', gearmand.url('/chunks')]);
    expect(theirs.exitCode).not.toBe(0);
    expect(theirs.body.toString()).not.toContain('first,second,');
    const res = await curl(['--data-binary', 'x', ours.url('/chunks')]);
    expect([res.exitCode, res.status, res.body.toString()]).toEqual([0, 200, 'first,second,result']);
  });
});
