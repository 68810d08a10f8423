// Kept apart from sqlite-schema.ts, which imports better-sqlite3: the public declarations
// (sqlite-store.d.ts) reach this type through here, so a consumer's type check never
// needs better-sqlite3's types, a devDependency (issue 12: TS7016 with skipLibCheck: false).

/**
 * How hard a commit tries to reach the disk. In WAL mode (always used here) both survive a
 * crash of the process, `kill -9` included: a commit is in the WAL file (in the kernel's
 * page cache at least) before JOB_CREATED goes out, and the next open replays it.
 * - `full`: the WAL is fsync'ed at every commit, so acknowledged jobs also survive a power
 *   loss or a kernel crash (on a disk that honours fsync). One fsync per tick, not per job.
 * - `normal`: no fsync at commit, only at checkpoints; a power loss may take back the last
 *   commits (the database stays consistent), in exchange for cheaper commits.
 */
export type SqliteSync = 'normal' | 'full';
