import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The cgroup v2 limits this process runs under: memory outside the V8 heap is bounded
 * by nothing else (maxMemoryMb bounds each thread's heap only), so `gworker check` and
 * `gworker status` show them. Each limit is the tightest of the process's cgroup and
 * its ancestors, since every one of them applies.
 */
export interface CgroupLimits {
  /** The process's cgroup, as /proc/self/cgroup names it (`/system.slice/gworker.service`). */
  readonly cgroup: string;
  /** memory.max in bytes (past it the kernel's OOM killer ends a process); null: no limit. */
  readonly memoryMaxBytes: number | null;
  /** memory.high in bytes (past it the kernel reclaims and throttles); null: no limit. */
  readonly memoryHighBytes: number | null;
  /** The CPUs cpu.max allows (quota over period, 1.5 = one and a half); null: no limit. */
  readonly cpus: number | null;
  /** memory.current of the process's own cgroup, in bytes; null when not readable. */
  readonly memoryCurrentBytes: number | null;
}

/**
 * Reads the limits from /proc and /sys under `root` (tests pass a fake tree). Null when
 * the process is in no cgroup v2 hierarchy (cgroup v1 only, or not Linux).
 */
export function readCgroupLimits(root = '/'): CgroupLimits | null {
  const own = ownCgroup(root);
  if (own === null) return null;
  const mount = cgroup2Mount(root);
  const relative = mount.root === '/' ? own : path.posix.relative(mount.root, own);
  if (relative.startsWith('..')) return null;
  let memoryMaxBytes: number | null = null;
  let memoryHighBytes: number | null = null;
  let cpus: number | null = null;
  const top = path.join(root, mount.point);
  // From the process's own cgroup up to the hierarchy's root (which has no limit files).
  for (let dir = path.join(top, relative); ; dir = path.dirname(dir)) {
    memoryMaxBytes = tighter(memoryMaxBytes, bytesLimit(read(dir, 'memory.max')));
    memoryHighBytes = tighter(memoryHighBytes, bytesLimit(read(dir, 'memory.high')));
    cpus = tighter(cpus, cpuLimit(read(dir, 'cpu.max')));
    if (dir === top || path.dirname(dir) === dir) break;
  }
  const current = bytesLimit(read(path.join(top, relative), 'memory.current'));
  return { cgroup: own, memoryMaxBytes, memoryHighBytes, cpus, memoryCurrentBytes: current };
}

/** The v2 entry of /proc/self/cgroup: the line `0::/path`. */
function ownCgroup(root: string): string | null {
  const text = read(path.join(root, 'proc', 'self'), 'cgroup');
  const line = text?.split('\n').find((l) => l.startsWith('0::'));
  return line === undefined ? null : line.slice(3) || '/';
}

/**
 * Where the cgroup2 file system is mounted, from /proc/self/mountinfo: /sys/fs/cgroup
 * on a unified box, /sys/fs/cgroup/unified on a hybrid one. `root` is the part of the
 * hierarchy the mount shows (not / inside some containers).
 */
function cgroup2Mount(root: string): { point: string; root: string } {
  const text = read(path.join(root, 'proc', 'self'), 'mountinfo') ?? '';
  for (const line of text.split('\n')) {
    // ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS
    const [before, after] = line.split(' - ');
    if (after?.split(' ')[0] !== 'cgroup2') continue;
    const fields = (before ?? '').split(' ');
    if (fields[3] !== undefined && fields[4] !== undefined) return { point: fields[4], root: fields[3] };
  }
  return { point: '/sys/fs/cgroup', root: '/' };
}

function read(dir: string, file: string): string | null {
  try {
    return readFileSync(path.join(dir, file), 'utf8').trim();
  } catch {
    return null;
  }
}

/** `max` or a count of bytes; null for no limit (or no file). */
function bytesLimit(text: string | null): number | null {
  if (text === null || text === 'max' || !/^\d+$/.test(text)) return null;
  return Number(text);
}

/** `QUOTA PERIOD` in microseconds, or `max PERIOD`: the CPUs it allows, or null. */
function cpuLimit(text: string | null): number | null {
  const [quota, period = '100000'] = text?.split(/\s+/) ?? [];
  if (quota === undefined || !/^\d+$/.test(quota) || !/^\d+$/.test(period) || Number(period) === 0)
    return null;
  return Number(quota) / Number(period);
}

function tighter(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}
