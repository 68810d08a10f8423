import { describe, expect, it } from 'vitest';
import { AutoscaleWindow, type FunctionSample } from '../../src/supervisor/capacity/autoscaler-window.js';

// Issue 15, autoscaling per function: the rule, sample by sample, on a fake clock.

const tuning = { upSamples: 2, upCooldownMs: 200, downAfterMs: 1000 };
const kStep = 100;

function sample(current: number, running: number, queued: number | null, hasRoom = true): FunctionSample {
  return { min: 1, max: 4, current, running, queued, hasRoom };
}

describe('the autoscale rule', () => {
  it('scales up after two samples in a row with jobs waiting, to current + waiting, at most max', () => {
    const window = new AutoscaleWindow(tuning, 0);
    expect(window.observe(sample(2, 2, 2), kStep)).toBeNull();
    const up = window.observe(sample(2, 2, 2), 2 * kStep);
    expect(up?.to).toBe(4);
    expect(up?.why).toContain('2 job(s) waiting at the job servers in 2 samples in a row');
  });

  it('scales up at the first sample of a backlog bigger than its slots', () => {
    const window = new AutoscaleWindow(tuning, 0);
    const up = window.observe(sample(1, 1, 5), kStep);
    expect(up?.to).toBe(4);
    expect(up?.why).toContain('5 job(s) waiting at the job servers, more than its 1 slot(s)');
  });

  it('does not scale up on one sample with a job waiting between two without', () => {
    const window = new AutoscaleWindow(tuning, 0);
    for (let i = 1; i <= 30; i++) expect(window.observe(sample(2, 2, i % 2), i * kStep)).toBeNull();
  });

  it('holds while the box has no room, and while the last change up is fresh', () => {
    const window = new AutoscaleWindow(tuning, 0);
    expect(window.observe(sample(1, 1, 1, false), kStep)).toBeNull();
    expect(window.observe(sample(1, 1, 1, false), 2 * kStep)).toBeNull();
    expect(window.observe(sample(1, 1, 1), 3 * kStep)?.to).toBe(2);
    // Jobs still waiting right after: the new slot must show in the queue first.
    expect(window.observe(sample(2, 2, 3), 4 * kStep)).toBeNull();
    expect(window.observe(sample(2, 2, 3), 5 * kStep)?.to).toBe(4);
  });

  it('scales down only after a whole idle window, to the most slots busy in it, never below min', () => {
    const window = new AutoscaleWindow(tuning, 0);
    let t = 0;
    const tick = () => {
      t += kStep;
      return t;
    };
    // Two of four busy at one sample, then none: down to 2 once a window has passed.
    expect(window.observe(sample(4, 2, 0), tick())).toBeNull();
    while (t < 900) expect(window.observe(sample(4, 0, 0), tick())).toBeNull();
    const down = window.observe(sample(4, 0, 0), tick());
    expect(down?.to).toBe(2);
    expect(down?.why).toContain('at most 2 of 4');
    // The next window starts afresh: nothing busy, down to min after another whole window.
    while (t < 1900) expect(window.observe(sample(2, 0, 0), tick())).toBeNull();
    expect(window.observe(sample(2, 0, 0), tick())?.to).toBe(1);
    for (let i = 0; i < 30; i++) expect(window.observe(sample(1, 0, 0), tick())).toBeNull();
  });

  it('keeps its slots under a load that uses them all now and then', () => {
    const window = new AutoscaleWindow(tuning, 0);
    for (let i = 1; i <= 100; i++) {
      expect(window.observe(sample(3, i % 5 === 0 ? 3 : 1, 0), i * kStep)).toBeNull();
    }
  });

  it('holds when no job server answered, and does not count that time as idle', () => {
    const window = new AutoscaleWindow(tuning, 0);
    let t = 0;
    const tick = () => {
      t += kStep;
      return t;
    };
    for (let i = 0; i < 20; i++) expect(window.observe(sample(4, 0, null), tick())).toBeNull();
    for (let i = 0; i < 9; i++) expect(window.observe(sample(4, 0, 0), tick())).toBeNull();
    expect(window.observe(sample(4, 0, 0), tick())?.to).toBe(1);
  });

  it('moves slots outside the range back inside it at once', () => {
    const window = new AutoscaleWindow(tuning, 0);
    expect(window.observe({ ...sample(0, 0, 0), min: 1 }, kStep)?.to).toBe(1);
    expect(window.observe(sample(9, 0, 0), 2 * kStep)?.to).toBe(4);
  });
});
