import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { type GworkerProcess, spawnGworker } from '../helpers/gworker-process.js';
import { describeWithPeers, freePort, killAll } from '../helpers/peers.js';
import { alive } from '../helpers/processes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  await killAll();
});

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-shutdown-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

async function start(manifest: string): Promise<GworkerProcess> {
  const proc = spawnGworker(['start', '--no-watch', manifest]);
  await proc.waitForLog((l) => l.msg === 'gworker started');
  return proc;
}

/** Milliseconds from `since` (performance.now()) until the process exits, and its code. */
async function exitAfter(proc: GworkerProcess, since: number): Promise<{ code: number | null; ms: number }> {
  const code = await proc.exited;
  return { code, ms: performance.now() - since };
}

describe('gworker start: stopping', () => {
  it('exits at once on SIGTERM when its job server is unreachable (issue 11)', async () => {
    // Nothing listens there: every connect is refused, and the supervisor keeps retrying.
    const port = await freePort();
    const dir = project({
      'h.js': "export default () => 'ok';\n",
      'gworker.yaml': `servers: ["127.0.0.1:${port}"]\nconnections: 2\nshutdownTimeout: 5s\ncontrol: false\nfunctions:\n  h: { handler: ./h.js }\n`,
    });
    const proc = await start(path.join(dir, 'gworker.yaml'));
    // Long enough for the retries to back off to seconds.
    await sleep(1500);
    const sent = performance.now();
    proc.child.kill('SIGTERM');
    const { code, ms } = await exitAfter(proc, sent);
    expect(code).toBe(0);
    // It used to linger up to 10 s after "stopped" (a retry timer close() did not know of).
    expect(ms).toBeLessThan(1500);
  });
});

/** Waits up to `ms` for `file` to exist. */
async function appears(file: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear within ${ms} ms`);
    await sleep(20);
  }
}

// Handlers that write `started` next to them once they run, then never finish in time.
const kSpins = `import { writeFileSync } from 'node:fs';
export default (dir) => { writeFileSync(dir + '/started', ''); for (;;) {} };
`;
const kIgnoresSignal = `import { writeFileSync } from 'node:fs';
export default async (dir) => {
  writeFileSync(dir + '/started', '');
  await new Promise((resolve) => setTimeout(resolve, 4000));
  writeFileSync(dir + '/finished', '');
  return 'first run';
};
`;

describeWithPeers(['gearmand'], 'gworker start: shutdownTimeout is the whole budget (issue 10)', () => {
  let gearmand: GearmandHandle;
  let client: Client;
  const kTimeoutMs = 1500;
  // Time to exit after shutdownTimeout on a loaded machine (measured: ~150 ms).
  const kMarginMs = 2500;

  beforeEach(async () => {
    gearmand = await startGearmand();
    client = new Client({ servers: [gearmand.address] });
  });

  afterEach(async () => {
    await client.close();
  });

  function manifestFor(dir: string, fn: string): string {
    const file = path.join(dir, 'gworker.yaml');
    writeFileSync(
      file,
      `servers: ["${gearmand.address}"]\nconnections: 1\nshutdownTimeout: ${kTimeoutMs}ms\ncontrol: false\nfunctions:\n${fn}`,
    );
    return file;
  }

  /** Runs the job on a first gworker, stops it with SIGTERM while the job runs. */
  async function stopWhileRunning(
    handler: string,
  ): Promise<{ dir: string; code: number | null; ms: number; result: Promise<Buffer> }> {
    const dir = project({ 'h.js': handler });
    const proc = await start(manifestFor(dir, '  h: { handler: ./h.js, payload: text }\n'));
    const result = client.run('h', dir, { timeoutMs: 30_000 });
    result.catch(() => {});
    await appears(path.join(dir, 'started'));
    const sent = performance.now();
    proc.child.kill('SIGTERM');
    return { dir, result, ...(await exitAfter(proc, sent)) };
  }

  /** A second box with code that answers at once: the job the first cut short comes here. */
  async function secondBox(): Promise<void> {
    const dir = project({ 'h.js': "export default () => 'second run';\n" });
    await start(manifestFor(dir, '  h: { handler: ./h.js }\n'));
  }

  it('ends a handler stuck in for(;;) at shutdownTimeout and exits 3; the job runs again elsewhere', async () => {
    const { code, ms, result } = await stopWhileRunning(kSpins);
    expect(code).toBe(3);
    expect(ms).toBeGreaterThanOrEqual(kTimeoutMs - 100);
    expect(ms).toBeLessThan(kTimeoutMs + kMarginMs);
    await secondBox();
    expect((await result).toString()).toBe('second run');
  });

  it('ends an async handler that ignores its signal at shutdownTimeout: its result is never sent', async () => {
    const { dir, code, ms, result } = await stopWhileRunning(kIgnoresSignal);
    expect(code).toBe(3);
    expect(ms).toBeLessThan(kTimeoutMs + kMarginMs);
    await secondBox();
    // The client sees one answer, from the box that ran the job again.
    expect((await result).toString()).toBe('second run');
    // The first run would have finished 4 s after it started: its thread was ended first.
    await sleep(Math.max(0, 4500 - kTimeoutMs - ms));
    expect(existsSync(path.join(dir, 'finished'))).toBe(false);
  });

  it('kills the process group of a command that ignores SIGTERM at shutdownTimeout', async () => {
    const dir = project({});
    const script = 'trap "" TERM; sleep 60 & echo $! > started; wait';
    const proc = await start(
      manifestFor(dir, `  c: { command: ${JSON.stringify(['/bin/sh', '-c', script])} }\n`),
    );
    const result = client.run('c', '', { timeoutMs: 30_000 });
    result.catch(() => {});
    await appears(path.join(dir, 'started'));
    await sleep(50);
    const pid = Number(readFileSync(path.join(dir, 'started'), 'utf8'));
    expect(alive(pid)).toBe(true);
    const sent = performance.now();
    proc.child.kill('SIGTERM');
    const { code, ms } = await exitAfter(proc, sent);
    expect(code).toBe(3);
    expect(ms).toBeLessThan(kTimeoutMs + kMarginMs);
    expect(alive(pid)).toBe(false);
  });

  it('exits at once on a second SIGTERM, and kills command groups on the way out', async () => {
    const dir = project({});
    const script = 'trap "" TERM; sleep 60 & echo $! > started; wait';
    const file = path.join(dir, 'gworker.yaml');
    writeFileSync(
      file,
      `servers: ["${gearmand.address}"]\nconnections: 1\nshutdownTimeout: 60s\ncontrol: false\nfunctions:\n  c: { command: ${JSON.stringify(['/bin/sh', '-c', script])} }\n`,
    );
    const proc = await start(file);
    const result = client.run('c', '', { timeoutMs: 30_000 });
    result.catch(() => {});
    await appears(path.join(dir, 'started'));
    await sleep(50);
    const pid = Number(readFileSync(path.join(dir, 'started'), 'utf8'));
    proc.child.kill('SIGTERM');
    await proc.waitForLog((l) => l.msg.startsWith('stopping'));
    const sent = performance.now();
    proc.child.kill('SIGTERM');
    const { code, ms } = await exitAfter(proc, sent);
    expect(code).toBe(143);
    expect(ms).toBeLessThan(1500);
    // The group outlived the supervisor before: detached, nothing ended it.
    const deadline = Date.now() + 2000;
    while (alive(pid) && Date.now() < deadline) await sleep(20);
    expect(alive(pid)).toBe(false);
  });
});
