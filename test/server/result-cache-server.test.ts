import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { ErrorCode } from '../../src/errors.js';
import { PacketType } from '../../src/protocol/constants.js';
import type { ResultCacheOptions } from '../../src/server/result-cache.js';
import type { Job } from '../../src/worker/job.js';
import { Worker } from '../../src/worker/worker.js';
import { describeWithPeers } from '../helpers/peers.js';
import { sleep } from './helpers/conformance.js';
import { startServer } from './helpers/own-server.js';
import { RawClient, texts } from './helpers/raw-client.js';

const runFile = promisify(execFile);
const open: Array<Client | Worker> = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((peer) => peer.close()));
});

/** A server with the cache on, a worker that counts its jobs, and a client. */
async function setup(resultCache: ResultCacheOptions, handler?: (job: Job) => string) {
  const { server, port } = await startServer({ resultCache });
  const calls: string[] = [];
  const worker = new Worker({ servers: [`127.0.0.1:${port}`], exceptions: true });
  open.push(worker);
  const answer = handler ?? ((job: Job) => `ran ${job.payload.toString()} #${calls.length}`);
  for (const fn of ['echo', 'other', 'flaky']) {
    worker.register(fn, (job) => {
      calls.push(`${fn}:${job.unique}`);
      return answer(job);
    });
  }
  await worker.start();
  const client = new Client({ servers: [`127.0.0.1:${port}`] });
  open.push(client);
  return { server, port, client, calls };
}

describe('the result cache on a live server', () => {
  it('answers a repeated foreground job from the cache without running it again', async () => {
    const { server, client, calls } = await setup({ ttlMs: 30_000 });
    const first = await client.run('echo', 'a', { unique: 'job-1' });
    const again = client.submit('echo', 'ignored', { unique: 'job-1' });
    expect((await again).toString()).toBe(first.toString());
    expect(first.toString()).toBe('ran a #1');
    expect(again.handle).toMatch(/^H:t:\d+$/);
    expect(calls).toEqual(['echo:job-1']);
    expect(server.cacheStats).toMatchObject({ entries: 1, hits: 1, misses: 1 });
  });

  it('runs the job again once the TTL has passed', async () => {
    const { client, calls } = await setup({ ttlMs: 150 });
    await client.run('echo', 'a', { unique: 'short' });
    await sleep(250);
    await client.run('echo', 'a', { unique: 'short' });
    expect(calls).toEqual(['echo:short', 'echo:short']);
  });

  it('misses for another unique, another function, an empty unique, and in the background', async () => {
    const { server, client, calls } = await setup({ ttlMs: 30_000 });
    await client.run('echo', 'a', { unique: 'u1' });
    await client.run('echo', 'a', { unique: 'u2' });
    await client.run('other', 'a', { unique: 'u1' });
    await client.run('echo', 'a');
    await client.run('echo', 'a');
    await client.submitBackground('echo', 'a', { unique: 'u1' });
    await client.run('echo', 'z', { unique: 'sync' }); // the background job ran before this one
    expect(calls).toEqual(['echo:u1', 'echo:u2', 'other:u1', 'echo:', 'echo:', 'echo:u1', 'echo:sync']);
    expect(server.cacheStats.hits).toBe(0);
  });

  it('keys the unique "-" by the payload', async () => {
    const { client, calls } = await setup({ ttlMs: 30_000 });
    const one = await client.run('echo', 'same', { unique: '-' });
    expect((await client.run('echo', 'same', { unique: '-' })).toString()).toBe(one.toString());
    await client.run('echo', 'different', { unique: '-' });
    expect(calls).toEqual(['echo:-', 'echo:-']);
  });

  it('never caches failures or exceptions', async () => {
    let mode = 'throw';
    const { client, calls, server } = await setup({ ttlMs: 30_000 }, (job) => {
      if (mode === 'throw') throw new Error('boom');
      if (mode === 'fail') job.fail();
      return 'fine';
    });
    await expect(client.run('flaky', 'x', { unique: 'f' })).rejects.toMatchObject({
      code: ErrorCode.JOB_EXCEPTION,
    });
    mode = 'fail';
    await expect(client.run('flaky', 'x', { unique: 'f' })).rejects.toMatchObject({
      code: ErrorCode.JOB_FAILED,
    });
    mode = 'ok';
    expect((await client.run('flaky', 'x', { unique: 'f' })).toString()).toBe('fine');
    expect((await client.run('flaky', 'x', { unique: 'f' })).toString()).toBe('fine');
    expect(calls).toEqual(['flaky:f', 'flaky:f', 'flaky:f']);
    expect(server.cacheStats.entries).toBe(1);
  });

  it('serves a background job’s result to a later foreground submit', async () => {
    const { client, calls } = await setup({ ttlMs: 30_000 });
    await client.submitBackground('echo', 'bg', { unique: 'pre' });
    await client.run('echo', 'z', { unique: 'sync' });
    expect((await client.run('echo', 'fg', { unique: 'pre' })).toString()).toBe('ran bg #1');
    expect(calls).toEqual(['echo:pre', 'echo:sync']);
  });

  it('caches only the functions named per function, and evicts by size', async () => {
    const { server, client, calls } = await setup({ functions: { echo: 30_000 }, maxBytes: 64 }, (job) =>
      job.payload.toString(),
    );
    await client.run('other', 'o', { unique: 'k' });
    await client.run('other', 'o', { unique: 'k' });
    await client.run('echo', 'x'.repeat(30), { unique: 'a' });
    await client.run('echo', 'y'.repeat(30), { unique: 'b' }); // pushes 'a' out: 2 × (30 + key) > 64
    await client.run('echo', 'x'.repeat(30), { unique: 'a' });
    await client.run('echo', 'x'.repeat(30), { unique: 'a' });
    expect(calls).toEqual(['other:k', 'other:k', 'echo:a', 'echo:b', 'echo:a']);
    expect(server.cacheStats).toMatchObject({ entries: 1, hits: 1 });
    expect(server.cacheStats.bytes).toBeLessThanOrEqual(64);
  });

  it('answers a cache hit with JOB_CREATED then WORK_COMPLETE, in order with what follows', async () => {
    const { port } = await setup({ ttlMs: 30_000 });
    const raw = await RawClient.connect(port);
    raw.send(PacketType.SUBMIT_JOB, ['echo', 'raw', 'p']);
    const [first] = texts(await raw.expect(PacketType.JOB_CREATED));
    await raw.expect(PacketType.WORK_COMPLETE);
    raw.send(PacketType.SUBMIT_JOB, ['echo', 'raw', 'p']).send(PacketType.ECHO_REQ, ['after']);
    const [handle] = texts(await raw.expect(PacketType.JOB_CREATED));
    expect(handle).not.toBe(first);
    expect(texts(await raw.expect(PacketType.WORK_COMPLETE))).toEqual([handle, 'ran p #1']);
    expect(texts(await raw.expect(PacketType.ECHO_RES))).toEqual(['after']);
    raw.send(PacketType.GET_STATUS, [handle as string]);
    expect(texts(await raw.expect(PacketType.STATUS_RES))).toEqual([handle, '0', '0', '0', '0']);
  });

  it('lists cached results with `show cache`', async () => {
    const { port, client } = await setup({ ttlMs: 30_000 });
    const admin = await RawClient.connect(port);
    expect(await admin.admin('show cache', 'list')).toEqual([]);
    await client.run('echo', 'abc', { unique: 'first' });
    await client.run('other', 'abcd', { unique: 'second' });
    const lines = await admin.admin('SHOW CACHE', 'list');
    expect(lines.map((line) => line.split('\t').slice(0, 3))).toEqual([
      ['echo', 'first', String('ran abc #1'.length)],
      ['other', 'second', String('ran abcd #2'.length)],
    ]);
    for (const line of lines) expect(Number(line.split('\t')[3])).toBeGreaterThanOrEqual(0);
    expect(await admin.admin('show cache now', 'line')).toEqual(['ERR UNKNOWN_SHOW_ARGUMENTS']);
  });

  it('answers `show cache` with an empty list when the cache is off', async () => {
    const { port } = await startServer();
    const admin = await RawClient.connect(port);
    expect(await admin.admin('show cache', 'list')).toEqual([]);
  });
});

describeWithPeers(['php'], 'the result cache and a PHP pecl client', () => {
  it('hands the cached result to doNormal without running the job again', async () => {
    const { port, client, calls } = await setup({ ttlMs: 30_000 });
    const first = (await client.run('echo', 'from-node', { unique: 'shared' })).toString();
    const script = `$c = new GearmanClient(); $c->addServer('127.0.0.1', ${port});
      $r = $c->doNormal('echo', 'from-php', 'shared');
      echo $c->returnCode() === GEARMAN_SUCCESS ? $r : 'error ' . $c->returnCode();`;
    const { stdout } = await runFile('php', ['-r', script], { timeout: 20_000 });
    expect(stdout).toBe(first);
    expect(calls).toEqual(['echo:shared']);
  });
});
