import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { Worker } from '../../src/worker/worker.js';
import { sleep } from './helpers/conformance.js';
import { startServer } from './helpers/own-server.js';
import { RawClient } from './helpers/raw-client.js';

const open: Array<Client | Worker> = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((peer) => peer.close()));
});

/** How many jobs of one function run at once, counted inside the handlers. */
class Gauge {
  now = 0;
  most = 0;
  done = 0;

  async run(ms: number): Promise<string> {
    this.now++;
    this.most = Math.max(this.most, this.now);
    await sleep(ms);
    this.now--;
    this.done++;
    return 'ok';
  }
}

describe('maxrunning under load', () => {
  it('never runs more than the cap of a function across four workers, and leaves other functions alone', async () => {
    const { port } = await startServer({ maxRunning: { capped: 2 } });
    const capped = new Gauge();
    const free = new Gauge();
    for (let i = 0; i < 4; i++) {
      // Each worker could run four jobs at once: sixteen slots against a cap of two.
      const worker = new Worker({ servers: [`127.0.0.1:${port}`], maxJobs: 4 });
      open.push(worker);
      worker.register('capped', () => capped.run(20));
      worker.register('free', () => free.run(150));
      await worker.start();
    }
    const client = new Client({ servers: [`127.0.0.1:${port}`] });
    open.push(client);
    const admin = await RawClient.connect(port);

    const jobs = [
      ...Array.from({ length: 30 }, (_, i) => client.run('capped', `c${i}`)),
      ...Array.from({ length: 8 }, (_, i) => client.run('free', `f${i}`)),
    ];
    let settled = false;
    const all = Promise.all(jobs).finally(() => {
      settled = true;
    });
    // The server's own count, sampled while the jobs run (bounded: the run takes ~0.5 s).
    const runningAtServer: number[] = [];
    for (let i = 0; i < 400 && !settled; i++) {
      const line = (await admin.admin('status', 'list')).find((row) => row.startsWith('capped\t'));
      if (line !== undefined) runningAtServer.push(Number(line.split('\t')[2]));
      await sleep(5);
    }
    const results = await all;

    expect(results.map(String)).toEqual(Array(38).fill('ok'));
    expect(capped.done).toBe(30);
    expect(capped.most).toBe(2);
    expect(Math.max(...runningAtServer)).toBeLessThanOrEqual(2);
    expect(runningAtServer.length).toBeGreaterThan(0);
    // The other function is not held to the cap: its eight jobs overlap well past two.
    expect(free.done).toBe(8);
    expect(free.most).toBeGreaterThan(2);
  });
});
