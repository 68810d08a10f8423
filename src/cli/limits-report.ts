import v8 from 'node:v8';
import type { CgroupLimits } from '../supervisor/cgroup-limits.js';
import type { Manifest } from '../supervisor/manifest/types.js';
import { threadCount } from '../supervisor/pool/thread-count.js';

const MiB = 1024 * 1024;

/** One line for `gworker check` and `gworker status`: the cgroup limits the box runs under. */
export function describeCgroupLimits(limits: CgroupLimits | null): string {
  if (limits === null) return 'cgroup: no cgroup v2 limits found (nothing bounds memory outside the heaps)';
  const { cgroup, memoryMaxBytes, memoryHighBytes, cpus, memoryCurrentBytes } = limits;
  if (memoryMaxBytes === null && memoryHighBytes === null && cpus === null) {
    return `cgroup ${cgroup}: no memory.max, memory.high or cpu.max limit`;
  }
  const parts = [
    `memory.max ${formatBytes(memoryMaxBytes)}`,
    `memory.high ${formatBytes(memoryHighBytes)}`,
    `cpu.max ${cpus === null ? 'none' : `${Number(cpus.toFixed(2))} CPU(s)`}`,
  ];
  if (memoryCurrentBytes !== null) parts.push(`using ${formatBytes(memoryCurrentBytes)}`);
  return `cgroup ${cgroup}: ${parts.join(', ')}`;
}

/**
 * A warning when the handler threads' heaps alone may outgrow the cgroup's memory.max:
 * threads × maxMemoryMb summed over the module functions (Node's default heap limit for
 * those that set none). Past memory.max the kernel OOM-kills the supervisor, every
 * function with it. Null when it fits, or when there is no limit.
 */
export function heapBudgetWarning(
  manifest: Manifest,
  limits: CgroupLimits | null,
  defaultHeapMb = Math.round(v8.getHeapStatistics().heap_size_limit / MiB),
): string | null {
  const maxBytes = limits?.memoryMaxBytes ?? null;
  if (maxBytes === null) return null;
  let totalMb = 0;
  const terms: string[] = [];
  for (const fn of manifest.functions) {
    if (fn.kind !== 'module') continue;
    const threads = threadCount(fn);
    const heapMb = fn.maxMemoryMb ?? defaultHeapMb;
    totalMb += threads * heapMb;
    terms.push(`${fn.name} ${threads} × ${heapMb}${fn.maxMemoryMb === undefined ? ' (default)' : ''}`);
  }
  if (totalMb * MiB <= maxBytes) return null;
  return (
    `warning: handler threads' heaps may reach ${totalMb} MB (threads × maxMemoryMb: ${terms.join(', ')}), ` +
    `over the cgroup's memory.max of ${Math.floor(maxBytes / MiB)} MB: the kernel would OOM-kill the whole ` +
    'supervisor. Lower concurrency or maxMemoryMb, or raise the limit.'
  );
}

function formatBytes(bytes: number | null): string {
  if (bytes === null) return 'none';
  if (bytes >= 1024 * MiB) return `${Number((bytes / (1024 * MiB)).toFixed(1))} GiB`;
  return `${Math.round(bytes / MiB)} MiB`;
}
