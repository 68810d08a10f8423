import { PacketType } from '../protocol/constants.js';
import { encodeResponse } from '../protocol/encoder.js';

/** The result cache's settings (GearmanServerOptions `resultCache`). Off unless a TTL is set. */
export interface ResultCacheOptions {
  /**
   * How long a WORK_COMPLETE result of any function is kept, in milliseconds; 0 keeps
   * none except those of the functions in `functions`. @defaultValue 0
   */
  readonly ttlMs?: number;
  /** TTL per function name, overriding `ttlMs`; 0 keeps none of that function. */
  readonly functions?: Readonly<Record<string, number>>;
  /** Results kept at most; the least recently used go first. @defaultValue 10000 */
  readonly maxEntries?: number;
  /**
   * Bytes kept at most (results, their function names and uniques); the least recently
   * used go first, and a single result larger than this is not kept. @defaultValue 64 MiB
   */
  readonly maxBytes?: number;
}

/** Read-only counters of the result cache, for metrics. */
export interface ResultCacheStats {
  readonly entries: number;
  readonly bytes: number;
  /** Foreground submits answered from the cache. */
  readonly hits: number;
  /** Foreground submits of a cached function, with a unique, that found nothing (or an expired result). */
  readonly misses: number;
}

/** One cached result as `show cache` lists it. */
export interface CachedResult {
  /** The function's name and the unique as latin1 strings of their bytes. */
  readonly fn: string;
  readonly unique: string;
  readonly bytes: number;
  readonly ageMs: number;
}

interface Entry {
  readonly fn: string;
  readonly unique: string;
  readonly data: Buffer;
  readonly size: number;
  readonly storedAt: number;
  readonly expiresAt: number;
}

export const DEFAULT_CACHE_MAX_ENTRIES = 10_000;
export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024;
/** The expiry sweep runs every min(shortest TTL, this), and at least every second apart. */
const kMaxSweepMs = 60_000;
const kMinSweepMs = 1000;

function check(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`resultCache.${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/**
 * WORK_COMPLETE results by function and unique id, for a while: a foreground submit whose
 * function and unique match a job completed less than the TTL ago is answered at once
 * (JOB_CREATED with a fresh handle, then WORK_COMPLETE with the stored result) and never
 * reaches a worker. gearmand has nothing like it; it is off unless a TTL is set.
 *
 * What is kept: WORK_COMPLETE results only (never WORK_FAIL or WORK_EXCEPTION), of jobs
 * with a unique (an empty unique never hits) and no reducer. The unique `-` keys by the
 * payload's SHA-1 digest, as the server's coalescing does. WORK_DATA and WORK_STATUS sent
 * before the result are not replayed. Bounded by entries and bytes, least recently used
 * evicted first; expired results are dropped when met and by a timer that does not keep
 * the process alive. One instance per server, on the event loop's thread.
 */
export class ResultCache {
  readonly #ttlMs: number;
  readonly #functions: ReadonlyMap<string, number>;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #sweepMs: number;
  /** Insertion order is recency: the first entry is the least recently used. */
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #timer: NodeJS.Timeout | null = null;
  /** Whether any function's results are kept. */
  readonly enabled: boolean;

  constructor(options: ResultCacheOptions = {}, now: () => number = Date.now) {
    this.#ttlMs = check('ttlMs', options.ttlMs, 0, 0);
    const functions = new Map<string, number>();
    for (const [name, ttl] of Object.entries(options.functions ?? {})) {
      if (name === '') throw new TypeError('resultCache.functions: a function name must not be empty');
      // The server keys functions by the latin1 string of their bytes.
      functions.set(Buffer.from(name, 'utf8').toString('latin1'), check(`functions.${name}`, ttl, 0, 0));
    }
    this.#functions = functions;
    this.#maxEntries = check('maxEntries', options.maxEntries, DEFAULT_CACHE_MAX_ENTRIES, 1);
    this.#maxBytes = check('maxBytes', options.maxBytes, DEFAULT_CACHE_MAX_BYTES, 1);
    this.#now = now;
    const ttls = [this.#ttlMs, ...functions.values()].filter((ttl) => ttl > 0);
    this.enabled = ttls.length > 0;
    this.#sweepMs = Math.max(kMinSweepMs, Math.min(kMaxSweepMs, ...ttls));
  }

  get stats(): ResultCacheStats {
    return { entries: this.#entries.size, bytes: this.#bytes, hits: this.#hits, misses: this.#misses };
  }

  /** The TTL of a function's results (its name as a latin1 string); 0 when not cached. */
  ttlFor(fn: string): number {
    return this.#functions.get(fn) ?? this.#ttlMs;
  }

  /**
   * The result a foreground submit of `fn` with unique key `key` gets from the cache, or
   * undefined. Counts a hit or a miss for a cached function; the hit becomes the most
   * recently used.
   */
  lookup(fn: string, key: string): Buffer | undefined {
    if (this.ttlFor(fn) === 0) return undefined;
    const id = cacheKey(fn, key);
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.expiresAt <= this.#now()) {
      if (entry !== undefined) this.#delete(id, entry);
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry.data;
  }

  /**
   * Keeps a job's WORK_COMPLETE result, replacing an older one. `data` is copied: it is
   * usually a view of a socket's read buffer, which must not be held.
   */
  store(fn: string, key: string, unique: string, data: Buffer): void {
    const ttl = this.ttlFor(fn);
    if (ttl === 0) return;
    const id = cacheKey(fn, key);
    const old = this.#entries.get(id);
    if (old !== undefined) this.#delete(id, old);
    const size = data.length + id.length + unique.length;
    if (size > this.#maxBytes) return;
    const storedAt = this.#now();
    this.#entries.set(id, { fn, unique, data: Buffer.from(data), size, storedAt, expiresAt: storedAt + ttl });
    this.#bytes += size;
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#delete(oldest, entry);
    }
    this.#startSweeping();
  }

  /** Every result still fresh, least recently used first (admin `show cache`). */
  list(): CachedResult[] {
    this.sweep();
    const now = this.#now();
    return Array.from(this.#entries.values(), (entry) => ({
      fn: entry.fn,
      unique: entry.unique,
      bytes: entry.data.length,
      ageMs: now - entry.storedAt,
    }));
  }

  /** Drops every expired result. */
  sweep(): void {
    const now = this.#now();
    for (const [id, entry] of this.#entries) if (entry.expiresAt <= now) this.#delete(id, entry);
    if (this.#entries.size === 0) this.close();
  }

  /** Stops the expiry timer (the server is closing); the cache still answers meanwhile. */
  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #startSweeping(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => this.sweep(), this.#sweepMs);
    this.#timer.unref();
  }

  #delete(id: string, entry: Entry): void {
    this.#entries.delete(id);
    this.#bytes -= entry.size;
  }
}

/** The function's length first, so that no name and key pair can spell another. */
function cacheKey(fn: string, key: string): string {
  return `${fn.length}:${fn}${key}`;
}

/** JOB_CREATED then WORK_COMPLETE, in one buffer: the whole answer to a cache hit. */
export function cachedReply(handle: string, data: Buffer): Buffer {
  const handleBytes = Buffer.from(handle, 'latin1');
  return Buffer.concat([
    encodeResponse(PacketType.JOB_CREATED, [handleBytes]),
    encodeResponse(PacketType.WORK_COMPLETE, [handleBytes, data]),
  ]);
}
