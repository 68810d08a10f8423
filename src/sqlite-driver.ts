import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';

/** What a missing or broken better-sqlite3 means, and what to do about it. */
export const SQLITE_DRIVER_PROBLEM =
  'the SQLite driver better-sqlite3 cannot be loaded; reinstall gworker with install scripts enabled, or run `npm rebuild better-sqlite3`';

const requireCommonJs = createRequire(import.meta.url);
let driver: typeof Database | undefined;

/**
 * better-sqlite3, loaded at the first open of a SQLite file rather than when a module that
 * may open one is imported (as undici's SQLite cache store does): the native addon costs
 * tens of ms, and a client, or a server without a store, never needs it. Its addon loads
 * at the first `new Database`, so a database in memory is opened here once: a missing or
 * broken build (an addon compiled for another Node, an install with --ignore-scripts) is
 * reported as the driver's fault, not as an I/O error of the file being opened.
 *
 * Throws an Error whose message starts with SQLITE_DRIVER_PROBLEM, the loader's own
 * error as its `cause`; the job store and the failure store each name their file.
 */
export function sqliteDriver(): typeof Database {
  if (driver !== undefined) return driver;
  try {
    const loaded = requireCommonJs('better-sqlite3') as typeof Database;
    new loaded(':memory:').close();
    driver = loaded;
    return loaded;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(`${SQLITE_DRIVER_PROBLEM} (${detail})`, { cause: err });
  }
}
