import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { Worker } from '../../src/worker/worker.js';
import { killAll, spawnTracked } from '../helpers/peers.js';
import { runCliCaptured } from '../helpers/run-cli.js';
import { waitForLine } from './helpers/conformance.js';
import { closeAllRawClients, RawClient } from './helpers/raw-client.js';

const bin = fileURLToPath(new URL('../../bin/gworker.js', import.meta.url));

/** Runs `gworker ...` in-process with captured stdout and stderr. */
const run = (...argv: string[]) => runCliCaptured(argv);

async function startCli(...args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnTracked(
    process.execPath,
    [bin, 'server', '--port', '0', '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const line = await waitForLine(child, /^gworker server listening on /, 20_000);
  return { child, port: Number(/:(\d+)$/.exec(line)?.[1]) };
}

let dir = '';
const peers: Array<Client | Worker> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gworker-cli-store-'));
});

afterEach(async () => {
  closeAllRawClients();
  await Promise.all(peers.splice(0).map((peer) => peer.close()));
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('gworker server --store', () => {
  it('lists the store and cache flags in its help', async () => {
    const { code, stdout } = await run('server', '--help');
    expect(code).toBe(0);
    for (const flag of ['--store', '--store-sync', '--result-cache', '--result-cache-function']) {
      expect(stdout).toContain(flag);
    }
  });

  it('refuses bad store and cache flags with exit status 2', async () => {
    for (const argv of [
      ['--store-sync', 'off', '--store', join(dir, 'x.db')],
      ['--store-sync', 'full'],
      ['--store', ''],
      ['--result-cache', '30'],
      ['--result-cache', 'soon'],
      ['--result-cache-function', 'resize'],
      ['--result-cache-function', '=5m'],
      ['--result-cache-max-entries', '0'],
      ['--result-cache-max-bytes', '12 parsecs'],
    ]) {
      const { code, stderr } = await run('server', ...argv);
      expect({ argv, code }).toEqual({ argv, code: 2 });
      // One line naming the flag, then where to read more.
      expect(stderr).toMatch(/^gworker server: --[a-z-]+[: ][^\n]*\nRun 'gworker server --help'\.\n$/);
    }
  });

  it('exits 1 with one line when the store file is not a database', async () => {
    const path = join(dir, 'garbage.db');
    writeFileSync(path, 'definitely not sqlite, '.repeat(100));
    const { code, stdout, stderr } = await run('server', '--port', '0', '--store', path);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(
      /^gworker server: job store .*garbage\.db: cannot open: not a job store, or damaged/,
    );
  });

  it('exits 1 with one line when the store cannot be created', async () => {
    const { code, stderr } = await run('server', '--port', '0', '--store', join(dir, 'no', 'such', 'x.db'));
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('cannot be created or written');
  });

  it('exits 1 with one line when another server holds the store', async () => {
    const path = join(dir, 'held.db');
    await startCli('--store', path);
    const { code, stderr } = await run('server', '--port', '0', '--store', path);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('locked by another process');
  });

  it('serves the result cache set by its flags', async () => {
    const { port } = await startCli(
      '--result-cache',
      '5m',
      '--result-cache-function',
      'fresh=0',
      '--result-cache-max-bytes',
      '1MiB',
    );
    const calls: string[] = [];
    const worker = new Worker({ servers: [`127.0.0.1:${port}`] });
    peers.push(worker);
    for (const fn of ['cached', 'fresh']) {
      worker.register(fn, () => {
        calls.push(fn);
        return `${fn} ${calls.length}`;
      });
    }
    await worker.start();
    const client = new Client({ servers: [`127.0.0.1:${port}`] });
    peers.push(client);
    for (let i = 0; i < 2; i++) {
      expect((await client.run('cached', '', { unique: 'k' })).toString()).toBe('cached 1');
      await client.run('fresh', '', { unique: 'k' });
    }
    expect(calls).toEqual(['cached', 'fresh', 'fresh']);
    const admin = await RawClient.connect(port);
    const [line, ...rest] = await admin.admin('show cache', 'list');
    expect(rest).toEqual([]);
    expect(line?.split('\t').slice(0, 3)).toEqual(['cached', 'k', '8']);
  });
});
