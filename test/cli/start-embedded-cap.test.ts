import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import { embeddedPort, spawnGworker } from '../helpers/gworker-process.js';
import { killAll } from '../helpers/peers.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  await killAll();
});

describe('gworker start with embeddedServer.maxRunning', () => {
  it('never runs more jobs of a capped function at once than the cap, whatever its concurrency', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-embedded-cap-'));
    writeFileSync(
      path.join(dir, 'slow.js'),
      'export default async (p) => { await new Promise((r) => setTimeout(r, 80)); return p; };\n',
    );
    writeFileSync(
      path.join(dir, 'gworker.yaml'),
      `control: false
embeddedServer:
  listen: 0
  maxRunning: { slow: 2 }
functions:
  slow: { handler: ./slow.js, concurrency: 6 }
`,
    );
    const proc = spawnGworker(['start', path.join(dir, 'gworker.yaml')]);
    const port = await embeddedPort(proc);
    const client = new Client({ servers: [`127.0.0.1:${port}`] });
    const admin = new AdminClient({ server: `127.0.0.1:${port}` });
    closers.push(
      () => client.close(),
      () => admin.close(),
    );
    expect((await admin.raw('show maxrunning')).some((line) => line.startsWith('slow\t2\t'))).toBe(true);
    const jobs = Array.from({ length: 12 }, (_, i) => client.run('slow', `job ${i}`));
    let peak = 0;
    let done = false;
    const all = Promise.all(jobs).finally(() => {
      done = true;
    });
    // Bounded: 12 jobs of 80 ms two at a time take about half a second.
    for (let i = 0; i < 400 && !done; i++) {
      const row = (await admin.status()).find((r) => r.function === 'slow');
      peak = Math.max(peak, row?.running ?? 0);
      await new Promise((r) => setTimeout(r, 5));
    }
    const results = await all;
    expect(results.map((r) => r.toString())).toEqual(Array.from({ length: 12 }, (_, i) => `job ${i}`));
    expect(peak).toBe(2);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });
});
