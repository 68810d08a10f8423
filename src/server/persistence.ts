import type { Logger } from '../log.js';
import type { ServerJob } from './job.js';
import type { JobStore, ReplayReport, StoredJob, StoreKey } from './store.js';
import { type StoreHealth, StoreOutage } from './store-outage.js';

export interface PersistenceEvents {
  /** The job's store write committed: answer its submitters and let it run. */
  durable(job: ServerJob): void;
  /** The job's store write failed: refuse its submitters. */
  failed(job: ServerJob, error: unknown): void;
}

/** The record a store keeps for a job. */
export function storedJob(job: ServerJob): StoredJob {
  return {
    function: job.fn.nameBytes,
    unique: Buffer.from(job.unique, 'latin1'),
    data: job.data,
    reducer: job.reducer,
    priority: job.priority,
    when: job.when,
  };
}

/**
 * Batches store writes per tick: jobs added during one turn of the event loop are
 * committed by one flush() (setImmediate runs after all the I/O callbacks of the turn,
 * so a burst of pipelined submits from many connections shares a commit), and one flush
 * runs at a time. Only used with a durable store.
 *
 * A flush that fails starts an outage (StoreOutage): background submits are refused at
 * once, without touching the store; jobs already held go on running, and their deletes
 * are staged but not flushed tick by tick (each attempt would fail and block the loop);
 * a timer with backoff flushes them and probes the store until both succeed, and then
 * submits are accepted again. No restart is needed.
 */
export class Persistence {
  readonly #store: JobStore;
  readonly #events: PersistenceEvents;
  readonly #log: Logger;
  /** Jobs whose add is staged for the next flush. */
  #batch: ServerJob[] = [];
  /** Anything staged (adds or removes) since the last flush began. */
  #dirty = false;
  #scheduled = false;
  #flushing: Promise<boolean> | null = null;
  readonly #outage: StoreOutage;
  /** Removes staged and not yet committed; those up to #removesFlushing are in the running flush. */
  #pendingRemoves = 0;
  #removesFlushing = 0;

  constructor(store: JobStore, events: PersistenceEvents, log: Logger) {
    this.#store = store;
    this.#events = events;
    this.#log = log;
    this.#outage = new StoreOutage(() => void this.#retry(), log);
  }

  get health(): StoreHealth {
    return {
      writable: this.#outage.writable,
      unwritableSince: this.#outage.since,
      pendingDeletes: this.#pendingRemoves,
      refusedSubmits: this.#outage.refusedTotal,
    };
  }

  /**
   * Stages a job's add and returns its store key; the events say when it commits or
   * fails. Undefined (logged) when the store refused the job on the spot: nothing is
   * staged. The job itself is not changed here: JobLifecycle keeps the key and the
   * submitters' replies on it.
   */
  add(job: ServerJob): StoreKey | undefined {
    if (!this.#outage.writable) {
      // Logged once, when the outage began: a log line per refused submit would flood it.
      this.#outage.refuse();
      return undefined;
    }
    let key: StoreKey;
    try {
      key = this.#store.add(storedJob(job));
    } catch (err) {
      this.#log.error({ err, jobHandle: job.handle }, 'job store refused a job');
      return undefined;
    }
    this.#batch.push(job);
    this.#touch();
    return key;
  }

  /** Stages the deletion of the stored job `key` (`job`, whose key it was, for the log). */
  remove(key: StoreKey, job: ServerJob): void {
    try {
      this.#store.remove(key);
    } catch (err) {
      // The row stays behind and comes back at the next start: logged, not fatal.
      this.#log.error({ err, jobHandle: job.handle }, 'job store failed to remove a job');
      return;
    }
    this.#pendingRemoves++;
    this.#touch();
  }

  /**
   * After the replay: says in the log what it found, and starts an outage at once when
   * the replay's own commit failed (a store still full at start is no failed start).
   */
  replayed(report: ReplayReport | undefined): void {
    if (report === undefined) return;
    logReplay(this.#log, report);
    if (report.commitError !== undefined) this.#outage.failed(report.commitError, this.#pendingRemoves);
  }

  /** Resolves when everything staged so far is committed (or has failed). */
  async settle(): Promise<void> {
    while (this.#dirty || this.#flushing !== null) {
      if (this.#flushing !== null) await this.#flushing;
      else await this.#flush();
    }
  }

  /** The server closes: no more retries; deletes that never committed are said in the log. */
  stop(): void {
    if (!this.#outage.writable && this.#pendingRemoves > 0) {
      this.#log.warn(
        { pendingDeletes: this.#pendingRemoves },
        'closing while the job store cannot write: deletes of ended jobs not committed (a store with a done journal skips those jobs at the next start)',
      );
    }
    this.#outage.stop();
  }

  /** The outage's timer: flush what waits (deletes, mostly), then prove an add would commit. */
  async #retry(): Promise<void> {
    if (this.#flushing !== null) await this.#flushing;
    if (!(await this.#flush())) return; // #flush reported it, and the next retry is set
    try {
      await this.#store.probe?.();
    } catch (err) {
      this.#outage.failed(err, this.#pendingRemoves);
      return;
    }
    this.#outage.ended();
    if (this.#dirty) this.#touch();
  }

  #touch(): void {
    this.#dirty = true;
    // During an outage the retry timer flushes: a commit per tick would fail each time.
    if (this.#scheduled || !this.#outage.writable) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#flushing === null && this.#dirty) void this.#flush();
    });
  }

  /** One flush of everything staged; resolves true when it committed. */
  #flush(): Promise<boolean> {
    const batch = this.#batch;
    this.#batch = [];
    this.#dirty = false;
    this.#removesFlushing = this.#pendingRemoves;
    // A store that throws instead of rejecting must not escape into the event loop.
    const done = new Promise<void>((resolve) => resolve(this.#store.flush())).then(
      () => {
        this.#pendingRemoves -= this.#removesFlushing;
        for (const job of batch) this.#events.durable(job);
        return true;
      },
      (error: unknown) => {
        // The store keeps its removes staged (JobStore's contract): still pending.
        this.#outage.refuse(batch.length);
        this.#outage.failed(error, this.#pendingRemoves);
        for (const job of batch) this.#events.failed(job, error);
        return false;
      },
    );
    this.#flushing = done.finally(() => {
      this.#flushing = null;
      this.#removesFlushing = 0;
      // Work staged while this flush ran goes out now, in its own batch.
      if (this.#dirty && !this.#scheduled && this.#outage.writable) void this.#flush();
    });
    return this.#flushing;
  }
}

/** What a replay found besides the jobs it restored, in the log (JobStore.replay). */
function logReplay(log: Logger, report: ReplayReport): void {
  if (report.skippedEnded > 0) {
    log.warn(
      { jobs: report.skippedEnded },
      'not replayed: jobs that ended in the last run while the store could not delete them (recorded in its done journal)',
    );
  }
  if (report.unrecordedEnds > 0) {
    log.warn(
      { jobs: report.unrecordedEnds },
      'the last run could not record every job that ended while the store could not write: up to this many replayed jobs had ended already and run again',
    );
  }
  if (report.journalProblem !== undefined) {
    log.warn(
      { problem: report.journalProblem },
      'if the store cannot write during this run (a full disk), jobs that end meanwhile run again after a restart',
    );
  }
}
