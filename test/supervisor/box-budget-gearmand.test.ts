import { afterEach, beforeEach, expect, it } from 'vitest';
import { usableCores } from '../../src/supervisor/capacity/usable-cores.js';
import { describeWithPeers } from '../helpers/peers.js';
import { BoxFixture, expectBoxPeak } from './box-fixture.js';

/**
 * Issue 15, "a budget for the whole box": gearmand counts a job as running from the
 * moment a worker grabs it, so its `status` sampled every few ms shows whether the box
 * ever held more than its slots (the way issue 10 item 4's grab-rule tests sample),
 * beside the box's own count of the slots it holds (expectBoxPeak says how they differ).
 */
/** One thread runs the four (the handler only waits): fewer threads to start on a loaded box. */
const kFour = 'concurrency: 4, jobsPerThread: 4';

describeWithPeers(['gearmand'], 'The box budget against gearmand', () => {
  let fx: BoxFixture;

  beforeEach(async () => {
    fx = await BoxFixture.start();
  });

  afterEach(async () => {
    await fx.stop();
  });

  it('never runs more jobs at once than box.slots, whatever each function’s concurrency', async () => {
    const names = ['a', 'b', 'c'];
    for (const name of names) await fx.queue(name, 12, 60);
    const box = fx.box('box: { slots: 3 }\n', { a: kFour, b: kFour, c: kFour });
    const started = box.start();
    const peaks = await fx.peaksUntil(
      names,
      (row) => row.total === 0,
      () => box.boxStatus().used,
    );
    await started;
    expectBoxPeak(peaks, 3);
    expect(box.functions().map((f) => f.done)).toEqual([12, 12, 12]);
    expect(box.boxStatus()).toMatchObject({ slots: 3, used: 0 });
  });

  it('applies a changed box.slots on reload, without a new thread generation', async () => {
    const names = ['a', 'b'];
    const fns = { a: kFour, b: kFour };
    const box = fx.box('box: { slots: 1 }\n', fns);
    await box.start();
    await fx.queue('a', 20, 80);
    await fx.queue('b', 20, 80);
    // Sample a while at one slot, then raise it to three.
    const sampled = Date.now();
    const used = () => box.boxStatus().used;
    expectBoxPeak(await fx.peaksUntil(names, () => Date.now() - sampled > 600, used), 1);
    await fx.reload('box: { slots: 3 }\n', fns);
    expectBoxPeak(await fx.peaksUntil(names, (row) => row.total === 0, used), 3);
    expect(box.functions().map((f) => f.generation)).toEqual([1, 1]);
  });

  /**
   * Runs two busy functions for `ms` on a box of `slots`, sampling gearmand's running
   * count all along; returns the jobs each finished and the highest count seen.
   */
  async function race(
    slots: number,
    weights: [number, number],
    ms: number,
  ): Promise<[number, number, { server: number; box: number }]> {
    // 40 ms jobs: the round trip between two jobs of a slot is small beside them.
    await fx.queue('a', 300, 40);
    await fx.queue('b', 300, 40);
    // minThreads: 1: each function's thread is up at start, so a thread starting on
    // demand under load (100s of ms) does not decide the race instead of the box.
    const box = fx.box(`box: { slots: ${slots} }\n`, {
      a: `concurrency: ${slots}, jobsPerThread: ${slots}, minThreads: 1, weight: ${weights[0]}`,
      b: `concurrency: ${slots}, jobsPerThread: ${slots}, minThreads: 1, weight: ${weights[1]}`,
    });
    await box.start();
    // Counted from once both are connected: until then the first had every slot.
    const done = { a: 0, b: 0 };
    box.on('jobEnd', (info) => {
      if (info.result === 'complete') done[info.function as 'a' | 'b']++;
    });
    const started = performance.now();
    const peaks = await fx.peaksUntil(
      ['a', 'b'],
      () => performance.now() - started > ms,
      () => box.boxStatus().used,
    );
    const { a, b } = done;
    await box.close({ force: true });
    return [a, b, peaks];
  }

  it('shares slots evenly between two busy functions of equal weight (within 10%)', async () => {
    const [a, b, peaks] = await race(2, [1, 1], 3000);
    expectBoxPeak(peaks, 2);
    expect(a + b).toBeGreaterThan(40);
    expect(Math.abs(a - b) / Math.max(a, b)).toBeLessThan(0.1);
  });

  it('shares slots 3:1 between two busy functions of weights 3 and 1', async () => {
    const [a, b, peaks] = await race(4, [3, 1], 3000);
    expectBoxPeak(peaks, 4);
    expect(a + b).toBeGreaterThan(80);
    expect(a / b).toBeGreaterThan(2.6);
    expect(a / b).toBeLessThan(3.4);
  });

  it('keeps CPU-bound functions together to the usable cores by default, and others free of that bound', async () => {
    const cores = usableCores();
    const jobs = 4 * cores;
    await fx.queue('hot', jobs, 80);
    await fx.queue('warm', jobs, 80);
    await fx.queue('io', jobs, 80);
    const box = fx.box('', {
      hot: `concurrency: ${2 * cores}, jobsPerThread: ${2 * cores}, cpu: true`,
      warm: `concurrency: ${2 * cores}, jobsPerThread: ${2 * cores}, cpu: true`,
      io: `concurrency: ${2 * cores}, jobsPerThread: ${2 * cores}`,
    });
    expect(box.boxStatus()).toMatchObject({ slots: null, cpuSlots: cores });
    const started = box.start();
    const cpuPeaks = fx.peaksUntil(
      ['hot', 'warm'],
      (row) => row.total === 0,
      () => box.boxStatus().cpuUsed,
    );
    const ioPeak = fx.peakUntil(['io'], (row) => row.total === 0);
    await started;
    expectBoxPeak(await cpuPeaks, cores);
    expect(await ioPeak).toBe(2 * cores);
  });
});
