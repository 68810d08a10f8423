import type { FailureRecord, FailureStore, FailureSummary } from '../retry/failure-store.js';
import type { Supervisor } from '../supervisor.js';
import { ApiError } from './http-io.js';

export interface FailureList {
  /** Records of the function asked for (or all), in the store now. */
  readonly total: number;
  readonly failures: readonly FailureSummary[];
}

export interface RetryReply {
  /** Records submitted again (and removed from the store), with the new job's handle. */
  readonly retried: ReadonlyArray<{
    readonly id: number;
    readonly function: string;
    readonly handle: string;
  }>;
  /** Ids asked for that are not in the store. */
  readonly notFound: readonly number[];
  /** Records whose submit failed: they stay in the store. */
  readonly failed: ReadonlyArray<{ readonly id: number; readonly error: string }>;
}

const kMaxList = 10_000;

/**
 * The failure records through the control API (`gworker failed`): list, show, run
 * again, purge. The supervisor owns the store; this is its one door to the outside.
 */
export class FailureControl {
  readonly #supervisor: Supervisor;

  constructor(supervisor: Supervisor) {
    this.#supervisor = supervisor;
  }

  list(options: { function?: string; limit?: number }): FailureList {
    const store = this.#store();
    const limit = options.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > kMaxList) {
      throw new ApiError(400, 'bad_limit', `limit must be a whole number from 1 to ${kMaxList}`);
    }
    return {
      total: store.count(options.function),
      failures: store.list({
        limit,
        ...(options.function === undefined ? {} : { function: options.function }),
      }),
    };
  }

  show(id: number): FailureRecord {
    const record = this.#store().get(id);
    if (record === null) throw new ApiError(404, 'no_such_failure', `no failure record ${id}`);
    return record;
  }

  /**
   * Submits the records' jobs again as background jobs, with their payload and unique as
   * first submitted (a fresh first attempt), to the server the job came from when this
   * supervisor still uses it, else to its first server. A record is removed once its job
   * is queued; if it fails again, it is recorded again.
   */
  async retry(selection: { ids?: readonly number[]; function?: string }): Promise<RetryReply> {
    const store = this.#store();
    const ids = selection.function === undefined ? (selection.ids ?? []) : store.ids(selection.function);
    const jobs = store.jobs(ids);
    const found = new Set(jobs.map((job) => job.id));
    const servers = this.#supervisor.servers();
    const retried: Array<{ id: number; function: string; handle: string }> = [];
    const failed: Array<{ id: number; error: string }> = [];
    for (const job of jobs) {
      const server = servers.find((s) => `${s.host}:${s.port}` === job.server) ?? servers[0];
      if (server === undefined) {
        failed.push({ id: job.id, error: 'this supervisor has no job server' });
        continue;
      }
      try {
        const handle = await this.#supervisor.retries.submitNow(
          server,
          job.function,
          job.unique,
          job.payload,
        );
        store.delete([job.id]);
        retried.push({ id: job.id, function: job.function, handle });
      } catch (err) {
        failed.push({ id: job.id, error: (err as Error).message });
      }
    }
    return { retried, notFound: ids.filter((id) => !found.has(id)), failed };
  }

  purge(fn?: string): { readonly purged: number } {
    return { purged: this.#store().purge(fn) };
  }

  #store(): FailureStore {
    const store = this.#supervisor.retries.failures;
    if (store === null) {
      throw new ApiError(
        409,
        'no_failure_store',
        'this supervisor keeps no failure records: set failures.store in its manifest',
      );
    }
    return store;
  }
}
