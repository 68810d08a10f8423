import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, GearmanError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import type { ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { HandlerPool, type ProgressSink } from '../../src/supervisor/pool/handler-pool.js';
import { checkHandlersTogether } from '../../src/supervisor/pool/shared-check.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { runJob } from '../helpers/pool-run.js';

// Issue 15: at start, one thread loads every handler that starts no thread of its own,
// and says per handler what it loaded (the change watcher follows exactly that).

const fixtures = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const graph = path.join(fixtures, 'graph');

function config(
  name: string,
  handler: string,
  more: Partial<ModuleFunctionConfig> = {},
): ModuleFunctionConfig {
  return {
    name,
    kind: 'module',
    handler,
    export: 'default',
    concurrency: 2,
    payload: 'text',
    exceptions: true,
    jobsPerThread: 1,
    ...more,
  };
}

const sorted = (files: Iterable<string>) => [...files].sort();

describe('the shared start-up check', () => {
  it("gives each handler the files it loaded, a file two of them import to both, and each failure's reason", async () => {
    const checked = await checkHandlersTogether(
      [
        config('main', path.join(graph, 'main.js')),
        config('also', path.join(graph, 'also-part.js')),
        config('legacy', path.join(graph, 'legacy.cjs')),
        config('upper', path.join(fixtures, 'upper.ts')),
        config('broken', path.join(graph, 'broken.js')),
        config('noExport', path.join(fixtures, 'no-default.js')),
      ],
      silentLogger,
    );
    expect(sorted(checked.get('main')?.files ?? [])).toEqual(
      sorted([
        path.join(graph, 'config.json'),
        path.join(graph, 'lib', 'part.js'),
        path.join(graph, 'main.js'),
      ]),
    );
    expect(sorted(checked.get('also')?.files ?? [])).toEqual(
      sorted([path.join(graph, 'also-part.js'), path.join(graph, 'lib', 'part.js')]),
    );
    expect(sorted(checked.get('legacy')?.files ?? [])).toEqual(
      sorted([path.join(graph, 'legacy.cjs'), path.join(graph, 'legacy-dep.cjs')]),
    );
    expect(checked.get('upper')?.files).toContain(path.join(fixtures, 'shout-helper.ts'));
    for (const name of ['main', 'also', 'legacy', 'upper']) expect(checked.get(name)?.error).toBeNull();
    expect(checked.get('broken')?.error?.message).toBe('broken-dep.js fails at import');
    expect(checked.get('broken')?.files).toContain(path.join(graph, 'broken-dep.js'));
    expect(checked.get('noExport')?.error?.message).toMatch(/no function export "default"/);
  });

  it('leaves out functions that start threads or processes of their own, and all when its thread dies', async () => {
    const echo = path.join(fixtures, 'echo.js');
    const own = await checkHandlersTogether(
      [
        config('a', echo),
        config('b', echo),
        config('min', echo, { minThreads: 1 }),
        config('proc', echo, { isolation: 'process' }),
        config('mem', echo, { maxMemoryMb: 64 }),
      ],
      silentLogger,
    );
    expect([...own.keys()].sort()).toEqual(['a', 'b']);
    // process.exit() at import ends the shared thread: every function checks alone then.
    const died = await checkHandlersTogether(
      [config('a', echo), config('exits', path.join(fixtures, 'exits-at-import.js'))],
      silentLogger,
    );
    expect(died.size).toBe(0);
  });

  it('starts no thread for a checked pool; the first job starts one, which records late imports', async () => {
    const main = config('main', path.join(graph, 'main.js'));
    const checked = (
      await checkHandlersTogether([main, config('echo', path.join(fixtures, 'echo.js'))], silentLogger)
    ).get('main');
    const pool = new HandlerPool(main, 1, undefined, {}, checked ?? null);
    try {
      await pool.check();
      expect(pool.threadsStarted).toBe(0);
      expect(pool.modules).toContain(path.join(graph, 'lib', 'part.js'));
      const sink: ProgressSink = { status: () => {}, data: () => {}, warning: () => {} };
      const outcome = await runJob(
        pool,
        { handle: 'H:t:1', unique: 'u', functionName: 'main' },
        Buffer.from('x'),
        sink,
      );
      expect(outcome.ok).toBe(true);
      expect(pool.threadsStarted).toBe(1);
      // main.js imports late.js on its first job: the thread started for it records that.
      await expect.poll(() => pool.modules.has(path.join(graph, 'late.js')), { timeout: 5_000 }).toBe(true);
    } finally {
      await pool.destroy();
    }
  });
});

describe('Supervisor start with the shared check', () => {
  let dir: string;
  let supervisor: Supervisor | undefined;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gworker-shared-check-'));
  });
  afterEach(async () => {
    await supervisor?.close({ force: true });
    supervisor = undefined;
  });

  function startWith(functions: string): Promise<void> {
    const file = path.join(dir, 'gworker.yaml');
    // Nothing listens there: the bindings keep trying, which these checks do not need.
    const text = `servers: ["127.0.0.1:1"]\nshutdownTimeout: 5s\nfunctions:\n${functions}`;
    writeFileSync(file, text);
    supervisor = new Supervisor(parseManifest(text, file, { env: {} }));
    return supervisor.start();
  }

  it('starts 6 functions with no handler thread running, each watching its own files', async () => {
    const lines = [0, 1, 2, 3, 4].map((i) => `  echo${i}: { handler: ${path.join(fixtures, 'echo.js')} }`);
    lines.push(`  main: { handler: ${path.join(graph, 'main.js')} }`);
    await startWith(`${lines.join('\n')}\n`);
    expect(supervisor?.functions().map((fn) => fn.threadsStarted)).toEqual([0, 0, 0, 0, 0, 0]);
    const code = new Map(supervisor?.codeFiles().map((fn) => [fn.name, sorted(fn.files)]));
    expect(code.get('echo0')).toEqual([path.join(fixtures, 'echo.js')]);
    expect(code.get('main')).toEqual(
      sorted([
        path.join(graph, 'config.json'),
        path.join(graph, 'lib', 'part.js'),
        path.join(graph, 'main.js'),
      ]),
    );
  });

  it('fails with HANDLER_LOAD naming the handler that cannot load, from the shared check or alone', async () => {
    const echo = path.join(fixtures, 'echo.js');
    const broken = startWith(
      `  a: { handler: ${echo} }\n  b: { handler: ${path.join(graph, 'broken.js')} }\n`,
    );
    await expect(broken).rejects.toBeInstanceOf(GearmanError);
    await expect(broken).rejects.toMatchObject({
      code: ErrorCode.HANDLER_LOAD,
      message: expect.stringMatching(/cannot load .*broken\.js: broken-dep\.js fails at import$/),
    });
    supervisor = undefined;
    const exits = startWith(
      `  a: { handler: ${echo} }\n  x: { handler: ${path.join(fixtures, 'exits-at-import.js')} }\n`,
    );
    await expect(exits).rejects.toMatchObject({
      code: ErrorCode.HANDLER_LOAD,
      message: expect.stringContaining('exits-at-import.js'),
    });
    supervisor = undefined;
  });
});
