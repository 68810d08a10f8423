import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { usableCores } from '../../src/supervisor/capacity/usable-cores.js';

const unifiedMount =
  '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n';
const roots: string[] = [];

/** A fake /proc and /sys whose unit has the given cpu.max. */
function rootWithQuota(cpuMax: string): string {
  const root = mkdtempSync(path.join(tmpdir(), 'gworker-cores-'));
  roots.push(root);
  const files: Record<string, string> = {
    'proc/self/cgroup': '0::/system.slice/gworker.service\n',
    'proc/self/mountinfo': unifiedMount,
    'sys/fs/cgroup/system.slice/gworker.service/cpu.max': cpuMax,
  };
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  return root;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('usableCores', () => {
  it('is the CPUs the process may use when the cgroup sets no quota', () => {
    expect(usableCores(rootWithQuota('max 100000\n'))).toBe(availableParallelism());
  });

  it('rounds a fractional quota down, never below one core', () => {
    expect(usableCores(rootWithQuota('50000 100000\n'))).toBe(1);
    expect(usableCores(rootWithQuota('150000 100000\n'))).toBe(Math.min(1, availableParallelism()));
  });

  it('never exceeds the CPUs the process may run on, whatever the quota', () => {
    expect(usableCores(rootWithQuota('6400000 100000\n'))).toBe(availableParallelism());
  });
});
