import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { type GworkerProcess, spawnGworker } from '../helpers/gworker-process.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeWithPeers(['gearmand'], 'gworker start against gearmand: live changes, shutdown, restarts', () => {
  let gearmand: GearmandHandle;
  let dir: string;
  let client: Client;

  beforeEach(async () => {
    gearmand = await startGearmand();
    dir = mkdtempSync(path.join(tmpdir(), 'gworker-live-'));
    client = new Client({ servers: [gearmand.address] });
  });

  afterEach(async () => {
    await client.close();
    await killAll();
  });

  function write(name: string, text: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  function manifest(functions: string): string {
    return write(
      'gworker.yaml',
      // No control API: the default port is everyone's, and a taken one stops start.
      `servers: ["${gearmand.address}"]\nconnections: 1\ncontrol: false\nshutdownTimeout: 10s\nfunctions:\n${functions}`,
    );
  }

  async function start(file: string): Promise<GworkerProcess> {
    const proc = spawnGworker(['start', '--log-level', 'debug', file]);
    await proc.waitForLog((l) => l.msg === 'gworker started');
    return proc;
  }

  const version = (v: string, delayMs = 5) =>
    `export default async () => { await new Promise((r) => setTimeout(r, ${delayMs})); return '${v}'; };\n`;

  // How fast the new code serves is a benchmark (npm run bench -- --only supervisor), not
  // an assertion here: this checks that it does, and that no job fails on the way.
  // With prefetch, each thread also holds a job taken before the swap: it runs there too.
  it.each([
    ['', 2],
    [', prefetch: 1', 4],
  ])(
    'reloads handler code under steady load: no job fails, the new code takes over (h: { concurrency: 2%s })',
    async (extra, oldAfterSwap) => {
      write('h.js', version('v1'));
      await start(manifest(`  h: { handler: ./h.js, concurrency: 2${extra} }\n`));
      const results: string[] = [];
      const failures: unknown[] = [];
      let v2Seen = 0;
      // Runs until a few hundred jobs after the new code first answers, or 15 s at most.
      const deadline = Date.now() + 15_000;
      const load = Array.from({ length: 6 }, async () => {
        while (Date.now() < deadline && results.length < 20_000 && v2Seen < 300) {
          try {
            const result = (await client.run('h', '')).toString();
            results.push(result);
            if (result === 'v2') v2Seen++;
          } catch (err) {
            failures.push(err);
          }
        }
      });
      await sleep(800);
      write('h.js', version('v2'));
      await Promise.all(load);
      expect(failures).toEqual([]);
      expect(results.length).toBeGreaterThan(50);
      expect(v2Seen).toBeGreaterThan(0);
      // Once the new code serves, only jobs already on the old code's threads at the swap
      // (at most concurrency = 2 of them, plus one ready per thread with prefetch) may
      // still answer v1.
      expect(results.slice(results.indexOf('v2')).filter((r) => r === 'v1').length).toBeLessThanOrEqual(
        oldAfterSwap,
      );
    },
  );

  it('keeps the old code serving when the new code does not load, and says why in one line', async () => {
    write('h.js', version('good'));
    const proc = await start(manifest('  h: { handler: ./h.js }\n'));
    write('h.js', 'export default async () => { return ; ;; }}}\n');
    const line = await proc.waitForLog(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('reload rejected'),
    );
    expect(line.msg).toMatch(/h\.js/);
    expect((await client.run('h', '')).toString()).toBe('good');
  });

  it('applies manifest edits live: a new function, a removed one, a new concurrency', async () => {
    write('a.js', version('a'));
    write('b.js', version('b'));
    const file = manifest('  a: { handler: ./a.js }\n');
    const proc = await start(file);
    expect((await client.run('a', '')).toString()).toBe('a');
    writeFileSync(
      file,
      `servers: ["${gearmand.address}"]\nconnections: 1\nfunctions:\n  b: { handler: ./b.js, concurrency: 3 }\n`,
    );
    await proc.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('manifest applied'));
    expect((await client.run('b', '')).toString()).toBe('b');
    const admin = new AdminClient({ server: gearmand.address });
    try {
      const rows = await admin.status();
      expect(rows.find((r) => r.function === 'a')?.availableWorkers ?? 0).toBe(0);
      expect(rows.find((r) => r.function === 'b')?.availableWorkers).toBe(1);
    } finally {
      await admin.close();
    }
    // A broken edit keeps the running configuration.
    writeFileSync(file, 'functions:\n  b: { handler: ./b.js, concurrency: lots }\n');
    await proc.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('manifest change rejected'));
    expect((await client.run('b', '')).toString()).toBe('b');
  });

  it('on SIGTERM finishes running jobs; what it had not started is served after a restart; none fails', async () => {
    write('slow.js', version('done', 300));
    const file = manifest('  slow: { handler: ./slow.js, concurrency: 2 }\n');
    const first = await start(file);
    const jobs = Array.from({ length: 8 }, () => client.run('slow', ''));
    await sleep(150);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const completedBeforeStop = first.logs.filter((l) => l.msg === 'job complete').length;
    expect(completedBeforeStop).toBeGreaterThanOrEqual(2);
    expect(first.logs.some((l) => l.msg === 'job did not complete')).toBe(false);
    await start(file);
    const results = await Promise.all(jobs);
    expect(results.map(String)).toEqual(Array(8).fill('done'));
  });

  it('reconnects after a gearmand restart and serves again', async () => {
    write('h.js', version('alive'));
    const proc = await start(manifest('  h: { handler: ./h.js }\n'));
    expect((await client.run('h', '')).toString()).toBe('alive');
    await gearmand.restart();
    await proc.waitForLog((l) => l.msg === 'connected' && l.reconnect === true);
    const after = new Client({ servers: [gearmand.address] });
    try {
      expect((await after.run('h', '', { timeoutMs: 10_000 })).toString()).toBe('alive');
    } finally {
      await after.close();
    }
  });
});
