import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChangeWatcher, type WatchedFunction } from '../../src/supervisor/reload/change-watcher.js';
import { codeFilesOf } from '../../src/supervisor/reload/code-files.js';

const watchers: ChangeWatcher[] = [];
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-watch-'));
  mkdirSync(path.join(dir, 'a', 'data'), { recursive: true });
  mkdirSync(path.join(dir, 'b'));
  const files = {
    manifest: path.join(dir, 'gworker.yaml'),
    one: path.join(dir, 'a', 'one.js'),
    two: path.join(dir, 'a', 'two.js'),
    helper: path.join(dir, 'a', 'helper.js'),
    unused: path.join(dir, 'a', 'unused.js'),
    three: path.join(dir, 'b', 'three.js'),
    late: path.join(dir, 'b', 'late.js'),
  };
  for (const file of Object.values(files)) writeFileSync(file, '// v1\n');
  const watcher = new ChangeWatcher({ manifest: files.manifest, debounceMs: 100 });
  watchers.push(watcher);
  // As the handlers' threads recorded them: one and two share a helper.
  const functions: WatchedFunction[] = [
    { name: 'one', handler: files.one, files: [files.one, files.helper] },
    { name: 'two', handler: files.two, files: [files.two, files.helper] },
    { name: 'three', handler: files.three, files: [files.three] },
  ];
  return { dir, files, watcher, functions };
}

/** Every event the watcher reports, as `handlers:a,b` or `manifest`. */
function record(watcher: ChangeWatcher): string[] {
  const seen: string[] = [];
  watcher.on('handlers', (names) => seen.push(`handlers:${[...names].sort().join(',')}`));
  watcher.on('manifest', () => seen.push('manifest'));
  return seen;
}

/** Waits until `seen` has `count` events, or `ms` have passed (a bounded wait for none). */
async function settle(seen: string[], count: number, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (seen.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
}

describe('ChangeWatcher', () => {
  it('reports one reload for a burst of writes to a handler file', async () => {
    const { files, watcher, functions } = setup();
    await watcher.watch(functions);
    const seen = record(watcher);
    for (let i = 0; i < 5; i++) writeFileSync(files.one, `// v${i + 2}\n`);
    await settle(seen, 2, 800);
    expect(seen).toEqual(['handlers:one']);
  });

  it('reloads every function that loaded a changed file, and only those', async () => {
    const { files, watcher, functions } = setup();
    await watcher.watch(functions);
    const seen = record(watcher);
    writeFileSync(files.helper, '// changed\n');
    await settle(seen, 1);
    expect(seen).toEqual(['handlers:one,two']);
  });

  it('reports manifest changes apart from handler changes', async () => {
    const { files, watcher, functions } = setup();
    await watcher.watch(functions);
    const seen = record(watcher);
    writeFileSync(files.manifest, 'functions: {}\n');
    await settle(seen, 1);
    expect(seen).toEqual(['manifest']);
  });

  it('reloads nothing for logs, data and databases written next to handlers and the manifest', async () => {
    const { dir, files, watcher, functions } = setup();
    await watcher.watch(functions);
    const seen = record(watcher);
    const writes = [
      path.join(dir, 'app.log'),
      path.join(dir, 'a', 'app.log'),
      path.join(dir, 'a', 'data', 'out.log'),
      path.join(dir, 'a', 'x.sqlite'),
      path.join(dir, 'a', 'x.sqlite-wal'),
      path.join(dir, 'b', 'data.json'),
    ];
    for (let round = 0; round < 3; round++) {
      for (const file of writes) writeFileSync(file, `line ${round}\n`, { flag: 'a' });
      // A module in the folder that no handler loaded is not their code either.
      writeFileSync(files.unused, `// v${round}\n`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await settle(seen, 1, 1_000);
    expect(seen).toEqual([]);
    // And the watch is alive: a handler file still reloads.
    writeFileSync(files.three, '// changed\n');
    await settle(seen, 1);
    expect(seen).toEqual(['handlers:three']);
  });

  it('follows a file replaced by rename, as editors save, more than once', async () => {
    const { files, watcher, functions } = setup();
    await watcher.watch(functions);
    const seen = record(watcher);
    for (let i = 1; i <= 2; i++) {
      const temp = `${files.helper}.${i}.tmp`;
      writeFileSync(temp, `// saved ${i}\n`);
      renameSync(temp, files.helper);
      await settle(seen, i);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(seen).toEqual(['handlers:one,two', 'handlers:one,two']);
  });

  it('re-targets when a function loads new files or drops old ones', async () => {
    const { files, watcher, functions } = setup();
    await watcher.watch(functions);
    const seen = record(watcher);
    // three now imports late.js (on first use, or after a reload), one no longer loads helper.
    await watcher.watch([
      { name: 'one', handler: files.one, files: [files.one] },
      functions[1] as WatchedFunction,
      { name: 'three', handler: files.three, files: [files.three, files.late] },
    ]);
    // chokidar's add() has no promise: give it a moment to set the new watch up.
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(files.late, '// changed\n');
    await settle(seen, 1);
    writeFileSync(files.helper, '// changed\n');
    await settle(seen, 2);
    expect(seen).toEqual(['handlers:three', 'handlers:two']);
  });
});

describe('codeFilesOf', () => {
  it('keeps the handler, its loaded files and its package.json; never node_modules or dot folders', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-code-'));
    mkdirSync(path.join(dir, 'app', 'lib'), { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    const handler = path.join(dir, 'app', 'handler.js');
    const shared = path.join(dir, 'shared', 'util.js');
    const files = codeFilesOf(handler, [
      handler,
      path.join(dir, 'app', 'lib', 'part.js'),
      shared,
      path.join(dir, 'app', 'node_modules', 'dep', 'index.js'),
      path.join(dir, 'app', '.cache', 'compiled.js'),
    ]);
    expect(files.sort()).toEqual(
      [handler, path.join(dir, 'app', 'lib', 'part.js'), shared, path.join(dir, 'package.json')].sort(),
    );
  });

  it('watches a handler that itself lives under a dot folder (~/.config/...)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-code-'));
    const handler = path.join(dir, '.config', 'gworker', 'handler.js');
    const helper = path.join(dir, '.config', 'gworker', 'helper.js');
    expect(codeFilesOf(handler, [handler, helper])).toEqual(expect.arrayContaining([handler, helper]));
  });
});
