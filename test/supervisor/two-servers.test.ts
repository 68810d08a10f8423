import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { GearmanServer } from '../../src/server/server.js';
import { parseManifest } from '../../src/supervisor/manifest/load.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';

const echo = fileURLToPath(new URL('../fixtures/handlers/echo.js', import.meta.url));
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(): Promise<string> {
  const s = new GearmanServer({ host: '127.0.0.1', port: 0 });
  const { port } = await s.listen();
  cleanups.push(() => s.close());
  return `127.0.0.1:${port}`;
}

describe('Supervisor with two job servers and one slot', () => {
  // With concurrency 1 only one connection may have a grab out; the other's grab is
  // refused by the slot gate. When the first grab comes back empty, the other must grab:
  // it never sent PRE_SLEEP, so its server would never wake it with a NOOP.
  it('serves a job on either server, whichever connection held the slot first', async () => {
    const [a, b] = [await server(), await server()];
    const file = path.join(path.dirname(echo), 'two-servers.yaml');
    const manifest = parseManifest(
      `servers: ["${a}", "${b}"]\nconnections: 1\nfunctions:\n  echo: { handler: ${echo}, payload: text, concurrency: 1 }\n`,
      file,
      { env: {} },
    );
    // A fresh supervisor per target: the first job must reach a connection that may have
    // been refused at start, with no earlier job to refill it.
    for (const target of [a, b]) {
      const supervisor = new Supervisor(manifest, { regrabIntervalMs: 60_000 });
      await supervisor.start();
      await new Promise((r) => setTimeout(r, 200));
      const client = new Client({ servers: [target] });
      try {
        expect((await client.run('echo', target, { timeoutMs: 5000 })).toString()).toBe(target);
      } finally {
        await client.close();
        await supervisor.close({ force: true });
      }
    }
  });
});
