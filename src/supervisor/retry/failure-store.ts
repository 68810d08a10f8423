import type Database from 'better-sqlite3';
import { ErrorCode, GearmanError } from '../../errors.js';
import { sqliteDriver } from '../../sqlite-driver.js';
import type { CarriedError } from './carrier.js';
import { type FinalFailure, payloadText } from './dead-letter.js';

/** A final failure as it is recorded. */
export interface NewFailure extends FinalFailure {
  /** The job's final reason, as its client (or log) got it. */
  readonly reason: string;
  readonly box: string;
}

/** One line of `gworker failed list`. */
export interface FailureSummary {
  readonly id: number;
  readonly function: string;
  readonly unique: string;
  readonly attempts: number;
  readonly failedAt: string;
  readonly reason: string;
}

/** A record in full, for `gworker failed show`: the payload as in a dead letter. */
export interface FailureRecord extends FailureSummary {
  readonly handle: string;
  readonly server: string;
  readonly box: string;
  readonly payloadEncoding: 'utf8' | 'base64';
  readonly payload: string;
  readonly errors: ReadonlyArray<Omit<CarriedError, 'at'> & { readonly at: string }>;
}

/** What a retry of a record needs: the job as it was first submitted. */
export interface StoredJob {
  readonly id: number;
  readonly function: string;
  readonly unique: string;
  readonly server: string;
  readonly payload: Buffer;
}

interface Row {
  id: number;
  function: string;
  unique_id: string;
  handle: string;
  server: string;
  payload: Buffer;
  attempts: number;
  errors: string;
  reason: string;
  box: string;
  failed_at: number;
}

const kSchema = `CREATE TABLE IF NOT EXISTS failures (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  function TEXT NOT NULL,
  unique_id TEXT NOT NULL,
  handle TEXT NOT NULL,
  server TEXT NOT NULL,
  payload BLOB NOT NULL,
  attempts INTEGER NOT NULL,
  errors TEXT NOT NULL,
  reason TEXT NOT NULL,
  box TEXT NOT NULL,
  failed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_by_function ON failures (function, id)`;

/**
 * The box's record of final failures (`failures: { store, keep }`), in one SQLite file
 * through better-sqlite3, which is loaded only when a manifest asks for a store. The
 * supervisor that opened the file owns it (an exclusive lock, as the server's job store
 * takes): two supervisors retrying from one record would run its job twice. The CLI
 * reads and changes it through that supervisor's control API.
 */
export class FailureStore {
  readonly file: string;
  readonly keep: number;
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #trim: Database.Statement;

  private constructor(file: string, keep: number, db: Database.Database) {
    this.file = file;
    this.keep = keep;
    this.#db = db;
    this.#insert = db.prepare(
      'INSERT INTO failures (function, unique_id, handle, server, payload, attempts, errors, reason, box, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#trim = db.prepare(
      'DELETE FROM failures WHERE id <= (SELECT id FROM failures ORDER BY id DESC LIMIT 1 OFFSET ?)',
    );
  }

  /** Opens (or creates) the store; throws a GearmanError code GEARMAN_ERR_STORE saying why it cannot. */
  static async open(file: string, keep: number): Promise<FailureStore> {
    let db: Database.Database | null = null;
    try {
      const Sqlite = sqliteDriver();
      db = new Sqlite(file, { timeout: 1000 });
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      const tables = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .pluck()
        .all() as string[];
      if (tables.length > 0 && !tables.includes('failures')) {
        throw new Error(`not a failure store (it has tables ${tables.join(', ')})`);
      }
      db.exec(kSchema);
      // Take the lock now, not at the first failure.
      db.exec('BEGIN EXCLUSIVE; COMMIT');
      return new FailureStore(file, keep, db);
    } catch (err) {
      try {
        db?.close();
      } catch {
        // The first error is the one to report.
      }
      throw new GearmanError(
        ErrorCode.STORE,
        `failure store ${file}: cannot open: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  /** Records a failure, dropping the oldest past `keep`; returns its id. */
  record(failure: NewFailure): number {
    const last = failure.errors[failure.errors.length - 1];
    const { lastInsertRowid } = this.#insert.run(
      failure.function,
      failure.unique,
      failure.handle,
      failure.server,
      Buffer.from(failure.payload.buffer, failure.payload.byteOffset, failure.payload.byteLength),
      failure.attempts,
      JSON.stringify(failure.errors),
      failure.reason,
      failure.box,
      last?.at ?? Date.now(),
    );
    this.#trim.run(this.keep);
    return Number(lastInsertRowid);
  }

  /** The newest records first, of one function or all. */
  list(options: { function?: string; limit: number }): FailureSummary[] {
    const rows = (
      options.function === undefined
        ? this.#db.prepare('SELECT * FROM failures ORDER BY id DESC LIMIT ?').all(options.limit)
        : this.#db
            .prepare('SELECT * FROM failures WHERE function = ? ORDER BY id DESC LIMIT ?')
            .all(options.function, options.limit)
    ) as Row[];
    return rows.map(summary);
  }

  count(fn?: string): number {
    const statement =
      fn === undefined
        ? this.#db.prepare('SELECT count(*) FROM failures')
        : this.#db.prepare('SELECT count(*) FROM failures WHERE function = ?');
    return Number((fn === undefined ? statement.pluck().get() : statement.pluck().get(fn)) ?? 0);
  }

  get(id: number): FailureRecord | null {
    const row = this.#db.prepare('SELECT * FROM failures WHERE id = ?').get(id) as Row | undefined;
    if (row === undefined) return null;
    const errors = JSON.parse(row.errors) as CarriedError[];
    const payload = payloadText(row.payload);
    return {
      ...summary(row),
      handle: row.handle,
      server: row.server,
      box: row.box,
      ...payload,
      errors: errors.map((error) => ({ ...error, at: new Date(error.at).toISOString() })),
    };
  }

  /** The jobs of these records (those that exist), to submit again. */
  jobs(ids: readonly number[]): StoredJob[] {
    const get = this.#db.prepare(
      'SELECT id, function, unique_id, server, payload FROM failures WHERE id = ?',
    );
    return ids.flatMap((id) => {
      const row = get.get(id) as Row | undefined;
      return row === undefined
        ? []
        : [
            {
              id: row.id,
              function: row.function,
              unique: row.unique_id,
              server: row.server,
              payload: row.payload,
            },
          ];
    });
  }

  /** Every record's id of one function, oldest first. */
  ids(fn: string): number[] {
    return this.#db
      .prepare('SELECT id FROM failures WHERE function = ? ORDER BY id')
      .pluck()
      .all(fn) as number[];
  }

  delete(ids: readonly number[]): void {
    const remove = this.#db.prepare('DELETE FROM failures WHERE id = ?');
    this.#db.transaction(() => {
      for (const id of ids) remove.run(id);
    })();
  }

  /** Deletes every record (of one function, when given); returns how many. */
  purge(fn?: string): number {
    const result =
      fn === undefined
        ? this.#db.prepare('DELETE FROM failures').run()
        : this.#db.prepare('DELETE FROM failures WHERE function = ?').run(fn);
    return result.changes;
  }

  close(): void {
    this.#db.close();
  }
}

function summary(row: Row): FailureSummary {
  return {
    id: row.id,
    function: row.function,
    unique: row.unique_id,
    attempts: row.attempts,
    failedAt: new Date(row.failed_at).toISOString(),
    reason: row.reason,
  };
}
