import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { AdminClient } from '../../../src/client/admin-client.js';
import { Client } from '../../../src/client/client.js';
import { parseManifest } from '../../../src/supervisor/manifest/load.js';
import { Supervisor, type SupervisorEvents } from '../../../src/supervisor/supervisor.js';
import { type GearmandHandle, startGearmand } from '../../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../../helpers/peers.js';

const kHandler = `
import { appendFileSync } from 'node:fs';
export default async function (text) {
  appendFileSync(process.env.DIRECT_RESIZE_RUNS ?? '/dev/null', text + '\\n');
  if (text.startsWith('sleep')) await new Promise((r) => setTimeout(r, Number(text.slice(5).split(':')[0])));
  return 'done:' + text;
}
`;

describeWithPeers(['gearmand'], 'dispatch: thread resized in place against gearmand', () => {
  let gearmand: GearmandHandle;
  let supervisor: Supervisor | undefined;
  let client: Client | undefined;
  let admin: AdminClient | undefined;
  let dir: string;
  let changes: Array<SupervisorEvents['scale'][0]>;

  beforeEach(async () => {
    gearmand = await startGearmand();
    dir = mkdtempSync(path.join(tmpdir(), 'gworker-direct-resize-'));
    writeFileSync(path.join(dir, 'up.mjs'), kHandler);
    process.env.DIRECT_RESIZE_RUNS = path.join(dir, 'runs.txt');
    changes = [];
  });

  afterEach(async () => {
    await admin?.close();
    await client?.close();
    await supervisor?.close({ force: true });
    admin = undefined;
    client = undefined;
    supervisor = undefined;
    await killAll();
  });

  async function start(concurrency: string) {
    const file = path.join(dir, 'gworker.yaml');
    const text = `servers: ["${gearmand.address}"]\nshutdownTimeout: 5s\nfunctions:\n  up: { handler: ./up.mjs, payload: text, dispatch: thread, concurrency: ${concurrency} }\n`;
    writeFileSync(file, text);
    supervisor = new Supervisor(parseManifest(text, file, { env: {} }), {
      regrabIntervalMs: 300,
      autoscale: { sampleMs: 100, downAfterMs: 800 },
    });
    supervisor.on('scale', (change) => changes.push(change));
    await supervisor.start();
    client = new Client({ servers: [gearmand.address] });
    admin = new AdminClient({ server: gearmand.address });
    return { supervisor, client };
  }

  const up = () => supervisor?.functions()[0];
  /** Connections gearmand has registered for `up` (its admin status). */
  const workersAtGearmand = async () =>
    (await admin?.status())?.find((row) => row.function === 'up')?.availableWorkers;

  it('gworker scale up starts more threads of the same generation, each with its connection', async () => {
    const { supervisor, client } = await start('1');
    await expect(supervisor.scale('up', 3)).resolves.toBe(true);
    expect(up()).toMatchObject({ concurrency: 3, threads: 3, threadsStarted: 3, generation: 1 });
    expect(up()?.scaling.mode).toBe('manual');
    expect(up()?.connections).toEqual([expect.objectContaining({ connections: 3, up: 3, connected: true })]);
    await expect.poll(workersAtGearmand, { timeout: 3000 }).toBe(3);
    // Three at once now.
    const jobs = ['sleep500:a', 'sleep500:b', 'sleep500:c'].map((t) => client.run('up', t));
    await expect.poll(() => up()?.running, { timeout: 3000 }).toBe(3);
    expect((await Promise.all(jobs)).map(String)).toEqual([
      'done:sleep500:a',
      'done:sleep500:b',
      'done:sleep500:c',
    ]);
    expect(changes).toEqual([expect.objectContaining({ function: 'up', from: 1, to: 3, by: 'manual' })]);
  });

  it('gworker scale down lets the surplus threads finish their jobs, then close: nothing is lost', async () => {
    const { supervisor, client } = await start('3');
    const jobs = ['sleep700:a', 'sleep700:b', 'sleep700:c'].map((t) => client.run('up', t));
    await expect.poll(() => up()?.running, { timeout: 3000 }).toBe(3);
    await supervisor.scale('up', 1);
    expect(up()).toMatchObject({ concurrency: 1, threads: 1, generation: 1 });
    // The surplus threads still finish what they hold.
    expect(up()?.threadsStarted).toBe(3);
    expect((await Promise.all(jobs)).map(String)).toEqual([
      'done:sleep700:a',
      'done:sleep700:b',
      'done:sleep700:c',
    ]);
    await expect.poll(() => up()?.threadsStarted, { timeout: 3000 }).toBe(1);
    await expect.poll(workersAtGearmand, { timeout: 3000 }).toBe(1);
    // One at a time now: the second waits at gearmand while the first runs.
    const next = [client.run('up', 'sleep300:d'), client.run('up', 'sleep300:e')];
    await expect.poll(() => up()?.running, { timeout: 3000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(up()?.running).toBe(1);
    expect((await Promise.all(next)).map(String)).toEqual(['done:sleep300:d', 'done:sleep300:e']);
    expect(up()?.threadsStarted).toBe(1);
  });

  it('a manual value holds over a handler reload; --auto goes back to the manifest', async () => {
    const { supervisor, client } = await start('1');
    await supervisor.scale('up', 2);
    await supervisor.reloadHandlers(['up']);
    expect(up()).toMatchObject({ concurrency: 2, threads: 2, threadsStarted: 2, generation: 2 });
    await supervisor.scaleAuto('up');
    expect(up()).toMatchObject({ concurrency: 1, threads: 1 });
    expect(String(await client.run('up', 'x'))).toBe('done:x');
  });

  it('a concurrency range is moved by the autoscaler through the same resize', async () => {
    const { supervisor, client } = await start('{ min: 1, max: 3 }');
    expect(up()).toMatchObject({ concurrency: 1, threads: 1, scaling: { mode: 'auto', min: 1, max: 3 } });
    const jobs = Array.from({ length: 9 }, (_, i) => client.run('up', `sleep400:${i}`));
    await expect.poll(() => up()?.concurrency, { timeout: 5000 }).toBe(3);
    await expect.poll(() => up()?.running, { timeout: 3000 }).toBe(3);
    await Promise.all(jobs);
    expect(changes.some((c) => c.by === 'autoscaler' && c.to > c.from)).toBe(true);
    // Idle for the window: back down to min, the surplus threads closed.
    await expect.poll(() => up()?.concurrency, { timeout: 5000 }).toBe(1);
    await expect.poll(() => up()?.threadsStarted, { timeout: 3000 }).toBe(1);
    expect(supervisor.functions()[0]?.generation).toBe(1);
  });
});
