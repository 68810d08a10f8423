import type { RunnableJob } from '../../src/supervisor/runtime/function-runtime.js';

/** A job that records what the runtime sent for it, in order, in `sent`. */
export function fakeJob(payload: string, handle = 'H:t:1'): RunnableJob & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    handle,
    unique: '',
    functionName: 'f',
    payload: Buffer.from(payload),
    signal: new AbortController().signal,
    status: (n, d) => sent.push(`status ${n}/${d}`) > 0,
    data: (c) => sent.push(`data ${Buffer.from(c)}`) > 0,
    warning: (c) => sent.push(`warning ${Buffer.from(c)}`) > 0,
    complete: (r) => sent.push(`complete ${Buffer.from(r)}`) > 0,
    fail: () => sent.push('fail') > 0,
    exception: (p) => sent.push(`exception ${p}`) > 0,
  };
}
