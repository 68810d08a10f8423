import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeWithPeers } from '../helpers/peers.js';
import { BoxFixture } from './box-fixture.js';

const kPaced = 'concurrency: 4, jobsPerThread: 4, rateLimit: { jobs: 2, per: 100ms }';

/**
 * Issue 15, "rate limits": 20 jobs/s (2 per 100 ms) measured over 3 s rather than the
 * issue's 10 s: with a 100 ms window the count can be off by at most the 2 jobs of one
 * window at each end of the run, so 3 s keeps 10% honest (60 ± 4 at worst).
 */
describeWithPeers(['gearmand'], 'Rate limits against gearmand', () => {
  let fx: BoxFixture;

  beforeEach(async () => {
    fx = await BoxFixture.start();
  });

  afterEach(async () => {
    await fx.stop();
  });

  it('starts no more than rateLimit allows (within 10% over 3 s), leaving the rest at the job server', async () => {
    await fx.queue('paced', 150, 5);
    const box = fx.box('', { paced: kPaced });
    const ends: number[] = [];
    box.on('jobEnd', () => ends.push(performance.now()));
    await box.start();
    const deadline = performance.now() + 20_000;
    while (
      (ends.length === 0 || performance.now() < (ends[0] as number) + 3200) &&
      performance.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 50));
    const first = ends[0] as number;
    const inThreeSeconds = ends.filter((t) => t < first + 3000).length;
    // The limit is the upper bound, exact to 10%; the lower one only catches a limiter
    // much stricter than asked: on a loaded machine (a full suite beside other work)
    // jobs start late for reasons of their own (seen: 52 of 60).
    expect(inThreeSeconds).toBeGreaterThanOrEqual(48);
    expect(inThreeSeconds).toBeLessThanOrEqual(66);
    // The jobs it did not take wait at gearmand, where another box could run them.
    expect((await fx.counts(['paced'])).total).toBeGreaterThan(60);
    const limit = box.functions()[0]?.rateLimit;
    expect(limit).toMatchObject({ jobs: 2, perMs: 100 });
    expect(limit?.hits).toBeGreaterThan(10);
    expect(limit?.throttledMs).toBeGreaterThan(1000);
  });

  it('applies a removed rate limit on reload: the rest of the queue goes at full speed', async () => {
    await fx.queue('paced', 120, 5);
    const box = fx.box('', { paced: kPaced });
    await box.start();
    await new Promise((r) => setTimeout(r, 500));
    expect(box.functions()[0]?.done).toBeLessThan(20);
    const reloaded = performance.now();
    await fx.reload('', { paced: 'concurrency: 4, jobsPerThread: 4' });
    await fx.peakUntil(['paced'], (row) => row.total === 0);
    // At 20 jobs/s, the 100 or so left would take 5 s.
    expect(performance.now() - reloaded).toBeLessThan(3000);
    expect(box.functions()[0]).toMatchObject({ done: 120, rateLimit: null, generation: 1 });
  });
});
