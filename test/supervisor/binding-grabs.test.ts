import { afterEach, describe, expect, it } from 'vitest';
import { PacketType } from '../../src/protocol/constants.js';
import { FunctionBinding } from '../../src/supervisor/function-binding.js';
import type { CommandFunctionConfig } from '../../src/supervisor/manifest/types.js';
import { FunctionRuntime } from '../../src/supervisor/runtime/function-runtime.js';
import { sleep, waitFor } from '../worker/helpers.js';
import { ScriptedServer } from '../worker/scripted-server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A command that sleeps for the payload's seconds, then prints done. */
const kSleeper: CommandFunctionConfig = {
  name: 'nap',
  kind: 'command',
  command: ['/bin/sh', '-c', 'sleep "$(cat)"; echo done'],
  cwd: '/',
  env: {},
  output: 'result',
  concurrency: 2,
  payload: 'buffer',
  exceptions: true,
};

/** One function with concurrency 2 bound to two scripted servers, one connection each. */
async function bindTwoServers(): Promise<{ a: ScriptedServer; b: ScriptedServer; binding: FunctionBinding }> {
  const a = await ScriptedServer.start();
  const b = await ScriptedServer.start();
  cleanups.push(
    () => a.close(),
    () => b.close(),
  );
  const runtime = new FunctionRuntime(kSleeper);
  await runtime.start();
  const binding = new FunctionBinding(runtime, {
    servers: [
      { host: '127.0.0.1', port: a.port, connections: 1 },
      { host: '127.0.0.1', port: b.port, connections: 1 },
    ],
  });
  cleanups.push(() => binding.close({ deadline: performance.now(), force: true }));
  await binding.start();
  // Each connection probes GRAB_JOB_ALL once: the gate's two slots are both promised.
  for (const server of [a, b]) {
    await server.until('the probe', (r) => r.some((p) => p.type === 'GRAB_JOB_ALL'));
  }
  return { a, b, binding };
}

const grabs = (server: ScriptedServer) => server.count('GRAB_JOB_ALL');

describe('FunctionBinding: a grab only with a free slot, across its connections', () => {
  // Issue 10 item 4: the first job's answer confirmed GRAB_JOB_ALL and the connection
  // grabbed for its other slots before the shared gate counted that job.
  it('counts a job in the shared gate before its connection grabs for the other slots', async () => {
    const { a, b, binding } = await bindTwoServers();
    a.send(PacketType.JOB_ASSIGN_ALL, ['H:a:1', 'nap', '', '', '5']);
    await waitFor('the job to start', () => binding.runtime.running === 1);
    await sleep(100);
    // One job held and one grab out (b's probe): both slots taken, so no grab more.
    expect(grabs(a) + grabs(b)).toBe(2);
    const { running, free, limit } = binding.gate;
    // Two slots: one job running, so the other is b's grab on the wire, and none is free.
    expect({ running, free, limit }).toEqual({ running: 1, free: 0, limit: 2 });
  });

  it("refills a freed slot on the job's own connection, behind its result in one write", async () => {
    const { a, b, binding } = await bindTwoServers();
    a.send(PacketType.JOB_ASSIGN_ALL, ['H:a:1', 'nap', '', '', '5']);
    b.send(PacketType.JOB_ASSIGN_ALL, ['H:b:1', 'nap', '', '', '0.2']);
    await waitFor('both jobs to start', () => binding.runtime.running === 2);
    a.received.length = 0;
    b.received.length = 0;
    await b.until('the job on b to end', (r) => r.some((p) => p.type === 'WORK_COMPLETE'));
    await sleep(100);
    // a is awake with room of its own, but the slot is b's: a grab on a could reach the
    // job server before b's WORK_COMPLETE, and it would count three jobs for two slots.
    expect(b.writes()).toEqual([['WORK_COMPLETE', 'GRAB_JOB_ALL']]);
    expect(a.received).toEqual([]);
  });
});
