import { describe, expect, it } from 'vitest';
import { BoxBudget } from '../../src/supervisor/capacity/box-budget.js';
import { SlotGate } from '../../src/supervisor/slot-gate.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A function on the box: its gate, and how often the box woke it. */
function member(box: BoxBudget, name: string, concurrency: number, weight = 1, cpu = false) {
  const gate = new SlotGate(concurrency);
  const fn = { gate, wakes: 0, onWake: () => {} };
  gate.setBoxShare(
    box.share(name, { weight, cpu }, () => {
      fn.wakes++;
      fn.onWake();
    }),
  );
  return fn;
}

/** A grab that brought a job: the reservation becomes it. */
function grabJob(gate: SlotGate): boolean {
  if (!gate.tryReserve()) return false;
  gate.release('f');
  return true;
}

describe('BoxBudget', () => {
  it('refuses a grab when the box is full, whatever the function’s own concurrency', () => {
    const box = new BoxBudget({ slots: 3, cpuSlots: 100 });
    const a = member(box, 'a', 10);
    const b = member(box, 'b', 10);
    expect(grabJob(a.gate)).toBe(true);
    expect(grabJob(a.gate)).toBe(true);
    expect(b.gate.tryReserve()).toBe(true);
    expect(box.used).toBe(3);
    expect(a.gate.tryReserve()).toBe(false);
    expect(b.gate.tryReserve()).toBe(false);
    // A grab answered NO_JOB frees its box slot as it frees the function's.
    b.gate.release(null);
    expect(box.used).toBe(2);
    expect(grabJob(b.gate)).toBe(true);
    expect(box.used).toBe(3);
  });

  it('wakes the wanting function furthest below its weight when a slot frees', async () => {
    const box = new BoxBudget({ slots: 4, cpuSlots: 100 });
    const a = member(box, 'a', 10, 3);
    const b = member(box, 'b', 10, 1);
    for (let i = 0; i < 4; i++) expect(grabJob(a.gate)).toBe(true);
    // b asks and is refused: it waits for a slot.
    expect(b.gate.tryReserve()).toBe(false);
    expect(box.wanting).toBe(1);
    b.onWake = () => grabJob(b.gate);
    a.gate.jobEnded();
    // a's connection grabs behind its result first: b (0 of weight 1) is below a (3 of 3).
    expect(a.gate.tryReserve()).toBe(false);
    await tick();
    expect(b.wakes).toBe(1);
    expect(a.wakes).toBe(0);
    expect(b.gate.running).toBe(1);
    expect(box.used).toBe(4);
    // b's job ends: b (0 of 1) is still below a (3 of 3), so b's own grab behind its result goes.
    b.gate.jobEnded();
    expect(grabJob(b.gate)).toBe(true);
    await tick();
    expect(a.wakes).toBe(0);
    // One of a's ends: a (2 of 3) is below b (1 of 1) and takes it back.
    a.onWake = () => grabJob(a.gate);
    a.gate.jobEnded();
    expect(grabJob(a.gate)).toBe(true);
    expect(box.used).toBe(4);
  });

  it('shares slots 3:1 between two functions that always want more', async () => {
    const box = new BoxBudget({ slots: 8, cpuSlots: 100 });
    const a = member(box, 'a', 20, 3);
    const b = member(box, 'b', 20, 1);
    // The jobs held, oldest first: each ends in turn, and its function asks again at once.
    const held: Array<typeof a> = [];
    const fill = (fn: typeof a) => {
      while (grabJob(fn.gate)) held.push(fn);
    };
    a.onWake = () => fill(a);
    b.onWake = () => fill(b);
    fill(a);
    fill(b);
    expect(a.gate.running).toBe(8);
    let doneA = 0;
    let doneB = 0;
    for (let i = 0; i < 400; i++) {
      const ending = held.shift() as typeof a;
      ending.gate.jobEnded();
      if (ending === a) doneA++;
      else doneB++;
      fill(ending);
      await tick();
    }
    expect(a.gate.running).toBe(6);
    expect(b.gate.running).toBe(2);
    expect(doneA / doneB).toBeGreaterThan(2.7);
    expect(doneA / doneB).toBeLessThan(3.3);
  });

  it('bounds CPU-bound functions together by the CPU slots, not the others', () => {
    const box = new BoxBudget({ slots: Number.POSITIVE_INFINITY, cpuSlots: 2 });
    const cpuA = member(box, 'a', 10, 1, true);
    const cpuB = member(box, 'b', 10, 1, true);
    const io = member(box, 'io', 10);
    expect(grabJob(cpuA.gate)).toBe(true);
    expect(grabJob(cpuB.gate)).toBe(true);
    expect(cpuA.gate.tryReserve()).toBe(false);
    expect(cpuB.gate.tryReserve()).toBe(false);
    for (let i = 0; i < 10; i++) expect(grabJob(io.gate)).toBe(true);
    expect(box.cpuUsed).toBe(2);
    expect(box.used).toBe(12);
  });

  it("tells the autoscaler whether a function's kind of job has a free slot", () => {
    const box = new BoxBudget({ slots: 3, cpuSlots: 1 });
    const cpu = member(box, 'cpu', 10, 1, true);
    const io = member(box, 'io', 10);
    expect(box.hasRoom(true)).toBe(true);
    expect(grabJob(cpu.gate)).toBe(true);
    // The CPU slot is taken: more slots for a CPU-bound function would run nothing more.
    expect(box.hasRoom(true)).toBe(false);
    expect(box.hasRoom(false)).toBe(true);
    expect(grabJob(io.gate)).toBe(true);
    expect(grabJob(io.gate)).toBe(true);
    expect(box.hasRoom(false)).toBe(false);
    box.holdForMemory(false);
    box.setLimits({ slots: 4, cpuSlots: 1 });
    expect(box.hasRoom(false)).toBe(true);
    box.holdForMemory(true);
    expect(box.hasRoom(false)).toBe(false);
  });

  it('holds every grab while memory is over, and wakes the wanting when it is back under', async () => {
    const box = new BoxBudget({ slots: Number.POSITIVE_INFINITY, cpuSlots: 4 });
    const a = member(box, 'a', 2);
    box.holdForMemory(true);
    expect(a.gate.tryReserve()).toBe(false);
    expect(box.wanting).toBe(1);
    box.holdForMemory(false);
    await tick();
    expect(a.wakes).toBe(1);
  });

  it('frees what a removed function held, and a lower slots bound applies to new grabs', () => {
    const box = new BoxBudget({ slots: 4, cpuSlots: 4 });
    const a = member(box, 'a', 4);
    const b = member(box, 'b', 4);
    for (let i = 0; i < 3; i++) grabJob(a.gate);
    box.setLimits({ slots: 2, cpuSlots: 4 });
    expect(b.gate.tryReserve()).toBe(false);
    box.remove(a.gate.boxShare as NonNullable<typeof a.gate.boxShare>);
    expect(box.used).toBe(0);
    expect(grabJob(b.gate)).toBe(true);
  });
});
