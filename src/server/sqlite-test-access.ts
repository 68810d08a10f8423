import type Database from 'better-sqlite3';

/**
 * The database behind each open SqliteJobStore, for tests that make it fail as a full
 * disk would (`PRAGMA max_page_count`, `PRAGMA query_only`): SQLite's own limits, on the
 * store's own connection, so the store's code runs as it does in production. Not
 * exported from the package.
 */
export const kDatabases: WeakMap<object, Database.Database> = new WeakMap();
