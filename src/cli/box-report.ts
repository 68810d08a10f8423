import type { BoxSnapshot } from '../supervisor/capacity/box-control.js';
import { usableCores } from '../supervisor/capacity/usable-cores.js';
import type { BoxConfig, FunctionConfig } from '../supervisor/manifest/types.js';
import { formatDuration } from '../supervisor/manifest/units.js';

/** `gworker check`: the box budget the manifest resolves to, the default CPU slots filled in. */
export function describeBox(box: BoxConfig): string {
  const slots = box.slots === undefined ? 'no bound on jobs at once' : `${box.slots} job(s) at once in all`;
  const cpu =
    box.cpuSlots === undefined
      ? `CPU-bound functions ${usableCores()} at once (the usable cores)`
      : `CPU-bound functions ${box.cpuSlots} at once`;
  const memory =
    box.memoryMb === undefined ? 'no memory bound' : `no new jobs while resident over ${box.memoryMb} MiB`;
  return `box: ${slots}; ${cpu}; ${memory}`;
}

/** `gworker check`: a function's weight, CPU marking and rate limit, when any is set. */
export function describeFunctionBudget(fn: FunctionConfig): string[] {
  const parts = [
    fn.weight === undefined ? null : `weight ${fn.weight}`,
    fn.cpu === true ? 'CPU-bound' : null,
    fn.rateLimit === undefined
      ? null
      : `at most ${fn.rateLimit.jobs} job(s) per ${formatDuration(fn.rateLimit.perMs)}`,
  ].filter((x): x is string => x !== null);
  return parts.length === 0 ? [] : [`    ${parts.join(', ')}`];
}

/** `gworker status`: the box's slots used / total, and memory when it is bounded. */
export function describeBoxStatus(box: BoxSnapshot): string {
  const parts = [
    `${box.used}/${box.slots ?? '∞'} slots used`,
    `CPU-bound ${box.cpuUsed}/${box.cpuSlots}`,
    box.wanting === 0 ? null : `${box.wanting} function(s) waiting for a slot`,
    box.memory === null
      ? null
      : `memory ${box.memory.residentMb}/${box.memory.limitMb} MiB${box.memory.over ? ' — OVER: taking no new jobs' : ''}`,
  ].filter((x): x is string => x !== null);
  return `box: ${parts.join(', ')}`;
}
