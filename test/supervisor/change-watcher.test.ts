import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChangeWatcher } from '../../src/supervisor/reload/change-watcher.js';

const watchers: ChangeWatcher[] = [];
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-watch-'));
  mkdirSync(path.join(dir, 'a'));
  mkdirSync(path.join(dir, 'b'));
  const files = {
    manifest: path.join(dir, 'gworker.yaml'),
    one: path.join(dir, 'a', 'one.js'),
    two: path.join(dir, 'a', 'two.js'),
    helper: path.join(dir, 'a', 'helper.js'),
    three: path.join(dir, 'b', 'three.js'),
  };
  for (const file of Object.values(files)) writeFileSync(file, '// v1\n');
  const watcher = new ChangeWatcher({ manifest: files.manifest, debounceMs: 100 });
  watchers.push(watcher);
  const functions = [
    { name: 'one', handler: files.one },
    { name: 'two', handler: files.two },
    { name: 'three', handler: files.three },
  ];
  return { files, watcher, functions };
}

function next<T>(watcher: ChangeWatcher, event: 'handlers' | 'manifest'): Promise<T> {
  return new Promise((resolve) => watcher.once(event, (...args: unknown[]) => resolve(args[0] as T)));
}

describe('ChangeWatcher', () => {
  it('reports one reload for a burst of writes to a handler file', async () => {
    const { files, watcher, functions } = setup();
    await watcher.watch(functions);
    const seen: string[][] = [];
    watcher.on('handlers', (names) => seen.push(names));
    for (let i = 0; i < 5; i++) writeFileSync(files.one, `// v${i + 2}\n`);
    await new Promise((r) => setTimeout(r, 600));
    expect(seen).toEqual([['one']]);
  });

  it('reloads every function of a folder when a file they may import changes', async () => {
    const { files, watcher, functions } = setup();
    await watcher.watch(functions);
    const changed = next<string[]>(watcher, 'handlers');
    writeFileSync(files.helper, '// changed\n');
    expect((await changed).sort()).toEqual(['one', 'two']);
  });

  it('reports manifest changes apart from handler changes', async () => {
    const { files, watcher, functions } = setup();
    await watcher.watch(functions);
    const changed = next<undefined>(watcher, 'manifest');
    writeFileSync(files.manifest, 'functions: {}\n');
    await expect(changed).resolves.toBeUndefined();
  });
});
