import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { embeddedPort, type GworkerProcess, spawnGworker } from '../helpers/gworker-process.js';
import { killAll } from '../helpers/peers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Issue 10, item 5: a handler that writes a log, data or a database next to itself (or
// next to the manifest) reloaded on every write, once per job, or in an endless loop.
describe('gworker start watches only what handlers loaded', () => {
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await killAll();
  });

  function project(): { dir: string; write: (name: string, text: string) => string } {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-watch-e2e-'));
    mkdirSync(path.join(dir, 'app'));
    const write = (name: string, text: string) => {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      return file;
    };
    return { dir, write };
  }

  const helper = (tag: string) => `export const tag = '${tag}';\n`;
  // Each job writes where the attack's handlers did: beside the manifest, a data folder
  // and an SQLite-like file beside itself.
  const handler = `import { appendFileSync, mkdirSync } from 'node:fs';
import { tag } from './helper.mjs';

const here = new URL('.', import.meta.url);
export default function writes(payload) {
  appendFileSync(new URL('../app.log', here), 'job\\n');
  mkdirSync(new URL('data/', here), { recursive: true });
  appendFileSync(new URL('data/out.log', here), 'job\\n');
  appendFileSync(new URL('x.sqlite', here), 'page');
  return tag + ':' + payload;
}
`;

  const reloads = (proc: GworkerProcess) =>
    proc.logs.filter((l) => l.msg === 'reloaded' || l.msg.includes('reloading'));

  it('runs jobs that write logs and data beside the handler without a reload; a change to an import still reloads', async () => {
    const { dir, write } = project();
    write('app/helper.mjs', helper('v1'));
    write('app/handler.mjs', handler);
    const manifest = write(
      'gworker.yaml',
      'embeddedServer: 127.0.0.1:0\ncontrol: false\nfunctions:\n  writes: { handler: ./app/handler.mjs, payload: text }\n',
    );
    const proc = spawnGworker(['start', manifest]);
    const port = await embeddedPort(proc);
    const client = new Client({ servers: [{ host: '127.0.0.1', port }] });
    clients.push(client);

    for (let i = 0; i < 20; i++) expect((await client.run('writes', String(i))).toString()).toBe(`v1:${i}`);
    writeFileSync(path.join(dir, 'gworker.log'), 'an operator log next to the manifest\n');
    // Longer than the watcher's debounce and a reload, on a loaded machine.
    await sleep(1_500);
    expect(reloads(proc)).toEqual([]);
    expect((await client.run('writes', 'x')).toString()).toBe('v1:x');

    write('app/helper.mjs', helper('v2'));
    const reloaded = await proc.waitForLog((l) => l.msg === 'reloaded');
    expect(reloaded.generation).toBe(2);
    expect((await client.run('writes', 'y')).toString()).toBe('v2:y');
  });
});
