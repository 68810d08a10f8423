import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeWithPeers } from '../helpers/peers.js';
import { type LogEntry, linesWith, recordingLogger } from '../helpers/recording-logger.js';
import { BoxFixture } from './box-fixture.js';

const kFour = 'concurrency: 4, jobsPerThread: 4';

describeWithPeers(['gearmand'], 'box.memoryMb against gearmand', () => {
  let fx: BoxFixture;

  beforeEach(async () => {
    fx = await BoxFixture.start();
  });

  afterEach(async () => {
    await fx.stop();
  });

  it('takes no job while the box is resident over memoryMb, says so once, and takes them again when the limit is raised', async () => {
    const lines: LogEntry[] = [];
    // No supervisor is resident in 1 MiB: over from the first sample.
    const box = fx.box('box: { memoryMb: 1 }\n', { a: kFour }, recordingLogger(lines));
    await box.start();
    await fx.queue('a', 8, 20);
    // Over a second: several samples, each still over.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await fx.counts(['a'])).toEqual({ running: 0, total: 8 });
    const memory = box.boxStatus().memory;
    expect(memory).toMatchObject({ limitMb: 1, over: true, episodes: 1 });
    expect(memory?.residentMb).toBeGreaterThan(20);
    const over = linesWith(lines, 'over box.memoryMb');
    expect(over).toHaveLength(1);
    expect(over[0]?.obj).toMatchObject({ memoryMb: 1 });
    await fx.reload('box: { memoryMb: 1000000 }\n', { a: kFour });
    await fx.peakUntil(['a'], (row) => row.total === 0);
    expect(box.functions()[0]?.done).toBe(8);
    expect(box.boxStatus().memory).toMatchObject({ limitMb: 1_000_000, over: false, episodes: 1 });
    expect(linesWith(lines, 'back under box.memoryMb')).toHaveLength(1);
  });
});
