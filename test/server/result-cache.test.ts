import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ResultCache } from '../../src/server/result-cache.js';

const run = promisify(execFile);

/** A cache on a clock the test moves. */
function cacheAt(options: ConstructorParameters<typeof ResultCache>[0]) {
  const clock = { now: 1_000_000 };
  const cache = new ResultCache(options, () => clock.now);
  return { cache, clock };
}

describe('the result cache', () => {
  it('is off without a TTL and then neither keeps nor counts anything', () => {
    const { cache } = cacheAt({});
    expect(cache.enabled).toBe(false);
    cache.store('f', 'u', 'u', Buffer.from('x'));
    expect(cache.lookup('f', 'u')).toBeUndefined();
    expect(cache.stats).toEqual({ entries: 0, bytes: 0, hits: 0, misses: 0 });
  });

  it('answers within the TTL, counts hits and misses, and forgets after the TTL', () => {
    const { cache, clock } = cacheAt({ ttlMs: 30_000 });
    expect(cache.lookup('resize', 'a')).toBeUndefined();
    cache.store('resize', 'a', 'a', Buffer.from('small'));
    clock.now += 29_999;
    expect(cache.lookup('resize', 'a')?.toString()).toBe('small');
    expect(cache.lookup('resize', 'b')).toBeUndefined();
    expect(cache.lookup('other', 'a')).toBeUndefined();
    clock.now += 1;
    expect(cache.lookup('resize', 'a')).toBeUndefined();
    expect(cache.stats).toMatchObject({ entries: 0, bytes: 0, hits: 1, misses: 4 });
  });

  it('copies the result, so the socket buffer it came in is not held', () => {
    const { cache } = cacheAt({ ttlMs: 1000 });
    const chunk = Buffer.from('..result..');
    cache.store('f', 'u', 'u', chunk.subarray(2, 8));
    chunk.fill(0);
    expect(cache.lookup('f', 'u')?.toString()).toBe('result');
  });

  it('takes per-function TTLs over the default, 0 turning a function off', () => {
    const { cache, clock } = cacheAt({ ttlMs: 1000, functions: { slow: 60_000, never: 0 } });
    cache.store('slow', 'u', 'u', Buffer.from('s'));
    cache.store('never', 'u', 'u', Buffer.from('n'));
    cache.store('plain', 'u', 'u', Buffer.from('p'));
    clock.now += 5000;
    expect(cache.lookup('slow', 'u')?.toString()).toBe('s');
    expect(cache.lookup('never', 'u')).toBeUndefined();
    expect(cache.lookup('plain', 'u')).toBeUndefined();
    // 'never' is not a cached function: its lookup counts neither way.
    expect(cache.stats).toMatchObject({ hits: 1, misses: 1 });
  });

  it('caches only the functions named when there is no default TTL', () => {
    const { cache } = cacheAt({ functions: { résumé: 1000 } });
    expect(cache.enabled).toBe(true);
    const latin1 = Buffer.from('résumé').toString('latin1');
    cache.store(latin1, 'u', 'u', Buffer.from('r'));
    cache.store('other', 'u', 'u', Buffer.from('o'));
    expect(cache.stats.entries).toBe(1);
    expect(cache.lookup(latin1, 'u')?.toString()).toBe('r');
  });

  it('evicts the least recently used results past maxEntries', () => {
    const { cache } = cacheAt({ ttlMs: 1000, maxEntries: 2 });
    cache.store('f', 'a', 'a', Buffer.from('1'));
    cache.store('f', 'b', 'b', Buffer.from('2'));
    cache.lookup('f', 'a');
    cache.store('f', 'c', 'c', Buffer.from('3'));
    expect(cache.list().map((entry) => entry.unique)).toEqual(['a', 'c']);
  });

  it('evicts by bytes, and never keeps a result larger than maxBytes', () => {
    const { cache } = cacheAt({ ttlMs: 1000, maxBytes: 100 });
    cache.store('f', 'a', 'a', Buffer.alloc(40));
    cache.store('f', 'b', 'b', Buffer.alloc(40));
    expect(cache.stats.entries).toBe(2);
    cache.store('f', 'c', 'c', Buffer.alloc(40));
    expect(cache.list().map((entry) => entry.unique)).toEqual(['b', 'c']);
    expect(cache.stats.bytes).toBeLessThanOrEqual(100);
    cache.store('f', 'huge', 'huge', Buffer.alloc(101));
    expect(cache.list().map((entry) => entry.unique)).toEqual(['b', 'c']);
  });

  it('replaces an older result of the same job, and a too-large new one drops the old', () => {
    const { cache } = cacheAt({ ttlMs: 1000, maxBytes: 50 });
    cache.store('f', 'a', 'a', Buffer.from('old'));
    cache.store('f', 'a', 'a', Buffer.from('new'));
    expect(cache.stats.entries).toBe(1);
    expect(cache.lookup('f', 'a')?.toString()).toBe('new');
    cache.store('f', 'a', 'a', Buffer.alloc(60));
    expect(cache.lookup('f', 'a')).toBeUndefined();
    expect(cache.stats).toMatchObject({ entries: 0, bytes: 0 });
  });

  it('keeps function and key apart, whatever their bytes', () => {
    const { cache } = cacheAt({ ttlMs: 1000 });
    cache.store('ab', 'c', 'c', Buffer.from('1'));
    expect(cache.lookup('a', 'bc')).toBeUndefined();
  });

  it('lists fresh results with their size and age, and sweeps the expired ones', () => {
    const { cache, clock } = cacheAt({ ttlMs: 1000, functions: { long: 10_000 } });
    cache.store('short', 'x', 'x', Buffer.from('12345'));
    clock.now += 500;
    cache.store('long', 'y', 'y', Buffer.from('1'));
    clock.now += 700;
    expect(cache.list()).toEqual([{ fn: 'long', unique: 'y', bytes: 1, ageMs: 700 }]);
    expect(cache.stats.entries).toBe(1);
  });

  it('checks its options', () => {
    expect(() => new ResultCache({ ttlMs: -1 })).toThrow(RangeError);
    expect(() => new ResultCache({ ttlMs: 1.5 })).toThrow(RangeError);
    expect(() => new ResultCache({ ttlMs: 1, maxEntries: 0 })).toThrow(RangeError);
    expect(() => new ResultCache({ ttlMs: 1, maxBytes: 0 })).toThrow(RangeError);
    expect(() => new ResultCache({ functions: { '': 1 } })).toThrow(TypeError);
    expect(() => new ResultCache({ functions: { f: -5 } })).toThrow(RangeError);
  });

  it('does not keep the process alive with its expiry timer', async () => {
    const module = fileURLToPath(new URL('../../src/server/result-cache.ts', import.meta.url));
    const script = `const { ResultCache } = await import(${JSON.stringify(module)});
      const cache = new ResultCache({ ttlMs: 3_600_000 });
      cache.store('f', 'u', 'u', Buffer.from('x'));
      console.log(cache.stats.entries);`;
    const started = Date.now();
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      timeout: 20_000,
    });
    expect(stdout.trim()).toBe('1');
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
