// Issue 16, item 1: each role has its own entry, and heavy parts load on use. A client
// (or a worker, or a handler module importing its types) must not pay for SQLite's native
// addon, piscina, prom-client, yaml or chokidar: tens of ms each. Each case imports one
// entry in a fresh node process and reads back which packages of node_modules it loaded
// (test/fixtures/package/loaded-packages.mjs); packed-install.test.ts does the same on
// the built package as a consumer installs it.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const probe = `${root}test/fixtures/package/loaded-packages.mjs`;
const kHeavy = ['better-sqlite3', 'chokidar', 'piscina', 'prom-client', 'yaml'];

interface Loaded {
  exports: string[];
  packages: string[];
}

/** What importing `file` (a TypeScript source, run through tsx) loads in a fresh process. */
async function loadedBy(file: string): Promise<Loaded> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', probe, `${root}${file}`], {
    cwd: root,
    timeout: 30_000,
  });
  return JSON.parse(stdout) as Loaded;
}

describe('what each entry loads', () => {
  it('gworker (Client, Worker, AdminClient, the handler types) loads none of the heavy packages', async () => {
    const { exports, packages } = await loadedBy('src/index.ts');
    expect(exports).toEqual(expect.arrayContaining(['AdminClient', 'Client', 'PermanentError', 'Worker']));
    expect(packages.filter((name) => kHeavy.includes(name))).toEqual([]);
  }, 40_000);

  it('the client module on its own loads none of them either', async () => {
    const { exports, packages } = await loadedBy('src/client/client.ts');
    expect(exports).toContain('Client');
    expect(packages.filter((name) => kHeavy.includes(name))).toEqual([]);
  }, 40_000);

  it('gworker/server loads SQLite only when a store is opened, and no supervisor part', async () => {
    const { exports, packages } = await loadedBy('src/server/index.ts');
    expect(exports).toEqual(expect.arrayContaining(['GearmanServer', 'openSqliteStore', 'SqliteJobStore']));
    // prom-client comes with ServerMetrics and MetricsEndpoint, which this entry exports.
    expect(packages.filter((name) => kHeavy.includes(name))).toEqual(['prom-client']);
  }, 40_000);

  it('gworker/supervisor loads piscina and yaml, but neither SQLite nor chokidar until they are used', async () => {
    const { exports, packages } = await loadedBy('src/supervisor/index.ts');
    expect(exports).toEqual(expect.arrayContaining(['Supervisor', 'loadManifest']));
    expect(packages.filter((name) => kHeavy.includes(name))).toEqual(['piscina', 'prom-client', 'yaml']);
  }, 40_000);
});
