import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll, spawnTracked } from '../helpers/peers.js';
import { waitForWorkers } from './peer-workers.js';

describeWithPeers(['gearmand', 'gearman'], "Client with a 'gearman -w' command worker", () => {
  let gearmand: GearmandHandle;
  let dir: string;
  let client: Client;

  beforeAll(async () => {
    gearmand = await startGearmand();
    dir = mkdtempSync(path.join(tmpdir(), 'gworker-ls-'));
    writeFileSync(path.join(dir, 'alpha.txt'), 'a'.repeat(1500));
    writeFileSync(path.join(dir, 'beta.bin'), Buffer.alloc(3 * 1024 * 1024));
    // The seed's demo worker: every job runs `ls -lh` in this directory.
    spawnTracked('gearman', ['-p', String(gearmand.port), '-w', '-f', 'ls', '--', 'ls', '-lh'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    spawnTracked('gearman', ['-p', String(gearmand.port), '-w', '-f', 'rev', '--', 'rev'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    await waitForWorkers(gearmand.port, 'ls', 1);
    await waitForWorkers(gearmand.port, 'rev', 1);
    client = new Client({ servers: [gearmand.address] });
  });
  afterAll(async () => {
    await client?.close();
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets what ls -lh prints in the worker directory', async () => {
    const result = (await client.run('ls', '')).toString();
    expect(result).toBe(execFileSync('ls', ['-lh'], { cwd: dir }).toString());
    expect(result).toContain('alpha.txt');
    expect(result).toMatch(/3\.0M .* beta\.bin/);
  });

  it('passes the payload on the command standard input', async () => {
    expect((await client.run('rev', 'hello world\n')).toString()).toBe('dlrow olleh\n');
  });
});
