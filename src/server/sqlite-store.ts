import type Database from 'better-sqlite3';
import { JobStoreError } from '../errors.js';
import { DoneJournal } from './done-journal.js';
import type { JobPriority } from './job.js';
import { openDatabase, storeError } from './sqlite-schema.js';
import type { SqliteSync } from './sqlite-sync.js';
import { kDatabases } from './sqlite-test-access.js';
import type { JobStore, ReplayReport, StoredJob, StoreKey } from './store.js';

export type { SqliteSync } from './sqlite-sync.js';

export interface SqliteStoreOptions {
  /**
   * `full` fsyncs every commit (acknowledged jobs survive a power loss); `normal` leaves
   * that to checkpoints (they survive a crash or `kill -9` of the process, not a power
   * loss). See {@link SqliteSync}. @defaultValue 'full'
   */
  readonly synchronous?: SqliteSync;
  /**
   * How long opening waits for a lock another process holds before giving up with a
   * `locked` JobStoreError: long enough for a server being restarted to let go.
   * @defaultValue 2000
   */
  readonly busyTimeoutMs?: number;
}

type Row = [
  id: number,
  fn: Buffer,
  unique: Buffer,
  priority: number,
  when: number,
  reducer: Buffer,
  data: Buffer,
];

const kEmpty = Buffer.alloc(0);
/**
 * What probe() writes (and deletes in the same commit): a job of this size fits once it
 * commits. The pages it took stay in the file, free for the next adds.
 */
const kProbeBytes = 64 * 1024;

/**
 * A durable JobStore in one SQLite file (better-sqlite3), in WAL mode: background jobs
 * survive a crash or a `kill -9` of the server, and are replayed, in the order they were
 * submitted, at the next start.
 *
 * Staging is in memory; each flush() is one transaction holding every add and remove of
 * the server's tick, so a burst of pipelined submits costs one commit (and with
 * `synchronous: 'full'`, one fsync). A job added and removed within the same tick (a
 * submit cancelled at once) never reaches the file. Commits run on the event loop's
 * thread (better-sqlite3 is synchronous): a commit blocks the loop for its write and
 * fsync, once per tick, which the batching keeps rare under load.
 *
 * Keys are the rows' ids, given out in submit order: `ORDER BY id` is the original order.
 *
 * When a commit fails (a full disk, a quota, a read-only file system) its removes stay
 * staged for the next flush, and until one commits, the key of every job that ended is
 * also written to the done journal (`<path>-done`, see DoneJournal), whose space was
 * taken at open: a restart before the deletes commit skips those jobs instead of
 * running them again, and its replay report says how many.
 */
export class SqliteJobStore implements JobStore {
  readonly durable = true;
  /** The file this store is kept in. */
  readonly path: string;
  readonly #sync: SqliteSync;
  readonly #db: Database.Database;
  readonly #insert: Database.Statement<[number, Buffer, Buffer, number, number, Buffer, Buffer]>;
  readonly #delete: Database.Statement<[number]>;
  /** One transaction; returns the row count after it. */
  readonly #commit: (adds: ReadonlyMap<number, StoredJob>, removes: readonly number[]) => number;
  #nextId: number;
  /** Rows in the file, kept up to date by each commit (a count(*) would scan the table). */
  #rows: number;
  /** Adds staged for the next flush, by key, in key order. */
  #adds = new Map<number, StoredJob>();
  /** Removes staged for the next flush (rows already committed). */
  #removes: number[] = [];
  #closed = false;
  /** The last commit failed: ends are journaled as they come, until one succeeds. */
  #failing = false;
  #replayed = false;
  /** Null when it could not be made: #journalProblem says why. */
  readonly #journal: DoneJournal | null;
  readonly #journalProblem: string | undefined;
  readonly #probe: () => void;

  /** Opens (or creates) the store; throws a JobStoreError when the file cannot be used. */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    const sync = options.synchronous ?? 'full';
    if (sync !== 'full' && sync !== 'normal') {
      throw new TypeError(`synchronous must be 'full' or 'normal', got ${String(sync)}`);
    }
    const busy = options.busyTimeoutMs ?? 2000;
    if (!Number.isInteger(busy) || busy < 0) throw new RangeError(`busyTimeoutMs must be an integer >= 0`);
    this.path = path;
    this.#sync = sync;
    this.#db = openDatabase(path, sync, busy);
    try {
      this.#nextId = Number(this.#db.prepare('SELECT coalesce(max(id), 0) FROM jobs').pluck().get()) + 1;
      this.#rows = Number(this.#db.prepare('SELECT count(*) FROM jobs').pluck().get());
      this.#insert = this.#db.prepare(
        'INSERT INTO jobs (id, function, unique_id, priority, run_at, reducer, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      this.#delete = this.#db.prepare('DELETE FROM jobs WHERE id = ?');
      const putProbe = this.#db.prepare(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('write_probe', zeroblob(?))",
      );
      const dropProbe = this.#db.prepare("DELETE FROM meta WHERE key = 'write_probe'");
      this.#probe = this.#db.transaction(() => {
        putProbe.run(kProbeBytes);
        dropProbe.run();
      });
      const identity = String(
        this.#db.prepare("SELECT value FROM meta WHERE key = 'created_at'").pluck().get() ?? '',
      );
      let journal: DoneJournal | null = null;
      try {
        journal = new DoneJournal(`${path}-done`, identity);
      } catch (err) {
        this.#journalProblem = `cannot make its done journal ${path}-done (${(err as Error).message})`;
      }
      this.#journal = journal;
    } catch (err) {
      this.#db.close();
      throw storeError(err, path, 'cannot open');
    }
    // A stale record (its row deleted, the journal not yet cleared) must never match a new row.
    for (const key of this.#journal?.ended ?? []) if (key >= this.#nextId) this.#nextId = key + 1;
    kDatabases.set(this, this.#db);
    this.#commit = this.#db.transaction((adds, removes) => {
      let rows = this.#rows;
      for (const [id, job] of adds) {
        this.#insert.run(id, job.function, job.unique, job.priority, job.when, job.reducer, job.data);
        rows++;
      }
      for (const id of removes) rows -= this.#delete.run(id).changes;
      return rows;
    });
  }

  /** Jobs in the file: committed ones only, not those staged for the next flush. O(1), for metrics. */
  get size(): number {
    return this.#rows;
  }

  async replay(restore: (job: StoredJob, key: StoreKey) => void): Promise<ReplayReport> {
    this.#checkOpen();
    const ended = this.#journal?.ended ?? new Set<number>();
    this.#replayed = true;
    let skippedEnded = 0;
    try {
      const rows = this.#db
        .prepare('SELECT id, function, unique_id, priority, run_at, reducer, data FROM jobs ORDER BY id')
        .raw(true)
        .iterate() as IterableIterator<Row>;
      for (const [id, fn, unique, priority, when, reducer, data] of rows) {
        if (ended.has(id)) {
          // Ended in the last run while its delete could not commit: delete it now instead.
          this.#removes.push(id);
          skippedEnded++;
          continue;
        }
        restore(
          {
            function: fn,
            unique: unique ?? kEmpty,
            data: data ?? kEmpty,
            reducer: reducer ?? kEmpty,
            priority: priority as JobPriority,
            when,
          },
          id,
        );
      }
    } catch (err) {
      throw storeError(err, this.path, 'cannot read the stored jobs');
    }
    // Read before the commit below clears the journal.
    const unrecordedEnds = this.#journal?.unrecorded ?? 0;
    // Duplicates the server dropped and the skipped jobs. A disk still full is no reason
    // not to start: the removes stay staged, and the server retries them.
    const commitError = await this.flush().then(
      () => undefined,
      (err: unknown) => err,
    );
    return {
      skippedEnded,
      unrecordedEnds,
      journalProblem: this.#journalProblem,
      commitError,
    };
  }

  add(job: StoredJob): StoreKey {
    this.#checkOpen();
    const id = this.#nextId++;
    this.#adds.set(id, job);
    return id;
  }

  remove(key: StoreKey): void {
    this.#checkOpen();
    const id = Number(key);
    // Added and removed before a flush: the row never needs to exist.
    if (this.#adds.delete(id)) return;
    this.#removes.push(id);
    if (this.#failing) this.#journal?.record(id);
  }

  flush(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (this.#adds.size === 0 && this.#removes.length === 0) return Promise.resolve();
    const adds = this.#adds;
    const removes = this.#removes;
    this.#adds = new Map();
    this.#removes = [];
    try {
      // Counted once committed: better-sqlite3 commits after the function returns.
      this.#rows = this.#commit(adds, removes);
    } catch (err) {
      // The server refuses the adds (QUEUE_ERROR); the removes are tried again with the
      // next flush, or their jobs would come back at the next start.
      this.#removes = removes.concat(this.#removes);
      this.#failing = true;
      this.#journalEnds(removes);
      return Promise.reject(storeError(err, this.path, 'commit failed'));
    }
    this.#committed();
    return Promise.resolve();
  }

  /** Commits (and deletes) a 64 KiB row: rejects while an add of that size could not commit. */
  probe(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    try {
      this.#probe();
    } catch (err) {
      // Still failing: ends from now on are journaled at once again.
      this.#failing = true;
      return Promise.reject(storeError(err, this.path, 'write probe failed'));
    }
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      // Closing checkpoints the WAL into the main file and removes it.
      this.#db.close();
    } finally {
      this.#journal?.close();
    }
  }

  #journalEnds(removes: readonly number[]): void {
    const journal = this.#journal;
    if (journal === null) return;
    for (const id of removes) journal.record(id);
    if (this.#sync === 'full') journal.sync();
  }

  /**
   * Every staged remove is in the file now, so the journal's records are all settled
   * (those of the last run once the replay staged theirs).
   */
  #committed(): void {
    this.#failing = false;
    if (!this.#replayed || this.#journal?.dirty !== true) return;
    try {
      this.#journal.clear();
    } catch {
      // Records left behind match no row (see the constructor): cleared at the next commit.
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw this.#closedError();
  }

  #closedError(): JobStoreError {
    return new JobStoreError('io', `job store ${this.path} is closed`, this.path);
  }
}

/**
 * Opens (or creates) a SQLite job store for `GearmanServer`'s `store` option. Throws a
 * JobStoreError (code GEARMAN_ERR_STORE, with a `reason`) when the file cannot be used.
 *
 * @example
 * ```ts
 * const server = new GearmanServer({ store: openSqliteStore('/var/lib/gworker/jobs.db') });
 * ```
 */
export function openSqliteStore(path: string, options?: SqliteStoreOptions): SqliteJobStore {
  return new SqliteJobStore(path, options);
}
