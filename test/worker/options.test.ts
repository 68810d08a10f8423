import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { Worker } from '../../src/worker/worker.js';

describe('Worker options and registration checks', () => {
  it('refuses bad options at construction', () => {
    expect(() => new Worker({ servers: [] })).toThrow(RangeError);
    expect(() => new Worker({ servers: ['127.0.0.1:99999'] })).toThrow(RangeError);
    expect(() => new Worker({ maxJobs: 0 })).toThrow(RangeError);
    expect(() => new Worker({ maxJobs: 1.5 })).toThrow(RangeError);
    expect(() => new Worker({ connectionsPerServer: 0 })).toThrow(RangeError);
    expect(() => new Worker({ grab: 'some' as 'all' })).toThrow(TypeError);
    expect(() => new Worker({ regrabIntervalMs: -1 })).toThrow(RangeError);
    expect(() => new Worker({ clientId: 'a\0b' })).toThrow(TypeError);
    expect(() => new Worker({ clientId: 'x'.repeat(255) })).toThrow(RangeError);
  });

  it('refuses bad function names, handlers and timeouts', () => {
    const worker = new Worker();
    expect(() => worker.register('', () => 'x')).toThrow(TypeError);
    expect(() => worker.register('a\0b', () => 'x')).toThrow(TypeError);
    expect(() => worker.register('f'.repeat(513), () => 'x')).toThrow(RangeError);
    expect(() => worker.register('f', 'nope' as unknown as () => string)).toThrow(TypeError);
    expect(() => worker.register('f', () => 'x', { timeoutMs: 0 })).toThrow(RangeError);
    expect(() => worker.register('f', () => 'x', { timeoutMs: 2.5 })).toThrow(RangeError);
    expect(() => worker.setMaxJobs(0)).toThrow(RangeError);
  });

  it('lists what it registered, and refuses to register or start once closed', async () => {
    const worker = new Worker();
    worker.register('a', () => 'x').register('b', () => 'x');
    expect(worker.unregister('a')).toBe(true);
    expect(worker.unregister('a')).toBe(false);
    expect(worker.functions).toEqual(['b']);
    await worker.close();
    expect(worker.closed).toBe(true);
    expect(() => worker.register('c', () => 'x')).toThrow(
      expect.objectContaining({ code: ErrorCode.CLOSED }),
    );
    await expect(worker.start()).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });

  it('rejects start() with CONNECT_FAILED when no server can be reached', async () => {
    const worker = new Worker({ servers: ['127.0.0.1:1'], reconnect: false });
    await expect(worker.start()).rejects.toMatchObject({ code: ErrorCode.CONNECT_FAILED });
    await worker.close();
  });
});
