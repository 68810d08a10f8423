/**
 * What waking a sleeping thread costs on this machine, for the default-manifest rows'
 * notes (issue 13): the default path hands every job to a handler thread and its result
 * back, two wake-ups of a thread that sleeps between jobs, and on a VM each costs the
 * waker a system call that can take tens of microseconds (an inter-processor interrupt
 * to an idle virtual CPU). A MessagePort message and Atomics.notify wake a thread
 * through the same kernel path (measured: moving the job stream to SharedArrayBuffer
 * rings with Atomics.wait/notify saved nothing beyond noise), so one figure stands for
 * both. `dispatch: thread` pays none: the job server's write wakes the thread.
 */
import { Worker } from 'node:worker_threads';
import { median } from './stats.js';

export interface ThreadWakeCost {
  /** Median time of the Atomics.notify call that wakes the sleeping thread, in microseconds (the waker's CPU). */
  readonly notifyUs: number;
  /** Median time from that call to the thread running, in microseconds. */
  readonly latencyUs: number;
}

const kWakes = 400;
/** Between wakes: long enough for the thread (and its CPU) to go to sleep, as between jobs. */
const kGapMs = 1;

const kSleeper = `
const { workerData: shared } = require('node:worker_threads');
const flags = new Int32Array(shared, 0, 4);
const times = new BigInt64Array(shared, 16, 2);
let seen = 0;
for (;;) {
  Atomics.wait(flags, 0, seen);
  seen = Atomics.load(flags, 0);
  if (seen < 0) break;
  times[1] = process.hrtime.bigint();
  Atomics.store(flags, 1, seen);
}
`;

export async function measureThreadWake(): Promise<ThreadWakeCost> {
  const shared = new SharedArrayBuffer(32);
  const flags = new Int32Array(shared, 0, 4);
  const times = new BigInt64Array(shared, 16, 2);
  const thread = new Worker(kSleeper, { eval: true, workerData: shared });
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const notifyUs: number[] = [];
    const latencyUs: number[] = [];
    for (let wake = 1; wake <= kWakes; wake++) {
      await new Promise((resolve) => setTimeout(resolve, kGapMs));
      const before = process.hrtime.bigint();
      Atomics.store(flags, 0, wake);
      Atomics.notify(flags, 0);
      const after = process.hrtime.bigint();
      // Bounded: the thread answers within microseconds, or the bench is broken anyway.
      const deadline = Date.now() + 1000;
      while (Atomics.load(flags, 1) !== wake && Date.now() < deadline) {}
      notifyUs.push(Number(after - before) / 1000);
      latencyUs.push(Number((times[1] ?? before) - before) / 1000);
    }
    return { notifyUs: median(notifyUs), latencyUs: median(latencyUs) };
  } finally {
    Atomics.store(flags, 0, -1);
    Atomics.notify(flags, 0);
    await thread.terminate();
  }
}
