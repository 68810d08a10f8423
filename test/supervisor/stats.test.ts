import { describe, expect, it } from 'vitest';
import { DurationSample } from '../../src/supervisor/stats/duration-sample.js';
import { RateWindow } from '../../src/supervisor/stats/rate-window.js';

describe('RateWindow', () => {
  it('averages whole seconds over the window and forgets old ones', () => {
    let now = 1_000_000;
    const rate = new RateWindow(5, () => now);
    for (let i = 0; i < 10; i++) rate.record();
    now += 1000;
    rate.record(6);
    now += 1000;
    // Seconds: 10, 6, (current) → 16 over 4 whole seconds.
    expect(rate.perSecond()).toBe(4);
    expect(rate.series()).toEqual([0, 0, 10, 6]);
    now += 10_000;
    expect(rate.perSecond()).toBe(0);
  });
});

describe('DurationSample', () => {
  it('gives nearest-rank percentiles of the most recent values', () => {
    const sample = new DurationSample(100);
    expect(sample.percentiles([50])).toEqual([null]);
    for (let i = 1; i <= 100; i++) sample.record(i);
    expect(sample.percentiles([50, 95, 99, 100])).toEqual([50, 95, 99, 100]);
    for (let i = 0; i < 100; i++) sample.record(1000);
    expect(sample.percentiles([50])).toEqual([1000]);
  });
});
