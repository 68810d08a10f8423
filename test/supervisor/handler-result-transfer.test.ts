import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModuleFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { HandlerPool, type ProgressSink } from '../../src/supervisor/pool/handler-pool.js';
import { runJob } from '../helpers/pool-run.js';

const echo = fileURLToPath(new URL('../fixtures/handlers/echo.js', import.meta.url));
const pools: HandlerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

const sink: ProgressSink = { status: () => {}, data: () => {}, warning: () => {} };
const meta = { handle: 'H:test:1', unique: '', functionName: 'echo' };

function bufferEcho(jobsPerThread: number): HandlerPool {
  const config: ModuleFunctionConfig = {
    name: 'echo',
    kind: 'module',
    handler: echo,
    export: 'default',
    concurrency: jobsPerThread,
    payload: 'buffer',
    exceptions: true,
    jobsPerThread,
  };
  const pool = new HandlerPool(config, 1);
  pools.push(pool);
  return pool;
}

describe('a handler returning a Buffer that owns its memory (moved, not copied)', () => {
  it('delivers the bytes when the handler returns its own payload', async () => {
    const pool = bufferEcho(1);
    const payload = Buffer.from(new Uint8Array([1, 2, 3, 250]));
    const outcome = await runJob(pool, meta, payload, sink);
    expect(outcome.ok).toBe(true);
    expect(outcome.ok && [...outcome.result]).toEqual([1, 2, 3, 250]);
  });

  it('delivers every result when several jobs share a thread', async () => {
    const pool = bufferEcho(4);
    const outcomes = await Promise.all(
      ['a', 'bb', 'ccc', 'dddd'].map((s) => runJob(pool, meta, new TextEncoder().encode(s), sink)),
    );
    expect(outcomes.map((o) => (o.ok ? Buffer.from(o.result).toString() : `failed: ${o.reason}`))).toEqual([
      'a',
      'bb',
      'ccc',
      'dddd',
    ]);
  });
});
