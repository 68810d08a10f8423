import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Client } from '../../../src/client/client.js';
import { GearmanServer } from '../../../src/server/server.js';
import { parseManifest } from '../../../src/supervisor/manifest/load.js';
import { ChangeWatcher } from '../../../src/supervisor/reload/change-watcher.js';
import { Supervisor } from '../../../src/supervisor/supervisor.js';

const kHandler = `
import { WORD } from './helper.mjs';
export default async function (text) {
  if (text === 'late') return (await import('./late.mjs')).LATE;
  return WORD + ':' + text;
}
`;

interface Running {
  readonly supervisor: Supervisor;
  readonly watcher: ChangeWatcher;
  readonly client: Client;
  readonly server: GearmanServer;
}

let running: Running | undefined;

afterEach(async () => {
  await running?.watcher.close();
  await running?.client.close();
  await running?.supervisor.close({ force: true });
  await running?.server.close();
  running = undefined;
});

/** A supervisor on the embedded server, its change watcher wired as `gworker start` wires it. */
async function start(dir: string): Promise<Running> {
  const server = new GearmanServer({ host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  const file = path.join(dir, 'gworker.yaml');
  const text = `servers: ["127.0.0.1:${port}"]\nshutdownTimeout: 2s\nfunctions:\n  up: { handler: ./up.mjs, payload: text, dispatch: thread, concurrency: 2 }\n`;
  writeFileSync(file, text);
  const supervisor = new Supervisor(parseManifest(text, file, { env: {} }), { regrabIntervalMs: 300 });
  await supervisor.start();
  const watcher = new ChangeWatcher({ debounceMs: 50 });
  watcher.on('handlers', (names) => void supervisor.reloadHandlers(names));
  supervisor.on('codeFiles', () => void watcher.watch(supervisor.codeFiles()));
  await watcher.watch(supervisor.codeFiles());
  const client = new Client({ servers: [`127.0.0.1:${port}`] });
  running = { supervisor, watcher, client, server };
  return running;
}

function folder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-direct-code-'));
  writeFileSync(path.join(dir, 'up.mjs'), kHandler);
  writeFileSync(path.join(dir, 'helper.mjs'), `export const WORD = 'one';\n`);
  writeFileSync(path.join(dir, 'late.mjs'), `export const LATE = 'late one';\n`);
  return dir;
}

function filesOf(supervisor: Supervisor): readonly string[] {
  return supervisor.codeFiles().find((fn) => fn.name === 'up')?.files ?? [];
}

it('follows what the handler imports: editing an imported module reloads the function', async () => {
  const dir = folder();
  const { supervisor, client } = await start(dir);
  expect(filesOf(supervisor)).toEqual(
    expect.arrayContaining([path.join(dir, 'up.mjs'), path.join(dir, 'helper.mjs')]),
  );
  expect(String(await client.run('up', 'x'))).toBe('one:x');
  writeFileSync(path.join(dir, 'helper.mjs'), `export const WORD = 'two';\n`);
  await expect.poll(async () => String(await client.run('up', 'x')), { timeout: 10_000 }).toBe('two:x');
  expect(supervisor.functions()[0]?.generation).toBe(2);
});

it('follows a module the handler imports on first use, once it has', async () => {
  const dir = folder();
  const { supervisor, client } = await start(dir);
  expect(filesOf(supervisor)).not.toContain(path.join(dir, 'late.mjs'));
  // Either thread may run it; only the first thread records imports, so ask until it has.
  await expect
    .poll(
      async () => {
        await client.run('up', 'late');
        return filesOf(supervisor);
      },
      { timeout: 10_000 },
    )
    .toContain(path.join(dir, 'late.mjs'));
  // chokidar takes a moment to watch a file added to a running watch, and says nothing
  // when it has: an edit in that moment goes unseen (on a loaded machine, in CI). So the
  // edit is saved again until it reloads, as an operator would; without the late import
  // followed, none of the saves would.
  const edit = () => writeFileSync(path.join(dir, 'late.mjs'), `export const LATE = 'late two';\n`);
  edit();
  await expect
    .poll(
      async () => {
        const answer = String(await client.run('up', 'late'));
        if (answer !== 'late two') edit();
        return answer;
      },
      { timeout: 10_000, interval: 500 },
    )
    .toBe('late two');
});

it('a broken import is rejected (the old code serves), still followed, and its fix reloads', async () => {
  const dir = folder();
  const { supervisor, client } = await start(dir);
  writeFileSync(path.join(dir, 'helper.mjs'), `export const WORD = ;\n`);
  await expect.poll(() => supervisor.functions()[0]?.lastReload?.ok, { timeout: 10_000 }).toBe(false);
  expect(String(await client.run('up', 'x'))).toBe('one:x');
  expect(filesOf(supervisor)).toContain(path.join(dir, 'helper.mjs'));
  writeFileSync(path.join(dir, 'helper.mjs'), `export const WORD = 'fixed';\n`);
  await expect.poll(async () => String(await client.run('up', 'x')), { timeout: 10_000 }).toBe('fixed:x');
});
