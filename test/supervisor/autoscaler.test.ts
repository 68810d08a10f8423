import { describe, expect, it } from 'vitest';
import { type AutoscaleInput, Autoscaler } from '../../src/supervisor/capacity/autoscaler.js';

// Issue 15: the controller over several functions, with a box of 2 slots as hasRoom.

interface Fn {
  current: number;
  running: number;
  queued: number;
}

/** Two functions A and B (each { min: 0, max: 2 }) on a box of `slots`, on a fake clock. */
function box(slots: number, a: Fn, b: Fn) {
  const fns = new Map([
    ['A', a],
    ['B', b],
  ]);
  const changes: string[] = [];
  let now = 0;
  const total = () => [...fns.values()].reduce((sum, fn) => sum + fn.current, 0);
  const scaler = new Autoscaler(
    async (name, to, why) => {
      const fn = fns.get(name) as Fn;
      changes.push(`${name} ${fn.current}->${to}: ${why}`);
      fn.current = to;
    },
    { sampleMs: 100, downAfterMs: 10_000, hasRoom: () => total() < slots, now: () => now },
  );
  const sample = async () => {
    now += 100;
    const inputs: AutoscaleInput[] = [...fns].map(([name, fn]) => ({ name, min: 0, max: 2, ...fn }));
    scaler.observe(inputs);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { changes, sample, fns };
}

describe('the autoscaler over a full box', () => {
  it('gives back idle slots at once when another function waits for room, then that one scales up', async () => {
    const { changes, sample } = box(
      2,
      { current: 2, running: 0, queued: 0 },
      { current: 0, running: 0, queued: 5 },
    );
    // Five waiting, more than B's slots: B wants room at the first sample.
    await sample();
    expect(changes).toEqual(['A 2->0: idle slots given back: B wait(s) for room on the box']);
    await sample();
    expect(changes[1]).toMatch(/^B 0->2: 5 job\(s\) waiting/);
  });

  it('keeps busy slots, and idle ones while nothing waits for room, until a whole idle window', async () => {
    const busy = box(2, { current: 2, running: 2, queued: 0 }, { current: 0, running: 0, queued: 5 });
    for (let i = 0; i < 5; i++) await busy.sample();
    expect(busy.changes).toEqual([]);
    const roomy = box(4, { current: 2, running: 0, queued: 0 }, { current: 0, running: 0, queued: 0 });
    for (let i = 0; i < 5; i++) await roomy.sample();
    expect(roomy.changes).toEqual([]);
  });
});
