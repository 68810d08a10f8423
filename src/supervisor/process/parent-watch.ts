import { Worker } from 'node:worker_threads';

/** How often a handler process looks for its supervisor. */
const kParentCheckMs = 500;

/**
 * Ends this handler process once its supervisor has gone (killed with SIGKILL, say, so
 * that it could end nothing itself). The IPC channel's 'disconnect' says so too, but only
 * to an event loop that runs: a handler stuck in a loop would outlive the supervisor and
 * spin on. A small thread of its own checks the parent pid and kills the process, which
 * it can do whatever the main thread is doing. It costs one idle thread per process.
 */
export function endWithParent(): void {
  const source = `
    const parent = ${process.ppid};
    setInterval(() => {
      if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
    }, ${kParentCheckMs});
  `;
  const watcher = new Worker(source, { eval: true, name: 'gworker parent watch' });
  watcher.unref();
}
