import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type GworkerProcess, spawnGworker } from '../helpers/gworker-process.js';
import { freePort, killAll } from '../helpers/peers.js';

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
