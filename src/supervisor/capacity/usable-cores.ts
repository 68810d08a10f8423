import { availableParallelism } from 'node:os';
import { readCgroupLimits } from '../cgroup-limits.js';

/**
 * The cores this box lets the supervisor use: the cgroup's cpu.max quota where there is
 * one (rounded down, at least 1: a quota of 1.5 CPUs runs two CPU-bound jobs no faster
 * than one and a half), else the CPUs the process may run on (affinity included). This
 * is what `concurrency: auto` and the box's default CPU budget mean by "the box's cores".
 *
 * @param cgroupRoot - where /proc and /sys are read from (tests pass a fake tree).
 */
export function usableCores(cgroupRoot = '/'): number {
  const cpus = availableParallelism();
  const quota = readCgroupLimits(cgroupRoot)?.cpus ?? null;
  if (quota === null) return cpus;
  return Math.max(1, Math.min(cpus, Math.floor(quota)));
}
