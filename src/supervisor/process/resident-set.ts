import { readFileSync } from 'node:fs';

/**
 * A process's resident set in MB (VmRSS in /proc/PID/status: every page it holds in
 * memory, Buffers and native allocations included, which the V8 heap limit does not
 * see), or null when it cannot be read (the process has gone, or no /proc).
 * /proc/PID/status rather than statm: it states kB, so no page size to guess.
 */
export function residentSetMb(pid: number): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const match = /^VmRSS:\s+(\d+) kB/m.exec(text);
  return match === null ? null : Math.round(Number(match[1]) / 1024);
}
