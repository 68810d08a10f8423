import { describe, expect, it } from 'vitest';
import { SlotGate } from '../../src/supervisor/slot-gate.js';

describe('SlotGate', () => {
  it('grants a grab only while running jobs plus grabs on the wire stay under the concurrency', () => {
    const gate = new SlotGate(2);
    expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(false);
    // One grab brings a job (the gate holds it from that answer on), the other NO_JOB.
    gate.release('f');
    expect(gate.running).toBe(1);
    expect(gate.free).toBe(0);
    gate.release(null);
    expect(gate.free).toBe(1);
    expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(false);
    gate.jobEnded();
    expect(gate.tryReserve()).toBe(true);
  });

  it('grants nothing while paused, and a lower concurrency applies as jobs end', () => {
    const gate = new SlotGate(3);
    for (let i = 0; i < 2; i++) {
      gate.tryReserve();
      gate.release('f');
    }
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

  it('holds up to concurrency + ahead jobs when the function prefetches, and keeps the ahead on resize', () => {
    const gate = new SlotGate(2, 2);
    expect(gate.limit).toBe(4);
    for (let i = 0; i < 4; i++) expect(gate.tryReserve()).toBe(true);
    expect(gate.tryReserve()).toBe(false);
    for (let i = 0; i < 4; i++) {
      gate.release('f');
    }
    expect(gate.free).toBe(0);
    // A resize keeps the jobs held ahead unless it says otherwise.
    gate.setConcurrency(3);
    expect(gate.limit).toBe(5);
    expect(gate.tryReserve()).toBe(true);
    gate.setConcurrency(3, 0);
    expect(gate.limit).toBe(3);
    expect(gate.tryReserve()).toBe(false);
  });
});
