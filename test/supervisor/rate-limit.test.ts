import { afterEach, describe, expect, it, vi } from 'vitest';
import { RateLimit } from '../../src/supervisor/capacity/rate-limit.js';
import { SlotGate } from '../../src/supervisor/slot-gate.js';

describe('RateLimit', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets at most `jobs` jobs start in any span of `per`, and wakes the function once when one leaves it', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let wakes = 0;
    const gate = new SlotGate(10);
    gate.setRateLimit(new RateLimit({ jobs: 3, perMs: 1000 }, () => wakes++));
    for (let i = 0; i < 3; i++) {
      expect(gate.tryReserve()).toBe(true);
      gate.release('f');
      vi.advanceTimersByTime(100);
    }
    // Three jobs in the last second: every connection that asks is refused, one timer waits.
    for (let i = 0; i < 5; i++) expect(gate.tryReserve()).toBe(false);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(600);
    expect(wakes).toBe(0);
    // The first job started at 0: it leaves the window at 1000, and the timer fires 1 ms
    // after (a timer may fire a little early).
    vi.advanceTimersByTime(101);
    expect(wakes).toBe(1);
    expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(false);
    expect(gate.rateLimit?.snapshot()).toMatchObject({ jobs: 3, perMs: 1000, hits: 2, throttled: true });
    expect(gate.rateLimit?.snapshot().throttledMs).toBeGreaterThanOrEqual(700);
  });

  it('counts a grab on the wire until its answer, and a grab answered NO_JOB costs nothing', () => {
    const gate = new SlotGate(10);
    gate.setRateLimit(new RateLimit({ jobs: 2, perMs: 60_000 }, () => {}));
    expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(false);
    gate.release(null);
    gate.release(null);
    expect(gate.tryReserve()).toBe(true);
    gate.release('f');
    expect(gate.tryReserve()).toBe(true);
    gate.release('f');
    expect(gate.tryReserve()).toBe(false);
    gate.setRateLimit(null);
  });

  it('applies a new limit to the window as it stands, and wakes the function for it', () => {
    let wakes = 0;
    const limit = new RateLimit({ jobs: 1, perMs: 60_000 }, () => wakes++);
    const gate = new SlotGate(10);
    gate.setRateLimit(limit);
    expect(gate.tryReserve()).toBe(true);
    gate.release('f');
    expect(gate.tryReserve()).toBe(false);
    limit.setConfig({ jobs: 2, perMs: 60_000 });
    expect(wakes).toBe(1);
    expect(gate.tryReserve()).toBe(true);
    gate.setRateLimit(null);
  });

  it('wakes a function refused while its window was full of grabs on the wire, once their jobs leave it', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let wakes = 0;
    const gate = new SlotGate(10);
    gate.setRateLimit(new RateLimit({ jobs: 2, perMs: 1000 }, () => wakes++));
    expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(false);
    // Both grabs bring long jobs: no job ends to refill the function, the timer must.
    gate.release('f');
    gate.release('f');
    vi.advanceTimersByTime(1001);
    expect(wakes).toBe(1);
    expect(gate.tryReserve()).toBe(true);
    gate.setRateLimit(null);
  });
});
