import type { ResultCacheOptions } from '../../server/result-cache.js';
import { openSqliteStore, type SqliteJobStore } from '../../server/sqlite-store.js';
import { parseDuration } from '../../supervisor/manifest/units.js';
import { UsageError } from '../io.js';

/** `gworker server` options for the job store and the result cache (parseArgs config). */
export const kPersistenceOptions = {
  store: { type: 'string' },
  'store-sync': { type: 'string' },
  'result-cache': { type: 'string' },
  'result-cache-function': { type: 'string', multiple: true },
  'result-cache-max-entries': { type: 'string' },
  'result-cache-max-bytes': { type: 'string' },
} as const;

/** Their lines in `gworker server --help`. */
export const kPersistenceUsage = `      --store PATH           keep background jobs in this SQLite file: stored before JOB_CREATED,
                             replayed at start, removed when they end (default: memory only)
      --store-sync MODE      full (default): fsync each commit, acknowledged jobs survive a power
                             loss; normal: they survive a crash or kill -9, not a power loss
      --result-cache TTL     answer a foreground job from the result of a job with the same
                             function and unique completed within TTL (e.g. 30s, 5m; default off)
      --result-cache-function NAME=TTL
                             the TTL for one function (repeatable; 0 turns it off for NAME)
      --result-cache-max-entries N
                             results kept at most (default 10000)
      --result-cache-max-bytes N
                             bytes kept at most, e.g. 64MiB (default 64MiB)
`;

export interface PersistenceValues {
  readonly store?: string | undefined;
  readonly 'store-sync'?: string | undefined;
  readonly 'result-cache'?: string | undefined;
  readonly 'result-cache-function'?: string[] | undefined;
  readonly 'result-cache-max-entries'?: string | undefined;
  readonly 'result-cache-max-bytes'?: string | undefined;
}

/** A duration with its unit (`30s`, `5m`), or a bare `0` (off). Throws UsageError naming `--flag`. */
export function duration(flag: string, text: string): number {
  if (text.trim() === '0') return 0;
  const ms = parseDuration(text);
  if (typeof ms === 'string') throw new UsageError(`--${flag}: ${ms}`);
  return ms;
}

const kSizeUnits: Record<string, number> = {
  '': 1,
  b: 1,
  kib: 1024,
  k: 1024,
  mib: 1024 ** 2,
  m: 1024 ** 2,
  gib: 1024 ** 3,
  g: 1024 ** 3,
};

/** A size in bytes, with an optional unit (`512KiB`, `64MiB`). Throws UsageError naming `--flag`. */
export function size(flag: string, text: string): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const factor = match === null ? undefined : kSizeUnits[(match[2] as string).toLowerCase()];
  const bytes = factor === undefined ? Number.NaN : Number(match?.[1]) * factor;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(`--${flag} must be a size such as 1048576, 512KiB or 64MiB, got "${text}"`);
  }
  return bytes;
}

/** The result cache's options from the flags, or undefined when no flag turns it on. Throws UsageError. */
export function resultCacheOptions(values: PersistenceValues): ResultCacheOptions | undefined {
  const functions: Record<string, number> = {};
  for (const spec of values['result-cache-function'] ?? []) {
    const eq = spec.lastIndexOf('=');
    if (eq <= 0) throw new UsageError(`--result-cache-function takes NAME=TTL, got "${spec}"`);
    functions[spec.slice(0, eq)] = duration('result-cache-function', spec.slice(eq + 1));
  }
  const ttl = values['result-cache'];
  const entries = values['result-cache-max-entries'];
  const bytes = values['result-cache-max-bytes'];
  if (entries !== undefined && !/^[1-9]\d{0,8}$/.test(entries)) {
    throw new UsageError(
      `--result-cache-max-entries must be an integer from 1 to 999999999, got "${entries}"`,
    );
  }
  const options: ResultCacheOptions = {
    ...(ttl === undefined ? {} : { ttlMs: duration('result-cache', ttl) }),
    ...(Object.keys(functions).length === 0 ? {} : { functions }),
    ...(entries === undefined ? {} : { maxEntries: Number(entries) }),
    ...(bytes === undefined ? {} : { maxBytes: size('result-cache-max-bytes', bytes) }),
  };
  return Object.keys(options).length === 0 ? undefined : options;
}

/** Checks `--store` and `--store-sync` (usage errors, before anything is opened). */
export function storeSync(values: PersistenceValues): 'full' | 'normal' {
  const sync = values['store-sync'] ?? 'full';
  if (sync !== 'full' && sync !== 'normal') {
    throw new UsageError(`--store-sync must be full or normal, got "${sync}"`);
  }
  if (values['store-sync'] !== undefined && values.store === undefined) {
    throw new UsageError('--store-sync needs --store');
  }
  if (values.store === '') throw new UsageError('--store needs a file path');
  return sync;
}

/**
 * Opens the `--store` file, or returns undefined without one. Throws a JobStoreError
 * (the command prints it in one line and exits 1) when the file cannot be used.
 */
export function openStore(values: PersistenceValues, sync: 'full' | 'normal'): SqliteJobStore | undefined {
  const path = values.store;
  if (path === undefined) return undefined;
  return openSqliteStore(path, { synchronous: sync });
}
