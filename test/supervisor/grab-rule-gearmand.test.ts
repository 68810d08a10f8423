import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/admin-client.js';
import { Client } from '../../src/client/client.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { type GearmandHandle, startGearmand } from '../helpers/gearmand.js';
import { describeWithPeers, killAll } from '../helpers/peers.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * Issue 10 item 4: at start, or after a reconnect, with jobs queued, `concurrency: 4,
 * connections: 2` showed 5 running at gearmand for a whole job's length (a connection
 * grabbed again before the shared slot gate counted the job its first grab brought).
 * gearmand counts a job as running from the moment a worker grabs it, so its `status`
 * sampled every few ms shows whether a job ever waited on this box for a slot.
 */
describeWithPeers(['gearmand'], 'The grab rule against gearmand: never more running than concurrency', () => {
  let gearmand: GearmandHandle;
  let supervisor: Supervisor | undefined;
  let client: Client | undefined;
  let admin: AdminClient | undefined;
  let proxy: TcpProxy | undefined;
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gworker-grab-rule-'));
  });

  afterEach(async () => {
    await admin?.close();
    await client?.close();
    await supervisor?.close({ force: true });
    await proxy?.close();
    proxy = undefined;
    admin = undefined;
    client = undefined;
    supervisor = undefined;
    await killAll();
  });

  async function startServer(): Promise<void> {
    gearmand = await startGearmand();
    client = new Client({ servers: [gearmand.address] });
    admin = new AdminClient({ server: gearmand.address });
  }

  function startSupervisor(
    concurrency: number,
    connections: number,
    jobMs: number,
    server = gearmand.address,
  ): Supervisor {
    const handler = path.join(dir, 'slow.js');
    writeFileSync(
      handler,
      `export default async () => { await new Promise((r) => setTimeout(r, ${jobMs})); return 'ok'; };`,
    );
    const file = path.join(dir, 'gworker.yaml');
    const text =
      `servers: ["${server}"]\nconnections: ${connections}\nshutdownTimeout: 2s\n` +
      `functions:\n  slow: { handler: ${handler}, concurrency: ${concurrency} }\n`;
    writeFileSync(file, text);
    supervisor = new Supervisor(parseManifest(text, file, { env: {} }), { regrabIntervalMs: 500 });
    return supervisor;
  }

  async function queue(jobs: number): Promise<void> {
    for (let i = 0; i < jobs; i++) await client?.submitBackground('slow', String(i));
  }

  /** gearmand's row for `slow`: total (queued + running) and running; zeros once it is gone. */
  async function slowRow(): Promise<{ total: number; running: number }> {
    const row = (await (admin as AdminClient).status()).find((r) => r.function === 'slow');
    return { total: row?.total ?? 0, running: row?.running ?? 0 };
  }

  /**
   * Samples gearmand's running count every few ms while `during` runs, then until nothing
   * of `slow` is queued or running (bounded: 20 s). Returns the highest count seen.
   */
  async function sampleWhile(during: () => Promise<void>): Promise<number> {
    let peak = 0;
    let busy = true;
    const sampler = (async () => {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        let row: { total: number; running: number };
        try {
          row = await slowRow();
        } catch {
          // A sample that failed (the machine is loaded): try again.
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        peak = Math.max(peak, row.running);
        if (!busy && row.total === 0) return;
        await new Promise((r) => setTimeout(r, 3));
      }
      throw new Error('jobs still queued or running after 20 s');
    })();
    try {
      await during();
    } finally {
      busy = false;
    }
    await sampler;
    return peak;
  }

  for (const [concurrency, connections] of [
    [4, 2],
    [3, 4],
  ] as const) {
    it(`concurrency ${concurrency}, connections ${connections}: at start with jobs already queued`, async () => {
      await startServer();
      await queue(4 * concurrency);
      const running = startSupervisor(concurrency, connections, 250);
      const peak = await sampleWhile(() => running.start());
      expect(peak).toBe(concurrency);
      expect(running.functions()[0]).toMatchObject({ running: 0, done: 4 * concurrency });
    });

    it(`concurrency ${concurrency}, connections ${connections}: after a reconnect with jobs queued`, async () => {
      await startServer();
      proxy = await TcpProxy.start({ host: '127.0.0.1', port: gearmand.port });
      const running = startSupervisor(concurrency, connections, 250, proxy.address);
      await running.start();
      const links = () => running.functions()[0]?.connections[0];
      await waitFor('every connection up', () => links()?.up === connections);
      // The network goes away while the box is idle, and jobs queue up meanwhile.
      await proxy.cut();
      await waitFor('every connection down', () => links()?.up === 0);
      await queue(4 * concurrency);
      // They come back at one moment, as at start (their reconnect timers are jittered).
      const peak = await sampleWhile(() => (proxy as TcpProxy).restore({ gather: connections }));
      expect(peak).toBe(concurrency);
      expect(links()?.reconnects).toBeGreaterThanOrEqual(connections);
      expect(running.functions()[0]).toMatchObject({ running: 0, done: 4 * concurrency });
    });

    it(`concurrency ${concurrency}, connections ${connections}: under steady load`, async () => {
      await startServer();
      const running = startSupervisor(concurrency, connections, 30);
      await running.start();
      const c = client as Client;
      const peak = await sampleWhile(async () => {
        // Twice as many submitters as slots: a queue that never empties for long.
        const results = await Promise.all(
          Array.from({ length: 2 * concurrency }, async () => {
            const out: string[] = [];
            for (let i = 0; i < 10; i++) out.push((await c.run('slow', '')).toString());
            return out;
          }),
        );
        expect(results.flat()).toEqual(Array(20 * concurrency).fill('ok'));
      });
      expect(peak).toBeLessThanOrEqual(concurrency);
      expect(peak).toBeGreaterThan(1);
    });
  }
});

/** Polls `check` every 20 ms for up to 10 s; throws naming `what` if it never holds. */
async function waitFor(what: string, check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 20) {
    if (waited >= 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
