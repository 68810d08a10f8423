import type Database from 'better-sqlite3';
import { JobStoreError, type JobStoreFailure } from '../errors.js';
import { SQLITE_DRIVER_PROBLEM, sqliteDriver } from '../sqlite-driver.js';
import type { SqliteSync } from './sqlite-sync.js';
import { SERVER_VERSION } from './version.js';

/** The schema this gworker writes; a store with a higher number was written by a newer one. */
export const SCHEMA_VERSION = 1;

export type { SqliteSync } from './sqlite-sync.js';

/** SQLite's result codes, mapped to why the store is unusable. */
function failureOf(err: unknown): JobStoreFailure {
  const code = (err as { code?: unknown }).code;
  switch (code) {
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
    case 'SQLITE_CORRUPT_VTAB':
    case 'SQLITE_CORRUPT_SEQUENCE':
    case 'SQLITE_CORRUPT_INDEX':
      return 'corrupt';
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
    case 'SQLITE_BUSY_RECOVERY':
    case 'SQLITE_BUSY_SNAPSHOT':
      return 'locked';
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_PERM':
    case 'SQLITE_AUTH':
      return 'unwritable';
    // A full disk, and (as SQLite maps EDQUOT) a quota reached.
    case 'SQLITE_FULL':
      return 'full';
    default:
      // Extended codes: SQLITE_READONLY_DBMOVED, SQLITE_READONLY_ROLLBACK and the like.
      if (typeof code === 'string' && code.startsWith('SQLITE_READONLY')) return 'unwritable';
      // better-sqlite3 checks the directory itself and throws a TypeError without a code.
      return err instanceof TypeError ? 'unwritable' : 'io';
  }
}

const kExplain: Record<JobStoreFailure, string> = {
  corrupt: 'not a job store, or damaged',
  locked: 'locked by another process (is another gworker server using it?)',
  unwritable: 'cannot be created or written',
  full: 'the disk or a quota is full',
  version: 'written by a newer gworker',
  driver: SQLITE_DRIVER_PROBLEM,
  io: 'I/O error',
};

/** A JobStoreError for what SQLite threw while `doing` something with the store at `path`. */
export function storeError(
  err: unknown,
  path: string,
  doing: string,
  reason: JobStoreFailure = failureOf(err),
): JobStoreError {
  if (err instanceof JobStoreError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new JobStoreError(reason, `job store ${path}: ${doing}: ${kExplain[reason]} (${detail})`, path, {
    cause: err,
  });
}

const kCreateJobs = `CREATE TABLE IF NOT EXISTS jobs (
  id        INTEGER PRIMARY KEY,
  function  BLOB    NOT NULL,
  unique_id BLOB    NOT NULL,
  priority  INTEGER NOT NULL CHECK (priority IN (0, 1, 2)),
  run_at    INTEGER NOT NULL CHECK (run_at >= 0),
  reducer   BLOB    NOT NULL,
  data      BLOB    NOT NULL
)`;

/**
 * Opens (or creates) the SQLite file at `path` as a job store and takes it for this
 * process alone. Throws a JobStoreError (code GEARMAN_ERR_STORE) when it cannot: a file
 * that is no database, one another process holds, a path that cannot be written, a
 * schema newer than this gworker's.
 *
 * The lock: `locking_mode=EXCLUSIVE` keeps SQLite's file lock from the first write to
 * close. Two servers replaying and running the same queue would run every job twice, so
 * the second one is refused at start. The cost: other processes (the sqlite3 shell) cannot
 * read the file while the server runs; stop the server to inspect it. The lock is the
 * kernel's, so it goes with the process, even after `kill -9`.
 */
export function openDatabase(path: string, sync: SqliteSync, busyTimeoutMs: number): Database.Database {
  let Sqlite: typeof Database;
  try {
    Sqlite = sqliteDriver();
  } catch (err) {
    throw storeError((err as Error).cause, path, 'cannot open', 'driver');
  }
  let db: Database.Database | null = null;
  try {
    db = new Sqlite(path, { timeout: busyTimeoutMs });
    db.pragma('locking_mode = EXCLUSIVE');
    // WAL: a commit appends to the log instead of rewriting pages, and a torn write (a
    // crash mid-commit) is discarded at the next open, leaving the last whole commit.
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
    db.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);
    // Keep the WAL file from staying large after a burst, once it has been checkpointed.
    db.pragma('journal_size_limit = 67108864');
    migrate(db, path);
    return db;
  } catch (err) {
    try {
      db?.close();
    } catch {
      // Closing a half-open database can fail too; the first error is the one to report.
    }
    throw storeError(err, path, 'cannot open');
  }
}

/** Creates the schema in an empty database, checks it in one of ours, refuses anything else. */
function migrate(db: Database.Database, path: string): void {
  // BEGIN EXCLUSIVE takes the file lock now rather than at the first submit.
  db.transaction(() => {
    const tables = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .pluck()
      .all() as string[];
    if (!tables.includes('meta')) {
      if (tables.length > 0) {
        throw new JobStoreError(
          'corrupt',
          `job store ${path}: not a job store (a database with tables ${tables.join(', ')} and no meta table)`,
          path,
        );
      }
      db.exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
      const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      put.run('schema_version', String(SCHEMA_VERSION));
      put.run('created_by', `gworker ${SERVER_VERSION}`);
      put.run('created_at', new Date().toISOString());
    }
    const version = Number(
      db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get() ?? Number.NaN,
    );
    if (!Number.isInteger(version) || version < 1) {
      throw new JobStoreError('corrupt', `job store ${path}: meta has no valid schema_version`, path);
    }
    if (version > SCHEMA_VERSION) {
      throw new JobStoreError(
        'version',
        `job store ${path}: schema version ${version} was written by a newer gworker (this one reads ${SCHEMA_VERSION})`,
        path,
      );
    }
    db.exec(kCreateJobs);
  }).exclusive();
}
