import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCgroupLimits } from '../../src/supervisor/cgroup-limits.js';

const GiB = 1024 ** 3;
const unifiedMount =
  '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n';

/** A fake root: files given as { 'proc/self/cgroup': '...', 'sys/fs/cgroup/x/memory.max': '...' }. */
function fakeRoot(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'gworker-cgroup-'));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  return root;
}

describe('readCgroupLimits', () => {
  it('reads memory.max, memory.high, cpu.max and memory.current of a systemd unit', () => {
    const unit = 'sys/fs/cgroup/system.slice/gworker.service';
    const root = fakeRoot({
      'proc/self/cgroup': '0::/system.slice/gworker.service\n',
      'proc/self/mountinfo': unifiedMount,
      [`${unit}/memory.max`]: `${2 * GiB}\n`,
      [`${unit}/memory.high`]: `${1.5 * GiB}\n`,
      [`${unit}/cpu.max`]: '150000 100000\n',
      [`${unit}/memory.current`]: '157286400\n',
    });
    expect(readCgroupLimits(root)).toEqual({
      cgroup: '/system.slice/gworker.service',
      memoryMaxBytes: 2 * GiB,
      memoryHighBytes: 1.5 * GiB,
      cpus: 1.5,
      memoryCurrentBytes: 157286400,
    });
  });

  it('takes the tightest limit of the cgroup and its ancestors', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '0::/system.slice/gworker.service\n',
      'proc/self/mountinfo': unifiedMount,
      'sys/fs/cgroup/system.slice/gworker.service/memory.max': 'max\n',
      'sys/fs/cgroup/system.slice/gworker.service/cpu.max': 'max 100000\n',
      'sys/fs/cgroup/system.slice/memory.max': `${GiB}\n`,
      'sys/fs/cgroup/system.slice/cpu.max': '400000 100000\n',
    });
    expect(readCgroupLimits(root)).toMatchObject({ memoryMaxBytes: GiB, memoryHighBytes: null, cpus: 4 });
  });

  it('reports a cgroup with no limits as such', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '0::/user.slice/user-1000.slice/session-2.scope\n',
      'proc/self/mountinfo': unifiedMount,
      'sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/memory.max': 'max\n',
      'sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/memory.high': 'max\n',
    });
    expect(readCgroupLimits(root)).toEqual({
      cgroup: '/user.slice/user-1000.slice/session-2.scope',
      memoryMaxBytes: null,
      memoryHighBytes: null,
      cpus: null,
      memoryCurrentBytes: null,
    });
  });

  it('finds the v2 hierarchy of a hybrid box under /sys/fs/cgroup/unified', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '4:memory:/process_api/abc\n1:cpu:/\n0::/workers\n',
      'proc/self/mountinfo':
        '25 23 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n',
      'sys/fs/cgroup/unified/workers/memory.max': `${512 * 1024 * 1024}\n`,
    });
    expect(readCgroupLimits(root)).toMatchObject({ cgroup: '/workers', memoryMaxBytes: 512 * 1024 * 1024 });
  });

  it('reads the limits of a container, whose own cgroup is the root of what it sees', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '0::/\n',
      'proc/self/mountinfo': '700 650 0:30 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw\n',
      'sys/fs/cgroup/memory.max': `${4 * GiB}\n`,
      'sys/fs/cgroup/cpu.max': '200000 100000\n',
    });
    expect(readCgroupLimits(root)).toMatchObject({ cgroup: '/', memoryMaxBytes: 4 * GiB, cpus: 2 });
  });

  it('is null on a cgroup v1 box, and without /proc at all', () => {
    expect(readCgroupLimits(fakeRoot({ 'proc/self/cgroup': '4:memory:/x\n1:cpu:/\n' }))).toBeNull();
    expect(readCgroupLimits(fakeRoot({}))).toBeNull();
  });
});
