import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { ErrorCode } from '../../src/errors.js';
import { MAX_TIMER_MS } from '../../src/limits.js';

/** A port where nothing listens (bound, then released). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Client options and argument checks', () => {
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('validates its options up front', () => {
    expect(() => new Client({ servers: [] })).toThrow(RangeError);
    expect(() => new Client({ servers: ['host:99999'] })).toThrow(RangeError);
    expect(() => new Client({ connectTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => new Client({ maxFrameSize: -1 })).toThrow(RangeError);
    expect(new Client({ servers: ['[::1]:4731', { host: 'h', port: 1 }] }).servers).toEqual([
      '[::1]:4731',
      'h:1',
    ]);
  });

  it('refuses bad submits before connecting', async () => {
    const c = new Client({ servers: [`127.0.0.1:${await deadPort()}`] });
    clients.push(c);
    expect(() => c.submit('', 'x')).toThrow(TypeError);
    expect(() => c.submit('fn', 42 as unknown as string)).toThrow(TypeError);
    expect(() => c.submit('f\0n', 'x')).toThrow(TypeError);
    expect(() => c.submit('fn', 'x', { unique: 'u'.repeat(65) })).toThrow(RangeError);
    expect(() => c.submit('f'.repeat(513), 'x')).toThrow(RangeError);
    expect(() => c.submit('fn', 'x', { priority: 'urgent' as 'high' })).toThrow(TypeError);
    expect(() => c.submit('fn', 'x', { timeoutMs: -1 })).toThrow(RangeError);
    await expect(c.run('f'.repeat(513), 'x')).rejects.toBeInstanceOf(RangeError);
    await expect(c.submitBackground('fn', 'x', { epoch: -5 })).rejects.toBeInstanceOf(RangeError);
    await expect(c.getStatus('')).rejects.toBeInstanceOf(TypeError);
    await expect(c.getStatus('H:x:1', { server: '10.0.0.1:4730' })).rejects.toBeInstanceOf(RangeError);
  });

  it('refuses a timeout past 2^31-1 ms, which Node would fire after 1 ms, naming the limit', async () => {
    const c = new Client({ servers: [`127.0.0.1:${await deadPort()}`] });
    clients.push(c);
    const tooLong = MAX_TIMER_MS + 1;
    expect(() => c.submit('fn', 'x', { timeoutMs: tooLong })).toThrow(RangeError);
    expect(() => c.submit('fn', 'x', { timeoutMs: 30 * 24 * 3600 * 1000 })).toThrow(/2147483647 ms/);
    await expect(c.run('fn', 'x', { timeoutMs: tooLong })).rejects.toThrow(/timeoutMs .*2147483647 ms/);
    await expect(c.submitBackground('fn', 'x', { timeoutMs: tooLong })).rejects.toBeInstanceOf(RangeError);
    expect(() => new Client({ connectTimeoutMs: tooLong })).toThrow(/connectTimeoutMs .*2147483647 ms/);
    // The limit itself is a delay Node keeps, so it is allowed.
    const job = c.submit('fn', 'x', { timeoutMs: MAX_TIMER_MS });
    expect(await job.result.catch((err: unknown) => err)).toMatchObject({ code: ErrorCode.NO_SERVERS });
  });

  it('fails with NO_SERVERS when no server can be reached, without waiting for backoff', async () => {
    const c = new Client({ servers: [`127.0.0.1:${await deadPort()}`, `127.0.0.1:${await deadPort()}`] });
    clients.push(c);
    const started = Date.now();
    await expect(c.run('fn', 'x', { unique: 'a' })).rejects.toMatchObject({ code: ErrorCode.NO_SERVERS });
    await expect(c.submitBackground('fn', 'x')).rejects.toMatchObject({ code: ErrorCode.NO_SERVERS });
    await expect(c.connect()).rejects.toMatchObject({ code: ErrorCode.NO_SERVERS });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
