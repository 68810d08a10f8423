import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../src/cli/batch/latency-histogram.js';

describe('LatencyHistogram', () => {
  it('gives percentiles within about one percent, whatever the count', () => {
    const histogram = new LatencyHistogram();
    expect(histogram.percentile(50)).toBeNull();
    for (let ms = 1; ms <= 1000; ms++) histogram.record(ms);
    expect(histogram.percentile(50)).toBeGreaterThan(500 * 0.99);
    expect(histogram.percentile(50)).toBeLessThan(500 * 1.01);
    expect(histogram.percentile(99)).toBeGreaterThan(990 * 0.99);
    expect(histogram.percentile(99)).toBeLessThan(990 * 1.01);
    expect(histogram.percentile(100)).toBe(1000);
  });

  it('gives back a single value exactly, and keeps sub-microsecond values', () => {
    const one = new LatencyHistogram();
    one.record(3.7);
    expect(one.percentile(50)).toBe(3.7);
    const tiny = new LatencyHistogram();
    tiny.record(0.0001);
    tiny.record(0);
    expect(tiny.percentile(99)).toBeLessThanOrEqual(0.001);
  });
});
