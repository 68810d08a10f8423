import type { ResultCacheOptions } from '../../server/result-cache.js';
import { openSqliteStore, type SqliteJobStore } from '../../server/sqlite-store.js';
import type { OptionSpecs, OptionValues } from '../args/option-spec.js';
import { durationValue, OptionValueError } from '../args/option-values.js';
import { UsageError } from '../io.js';

/** `gworker server`'s options for the job store and the result cache. */
export const kPersistenceOptions = {
  store: {
    type: 'string',
    value: 'PATH',
    help: 'keep background jobs in this SQLite file: stored before JOB_CREATED, replayed at start, removed when they end (default: memory only)',
  },
  'store-sync': {
    type: 'string',
    value: 'MODE',
    choices: ['full', 'normal'],
    help: 'full (default): fsync each commit, acknowledged jobs survive a power loss; normal: they survive a crash or kill -9, not a power loss',
  },
  'result-cache': {
    type: 'duration',
    min: 0,
    value: 'TTL',
    help: 'answer a foreground job from the result of a job with the same function and unique completed within TTL (e.g. 30s, 5m; default off)',
  },
  'result-cache-function': {
    type: 'list',
    value: 'NAME=TTL',
    help: 'the TTL for one function (repeatable; 0 turns it off for NAME)',
  },
  'result-cache-max-entries': {
    type: 'integer',
    min: 1,
    max: 999_999_999,
    help: 'results kept at most (default 10000)',
  },
  'result-cache-max-bytes': { type: 'size', help: 'bytes kept at most, e.g. 64MiB (default 64MiB)' },
} as const satisfies OptionSpecs;

export type PersistenceValues = Partial<OptionValues<typeof kPersistenceOptions>>;

/** A TTL of --result-cache-function: a duration with its unit, or 0 (off). */
function ttlOf(spec: string, text: string): number {
  try {
    return durationValue(text, 0);
  } catch (err) {
    if (!(err instanceof OptionValueError)) throw err;
    throw new UsageError(`--result-cache-function: ${err.message} (in "${spec}")`);
  }
}

/** The result cache's options from the flags, or undefined when no flag turns it on. Throws UsageError. */
export function resultCacheOptions(values: PersistenceValues): ResultCacheOptions | undefined {
  const functions: Record<string, number> = {};
  for (const spec of values['result-cache-function'] ?? []) {
    const eq = spec.lastIndexOf('=');
    if (eq <= 0) throw new UsageError(`--result-cache-function takes NAME=TTL, got "${spec}"`);
    functions[spec.slice(0, eq)] = ttlOf(spec, spec.slice(eq + 1));
  }
  const ttl = values['result-cache'];
  const entries = values['result-cache-max-entries'];
  const bytes = values['result-cache-max-bytes'];
  const options: ResultCacheOptions = {
    ...(ttl === undefined ? {} : { ttlMs: ttl }),
    ...(Object.keys(functions).length === 0 ? {} : { functions }),
    ...(entries === undefined ? {} : { maxEntries: entries }),
    ...(bytes === undefined ? {} : { maxBytes: bytes }),
  };
  return Object.keys(options).length === 0 ? undefined : options;
}

/** Checks `--store` and `--store-sync` (usage errors, before anything is opened). */
export function storeSync(values: PersistenceValues): 'full' | 'normal' {
  const sync = (values['store-sync'] ?? 'full') as 'full' | 'normal';
  if (values['store-sync'] !== undefined && values.store === undefined) {
    throw new UsageError('--store-sync needs --store');
  }
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
