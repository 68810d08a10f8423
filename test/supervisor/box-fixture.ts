import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import type { Logger } from '../../src/log.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { killAll } from '../helpers/peers.js';

/** Settings by function name; every function runs slow.js, which waits its payload's ms. */
export type FunctionSettings = Record<string, string>;

/**
 * A real gearmand, a client and an admin connection to it, and a supervisor whose
 * functions all run a handler that waits as many ms as its payload says: for the box
 * budget and rate limit tests, which sample gearmand's running counts.
 */
export class BoxFixture {
  supervisor: Supervisor | undefined;
  readonly #dir: string;
  readonly gearmand: GearmandHandle;
  readonly client: Client;
  readonly admin: AdminClient;

  private constructor(dir: string, gearmand: GearmandHandle) {
    this.#dir = dir;
    this.gearmand = gearmand;
    this.client = new Client({ servers: [gearmand.address] });
    this.admin = new AdminClient({ server: gearmand.address });
  }

  static async start(): Promise<BoxFixture> {
    const dir = mkdtempSync(path.join(tmpdir(), 'gworker-box-'));
    writeFileSync(
      path.join(dir, 'slow.js'),
      'export default async (p) => { await new Promise((r) => setTimeout(r, Number(p.toString()))); return "ok"; };',
    );
    return new BoxFixture(dir, await startGearmand());
  }

  /** A supervisor (not started yet) for `top` (top-level YAML lines) and `functions`. */
  box(top: string, functions: FunctionSettings, logger?: Logger): Supervisor {
    const file = path.join(this.#dir, 'gworker.yaml');
    const text = this.#manifest(top, functions);
    writeFileSync(file, text);
    this.supervisor = new Supervisor(parseManifest(text, file, { env: {} }), {
      regrabIntervalMs: 500,
      ...(logger === undefined ? {} : { logger }),
    });
    return this.supervisor;
  }

  reload(top: string, functions: FunctionSettings): Promise<void> {
    const file = path.join(this.#dir, 'gworker.yaml');
    const manifest = parseManifest(this.#manifest(top, functions), file, { env: {} });
    return (this.supervisor as Supervisor).applyManifest(manifest);
  }

  /** Queues `jobs` background jobs of `fn`, each taking `ms`. */
  async queue(fn: string, jobs: number, ms: number): Promise<void> {
    for (let i = 0; i < jobs; i += 50) {
      const batch = Array.from({ length: Math.min(50, jobs - i) }, () =>
        this.client.submitBackground(fn, String(ms)),
      );
      await Promise.all(batch);
    }
  }

  /** gearmand's running and total (queued + running) counts, summed over `names`. */
  async counts(names: readonly string[]): Promise<{ running: number; total: number }> {
    const rows = (await this.admin.status()).filter((r) => names.includes(r.function));
    return {
      running: rows.reduce((sum, r) => sum + r.running, 0),
      total: rows.reduce((sum, r) => sum + r.total, 0),
    };
  }

  /** Samples every few ms until `until` holds (bounded: 20 s); returns the highest running count seen. */
  async peakUntil(names: readonly string[], until: (row: { total: number }) => boolean): Promise<number> {
    let peak = 0;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      let row: { running: number; total: number };
      try {
        row = await this.counts(names);
      } catch {
        // A sample that failed (the machine is loaded): try again.
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      peak = Math.max(peak, row.running);
      if (until(row)) return peak;
      await new Promise((r) => setTimeout(r, 3));
    }
    throw new Error('jobs still queued or running after 20 s');
  }

  /**
   * peakUntil, also sampling this box's own count (`boxView`, e.g. its used slots) at each
   * sample: the highest of each. The box's count is exact; gearmand's may show one more
   * for an instant (see expectBoxPeak).
   */
  async peaksUntil(
    names: readonly string[],
    until: (row: { total: number }) => boolean,
    boxView: () => number,
  ): Promise<{ server: number; box: number }> {
    let box = boxView();
    const sampler = setInterval(() => {
      box = Math.max(box, boxView());
    }, 2);
    try {
      const server = await this.peakUntil(names, until);
      return { server, box };
    } finally {
      clearInterval(sampler);
    }
  }

  async stop(): Promise<void> {
    await this.admin.close();
    await this.client.close();
    await this.supervisor?.close({ force: true });
    await killAll();
  }

  #manifest(top: string, functions: FunctionSettings): string {
    const handler = path.join(this.#dir, 'slow.js');
    const lines = Object.entries(functions).map(
      ([name, extra]) => `  ${name}: { handler: ${handler}, ${extra} }`,
    );
    return `servers: ["${this.gearmand.address}"]\nconnections: 2\nshutdownTimeout: 2s\n${top}functions:\n${lines.join('\n')}\n`;
  }
}

/**
 * A box bound held at `slots`: this box's own count reached it and never passed it, and
 * gearmand's view agrees but for one job for an instant. gearmand runs its connections
 * on several threads: when a job ends, the freed slot may go to another connection (of
 * another function), whose GRAB_JOB can reach gearmand before the WORK_COMPLETE sent on
 * the first socket, so gearmand counts both for a moment (seen in CI: 3 on 2 slots).
 */
export function expectBoxPeak(peaks: { server: number; box: number }, slots: number): void {
  expect(peaks.box).toBe(slots);
  expect(peaks.server).toBeGreaterThanOrEqual(slots);
  expect(peaks.server).toBeLessThanOrEqual(slots + 1);
}
