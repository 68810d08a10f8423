import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { HandlerPool, type ProgressSink } from '../../src/supervisor/pool/handler-pool.js';
import { runJob } from '../helpers/pool-run.js';

// The change watcher follows what a handler loaded (issue 10, item 5): its thread
// records the module graph. These check what it records for each way code loads.

const fixtures = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const graph = path.join(fixtures, 'graph');
const pools: HandlerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

function poolFor(
  file: string,
  events: ConstructorParameters<typeof HandlerPool>[3] = {},
  concurrency = 1,
): HandlerPool {
  const config: ModuleFunctionConfig = {
    name: 'graph',
    kind: 'module',
    handler: file,
    export: 'default',
    concurrency,
    payload: 'text',
    exceptions: true,
    jobsPerThread: 1,
  };
  const pool = new HandlerPool(config, 1, undefined, events);
  pools.push(pool);
  return pool;
}

const sink: ProgressSink = { status: () => {}, data: () => {}, warning: () => {} };
const meta = { handle: 'H:test:1', unique: 'u1', functionName: 'graph' };
const dependencies = (files: Iterable<string>) => [...files].filter((f) => f.includes('node_modules'));

describe('the module graph a handler thread records', () => {
  it('holds the ES modules and JSON a handler imported, without node_modules', async () => {
    const pool = poolFor(path.join(graph, 'main.js'));
    await pool.check();
    expect([...pool.modules].sort()).toEqual(
      [
        path.join(graph, 'config.json'),
        path.join(graph, 'lib', 'part.js'),
        path.join(graph, 'main.js'),
      ].sort(),
    );
    expect(dependencies(pool.modules)).toEqual([]);
  });

  it('grows with a module the handler imports on first use, and says so', async () => {
    const told: string[][] = [];
    const pool = poolFor(path.join(graph, 'main.js'), { modules: (files) => told.push([...files]) });
    await pool.check();
    const outcome = await runJob(pool, meta, Buffer.from('x'), sink);
    expect(outcome.ok).toBe(true);
    const late = path.join(graph, 'late.js');
    const deadline = Date.now() + 5_000;
    while (!pool.modules.has(late) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(pool.modules.has(late)).toBe(true);
    expect(told.flat()).toContain(late);
  });

  it('holds the CommonJS files a handler required', async () => {
    const pool = poolFor(path.join(graph, 'legacy.cjs'));
    await pool.check();
    expect(pool.modules).toContain(path.join(graph, 'legacy.cjs'));
    expect(pool.modules).toContain(path.join(graph, 'legacy-dep.cjs'));
  });

  it('holds the TypeScript files tsx compiled, without its query strings', async () => {
    const pool = poolFor(path.join(fixtures, 'upper.ts'));
    await pool.check();
    expect(pool.modules).toContain(path.join(fixtures, 'upper.ts'));
    expect(pool.modules).toContain(path.join(fixtures, 'shout-helper.ts'));
    expect([...pool.modules].filter((f) => f.includes('?'))).toEqual([]);
    expect(dependencies(pool.modules)).toEqual([]);
  });

  it('holds what a failed load had read, so fixing that file can reload it', async () => {
    // Two threads: the one that does not record may fail first.
    const pool = poolFor(path.join(graph, 'broken.js'), {}, 2);
    await expect(pool.check()).rejects.toThrow(/broken-dep\.js fails at import/);
    expect(pool.modules).toContain(path.join(graph, 'broken-dep.js'));
  });
});
