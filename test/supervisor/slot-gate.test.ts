import { describe, expect, it } from 'vitest';
import { SlotGate } from '../../src/supervisor/slot-gate.js';

describe('SlotGate', () => {
  it('grants a grab only while running jobs plus grabs on the wire stay under the concurrency', () => {
    const gate = new SlotGate(2);
    expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(false);
    // One grab brings a job (it starts in the same tick), the other NO_JOB.
    gate.release();
    gate.jobStarted();
    gate.release();
    expect(gate.free).toBe(1);
    expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(false);
    gate.jobEnded();
    expect(gate.tryReserve()).toBe(true);
  });

  it('grants nothing while paused, and a lower concurrency applies as jobs end', () => {
    const gate = new SlotGate(3);
    gate.jobStarted();
    gate.jobStarted();
    gate.pause();
    expect(gate.tryReserve()).toBe(false);
    gate.resume();
    gate.setConcurrency(1);
    expect(gate.tryReserve()).toBe(false);
    gate.jobEnded();
    expect(gate.tryReserve()).toBe(false);
    gate.jobEnded();
    expect(gate.tryReserve()).toBe(true);
  });
});
