import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import { usableCores } from '../../src/supervisor/capacity/usable-cores.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';

/**
 * Issue 15, "a budget for the whole box": gearmand counts a job as running from the
 * moment a worker grabs it, so its `status` sampled every few ms shows whether the box
 * ever held more than its slots (the way issue 10 item 4's grab-rule tests sample).
 */
/** One thread runs the four (the handler only waits): fewer threads to start on a loaded box. */
const kFour = 'concurrency: 4, jobsPerThread: 4';

describeWithPeers(['gearmand'], 'The box budget against gearmand', () => {
  let gearmand: GearmandHandle;
  let supervisor: Supervisor | undefined;
  let client: Client | undefined;
  let admin: AdminClient | undefined;
  let dir: string;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gworker-box-'));
    writeFileSync(
      path.join(dir, 'slow.js'),
      'export default async (p) => { await new Promise((r) => setTimeout(r, Number(p.toString()))); return "ok"; };',
    );
    gearmand = await startGearmand();
    client = new Client({ servers: [gearmand.address] });
    admin = new AdminClient({ server: gearmand.address });
  });

  afterEach(async () => {
    await admin?.close();
    await client?.close();
    await supervisor?.close({ force: true });
    admin = undefined;
    client = undefined;
    supervisor = undefined;
    await killAll();
  });

  /** A manifest of `functions` (name → extra settings), each running slow.js. */
  function manifestText(top: string, functions: Record<string, string>): string {
    const handler = path.join(dir, 'slow.js');
    const lines = Object.entries(functions).map(
      ([name, extra]) => `  ${name}: { handler: ${handler}, ${extra} }`,
    );
    return `servers: ["${gearmand.address}"]\nconnections: 2\nshutdownTimeout: 2s\n${top}functions:\n${lines.join('\n')}\n`;
  }

  function start(top: string, functions: Record<string, string>): Supervisor {
    const file = path.join(dir, 'gworker.yaml');
    const text = manifestText(top, functions);
    writeFileSync(file, text);
    supervisor = new Supervisor(parseManifest(text, file, { env: {} }), { regrabIntervalMs: 500 });
    return supervisor;
  }

  function reload(top: string, functions: Record<string, string>): Promise<void> {
    const file = path.join(dir, 'gworker.yaml');
    const text = manifestText(top, functions);
    return (supervisor as Supervisor).applyManifest(parseManifest(text, file, { env: {} }));
  }

  async function queue(fn: string, jobs: number, ms: number): Promise<void> {
    const c = client as Client;
    for (let i = 0; i < jobs; i += 50) {
      const batch = Array.from({ length: Math.min(50, jobs - i) }, () => c.submitBackground(fn, String(ms)));
      await Promise.all(batch);
    }
  }

  /** gearmand's running count summed over `names`, and whether any of them still has jobs. */
  async function running(names: readonly string[]): Promise<{ running: number; total: number }> {
    const rows = (await (admin as AdminClient).status()).filter((r) => names.includes(r.function));
    return {
      running: rows.reduce((sum, r) => sum + r.running, 0),
      total: rows.reduce((sum, r) => sum + r.total, 0),
    };
  }

  /** Samples every few ms until `until` holds (bounded: 20 s); returns the highest running count seen. */
  async function peakUntil(names: readonly string[], until: (row: { total: number }) => boolean) {
    let peak = 0;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      let row: { running: number; total: number };
      try {
        row = await running(names);
      } catch {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      peak = Math.max(peak, row.running);
      if (until(row)) return peak;
      await new Promise((r) => setTimeout(r, 3));
    }
    throw new Error('jobs still queued or running after 20 s');
  }

  it('never runs more jobs at once than box.slots, whatever each function’s concurrency', async () => {
    const names = ['a', 'b', 'c'];
    for (const name of names) await queue(name, 12, 60);
    const box = start('box: { slots: 3 }\n', { a: kFour, b: kFour, c: kFour });
    const started = box.start();
    const peak = await peakUntil(names, (row) => row.total === 0);
    await started;
    expect(peak).toBe(3);
    expect(box.functions().map((f) => f.done)).toEqual([12, 12, 12]);
    expect(box.boxStatus()).toMatchObject({ slots: 3, used: 0 });
  });

  it('applies a changed box.slots on reload, without a new thread generation', async () => {
    const names = ['a', 'b'];
    const fns = { a: kFour, b: kFour };
    const box = start('box: { slots: 1 }\n', fns);
    await box.start();
    await queue('a', 20, 80);
    await queue('b', 20, 80);
    // Sample a while at one slot, then raise it to three.
    const sampled = Date.now();
    const low = await peakUntil(names, () => Date.now() - sampled > 600);
    expect(low).toBe(1);
    await reload('box: { slots: 3 }\n', fns);
    const high = await peakUntil(names, (row) => row.total === 0);
    expect(high).toBe(3);
    expect(box.functions().map((f) => f.generation)).toEqual([1, 1]);
  });

  /** Runs two busy functions for `ms` on a box of `slots`; returns the jobs each finished. */
  async function race(slots: number, weights: [number, number], ms: number): Promise<[number, number]> {
    await queue('a', 400, 20);
    await queue('b', 400, 20);
    const box = start(`box: { slots: ${slots} }\n`, {
      a: `concurrency: ${slots}, jobsPerThread: ${slots}, weight: ${weights[0]}`,
      b: `concurrency: ${slots}, jobsPerThread: ${slots}, weight: ${weights[1]}`,
    });
    await box.start();
    await new Promise((r) => setTimeout(r, ms));
    await box.close({ force: true });
    const [a, b] = box.functions().map((f) => f.done);
    return [a ?? 0, b ?? 0];
  }

  it('shares slots evenly between two busy functions of equal weight (within 10%)', async () => {
    const [a, b] = await race(2, [1, 1], 3000);
    expect(a + b).toBeGreaterThan(60);
    expect(Math.abs(a - b) / Math.max(a, b)).toBeLessThan(0.1);
  });

  it('shares slots 3:1 between two busy functions of weights 3 and 1', async () => {
    const [a, b] = await race(4, [3, 1], 3000);
    expect(a + b).toBeGreaterThan(100);
    expect(a / b).toBeGreaterThan(2.6);
    expect(a / b).toBeLessThan(3.4);
  });

  it('keeps CPU-bound functions together to the usable cores by default, and others free of that bound', async () => {
    const cores = usableCores();
    const jobs = 4 * cores;
    await queue('hot', jobs, 80);
    await queue('warm', jobs, 80);
    await queue('io', jobs, 80);
    const box = start('', {
      hot: `concurrency: ${2 * cores}, jobsPerThread: ${2 * cores}, cpu: true`,
      warm: `concurrency: ${2 * cores}, jobsPerThread: ${2 * cores}, cpu: true`,
      io: `concurrency: ${2 * cores}, jobsPerThread: ${2 * cores}`,
    });
    expect(box.boxStatus()).toMatchObject({ slots: null, cpuSlots: cores });
    const started = box.start();
    const cpuPeak = peakUntil(['hot', 'warm'], (row) => row.total === 0);
    const ioPeak = peakUntil(['io'], (row) => row.total === 0);
    await started;
    expect(await cpuPeak).toBe(cores);
    expect(await ioPeak).toBe(2 * cores);
  });
});
