import { readdirSync, readFileSync } from 'node:fs';
import { residentSetMb } from '../process/resident-set.js';

/** Far more than a box runs; a loop in what /proc reports cannot spin forever. */
const kMaxProcesses = 10_000;

/**
 * The resident memory of a process and all its descendants, in MB: the supervisor's
 * threads (one process), its `isolation: process` children and command process groups,
 * and whatever those started. Descendants are found through /proc/PID/task/TID/children
 * (every thread's, since any thread may have forked). Without /proc (not Linux), only
 * the process itself counts, from process.memoryUsage. Shared pages count once per
 * process, so this is an upper bound, as the kernel's own per-process figures are.
 */
export function treeResidentMb(root = process.pid): number {
  if (root === process.pid && residentSetMb(root) === null) {
    return Math.round(process.memoryUsage.rss() / 1024 / 1024);
  }
  let total = 0;
  const seen = new Set<number>();
  const pending = [root];
  while (pending.length > 0 && seen.size < kMaxProcesses) {
    const pid = pending.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    total += residentSetMb(pid) ?? 0;
    pending.push(...childrenOf(pid));
  }
  return total;
}

function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const task of tasks) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${task}/children`, 'latin1');
    } catch {
      continue;
    }
    for (const part of text.split(' ')) if (part !== '') children.push(Number(part));
  }
  return children;
}
