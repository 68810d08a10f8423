import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { embeddedPort, spawnGworker } from '../helpers/gworker-process.js';
import { killAll } from '../helpers/peers.js';

const spews = fileURLToPath(new URL('../fixtures/handlers/spews-stderr.js', import.meta.url));

/** A field of /proc/PID/status in MiB (VmRSS: now, VmHWM: the peak so far). */
function procMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

// Issue 10, item 6: handler output is held until the main thread writes it; a handler
// writing 300 MiB to stderr in a loop grew the supervisor by ~600 MB, for good.
describe.runIf(process.platform === 'linux')('gworker start bounds what handler threads write', () => {
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await killAll();
  });

  it('a handler writing 300 MiB to stderr completes, the supervisor grows by under 100 MiB, and says what it dropped', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-spew-'));
    const manifest = path.join(dir, 'gworker.yaml');
    writeFileSync(
      manifest,
      `embeddedServer: 127.0.0.1:0\ncontrol: 127.0.0.1:0\nfunctions:\n  spews: { handler: ${JSON.stringify(spews)}, payload: text }\n`,
    );
    const proc = spawnGworker(['start', '--no-watch', manifest]);
    const port = await embeddedPort(proc);
    const pid = proc.child.pid as number;
    const before = procMiB(pid, 'VmRSS');
    const client = new Client({ servers: [{ host: '127.0.0.1', port }] });
    clients.push(client);

    expect((await client.run('spews', '')).toString()).toBe('done');
    const warning = await proc.waitForLog((l) => l.msg.startsWith('handler output dropped'));
    expect(warning).toMatchObject({ function: 'spews', stream: 'stderr' });
    // At most the cap (1 MiB) and one write got through; the rest was dropped and counted.
    expect(warning.droppedBytes as number).toBeGreaterThanOrEqual(298 * 1024 * 1024);
    const peak = procMiB(pid, 'VmHWM');
    expect(peak - before).toBeLessThan(100);
    // What got through reached the supervisor's stderr, as handler output does.
    expect(proc.stderr().length).toBeGreaterThan(1024 * 1024);
    // And it is counted where operators look: the metric and the status document.
    const control = (await proc.waitForLog((l) => l.msg.startsWith('control API on'))).url as string;
    const metrics = await (await fetch(new URL('metrics', control))).text();
    const counted =
      /^gworker_handler_output_dropped_bytes_total\{function="spews",stream="stderr"\} (\d+)$/m.exec(metrics);
    expect(Number(counted?.[1])).toBe(warning.droppedBytes);
    const status = (await (await fetch(new URL('api/status?queues=0', control))).json()) as {
      functions: Array<{ name: string; outputDroppedBytes: number }>;
    };
    expect(status.functions.find((fn) => fn.name === 'spews')?.outputDroppedBytes).toBe(warning.droppedBytes);
  });
});
