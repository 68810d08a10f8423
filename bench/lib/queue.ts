import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import { nowNs, sleep } from './stats.js';

/**
 * Queues background jobs with our Client, all pipelined. This is set-up, not a measured
 * figure (the submit bench measures submits, in its own process), so it runs in the
 * harness.
 */
export async function queueJobs(
  port: number,
  batches: ReadonlyArray<{ fn: string; count: number }>,
  payload: string,
): Promise<void> {
  const client = new Client({ servers: [`127.0.0.1:${port}`], reconnect: false, exceptions: false });
  try {
    await client.connect();
    const handles: Promise<string>[] = [];
    for (const { fn, count } of batches)
      for (let i = 0; i < count; i++) handles.push(client.submitBackground(fn, payload));
    await Promise.all(handles);
  } finally {
    await client.close();
  }
}

/** An admin connection that reads one function's TOTAL (queued + running) from `status`. */
export class QueueWatch {
  readonly #admin: AdminClient;

  constructor(port: number) {
    this.#admin = new AdminClient({ server: `127.0.0.1:${port}`, commandTimeoutMs: 5000 });
  }

  async total(fn: string): Promise<number> {
    const rows = await this.#admin.status();
    return rows.find((row) => row.function === fn)?.total ?? 0;
  }

  /**
   * Polls `status` every `intervalMs` until `fn` holds no job; resolves with the
   * monotonic time (ns) of the reply that showed it empty. The poll costs gearmand one
   * short text command per interval and the harness a few microseconds, next to jobs
   * that take tens of microseconds each.
   */
  async waitEmpty(fn: string, timeoutMs: number, intervalMs = 2): Promise<bigint> {
    const deadline = Date.now() + timeoutMs;
    let left = await this.total(fn);
    while (left > 0) {
      if (Date.now() > deadline) {
        throw new Error(`"${fn}" still holds ${left} jobs after ${Math.round(timeoutMs / 1000)} s`);
      }
      await sleep(intervalMs);
      left = await this.total(fn);
    }
    return nowNs();
  }

  close(): Promise<void> {
    return this.#admin.close();
  }
}
