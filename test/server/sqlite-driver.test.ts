// Issue 16, item 1: better-sqlite3 loads when a SQLite file is opened, not on import
// (src/sqlite-driver.ts); when its native addon is missing or built for another
// Node, opening a store says so, with the store's path and the loader's own error,
// instead of an "I/O error" of the file.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const brokenAddon = `${root}test/fixtures/package/broken-sqlite-addon.cjs`;

let dir = '';
afterEach(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  dir = '';
});

/** Runs `script` (an ES module) where every native addon fails to load, as one built for another Node does; its stdout as JSON. */
async function withBrokenAddon(script: string): Promise<Record<string, string>> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--require', brokenAddon, '--input-type=module', '-e', script],
    { cwd: root, timeout: 30_000 },
  );
  return JSON.parse(stdout) as Record<string, string>;
}

describe('a SQLite file whose driver cannot load', () => {
  it('makes opening a job store throw a JobStoreError with reason driver, naming the store and the cause', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gworker-sqlite-driver-'));
    const file = join(dir, 'jobs.db');
    const err = await withBrokenAddon(`
      const { openSqliteStore } = await import(${JSON.stringify(`${root}src/server/index.ts`)});
      try {
        openSqliteStore(${JSON.stringify(file)});
        console.log('{}');
      } catch (err) {
        const { name, code, reason, path, message } = err;
        console.log(JSON.stringify({ name, code, reason, path, message, cause: err.cause?.code }));
      }`);
    expect(err).toMatchObject({
      name: 'JobStoreError',
      code: 'GEARMAN_ERR_STORE',
      reason: 'driver',
      path: file,
      cause: 'ERR_DLOPEN_FAILED',
    });
    expect(err.message).toMatch(
      new RegExp(`^job store ${file}: cannot open: the SQLite driver better-sqlite3 cannot be loaded; `),
    );
    expect(err.message).toContain('compiled against a different Node.js version');
    // Refused before the file was touched.
    expect(existsSync(file)).toBe(false);
  }, 40_000);

  it("makes opening the supervisor's failure store say the same", async () => {
    dir = mkdtempSync(join(tmpdir(), 'gworker-sqlite-driver-'));
    const file = join(dir, 'failures.db');
    const err = await withBrokenAddon(`
      const { FailureStore } = await import(${JSON.stringify(`${root}src/supervisor/retry/failure-store.ts`)});
      await FailureStore.open(${JSON.stringify(file)}, 10).then(
        () => console.log('{}'),
        (err) => console.log(JSON.stringify({ code: err.code, message: err.message })),
      );`);
    expect(err.code).toBe('GEARMAN_ERR_STORE');
    expect(err.message).toMatch(
      new RegExp(`^failure store ${file}: cannot open: the SQLite driver better-sqlite3 cannot be loaded; `),
    );
    expect(existsSync(file)).toBe(false);
  }, 40_000);
});
