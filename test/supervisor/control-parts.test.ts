import { describe, expect, it } from 'vitest';
import { JobHistory } from '../../src/supervisor/control/history.js';
import {
  formatControlAddress,
  isLoopback,
  parseControlAddress,
} from '../../src/supervisor/control/listen-address.js';

describe('control addresses', () => {
  it('reads host:port, a port alone, IPv6, http:// and Unix socket paths', () => {
    expect(parseControlAddress('127.0.0.1:4731')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 4731 });
    expect(parseControlAddress('9000')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9000 });
    expect(parseControlAddress('[::1]:4731')).toEqual({ kind: 'tcp', host: '::1', port: 4731 });
    expect(parseControlAddress('http://localhost:80/')).toEqual({ kind: 'tcp', host: 'localhost', port: 80 });
    expect(parseControlAddress('/run/gworker.sock')).toEqual({ kind: 'unix', path: '/run/gworker.sock' });
    expect(parseControlAddress('./ctl.sock', '/srv/app')).toEqual({
      kind: 'unix',
      path: '/srv/app/ctl.sock',
    });
    expect(parseControlAddress('unix:ctl.sock', '/srv')).toEqual({ kind: 'unix', path: '/srv/ctl.sock' });
    for (const bad of ['', 'host', 'host:', 'host:99999', ':4731', 'a b:1', 'unix:']) {
      expect(() => parseControlAddress(bad), bad).toThrow(TypeError);
    }
  });

  it('formats addresses back, brackets around IPv6', () => {
    expect(formatControlAddress({ kind: 'tcp', host: '::1', port: 1 })).toBe('[::1]:1');
    expect(formatControlAddress({ kind: 'tcp', host: '127.0.0.1', port: 4731 })).toBe('127.0.0.1:4731');
    expect(formatControlAddress({ kind: 'unix', path: '/x.sock' })).toBe('/x.sock');
  });

  it('tells loopback from addresses other hosts can reach', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of [
      '0.0.0.0',
      '::',
      '192.168.1.2',
      '10.0.0.1',
      'example.com',
      '::ffff:10.0.0.1',
      '128.0.0.1',
    ]) {
      expect(isLoopback(host), host).toBe(false);
    }
  });
});

describe('job history', () => {
  it('counts jobs per bucket with percentiles, oldest first, leaving out the current bucket', () => {
    let now = 100_000;
    const history = new JobHistory({ bucketMs: 1000, buckets: 5, now: () => now });
    history.record('f', 'complete', 10);
    history.record('f', 'complete', 30);
    history.record('f', 'fail', 20);
    expect(history.series('f').every((p) => p.done === 0)).toBe(true);
    now += 1000;
    history.record('f', 'exception', 50);
    now += 1000;
    const series = history.series('f');
    expect(series).toHaveLength(4);
    expect(series.map((p) => p.t)).toEqual([98_000, 99_000, 100_000, 101_000]);
    expect(series[2]).toEqual({ t: 100_000, done: 2, failed: 1, excepted: 0, p50Ms: 20, p95Ms: 30 });
    expect(series[3]).toEqual({ t: 101_000, done: 0, failed: 0, excepted: 1, p50Ms: 50, p95Ms: 50 });
    expect(series[0]).toEqual({ t: 98_000, done: 0, failed: 0, excepted: 0, p50Ms: null, p95Ms: null });
  });

  it('forgets buckets older than the window, even after a long quiet spell', () => {
    let now = 0;
    const history = new JobHistory({ bucketMs: 1000, buckets: 3, now: () => now });
    history.record('f', 'complete', 1);
    now = 3000;
    history.record('f', 'complete', 2); // reuses the slot of bucket 0
    now = 4000;
    expect(history.series('f').map((p) => p.done)).toEqual([0, 1]);
    now = 1_000_000;
    expect(history.series('f').map((p) => p.done)).toEqual([0, 0]);
  });

  it('samples run times in a busy bucket and drops functions that left', () => {
    let now = 5000;
    const history = new JobHistory({ bucketMs: 1000, buckets: 3, sampleSize: 8, now: () => now });
    for (let i = 1; i <= 1000; i++) history.record('f', 'complete', i);
    now += 1000;
    const busy = history.series('f')[1];
    expect(busy?.done).toBe(1000);
    // Eight of a thousand run times, drawn uniformly: the median lands well inside the range.
    expect(busy?.p50Ms).toBeGreaterThanOrEqual(1);
    expect(busy?.p95Ms).toBeGreaterThanOrEqual(busy?.p50Ms as number);
    expect(busy?.p95Ms).toBeLessThanOrEqual(1000);
    history.retain(new Set(['g']));
    expect(history.series('f').every((p) => p.done === 0)).toBe(true);
  });
});
