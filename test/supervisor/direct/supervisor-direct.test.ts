import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Client } from '../../../src/client/client.js';
import { parseManifest } from '../../../src/supervisor/manifest/load.js';
import { Supervisor } from '../../../src/supervisor/supervisor.js';
import { type GearmandHandle, startGearmand } from '../../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../../helpers/peers.js';

const kHandler = `
export default async function (text) {
  if (text === 'boom') throw new Error('boom');
  if (text.startsWith('sleep')) await new Promise((r) => setTimeout(r, Number(text.slice(5))));
  return VERSION + ':' + text;
}
`;

describeWithPeers(['gearmand'], 'Supervisor with dispatch: thread against gearmand', () => {
  let gearmand: GearmandHandle;
  let supervisor: Supervisor | undefined;
  let client: Client | undefined;
  let dir: string;

  beforeEach(async () => {
    gearmand = await startGearmand();
    dir = mkdtempSync(path.join(tmpdir(), 'gworker-sup-direct-'));
    writeHandler('v1');
  });

  afterEach(async () => {
    await client?.close();
    await supervisor?.close({ force: true });
    client = undefined;
    supervisor = undefined;
    await killAll();
  });

  function writeHandler(version: string): void {
    writeFileSync(path.join(dir, 'up.mjs'), `const VERSION = '${version}';\n${kHandler}`);
  }

  function manifest(settings: string) {
    const file = path.join(dir, 'gworker.yaml');
    const text = `servers: ["${gearmand.address}"]\nshutdownTimeout: 5s\nfunctions:\n  up: { handler: ./up.mjs, payload: text, dispatch: thread, ${settings} }\n`;
    writeFileSync(file, text);
    return parseManifest(text, file, { env: {} });
  }

  async function start(settings: string) {
    supervisor = new Supervisor(manifest(settings), { regrabIntervalMs: 500 });
    await supervisor.start();
    client = new Client({ servers: [gearmand.address] });
    return { supervisor, client };
  }

  it('serves the function from its threads; the status shows running jobs and, in batches, the ended ones', async () => {
    const { supervisor, client } = await start('concurrency: 2');
    expect(String(await client.run('up', 'a'))).toBe('v1:a');
    await expect(client.run('up', 'boom')).rejects.toThrow('boom');
    const slow = [client.run('up', 'sleep400'), client.run('up', 'sleep400')];
    await expect.poll(() => supervisor.functions()[0]?.running, { timeout: 3000 }).toBe(2);
    await Promise.all(slow);
    await expect
      .poll(() => supervisor.functions()[0], { timeout: 3000 })
      .toMatchObject({ name: 'up', done: 3, excepted: 1, running: 0, threads: 2, threadsStarted: 2 });
  });

  it('pause stops its threads grabbing; resume lets the queued job run', async () => {
    const { supervisor, client } = await start('concurrency: 1');
    expect(String(await client.run('up', 'a'))).toBe('v1:a');
    expect(supervisor.pause('up')).toBe(true);
    let done = false;
    const job = client.run('up', 'b').then((r) => {
      done = true;
      return String(r);
    });
    await new Promise((r) => setTimeout(r, 700));
    expect(done).toBe(false);
    supervisor.resume('up');
    expect(await job).toBe('v1:b');
  });

  it('a reload starts new threads, then the old ones finish their jobs: nothing is lost', async () => {
    const { supervisor, client } = await start('concurrency: 2');
    const inFlight = [client.run('up', 'sleep600'), client.run('up', 'sleep600')];
    await expect.poll(() => supervisor.functions()[0]?.running, { timeout: 3000 }).toBe(2);
    writeHandler('v2');
    await supervisor.reloadHandlers(['up']);
    expect((await Promise.all(inFlight)).map(String)).toEqual(['v1:sleep600', 'v1:sleep600']);
    expect(String(await client.run('up', 'c'))).toBe('v2:c');
    expect(supervisor.functions()[0]?.generation).toBe(2);
  });

  it('shutdown lets running jobs finish within shutdownTimeout', async () => {
    const { supervisor, client } = await start('concurrency: 1');
    const job = client.run('up', 'sleep500');
    await expect.poll(() => supervisor.functions()[0]?.running, { timeout: 3000 }).toBe(1);
    const closed = supervisor.close();
    expect(String(await job)).toBe('v1:sleep500');
    await closed;
  });
});
