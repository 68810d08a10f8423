import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FunctionRuntime, type RunnableJob } from '../../src/supervisor/runtime/function-runtime.js';

// Many jobs on shared threads while some of them spin past their timeout: the threads
// under those are ended, and every other job must still end exactly once: with its own
// result (run again elsewhere if its thread was ended under it), or, if its own deadline
// passed while the spinner held its thread, as timed out.

const runtimes: FunctionRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.destroy()));
});

const kHandler = `
export default async function (payload) {
  if (payload === 'spin') for (;;) {}
  if (payload === 'throw') throw new Error('thrown');
  await new Promise((resolve) => setTimeout(resolve, Number(payload.split(':')[1]) % 25));
  return payload.toUpperCase();
}
`;

function recordingJob(payload: string, n: number): RunnableJob & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    handle: `H:t:${n}`,
    unique: '',
    functionName: 'f',
    payload: Buffer.from(payload),
    signal: new AbortController().signal,
    status: () => true,
    data: () => true,
    warning: () => true,
    complete: (r) => sent.push(`complete ${Buffer.from(r)}`) > 0,
    fail: () => sent.push('fail') > 0,
    exception: (p) => sent.push(`exception ${p}`) > 0,
  };
}

it('ends every job exactly once when threads shared by 8 jobs are ended for timeouts', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-timeouts-'));
  const file = path.join(dir, 'handler.js');
  writeFileSync(file, kHandler);
  const runtime = new FunctionRuntime({
    name: 'f',
    kind: 'module',
    handler: file,
    export: 'default',
    concurrency: 16,
    jobsPerThread: 8,
    payload: 'text',
    exceptions: true,
    timeoutMs: 400,
  });
  runtimes.push(runtime);
  await runtime.start();
  const payloads = Array.from({ length: 240 }, (_, i) =>
    i === 40 || i === 170 ? 'spin' : i % 17 === 5 ? 'throw' : `ok:${i}`,
  );
  const jobs = payloads.map((payload, i) => recordingJob(payload, i));
  // At most `concurrency` at once, as the slot gate lets them in.
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) await runtime.run(jobs[next++] as RunnableJob);
  };
  await Promise.all(Array.from({ length: 16 }, lane));
  let draggedDown = 0;
  jobs.forEach((job, i) => {
    const payload = payloads[i] as string;
    if (payload === 'spin') expect(job.sent).toEqual(['exception timed out after 400 ms']);
    else if (job.sent[0]?.startsWith('exception timed out')) {
      // Its thread spun for another job past its own deadline: it did time out, once.
      expect(job.sent).toEqual(['exception timed out after 400 ms']);
      draggedDown++;
    } else {
      const expected = payload === 'throw' ? 'exception thrown' : `complete ${payload.toUpperCase()}`;
      expect({ i, sent: job.sent }).toEqual({ i, sent: [expected] });
    }
  });
  // Only jobs that shared a thread with a spinner (7 each at most) may have timed out.
  expect(draggedDown).toBeLessThanOrEqual(14);
}, 30_000);
