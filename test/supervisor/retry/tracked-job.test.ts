import { describe, expect, it } from 'vitest';
import type { CommandFunctionConfig, FunctionConfig } from '../../../src/supervisor/manifest/types.js';
import { wrapPayload } from '../../../src/supervisor/retry/carrier.js';
import { RetryService } from '../../../src/supervisor/retry/retry-service.js';
import { type InnerJob, TrackedJob, trackJob } from '../../../src/supervisor/retry/tracked-job.js';
import { runCommand } from '../../../src/supervisor/runtime/command-runner.js';

const config: FunctionConfig = {
  kind: 'module',
  name: 'big',
  handler: '/nowhere.js',
  export: 'default',
  concurrency: 1,
  payload: 'buffer',
  exceptions: true,
  jobsPerThread: 1,
  retry: { attempts: 3, backoff: 'fixed', delayMs: 1000, maxDelayMs: 1000, jitter: 0, on: ['exception'] },
};

function job(payload: Uint8Array): InnerJob & { warnings: string[] } {
  const warnings: string[] = [];
  const ok = () => true;
  return {
    warnings,
    handle: 'H:t:1',
    unique: 'u',
    functionName: 'big',
    payload,
    signal: new AbortController().signal,
    status: ok,
    data: ok,
    warning: (chunk) => warnings.push(Buffer.from(chunk).toString()) > 0,
    complete: ok,
    fail: ok,
    exception: ok,
  };
}

describe('a tracked job', () => {
  it('fails with the reason, not silently, when its payload is too large to wrap for a retry', async () => {
    const carried = wrapPayload(
      { attempt: 2, unique: 'u', key: 'k', firstFailedAt: Date.now(), errors: [] },
      Buffer.alloc(64 * 1024 * 1024 - 200),
    );
    const service = new RetryService();
    const tracked = new TrackedJob(
      job(carried),
      config,
      { host: '127.0.0.1', port: 1, connections: 1 },
      service,
    );
    const step = await tracked.afterFailure({ reason: 'handler', error: { name: 'Error', message: 'boom' } });
    expect(step).toEqual({
      kind: 'end',
      note: expect.stringMatching(
        /^attempt 2 of 3; not retried: the payload wrapped for a retry is \d+ bytes, past the 67108864-byte frame limit$/,
      ),
    });
    await service.close();
  });

  it('leaves jobs of functions without retry, dead letter or records as they are', () => {
    const plain = job(Buffer.from('x'));
    const { retry: _retry, ...noRetry } = config;
    expect(trackJob(plain, noRetry as FunctionConfig, undefined, new RetryService())).toBe(plain);
    expect(trackJob(plain, config, undefined, undefined)).toBeInstanceOf(TrackedJob);
  });

  it('shows the handler the payload, unique and attempt a retry carries', () => {
    const carried = wrapPayload(
      { attempt: 3, unique: 'order-1', key: 'k', firstFailedAt: 1, errors: [] },
      Buffer.from('the payload'),
    );
    const tracked = trackJob(job(carried), config, undefined, undefined) as TrackedJob;
    expect([tracked.attempt, tracked.unique, Buffer.from(tracked.payload).toString()]).toEqual([
      3,
      'order-1',
      'the payload',
    ]);
  });
});

describe('a command function', () => {
  it('gets the attempt as GWORKER_ATTEMPT', async () => {
    const command: CommandFunctionConfig = {
      kind: 'command',
      name: 'attempt',
      command: ['/bin/sh', '-c', 'printf %s "$GWORKER_ATTEMPT"'],
      cwd: '/',
      env: {},
      output: 'result',
      concurrency: 1,
      payload: 'buffer',
      exceptions: true,
    };
    const sink = { status() {}, data() {}, warning() {} };
    const meta = { handle: 'H:t:1', unique: 'u', functionName: 'attempt', attempt: 2 };
    const outcome = await runCommand(command, meta, new Uint8Array(0), sink);
    expect(outcome.ok && Buffer.from(outcome.result).toString()).toBe('2');
  });
});
