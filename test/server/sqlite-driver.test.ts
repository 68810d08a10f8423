// Issue 16, item 1: better-sqlite3 loads when a store is opened, not with gworker/server;
// when its native addon is missing or built for another Node, opening a store says so,
// with the store's path and the loader's own error, instead of an "I/O error" of the file.
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

describe('a job store whose SQLite driver cannot load', () => {
  it('throws a JobStoreError with reason driver, naming the store and the cause', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gworker-sqlite-driver-'));
    const file = join(dir, 'jobs.db');
    const script = `
      const { openSqliteStore } = await import(${JSON.stringify(`${root}src/server/index.ts`)});
      try {
        openSqliteStore(${JSON.stringify(file)});
        console.log('{}');
      } catch (err) {
        const { name, code, reason, path, message } = err;
        console.log(JSON.stringify({ name, code, reason, path, message, cause: err.cause?.code }));
      }`;
    // Every native addon fails to load in this process, as one built for another Node does.
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--require', brokenAddon, '--input-type=module', '-e', script],
      { cwd: root, timeout: 30_000 },
    );
    const err = JSON.parse(stdout) as Record<string, string>;
    expect(err).toMatchObject({
      name: 'JobStoreError',
      code: 'GEARMAN_ERR_STORE',
      reason: 'driver',
      path: file,
      cause: 'ERR_DLOPEN_FAILED',
    });
    expect(err.message).toContain(file);
    expect(err.message).toContain('better-sqlite3');
    expect(err.message).toContain('compiled against a different Node.js version');
    // Refused before the file was touched.
    expect(existsSync(file)).toBe(false);
  }, 40_000);
});
