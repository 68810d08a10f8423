import { Client } from '../../src/client/client.js';
import { nowNs, withTimeout } from './stats.js';

/**
 * Foreground jobs queued before any worker runs. Their results tell when the last job
 * ended, so a run needs no polling of the server while it works: on 2 busy cores a
 * `status` poll every 2 ms took about 3% of the workers' time (measured with gworker
 * start and with the PHP workers alike), more than half of a 1.05x goal's margin.
 */
export class ForegroundBatch {
  readonly #client: Client;
  readonly #done: Promise<bigint>;

  private constructor(client: Client, done: Promise<bigint>) {
    this.#client = client;
    this.#done = done;
  }

  /** Submits `count` jobs and resolves once the server has created all of them. */
  static async queue(port: number, fn: string, count: number, payload: string): Promise<ForegroundBatch> {
    const client = new Client({ servers: [`127.0.0.1:${port}`], reconnect: false, exceptions: false });
    try {
      await client.connect();
      const jobs = Array.from({ length: count }, () => client.submit(fn, payload));
      let left = count;
      const done = new Promise<bigint>((resolve, reject) => {
        for (const job of jobs)
          job.result.then(() => {
            if (--left === 0) resolve(nowNs());
          }, reject);
      });
      // A failed job rejects `done`; until someone awaits it, that must not be unhandled.
      done.catch(() => {});
      await Promise.all(jobs.map((job) => job.created));
      return new ForegroundBatch(client, done);
    } catch (err) {
      await client.close();
      throw err;
    }
  }

  /** The monotonic time (ns) at which the last result arrived; rejects if a job failed. */
  finished(timeoutMs: number): Promise<bigint> {
    return withTimeout(this.#done, timeoutMs, 'the last foreground result');
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}
