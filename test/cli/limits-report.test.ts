import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeCgroupLimits, heapBudgetWarning } from '../../src/cli/limits-report.js';
import type { CgroupLimits } from '../../src/supervisor/cgroup-limits.js';
import { loadManifest } from '../../src/supervisor/manifest/load.js';
import { runCliCaptured } from '../helpers/run-cli.js';
import { type Controlled, startControlled } from '../supervisor/control-fixture.js';

const MiB = 1024 * 1024;
const limits = (memoryMaxBytes: number | null): CgroupLimits => ({
  cgroup: '/system.slice/gworker.service',
  memoryMaxBytes,
  memoryHighBytes: null,
  cpus: 2,
  memoryCurrentBytes: 200 * MiB,
});

async function manifest(functions: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-limits-'));
  writeFileSync(path.join(dir, 'h.js'), 'export default (p) => p;\n');
  const file = path.join(dir, 'gworker.yaml');
  writeFileSync(file, `functions:\n${functions}`);
  return { file, manifest: await loadManifest(file) };
}

describe('the cgroup limits gworker check and status report', () => {
  it('describes the limits in one line', () => {
    expect(describeCgroupLimits({ ...limits(2048 * MiB), memoryHighBytes: 1536 * MiB })).toBe(
      'cgroup /system.slice/gworker.service: memory.max 2 GiB, memory.high 1.5 GiB, cpu.max 2 CPU(s), using 200 MiB',
    );
    expect(describeCgroupLimits({ ...limits(null), cpus: null })).toBe(
      'cgroup /system.slice/gworker.service: no memory.max, memory.high or cpu.max limit',
    );
    expect(describeCgroupLimits(null)).toMatch(/^cgroup: no cgroup v2 limits found/);
  });

  it('warns when threads × maxMemoryMb outgrows memory.max, counting Node default heaps for the rest', async () => {
    const { manifest: m } = await manifest(
      '  a: { handler: ./h.js, concurrency: 4, maxMemoryMb: 256 }\n' +
        '  b: { handler: ./h.js, concurrency: 8, jobsPerThread: 4 }\n' +
        '  c: { command: [cat], concurrency: 50 }\n',
    );
    // a: 4 threads × 256 = 1024; b: 2 threads × the default (1000 here) = 2000; c runs no threads.
    const warning = heapBudgetWarning(m, limits(2048 * MiB), 1000);
    expect(warning).toContain('may reach 3024 MB');
    expect(warning).toContain('a 4 × 256, b 2 × 1000 (default)');
    expect(warning).toContain('memory.max of 2048 MB');
    expect(heapBudgetWarning(m, limits(4096 * MiB), 1000)).toBeNull();
    expect(heapBudgetWarning(m, limits(null), 1000)).toBeNull();
    expect(heapBudgetWarning(m, null, 1000)).toBeNull();
  });

  it('gworker check prints the box cgroup limits after the configuration, and in --json', async () => {
    const { file } = await manifest('  echo: { handler: ./h.js, maxMemoryMb: 64 }\n');
    const text = await runCliCaptured(['check', file]);
    expect(text.code).toBe(0);
    // What this box has (none, or some): the same line the reader's description gives.
    expect(text.stdout).toMatch(/^cgroup[ :].*$/m);
    const json = JSON.parse((await runCliCaptured(['check', '--json', file])).stdout);
    expect(json).toHaveProperty('cgroup');
    expect(Array.isArray(json.warnings)).toBe(true);
  });
});

describe('gworker status', () => {
  let setup: Controlled | undefined;
  afterEach(async () => {
    await setup?.close();
    setup = undefined;
  });

  it('shows the cgroup limits below the tables, and in the status document', async () => {
    setup = await startControlled('  echo: { handler: $FIXTURES/echo.js, payload: text }\n');
    const control = ['--control', String((setup.control.address as { port: number }).port)];
    const text = await runCliCaptured(['status', '--no-queues', ...control]);
    expect(text.code).toBe(0);
    const line = text.stdout.split('\n').find((l) => /^cgroup[ :]/.test(l));
    expect(line).toBeDefined();
    const json = JSON.parse((await runCliCaptured(['status', '--json', '--no-queues', ...control])).stdout);
    expect(json).toHaveProperty('cgroup');
    expect(describeCgroupLimits(json.cgroup)).toBe(line);
  });
});
