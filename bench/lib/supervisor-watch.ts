/**
 * Watching a function on the job server from outside, through the admin `status`
 * command: how many jobs it holds (queued + running) and how many run, polled every few
 * milliseconds. Also the CPU time of processes, read from /proc, for "CPU per job".
 */
import { readdirSync, readFileSync } from 'node:fs';
import { AdminClient } from '../../src/client/admin-client.js';
import { nowNs, sleep } from './stats.js';

export interface FunctionCount {
  /** Jobs held: queued plus running. */
  readonly total: number;
  readonly running: number;
}

export interface Observation extends FunctionCount {
  /** Monotonic time (ns) of the reply. */
  readonly ns: bigint;
}

export class StatusPoller {
  readonly #admin: AdminClient;

  constructor(port: number) {
    this.#admin = new AdminClient({ server: `127.0.0.1:${port}`, commandTimeoutMs: 5000 });
  }

  async count(fn: string): Promise<FunctionCount> {
    const rows = await this.#admin.status();
    const row = rows.find((r) => r.function === fn);
    return { total: row?.total ?? 0, running: row?.running ?? 0 };
  }

  /**
   * Polls every `intervalMs` until `done` holds for `fn`; resolves with that reply and
   * its time. The poll costs the server one short text command per interval.
   */
  async until(
    fn: string,
    done: (count: FunctionCount) => boolean,
    timeoutMs: number,
    what: string,
    intervalMs = 2,
  ): Promise<Observation> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const count = await this.count(fn);
      if (done(count)) return { ...count, ns: nowNs() };
      if (Date.now() > deadline)
        throw new Error(
          `"${fn}": ${what} did not happen within ${Math.round(timeoutMs / 1000)} s (holds ${count.total}, running ${count.running})`,
        );
      await sleep(intervalMs);
    }
  }

  close(): Promise<void> {
    return this.#admin.close();
  }
}

const kTicksPerSecond = 100;

/**
 * User + system CPU time of a process and all its threads so far, in microseconds (from
 * /proc/PID/stat, in clock ticks of 10 ms: fine for windows of a second or more). NaN
 * once the process is gone.
 */
export function processCpuUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1e6) / kTicksPerSecond;
  } catch {
    return Number.NaN;
  }
}

/** Summed CPU time of several processes, in microseconds. */
/**
 * A process and its children (the supervisor and its handler processes, with
 * isolation: process), from /proc: their CPU time counts as the worker's.
 */
export function withChildren(pid: number): number[] {
  const pids = [pid];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'latin1').trim();
      if (children !== '') pids.push(...children.split(/\s+/).map(Number));
    }
  } catch {
    // Gone, or no /proc: the supervisor alone.
  }
  return pids;
}

export function totalCpuUs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + processCpuUs(pid), 0);
}
