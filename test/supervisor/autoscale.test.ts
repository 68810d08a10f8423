import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { GearmanServer } from '../../src/server/server.js';
import type { AutoscalerOptions } from '../../src/supervisor/capacity/autoscaler.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { Supervisor, type SupervisorEvents } from '../../src/supervisor/supervisor.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { eventually } from './control-fixture.js';

// Issue 15, autoscaling per function: the supervisor follows the job servers' queues.

const fixtures = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
/** Test-only timings: a sample every 100 ms, idle for 800 ms before scaling down. */
const kFast: AutoscalerOptions = { sampleMs: 100, downAfterMs: 800 };

type Change = SupervisorEvents['scale'][0];

interface Running {
  readonly supervisor: Supervisor;
  readonly client: Client;
  readonly changes: Change[];
  readonly file: string;
  readonly address: string;
}

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

function writeManifest(file: string, address: string, functions: string, top = ''): string {
  const text = `servers: ["${address}"]\nconnections: 1\nshutdownTimeout: 5s\n${top}functions:\n${functions}`;
  writeFileSync(file, text);
  return text;
}

/** A supervisor on `address` (the embedded server unless given), recording every change of slots. */
async function start(
  functions: string,
  address?: string,
  timing: { autoscale?: AutoscalerOptions; top?: string } = { autoscale: kFast },
): Promise<Running> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gworker-autoscale-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  let server = address;
  if (server === undefined) {
    const embedded = new GearmanServer({ host: '127.0.0.1', port: 0 });
    const { port } = await embedded.listen();
    cleanups.push(() => embedded.close());
    server = `127.0.0.1:${port}`;
  }
  const file = path.join(dir, 'gworker.yaml');
  const text = writeManifest(file, server, functions.replaceAll('$FIXTURES', fixtures), timing.top);
  const supervisor = new Supervisor(parseManifest(text, file, { env: {} }), {
    regrabIntervalMs: 300,
    ...(timing.autoscale === undefined ? {} : { autoscale: timing.autoscale }),
  });
  const changes: Change[] = [];
  supervisor.on('scale', (change) => changes.push(change));
  cleanups.push(async () => {
    await supervisor.close({ force: true });
  });
  await supervisor.start();
  const client = new Client({ servers: [server] });
  cleanups.push(() => client.close());
  return { supervisor, client, changes, file, address: server };
}

const slots = (run: Running, fn: string) => run.supervisor.functions().find((f) => f.name === fn);

async function backlog(run: Running, jobs: number, ms: number): Promise<void> {
  for (let i = 0; i < jobs; i++) await run.client.submitBackground('sleeps', String(ms));
}

describe('autoscaling against the embedded server', () => {
  it('reaches max under a backlog, and returns to min once idle', async () => {
    const run = await start(
      '  sleeps: { handler: $FIXTURES/sleeps.js, payload: text, concurrency: { min: 1, max: 3 } }\n',
    );
    expect(slots(run, 'sleeps')).toMatchObject({
      concurrency: 1,
      scaling: { mode: 'auto', min: 1, max: 3, lastChange: null },
    });
    await backlog(run, 20, 200);
    await eventually(() => slots(run, 'sleeps')?.concurrency === 3, 5000);
    const up = slots(run, 'sleeps')?.scaling.lastChange;
    expect(up).toMatchObject({ to: 3, by: 'autoscaler' });
    expect(up?.why).toMatch(/job\(s\) waiting at the job servers/);
    await eventually(() => slots(run, 'sleeps')?.done === 20, 10_000);
    await eventually(() => slots(run, 'sleeps')?.concurrency === 1, 5000);
    expect(slots(run, 'sleeps')?.scaling.lastChange).toMatchObject({ to: 1, by: 'autoscaler' });
    // Up, then down (in one or two steps): nothing back and forth.
    expect(run.changes.length).toBeLessThanOrEqual(4);
    expect(run.changes.filter((c) => c.to > c.from).length).toBeLessThanOrEqual(2);
  });

  it('takes its timing from the manifest’s autoscale:', async () => {
    const run = await start(
      '  sleeps: { handler: $FIXTURES/sleeps.js, payload: text, concurrency: { min: 1, max: 2 } }\n',
      undefined,
      { top: 'autoscale: { interval: 100ms, scaleDownAfter: 600ms }\n' },
    );
    await backlog(run, 10, 200);
    await eventually(() => slots(run, 'sleeps')?.concurrency === 2, 5000);
    await eventually(() => slots(run, 'sleeps')?.done === 10, 10_000);
    // 600 ms idle, not the default 30 s.
    await eventually(() => slots(run, 'sleeps')?.concurrency === 1, 5000);
    expect(slots(run, 'sleeps')?.scaling.lastChange?.why).toContain('for 600ms');
  });

  it('starts a min: 0 function with no slots, and takes its jobs once they wait', async () => {
    const run = await start(
      '  sleeps: { handler: $FIXTURES/sleeps.js, payload: text, concurrency: { min: 0, max: 2 } }\n',
    );
    expect(slots(run, 'sleeps')?.concurrency).toBe(0);
    expect((await run.client.run('sleeps', '10')).toString()).toBe('slept 10');
    expect(run.changes[0]).toMatchObject({ from: 0, by: 'autoscaler' });
    await eventually(() => slots(run, 'sleeps')?.concurrency === 0, 5000);
  });

  it('does not flap under a steady load that keeps its slots busy', async () => {
    const run = await start(
      '  sleeps: { handler: $FIXTURES/sleeps.js, payload: text, concurrency: { min: 1, max: 4 } }\n',
    );
    // Two callers, each running one 100 ms job after another: two slots' worth of work.
    const until = Date.now() + 4000;
    const caller = async () => {
      while (Date.now() < until) await run.client.run('sleeps', '100');
    };
    await Promise.all([caller(), caller()]);
    const ups = run.changes.filter((c) => c.to > c.from);
    const downs = run.changes.filter((c) => c.to < c.from);
    expect(ups.length).toBeGreaterThanOrEqual(1);
    // Up once (perhaps twice), and at most one step back down to what the load uses.
    expect(run.changes.length).toBeLessThanOrEqual(3);
    expect(downs.length).toBeLessThanOrEqual(1);
    expect(slots(run, 'sleeps')?.concurrency).toBeGreaterThanOrEqual(2);
  });

  it('makes no change once a stop has begun, while jobs still wait', async () => {
    const run = await start(
      '  sleeps: { handler: $FIXTURES/sleeps.js, payload: text, concurrency: { min: 1, max: 3 } }\n',
    );
    // Queued while paused, so the stop begins at 1 slot with jobs waiting.
    run.supervisor.pause('sleeps');
    await backlog(run, 10, 800);
    // A paused function's jobs wait for the resume, not for slots: no change meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 400));
    const before = run.changes.length;
    run.supervisor.resume('sleeps');
    await eventually(() => (slots(run, 'sleeps')?.running ?? 0) > 0, 5000);
    const changesAtStop = run.changes.length;
    const closed = run.supervisor.close({ timeoutMs: 5000 });
    await closed;
    // Samples every 100 ms for the ~800 ms the running job took: none may scale a stopping box.
    expect(run.changes.slice(changesAtStop)).toEqual([]);
    expect(before).toBe(0);
  });

  it('holds a manual value under a backlog until scale --auto', async () => {
    const run = await start(
      '  sleeps: { handler: $FIXTURES/sleeps.js, payload: text, concurrency: { min: 1, max: 3 } }\n',
    );
    expect(await run.supervisor.scale('sleeps', 1)).toBe(true);
    expect(slots(run, 'sleeps')?.scaling.mode).toBe('manual');
    await backlog(run, 12, 150);
    // Many samples with jobs waiting: the autoscaler leaves a manual value alone.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(slots(run, 'sleeps')?.concurrency).toBe(1);
    expect(run.changes.filter((c) => c.by === 'autoscaler')).toEqual([]);
    expect(await run.supervisor.scaleAuto('sleeps')).toBe(true);
    expect(slots(run, 'sleeps')?.scaling.mode).toBe('auto');
    await eventually(() => slots(run, 'sleeps')?.concurrency === 3, 5000);
    expect(await run.supervisor.scaleAuto('nope')).toBe(false);
  });

  it('keeps a manual value over a reload unless the manifest changes that function’s concurrency', async () => {
    const fns = (timeout: string, concurrency: string) =>
      `  sleeps: { handler: ${fixtures}sleeps.js, payload: text, concurrency: ${concurrency}, timeout: ${timeout} }\n`;
    const run = await start(fns('5s', '2'));
    const reload = async (text: string) =>
      run.supervisor.applyManifest(
        parseManifest(writeManifest(run.file, run.address, text), run.file, { env: {} }),
      );
    await run.supervisor.scale('sleeps', 4);
    // Another setting changes: a new generation, and the manual 4 holds.
    await reload(fns('6s', '2'));
    expect(slots(run, 'sleeps')).toMatchObject({ concurrency: 4, threads: 4, scaling: { mode: 'manual' } });
    // Nothing changes: nothing reloads, the manual 4 holds.
    await reload(fns('6s', '2'));
    expect(slots(run, 'sleeps')).toMatchObject({ concurrency: 4, scaling: { mode: 'manual' } });
    // The function's concurrency changes: the manifest wins, and says why.
    await reload(fns('6s', '3'));
    expect(slots(run, 'sleeps')).toMatchObject({ concurrency: 3, threads: 3, scaling: { mode: 'fixed' } });
    expect(slots(run, 'sleeps')?.scaling.lastChange).toMatchObject({ from: 4, to: 3, by: 'manifest' });
    expect(slots(run, 'sleeps')?.scaling.lastChange?.why).toContain('manual value 4 dropped');
  });

  it('returns a fixed function to the manifest’s concurrency on scale --auto', async () => {
    const run = await start('  sleeps: { handler: $FIXTURES/sleeps.js, payload: text, concurrency: 2 }\n');
    await run.supervisor.scale('sleeps', 3);
    expect(slots(run, 'sleeps')).toMatchObject({ concurrency: 3, threads: 3, scaling: { mode: 'manual' } });
    await run.supervisor.scaleAuto('sleeps');
    expect(slots(run, 'sleeps')).toMatchObject({ concurrency: 2, threads: 2, scaling: { mode: 'fixed' } });
  });
});

describeWithPeers(['gearmand'], 'autoscaling against gearmand 1.1.20', () => {
  let gearmand: GearmandHandle | undefined;
  afterEach(async () => {
    await killAll();
    gearmand = undefined;
  });

  it('reaches max under a backlog at gearmand, and returns to min once idle', async () => {
    gearmand = await startGearmand();
    const run = await start(
      '  sleeps: { handler: $FIXTURES/sleeps.js, payload: text, concurrency: { min: 1, max: 3 } }\n',
      gearmand.address,
    );
    await backlog(run, 20, 200);
    await eventually(() => slots(run, 'sleeps')?.concurrency === 3, 5000);
    await eventually(() => slots(run, 'sleeps')?.done === 20, 10_000);
    await eventually(() => slots(run, 'sleeps')?.concurrency === 1, 5000);
    expect(run.changes.length).toBeLessThanOrEqual(4);
  });
});
