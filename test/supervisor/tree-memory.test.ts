import { spawn } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { treeResidentMb } from '../../src/supervisor/capacity/tree-memory.js';
import { residentSetMb } from '../../src/supervisor/process/resident-set.js';

let childPid: number | undefined;

afterEach(() => {
  if (childPid !== undefined) process.kill(childPid, 'SIGKILL');
  childPid = undefined;
});

it.runIf(process.platform === 'linux')(
  'counts the resident memory of the processes a supervisor started',
  async () => {
    const before = treeResidentMb();
    // A child holding 96 MiB it has written to (resident, not just reserved).
    const child = spawn(
      process.execPath,
      ['-e', 'globalThis.b = Buffer.alloc(96 * 1024 * 1024, 1); setInterval(() => {}, 1000);'],
      {
        stdio: 'ignore',
      },
    );
    childPid = child.pid;
    const pid = child.pid as number;
    for (let waited = 0; (residentSetMb(pid) ?? 0) < 96; waited += 50) {
      if (waited > 10_000) throw new Error('the child never grew to 96 MiB');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(treeResidentMb() - before).toBeGreaterThanOrEqual(90);
  },
);
